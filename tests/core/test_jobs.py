"""The Job builder (shared by the operator and `render`) and reading Job state back."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import V1Job

from tuningsweep.core.kube.jobs import (
    build_job,
    gpus_requested,
    job_state,
    model_uri_for,
    pod_failure_message,
)
from tuningsweep.core.planning.planner import plan_trials
from tuningsweep.core.planning.windows import resolve_windows
from tuningsweep.core.spec.errors import InvalidSpec
from tuningsweep.core.spec.manifest import load_sweeps
from tuningsweep.core.spec.parse import Sweep

MANIFEST = """\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {name: ctr, namespace: ml}
spec:
  architecture: mlp
  mode: fast
  parameters:
    learning_rate: {values: [0.01]}
  trainer:
    image: example.org/trainer:1
    command: [python, -m, tuningsweep_trainer]
    args: [--verbose]
    env: [{name: EXTRA, value: "1"}]
    nodeSelector: {pool: gpu}
    tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
    serviceAccountName: trainer
    backoffLimit: 1
  output: {results: gs://b/r, models: gs://b/m}
"""


def sweep() -> Sweep:
    return load_sweeps(MANIFEST)[0]


def test_job_carries_the_contract_labels_owner_and_security() -> None:
    s = sweep()
    trial = plan_trials(s.spec, resolve_windows(s.spec, dt.date(2026, 11, 27))).trials[0]
    job = build_job(s, trial, model_uri=model_uri_for(s, trial.id, "gs://b/r"),
                    owner_uid="uid-1", pushgateway="http://pgw:9091")
    meta = job["metadata"]
    assert meta["name"] == "ctr-c0000-w0" and meta["namespace"] == "ml"
    assert meta["labels"]["tuningsweep.io/sweep"] == "ctr"
    assert meta["labels"]["tuningsweep.io/trial"] == "c0000-w0"
    assert meta["labels"]["tuningsweep.io/config"] == "c0000"
    assert json.loads(meta["annotations"]["tuningsweep.io/params"]) == {"learning_rate": 0.01}
    assert meta["ownerReferences"] == [{
        "apiVersion": "tuningsweep.io/v1alpha1", "kind": "TuningSweep", "name": "ctr",
        "uid": "uid-1", "controller": True, "blockOwnerDeletion": True}]
    spec = job["spec"]
    assert spec["backoffLimit"] == 1 and spec["activeDeadlineSeconds"] == 86400
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["nodeSelector"] == {"pool": "gpu"} and pod["serviceAccountName"] == "trainer"
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["command"] == ["python", "-m", "tuningsweep_trainer"]
    assert container["args"] == ["--verbose"]
    # The default GPU request, as the string the kubernetes client and the API expect.
    assert container["resources"] == {"limits": {"nvidia.com/gpu": "1"}}
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["TUNINGSWEEP_TRIAL"] == "c0000-w0" and env["TUNINGSWEEP_MAX_EPOCHS"] == "20"
    assert env["TUNINGSWEEP_PUSHGATEWAY"] == "http://pgw:9091"
    assert env["TUNINGSWEEP_MODEL_URI"] == "gs://b/m/ml/ctr/c0000-w0"
    assert env["TUNINGSWEEP_WINDOW_START"] == "2026-10-01"
    assert env["EXTRA"] == "1"
    assert "TUNINGSWEEP_METRICS_FILE" not in env
    assert gpus_requested(s) == 1.0


def test_job_state_reads_the_job_controllers_conditions() -> None:
    base = {"metadata": {"name": "j", "labels": {"tuningsweep.io/trial": "c0001-w0"}},
            "status": {"startTime": "2026-11-27T01:00:00Z", "active": 1}}
    active = job_state(base)
    assert active.phase == "active" and not active.finished
    done = job_state({**base, "status": {
        "startTime": "2026-11-27T01:00:00Z", "completionTime": "2026-11-27T01:01:30Z",
        "conditions": [{"type": "Complete", "status": "True"}]}})
    assert done.phase == "succeeded" and done.duration_seconds() == 90.0
    failed = job_state({**base, "status": {
        "startTime": "2026-11-27T01:00:00Z",
        "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                        "message": "Job has reached the specified backoff limit",
                        "lastTransitionTime": "2026-11-27T01:00:10Z"}]}})
    assert failed.phase == "failed" and failed.reason == "BackoffLimitExceeded"
    assert failed.duration_seconds() == 10.0


def test_job_state_keeps_times_compactly_and_gives_them_back_as_kubernetes_wrote_them() -> None:
    job = {"metadata": {"labels": {"tuningsweep.io/trial": "c0001-w0"}, "ownerReferences": [
               {"apiVersion": "v1", "kind": "ConfigMap", "uid": "not-a-sweep"},
               {"apiVersion": "tuningsweep.io/v1alpha1", "kind": "TuningSweep", "uid": "u-1"}]},
           "status": {"startTime": "2026-11-27T01:00:00Z",
                      "completionTime": "2026-11-27T01:01:30.250000Z",
                      "conditions": [{"type": "Complete", "status": "True"}]}}
    state = job_state(job)
    assert state.owner == "u-1"
    assert state.started_at == "2026-11-27T01:00:00Z"
    assert state.finished_at == "2026-11-27T01:01:30.250000Z"
    assert state.duration_seconds() == 90.25
    # Unknown or unreadable times are empty, and give no duration.
    odd = job_state({"metadata": {}, "status": {"startTime": "yesterday"}})
    assert (odd.start, odd.started_at, odd.owner, odd.duration_seconds()) == (0.0, "", "", 0.0)
    naive = job_state({"metadata": {}, "status": {"startTime": "2026-11-27T01:00:00"}})
    assert naive.started_at == "2026-11-27T01:00:00Z"  # read as UTC, whatever the local zone


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NO_TRAINER = """\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {name: defaults}
spec:
  architecture: mlp
  parameters:
    learning_rate: {values: [0.01]}
"""


def first_job(s: Sweep, **changes: Any) -> dict[str, Any]:
    trial = plan_trials(s.spec, resolve_windows(s.spec, dt.date(2026, 11, 27))).trials[0]
    return build_job(s, trial, model_uri="gs://b/m", owner_uid="uid-1",
                     pushgateway="http://pgw:9091", **changes)


@pytest.mark.parametrize("text", [NO_TRAINER, *(p.read_text() for p in sorted(
    EXAMPLES.rglob("*.yaml")) if "kind: TuningSweep" in p.read_text())],
    ids=["no-trainer", *(p.name for p in sorted(EXAMPLES.rglob("*.yaml"))
                         if "kind: TuningSweep" in p.read_text())])
def test_the_kubernetes_client_accepts_the_jobs_users_get(text: str) -> None:
    # The operator's client (kubernetes 37) validates request bodies before sending them;
    # an integer GPU count used to be refused here, so no default sweep ever started.
    for s in load_sweeps(text):
        job = first_job(s)
        V1Job.model_validate(job)
        limits = job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
        assert limits["nvidia.com/gpu"] == "1"


def test_preempted_pods_are_retried_and_bad_input_fails_the_job_at_once() -> None:
    spec = first_job(sweep())["spec"]
    assert spec["podFailurePolicy"] == {"rules": [
        {"action": "FailJob",
         "onExitCodes": {"containerName": "trainer", "operator": "In", "values": [2]}},
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget",
                                                  "status": "True"}]}]}
    assert spec["template"]["spec"]["restartPolicy"] == "Never"  # the policy requires it
    assert spec["template"]["spec"]["containers"][0]["name"] == "trainer"


def test_a_queue_name_labels_the_job_for_kueue_and_creates_it_suspended() -> None:
    plain = first_job(sweep())
    assert plain["spec"]["suspend"] is False
    assert "kueue.x-k8s.io/queue-name" not in plain["metadata"]["labels"]
    assert "priorityClassName" not in plain["spec"]["template"]["spec"]
    (queued,) = load_sweeps(MANIFEST.replace("    backoffLimit: 1\n", "    backoffLimit: 1\n"
                                             "    queueName: gpu-queue\n"
                                             "    priorityClassName: tuning-low\n"))
    job = first_job(queued)
    assert job["spec"]["suspend"] is True
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "gpu-queue"
    assert job["spec"]["template"]["spec"]["priorityClassName"] == "tuning-low"
    V1Job.model_validate(job)


def test_trial_pods_get_no_api_token_unless_the_sweep_asks_for_one() -> None:
    # Trainers do not call the Kubernetes API: a token in every trial pod would only be
    # something to steal. The pod's setting is explicit, so it wins over the
    # ServiceAccount's own automountServiceAccountToken.
    (defaults,) = load_sweeps(NO_TRAINER)
    assert first_job(defaults)["spec"]["template"]["spec"][
        "automountServiceAccountToken"] is False
    assert first_job(sweep())["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    (asking,) = load_sweeps(MANIFEST.replace("    backoffLimit: 1\n", "    backoffLimit: 1\n"
                                             "    automountServiceAccountToken: true\n"))
    job = first_job(asking)
    assert job["spec"]["template"]["spec"]["automountServiceAccountToken"] is True
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "trainer"
    V1Job.model_validate(job)


def test_automount_service_account_token_must_be_a_boolean() -> None:
    with pytest.raises(InvalidSpec) as refused:
        load_sweeps(MANIFEST.replace("    backoffLimit: 1\n", "    backoffLimit: 1\n"
                                     "    automountServiceAccountToken: \"yes\"\n"))
    assert [e.path for e in refused.value.errors] == [
        "spec.trainer.automountServiceAccountToken"]


def test_job_state_tells_queued_jobs_from_running_ones() -> None:
    base = {"metadata": {"labels": {"tuningsweep.io/trial": "c0000-w0"}},
            "spec": {"suspend": True}, "status": {}}
    queued = job_state(base)
    assert queued.phase == "active" and queued.suspended and not queued.running
    admitted = job_state({**base, "spec": {"suspend": False},
                          "status": {"startTime": "2026-11-27T01:00:00Z", "active": 1}})
    assert admitted.running and not admitted.suspended
    # A Job suspended after it finished is finished, not queued.
    done = job_state({**base, "status": {"conditions": [{"type": "Complete", "status": "True"}]}})
    assert done.finished and not done.suspended and not done.running


def test_job_state_carries_the_failure_policys_message() -> None:
    failed = job_state({"metadata": {"labels": {"tuningsweep.io/trial": "c0000-w0"}},
                        "status": {"conditions": [{
                            "type": "Failed", "status": "True", "reason": "PodFailurePolicy",
                            "message": "Container trainer for pod ml/ctr-c0000-w0-x failed "
                                       "with exit code 2 matching FailJob rule at index 0"}]}})
    assert failed.phase == "failed" and failed.reason == "PodFailurePolicy"
    assert "exit code 2" in failed.message


def test_the_latest_failed_pods_last_error_line_is_the_failure_message() -> None:
    def pod(exit_code: int, message: str, finished: str, name: str = "trainer") -> dict[str, Any]:
        return {"status": {"containerStatuses": [{"name": name, "state": {"terminated": {
            "exitCode": exit_code, "message": message, "finishedAt": finished}}}]}}

    pods = [pod(1, "Traceback...\n  File x\nRuntimeError: out of memory\n\n",
                "2026-11-27T01:00:00Z"),
            pod(2, "loading\nBadInputError: no data for 2026-10\n", "2026-11-27T02:00:00Z"),
            pod(0, "done", "2026-11-27T03:00:00Z"),  # a success says nothing about failure
            pod(3, "sidecar noise", "2026-11-27T04:00:00Z", name="sidecar")]
    assert pod_failure_message(pods) == "BadInputError: no data for 2026-10"
    assert pod_failure_message(pods[:1]) == "RuntimeError: out of memory"
    assert pod_failure_message([{"status": {"phase": "Pending"}}]) == ""
    assert pod_failure_message([]) == ""
