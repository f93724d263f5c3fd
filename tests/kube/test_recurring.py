"""A recurring sweep on the real control plane, month after month by a clock the test moves.

The operator runs as a process with ``--clock-file`` (its testing aid): the test writes
the time, and the operator creates each run as a child TuningSweep when its slot comes.
The children's trials are Jobs run by the real Job controller (the fake trainer); the
results, the runs' folders and history.csv are in the GCS emulator.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from google.cloud import storage

from tests.kube.client import wait_until
from tests.kube.conftest import Kube
from tests.kube.sweeps import EVENTS, SWEEPS, status_of, sweep_manifest, wait_phase
from tests.operator.operator_process import OperatorProcess

PARENT = "monthly"


def recurring(kube: Kube, bucket: str, **extra: Any) -> dict[str, Any]:
    """A monthly grid sweep over two one-month windows, with warm start."""
    body = sweep_manifest(PARENT, kube.namespace, bucket, configs=2, windows=2,
                          parallelism=4, env=extra.pop("env", None),
                          extra={"schedule": "0 6 1 * *", **extra})
    body["spec"]["search"]["warmStart"] = {}
    return body


def gcs_text(gcs: storage.Client, bucket: str, path: str) -> str | None:
    blob = gcs.bucket(bucket).blob(path)
    return blob.download_as_text() if blob.exists() else None


def run_rows(gcs: storage.Client, bucket: str, namespace: str, run: str) -> list[dict[str, str]]:
    text = gcs_text(gcs, bucket, f"tuning/{namespace}/{PARENT}/runs/{run}/results.csv")
    return list(csv.DictReader(io.StringIO(text or "")))


def history(gcs: storage.Client, bucket: str, namespace: str) -> list[dict[str, str]]:
    text = gcs_text(gcs, bucket, f"tuning/{namespace}/{PARENT}/history.csv")
    return list(csv.DictReader(io.StringIO(text or "")))


def last_run(kube: Kube, run: str, operator: OperatorProcess) -> dict[str, Any]:
    """Wait for the recurring sweep's status to show ``run`` as its last run."""
    try:
        return dict(wait_until(
            lambda: ((s := status_of(kube.client, kube.namespace, PARENT))
                     .get("recurring", {}).get("lastRun") == run and s),
            120, what=f"{PARENT} to record run {run}"))
    except AssertionError:
        print(operator.output()[-6000:])
        raise


def run_succeeded(kube: Kube, run: str, operator: OperatorProcess) -> dict[str, Any]:
    """Wait for the child sweep of ``run`` (created by the operator) to succeed."""
    name = f"{PARENT}-{run}"
    try:
        wait_until(lambda: kube.client.get_or_none(SWEEPS, name, kube.namespace), 60,
                   what=f"the operator to create {name}")
    except AssertionError:
        print(operator.output()[-6000:])
        print(status_of(kube.client, kube.namespace, PARENT))
        raise
    return wait_phase(kube.client, kube.namespace, name, "Succeeded", operator=operator)


def operator_creates(kube: Kube, resource: str) -> int:
    """Successful creates of ``resource`` by the operator since the test began."""
    return sum(1 for e in kube.audit() if e.resource == resource and e.verb == "create"
               and e.code < 400 and e.namespace == kube.namespace)


@pytest.mark.timeout(400)
def test_a_recurring_sweep_runs_month_after_month_reusing_trials(
        kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str,
        gcs_client: storage.Client, tmp_path: Path) -> None:
    ns = kube.namespace
    clock = tmp_path / "now"
    clock.write_text("2026-07-01T07:00:00Z")
    kube_operator.args += ["--clock-file", str(clock)]
    kube_operator.start()
    kube.client.create(SWEEPS, recurring(kube, gcs_bucket, historyLimit=1))

    july = run_succeeded(kube, "2026-07-01", kube_operator)
    assert [(w["start"], w["end"]) for w in july["windows"]] == [
        ("2026-06-01", "2026-06-30"), ("2026-05-01", "2026-05-31")]
    child = kube.client.get(SWEEPS, f"{PARENT}-2026-07-01", ns)
    assert child["metadata"]["ownerReferences"][0]["name"] == PARENT
    assert "schedule" not in child["spec"]
    status = last_run(kube, "2026-07-01", kube_operator)
    assert status["recurring"]["next"] == "2026-08-01T06:00Z"
    assert status["recurring"]["winner"]
    assert [h["run"] for h in history(gcs_client, gcs_bucket, ns)] == ["2026-07-01"]
    assert len(run_rows(gcs_client, gcs_bucket, ns, "2026-07-01")) == 4

    clock.write_text("2026-08-01T06:00:30Z")  # the August slot has come
    run_succeeded(kube, "2026-08-01", kube_operator)
    status = last_run(kube, "2026-08-01", kube_operator)
    rows = run_rows(gcs_client, gcs_bucket, ns, "2026-08-01")
    # June is a window of both runs: its trials are copied from July's, not trained.
    assert len(rows) == 4
    assert sorted(r["reused_from"] for r in rows) == ["", "", "2026-07-01", "2026-07-01"]
    assert operator_creates(kube, "jobs") == 4 + 2
    assert status["recurring"]["reused"] == 2
    assert [h["run"] for h in history(gcs_client, gcs_bucket, ns)] == [
        "2026-07-01", "2026-08-01"]
    # historyLimit 1: July's child is deleted once August's is recorded; its results stay.
    wait_until(lambda: kube.client.get_or_none(SWEEPS, f"{PARENT}-2026-07-01", ns) is None,
               60, what="July's run to be pruned")
    assert len(run_rows(gcs_client, gcs_bucket, ns, "2026-07-01")) == 4
    assert operator_creates(kube, "tuningsweeps") == 2
    # kubectl get shows the last run, its winner, whether it changed and the next slot.
    table = kube.cluster.kubectl("get", "tuningsweeps", PARENT, "-n", ns).splitlines()
    assert table[0].split()[-5:] == ["LAST-RUN", "WINNER", "CHANGED", "NEXT", "AGE"]
    assert "2026-08-01" in table[1] and status["recurring"]["winner"] in table[1]
    assert "2026-09-01T06:00Z" in table[1]
    reasons = [e.get("reason") for e in kube.client.items(EVENTS, ns)]
    assert reasons.count("RunStarted") == 2 and "RunFinished" in reasons
    assert "RunDeleted" in reasons


@pytest.mark.timeout(400)
def test_killing_the_operator_mid_run_loses_and_duplicates_nothing(
        kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str,
        gcs_client: storage.Client, tmp_path: Path) -> None:
    ns = kube.namespace
    clock = tmp_path / "now"
    clock.write_text("2026-07-01T07:00:00Z")
    kube_operator.args += ["--clock-file", str(clock)]
    kube_operator.start()
    kube.client.create(SWEEPS, recurring(kube, gcs_bucket, env={"FAKE_SLEEP": "1.5"},
                                         parallelism=2))
    # Killed while the run's first trials are running ...
    wait_until(lambda: operator_creates(kube, "jobs") >= 1, 60, what="the first Job")
    kube_operator.kill()
    clock.write_text("2026-08-01T07:00:00Z")  # ... and down when August's slot came
    kube_operator.start()
    run_succeeded(kube, "2026-07-01", kube_operator)
    last_run(kube, "2026-07-01", kube_operator)
    run_succeeded(kube, "2026-08-01", kube_operator)
    # Killed again right after August's run ended, before or after its history row.
    kube_operator.kill()
    kube_operator.start()
    last_run(kube, "2026-08-01", kube_operator)
    assert operator_creates(kube, "tuningsweeps") == 2  # one child per run, never two
    assert [h["run"] for h in history(gcs_client, gcs_bucket, ns)] == [
        "2026-07-01", "2026-08-01"]
    for run in ("2026-07-01", "2026-08-01"):
        trials = [r["trial"] for r in run_rows(gcs_client, gcs_bucket, ns, run)]
        assert sorted(trials) == sorted(set(trials)) and len(trials) == 4
