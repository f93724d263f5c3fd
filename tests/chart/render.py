"""Running helm against the chart, offline, and reading what it renders.

helm comes from ``<repo>/.tools/bin/helm`` (``scripts/install-system-deps.sh`` puts it
there; ``make test`` runs that script). Its cache, config and data homes point at a
throwaway folder, so the tests neither read nor write the user's helm setup and need no
network. A missing helm fails the tests with the fix rather than skipping them: the chart
checks are part of the suite, not an optional extra.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "helm" / "tuningsweep"
HELM = REPO_ROOT / ".tools" / "bin" / "helm"
RELEASE = "ts"
NAMESPACE = "tuningsweep"

Manifest = dict[str, Any]


class HelmError(Exception):
    """helm exited non-zero; the message has its stderr."""


def helm_binary() -> Path:
    """The helm binary, or an AssertionError that says how to install it."""
    assert HELM.is_file() and os.access(HELM, os.X_OK), (
        f"helm not found at {HELM}: run `bash scripts/install-system-deps.sh` "
        "(or `make system-deps`) to install helm and kubectl into .tools/bin")
    return HELM


_HELM_HOME = tempfile.mkdtemp(prefix="tuningsweep-helm-home-")


def run_helm(*args: str, stdin: str | None = None) -> str:
    """Run helm offline with throwaway homes; return stdout or raise HelmError."""
    env = {
        **os.environ,
        "HELM_CACHE_HOME": f"{_HELM_HOME}/cache",
        "HELM_CONFIG_HOME": f"{_HELM_HOME}/config",
        "HELM_DATA_HOME": f"{_HELM_HOME}/data",
    }
    result = subprocess.run([str(helm_binary()), *args], env=env, input=stdin,
                            capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise HelmError(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def template(values: Mapping[str, Any] | None = None) -> str:
    """``helm template`` of the chart with ``values`` (a values file's content), as text.

    The values go through stdin (``--values -``), so nested maps and lists need no
    ``--set`` escaping and no temporary file.
    """
    return run_helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE,
                    "--values", "-", stdin=yaml.safe_dump(dict(values or {})))


def render(values: Mapping[str, Any] | None = None) -> list[Manifest]:
    """The chart's manifests (hooks included) for these values, parsed."""
    return [doc for doc in yaml.safe_load_all(template(values)) if doc]


@dataclass(frozen=True)
class Rendered:
    """Rendered manifests with lookups by kind and name."""

    manifests: list[Manifest]

    def of_kind(self, kind: str) -> list[Manifest]:
        return [m for m in self.manifests if m.get("kind") == kind]

    def one(self, kind: str, name: str | None = None) -> Manifest:
        found = [m for m in self.of_kind(kind) if name is None or m["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    def __iter__(self) -> Iterator[Manifest]:
        return iter(self.manifests)


def rendered(values: Mapping[str, Any] | None = None) -> Rendered:
    """:func:`render`, wrapped in :class:`Rendered`."""
    return Rendered(render(values))
