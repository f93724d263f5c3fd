"""A recurring sweep on the operator, against in-memory fakes: month after month in
milliseconds.

The test plays the cluster twice over: the TuningSweeps API (:class:`FakeSweeps`: the
children the recurring sweep creates) and, for each child, its Jobs and Prometheus (as
in test_step.py), with a clock file the test moves from slot to slot. The real parts are
the recurring sweep's step (``controller/recurring.py``), each child's reconciler, and
the results folder on disk. tests/kube/test_recurring.py runs the same on a real API
server with the operator as a process.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.controller.fakes import FakeGroups, FakeJobs, FakeMetrics, FakeSweeps
from tuningsweep.controller.ports import TrialMetrics
from tuningsweep.controller.reconciler import SweepReconciler
from tuningsweep.controller.recurring import (
    ANNOTATION_SPEC,
    LABEL_PARENT,
    LABEL_RUN,
    ClockError,
    RecurringSweep,
    child_manifest,
    operator_now,
)
from tuningsweep.controller.recurring_child import run_of
from tuningsweep.controller.settings import OperatorSettings
from tuningsweep.core.kube.jobs import JobState
from tuningsweep.core.records.contract import ENV_PARAMS
from tuningsweep.core.records.results import parse_csv
from tuningsweep.io.storage import open_store

PARENT_UID = "parent-uid"
#: The objective of each learning rate (minimised): 0.1 is the best, in every month.
VALUES = {0.1: 0.30, 0.01: 0.50, 0.001: 0.70}
#: Training noise of each (learning rate, window): small, fixed.
NOISE = {(0.1, "w0"): 0.002, (0.1, "w1"): -0.001, (0.01, "w0"): -0.002, (0.01, "w1"): 0.003,
         (0.001, "w0"): 0.001, (0.001, "w1"): -0.002}


class JobsWithParams(FakeJobs):
    """The Jobs API, remembering each trial's parameters (from its Job's environment)."""

    def __init__(self, uid: str) -> None:
        super().__init__(uid)
        self.params: dict[str, dict[str, Any]] = {}

    def started(self, trial: str, body: dict[str, Any]) -> None:
        env = body["spec"]["template"]["spec"]["containers"][0]["env"]
        self.params[trial] = json.loads(next(e["value"] for e in env
                                             if e["name"] == ENV_PARAMS))


class Month:
    """The recurring sweep ``ns/s``, its children, the clock and the results folder."""

    def __init__(self, folder: Path, history_limit: int | None = None,
                 **spec_fields: Any) -> None:
        self.folder = folder
        self.clock = folder / "now"
        self.sweeps = FakeSweeps()
        self.settings = OperatorSettings(status_interval=0.0, collect_timeout=0.2,
                                         results_default=str(folder / "results"),
                                         job_retention=0.0, tick_interval=1.0,
                                         clock_file=str(self.clock))
        spec: dict[str, Any] = {
            "schedule": "0 6 1 * *", "architecture": "mlp",
            "windows": {"rolling": {"count": 2, "months": 1}},
            "search": {"algorithm": "grid", "seed": 1, "warmStart": {}},
            "parameters": {"learning_rate": {"values": [0.1, 0.01]}},
            "parallelism": 4, "maxFailedTrials": 1,
            **({"historyLimit": history_limit} if history_limit is not None else {}),
            **spec_fields}
        self.values = dict(VALUES)
        self.sweeps.objects["s"] = {
            "metadata": {"name": "s", "namespace": "ns", "uid": PARENT_UID, "generation": 1},
            "spec": spec, "status": {}}
        self.loop = asyncio.new_event_loop()
        self.parent = self.restart()
        self.child_jobs: dict[str, JobsWithParams] = {}

    def restart(self) -> RecurringSweep:
        """A fresh operator's view of the recurring sweep (nothing kept in memory)."""
        self.parent = RecurringSweep(self.settings, self.sweeps, self.sweeps.emit, "ns", "s",
                                     PARENT_UID, open_store)
        return self.parent

    def at(self, moment: str) -> None:
        self.clock.write_text(moment)

    def step(self) -> float:
        return float(self.loop.run_until_complete(
            self.parent.step(self.sweeps.objects["s"])))

    @property
    def status(self) -> dict[str, Any]:
        return dict(self.sweeps.objects["s"]["status"])

    def run_child(self, name: str, stop_after: int | None = None) -> None:
        """Reconcile the child ``name`` (to the end, or ``stop_after`` steps), playing its
        Jobs and Prometheus: every Job finishes with its learning rate's value."""
        body = self.sweeps.objects[name]
        uid = body["metadata"]["uid"]
        api = self.child_jobs.setdefault(name, JobsWithParams(uid))
        metrics, groups = FakeMetrics(), FakeGroups()
        reconciler = SweepReconciler(self.settings, api, self.sweeps.emit, "ns", name, uid,
                                     metrics_source=metrics, cleaner=groups,
                                     open_store=open_store)
        jobs: dict[str, JobState] = {}
        for _ in range(stop_after or 30):
            body["status"] = dict(api.status)
            result = self.loop.run_until_complete(reconciler.step(body, list(jobs.values())))
            body["status"] = dict(api.status)
            if result.done:
                break
            for trial in api.created:
                if trial not in jobs:
                    jobs[trial] = JobState(trial, "succeeded", start=1.0, end=11.0, owner=uid)
                    lr = api.params[trial]["learning_rate"]
                    value = self.values[lr] + NOISE[(lr, trial.rpartition("-")[2])]
                    metrics.reported[trial] = TrialMetrics({"val_mse": value}, finished=True)
            self.loop.run_until_complete(asyncio.sleep(0.01))
        self.loop.run_until_complete(reconciler.close())

    def rows(self, run: str) -> list[Any]:
        path = self.folder / "results" / "ns" / "s" / "runs" / run / "results.csv"
        return parse_csv(path.read_text())

    def history(self) -> list[dict[str, str]]:
        path = self.folder / "results" / "ns" / "s" / "history.csv"
        return list(csv.DictReader(path.open())) if path.exists() else []

    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.sweeps.events]


def test_runs_are_created_once_per_slot_reuse_trials_and_fill_the_history(
        tmp_path: Path) -> None:
    month = Month(tmp_path)
    month.at("2026-07-01T07:00:00Z")
    wait = month.step()
    assert sorted(month.sweeps.objects) == ["s", "s-2026-07-01"]
    child = month.sweeps.objects["s-2026-07-01"]
    assert child["metadata"]["labels"] == {LABEL_PARENT: "s", LABEL_RUN: "2026-07-01"}
    assert child["metadata"]["ownerReferences"][0]["uid"] == PARENT_UID
    assert "schedule" not in child["spec"] and "warmStart" not in child["spec"]["search"]
    assert month.status["phase"] == "Running"
    assert month.status["recurring"]["next"] == "2026-08-01T06:00Z"
    assert wait <= month.settings.tick_interval  # under a test clock: looked at promptly
    month.step()  # the child is running: nothing more is created
    assert month.sweeps.creates == ["s-2026-07-01"]

    month.run_child("s-2026-07-01")
    assert month.sweeps.objects["s-2026-07-01"]["status"]["phase"] == "Succeeded"
    # The run's windows are the slot's: the two months before July 2026.
    windows = month.sweeps.objects["s-2026-07-01"]["status"]["windows"]
    assert [(w["start"], w["end"]) for w in windows] == [
        ("2026-06-01", "2026-06-30"), ("2026-05-01", "2026-05-31")]
    month.step()
    assert [h["run"] for h in month.history()] == ["2026-07-01"]
    recurring = month.status["recurring"]
    assert (recurring["lastRun"], recurring["winner"], recurring["changed"]) == (
        "2026-07-01", "learning_rate=0.1", False)
    assert month.status["phase"] == "Scheduled"
    assert "RunFinished" in month.reasons()

    month.at("2026-08-01T06:00:00Z")  # the August slot, to the minute
    month.step()
    assert month.sweeps.creates[-1] == "s-2026-08-01"
    month.run_child("s-2026-08-01")
    rows = month.rows("2026-08-01")
    # June is a window of both runs: its two trials are copied from July's run, not
    # trained (no Job); July, the new month, is trained.
    reused = [r for r in rows if r.reused_from]
    assert len(rows) == 4 and len(reused) == 2
    assert {r.reused_from for r in reused} == {"2026-07-01"}
    assert len(month.child_jobs["s-2026-08-01"].created) == 2
    month.step()
    history = month.history()
    assert [h["run"] for h in history] == ["2026-07-01", "2026-08-01"]
    assert month.status["recurring"]["lastRun"] == "2026-08-01"
    assert month.status["recurring"]["reused"] == 2
    # Each reused trial took 10 s on one GPU (the default request) in July.
    assert month.status["recurring"]["gpuHoursSaved"] == round(2 * 10 / 3600, 4)
    month.step()  # nothing new: no second row, no second child
    assert len(month.history()) == 2
    assert month.sweeps.creates == ["s-2026-07-01", "s-2026-08-01"]


def test_a_slot_that_comes_during_a_run_waits_for_it(tmp_path: Path) -> None:
    month = Month(tmp_path)
    month.at("2026-07-01T07:00:00Z")
    month.step()
    month.at("2026-08-02T00:00:00Z")  # July's run is still running
    month.step()
    assert month.sweeps.creates == ["s-2026-07-01"]
    assert "runs never overlap" in month.status["recurring"]["waiting"]
    assert month.reasons().count("RunWaiting") == 1
    month.run_child("s-2026-07-01")
    month.step()
    assert month.sweeps.creates == ["s-2026-07-01", "s-2026-08-01"]
    assert month.status["recurring"]["waiting"] is None


def test_a_suspended_recurring_sweep_starts_no_run_until_resumed(tmp_path: Path) -> None:
    month = Month(tmp_path, suspend=True)
    month.at("2026-07-01T07:00:00Z")
    month.step()
    assert month.sweeps.creates == [] and month.status["phase"] == "Suspended"
    month.sweeps.objects["s"]["spec"]["suspend"] = False
    month.step()
    assert month.sweeps.creates == ["s-2026-07-01"]


def test_only_the_latest_missed_slot_is_started(tmp_path: Path) -> None:
    month = Month(tmp_path)
    month.at("2026-07-01T07:00:00Z")
    month.step()
    month.run_child("s-2026-07-01")
    month.at("2026-10-15T00:00:00Z")  # the operator was down through August and September
    month.restart()
    month.step()
    assert month.sweeps.creates == ["s-2026-07-01", "s-2026-10-01"]
    assert [h["run"] for h in month.history()] == ["2026-07-01"]


def test_a_restart_at_any_point_duplicates_no_run_and_no_history_row(tmp_path: Path) -> None:
    month = Month(tmp_path)
    month.at("2026-07-01T07:00:00Z")
    month.step()
    month.run_child("s-2026-07-01", stop_after=1)  # killed mid-run ...
    month.restart()
    month.step()
    month.run_child("s-2026-07-01")  # ... and resumed by a new operator
    # The history row is written, then the operator dies before the status says so.
    month.loop.run_until_complete(asyncio.sleep(0))
    month.restart()
    month.step()
    month.restart()
    month.step()
    assert month.sweeps.creates.count("s-2026-07-01") == 1
    assert [h["run"] for h in month.history()] == ["2026-07-01"]
    assert len(month.rows("2026-07-01")) == 4
    # A run whose status says it was started is not started again, child or not.
    del month.sweeps.objects["s-2026-07-01"]
    month.restart()
    month.step()
    assert month.sweeps.creates == ["s-2026-07-01"]


def test_history_limit_deletes_older_finished_runs_not_their_results(tmp_path: Path) -> None:
    month = Month(tmp_path, history_limit=1)
    for slot in ("2026-07-01", "2026-08-01", "2026-09-01"):
        month.at(f"{slot}T06:00:00Z")
        month.step()
        month.run_child(f"s-{slot}")
        month.step()
    assert sorted(month.sweeps.objects) == ["s", "s-2026-09-01"]
    assert month.sweeps.deleted == ["s-2026-07-01", "s-2026-08-01"]
    assert [h["run"] for h in month.history()] == ["2026-07-01", "2026-08-01", "2026-09-01"]
    assert len(month.rows("2026-07-01")) == 4  # its results stay
    assert "RunDeleted" in month.reasons()


def test_a_new_winner_is_an_event_and_a_condition(tmp_path: Path) -> None:
    month = Month(tmp_path, search={"algorithm": "grid", "seed": 1,
                                    "warmStart": {"reuse": False}},
                  parameters={"learning_rate": {"values": [0.1, 0.01, 0.001]}})
    month.at("2026-07-01T07:00:00Z")
    month.step()
    month.run_child("s-2026-07-01")
    month.step()
    condition = next(c for c in month.status["conditions"] if c["type"] == "WinnerChanged")
    assert (condition["status"], condition["reason"]) == ("False", "FirstRun")
    month.values[0.01] = 0.10  # from August on, 0.01 is far better in every window
    month.at("2026-08-01T07:00:00Z")
    month.step()
    month.run_child("s-2026-08-01")
    month.step()
    assert month.history()[-1]["verdict"] == "new"
    recurring = month.status["recurring"]
    assert (recurring["winner"], recurring["changed"]) == ("learning_rate=0.01", True)
    condition = next(c for c in month.status["conditions"] if c["type"] == "WinnerChanged")
    assert (condition["status"], condition["reason"]) == ("True", "NewWinner")
    assert month.reasons().count("WinnerChanged") == 1
    labels = {"namespace": "ns", "sweep": "s"}  # the dashboards' gauges
    assert REGISTRY.get_sample_value("tuningsweep_recurring_winner_changed", labels) == 1
    assert REGISTRY.get_sample_value("tuningsweep_recurring_last_run_timestamp_seconds",
                                     labels) == dt.datetime(2026, 8, 1, tzinfo=dt.UTC).timestamp()


def test_the_child_is_the_parent_spec_without_the_schedule() -> None:
    parent = {"metadata": {"name": "ctr", "namespace": "ns", "uid": "u"},
              "spec": {"schedule": "0 6 1 * *", "historyLimit": 2, "architecture": "mlp",
                       "search": {"algorithm": "grid", "warmStart": {"keep": 2}}}}
    child = child_manifest(parent, "2026-07-01")
    assert child["metadata"]["name"] == "ctr-2026-07-01"
    assert child["spec"] == {"architecture": "mlp", "search": {"algorithm": "grid"}}
    assert json.loads(child["metadata"]["annotations"][ANNOTATION_SPEC]) == parent["spec"]
    assert parent["spec"]["search"]["warmStart"] == {"keep": 2}  # the parent is untouched
    picked = run_of(child, "ns")
    assert picked is not None
    assert (picked.run, picked.folder, picked.anchor) == (
        "2026-07-01", "ns/ctr/runs/2026-07-01", dt.date(2026, 7, 1))
    assert picked.base.spec.warm_start is not None and picked.base.spec.warm_start.keep == 2
    assert run_of({"metadata": {"name": "plain"}, "spec": {}}, "ns") is None


def test_the_test_clock_is_read_from_its_file(tmp_path: Path) -> None:
    clock = tmp_path / "now"
    clock.write_text("2026-07-01T06:00:00Z\n")
    assert operator_now(str(clock)) == dt.datetime(2026, 7, 1, 6, tzinfo=dt.UTC)
    clock.write_text("2026-07-01 06:00")  # naive: UTC
    assert operator_now(str(clock)) == dt.datetime(2026, 7, 1, 6, tzinfo=dt.UTC)
    clock.write_text("next tuesday")
    with pytest.raises(ClockError, match="not an ISO-8601 time"):
        operator_now(str(clock))
    assert abs(operator_now(None) - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)

