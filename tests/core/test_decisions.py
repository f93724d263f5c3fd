"""The decision core: what to start and the sweep's phase, as plain data."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

from tuningsweep.core.planning.decisions import decide
from tuningsweep.core.planning.outcomes import TrialEnd, trial_row
from tuningsweep.core.planning.planner import plan_trials
from tuningsweep.core.planning.windows import resolve_windows
from tuningsweep.core.records.results import ResultRow
from tuningsweep.core.spec.manifest import load_sweeps
from tuningsweep.core.spec.parse import Sweep

ANCHOR = dt.date(2026, 11, 27)
GRID = """\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {name: d, namespace: t}
spec:
  architecture: mlp
  windows: {rolling: {count: 2, months: 1}}
  search: {algorithm: grid, seed: 7, maxConfigs: 3}
  parameters:
    learning_rate: {values: [0.001, 0.003, 0.01]}
    hidden_units: {values: [64, 128]}
  parallelism: 2
  maxFailedTrials: 1
"""


def sweep() -> Sweep:
    return load_sweeps(GRID, "d.yaml")[0]


def row(trial: str, status: str = "succeeded", value: float = 1.0) -> ResultRow:
    config, window = trial.split("-")
    return ResultRow(sweep="d", trial=trial, config=config, window=window, window_start="",
                     window_end="", status="succeeded" if status == "succeeded" else "failed",
                     metrics={"val_mse": value} if status == "succeeded" else {},
                     error="" if status == "succeeded" else "boom")


def test_starts_up_to_the_parallel_limit_in_plan_order() -> None:
    s = sweep()
    windows = resolve_windows(s.spec, ANCHOR)
    first = decide(s.spec, windows, [])
    assert [t.id for t in first.start] == ["c0000-w0", "c0000-w1"]
    assert first.phase == "Running"
    # One running, one finished and waiting for collection: one slot, and neither restarts.
    later = decide(s.spec, windows, [], running=["c0000-w0"], collecting=["c0000-w1"])
    assert [t.id for t in later.start] == ["c0001-w0"]
    assert decide(s.spec, windows, [], parallelism=5).start[-1].id == "c0002-w0"


def test_succeeds_when_every_trial_has_a_row_and_nothing_is_collecting() -> None:
    s = sweep()
    windows = resolve_windows(s.spec, ANCHOR)
    rows = [row(t.id) for t in plan_trials(s.spec, windows).trials]
    assert decide(s.spec, windows, rows).phase == "Succeeded"
    assert decide(s.spec, windows, rows[:-1], collecting=[rows[-1].trial]).phase == "Running"


def test_the_failure_budget_counts_failures_not_yet_recorded() -> None:
    s = sweep()
    windows = resolve_windows(s.spec, ANCHOR)
    within = decide(s.spec, windows, [row("c0000-w0", "failed")])
    assert within.phase == "Running" and within.start
    over = decide(s.spec, windows, [row("c0000-w0", "failed")],
                  failing={"c0000-w1": "Job failed: BackoffLimitExceeded: ..."})
    assert (over.phase, over.reason, over.start) == ("Failed", "TooManyFailedTrials", ())
    assert over.message.startswith("2 trials failed, more than spec.maxFailedTrials (1): "
                                   "c0000-w0: boom; c0000-w1: Job failed")


def test_suspended_starts_nothing_and_says_so() -> None:
    s = sweep()
    spec = dataclasses.replace(s.spec, suspend=True)
    decision = decide(spec, resolve_windows(spec, ANCHOR), [])
    assert (decision.phase, decision.start) == ("Suspended", ())


def test_a_final_plan_is_reused_not_replanned() -> None:
    s = sweep()
    windows = resolve_windows(s.spec, ANCHOR)
    first = decide(s.spec, windows, [])
    assert decide(s.spec, windows, [], previous=first.plan).plan is first.plan


def test_a_trial_end_becomes_the_same_row_whoever_observed_it() -> None:
    s = sweep()
    trial = plan_trials(s.spec, resolve_windows(s.spec, ANCHOR)).trials[0]
    ok = trial_row(s, TrialEnd(trial, True, final={"val_mse": 0.5, "extra": 1.0},
                               duration_seconds=10.0, gpus=2.0, model_uri="m"))
    assert (ok.status, dict(ok.metrics), ok.gpu_seconds, ok.model_uri) == (
        "succeeded", {"val_mse": 0.5}, 20.0, "m")
    nan = trial_row(s, TrialEnd(trial, True, final={"val_mse": math.nan}, model_uri="m"))
    assert (nan.status, nan.error, nan.model_uri) == (
        "failed", "the objective val_mse is nan: training diverged?", "")
    missing = trial_row(s, TrialEnd(trial, True, final={"loss": 1.0}))
    assert missing.error.startswith("the trainer did not report the objective metric 'val_mse'")
    silent = trial_row(s, TrialEnd(trial, True, final=None, no_final="no final record"))
    assert (silent.status, silent.error) == ("failed", "no final record")
    crashed = trial_row(s, TrialEnd(trial, False, failure="exit status 1: OOM",
                                    final={"val_mse": 0.1}))
    assert (crashed.status, crashed.error) == ("failed", "exit status 1: OOM")


LONG_ERROR = ("trainer exit status 2: tuningsweep-trainer: error: line 2, column 'weather' "
              "(--numeric): 'drizzle' is not a number (give it to --categorical instead)")


def test_a_trial_that_failed_on_bad_input_ends_the_sweep_at_once() -> None:
    s = sweep()  # maxFailedTrials: 1, so one ordinary failure would not end it
    windows = resolve_windows(s.spec, ANCHOR)
    trial = plan_trials(s.spec, windows).trials[0]
    bad = trial_row(s, TrialEnd(trial, False, failure=LONG_ERROR + " | later output",
                                bad_input=True))
    assert bad.error == f"bad input: {LONG_ERROR} | later output"
    decision = decide(s.spec, windows, [bad], running=["c0000-w1"])
    assert (decision.phase, decision.reason, decision.start) == ("Failed", "BadInput", ())
    # The message keeps the error's whole first line (it was cut at "line 2, column '").
    assert decision.message == (
        "trial c0000-w0 failed on bad input (the trainer's exit status 2, which no retry "
        f"fixes): {LONG_ERROR}")
    # An ordinary failure (exit status 1) still counts against the budget only.
    plain = trial_row(s, TrialEnd(trial, False, failure=LONG_ERROR))
    assert decide(s.spec, windows, [plain]).phase == "Running"
    # The operator sees a Job failed by its pod failure policy before it records it.
    failing = decide(s.spec, windows, [], failing={"c0000-w1": "bad input: Job failed: x"})
    assert (failing.phase, failing.reason) == ("Failed", "BadInput")


def test_the_failure_budget_message_keeps_each_first_line_whole() -> None:
    s = sweep()
    windows = resolve_windows(s.spec, ANCHOR)
    rows = [dataclasses.replace(row(t, "failed"), error=f"{LONG_ERROR} | more") for t in
            ("c0000-w0", "c0000-w1")]
    over = decide(s.spec, windows, rows)
    assert over.reason == "TooManyFailedTrials"
    assert over.message.endswith(f"c0000-w0: {LONG_ERROR}; c0000-w1: {LONG_ERROR}")
