"""``make cluster-up`` as a user runs it: up, ``source .cluster/env``, ``kubectl apply`` of a
sweep with a trainer of the user's own, ``tuningsweep report`` of its results, down.

This starts a second cluster beside the session's (``python -m cluster up --state DIR``,
the command ``make cluster-up`` runs), with its own Prometheus, Pushgateway, GCS emulator
and the operator watching every namespace with the chart's ServiceAccount token. Its
processes outlive the command that started them, as they must for a user; the test stops
them with ``python -m cluster down`` and checks that none is left.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster.processes import ProcessTable
from cluster.up import read_env

REPO = Path(__file__).resolve().parents[2]

TRAINER = '''
"""A user's trainer: reads the trial from TUNINGSWEEP_* and reports through the Reporter."""
import json, os
from tuningsweep.reporting import Reporter

params = json.loads(os.environ["TUNINGSWEEP_PARAMS"])
reporter = Reporter.from_env()
loss = (params["learning_rate"] - 0.01) ** 2 + len(os.environ["TUNINGSWEEP_WINDOW_START"]) * 1e-6
for epoch in range(1, 4):
    reporter.report_epoch(epoch, {"val_mse": loss * (4 - epoch)})
reporter.report_final({"val_mse": loss, "loss": loss})
'''


def _cluster(state: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cluster", command, "--state", str(state)],
                          cwd=REPO, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture
def user_cluster(tmp_path: Path) -> Iterator[Path]:
    state = tmp_path / "state"
    try:
        yield state
    finally:
        _cluster(state, "down")


@pytest.mark.timeout(600)
def test_up_apply_report_down(user_cluster: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    up = _cluster(user_cluster, "up")
    assert up.returncode == 0, up.stderr[-3000:]
    up_seconds = time.monotonic() - started
    env = {**os.environ, **read_env(user_cluster / "env")}
    env["PATH"] = env["PATH"].replace("$PATH", os.environ["PATH"])
    assert set(env) >= {"KUBECONFIG", "STORAGE_EMULATOR_HOST", "TUNINGSWEEP_BUCKET",
                        "PROMETHEUS_URL", "PUSHGATEWAY_URL", "OPERATOR_SERVICE_ACCOUNT"}
    # A second `up` finds it running and changes nothing.
    again = _cluster(user_cluster, "up")
    assert again.returncode == 0 and "already running" in again.stderr

    trainer = tmp_path / "train.py"
    trainer.write_text(TRAINER)
    manifest = textwrap.dedent(f"""\
        apiVersion: tuningsweep.io/v1alpha1
        kind: TuningSweep
        metadata: {{name: mine, namespace: default}}
        spec:
          architecture: mlp
          windows: {{rolling: {{count: 2, months: 1}}}}
          parameters:
            learning_rate: {{values: [0.001, 0.01, 0.1]}}
          parallelism: 3
          trainer:
            image: example.org/my-trainer:1
            command: [python, {trainer}]
        """)

    def kubectl(*args: str, stdin: str | None = None) -> str:
        result = subprocess.run(["kubectl", *args], input=stdin, env=env, capture_output=True,
                                text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        return result.stdout

    # .cluster/env's kubeconfig is the administrator's; the operator has its own token.
    assert kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}") == "admin"
    kubectl("apply", "-f", "-", stdin=manifest)
    deadline = time.monotonic() + 240
    phase = ""
    while time.monotonic() < deadline and phase not in ("Succeeded", "Failed"):
        time.sleep(1)
        phase = kubectl("get", "sweep", "mine", "-o", "jsonpath={.status.phase}")
    assert phase == "Succeeded", kubectl("get", "sweep", "mine", "-o", "yaml")
    columns = kubectl("get", "sweeps", "-n", "default").splitlines()
    assert columns[0].split()[:4] == ["NAME", "PHASE", "PROGRESS", "QUEUED"]
    assert "6/6" in columns[1]

    results = f"gs://{env['TUNINGSWEEP_BUCKET']}/tuning/default/mine/"
    report = subprocess.run([str(Path(sys.executable).parent / "tuningsweep"), "report",
                             results, "--format", "json"], env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    assert data["counts"]["trials"] == 6 and data["counts"]["failed"] == 0
    best = next(c for c in data["configs"] if c["config"] == data["best"])
    assert best["params"]["learning_rate"] == 0.01  # the trainer's loss is least there
    print(f"cluster-up took {up_seconds:.1f} s")

    names = {p.pid for p in ProcessTable(user_cluster, tie_to_parent=False).recorded()}
    down = _cluster(user_cluster, "down")
    assert down.returncode == 0 and "kube-apiserver" in down.stderr
    assert not (user_cluster / "env").exists()
    for pid in names:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]
