"""Crash safety: SIGKILL the operator at any point; exactly one Job and one row per trial.

State lives in the cluster (Jobs with deterministic names) and in the results CSV, so a
restarted operator recreates nothing and collects each trial once. Two kinds of kill:
at random moments over a whole sweep, and precisely between collecting metrics and
making them durable (GCS is made to fail, so the operator is stuck exactly there).
"""

from __future__ import annotations

import random
import time

import pytest
from google.cloud import storage

from tests.faultproxy import FaultProxy
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


def assert_exactly_once(k8s: EmulatorProcess, client: storage.Client, bucket: str, name: str,
                        trials: int) -> None:
    jobs = [j["metadata"]["name"] for j in k8s.client.list(JOBS, NS)["items"]]
    assert len(jobs) == len(set(jobs)) == trials
    rows = [r["trial"] for r in results_rows(client, bucket, name)]
    assert len(rows) == len(set(rows)) == trials
    creates = [r for r in k8s.request_log() if r["verb"] == "create" and r["resource"] == "jobs"
               and r["status"] == 201]
    assert len(creates) == trials, "a Job was created twice"


def test_killed_at_random_moments_finishes_exactly_once(
    k8s_emulator: EmulatorProcess, agent: NodeAgent, operator: OperatorProcess,
    gcs_bucket: str, gcs_client: storage.Client, pushgateway: Pushgateway,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_SLEEP", "0.3")
    k8s_emulator.client.create(SWEEPS, sweep_manifest("crashy", gcs_bucket, configs=6,
                                                      parallelism=3))
    rng = random.Random(7)
    kills = 0
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        operator.start()
        if kills >= 6:
            break
        time.sleep(rng.uniform(0.4, 2.0))
        if status_of(k8s_emulator, "crashy").get("phase") == "Succeeded":
            break
        operator.kill()
        kills += 1
    wait_phase(k8s_emulator, "crashy", "Succeeded", timeout=120, operator=operator)
    assert kills >= 3
    assert_exactly_once(k8s_emulator, gcs_client, gcs_bucket, "crashy", 12)
    assert pushgateway_groups(pushgateway, "crashy") == []


def is_upload(method: str, path: str) -> bool:
    return method == "POST" and path.startswith("/upload/")


def test_killed_between_collection_and_flush_loses_and_duplicates_nothing(
    k8s_emulator: EmulatorProcess, agent: NodeAgent, operator: OperatorProcess,
    gcs_bucket: str, gcs_client: storage.Client, pushgateway: Pushgateway,
    gcs_fault_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_SLEEP", "0.2")
    operator.start()
    k8s_emulator.client.create(SWEEPS, sweep_manifest("torn", gcs_bucket, configs=2,
                                                      parallelism=4))
    wait_until(lambda: status_of(k8s_emulator, "torn").get("windows"), what="pinned windows")
    # From now on every upload fails: the operator can collect but never make rows durable.
    gcs_fault_proxy.inject(fail_first=10**6, statuses=(503,), matches=is_upload)
    finished = lambda: [j for j in k8s_emulator.client.list(JOBS, NS)["items"]  # noqa: E731
                        if any(c["type"] == "Complete" for c in
                               (j.get("status") or {}).get("conditions") or [])]
    wait_until(lambda: len(finished()) == 4, timeout=60, what="4 finished Jobs")
    wait_until(lambda: len(gcs_fault_proxy.exchanges(is_upload)) > 2, what="flush attempts")
    operator.kill()
    # Nothing was made durable, so nothing may have been deleted from the Pushgateway.
    assert results_rows(gcs_client, gcs_bucket, "torn") == []
    assert sorted(pushgateway_groups(pushgateway, "torn")) == [
        "c0000-w0", "c0000-w1", "c0001-w0", "c0001-w1"]
    gcs_fault_proxy.heal()
    operator.start()
    wait_phase(k8s_emulator, "torn", "Succeeded", timeout=90, operator=operator)
    assert_exactly_once(k8s_emulator, gcs_client, gcs_bucket, "torn", 4)
    assert pushgateway_groups(pushgateway, "torn") == []


def test_killed_after_jobs_created_creates_no_duplicates(
    k8s_emulator: EmulatorProcess, agent: NodeAgent, operator: OperatorProcess,
    gcs_bucket: str, gcs_client: storage.Client, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_SLEEP", "1.5")
    operator.start()
    k8s_emulator.client.create(SWEEPS, sweep_manifest("twice", gcs_bucket, configs=3,
                                                      parallelism=3))
    wait_until(lambda: len(k8s_emulator.client.list(JOBS, NS)["items"]) == 3, what="3 Jobs")
    operator.kill()
    operator.start()
    wait_phase(k8s_emulator, "twice", "Succeeded", timeout=90, operator=operator)
    assert_exactly_once(k8s_emulator, gcs_client, gcs_bucket, "twice", 6)

