"""Helpers for operator tests: sweep manifests and reading back what the operator did."""

from __future__ import annotations

import csv
import io
import json
import sys
import urllib.request
from typing import Any

from google.cloud import storage

from tests.operator.emulator import EmulatorProcess
from tests.operator.operator_process import OperatorProcess, wait_until
from tests.services import Pushgateway

SWEEPS = "tuningsweep.io/v1alpha1/tuningsweeps"
JOBS = "batch/v1/jobs"
NS = "team"


def sweep_manifest(name: str, bucket: str, *, configs: int = 2, windows: int = 2,
                   parallelism: int = 2, max_failed: int = 3,
                   command: list[str] | None = None, extra: dict[str, Any] | None = None,
                   ) -> dict[str, Any]:
    lrs = [0.001, 0.01, 0.1, 0.03, 0.003, 0.0003, 0.05, 0.005][:configs]
    spec: dict[str, Any] = {
        "architecture": "mlp",
        "windows": {"rolling": {"count": windows, "months": 1}},
        "search": {"algorithm": "grid", "seed": 3},
        "parameters": {"learning_rate": {"values": lrs}, "hidden_units": {"values": [64]}},
        "parallelism": parallelism,
        "maxFailedTrials": max_failed,
        # The node runs the container's command: the only override of the trainer's
        # defaults (resources, the GPU request included, stay as users get them).
        "trainer": {"image": "local/fake-trainer:1",
                    "command": command or [sys.executable, "-m", "tests.operator.fake_trainer"]},
        "output": {"results": f"gs://{bucket}/tuning"},
        **(extra or {}),
    }
    return {"apiVersion": "tuningsweep.io/v1alpha1", "kind": "TuningSweep",
            "metadata": {"name": name, "namespace": NS}, "spec": spec}


def status_of(k8s: EmulatorProcess, name: str, namespace: str = NS) -> dict[str, Any]:
    return dict(k8s.client.get(SWEEPS, name, namespace).get("status") or {})


def wait_phase(k8s: EmulatorProcess, name: str, phase: str, timeout: float = 90,
               operator: OperatorProcess | None = None, namespace: str = NS) -> dict[str, Any]:
    try:
        return wait_until(
            lambda: (s := status_of(k8s, name, namespace)).get("phase") == phase and s,
            timeout, what=f"{name} to reach {phase}")
    except AssertionError:
        if operator is not None:
            print(operator.output()[-6000:])
        print(status_of(k8s, name, namespace))
        raise


def results_rows(client: storage.Client, bucket: str, name: str) -> list[dict[str, str]]:
    blob = client.bucket(bucket).blob(f"tuning/{NS}/{name}/results.csv")
    if not blob.exists():
        return []
    return list(csv.DictReader(io.StringIO(blob.download_as_text())))


def pushgateway_groups(pushgateway: Pushgateway, sweep: str) -> list[str]:
    with urllib.request.urlopen(f"{pushgateway.url}/api/v1/metrics", timeout=5) as response:
        data = json.loads(response.read())["data"]
    return [g["labels"].get("trial", "") for g in data
            if g["labels"].get("sweep") == sweep and g["labels"].get("namespace") == NS]

