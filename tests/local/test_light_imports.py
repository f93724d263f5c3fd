"""Commands load only the clients they need (issue 16: start-up time and memory).

Each command runs in a fresh interpreter, which then reports the heavy client packages
it imported. ``validate``, ``plan``, ``render`` and ``run`` on a local results folder
must not load the Google Cloud, Kubernetes or kopf clients (nor ``run -q`` rich); opening
a ``gs://`` store must (the control that shows the probe can see an import).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import write_grid

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("google.cloud", "google.auth", "kubernetes", "kopf")
PROBE = """
import contextlib, io, json, sys
from tuningsweep.cli import main
from tuningsweep.io.storage import open_store
with contextlib.redirect_stdout(io.StringIO()):
    {statement}
heavy = sorted(n for n in {heavy!r} if n in sys.modules)
print(json.dumps({{"code": code, "heavy": heavy}}))
"""


def loaded(statement: str) -> dict[str, object]:
    """Run ``statement`` (which sets ``code``) in a fresh interpreter; report ``code`` and
    the heavy packages it loaded."""
    script = PROBE.format(statement=statement, heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ}, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize("command", ["validate", "plan", "render"])
def test_planning_commands_load_no_cluster_or_cloud_client(command: str) -> None:
    manifest = str(ROOT / "examples" / "grid.yaml")
    result = loaded(f"code = main([{command!r}, {manifest!r}, '--today', '2026-11-27'])")
    assert result == {"code": 0, "heavy": []}


def test_run_on_a_local_folder_loads_no_cluster_or_cloud_client(
    tmp_path: Path, fake_command: str
) -> None:
    # Nor, with -q, rich or another command's module: the time to the first trial is
    # what a short trial waits for (issue 16), and `run -q` shows nothing.
    manifest = write_grid(tmp_path, max_configs=1)
    argv = ["run", str(manifest), "--results", str(tmp_path / "out"), "--today", "2026-11-27",
            "--trainer-command", fake_command, "-q"]
    probe = ("code = main({argv!r})\n    extra = sorted(n for n in sys.modules if n == 'rich' "
             "or n.startswith(('tuningsweep.commands.plan', 'tuningsweep.commands.operator', "
             "'tuningsweep.controller')))\n    assert not extra, extra")
    assert loaded(probe.format(argv=argv)) == {"code": 0, "heavy": []}
    assert (tmp_path / "out" / "team" / "grid" / "results.csv").exists()


def test_opening_a_gcs_location_loads_the_google_client() -> None:
    result = loaded("open_store('gs://some-bucket/prefix'); code = 0")
    assert result["code"] == 0 and "google.cloud" in str(result["heavy"])


def test_help_still_lists_every_command() -> None:
    proc = subprocess.run([sys.executable, "-m", "tuningsweep.cli", "--help"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0
    for command in ("validate", "plan", "run", "report", "render", "operator"):
        assert command in proc.stdout
    typo = subprocess.run([sys.executable, "-m", "tuningsweep.cli", "rn"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert typo.returncode == 2 and "invalid choice: 'rn'" in typo.stderr
