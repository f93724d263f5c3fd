"""Sweep manifests for the tests on the real cluster, and reading back what the operator did."""

from __future__ import annotations

import csv
import io
import json
import sys
import urllib.request
from typing import Any

from google.cloud import storage

from tests.kube.client import KubeClient, audit_events, wait_until
from tests.operator.operator_process import OperatorProcess

SWEEPS = "tuningsweep.io/v1alpha1/tuningsweeps"
JOBS = "batch/v1/jobs"
PODS = "v1/pods"
EVENTS = "v1/events"
FAKE_TRAINER = [sys.executable, "-m", "tests.operator.fake_trainer"]


def sweep_manifest(name: str, namespace: str, bucket: str, *, configs: int = 2,
                   windows: int = 2, parallelism: int = 2, max_failed: int = 3,
                   command: list[str] | None = None, env: dict[str, str] | None = None,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A small grid sweep run by the fake trainer; ``env`` reaches the trainer's container
    (``FAKE_SLEEP``, ``FAKE_FAIL``, ...), as any setting reaches a container."""
    lrs = [0.001, 0.01, 0.1, 0.03, 0.003, 0.0003, 0.05, 0.005][:configs]
    trainer: dict[str, Any] = {"image": "local/fake-trainer:1",
                               "command": command or FAKE_TRAINER}
    if env:
        trainer["env"] = [{"name": k, "value": v} for k, v in env.items()]
    spec: dict[str, Any] = {
        "architecture": "mlp",
        "windows": {"rolling": {"count": windows, "months": 1}},
        "search": {"algorithm": "grid", "seed": 3},
        "parameters": {"learning_rate": {"values": lrs}, "hidden_units": {"values": [64]}},
        "parallelism": parallelism,
        "maxFailedTrials": max_failed,
        # The container's command is the only override of the trainer's defaults
        # (resources, the GPU request included, stay as users get them).
        "trainer": trainer,
        "output": {"results": f"gs://{bucket}/tuning"},
        **(extra or {}),
    }
    return {"apiVersion": "tuningsweep.io/v1alpha1", "kind": "TuningSweep",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def status_of(client: KubeClient, namespace: str, name: str) -> dict[str, Any]:
    """The sweep's status (empty before the operator's first write)."""
    return dict(client.get(SWEEPS, name, namespace).get("status") or {})


def wait_phase(client: KubeClient, namespace: str, name: str, phase: str, timeout: float = 120,
               operator: OperatorProcess | None = None) -> dict[str, Any]:
    """Wait for the sweep's phase; on timeout print the operator's log and the status."""
    try:
        return dict(wait_until(
            lambda: (s := status_of(client, namespace, name)).get("phase") == phase and s,
            timeout, what=f"{name} to reach {phase}"))
    except AssertionError:
        if operator is not None:
            print(operator.output()[-6000:])
        print(status_of(client, namespace, name))
        raise


def results_rows(gcs: storage.Client, bucket: str, namespace: str,
                 name: str) -> list[dict[str, str]]:
    """The rows of the sweep's results.csv in the GCS emulator."""
    blob = gcs.bucket(bucket).blob(f"tuning/{namespace}/{name}/results.csv")
    if not blob.exists():
        return []
    return list(csv.DictReader(io.StringIO(blob.download_as_text())))


def pushgateway_groups(pushgateway_url: str, namespace: str, sweep: str) -> list[str]:
    """Trials whose metrics group is still on the Pushgateway."""
    with urllib.request.urlopen(f"{pushgateway_url}/api/v1/metrics", timeout=5) as response:
        data = json.loads(response.read())["data"]
    return [g["labels"].get("trial", "") for g in data
            if g["labels"].get("sweep") == sweep and g["labels"].get("namespace") == namespace]


def max_concurrent_pods(kube: Any, namespace: str, sweep: str) -> int:
    """The most trial pods of ``sweep`` that ran at once since the test began.

    From the API server's audit log, whose times have microseconds (a container's
    ``startedAt``/``finishedAt`` have seconds, too coarse for sub-second trials): a node's
    first status write for a pod says it runs, its second that it exited.
    """
    writes: dict[str, list[str]] = {}
    for event in audit_events(kube.cluster.audit_log, offset=kube.audit_offset):
        if (event.resource == "pods/status" and event.user.startswith("system:node:")
                and event.namespace == namespace and event.name.startswith(f"{sweep}-")
                and event.code < 400):
            writes.setdefault(event.name, []).append(event.stage_ts)
    edges = []
    for pod, times in writes.items():
        if len(times) == 1:
            # One write: running now, or failed before it ran (deleted while Pending).
            body = kube.client.get_or_none(PODS, pod, namespace)
            if body is None or (body.get("status") or {}).get("phase") != "Running":
                continue
        edges.append((times[0], 1))
        if len(times) > 1:
            edges.append((times[1], -1))
    running = peak = 0
    for _, step in sorted(edges):
        running += step
        peak = max(peak, running)
    return peak

def pods_created_for(client: KubeClient, namespace: str, job: str) -> int:
    """Pods the Job controller created for ``job``, from its ``SuccessfulCreate`` events
    (an evicted or preempted pod is gone, its event stays)."""
    return sum(e.get("count") or 1 for e in client.items(EVENTS, namespace)
               if e["involvedObject"].get("name") == job and e.get("reason") == "SuccessfulCreate")
