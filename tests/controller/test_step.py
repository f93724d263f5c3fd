"""The reconcile step against in-memory fakes of its ports: milliseconds per scenario.

No process, API server or Prometheus: the test plays the cluster (it sets each Job's
state) and Prometheus (a dict of reported metrics), through the fakes of
:mod:`tests.controller.fakes`. tests/operator runs the same
reconciler against the API emulator and real services end to end.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from tests.controller.fakes import UID, FakeGroups, FakeJobs, FakeMetrics
from tuningsweep.controller.ports import TrialMetrics
from tuningsweep.controller.reconciler import SweepReconciler
from tuningsweep.controller.settings import OperatorSettings
from tuningsweep.core.kube.jobs import JobState
from tuningsweep.core.records.results import parse_csv
from tuningsweep.io.storage import open_store


class World:
    """The fakes and the sweep's body; ``step`` runs one reconcile."""

    def __init__(self, folder: Path, **spec: Any) -> None:
        self.api, self.metrics, self.groups = FakeJobs(), FakeMetrics(), FakeGroups()
        self.events: list[tuple[str, str, str]] = []
        self.jobs: dict[str, JobState] = {}
        self.settings = OperatorSettings(status_interval=0.0, collect_timeout=0.2,
                                         results_default=str(folder), job_retention=0.0)
        self.body: dict[str, Any] = {
            "metadata": {"name": "s", "namespace": "ns", "generation": 1,
                         "creationTimestamp": "2026-11-30T00:00:00Z"},
            "spec": {"architecture": "mlp", "windows": {"rolling": {"count": 2, "months": 1}},
                     "search": {"algorithm": "grid", "seed": 1},
                     "parameters": {"learning_rate": {"values": [0.1, 0.01]}},
                     "parallelism": 2, "maxFailedTrials": 1, **spec},
            "status": {}}
        self.loop = asyncio.new_event_loop()
        self.reconciler = self.restart()

    def restart(self) -> SweepReconciler:
        self.reconciler = SweepReconciler(
            self.settings, self.api, lambda *e: self.events.append(e), "ns", "s", UID,
            metrics_source=self.metrics, cleaner=self.groups, open_store=open_store)
        return self.reconciler

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def step(self) -> Any:
        self.body["status"] = dict(self.api.status)
        result = self.run(self.reconciler.step(self.body, list(self.jobs.values())))
        for trial in self.api.created:  # the Job watch sees what was created
            self.jobs.setdefault(trial, JobState(trial, "active", start=1.0, owner=UID))
        return result

    def finish(self, trial: str, value: float | None = 0.5, failed: bool = False) -> None:
        self.jobs[trial] = self.jobs[trial]._replace(
            phase="failed" if failed else "succeeded", end=11.0,
            reason="BackoffLimitExceeded" if failed else "")
        if value is not None:
            self.metrics.reported[trial] = TrialMetrics({"val_mse": value}, finished=True)
            self.groups.groups.add(trial)


def test_first_step_pins_windows_and_creates_up_to_parallelism(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.step()
    assert world.api.created == ["c0000-w0", "c0000-w1"]
    assert [w["id"] for w in world.api.status["windows"]] == ["w0", "w1"]
    assert world.api.status["phase"] == "Running"
    assert any(reason == "WindowsPinned" for _, reason, _ in world.events)


def test_a_finished_trial_is_collected_and_its_slot_refilled_in_one_step(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.step()
    world.finish("c0000-w0", 0.25)
    world.step()
    assert world.api.created[-1] == "c0001-w0"
    assert world.api.status["trials"]["succeeded"] == 1
    for trial in ("c0000-w1", "c0001-w0", "c0001-w1"):
        world.step()
        world.finish(trial)
    result = world.step()
    assert result.done and world.api.status["phase"] == "Succeeded"
    # Recorded trials' Jobs are removed (job_retention 0 here): the rows are the record.
    assert sorted(world.api.deleted) == sorted(f"s-{t}" for t in world.api.created)
    assert world.groups.groups == set()  # every group deleted once its row was durable


def test_jobs_recorded_together_are_removed_in_one_call(tmp_path: Path) -> None:
    # Removing recorded Jobs one DELETE each doubled the API writes per trial; the Jobs
    # of trials recorded together go in one deletecollection (issue 16).
    world = World(tmp_path, parallelism=4)
    world.step()
    assert len(world.api.created) == 4
    for trial in world.api.created:
        world.finish(trial)
    world.step()  # collects all four; their rows become durable in the background
    world.run(world.reconciler._state.flusher.finish())  # type: ignore[union-attr]
    world.step()
    assert sorted(world.api.deleted) == sorted(f"s-{t}" for t in world.api.created)
    assert world.api.delete_calls == 1
    rows = parse_csv((tmp_path / "ns" / "s" / "results.csv").read_text())
    assert len(rows) == 4 and all(r.status == "succeeded" for r in rows)


def test_final_metrics_are_waited_for_then_the_trial_fails_with_a_reason(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.step()
    world.finish("c0000-w0", value=None)
    assert world.step().wait < 1.0  # ask Prometheus again soon
    assert world.api.status["trials"]["failed"] == 0
    world.run(asyncio.sleep(0.25))
    world.step()
    assert world.api.status["trials"]["failed"] == 1
    missing = [c for c in world.api.status["conditions"] if c["type"] == "MetricsMissing"]
    assert "c0000-w0: final metrics did not reach Prometheus" in missing[0]["message"]


def test_past_the_failure_budget_the_sweep_fails_and_starts_nothing(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.step()
    world.finish("c0000-w0", value=None, failed=True)
    world.finish("c0000-w1", value=None, failed=True)
    world.step()
    assert world.api.created == ["c0000-w0", "c0000-w1"]
    assert world.api.status["phase"] == "Failed"
    failed = next(c for c in world.api.status["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "TooManyFailedTrials"
    # The trainer's own last error line comes first, read from the failed Job's pods.
    assert ("c0000-w0: RuntimeError: out of memory in s-c0000-w0; Job failed: "
            "BackoffLimitExceeded") in failed["message"]


def test_a_restarted_operator_recreates_nothing_and_collects_once(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.step()
    world.finish("c0000-w0", 0.3)
    world.restart()  # the old reconciler is dropped unflushed, as by a kill
    world.step()
    assert world.api.created.count("c0000-w0") == 1
    world.run(world.reconciler.close())
    rows = parse_csv((tmp_path / "ns" / "s" / "results.csv").read_text())
    assert [r.trial for r in rows] == ["c0000-w0"]


def test_suspend_holds_new_trials(tmp_path: Path) -> None:
    world = World(tmp_path, suspend=True)
    world.step()
    assert world.api.created == [] and world.api.status["phase"] == "Suspended"
    world.body["spec"]["suspend"] = False
    world.body["metadata"]["generation"] = 2
    world.step()
    assert world.api.created == ["c0000-w0", "c0000-w1"]


def test_an_immutable_edit_is_refused_with_a_condition(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.step()
    world.body["spec"]["parameters"] = {"learning_rate": {"values": [0.5]}}
    world.body["metadata"]["generation"] = 2
    world.step()
    refused = [c for c in world.api.status["conditions"] if c["type"] == "SpecChangeRefused"]
    assert refused and "spec.parameters cannot change" in refused[0]["message"]


@pytest.mark.parametrize("status", [422])
def test_a_job_the_api_refuses_fails_the_sweep(tmp_path: Path, status: int) -> None:
    world = World(tmp_path)
    world.api.refuse = ApiException(status=status, reason="Invalid")
    world.step()
    assert world.api.status["phase"] == "Failed"
    assert any(c["reason"] == "InvalidJob" for c in world.api.status["conditions"])


def test_a_window_without_data_fails_the_sweep_before_any_job(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The user's bucket has October (w0) and nothing for September (w1). GCS is played by
    # a local folder behind the listing function: the check itself is the real one.
    from tuningsweep.io import data_check

    days = {dt.date(2026, 10, 5): ("gs://data/daily/date=2026-10-05/part.csv",)}
    monkeypatch.setattr(data_check, "list_partitions", lambda uri: days)
    world = World(tmp_path, data="gs://data/daily/")
    world.step()
    assert world.api.created == []
    failed = next(c for c in world.api.status["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "NoData"
    assert "has no data for window w1 (2026-09-01..2026-09-30)" in failed["message"]


def test_a_text_column_given_to_numeric_fails_the_sweep_before_any_job(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every day of both windows has data; the sample's first row has text in 'weather'.
    # GCS is played by the listing and the first bytes of a file: the checks are real.
    from tuningsweep.io import data_check, data_sample

    first = dt.date(2026, 9, 1)
    days = {first + dt.timedelta(d): (f"gs://data/daily/date={first + dt.timedelta(d)}/p.csv",)
            for d in range(61)}
    monkeypatch.setattr(data_check, "list_partitions", lambda uri: days)
    monkeypatch.setattr(data_sample, "_head", lambda location: b"t,weather\n1.5,sun\n")
    world = World(tmp_path, data="gs://data/daily/",
                  trainer={"args": ["--target", "t", "--numeric", "weather"]})
    world.step()
    assert world.api.created == []
    failed = next(c for c in world.api.status["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "BadColumns"
    assert ("spec.trainer.args: --numeric names column 'weather', which is not numeric in "
            "gs://data/daily/date=2026-09-01/p.csv: line 2 has 'sun'") in failed["message"]


def test_a_path_is_the_trainers_not_the_operators_and_is_not_checked(tmp_path: Path) -> None:
    world = World(tmp_path, data="/mnt/data/daily")  # a volume in the trainer's pod
    world.step()
    assert world.api.created == ["c0000-w0", "c0000-w1"]


def test_a_recurring_sweep_is_refused_with_a_condition_not_run_once(tmp_path: Path) -> None:
    world = World(tmp_path, schedule="0 6 1 * *")
    result = world.step()
    assert world.api.created == [] and result.done
    assert world.api.status["phase"] == "Failed"
    failed = next(c for c in world.api.status["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "RecurringNotSupported"
    assert "spec.schedule" in failed["message"] and "tuningsweep run" in failed["message"]
