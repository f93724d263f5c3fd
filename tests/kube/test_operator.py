"""The operator end to end on the real control plane: kopf with the chart's ServiceAccount
token, Jobs run by the real Job controller on the stand-in nodes, metrics through a real
Pushgateway and Prometheus, results in the GCS emulator."""

from __future__ import annotations

from typing import Any

import pytest
from google.cloud import storage

from tests.kube.conftest import Kube
from tests.kube.sweeps import (
    EVENTS,
    JOBS,
    SWEEPS,
    pushgateway_groups,
    results_rows,
    sweep_manifest,
    wait_phase,
)
from tests.local.fake_trainer import objective
from tests.operator.operator_process import OperatorProcess


def test_sweep_runs_to_success_with_one_row_per_trial(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str, gcs_client: storage.Client,
    pushgateway: Any,
) -> None:
    ns = kube.namespace
    kube_operator.start()
    kube.client.create(SWEEPS, sweep_manifest("op-e2e", ns, gcs_bucket))
    status = wait_phase(kube.client, ns, "op-e2e", "Succeeded", operator=kube_operator)
    assert status["progress"] == "4/4"
    assert status["trials"] == {"total": 4, "pending": 0, "queued": 0, "running": 0,
                                "succeeded": 4, "failed": 0, "stopped": 0}
    rows = results_rows(gcs_client, gcs_bucket, ns, "op-e2e")
    assert sorted(r["trial"] for r in rows) == ["c0000-w0", "c0000-w1", "c0001-w0", "c0001-w1"]
    for r in rows:
        assert r["status"] == "succeeded", r
        params = {"learning_rate": float(r["param.learning_rate"]), "hidden_units": 64}
        assert float(r["metric.val_mse"]) == pytest.approx(objective(params, r["window_start"]))
        assert r["job"] == f"op-e2e-{r['trial']}"
    best = min(rows, key=lambda r: float(r["metric.val_mse"]))
    assert status["best"]["config"] == best["config"]
    assert pushgateway_groups(pushgateway.url, ns, "op-e2e") == []
    jobs = kube.client.items(JOBS, ns)
    assert len(jobs) == 4
    for job in jobs:
        (owner,) = job["metadata"]["ownerReferences"]
        assert owner["kind"] == "TuningSweep" and owner["name"] == "op-e2e"
    reasons = {e.get("reason") for e in kube.client.items(EVENTS, ns)}
    assert {"WindowsPinned", "Succeeded"} <= reasons
    # Everything the operator did, it did as the chart's ServiceAccount, and none of it
    # was refused.
    calls = kube.audit()
    assert calls and all(c.code < 400 for c in calls), [c for c in calls if c.code >= 400]
