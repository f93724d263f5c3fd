"""Preemption, spot GPUs and bad input, end to end: the Jobs' pod failure policy at work.

The node agent plays the Job controller: it evicts a running pod (``DisruptionTarget``, as a
drained node or a reclaimed spot VM would) and applies the Job's ``podFailurePolicy`` to it.
An evicted trial must run again and never count against ``maxFailedTrials``; a trainer that
exits 2 (bad input) must fail its Job at once, whatever retries ``backoffLimit`` leaves.
"""

from __future__ import annotations

import pytest
from google.cloud import storage

from tests.operator.emulator import EmulatorProcess
from tests.operator.node_agent import NodeAgent, pod_failure_rule
from tests.operator.operator_process import OperatorProcess
from tests.operator.sweeps import JOBS, NS, SWEEPS, results_rows, sweep_manifest, wait_phase


def test_an_evicted_trial_is_retried_and_not_counted_as_failed(
    k8s_emulator: EmulatorProcess, agent: NodeAgent, operator: OperatorProcess,
    gcs_bucket: str, gcs_client: storage.Client, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_SLEEP", "1.5")  # long enough to be evicted mid-run
    operator.start()
    # maxFailedTrials 0: a single counted failure would fail the sweep.
    k8s_emulator.client.create(SWEEPS, sweep_manifest("spot", gcs_bucket, configs=1,
                                                      windows=2, max_failed=0))
    evicted = agent.evict(NS, "spot-c0000-w0")
    assert evicted.disruptions == 1 and evicted.phase == "running"  # a new pod, at once
    status = wait_phase(k8s_emulator, "spot", "Succeeded", operator=operator)
    assert status["trials"]["failed"] == 0 and status["trials"]["succeeded"] == 2
    run = agent.run_for(NS, "spot-c0000-w0")
    assert run is not None and run.attempts == 2 and run.phase == "succeeded"
    job = k8s_emulator.client.get(JOBS, "spot-c0000-w0", NS)
    assert not job["status"].get("failed")  # Ignore'd: not counted by the Job either
    assert job["spec"]["backoffLimit"] == 0  # the default: disruptions retry regardless
    rows = results_rows(gcs_client, gcs_bucket, "spot")
    assert sorted(r["status"] for r in rows) == ["succeeded", "succeeded"]


def test_bad_input_fails_the_trial_at_once_with_the_reason(
    k8s_emulator: EmulatorProcess, agent: NodeAgent, operator: OperatorProcess,
    gcs_bucket: str, gcs_client: storage.Client, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_BAD_INPUT_CONFIGS", "c0000")
    operator.start()
    body = sweep_manifest("badinput", gcs_bucket, configs=2, windows=1, max_failed=1)
    body["spec"]["trainer"]["backoffLimit"] = 3  # retries that bad input must not use
    k8s_emulator.client.create(SWEEPS, body)
    status = wait_phase(k8s_emulator, "badinput", "Succeeded", operator=operator)
    assert status["trials"]["failed"] == 1 and status["trials"]["succeeded"] == 1
    run = agent.run_for(NS, "badinput-c0000-w0")
    assert run is not None and run.attempts == 1 and run.exit_codes == [2]
    (failed,) = [r for r in results_rows(gcs_client, gcs_bucket, "badinput")
                 if r["status"] == "failed"]
    assert failed["trial"] == "c0000-w0"
    assert "Job failed: PodFailurePolicy: Container trainer for pod" in failed["error"]
    assert "failed with exit code 2 matching FailJob rule at index 0" in failed["error"]


def test_the_agent_applies_pod_failure_policies_as_the_job_controller() -> None:
    policy = {"rules": [
        {"action": "FailJob", "onExitCodes": {"containerName": "trainer", "operator": "In",
                                              "values": [2]}},
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget",
                                                  "status": "True"}]}]}
    assert pod_failure_rule(policy, "trainer", 2, disrupted=False) == ("FailJob", 0, True)
    assert pod_failure_rule(policy, "trainer", -15, disrupted=True) == ("Ignore", 1, False)
    assert pod_failure_rule(policy, "trainer", 1, disrupted=False) is None  # counted
    assert pod_failure_rule(policy, "other", 2, disrupted=False) is None
    assert pod_failure_rule(None, "trainer", -15, disrupted=True) is None  # no policy: counted
