"""Kueue, for real: a sweep with ``spec.trainer.queueName`` hands its Jobs to a queue.

Each test builds its own ResourceFlavor, ClusterQueue (2 GPUs of quota) and LocalQueue;
the operator creates every Job suspended with Kueue's queue label, and Kueue's manager
(its webhooks, its Workloads, its scheduler) decides when each runs by unsuspending it.
Nothing in the test admits a Job.

* Quota: a sweep of parallelism 8 gets 8 Jobs at once, but never more than 2 trial pods
  run at the same time and never more than 2 Workloads hold quota; every trial finishes,
  and the sweep's status counts the waiting Jobs as queued, not running.
* Preemption: with ``withinClusterQueue: LowerPriority``, a Job of a higher PriorityClass
  submitted to the same queue makes Kueue evict an admitted trial (it suspends the trial's
  Job; the Job controller removes its pod). The trial goes back to the queue, runs again
  later and the sweep succeeds with no failed row.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import Any

from google.cloud import storage

from tests.kube.client import ApiError, KubeClient, wait_until
from tests.kube.conftest import Kube
from tests.kube.sweeps import (
    JOBS,
    SWEEPS,
    max_concurrent_pods,
    pods_created_for,
    results_rows,
    status_of,
    sweep_manifest,
)
from tests.operator.operator_process import OperatorProcess

KUEUE = "kueue.x-k8s.io/v1beta2"
FLAVORS = f"{KUEUE}/resourceflavors"
CLUSTER_QUEUES = f"{KUEUE}/clusterqueues"
LOCAL_QUEUES = f"{KUEUE}/localqueues"
WORKLOADS = f"{KUEUE}/workloads"
PRIORITY_CLASSES = "scheduling.k8s.io/v1/priorityclasses"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
GPU = "nvidia.com/gpu"


@contextlib.contextmanager
def gpu_queue(kube: Kube, gpus: int = 2, **cluster_queue: Any) -> Iterator[str]:
    """A LocalQueue ``gpu-queue`` in the test's namespace over a ClusterQueue of ``gpus``."""
    name = kube.namespace  # cluster-scoped names, unique per test
    client = kube.client
    client.create(FLAVORS, {"apiVersion": KUEUE, "kind": "ResourceFlavor",
                            "metadata": {"name": name}})
    client.create(CLUSTER_QUEUES, {
        "apiVersion": KUEUE, "kind": "ClusterQueue", "metadata": {"name": name},
        "spec": {"namespaceSelector": {"matchLabels": {
                     "kubernetes.io/metadata.name": kube.namespace}},
                 "resourceGroups": [{"coveredResources": [GPU], "flavors": [
                     {"name": name, "resources": [{"name": GPU, "nominalQuota": gpus}]}]}],
                 **cluster_queue}})
    client.create(LOCAL_QUEUES, {"apiVersion": KUEUE, "kind": "LocalQueue",
                                 "metadata": {"name": "gpu-queue"},
                                 "spec": {"clusterQueue": name}}, kube.namespace)
    wait_until(lambda: _active(client, CLUSTER_QUEUES, name), 30, what="the ClusterQueue")
    try:
        yield "gpu-queue"
    finally:
        for resource, namespace in ((LOCAL_QUEUES, kube.namespace), (CLUSTER_QUEUES, None),
                                    (FLAVORS, None)):
            with contextlib.suppress(ApiError):
                client.delete(resource, "gpu-queue" if namespace else name, namespace)


def _active(client: KubeClient, resource: str, name: str) -> bool:
    conditions = (client.get(resource, name).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Active" and c["status"] == "True" for c in conditions)


def priority_class(client: KubeClient, name: str, value: int) -> None:
    """A PriorityClass (cluster-scoped; kept if an earlier test made the same one)."""
    with contextlib.suppress(ApiError):
        client.create(PRIORITY_CLASSES, {"apiVersion": "scheduling.k8s.io/v1",
                                         "kind": "PriorityClass",
                                         "metadata": {"name": name}, "value": value,
                                         "preemptionPolicy": "PreemptLowerPriority"})


def queued_sweep(name: str, namespace: str, bucket: str, *, configs: int, parallelism: int,
                 sleep: str, priority: str | None = None) -> dict[str, Any]:
    body = sweep_manifest(name, namespace, bucket, configs=configs, windows=2,
                          parallelism=parallelism, max_failed=0, env={"FAKE_SLEEP": sleep})
    body["spec"]["trainer"]["queueName"] = "gpu-queue"
    if priority:
        body["spec"]["trainer"]["priorityClassName"] = priority
    return body


def admitted_workloads(client: KubeClient, namespace: str) -> list[str]:
    """Workloads holding quota now: admitted, not finished, not evicted."""
    held = []
    for workload in client.items(WORKLOADS, namespace):
        conditions = {c["type"]: c["status"]
                      for c in (workload.get("status") or {}).get("conditions") or []}
        if conditions.get("Admitted") == "True" and conditions.get("Finished") != "True":
            held.append(workload["metadata"]["name"])
    return held


def test_a_queue_of_two_gpus_runs_two_trials_at_a_time_until_all_are_done(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str, gcs_client: storage.Client,
) -> None:
    ns = kube.namespace
    with gpu_queue(kube, gpus=2):
        kube_operator.start()
        kube.client.create(SWEEPS, queued_sweep("queued", ns, gcs_bucket, configs=4,
                                                parallelism=8, sleep="5"))
        jobs = wait_until(lambda: len(j := kube.client.items(JOBS, ns)) == 8 and j, 60,
                          what="8 Jobs")
        for job in jobs:
            assert job["metadata"]["labels"][QUEUE_LABEL] == "gpu-queue"
        # The operator's status: 8 Jobs, 2 admitted by Kueue and 6 waiting in the queue.
        status = wait_until(lambda: (s := status_of(kube.client, ns, "queued"))
                            .get("trials", {}).get("queued") == 6 and s, 60,
                            what="six queued trials in status")
        assert status["trials"]["running"] == 2
        most_admitted = 0
        deadline = time.monotonic() + 180
        while status_of(kube.client, ns, "queued").get("phase") != "Succeeded":
            most_admitted = max(most_admitted, len(admitted_workloads(kube.client, ns)))
            assert time.monotonic() < deadline, "the queued sweep did not finish"
            time.sleep(0.2)
    assert most_admitted == 2
    assert max_concurrent_pods(kube, ns, "queued") == 2
    status = status_of(kube.client, ns, "queued")
    assert status["trials"]["succeeded"] == 8 and status["trials"]["failed"] == 0
    rows = results_rows(gcs_client, gcs_bucket, ns, "queued")
    assert sorted(r["status"] for r in rows) == ["succeeded"] * 8
    assert len(kube.client.items(WORKLOADS, ns)) == 8  # each Job went through Kueue


def urgent_job(name: str) -> dict[str, Any]:
    """A production Job at high priority in the same queue: one GPU for a few seconds."""
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "labels": {QUEUE_LABEL: "gpu-queue"}},
        "spec": {"backoffLimit": 0, "suspend": True, "template": {"spec": {
            "restartPolicy": "Never", "priorityClassName": "prod-high",
            "securityContext": {"runAsNonRoot": True, "runAsUser": 1000,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "main", "image": "local/urgent:1",
                "command": [sys.executable, "-c", "import time; time.sleep(2)"],
                "resources": {"limits": {GPU: "1"}},
                "securityContext": {"allowPrivilegeEscalation": False,
                                    "capabilities": {"drop": ["ALL"]}}}]}}},
    }


def test_a_higher_priority_job_preempts_a_trial_which_runs_again_later(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str, gcs_client: storage.Client,
) -> None:
    ns = kube.namespace
    priority_class(kube.client, "tuning-low", 100)
    priority_class(kube.client, "prod-high", 1000)
    with gpu_queue(kube, gpus=2, preemption={"withinClusterQueue": "LowerPriority"}):
        kube_operator.start()
        kube.client.create(SWEEPS, queued_sweep("preempted", ns, gcs_bucket, configs=2,
                                                # long enough to be running when the
                                                # urgent Job arrives, even under load
                                                parallelism=2, sleep="12",
                                                priority="tuning-low"))
        wait_until(lambda: max_concurrent_pods(kube, ns, "preempted") == 2, 60,
                   what="two trials running (the queue's quota used up)")
        kube.client.create(JOBS, urgent_job("urgent"), ns)
        evicted = wait_until(lambda: _preempted_workloads(kube.client, ns), 60,
                             what="Kueue to preempt a trial")
        wait_until(lambda: _job_finished(kube.client, ns, "urgent") == "Complete", 60,
                   what="the urgent Job to complete")
        status = wait_until(lambda: (s := status_of(kube.client, ns, "preempted"))
                            .get("phase") in ("Succeeded", "Failed") and s, 180,
                            what="the sweep to finish")
    assert status["phase"] == "Succeeded", status
    assert status["trials"]["succeeded"] == 4 and status["trials"]["failed"] == 0
    rows = results_rows(gcs_client, gcs_bucket, ns, "preempted")
    assert sorted(r["status"] for r in rows) == ["succeeded"] * 4
    # The preempted trial's Job was admitted again and ran a new pod to completion; the
    # pod Kueue's suspension removed was not counted as a failure.
    for workload in evicted:
        job = _owner_job(kube.client, ns, workload)
        assert _job_finished(kube.client, ns, job) == "Complete"
        assert pods_created_for(kube.client, ns, job) == 2
        assert not kube.client.get(JOBS, job, ns)["status"].get("failed")


def _preempted_workloads(client: KubeClient, namespace: str) -> list[str]:
    found = []
    for workload in client.items(WORKLOADS, namespace):
        for condition in (workload.get("status") or {}).get("conditions") or []:
            if condition["type"] in ("Evicted", "Preempted") and condition["status"] == "True" \
                    and condition.get("reason", "").startswith(("Preempted", "InClusterQueue")):
                found.append(workload["metadata"]["name"])
                break
    return found


def _owner_job(client: KubeClient, namespace: str, workload: str) -> str:
    (owner,) = client.get(WORKLOADS, workload, namespace)["metadata"]["ownerReferences"]
    return str(owner["name"])


def _job_finished(client: KubeClient, namespace: str, name: str) -> str | None:
    status = client.get(JOBS, name, namespace).get("status") or {}
    for condition in status.get("conditions") or []:
        if condition["type"] in ("Complete", "Failed") and condition["status"] == "True":
            return str(condition["type"])
    return None
