"""A packed pod's runner (issue 24, item 3) against a real Pushgateway: trials in order in
one process, each in its own group with its exit record, the first failure ends the pod,
and a pod started again runs only the trials that had not finished."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import Pushgateway
from tuningsweep.core.kube.packing import ENV_PACK, pack_env_json
from tuningsweep.core.records.contract import ENV_NAMESPACE, ENV_PARAMS, ENV_PUSHGATEWAY, ENV_SWEEP
from tuningsweep.executors.pack_runner import exit_records

TRAINER = '''
import json, os
from tuningsweep.reporting import Reporter

def train(args):
    trial = os.environ["TUNINGSWEEP_TRIAL"]
    params = json.loads(os.environ["TUNINGSWEEP_PARAMS"])
    with open(os.environ["CALLS"], "a") as calls:
        calls.write(f"{os.getpid()} {trial} {' '.join(args)}\\n")
    if trial == os.environ.get("CRASH"):
        os._exit(137)  # takes the pod down, as the out-of-memory killer would
    if trial == os.environ.get("FAIL"):
        return 3
    Reporter.from_env().report_final({"loss": params["lr"]})
    return 0
'''


@pytest.fixture()
def gateway(pushgateway: Pushgateway) -> Pushgateway:
    pushgateway.wipe()
    return pushgateway


def run_pod(tmp_path: Path, gateway: Pushgateway, **extra: str) -> tuple[int, list[str]]:
    """Run one pod of the pack t1..t4; its exit status and the calls made so far."""
    (tmp_path / "packtrainer.py").write_text(TRAINER)
    calls = tmp_path / "calls.txt"
    pack = pack_env_json([(f"t{i}", {ENV_PARAMS: f'{{"lr": {i}}}'}) for i in range(1, 5)])
    env = {**os.environ, ENV_PACK: pack, ENV_PUSHGATEWAY: gateway.url, ENV_SWEEP: "sw",
           ENV_NAMESPACE: "ns", "CALLS": str(calls), **extra}
    done = subprocess.run([sys.executable, "-m", "tuningsweep.executors.pack_runner",
                           "packtrainer:train", "--epochs", "2"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    return done.returncode, calls.read_text().splitlines() if calls.exists() else []


def test_a_pack_runs_its_trials_in_order_in_one_process_each_in_its_own_group(
        tmp_path: Path, gateway: Pushgateway) -> None:
    status, calls = run_pod(tmp_path, gateway)
    assert status == 0
    assert [c.split()[1:] for c in calls] == [[f"t{i}", "--epochs", "2"] for i in range(1, 5)]
    assert len({c.split()[0] for c in calls}) == 1  # one warm process
    assert exit_records(gateway.url, "ns", "sw") == {f"t{i}": 0 for i in range(1, 5)}
    assert exit_records(gateway.url, "ns", "other") == {}
    body = gateway_metrics(gateway)
    for i in range(1, 5):  # each trial's final metrics in its own group
        assert f'tuningsweep_trial_metric{{instance="",job="tuningsweep",metric="loss",' \
               f'namespace="ns",sweep="sw",trial="t{i}"}} {i}' in body
        # ... with the pod's record of when the trial ran (its row's own times)
        for gauge in ("tuningsweep_trial_started_seconds", "tuningsweep_trial_ended_seconds"):
            assert f'{gauge}{{instance="",job="tuningsweep",namespace="ns",sweep="sw",' \
                   f'trial="t{i}"}}' in body


def test_the_first_failing_trial_ends_the_pod_and_a_new_pod_runs_only_unfinished_trials(
        tmp_path: Path, gateway: Pushgateway) -> None:
    status, calls = run_pod(tmp_path, gateway, FAIL="t2")
    assert status == 3  # the failing trial's own status: the Job fails as for one trial
    assert [c.split()[1] for c in calls] == ["t1", "t2"]
    assert exit_records(gateway.url, "ns", "sw") == {"t1": 0, "t2": 3}
    # The pod is started again (backoffLimit): t1 is skipped, t2 runs again, then the rest.
    status, calls = run_pod(tmp_path, gateway)
    assert status == 0
    assert [c.split()[1] for c in calls] == ["t1", "t2", "t2", "t3", "t4"]
    assert exit_records(gateway.url, "ns", "sw") == {f"t{i}": 0 for i in range(1, 5)}


def test_a_trial_that_kills_the_pod_leaves_no_record_and_is_run_again_by_the_next_pod(
        tmp_path: Path, gateway: Pushgateway) -> None:
    status, calls = run_pod(tmp_path, gateway, CRASH="t3")
    assert status == 137
    assert exit_records(gateway.url, "ns", "sw") == {"t1": 0, "t2": 0}
    status, calls = run_pod(tmp_path, gateway)
    assert status == 0
    assert [c.split()[1] for c in calls] == ["t1", "t2", "t3", "t3", "t4"]


def test_a_malformed_pack_is_bad_input(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "tuningsweep.executors.pack_runner",
                           "packtrainer:train"], cwd=tmp_path,
                          env={**os.environ, ENV_PACK: "[]"}, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert ENV_PACK in done.stderr
    assert "Traceback" not in done.stderr


def gateway_metrics(gateway: Pushgateway) -> str:
    import urllib.request

    with urllib.request.urlopen(f"{gateway.url}/metrics", timeout=5) as resp:
        return str(resp.read().decode())
