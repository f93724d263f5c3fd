"""Crash safety on the real control plane: SIGKILL the operator mid-sweep; exactly one Job
and one row per trial.

State lives in the cluster (Jobs with deterministic names, run by the real Job controller)
and in the results CSV, so a restarted operator recreates nothing and collects each trial
once. "Created once" is read from the API server's audit log: every ``create jobs`` the
operator's ServiceAccount made that the server answered 201. Three kinds of kill: at
random moments over a whole sweep (each after the operator made some progress), precisely
between collecting metrics and making them durable (GCS is made to fail through a fault
proxy, so the operator is stuck exactly there), and right after the first Jobs exist.
"""

from __future__ import annotations

import random
import time

from google.cloud import storage

from tests.faultproxy import FaultProxy
from tests.kube.client import wait_until
from tests.kube.conftest import Kube
from tests.kube.sweeps import (
    JOBS,
    SWEEPS,
    pushgateway_groups,
    results_rows,
    status_of,
    sweep_manifest,
    wait_phase,
)
from tests.operator.operator_process import OperatorProcess
from tests.services import Pushgateway


def assert_exactly_once(kube: Kube, client: storage.Client, bucket: str, name: str,
                        trials: int) -> None:
    jobs = [j["metadata"]["name"] for j in kube.client.items(JOBS, kube.namespace)]
    assert len(jobs) == len(set(jobs)) == trials
    rows = [r["trial"] for r in results_rows(client, bucket, kube.namespace, name)]
    assert len(rows) == len(set(rows)) == trials
    creates = [c for c in kube.audit() if c.verb == "create" and c.resource == "jobs"
               and c.code == 201]
    assert len(creates) == trials, "a Job was created twice"


def test_killed_at_random_moments_finishes_exactly_once(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str, gcs_client: storage.Client,
    pushgateway: Pushgateway,
) -> None:
    ns = kube.namespace
    kube.client.create(SWEEPS, sweep_manifest("crashy", ns, gcs_bucket, configs=6,
                                              parallelism=3, env={"FAKE_SLEEP": "1"}))

    def progress() -> tuple[int, int]:
        return (len(kube.client.items(JOBS, ns)),
                len(results_rows(gcs_client, gcs_bucket, ns, "crashy")))

    def succeeded() -> bool:
        return status_of(kube.client, ns, "crashy").get("phase") == "Succeeded"

    rng = random.Random(7)
    kills = 0
    deadline = time.monotonic() + 240
    while kills < 4 and time.monotonic() < deadline:
        before = progress()
        kube_operator.start()
        # Each life gets to do something (a Job created, a row made durable), then dies
        # at a random moment: mid-reconcile, mid-collection or mid-flush.
        wait_until(lambda: progress() != before or succeeded(), 90, 0.2,  # noqa: B023
                   what="the operator to make progress")
        time.sleep(rng.uniform(0.0, 1.5))
        if succeeded():
            break
        kube_operator.kill()
        kills += 1
    if not kube_operator.alive():
        kube_operator.start()
    wait_phase(kube.client, ns, "crashy", "Succeeded", timeout=180, operator=kube_operator)
    assert kills >= 3, f"only {kills} kills before the sweep finished"
    assert_exactly_once(kube, gcs_client, gcs_bucket, "crashy", 12)
    assert pushgateway_groups(pushgateway.url, ns, "crashy") == []


def is_upload(method: str, path: str) -> bool:
    return method == "POST" and path.startswith("/upload/")


def test_killed_between_collection_and_flush_loses_and_duplicates_nothing(
    kube: Kube, gcs_fault_proxy: FaultProxy, kube_operator: OperatorProcess, gcs_bucket: str,
    gcs_client: storage.Client, pushgateway: Pushgateway,
) -> None:
    ns = kube.namespace
    # The operator reaches GCS through the proxy (gcs_fault_proxy points
    # STORAGE_EMULATOR_HOST at it before the operator starts); the test reads GCS directly.
    kube_operator.start()
    kube.client.create(SWEEPS, sweep_manifest("torn", ns, gcs_bucket, configs=2,
                                              parallelism=4, env={"FAKE_SLEEP": "0.2"}))
    wait_until(lambda: status_of(kube.client, ns, "torn").get("windows"), 60,
               what="pinned windows")
    # From now on every upload fails: the operator can collect but never make rows durable.
    gcs_fault_proxy.inject(fail_first=10**6, statuses=(503,), matches=is_upload)

    def finished() -> list[str]:
        return [j["metadata"]["name"] for j in kube.client.items(JOBS, ns)
                if any(c["type"] == "Complete" and c["status"] == "True"
                       for c in (j.get("status") or {}).get("conditions") or [])]

    wait_until(lambda: len(finished()) == 4, 90, what="4 finished Jobs")
    wait_until(lambda: len(gcs_fault_proxy.exchanges(is_upload)) > 2, 60,
               what="flush attempts")
    kube_operator.kill()
    # Nothing was made durable, so nothing may have been deleted from the Pushgateway.
    assert results_rows(gcs_client, gcs_bucket, ns, "torn") == []
    assert sorted(pushgateway_groups(pushgateway.url, ns, "torn")) == [
        "c0000-w0", "c0000-w1", "c0001-w0", "c0001-w1"]
    gcs_fault_proxy.heal()
    kube_operator.start()
    wait_phase(kube.client, ns, "torn", "Succeeded", timeout=90, operator=kube_operator)
    assert_exactly_once(kube, gcs_client, gcs_bucket, "torn", 4)
    assert pushgateway_groups(pushgateway.url, ns, "torn") == []


def test_killed_after_jobs_created_creates_no_duplicates(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str, gcs_client: storage.Client,
) -> None:
    ns = kube.namespace
    kube_operator.start()
    kube.client.create(SWEEPS, sweep_manifest("twice", ns, gcs_bucket, configs=3,
                                              parallelism=3, env={"FAKE_SLEEP": "1.5"}))
    wait_until(lambda: len(kube.client.items(JOBS, ns)) == 3, 60, what="3 Jobs")
    kube_operator.kill()
    kube_operator.start()
    wait_phase(kube.client, ns, "twice", "Succeeded", timeout=120, operator=kube_operator)
    assert_exactly_once(kube, gcs_client, gcs_bucket, "twice", 6)
