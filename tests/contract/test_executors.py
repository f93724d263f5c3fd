"""The same scenarios against both executors: the same rows and the same phases.

The local executor runs trials as processes (or in warm workers, which must give the
rows of a process per trial); the operator's reconciler runs them as Jobs
(here against the in-memory fakes of :mod:`.cluster`). Both carry out the decisions of
one core, so every scenario must end with the same rows (trial, status, metrics, the
core's error texts) and the same phase. Timing columns and the executor's own words for
a crash (an exit status, a Job condition) are what may differ.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.contract.cluster import UID, FakeCluster, reconcile, reconciler
from tests.local.conftest import FAKE_TRAINER
from tuningsweep.core.planning.windows import resolve_windows
from tuningsweep.core.records.results import ResultRow, parse_csv
from tuningsweep.core.spec.parse import parse_sweep
from tuningsweep.executors.local import Events, LocalExecutor, LocalSettings
from tuningsweep.executors.warm_pool import WarmSettings
from tuningsweep.io.results_store import ResultsStore
from tuningsweep.io.storage import open_store

TODAY = dt.date(2026, 11, 30)
NAME, NAMESPACE = "contract", "team"


def manifest(**spec: Any) -> dict[str, Any]:
    """A 3-configuration x 2-window grid run by the fake trainer, one trial at a time."""
    env = spec.pop("env", {})
    base: dict[str, Any] = {
        "architecture": "mlp",
        "windows": {"rolling": {"count": 2, "months": 1}},
        "search": {"algorithm": "grid", "seed": 3, "maxConfigs": 3},
        "parameters": {"learning_rate": {"values": [0.001, 0.01, 0.1]},
                       "hidden_units": {"values": [16, 64]}},
        "parallelism": 1,
        "maxFailedTrials": 1,
        # One GPU a trial on both sides: the cluster's request, the local runner's device.
        "trainer": {"command": [sys.executable, str(FAKE_TRAINER)],
                    "resources": {"limits": {"nvidia.com/gpu": 1}},
                    "env": [{"name": "FAKE_SLEEP", "value": "0"},
                            *({"name": k, "value": v} for k, v in env.items())]},
    }
    base.update(spec)
    return {"apiVersion": "tuningsweep.io/v1alpha1", "kind": "TuningSweep",
            "metadata": {"name": NAME, "namespace": NAMESPACE}, "spec": base}


class _Interrupt(Events):
    """Stops the runner (as Ctrl-C would) once ``after`` trials have finished."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.finished_rows = 0

    def finished(self, row: ResultRow, running: int) -> None:
        self.finished_rows += 1
        if self.finished_rows >= self.after:
            raise KeyboardInterrupt


def run_local(doc: dict[str, Any], folder: Path, kill_after: int | None = None,
              warm: WarmSettings | None = None) -> tuple[list[ResultRow], str]:
    """Run the sweep with the local executor; rows read back from results.csv."""
    sweep = parse_sweep(doc)
    attempts = [kill_after, None] if kill_after else [None]
    phase = ""
    for after in attempts:
        results = ResultsStore(open_store(str(folder)), sweep, min_interval=0.0)
        results.load()
        windows = results.pin_windows(resolve_windows(sweep.spec, TODAY))
        settings = LocalSettings(parallel=sweep.spec.parallelism,
                                 command=list(sweep.spec.trainer.command or ()),
                                 models_uri=str(folder / "models"), workdir=folder / "trials",
                                 gpus=("0",), warm=warm)
        events = _Interrupt(after) if after else None
        try:
            phase = LocalExecutor(sweep, results, windows, settings, events).run().phase
        except KeyboardInterrupt:
            pass
        finally:
            results.close()
    path = folder / NAMESPACE / NAME / "results.csv"
    return (parse_csv(path.read_text()) if path.exists() else []), phase


def run_cluster(doc: dict[str, Any], folder: Path, kill_after: int | None = None) -> tuple[
        list[ResultRow], str]:
    """Run the sweep with the operator's reconciler; a kill drops it without closing."""
    cluster = FakeCluster(folder / "node", uid=UID)
    cluster.folder.mkdir()
    body = {"metadata": {"name": NAME, "namespace": NAMESPACE, "uid": UID,
                         "generation": 1, "creationTimestamp": f"{TODAY}T08:00:00Z"},
            "spec": doc["spec"], "status": {}}

    async def go() -> str:
        if kill_after:
            first = reconciler(cluster, NAME, NAMESPACE, str(folder))
            await reconcile(cluster, first, body, until_finished=kill_after)
            # killed: no close(), so rows not yet flushed are lost with it
        rec = reconciler(cluster, NAME, NAMESPACE, str(folder))
        try:
            await reconcile(cluster, rec, body)
        finally:
            await rec.close()
        return rec.phase

    try:
        phase = asyncio.run(go())
    finally:
        cluster.stop()
    path = folder / NAMESPACE / NAME / "results.csv"
    return (parse_csv(path.read_text()) if path.exists() else []), phase


def run_local_warm(doc: dict[str, Any], folder: Path, kill_after: int | None = None) -> tuple[
        list[ResultRow], str]:
    """The local executor with a warm worker calling the fake trainer's ``main``."""
    return run_local(doc, folder, kill_after, WarmSettings("tests.local.fake_trainer:main"))


Runner = Callable[..., tuple[list[ResultRow], str]]
RUNNERS = {"local": run_local, "local-warm": run_local_warm, "cluster": run_cluster}


def essentials(rows: list[ResultRow]) -> list[tuple[Any, ...]]:
    """What both executors must agree on, row by row: every column but the clock's.

    Times (``started_at``, ``finished_at``, ``duration_seconds``), the Job's name, the
    model's folder and the executor's own words for a crash may differ; the GPUs a trial
    held (``gpu_seconds`` over its duration) may not. A stopped trial's last metrics
    depend on when the executor looked (an epoch later or sooner), so for it the names of
    the metrics it kept count, not their values.
    """
    return [(r.sweep, r.trial, r.config, r.window, r.window_start, r.window_end, r.status,
             dict(r.params),
             sorted(r.metrics) if r.status == "stopped"
             else {k: round(v, 9) for k, v in r.metrics.items()},
             round(r.gpu_seconds / r.duration_seconds, 2) if r.duration_seconds else 0.0,
             bool(r.model_uri),
             r.error if "diverged" in r.error or not r.error else "executor's words")
            for r in rows]


SCENARIOS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # name: (manifest changes, run options)
    "success": ({}, {}),
    "failure-budget": ({"env": {"FAKE_FAIL_CONFIGS": "c0001"}}, {}),
    "nan-objective": ({"env": {"FAKE_NAN_CONFIGS": "c0002"}}, {}),
    "bad-input": ({"env": {"FAKE_BAD_INPUT_CONFIGS": "c0001"}, "maxFailedTrials": 4}, {}),
    "suspended": ({"suspend": True}, {}),
    "resume-after-kill": ({}, {"kill_after": 3}),
    "auto-stages": ({"search": {"algorithm": "auto", "seed": 5, "maxConfigs": 4},
                     "parameters": {}, "windows": {"rolling": {"count": 1, "months": 1}}}, {}),
    # Four epochs of 0.5 s each; the median rule may stop a trial from its second epoch.
    "early-stopping": ({"env": {"FAKE_EPOCHS": "4", "FAKE_SLEEP": "2"},
                        "search": {"algorithm": "grid", "seed": 3, "maxConfigs": 5,
                                   "earlyStopping": {"rule": "median", "graceEpochs": 2,
                                                     "minTrials": 2}},
                        "windows": {"rolling": {"count": 1, "months": 1}}}, {}),
    "gpu-budget": ({"budget": {"trialHours": 0.5 / 3600}, "env": {"FAKE_SLEEP": "0.3"}}, {}),
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Any]:
    """Every scenario run once by each executor."""
    out = {}
    for scenario, (changes, options) in SCENARIOS.items():
        for executor, run in RUNNERS.items():
            folder = tmp_path_factory.mktemp(f"{executor}-{scenario}")
            out[executor, scenario] = run(manifest(**changes), folder, **options)
    return out


#: How many trials fit in a budget of seconds depends on each executor's timing.
TIMING_DEPENDENT = {"gpu-budget"}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_both_executors_give_the_same_rows_and_phase(
        outcomes: dict[tuple[str, str], Any], scenario: str) -> None:
    local_rows, local_phase = outcomes["local", scenario]
    cluster_rows, cluster_phase = outcomes["cluster", scenario]
    if scenario not in TIMING_DEPENDENT:
        assert essentials(local_rows) == essentials(cluster_rows)
    assert local_phase == cluster_phase


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_warm_workers_give_the_rows_of_a_process_per_trial(
        outcomes: dict[tuple[str, str], Any], scenario: str) -> None:
    cold_rows, cold_phase = outcomes["local", scenario]
    warm_rows, warm_phase = outcomes["local-warm", scenario]
    if scenario not in TIMING_DEPENDENT:
        assert essentials(warm_rows) == essentials(cold_rows)
        # the same executor's words too: a failure is told the same way
        assert ([r.error for r in warm_rows if r.status == "failed"]
                == [r.error for r in cold_rows if r.status == "failed"])
    assert warm_phase == cold_phase


@pytest.mark.parametrize("executor", RUNNERS)
def test_success_runs_every_trial_once(outcomes: dict[tuple[str, str], Any],
                                       executor: str) -> None:
    rows, phase = outcomes[executor, "success"]
    assert phase == "Succeeded"
    assert [r.trial for r in rows] == [f"c000{c}-w{w}" for c in range(3) for w in range(2)]
    assert all(r.status == "succeeded" and "val_mse" in r.metrics for r in rows)


@pytest.mark.parametrize("executor", RUNNERS)
def test_the_failure_budget_ends_the_sweep(outcomes: dict[tuple[str, str], Any],
                                           executor: str) -> None:
    rows, phase = outcomes[executor, "failure-budget"]
    assert phase == "Failed"
    # One at a time, configuration-major: c0000 on both windows, then c0001 fails twice,
    # which is more than maxFailedTrials (1), and nothing else starts.
    assert [(r.trial, r.status) for r in rows] == [
        ("c0000-w0", "succeeded"), ("c0000-w1", "succeeded"),
        ("c0001-w0", "failed"), ("c0001-w1", "failed")]


@pytest.mark.parametrize("executor", RUNNERS)
def test_a_trial_failing_on_bad_input_ends_the_sweep_at_once(
        outcomes: dict[tuple[str, str], Any], executor: str) -> None:
    rows, phase = outcomes[executor, "bad-input"]
    assert phase == "Failed"
    # The first trial that exits 2 ends the sweep, although maxFailedTrials (4) would
    # allow more failures: every trial reading the same input would fail the same way.
    assert [(r.trial, r.status) for r in rows] == [
        ("c0000-w0", "succeeded"), ("c0000-w1", "succeeded"), ("c0001-w0", "failed")]
    assert rows[-1].error.startswith("bad input: ")


@pytest.mark.parametrize("executor", RUNNERS)
def test_a_nan_objective_is_a_failed_trial_with_one_reason(
        outcomes: dict[tuple[str, str], Any], executor: str) -> None:
    rows, _ = outcomes[executor, "nan-objective"]
    nan = [r for r in rows if r.config == "c0002"]
    assert nan and all(r.status == "failed" for r in nan)
    assert all(r.error == "the objective val_mse is nan: training diverged?" for r in nan)
    assert all("val_mse" not in r.metrics for r in nan)


@pytest.mark.parametrize("executor", RUNNERS)
def test_a_suspended_sweep_starts_nothing(outcomes: dict[tuple[str, str], Any],
                                          executor: str) -> None:
    rows, phase = outcomes[executor, "suspended"]
    assert (rows, phase) == ([], "Suspended")


@pytest.mark.parametrize("executor", RUNNERS)
def test_a_killed_executor_resumes_without_duplicates_or_losses(
        outcomes: dict[tuple[str, str], Any], executor: str) -> None:
    rows, phase = outcomes[executor, "resume-after-kill"]
    assert phase == "Succeeded"
    assert essentials(rows) == essentials(outcomes[executor, "success"][0])


@pytest.mark.parametrize("executor", RUNNERS)
def test_auto_mode_plans_its_second_stage_from_the_first(
        outcomes: dict[tuple[str, str], Any], executor: str) -> None:
    rows, phase = outcomes[executor, "auto-stages"]
    assert phase == "Succeeded"
    group = ("learning_rate", "decay_factor", "early_stopping_patience")
    first = [r for r in rows if "hidden_units" not in r.params]
    second = [r for r in rows if "hidden_units" in r.params]
    assert len(first) == 2 and len(second) == 2
    # The second stage tunes the rest with the learning-rate group fixed at the best of
    # the first stage.
    best = min(first, key=lambda r: r.metrics["val_mse"])
    assert all({k: r.params[k] for k in group} == {k: best.params[k] for k in group}
               for r in second)


@pytest.mark.parametrize("executor", RUNNERS)
def test_early_stopping_stops_the_trials_behind_their_window(
        outcomes: dict[tuple[str, str], Any], executor: str) -> None:
    rows, phase = outcomes[executor, "early-stopping"]
    assert phase == "Succeeded"
    stopped = [r for r in rows if r.status == "stopped"]
    finished = [r for r in rows if r.status == "succeeded"]
    assert stopped and len(stopped) + len(finished) == 5
    # A stopped trial was behind the median of the trials of its window that had reached
    # the same epoch; it keeps the last value it reported, and is not a failure.
    best_finished = min(r.metrics["val_mse"] for r in finished)
    assert all(r.error.startswith("stopped at epoch ") for r in stopped)
    assert all(r.metrics["val_mse"] > best_finished for r in stopped)
    # It keeps every metric of its last epoch (the fake trainer reports val_mse and loss
    # each epoch) and the GPU time it held, which counts in budget.gpuHours like any other
    # trial's.
    assert all(set(r.metrics) == {"val_mse", "loss"} for r in stopped)
    assert all(r.gpu_seconds == pytest.approx(r.duration_seconds, abs=0.01) for r in stopped)


@pytest.mark.parametrize("executor", RUNNERS)
def test_a_spent_budget_starts_nothing_new_and_ends_the_sweep(
        outcomes: dict[tuple[str, str], Any], executor: str) -> None:
    rows, phase = outcomes[executor, "gpu-budget"]
    # 0.5 trial-seconds of budget: the first trial (0.3 s) leaves it unspent, the second
    # spends it; nothing starts after that, and the sweep ends Succeeded.
    assert phase == "Succeeded"
    assert 1 <= len(rows) < 6
