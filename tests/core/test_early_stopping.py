"""Early stopping: a trial is compared only with trials of its window at the same epoch."""

from __future__ import annotations

import datetime as dt
import math
import statistics

from hypothesis import given, settings
from hypothesis import strategies as st

from tuningsweep.core.planning.decisions import decide
from tuningsweep.core.planning.windows import resolve_windows
from tuningsweep.core.search.early_stopping import EpochCurves, _median, best_so_far, trials_to_stop
from tuningsweep.core.spec.manifest import load_sweeps
from tuningsweep.core.spec.parse import EarlyStopping

MEDIAN = EarlyStopping("median", grace_epochs=2, min_trials=2, reduction_factor=3)
ASHA = EarlyStopping("asha", grace_epochs=1, min_trials=2, reduction_factor=2)


def curve(*values: float) -> dict[int, float]:
    return {e: v for e, v in enumerate(values, start=1)}


def test_median_stops_a_trial_behind_the_median_of_its_window_after_the_grace() -> None:
    peers = {"a-w0": curve(5, 4, 3), "b-w0": curve(5, 4, 3), "c-w0": curve(9, 8)}
    window_of = {"c-w0": "w0"}
    stops = trials_to_stop(MEDIAN, {"c-w0": peers["c-w0"]}, {"w0": peers}, window_of)
    assert list(stops) == ["c-w0"] and "epoch 2" in stops["c-w0"]
    # Within the grace period nobody is stopped.
    early = {"c-w0": curve(9)}
    assert trials_to_stop(MEDIAN, early, {"w0": {**peers, **early}}, window_of) == {}


def test_a_hard_window_does_not_stop_its_trials_for_being_behind_an_easy_one() -> None:
    easy = {"a-w0": curve(1, 1, 1), "b-w0": curve(1, 1, 1)}
    hard = {"c-w1": curve(9, 8, 7)}
    stops = trials_to_stop(MEDIAN, hard, {"w0": easy, "w1": hard}, {"c-w1": "w1"})
    assert stops == {}  # no peers on its own window yet: too few to judge


def test_median_needs_min_trials_at_the_epoch() -> None:
    peers = {"a-w0": curve(1, 1, 1), "c-w0": curve(9, 9)}
    assert trials_to_stop(MEDIAN, {"c-w0": peers["c-w0"]}, {"w0": peers}, {"c-w0": "w0"}) == {}


def test_asha_keeps_the_top_fraction_at_each_rung() -> None:
    peers = {"a-w0": curve(1, 1), "b-w0": curve(2, 2), "c-w0": curve(3), "d-w0": curve(4)}
    window_of = {t: "w0" for t in peers}
    running = {"c-w0": peers["c-w0"], "d-w0": peers["d-w0"], "a-w0": peers["a-w0"]}
    stops = trials_to_stop(ASHA, running, {"w0": peers}, window_of)
    # Rung 1: four trials, the best half (2) go on: a and b; c and d stop.
    assert sorted(stops) == ["c-w0", "d-w0"]


MANIFEST = """\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {name: e, namespace: t}
spec:
  architecture: mlp
  windows: {rolling: {count: 1, months: 1}}
  search: {algorithm: grid, seed: 1, earlyStopping: {rule: median, graceEpochs: 2, minTrials: 2}}
  parameters: {learning_rate: {values: [0.1, 0.2, 0.3, 0.4]}}
  objective: {metric: accuracy, goal: maximize}
  parallelism: 4
"""


def test_the_decision_core_orients_maximised_objectives_and_frees_the_slot() -> None:
    sweep = load_sweeps(MANIFEST, "e.yaml")[0]
    windows = resolve_windows(sweep.spec, dt.date(2026, 11, 30))
    decision = decide(sweep.spec, windows, [], running=["c0000-w0", "c0001-w0", "c0002-w0"],
                      curves={"c0000-w0": curve(0.9, 0.9), "c0001-w0": curve(0.8, 0.85),
                              "c0002-w0": curve(0.1, 0.2)})
    assert list(decision.stop or {}) == ["c0002-w0"]  # lowest accuracy: behind the median
    assert [t.id for t in decision.start] == ["c0003-w0"]


# -- the kept, sorted levels judge exactly as a pass over every curve would ---------------

def _oracle(rule: EarlyStopping, running: dict[str, dict[int, float]],
            peers: dict[str, dict[int, float]]) -> dict[str, str]:
    """Early stopping written the plain way (every peer curve walked per judgement): what
    the kept levels of EpochCurves must agree with, on one window."""
    stops = {}
    for trial, curve in sorted(running.items()):
        epoch = max(curve, default=0)
        rungs = []
        if rule.rule == "median":
            rungs = [epoch] if epoch >= rule.grace_epochs else []
        else:
            rung = rule.grace_epochs
            while rung <= epoch:
                rungs.append(rung)
                rung *= rule.reduction_factor
        for at in reversed(rungs):
            mine = best_so_far(curve, at)
            others = [v for t, c in peers.items() if t != trial and max(c, default=0) >= at
                      for v in (best_so_far(c, at),) if v is not None]
            if mine is None or len(others) < rule.min_trials:
                continue
            if rule.rule == "median":
                if mine > statistics.median(others):
                    stops[trial] = "median"
            else:
                keep = max(1, (len(others) + 1) // rule.reduction_factor)
                if sum(1 for v in others if v < mine) >= keep:
                    stops[trial] = "asha"
            break
    return stops


values = st.one_of(st.floats(-5, 5, allow_nan=False), st.just(math.nan), st.just(math.inf))
curves = st.dictionaries(st.integers(0, 6), values, max_size=6)


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from([f"f{i}" for i in range(12)]), curves, max_size=12),
       st.dictionaries(st.sampled_from([f"r{i}" for i in range(4)]), curves, min_size=1,
                       max_size=4),
       st.sampled_from([MEDIAN, ASHA, EarlyStopping("median", 1, 1, 2),
                        EarlyStopping("asha", 2, 3, 3)]),
       st.sampled_from([1000, 3]))
def test_kept_levels_judge_as_a_pass_over_every_curve(
        finished: dict[str, dict[int, float]], running: dict[str, dict[int, float]],
        rule: EarlyStopping, dense_epochs: int) -> None:
    # dense_epochs 3: curves reaching past epoch 3 are kept sparse (as a trainer numbering
    # epochs by step would make them), the others as levels; the stops are the same.
    table = EpochCurves(dense_epochs=dense_epochs)
    for trial, c in finished.items():
        table.finish(trial, "w0", c)
    table.set_running({t: ("w0", c) for t, c in running.items()})
    got = table.stops(rule, running)
    assert {t: rule.rule for t in got} == _oracle(rule, running, {**finished, **running})


@given(st.lists(st.floats(-9, 9), max_size=15).map(sorted),
       st.lists(st.floats(-9, 9), max_size=4).map(sorted))
def test_the_median_of_two_sorted_lists_is_the_median_of_both(
        big: list[float], small: list[float]) -> None:
    if big or small:
        assert _median(big, small) == statistics.median(big + small)
