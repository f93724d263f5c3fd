"""Racing across windows: who goes on after each window, and what it costs and finds."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.core_driver import drive
from tests.racing_truth import Scenario, simulate
from tuningsweep.core.planning.planner import Trial, plan_trials
from tuningsweep.core.planning.windows import resolve_windows
from tuningsweep.core.spec.errors import InvalidSpec
from tuningsweep.core.spec.manifest import load_sweeps
from tuningsweep.core.spec.parse import Sweep

TODAY = dt.date(2026, 11, 30)
MANIFEST = """\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {{name: r, namespace: t}}
spec:
  architecture: mlp
  windows: {windows}
  search: {{algorithm: grid, seed: 1, racing: {racing}}}
  parameters: {{arm: {{values: [{arms}]}}}}
"""


def sweep(racing: str = "{}", arms: int = 12,
          windows: str = "{rolling: {count: 3, months: 1}}") -> Sweep:
    return load_sweeps(MANIFEST.format(racing=racing, windows=windows,
                                       arms=", ".join(map(str, range(arms)))), "r.yaml")[0]


def by_arm(trial: Trial) -> float:
    """Arm k is k/10 worse than arm 0; each window has its own (large) level."""
    hard = {"w0": 0.0, "w1": 50.0, "w2": -20.0, "w3": 7.0, "w4": 3.0, "w5": 1.0}
    return int(trial.params["arm"]) / 10 + hard[trial.window.id]


def test_every_configuration_starts_on_the_newest_window_and_the_rest_waits() -> None:
    s = sweep()
    windows = resolve_windows(s.spec, TODAY)
    assert len(windows) == 6  # count 3 + 3 extra windows, pinned up front
    plan = plan_trials(s.spec, windows, [])
    assert {t.window.id for t in plan.trials} == {"w0"} and len(plan.trials) == 12
    assert not plan.final


def test_the_clearly_behind_stop_and_contenders_get_extra_windows() -> None:
    s = sweep()
    rows, plan = drive(s, resolve_windows(s.spec, TODAY), by_arm)
    assert plan is not None and plan.final
    runs = {c: sum(1 for r in rows if r.config == c) for c in {r.config for r in rows}}
    best = next(r.config for r in rows if r.params["arm"] == 0)
    # keepFraction 0.34: 5 of 12 go on after w0; the best keeps racing longest.
    assert sorted(runs.values()).count(1) == 7
    assert runs[best] == max(runs.values())
    assert len(rows) < 12 * 3
    assert best not in plan.eliminated
    reasons = {e.reason.split(" ")[0] for e in plan.eliminated.values()}
    assert reasons <= {"rank", "significantly"}


def test_a_hard_month_eliminates_nobody_by_itself() -> None:
    # Equal configurations on windows whose levels differ by up to 70: every window shifts
    # both alike, so the paired differences are zero and both race to the last window.
    s = sweep(arms=2)
    rows, plan = drive(s, resolve_windows(s.spec, TODAY), lambda t: by_arm(t) - int(
        t.params["arm"]) / 10)
    assert plan is not None and plan.final and not plan.eliminated
    assert len(rows) == 2 * 6


def test_the_same_results_give_the_same_race() -> None:
    s = sweep()
    windows = resolve_windows(s.spec, TODAY)
    rows, plan = drive(s, windows, by_arm)
    assert plan_trials(s.spec, windows, rows) == plan_trials(s.spec, windows, list(rows))
    assert plan_trials(s.spec, windows, rows).eliminated == plan.eliminated  # type: ignore[union-attr]


def test_a_failed_trial_takes_its_configuration_out_of_the_race() -> None:
    s = sweep(arms=4)
    windows = resolve_windows(s.spec, TODAY)
    plan = plan_trials(s.spec, windows, [])
    from tuningsweep.core.planning.outcomes import TrialEnd, trial_row
    rows = [trial_row(s, TrialEnd(t, t.config != "c0000", final={"val_mse": 1.0},
                                  failure="boom")) for t in plan.trials]
    after = plan_trials(s.spec, windows, rows)
    assert "c0000" in after.eliminated and "failed" in after.eliminated["c0000"].reason


@pytest.mark.parametrize(("racing", "windows", "field"), [
    ("{maxWindows: 2}", "{rolling: {count: 3, months: 1}}", "spec.search.racing.maxWindows"),
    ("{alpha: 1.5}", "{rolling: {count: 3, months: 1}}", "spec.search.racing.alpha"),
    ("{maxWindows: 3}", "{ranges: [{start: 2026-01-01, end: 2026-01-31}]}",
     "spec.search.racing.maxWindows"),
])
def test_racing_settings_are_validated(racing: str, windows: str, field: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        sweep(racing=racing, windows=windows)
    assert any(e.path == field for e in caught.value.errors)


def test_known_truth_racing_finds_the_best_as_often_for_much_less() -> None:
    """The fast version of bench/racing_bench.py (its 200-sweep figures are in the docs)."""
    full = simulate(Scenario(racing=""), 60)
    racing = simulate(Scenario(), 60)
    assert racing["cost"] <= 0.62
    assert racing["top1"] >= full["top1"] - 0.02
    assert racing["claims_per_sweep"] > 0 and racing["wrong_claim_share"] <= 0.05
    assert racing["coverage"] >= 0.9
