"""The operator end to end on the real control plane: kopf with the chart's ServiceAccount
token, Jobs run by the real Job controller on the stand-in nodes, metrics through a real
Pushgateway and Prometheus, results in the GCS emulator.

The fake trainer's knobs (``FAKE_SLEEP``, ``FAKE_FAIL_CONFIGS``, ...) reach it through the
sweep's ``spec.trainer.env``, as any setting reaches a container; what the emulator's node
agent counted (Jobs running at once) is read from the pods' own start and end times.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from google.cloud import storage

from tests.kube.client import resource_path, wait_until
from tests.kube.conftest import Kube
from tests.kube.sweeps import (
    EVENTS,
    JOBS,
    PODS,
    SWEEPS,
    max_concurrent_pods,
    pushgateway_groups,
    results_rows,
    status_of,
    sweep_manifest,
    wait_phase,
)
from tests.local.fake_trainer import objective
from tests.operator.operator_process import OperatorProcess
from tests.services import free_port

ROLES = "rbac.authorization.k8s.io/v1/roles"


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    """The status condition of ``type_``."""
    return dict(next(c for c in status["conditions"] if c["type"] == type_))


def event_reasons(kube: Kube) -> list[str]:
    """The reasons of the Events in the test's namespace."""
    return [e.get("reason", "") for e in kube.client.items(EVENTS, kube.namespace)]


def unfinished_pods(kube: Kube, sweep: str) -> list[str]:
    """The sweep's trial pods that are pending or running."""
    return [p["metadata"]["name"] for p in kube.client.items(
        PODS, kube.namespace, label_selector=f"tuningsweep.io/sweep={sweep}")
        if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]


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
    assert status["best"]["display"].startswith(f"{best['config']} val_mse=")
    assert len(status["windows"]) == 2
    assert pushgateway_groups(pushgateway.url, ns, "op-e2e") == []
    jobs = kube.client.items(JOBS, ns)
    assert len(jobs) == 4
    for job in jobs:
        (owner,) = job["metadata"]["ownerReferences"]
        assert owner["kind"] == "TuningSweep" and owner["name"] == "op-e2e"
    summary = gcs_client.bucket(gcs_bucket).blob(f"tuning/{ns}/op-e2e/summary.csv")
    assert summary.download_as_text().count("\n") == 3
    assert {"WindowsPinned", "Succeeded"} <= set(event_reasons(kube))
    # Never more trials at once than spec.parallelism.
    assert max_concurrent_pods(kube, ns, "op-e2e") <= 2
    # Everything the operator did, it did as the chart's ServiceAccount, and none of it
    # was refused.
    calls = kube.audit()
    assert calls and all(c.code < 400 for c in calls), [c for c in calls if c.code >= 400]


def test_invalid_spec_fails_with_condition_and_event(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str,
) -> None:
    ns = kube.namespace
    kube_operator.start()
    body = sweep_manifest("bad", ns, gcs_bucket)
    # A mistake no schema rule states (test_schema.py has those the CRD refuses): the
    # API server stores the sweep, the operator fails it.
    body["spec"]["parameters"]["dropout"] = {"values": [0.1, 0.1]}
    kube.client.create(SWEEPS, body)
    status = wait_phase(kube.client, ns, "bad", "Failed", operator=kube_operator)
    failed = condition(status, "Failed")
    assert failed["status"] == "True" and failed["reason"] == "InvalidSpec"
    assert "spec.parameters.dropout.values: lists a value more than once" in failed["message"]
    events = kube.client.items(EVENTS, ns)
    assert any(e.get("reason") == "InvalidSpec" and e.get("type") == "Warning" for e in events)
    assert kube.client.items(JOBS, ns) == []


def test_pod_fields_the_api_would_refuse_fail_the_sweep_at_once_naming_the_field(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str,
) -> None:
    ns = kube.namespace
    kube_operator.start()
    body = sweep_manifest("badpod", ns, gcs_bucket)
    body["spec"]["trainer"]["resources"] = {"limits": {"nvidia.com/gpu": 1, "memory": "16 GB"}}
    created = kube.client.create(SWEEPS, body)
    # The CRD cannot state a quantity's syntax: the API server stores it as written.
    assert created["spec"]["trainer"]["resources"]["limits"]["memory"] == "16 GB"
    status = wait_phase(kube.client, ns, "badpod", "Failed", operator=kube_operator)
    failed = condition(status, "Failed")
    assert failed["reason"] == "InvalidSpec"
    assert "spec.trainer.resources.limits.memory: '16 GB' is not a Kubernetes quantity" in \
        failed["message"]
    assert not any(c["type"] == "Degraded" and c["status"] == "True"
                   for c in status["conditions"])  # failed, not retrying
    assert kube.client.items(JOBS, ns) == []
    assert not [c for c in kube.audit() if c.resource == "jobs" and c.verb == "create"]


def test_failing_trainer_records_failed_rows_then_fails_past_budget(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str, gcs_client: storage.Client,
) -> None:
    ns = kube.namespace
    kube_operator.start()
    kube.client.create(SWEEPS, sweep_manifest(
        "flaky", ns, gcs_bucket, configs=4, parallelism=1, max_failed=2,
        env={"FAKE_FAIL_CONFIGS": "c0000,c0001"}))
    status = wait_phase(kube.client, ns, "flaky", "Failed", operator=kube_operator)
    failed = condition(status, "Failed")
    assert failed["reason"] == "TooManyFailedTrials"
    assert "3 trials failed, more than spec.maxFailedTrials (2)" in failed["message"]
    # Each failed trial with its trainer's last error line (from its pod), then the Job's.
    assert ("c0000-w0: RuntimeError: simulated failure in c0000-w0; "
            "Job failed: BackoffLimitExceeded") in failed["message"]
    rows = wait_until(lambda: len(r := results_rows(gcs_client, gcs_bucket, ns, "flaky")) >= 3
                      and r, what="3 failed rows")
    assert all(r["status"] == "failed" for r in rows)
    assert "Job failed" in rows[0]["error"]
    # No new trials start once the sweep has failed.
    assert len(kube.client.items(JOBS, ns)) == 3
    creates = [c for c in kube.audit() if c.resource == "jobs" and c.verb == "create"]
    assert len(creates) == 3


def test_suspend_stops_new_jobs_and_resume_finishes(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str,
) -> None:
    ns = kube.namespace
    kube_operator.start()
    kube.client.create(SWEEPS, sweep_manifest("pause", ns, gcs_bucket, configs=4,
                                              parallelism=1, env={"FAKE_SLEEP": "0.5"}))
    wait_until(lambda: kube.client.items(JOBS, ns), what="a first Job")
    kube.client.patch(SWEEPS, "pause", {"spec": {"suspend": True}}, ns)
    wait_phase(kube.client, ns, "pause", "Suspended", operator=kube_operator)
    count = len(kube.client.items(JOBS, ns))
    # The trials already running finish; then nothing new starts.
    wait_until(lambda: not unfinished_pods(kube, "pause"), what="the running trials to end")
    time.sleep(2)
    assert len(kube.client.items(JOBS, ns)) == count < 8
    kube.client.patch(SWEEPS, "pause", {"spec": {"suspend": False, "parallelism": 4}}, ns)
    wait_phase(kube.client, ns, "pause", "Succeeded", operator=kube_operator)
    assert max_concurrent_pods(kube, ns, "pause") >= 2  # the raised parallelism


def test_deleting_a_sweep_deletes_its_jobs(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str,
) -> None:
    ns = kube.namespace
    kube_operator.start()
    kube.client.create(SWEEPS, sweep_manifest("gone", ns, gcs_bucket, env={"FAKE_SLEEP": "30"}))
    wait_until(lambda: len(kube.client.items(JOBS, ns)) == 2, what="2 Jobs")
    kube.client.delete(SWEEPS, "gone", ns)
    wait_until(lambda: kube.client.get_or_none(SWEEPS, "gone", ns) is None,
               what="the sweep to be deleted")
    # The garbage collector follows the Jobs' ownerReferences, then their pods': the
    # node stops each trainer and removes its pod.
    wait_until(lambda: kube.client.items(JOBS, ns) == [], what="Jobs deleted")
    wait_until(lambda: kube.client.items(PODS, ns) == [], timeout=90, what="pods removed")


def test_auto_mode_plans_its_second_stage_from_collected_results(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str, gcs_client: storage.Client,
) -> None:
    ns = kube.namespace
    kube_operator.start()
    body = sweep_manifest("auto", ns, gcs_bucket, windows=1, parallelism=4)
    body["spec"]["search"] = {"algorithm": "auto", "maxConfigs": 4, "seed": 1}
    body["spec"]["parameters"] = {}
    kube.client.create(SWEEPS, body)
    wait_phase(kube.client, ns, "auto", "Succeeded", operator=kube_operator)
    rows = sorted(results_rows(gcs_client, gcs_bucket, ns, "auto"), key=lambda r: r["trial"])
    assert [r["trial"] for r in rows] == ["c0000-w0", "c0001-w0", "c0002-w0", "c0003-w0"]
    best = min(rows[:2], key=lambda r: float(r["metric.val_mse"]))
    for later in rows[2:]:
        assert later["param.learning_rate"] == best["param.learning_rate"]
        assert later["param.hidden_units"] != ""
    assert "StageStarted" in event_reasons(kube)


def test_operator_metrics_endpoint(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str,
) -> None:
    ns = kube.namespace
    port = free_port()
    kube_operator.args += ["--metrics-port", str(port)]
    kube_operator.start()
    kube.client.create(SWEEPS, sweep_manifest("metered", ns, gcs_bucket))
    wait_phase(kube.client, ns, "metered", "Succeeded", operator=kube_operator)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    assert (f'tuningsweep_operator_trials{{namespace="{ns}",phase="succeeded",'
            'sweep="metered"} 4.0') in text
    assert 'tuningsweep_operator_api_calls_total{resource="jobs",result="ok",verb="create"} 4.0' \
        in text
    assert 'tuningsweep_operator_sweeps{phase="Succeeded"} 1.0' in text
    # The Job watch's own calls: a list (again after a dropped watch), then watches.
    lists = re.search(r'tuningsweep_operator_api_calls_total\{resource="jobs",result="ok",'
                      r'verb="list"\} (\d+)', text)
    assert lists and int(lists.group(1)) >= 1
    assert 'resource="jobs",result="ok",verb="watch"' in text
    assert "tuningsweep_operator_collection_lag_seconds_count 4.0" in text
    assert "tuningsweep_operator_csv_flush_seconds_count" in text
    assert (f'tuningsweep_operator_best_objective{{metric="val_mse",namespace="{ns}",'
            'sweep="metered"}') in text


@pytest.mark.slow
def test_real_tensorflow_trainer_end_to_end(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str, gcs_client: storage.Client,
    pushgateway: Any,
) -> None:
    """The reference trainer (its console script, as the trainer image's entrypoint runs
    it) in each Job's container, on tiny synthetic data."""
    ns = kube.namespace
    kube_operator.start()
    body = sweep_manifest("real", ns, gcs_bucket, configs=1, windows=2, parallelism=2,
                          command=["tuningsweep-trainer"],
                          env={"TUNINGSWEEP_TF_THREADS": "1"})
    body["spec"]["mode"] = "full"
    body["spec"]["data"] = "synthetic://ctr?seed=1&rows_per_day=40"
    body["spec"]["parameters"]["epochs"] = {"values": [2]}
    kube.client.create(SWEEPS, body)
    status = wait_phase(kube.client, ns, "real", "Succeeded", timeout=240,
                        operator=kube_operator)
    assert status["trials"]["succeeded"] == 2
    rows = results_rows(gcs_client, gcs_bucket, ns, "real")
    assert len(rows) == 2
    for r in rows:
        assert r["status"] == "succeeded" and float(r["metric.val_mse"]) > 0
        assert r["model_uri"] == f"gs://{gcs_bucket}/tuning/{ns}/real/models/{r['trial']}"
        prefix = r["model_uri"].removeprefix(f"gs://{gcs_bucket}/") + "/"
        saved = {b.name.removeprefix(prefix)
                 for b in gcs_client.list_blobs(gcs_bucket, prefix=prefix)}
        assert {"model.keras", "history.json"} <= saved
    assert pushgateway_groups(pushgateway.url, ns, "real") == []


def test_missing_final_metrics_wait_bounded_then_fail_with_condition(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str, gcs_client: storage.Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ns = kube.namespace
    monkeypatch.setenv("TEST_COLLECT_TIMEOUT", "3")  # the operator's wait for metrics
    kube_operator.start()
    # The trainer exits 0 without reporting.
    kube.client.create(SWEEPS, sweep_manifest("silent", ns, gcs_bucket, configs=1, windows=1,
                                              max_failed=1, env={"FAKE_NO_PUSH": "1"}))
    status = wait_phase(kube.client, ns, "silent", "Succeeded", timeout=60,
                        operator=kube_operator)
    missing = condition(status, "MetricsMissing")
    assert missing["status"] == "True" and "c0000-w0: final metrics did not reach" in \
        missing["message"]
    (row,) = results_rows(gcs_client, gcs_bucket, ns, "silent")
    assert row["status"] == "failed" and "TUNINGSWEEP_PUSHGATEWAY" in row["error"]


def test_immutable_fields_are_refused_mutable_ones_accepted(kube: Kube, gcs_bucket: str) -> None:
    """The CRD's CEL rules, applied by the API server."""
    ns = kube.namespace
    kube.client.create(SWEEPS, sweep_manifest("fixed", ns, gcs_bucket))
    status, body, _ = kube.client.request(
        "PATCH", resource_path(SWEEPS, ns, "fixed"),
        {"spec": {"search": {"algorithm": "grid", "seed": 99}}},
        content_type="application/merge-patch+json")
    assert status == 422 and "spec.search" in body["message"]
    assert "is immutable once the sweep exists" in body["message"]
    kube.client.patch(SWEEPS, "fixed", {"spec": {"parallelism": 7, "suspend": True,
                                                 "maxFailedTrials": 9}}, ns)
    spec = kube.client.get(SWEEPS, "fixed", ns)["spec"]
    assert (spec["parallelism"], spec["suspend"], spec["maxFailedTrials"]) == (7, True, 9)
    assert spec["search"]["seed"] == 3


def test_recreated_sweep_resumes_the_same_search_and_refuses_another(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str, gcs_client: storage.Client,
) -> None:
    ns = kube.namespace
    kube_operator.start()
    kube.client.create(SWEEPS, sweep_manifest("again", ns, gcs_bucket))
    wait_phase(kube.client, ns, "again", "Succeeded", operator=kube_operator)
    before = results_rows(gcs_client, gcs_bucket, ns, "again")
    kube.client.delete(SWEEPS, "again", ns)
    wait_until(lambda: kube.client.get_or_none(SWEEPS, "again", ns) is None,
               what="the sweep to be deleted")

    # The same manifest applied again (GitOps re-sync): it resumes, nothing runs twice.
    kube.client.create(SWEEPS, sweep_manifest("again", ns, gcs_bucket))
    wait_phase(kube.client, ns, "again", "Succeeded", operator=kube_operator)
    assert results_rows(gcs_client, gcs_bucket, ns, "again") == before
    assert "Resumed" in event_reasons(kube)
    kube.client.delete(SWEEPS, "again", ns)
    wait_until(lambda: kube.client.get_or_none(SWEEPS, "again", ns) is None,
               what="the sweep to be deleted")

    # A different search under the same name must not mix into those results.
    kube.client.create(SWEEPS, sweep_manifest("again", ns, gcs_bucket, configs=3))
    status = wait_phase(kube.client, ns, "again", "Failed", operator=kube_operator)
    failed = condition(status, "Failed")
    assert failed["reason"] == "ResultsConflict" and "spec.parameters" in failed["message"]
    assert results_rows(gcs_client, gcs_bucket, ns, "again") == before


def test_operator_without_credentials_says_so(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tuningsweep.cli", "operator", "--metrics-port", "0",
         "--liveness", ""], env={**os.environ, "KUBECONFIG": str(tmp_path / "none")},
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "no Kubernetes credentials" in done.stderr and "Traceback" not in done.stderr


def test_a_job_watch_that_cannot_list_says_so_then_recovers(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str,
) -> None:
    """Missing RBAC on Jobs (the API server answers 403 to list): the sweep waits with a
    Degraded condition that names the cause, creates no Job meanwhile, and runs once the
    permission is granted."""
    ns = kube.namespace
    role = kube.client.get(ROLES, "tuningsweep", ns)
    granted = role["rules"]
    refused = [{**r, "verbs": [v for v in r["verbs"] if v != "list"]}
               if "jobs" in r["resources"] else r for r in granted]
    kube.client.patch(ROLES, "tuningsweep", {"rules": refused}, ns)
    try:
        kube_operator.start()
        kube.client.create(SWEEPS, sweep_manifest("no-rbac", ns, gcs_bucket))
        degraded = wait_until(lambda: next(
            (c for c in status_of(kube.client, ns, "no-rbac").get("conditions") or []
             if c["type"] == "Degraded" and c["status"] == "True"), None), 30,
            what="a Degraded condition")
        assert degraded["reason"] == "JobWatchFailed"
        assert "403" in degraded["message"] and f"namespace {ns}" in degraded["message"]
        assert kube.client.items(JOBS, ns) == []
        assert any(c.verb == "list" and c.resource == "jobs" and c.code == 403
                   for c in kube.audit())
    finally:
        kube.client.patch(ROLES, "tuningsweep", {"rules": granted}, ns)
    status = wait_phase(kube.client, ns, "no-rbac", "Succeeded", operator=kube_operator)
    assert condition(status, "Degraded")["status"] == "False"
