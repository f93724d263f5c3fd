"""The control plane's pins: ``cluster/versions.env`` and the build modules agree.

``build.sh`` builds what each module under ``cluster/build/`` requires, while the version
the nodes report and the docs cite come from ``versions.env``; a pin moved in one place
only would build one release and claim another.
"""

from __future__ import annotations

import re
from pathlib import Path

from cluster.up import versions

BUILD = Path(__file__).resolve().parents[2] / "cluster" / "build"


def required(folder: str, module: str) -> str:
    text = (BUILD / folder / "go.mod").read_text()
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)} v(\S+)", text, re.M)
    assert match, f"{module} is not required in cluster/build/{folder}/go.mod"
    return match.group(1)


def test_each_module_builds_the_pinned_release() -> None:
    pins = versions()
    assert required("kubernetes", "k8s.io/kubernetes") == pins["KUBERNETES_VERSION"]
    assert required("etcd", "go.etcd.io/etcd/server/v3") == pins["ETCD_VERSION"]
    assert required("kueue", "sigs.k8s.io/kueue") == pins["KUEUE_VERSION"]


def test_staging_modules_are_the_same_release() -> None:
    minor_patch = versions()["KUBERNETES_VERSION"].split(".", 1)[1]
    text = (BUILD / "kubernetes" / "go.mod").read_text()
    replaced = re.findall(r"^\s*(k8s\.io/\S+) => \1 v(\S+)$", text, re.M)
    assert len(replaced) >= 30  # k8s.io/api, client-go, apiserver, ...
    assert {version for _, version in replaced} == {f"0.{minor_patch}"}
