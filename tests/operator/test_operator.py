"""The operator end to end: kopf for real against the API emulator, Jobs run by the node
agent, metrics through a real Pushgateway and Prometheus, results in fake-gcs-server.

The Kubernetes API is emulated (no real API server can run here) and the node agent
stands in for the kubelet and the Job controller; everything else is the real thing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from google.cloud import storage

from tests.local.fake_trainer import objective
from tests.operator.emulator import EmulatorProcess
from tests.operator.node_agent import NodeAgent
from tests.operator.operator_process import OperatorProcess, wait_until
from tests.operator.sweeps import (
    JOBS,
    NS,
    SWEEPS,
    pushgateway_groups,
    results_rows,
    status_of,
    sweep_manifest,
    wait_phase,
)
from tests.services import Pushgateway


def test_sweep_runs_to_success_with_one_row_per_trial(
    k8s_emulator: EmulatorProcess, agent: NodeAgent, operator: OperatorProcess,
    gcs_bucket: str, gcs_client: storage.Client, pushgateway: Pushgateway,
) -> None:
    operator.start()
    k8s_emulator.client.create(SWEEPS, sweep_manifest("op-e2e", gcs_bucket))
    status = wait_phase(k8s_emulator, "op-e2e", "Succeeded", operator=operator)
    assert status["progress"] == "4/4"
    assert status["trials"] == {"total": 4, "pending": 0, "queued": 0, "running": 0, "succeeded": 4,
                                "failed": 0, "stopped": 0}
    assert [w["start"] for w in status["windows"]] == ["2026-10-01", "2026-09-01"] or len(
        status["windows"]) == 2
    rows = results_rows(gcs_client, gcs_bucket, "op-e2e")
    assert sorted(r["trial"] for r in rows) == ["c0000-w0", "c0000-w1", "c0001-w0", "c0001-w1"]
    for r in rows:
        assert r["status"] == "succeeded", r
        params = {"learning_rate": float(r["param.learning_rate"]), "hidden_units": 64}
        # The value in the CSV is exactly what the trainer reported.
        assert float(r["metric.val_mse"]) == pytest.approx(objective(params, r["window_start"]))
        assert r["job"] == f"op-e2e-{r['trial']}"
    best = min(rows, key=lambda r: float(r["metric.val_mse"]))
    assert status["best"]["config"] == best["config"]
    assert status["best"]["display"].startswith(f"{best['config']} val_mse=")
    assert pushgateway_groups(pushgateway, "op-e2e") == []
    jobs = k8s_emulator.client.list(JOBS, NS)["items"]
    assert len(jobs) == 4
    for job in jobs:
        (owner,) = job["metadata"]["ownerReferences"]
        assert owner["kind"] == "TuningSweep" and owner["name"] == "op-e2e"
    summary = gcs_client.bucket(gcs_bucket).blob(f"tuning/{NS}/op-e2e/summary.csv")
    assert summary.download_as_text().count("\n") == 3
    reasons = {e.get("reason") for e in k8s_emulator.client.list("v1/events", NS)["items"]}
    assert {"WindowsPinned", "Succeeded"} <= reasons
    assert agent.max_running <= 2  # never more Jobs at once than spec.parallelism


def test_invalid_spec_fails_with_condition_and_event(
    k8s_emulator: EmulatorProcess, operator: OperatorProcess, gcs_bucket: str,
) -> None:
    operator.start()
    body = sweep_manifest("bad", gcs_bucket)
    body["spec"]["parameters"]["dropout"] = {"min": 0.5, "max": 0.1}
    k8s_emulator.client.create(SWEEPS, body)
    status = wait_phase(k8s_emulator, "bad", "Failed", operator=operator)
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert failed["status"] == "True" and failed["reason"] == "InvalidSpec"
    assert "spec.parameters.dropout.max: max (0.1) is below min (0.5)" in failed["message"]
    events = k8s_emulator.client.list("v1/events", NS)["items"]
    assert any(e.get("reason") == "InvalidSpec" and e.get("type") == "Warning" for e in events)
    assert k8s_emulator.client.list(JOBS, NS)["items"] == []


def test_pod_fields_the_api_would_refuse_fail_the_sweep_at_once_naming_the_field(
    k8s_emulator: EmulatorProcess, operator: OperatorProcess, gcs_bucket: str,
) -> None:
    operator.start()
    body = sweep_manifest("badpod", gcs_bucket)
    body["spec"]["trainer"]["resources"] = {"limits": {"nvidia.com/gpu": 1, "memory": "16 GB"}}
    body["spec"]["trainer"]["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "exists"}]
    k8s_emulator.client.create(SWEEPS, body)  # the CRD keeps pod fields open: stored as is
    status = wait_phase(k8s_emulator, "badpod", "Failed", operator=operator)
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "InvalidSpec"
    assert "spec.trainer.resources.limits.memory: '16 GB' is not a Kubernetes quantity" in \
        failed["message"]
    assert "spec.trainer.tolerations[0].operator: 'exists' is not one of Exists | Equal" in \
        failed["message"]
    assert not any(c["type"] == "Degraded" and c["status"] == "True"
                   for c in status["conditions"])  # failed, not retrying
    assert k8s_emulator.client.list(JOBS, NS)["items"] == []


def test_failing_trainer_records_failed_rows_then_fails_past_budget(
    k8s_emulator: EmulatorProcess, agent: NodeAgent, operator: OperatorProcess,
    gcs_bucket: str, gcs_client: storage.Client, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_FAIL_CONFIGS", "c0000,c0001")
    operator.start()
    k8s_emulator.client.create(SWEEPS, sweep_manifest("flaky", gcs_bucket, configs=4,
                                                      parallelism=1, max_failed=2))
    status = wait_phase(k8s_emulator, "flaky", "Failed", operator=operator)
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "TooManyFailedTrials"
    assert "3 trials failed, more than spec.maxFailedTrials (2)" in failed["message"]
    assert "c0000-w0: Job failed: BackoffLimitExceeded" in failed["message"]
    rows = wait_until(lambda: len(r := results_rows(gcs_client, gcs_bucket, "flaky")) >= 3 and r)
    assert all(r["status"] == "failed" for r in rows)
    assert "Job failed" in rows[0]["error"]
    # No new trials start once the sweep has failed.
    created = len(k8s_emulator.client.list(JOBS, NS)["items"])
    assert created == 3


def test_suspend_stops_new_jobs_and_resume_finishes(
    k8s_emulator: EmulatorProcess, agent: NodeAgent, operator: OperatorProcess,
    gcs_bucket: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_SLEEP", "0.5")
    operator.start()
    k8s_emulator.client.create(SWEEPS, sweep_manifest("pause", gcs_bucket, configs=4,
                                                      parallelism=1))
    wait_until(lambda: k8s_emulator.client.list(JOBS, NS)["items"], what="a first Job")
    k8s_emulator.client.patch(SWEEPS, "pause", {"spec": {"suspend": True}}, NS)
    wait_phase(k8s_emulator, "pause", "Suspended", operator=operator)
    count = len(k8s_emulator.client.list(JOBS, NS)["items"])
    agent.wait_idle()
    time.sleep(2)
    assert len(k8s_emulator.client.list(JOBS, NS)["items"]) == count < 8
    k8s_emulator.client.patch(SWEEPS, "pause", {"spec": {"suspend": False, "parallelism": 4}},
                              NS)
    wait_phase(k8s_emulator, "pause", "Succeeded", operator=operator)
    assert agent.max_running >= 2  # the raised parallelism took effect


def test_deleting_a_sweep_deletes_its_jobs(
    k8s_emulator: EmulatorProcess, agent: NodeAgent, operator: OperatorProcess, gcs_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_SLEEP", "30")
    operator.start()
    k8s_emulator.client.create(SWEEPS, sweep_manifest("gone", gcs_bucket))
    wait_until(lambda: len(k8s_emulator.client.list(JOBS, NS)["items"]) == 2, what="2 Jobs")
    k8s_emulator.client.delete(SWEEPS, "gone", NS)
    wait_until(lambda: k8s_emulator.client.get_or_none(SWEEPS, "gone", NS) is None,
               what="the sweep to be deleted")
    wait_until(lambda: k8s_emulator.client.list(JOBS, NS)["items"] == [], what="Jobs deleted")


def test_auto_mode_plans_its_second_stage_from_collected_results(
    k8s_emulator: EmulatorProcess, agent: NodeAgent, operator: OperatorProcess,
    gcs_bucket: str, gcs_client: storage.Client,
) -> None:
    operator.start()
    body = sweep_manifest("auto", gcs_bucket, windows=1, parallelism=4)
    body["spec"]["search"] = {"algorithm": "auto", "maxConfigs": 4, "seed": 1}
    body["spec"]["parameters"] = {}
    k8s_emulator.client.create(SWEEPS, body)
    wait_phase(k8s_emulator, "auto", "Succeeded", operator=operator)
    rows = sorted(results_rows(gcs_client, gcs_bucket, "auto"), key=lambda r: r["trial"])
    assert [r["trial"] for r in rows] == ["c0000-w0", "c0001-w0", "c0002-w0", "c0003-w0"]
    best = min(rows[:2], key=lambda r: float(r["metric.val_mse"]))
    for later in rows[2:]:
        assert later["param.learning_rate"] == best["param.learning_rate"]
        assert later["param.hidden_units"] != ""
    reasons = [e.get("reason") for e in k8s_emulator.client.list("v1/events", NS)["items"]]
    assert "StageStarted" in reasons


def test_operator_metrics_endpoint(
    k8s_emulator: EmulatorProcess, agent: NodeAgent, operator: OperatorProcess,
    gcs_bucket: str,
) -> None:
    from tests.services import free_port

    port = free_port()
    operator.args += ["--metrics-port", str(port)]
    operator.start()
    k8s_emulator.client.create(SWEEPS, sweep_manifest("metered", gcs_bucket))
    wait_phase(k8s_emulator, "metered", "Succeeded", operator=operator)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    assert 'tuningsweep_operator_trials{namespace="team",phase="succeeded",sweep="metered"} 4.0' \
        in text
    assert 'tuningsweep_operator_api_calls_total{resource="jobs",result="ok",verb="create"} 4.0' \
        in text
    assert 'tuningsweep_operator_sweeps{phase="Succeeded"} 1.0' in text
    # The Job watch's own calls: one list, then watches.
    assert 'tuningsweep_operator_api_calls_total{resource="jobs",result="ok",verb="list"} 1.0' \
        in text
    assert 'resource="jobs",result="ok",verb="watch"' in text
    assert "tuningsweep_operator_collection_lag_seconds_count 4.0" in text
    assert "tuningsweep_operator_csv_flush_seconds_count" in text
    assert 'tuningsweep_operator_best_objective{metric="val_mse",namespace="team",sweep="metered"}' \
        in text


@pytest.mark.slow
def test_real_tensorflow_trainer_end_to_end(
    k8s_emulator: EmulatorProcess, agent: NodeAgent, operator: OperatorProcess,
    gcs_bucket: str, gcs_client: storage.Client, pushgateway: Pushgateway,
) -> None:
    """The reference trainer runs as each Job's container command, on tiny synthetic data."""
    operator.start()
    body = sweep_manifest("real", gcs_bucket, configs=1, windows=2, parallelism=2,
                          command=[sys.executable, "-m", "tuningsweep_trainer"])
    body["spec"]["mode"] = "full"
    body["spec"]["data"] = "synthetic://ctr?seed=1&rows_per_day=40"
    body["spec"]["parameters"]["epochs"] = {"values": [2]}
    body["spec"]["trainer"]["env"] = [{"name": "TUNINGSWEEP_TF_THREADS", "value": "1"}]
    k8s_emulator.client.create(SWEEPS, body)
    status = wait_phase(k8s_emulator, "real", "Succeeded", timeout=240, operator=operator)
    assert status["trials"]["succeeded"] == 2
    rows = results_rows(gcs_client, gcs_bucket, "real")
    assert len(rows) == 2
    for r in rows:
        assert r["status"] == "succeeded" and float(r["metric.val_mse"]) > 0
        assert r["model_uri"] == f"gs://{gcs_bucket}/tuning/{NS}/real/models/{r['trial']}"
        prefix = r["model_uri"].removeprefix(f"gs://{gcs_bucket}/") + "/"
        saved = {b.name.removeprefix(prefix) for b in gcs_client.list_blobs(gcs_bucket, prefix=prefix)}
        assert {"model.keras", "history.json"} <= saved
    assert pushgateway_groups(pushgateway, "real") == []


def test_missing_final_metrics_wait_bounded_then_fail_with_condition(
    k8s_emulator: EmulatorProcess, agent: NodeAgent, operator: OperatorProcess,
    gcs_bucket: str, gcs_client: storage.Client, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_NO_PUSH", "1")  # the trainer exits 0 without reporting
    monkeypatch.setenv("TEST_COLLECT_TIMEOUT", "3")
    operator.start()
    k8s_emulator.client.create(SWEEPS, sweep_manifest("silent", gcs_bucket, configs=1,
                                                      windows=1, max_failed=1))
    status = wait_phase(k8s_emulator, "silent", "Succeeded", timeout=60, operator=operator)
    missing = next(c for c in status["conditions"] if c["type"] == "MetricsMissing")
    assert missing["status"] == "True" and "c0000-w0: final metrics did not reach" in \
        missing["message"]
    (row,) = results_rows(gcs_client, gcs_bucket, "silent")
    assert row["status"] == "failed" and "TUNINGSWEEP_PUSHGATEWAY" in row["error"]


def test_immutable_fields_are_refused_mutable_ones_accepted(
    k8s_emulator: EmulatorProcess, gcs_bucket: str,
) -> None:
    """The CRD's CEL rules, as the emulator applies them like an API server."""
    k8s_emulator.client.create(SWEEPS, sweep_manifest("fixed", gcs_bucket))
    refused = k8s_emulator.client.request(
        "PATCH", f"/apis/tuningsweep.io/v1alpha1/namespaces/{NS}/tuningsweeps/fixed",
        {"spec": {"search": {"algorithm": "grid", "seed": 99}}},
        content_type="application/merge-patch+json")
    assert refused[0] == 422 and "immutable" in json.dumps(refused[1])
    k8s_emulator.client.patch(SWEEPS, "fixed", {"spec": {"parallelism": 7, "suspend": True,
                                                         "maxFailedTrials": 9}}, NS)
    spec = k8s_emulator.client.get(SWEEPS, "fixed", NS)["spec"]
    assert (spec["parallelism"], spec["suspend"], spec["maxFailedTrials"]) == (7, True, 9)
    assert spec["search"]["seed"] == 3


def test_recreated_sweep_resumes_the_same_search_and_refuses_another(
    k8s_emulator: EmulatorProcess, agent: NodeAgent, operator: OperatorProcess,
    gcs_bucket: str, gcs_client: storage.Client,
) -> None:
    operator.start()
    k8s_emulator.client.create(SWEEPS, sweep_manifest("again", gcs_bucket))
    wait_phase(k8s_emulator, "again", "Succeeded", operator=operator)
    before = results_rows(gcs_client, gcs_bucket, "again")
    k8s_emulator.client.delete(SWEEPS, "again", NS)
    wait_until(lambda: k8s_emulator.client.get_or_none(SWEEPS, "again", NS) is None)

    # The same manifest applied again (GitOps re-sync): it resumes, nothing runs twice.
    k8s_emulator.client.create(SWEEPS, sweep_manifest("again", gcs_bucket))
    wait_phase(k8s_emulator, "again", "Succeeded", operator=operator)
    assert results_rows(gcs_client, gcs_bucket, "again") == before
    reasons = [e.get("reason") for e in k8s_emulator.client.list("v1/events", NS)["items"]]
    assert "Resumed" in reasons
    k8s_emulator.client.delete(SWEEPS, "again", NS)
    wait_until(lambda: k8s_emulator.client.get_or_none(SWEEPS, "again", NS) is None)

    # A different search under the same name must not mix into those results.
    k8s_emulator.client.create(SWEEPS, sweep_manifest("again", gcs_bucket, configs=3))
    status = wait_phase(k8s_emulator, "again", "Failed", operator=operator)
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "ResultsConflict" and "spec.parameters" in failed["message"]
    assert results_rows(gcs_client, gcs_bucket, "again") == before


def test_operator_without_credentials_says_so(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tuningsweep.cli", "operator", "--metrics-port", "0",
         "--liveness", ""], env={**os.environ, "KUBECONFIG": str(tmp_path / "none")},
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "no Kubernetes credentials" in done.stderr and "Traceback" not in done.stderr


def test_a_job_watch_that_cannot_list_says_so_then_recovers(
    k8s_emulator: EmulatorProcess, agent: NodeAgent, operator: OperatorProcess,
    gcs_bucket: str,
) -> None:
    """Missing RBAC on Jobs (403 on list): the sweep waits with a Degraded condition that
    names the cause, creates no Job meanwhile, and runs once the list succeeds."""
    k8s_emulator.inject_fault(status=403, count=10_000, verb="list", resource="jobs",
                              user_agent="tuningsweep-operator")
    operator.start()
    k8s_emulator.client.create(SWEEPS, sweep_manifest("no-rbac", gcs_bucket))
    degraded = wait_until(lambda: next(
        (c for c in status_of(k8s_emulator, "no-rbac").get("conditions") or []
         if c["type"] == "Degraded" and c["status"] == "True"), None), 30,
        what="a Degraded condition")
    assert degraded["reason"] == "JobWatchFailed"
    assert "403" in degraded["message"] and "namespace team" in degraded["message"]
    assert k8s_emulator.client.list(JOBS, NS)["items"] == []
    k8s_emulator.clear_faults()
    status = wait_phase(k8s_emulator, "no-rbac", "Succeeded", operator=operator)
    assert {c["type"]: c["status"] for c in status["conditions"]}["Degraded"] == "False"
