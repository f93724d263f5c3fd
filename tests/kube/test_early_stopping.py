"""Early stopping on a cluster: curves from Prometheus, the Job deleted, a stopped row.

The trainers report every epoch through the Pushgateway; the operator reads each trial's
objective per epoch from the series Prometheus keeps, and the median rule (the decision
core's) stops the trials behind the others of their window. The control plane is real
(see test_operator.py); so are Prometheus and the Pushgateway.
"""

from __future__ import annotations

from typing import Any

from google.cloud import storage

from tests.kube.conftest import Kube
from tests.kube.sweeps import (
    JOBS,
    SWEEPS,
    pushgateway_groups,
    results_rows,
    sweep_manifest,
    wait_phase,
)
from tests.operator.operator_process import OperatorProcess


def test_trials_behind_their_window_are_stopped_and_recorded(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str, gcs_client: storage.Client,
    pushgateway: Any,
) -> None:
    ns = kube.namespace
    kube_operator.start()
    # Eight epochs of 1.5 s: Prometheus (scraping every second) sees every epoch.
    body = sweep_manifest("early", ns, gcs_bucket, configs=4, windows=1, parallelism=4,
                          env={"FAKE_EPOCHS": "8", "FAKE_SLEEP": "12"})
    body["spec"]["search"]["earlyStopping"] = {"rule": "median", "graceEpochs": 2,
                                               "minTrials": 2}
    kube.client.create(SWEEPS, body)
    status = wait_phase(kube.client, ns, "early", "Succeeded", timeout=120,
                        operator=kube_operator)
    rows = {float(r["param.learning_rate"]): r
            for r in results_rows(gcs_client, gcs_bucket, ns, "early")}
    # The worst learning rate (0.1) is behind the median of the other three at its
    # second epoch already; the best (0.001) is never behind it.
    assert rows[0.1]["status"] == "stopped", rows[0.1]
    assert rows[0.1]["error"].startswith("stopped at epoch ")
    assert rows[0.1]["metric.val_mse"]  # the last value it reported
    # Every metric of its last epoch, and the GPU time it held (the default request of
    # one GPU), which counts in budget.gpuHours as the local runner counts it.
    assert rows[0.1]["metric.loss"]
    assert float(rows[0.1]["gpu_seconds"]) > 0
    assert float(rows[0.1]["gpu_seconds"]) == float(rows[0.1]["duration_seconds"])
    assert rows[0.001]["status"] == "succeeded"
    assert status["trials"]["stopped"] == sum(r["status"] == "stopped" for r in rows.values())
    assert status["trials"]["failed"] == 0
    # The stopped trial's Job is gone (no retry), and no Pushgateway group is left.
    jobs = {j["metadata"]["name"] for j in kube.client.items(JOBS, ns)}
    assert f"early-{rows[0.1]['trial']}" not in jobs
    assert f"early-{rows[0.001]['trial']}" in jobs
    assert pushgateway_groups(pushgateway.url, ns, "early") == []
    # The operator stopped it by deleting its Job, which its ServiceAccount may do.
    deletes = [c for c in kube.audit() if c.resource == "jobs" and c.verb == "deletecollection"]
    assert deletes and all(c.code == 200 for c in deletes)
