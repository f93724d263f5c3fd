"""TPE: configurations replayed from the results, the same after any restart."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from tests.core_driver import drive
from tuningsweep.core.planning import planner
from tuningsweep.core.planning.outcomes import TrialEnd, trial_row
from tuningsweep.core.planning.planner import plan_trials
from tuningsweep.core.planning.windows import resolve_windows
from tuningsweep.core.records.results import ResultRow, parse_csv, render_csv
from tuningsweep.core.search import tpe as search_tpe
from tuningsweep.core.search.tpe import config_levels
from tuningsweep.core.spec.manifest import load_sweeps
from tuningsweep.core.spec.parse import ParamValue, Spec, Sweep

TODAY = dt.date(2026, 11, 30)
MANIFEST = """\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {{name: t, namespace: b}}
spec:
  architecture: mlp
  windows: {{rolling: {{count: 2, months: 1}}}}
  search: {{algorithm: tpe, seed: 5, maxConfigs: 16, batchSize: 4{racing}}}
  parameters:
    learning_rate: {{min: 0.0001, max: 0.1, scale: log}}
    num_layers: {{min: 1, max: 4, type: int}}
    activation: {{values: [relu, tanh]}}
  parallelism: 4
"""


def sweep(racing: str = "") -> Sweep:
    return load_sweeps(MANIFEST.format(racing=racing), "t.yaml")[0]


def value(params: dict[str, object], trial: str) -> float:
    lr = float(params["learning_rate"])  # type: ignore[arg-type]
    return abs(lr - 0.01) * 10 + random.Random(trial).gauss(0, 0.01)


def run(s: Sweep, restart_after: int | None = None) -> list[ResultRow]:
    """The sweep to its end; optionally forgetting every cached batch midway."""
    restarted = []

    def restart(rows: list[ResultRow]) -> bool:
        if restart_after is None or restarted or len(rows) < restart_after:
            return False
        search_tpe._CACHE.clear()  # a new process: nothing remembered
        restarted.append(len(rows))
        return True

    rows, _ = drive(s, resolve_windows(s.spec, TODAY), lambda t: value(dict(t.params), t.id),
                    before_each=restart)
    return rows


def test_same_results_give_the_same_configurations_after_a_restart() -> None:
    search_tpe._CACHE.clear()
    first = run(sweep())
    search_tpe._CACHE.clear()
    again = run(sweep(), restart_after=13)
    assert [(r.trial, dict(r.params)) for r in first] == [
        (r.trial, dict(r.params)) for r in again]
    assert len({r.config for r in first}) == 16


def test_a_batch_is_asked_only_once_the_earlier_ones_have_results() -> None:
    s = sweep()
    windows = resolve_windows(s.spec, TODAY)
    plan = plan_trials(s.spec, windows, [])
    assert plan.configs == 4 and not plan.final  # batchSize, then wait for results
    params = {t.config: tuple(sorted(t.params.items())) for t in plan.trials}
    assert len(set(params.values())) == 4  # no duplicates within a batch


def test_later_batches_follow_the_results() -> None:
    s = sweep()
    windows = resolve_windows(s.spec, TODAY)
    # The same sweep told two opposite stories: low learning rates are best, or high.
    # The first 8 configurations are the sampler's random start-up, the same in both.
    told = {}
    for story, sign in (("low", 1.0), ("high", -1.0)):
        rows: list[ResultRow] = []
        plan = plan_trials(s.spec, windows, rows)
        while plan.configs < 12:
            done = {r.trial for r in rows}
            rows += [trial_row(s, TrialEnd(t, True, final={"val_mse": sign * float(
                t.params["learning_rate"])})) for t in plan.trials  # type: ignore[arg-type]
                if t.id not in done]
            plan = plan_trials(s.spec, windows, rows)
        told[story] = sorted(float(t.params["learning_rate"])  # type: ignore[arg-type]
                             for t in plan.trials if t.config >= "c0008")
    assert told["low"][:4] != told["high"][:4]
    assert told["low"][len(told["low"]) // 2] < told["high"][len(told["high"]) // 2]


def test_with_racing_each_batch_joins_the_race_and_replays_the_same() -> None:
    s = sweep(racing=", racing: {}")
    search_tpe._CACHE.clear()
    first = run(s)
    search_tpe._CACHE.clear()
    again = run(s, restart_after=9)
    assert [(r.trial, dict(r.params)) for r in first] == [
        (r.trial, dict(r.params)) for r in again]
    assert len(first) < 16 * 2 + 16  # racing ran fewer than everything everywhere


def test_levels_take_window_shifts_out() -> None:
    # b ran only on the hard window w1: its raw mean (5.2) looks worse than a's (3.0),
    # but on w1 it is 0.8 better than a.
    levels = config_levels({("a", "w0"): 1.0, ("a", "w1"): 5.0, ("b", "w1"): 4.2,
                            ("c", "w0"): 2.0, ("c", "w1"): 6.0})
    assert levels["b"] < levels["a"] < levels["c"]


def test_a_restart_asks_only_the_batch_not_fully_run_and_plans_the_same(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A cold replay asked every batch again (over half a second per configuration at
    # 1,000 results); batches whose configurations all ran are read from their rows.
    s = sweep()
    windows = resolve_windows(s.spec, TODAY)
    search_tpe._CACHE.clear()
    rows = run(s)
    asked: list[int] = []
    ask = search_tpe.ask_batch

    def counting(spec: Spec, batch: int, *args: Any) -> list[dict[str, ParamValue]]:
        asked.append(batch)
        return ask(spec, batch, *args)

    monkeypatch.setattr(search_tpe, "ask_batch", counting)
    for finished in (9, 13, 20, len(rows)):
        read_back = parse_csv(render_csv(rows[:finished]))  # as a restarted executor has them
        search_tpe._CACHE.clear()
        asked.clear()
        plan = plan_trials(s.spec, windows, read_back)
        assert len(asked) <= 1, asked  # at most the batch still running
        with monkeypatch.context() as m:  # every batch asked again, as before
            m.setattr(search_tpe, "recorded_batch", lambda *a: None)
            m.setattr(planner, "recorded_batch", lambda *a: None)
            search_tpe._CACHE.clear()
            again = plan_trials(s.spec, windows, read_back)
        assert [(t.id, dict(t.params)) for t in plan.trials] == [
            (t.id, dict(t.params)) for t in again.trials]


@pytest.mark.parametrize("choices", ["[true, false]", "[1e-3, 1e-4]", "['1', 1]",
                                     "['', 'x']"])
def test_categorical_choices_read_back_from_results_plan_as_asked(
        choices: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # results.csv reads true back as 1 and the string "1e-3" (YAML's reading of 1e-3) as
    # 0.001; "1" and 1 read back alike and "" not at all: the resumed plan must hold the
    # spec's choices, or ask the batch again where it cannot tell.
    s = load_sweeps(MANIFEST.format(racing="").replace(
        "activation: {values: [relu, tanh]}", f"choice: {{values: {choices}}}"), "t.yaml")[0]
    windows = resolve_windows(s.spec, TODAY)
    search_tpe._CACHE.clear()
    rows = run(s)
    for finished in (12, 20):
        search_tpe._CACHE.clear()
        plan = plan_trials(s.spec, windows, parse_csv(render_csv(rows[:finished])))
        with monkeypatch.context() as m:  # every batch asked again, as before
            m.setattr(planner, "recorded_batch", lambda *a: None)
            search_tpe._CACHE.clear()
            asked = plan_trials(s.spec, windows, rows[:finished])
        assert [(t.id, repr(sorted(t.params.items()))) for t in plan.trials] == [
            (t.id, repr(sorted(t.params.items()))) for t in asked.trials]
