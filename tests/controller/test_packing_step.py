"""Packed trials (spec.trainer.trialsPerPod) through the reconcile step, against the fakes.

The test plays the cluster (each Job's phase) and Prometheus (each trial's final metrics
and the exit record its pod pushed). tests/kube runs packs end to end.
"""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

from tests.controller.fakes import UID, FakeGroups, FakeJobs, FakeMetrics
from tuningsweep.controller.ports import TrialMetrics
from tuningsweep.controller.reconciler import SweepReconciler
from tuningsweep.controller.settings import OperatorSettings
from tuningsweep.core.kube.jobs import JobState, job_state
from tuningsweep.core.kube.packing import TrialRecord
from tuningsweep.io.storage import open_store


class Jobs(FakeJobs):
    """The fake Jobs API keeping each created Job's body (to read its trials back)."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: dict[str, dict[str, Any]] = {}

    def started(self, trial: str, body: dict[str, Any]) -> None:
        self.bodies[trial] = body


class World:
    """Three configurations on two windows, three trials per pod."""

    def __init__(self, folder: Path, **spec: Any) -> None:
        self.folder = folder
        self.api, self.metrics, self.groups = Jobs(), FakeMetrics(), FakeGroups()
        self.jobs: dict[str, JobState] = {}
        self.settings = OperatorSettings(status_interval=0.0, collect_timeout=0.2,
                                         results_default=str(folder), job_retention=0.0)
        self.body: dict[str, Any] = {
            "metadata": {"name": "s", "namespace": "ns", "generation": 1,
                         "creationTimestamp": "2026-11-30T00:00:00Z"},
            "spec": {"architecture": "mlp", "windows": {"rolling": {"count": 2, "months": 1}},
                     "search": {"algorithm": "grid", "seed": 1},
                     "parameters": {"learning_rate": {"values": [0.1, 0.01, 0.001]}},
                     "parallelism": 2, "maxFailedTrials": 3,
                     "trainer": {"trialsPerPod": 3}, **spec},
            "status": {}}
        self.loop = asyncio.new_event_loop()
        self.restart()

    def restart(self) -> None:
        """A new operator: nothing remembered but the cluster and the results."""
        self.reconciler = SweepReconciler(
            self.settings, self.api, lambda *e: None, "ns", "s", UID,
            metrics_source=self.metrics, cleaner=self.groups, open_store=open_store)

    def step(self) -> Any:
        self.body["status"] = dict(self.api.status)
        result = self.loop.run_until_complete(
            self.reconciler.step(self.body, list(self.jobs.values())))
        for lead, body in self.api.bodies.items():  # the Job watch sees what was created
            if lead not in self.jobs:
                self.jobs[lead] = job_state(body)._replace(start=1.0, owner=UID)
        return result

    def flush(self) -> None:
        state = self.reconciler._state
        assert state is not None
        self.loop.run_until_complete(state.flusher.finish())

    def trials_of(self, lead: str) -> tuple[str, ...]:
        return self.jobs[lead].trials or (lead,)

    def report(self, trial: str, value: float, status: int = 0) -> None:
        """The pod ran ``trial`` to the end: final metrics and its exit record."""
        self.metrics.reported[trial] = TrialMetrics({"val_mse": value}, finished=status == 0)
        self.groups.groups.add(trial)
        self.groups.records[trial] = TrialRecord(status, 100.0 + value, 110.0 + value)

    def end_job(self, lead: str, failed: bool = False) -> None:
        self.jobs[lead] = self.jobs[lead]._replace(
            phase="failed" if failed else "succeeded", end=200.0,
            reason="BackoffLimitExceeded" if failed else "")

    def rows(self) -> dict[str, dict[str, str]]:
        path = self.folder / "ns" / "s" / "results.csv"
        if not path.exists():
            return {}
        return {r["trial"]: r for r in csv.DictReader(io.StringIO(path.read_text()))}


W0_PACK = ("c0000-w0", "c0001-w0", "c0002-w0")
W1_PACK = ("c0000-w1", "c0001-w1", "c0002-w1")


def test_parallelism_counts_pods_and_each_pod_runs_one_windows_trials(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.step()
    assert world.api.created == ["c0000-w0", "c0000-w1"]  # two pods, named by their leads
    assert world.trials_of("c0000-w0") == W0_PACK
    assert world.trials_of("c0000-w1") == W1_PACK
    world.step()  # the watch shows both Jobs
    assert world.api.created == ["c0000-w0", "c0000-w1"]
    assert world.api.status["trials"]["running"] == 2  # one trial trains per pod
    assert world.api.status["trials"]["queued"] == 4  # the others wait in their pods


def test_each_packed_trial_gets_its_row_as_it_finishes_not_when_the_pod_ends(
        tmp_path: Path) -> None:
    world = World(tmp_path)
    world.step()
    world.report("c0000-w0", 0.3)
    world.step()
    world.flush()
    rows = world.rows()
    assert set(rows) == {"c0000-w0"}  # collected while its pod goes on
    row = rows["c0000-w0"]
    assert row["status"] == "succeeded" and row["job"] == "s-c0000-w0"
    assert float(row["duration_seconds"]) == 10.0  # its own time, from its record
    assert world.api.created == ["c0000-w0", "c0000-w1"]  # the pod still holds its slot
    for trial, value in zip(W0_PACK[1:], (0.2, 0.1), strict=True):
        world.report(trial, value)
    world.end_job("c0000-w0")
    world.step()
    world.flush()
    rows = world.rows()
    assert {t: rows[t]["status"] for t in W0_PACK} == dict.fromkeys(W0_PACK, "succeeded")
    assert {rows[t]["job"] for t in W0_PACK} == {"s-c0000-w0"}
    assert float(rows["c0002-w0"]["metric.val_mse"]) == 0.1


def test_a_failed_pod_fails_the_trial_it_ran_and_only_unstarted_trials_start_again(
        tmp_path: Path) -> None:
    world = World(tmp_path)
    world.step()
    world.report("c0000-w0", 0.3)
    world.end_job("c0000-w0", failed=True)  # the pod died during c0001-w0
    world.step()
    world.flush()
    rows = world.rows()
    assert rows["c0000-w0"]["status"] == "succeeded"
    assert rows["c0001-w0"]["status"] == "failed"
    assert "BackoffLimitExceeded" in rows["c0001-w0"]["error"]
    assert rows["c0001-w0"]["job"] == "s-c0000-w0"
    assert "c0002-w0" not in rows
    # Only the trial the pod never reached runs again, in a new Job named after it.
    assert world.api.created == ["c0000-w0", "c0000-w1", "c0002-w0"]
    assert world.trials_of("c0002-w0") == ("c0002-w0",)


def test_a_restarted_operator_creates_nothing_twice_and_records_each_trial_once(
        tmp_path: Path) -> None:
    world = World(tmp_path)
    world.step()
    world.report("c0000-w0", 0.3)
    world.step()  # collected; its row may not be durable yet when the operator dies
    world.restart()
    world.step()
    world.flush()
    assert world.api.created == ["c0000-w0", "c0000-w1"]
    assert world.api.creates == 2  # the restarted operator saw both packs: no create
    assert set(world.rows()) == {"c0000-w0"}
    for lead, pack in (("c0000-w0", W0_PACK), ("c0000-w1", W1_PACK)):
        for trial in pack:
            world.report(trial, 0.5)
        world.end_job(lead)
    world.restart()
    for _ in range(3):
        result = world.step()
        world.flush()
    assert sorted(world.rows()) == sorted(W0_PACK + W1_PACK)
    assert result.done and world.api.status["phase"] == "Succeeded"
    # Both packed Jobs removed once every trial they list was durable (retention 0).
    assert sorted(world.api.deleted) == ["s-c0000-w0", "s-c0000-w1"]
    assert world.groups.groups == set()


def test_a_trial_recorded_and_cleaned_up_still_counts_as_finished_in_its_pack(
        tmp_path: Path) -> None:
    # The first trial's row is durable and its Pushgateway group (with its exit record)
    # deleted; the second finishes; the pod dies in the third: the third is the one that
    # failed, and nothing runs again.
    world = World(tmp_path)
    world.step()
    world.report("c0000-w0", 0.3)
    world.step()
    world.flush()
    world.step()
    # The row is durable, but the group (with its exit record) stays while the pod may
    # run again (an eviction's replacement pod skips the trial by it).
    assert "c0000-w0" in world.groups.groups
    world.groups.groups.discard("c0000-w0")  # as a restarted operator's clean-up may
    world.report("c0001-w0", 0.2)
    world.end_job("c0000-w0", failed=True)
    world.step()
    world.flush()
    rows = world.rows()
    assert rows["c0001-w0"]["status"] == "succeeded"
    assert rows["c0002-w0"]["status"] == "failed"
    assert world.api.created == ["c0000-w0", "c0000-w1"]


def test_the_trial_a_failed_pod_was_running_stays_the_only_one_blamed_once_recorded(
        tmp_path: Path) -> None:
    world = World(tmp_path)
    world.step()
    world.report("c0000-w0", 0.3)
    world.end_job("c0000-w0", failed=True)
    for _ in range(3):  # rows durable, groups gone: the failed pack is read again each step
        world.step()
        world.flush()
    rows = world.rows()
    assert [rows[t]["status"] for t in W0_PACK[:2]] == ["succeeded", "failed"]
    assert "c0002-w0" not in rows or rows["c0002-w0"]["job"] == "s-c0002-w0"
    assert world.api.created == ["c0000-w0", "c0000-w1", "c0002-w0"]


def test_packed_trials_groups_stay_until_their_pod_has_ended(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.step()
    world.report("c0000-w0", 0.3)
    for _ in range(2):
        world.step()
        world.flush()
    assert "c0000-w0" in world.rows()
    assert "c0000-w0" in world.groups.groups  # its pod still runs the pack
    for trial in W0_PACK[1:]:
        world.report(trial, 0.2)
    world.end_job("c0000-w0")
    for _ in range(3):
        world.step()
        world.flush()
    assert not world.groups.groups & set(W0_PACK)  # the Job ended: all three go
