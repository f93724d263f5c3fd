"""Early stopping on a cluster: curves from Prometheus, the Job deleted, a stopped row.

The trainers report every epoch through the Pushgateway; the operator reads each trial's
objective per epoch from the series Prometheus keeps, and the median rule (the decision
core's) stops the trials behind the others of their window. Everything but the API
server is real (see test_operator.py).
"""

from __future__ import annotations

from google.cloud import storage

from tests.operator.emulator import EmulatorProcess
from tests.operator.node_agent import NodeAgent
from tests.operator.operator_process import OperatorProcess
from tests.operator.sweeps import (
    JOBS,
    NS,
    SWEEPS,
    pushgateway_groups,
    results_rows,
    sweep_manifest,
    wait_phase,
)
from tests.services import Pushgateway


def test_trials_behind_their_window_are_stopped_and_recorded(
    k8s_emulator: EmulatorProcess, agent: NodeAgent, operator: OperatorProcess,
    gcs_bucket: str, gcs_client: storage.Client, pushgateway: Pushgateway,
) -> None:
    operator.start()
    body = sweep_manifest("early", gcs_bucket, configs=4, windows=1, parallelism=4)
    body["spec"]["search"]["earlyStopping"] = {"rule": "median", "graceEpochs": 2,
                                               "minTrials": 2}
    # Eight epochs of 1.5 s: Prometheus (scraping every second) sees every epoch.
    body["spec"]["trainer"]["env"] = [{"name": "FAKE_EPOCHS", "value": "8"},
                                      {"name": "FAKE_SLEEP", "value": "12"}]
    k8s_emulator.client.create(SWEEPS, body)
    status = wait_phase(k8s_emulator, "early", "Succeeded", timeout=120, operator=operator)
    rows = {float(r["param.learning_rate"]): r for r in results_rows(gcs_client, gcs_bucket,
                                                                      "early")}
    # The worst learning rate (0.1) is behind the median of the other three at its
    # second epoch already; the best (0.001) is never behind it.
    assert rows[0.1]["status"] == "stopped", rows[0.1]
    assert rows[0.1]["error"].startswith("stopped at epoch ")
    assert rows[0.1]["metric.val_mse"]  # the last value it reported
    assert rows[0.001]["status"] == "succeeded"
    assert status["trials"]["stopped"] == sum(r["status"] == "stopped" for r in rows.values())
    assert status["trials"]["failed"] == 0
    # The stopped trial's Job is gone (no retry), and no Pushgateway group is left.
    jobs = {j["metadata"]["name"] for j in k8s_emulator.client.list(JOBS, NS)["items"]}
    assert f"early-{rows[0.1]['trial']}" not in jobs
    assert f"early-{rows[0.001]['trial']}" in jobs
    assert pushgateway_groups(pushgateway, "early") == []
