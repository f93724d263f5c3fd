"""Evictions, a drained node and bad input on the real control plane: the Jobs' pod failure
policy at work in the real Job controller.

A pod evicted through the Eviction API (what ``kubectl drain``, the cluster autoscaler and
a reclaimed spot VM's node do) gets the ``DisruptionTarget`` condition from the API
server; the node stand-in stops its process; the Job controller applies the Job's
``podFailurePolicy`` (``Ignore``) and starts a new pod. An evicted trial must run again
and never count against ``maxFailedTrials`` (set to 0 here: a single counted failure
would fail the sweep). A drained node's trials move to the other GPU node. A trainer that
exits 2 (bad input) must fail its Job at once, whatever retries ``backoffLimit`` leaves.
"""

from __future__ import annotations

from typing import Any

from cluster.node import drain, evict, uncordon
from google.cloud import storage

from tests.kube.client import KubeClient, wait_until
from tests.kube.conftest import Kube
from tests.kube.nodes import core_api
from tests.kube.sweeps import (
    JOBS,
    PODS,
    SWEEPS,
    pods_created_for,
    results_rows,
    sweep_manifest,
    wait_phase,
)
from tests.operator.operator_process import OperatorProcess

GPU_NODES = ("gpu-1", "gpu-2")


def running_pods(client: KubeClient, namespace: str, selector: str) -> list[dict[str, Any]]:
    return [p for p in client.items(PODS, namespace, label_selector=selector)
            if (p.get("status") or {}).get("phase") == "Running"
            and not p["metadata"].get("deletionTimestamp")]


def disrupted(pod: dict[str, Any]) -> bool:
    """The API server marked the pod as evicted (what the pod failure policy matches)."""
    return any(c["type"] == "DisruptionTarget" and c["status"] == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def test_an_evicted_trial_is_retried_and_not_counted_as_failed(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str, gcs_client: storage.Client,
) -> None:
    ns = kube.namespace
    kube_operator.start()
    # Long enough to be evicted mid-run; maxFailedTrials 0.
    kube.client.create(SWEEPS, sweep_manifest("spot", ns, gcs_bucket, configs=1, windows=2,
                                              max_failed=0, env={"FAKE_SLEEP": "4"}))
    job = "spot-c0000-w0"
    (pod,) = wait_until(lambda: running_pods(kube.client, ns, f"batch.kubernetes.io/job-name={job}"),
                        60, what=f"{job}'s pod running")
    evict(core_api(kube.cluster), ns, pod["metadata"]["name"])
    status = wait_phase(kube.client, ns, "spot", "Succeeded", operator=kube_operator)
    assert status["trials"]["failed"] == 0 and status["trials"]["succeeded"] == 2
    assert pods_created_for(kube.client, ns, job) == 2  # the evicted pod, then its retry
    for gone in kube.client.items(PODS, ns, label_selector=f"batch.kubernetes.io/job-name={job}"):
        assert gone["metadata"]["name"] == pod["metadata"]["name"] or not disrupted(gone)
    job_body = kube.client.get(JOBS, job, ns)
    assert not job_body["status"].get("failed")  # Ignore'd: not counted by the Job either
    assert job_body["spec"]["backoffLimit"] == 0  # the default: disruptions retry regardless
    rows = results_rows(gcs_client, gcs_bucket, ns, "spot")
    assert sorted((r["trial"], r["status"]) for r in rows) == [
        ("c0000-w0", "succeeded"), ("c0000-w1", "succeeded")]


def test_a_drained_node_moves_its_trials_to_the_other_node(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str, gcs_client: storage.Client,
) -> None:
    ns = kube.namespace
    selector = "tuningsweep.io/sweep=drained"
    kube_operator.start()
    kube.client.create(SWEEPS, sweep_manifest("drained", ns, gcs_bucket, configs=4, windows=2,
                                              parallelism=4, max_failed=0,
                                              env={"FAKE_SLEEP": "4"}))
    pods = wait_until(lambda: len(p := running_pods(kube.client, ns, selector)) >= 2 and p,
                      60, what="two trial pods running")
    by_node: dict[str, dict[str, str]] = {}  # node -> pod -> its Job
    for pod in pods:
        by_node.setdefault(pod["spec"]["nodeName"], {})[pod["metadata"]["name"]] = (
            pod["metadata"]["labels"]["batch.kubernetes.io/job-name"])
    node = max(by_node, key=lambda n: len(by_node[n]))
    (other,) = set(GPU_NODES) - {node}
    core = core_api(kube.cluster)
    try:
        evicted = drain(core, node)
        assert {f"{ns}/{p}" for p in by_node[node]} <= set(evicted)
        status = wait_phase(kube.client, ns, "drained", "Succeeded", timeout=180,
                            operator=kube_operator)
    finally:
        uncordon(core, node)
    assert status["trials"]["failed"] == 0 and status["trials"]["succeeded"] == 8
    rows = results_rows(gcs_client, gcs_bucket, ns, "drained")
    assert len(rows) == 8 and {r["status"] for r in rows} == {"succeeded"}
    # Every trial that was on the drained node ran again, on the other one.
    for job in by_node[node].values():
        assert pods_created_for(kube.client, ns, job) == 2
        pods = kube.client.items(PODS, ns, label_selector=f"batch.kubernetes.io/job-name={job}")
        (retry,) = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        assert retry["spec"]["nodeName"] == other and retry["status"]["phase"] == "Succeeded"
        for gone in (p for p in pods if p["metadata"].get("deletionTimestamp")):
            assert gone["spec"]["nodeName"] == node and disrupted(gone)
        assert not kube.client.get(JOBS, job, ns)["status"].get("failed")


def test_bad_input_fails_the_trial_at_once_with_the_reason(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str, gcs_client: storage.Client,
) -> None:
    ns = kube.namespace
    kube_operator.start()
    body = sweep_manifest("badinput", ns, gcs_bucket, configs=2, windows=1, max_failed=1,
                          env={"FAKE_BAD_INPUT_CONFIGS": "c0000"})
    body["spec"]["trainer"]["backoffLimit"] = 3  # retries that bad input must not use
    kube.client.create(SWEEPS, body)
    # Bad input stops the sweep at once (issue 22): every other trial reads the same input.
    status = wait_phase(kube.client, ns, "badinput", "Failed", operator=kube_operator)
    stopped = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert stopped["reason"] == "BadInput"
    assert stopped["message"].startswith(
        "trial c0000-w0 failed on bad input (the trainer's exit status 2, which no retry "
        "fixes): BadInputError: no data for the window of c0000-w0; Job failed: "
        "PodFailurePolicy: Container trainer for pod")
    job = "badinput-c0000-w0"
    assert pods_created_for(kube.client, ns, job) == 1
    (pod,) = kube.client.items(PODS, ns, label_selector=f"batch.kubernetes.io/job-name={job}")
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 2
    (failed,) = [r for r in results_rows(gcs_client, gcs_bucket, ns, "badinput")
                 if r["status"] == "failed"]
    assert failed["trial"] == "c0000-w0" and failed["error"].startswith("bad input: ")
    assert "Job failed: PodFailurePolicy: Container trainer for pod" in failed["error"]
    assert "failed with exit code 2 matching FailJob rule at index 0" in failed["error"]
