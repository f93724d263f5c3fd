"""Recurring sweeps in the pure core: schedule slots, reuse keys, warm start, the verdict."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from tests.recurring_truth import RUNS, Scenario, compare, run_recurring
from tuningsweep.core.planning.planner import plan_trials
from tuningsweep.core.planning.windows import resolve_windows
from tuningsweep.core.records.results import ResultRow, parse_csv, render_csv
from tuningsweep.core.records.reuse import (
    ReuseContext,
    ReuseIndex,
    data_fingerprint,
    trainer_identity,
)
from tuningsweep.core.recurring.history import HistoryRow, parse_history, render_history, upsert
from tuningsweep.core.recurring.verdict import judge
from tuningsweep.core.search.warm_start import choose_seeds
from tuningsweep.core.spec.errors import InvalidSpec
from tuningsweep.core.spec.manifest import load_sweeps
from tuningsweep.core.spec.parse import DateWindow, Sweep
from tuningsweep.core.spec.schedule import (
    Schedule,
    ScheduleError,
    end_of_day,
    parse_schedule,
    run_id,
)
from tuningsweep.core.stats.summary import Summary, summarize

UTC = dt.UTC


def sweep_of(extra: str = "", search: str = "algorithm: grid, seed: 3", name: str = "rec",
             ) -> Sweep:
    return load_sweeps(f"""\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {{name: {name}}}
spec:
  architecture: mlp
  schedule: '0 6 1 * *'
  windows: {{rolling: {{count: 3, months: 1}}}}
  search: {{{search}}}
  parameters:
    learning_rate: {{values: [0.001, 0.01, 0.1]}}
    hidden_units: {{values: [16, 64]}}
{extra}""", "rec.yaml")[0]


# -- the schedule ----------------------------------------------------------------------------


def latest(schedule: Schedule, moment: dt.datetime) -> str:
    slot = schedule.latest_at_or_before(moment)
    assert slot is not None
    return run_id(slot)


def test_latest_slot_at_or_before_a_day_names_the_run() -> None:
    monthly = parse_schedule("0 6 1 * *")
    assert latest(monthly, end_of_day(dt.date(2026, 7, 15))) == "2026-07-01"
    # --today on the slot's own day runs that slot, whatever its hour
    assert latest(monthly, end_of_day(dt.date(2026, 7, 1))) == "2026-07-01"
    # a moment before the slot's hour on that day belongs to the previous run
    before = dt.datetime(2026, 7, 1, 5, 59, tzinfo=UTC)
    assert latest(monthly, before) == "2026-06-01"
    assert monthly.next_after(before) == dt.datetime(2026, 7, 1, 6, 0, tzinfo=UTC)


def test_cron_fields_lists_ranges_steps_names_and_either_day_rule() -> None:
    weekdays = parse_schedule("30 2 * * mon-fri")
    saturday = dt.datetime(2026, 12, 5, 12, tzinfo=UTC)
    assert weekdays.next_after(saturday) == dt.datetime(2026, 12, 7, 2, 30, tzinfo=UTC)
    quarterly = parse_schedule("0 0 1 */3 *")
    slots = quarterly.slots_between(dt.datetime(2026, 1, 2, tzinfo=UTC),
                                    dt.datetime(2026, 12, 31, tzinfo=UTC))
    assert [s.month for s in slots] == [4, 7, 10]
    # both day fields restricted: the 15th or any Sunday (cron's rule)
    either = parse_schedule("0 0 15 * 0")
    assert either.fires_on(dt.date(2026, 12, 15)) and either.fires_on(dt.date(2026, 12, 6))
    assert not either.fires_on(dt.date(2026, 12, 7))
    assert parse_schedule("0 0 * * 7").fires_on(dt.date(2026, 12, 6))  # 7 is Sunday too
    leap = parse_schedule("0 0 29 feb *")
    assert latest(leap, end_of_day(dt.date(2027, 6, 1))) == "2024-02-29"


@pytest.mark.parametrize(("expression", "says"), [
    ("0 6 1 *", r"has 4 field\(s\)"),
    ("*/30 6 1 * *", "more than once a day"),
    ("0 6,18 1 * *", "more than once a day"),
    ("0 24 1 * *", "outside 0-23"),
    ("0 6 31 feb *", "never fires"),
    ("0 6 1 foo *", "not a number"),
    ("0 6 5-1 * *", "runs backwards"),
])
def test_bad_schedules_say_what_is_wrong(expression: str, says: str) -> None:
    with pytest.raises(ScheduleError, match=says):
        parse_schedule(expression)


def test_spec_names_the_schedule_field_and_the_fix() -> None:
    with pytest.raises(InvalidSpec) as caught:
        load_sweeps(sweep_yaml := """\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {name: rec}
spec: {architecture: mlp, schedule: '0 */2 1 * *'}
""", "rec.yaml")
    assert sweep_yaml and "spec.schedule" in str(caught.value)
    assert "e.g. '0 6 1 * *'" in str(caught.value)


def test_warm_start_without_a_schedule_is_refused() -> None:
    with pytest.raises(InvalidSpec, match=r"spec.search.warmStart.*add spec.schedule"):
        load_sweeps("""\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {name: once}
spec: {architecture: mlp, search: {warmStart: {}}}
""", "once.yaml")


def test_warm_start_defaults_and_long_recurring_names() -> None:
    spec = sweep_of(search="algorithm: grid, warmStart: {}").spec
    assert spec.warm_start is not None and spec.warm_start.keep == 5 and spec.warm_start.reuse
    assert sweep_of().spec.warm_start is None  # reuse alone needs no warmStart
    with pytest.raises(InvalidSpec, match="at most 52 characters"):
        sweep_of(name="a" * 53)


# -- reuse --------------------------------------------------------------------------------------


def _row(trial: str, window: DateWindow, params: dict[str, float | int | str], value: float,
         status: str = "succeeded", reused_from: str = "") -> ResultRow:
    config, _, wid = trial.rpartition("-")
    return ResultRow("default/rec-x", trial, config, wid, window.start.isoformat(),
                     window.end.isoformat(), status,  # type: ignore[arg-type]
                     params=params, metrics={"val_mse": value}, duration_seconds=100.0,
                     gpu_seconds=100.0, reused_from=reused_from)


JUNE = DateWindow("w0", dt.date(2026, 6, 1), dt.date(2026, 6, 30))
MAY = DateWindow("w1", dt.date(2026, 5, 1), dt.date(2026, 5, 31))


def test_reuse_needs_same_dates_data_trainer_and_params() -> None:
    earlier = ReuseContext("2026-07-01", "trainer-a", {"w0": "june-data", "w1": "may-data"},
                           (JUNE, MAY))
    rows = [_row("c0000-w0", JUNE, {"lr": 0.1}, 0.5), _row("c0000-w1", MAY, {"lr": 0.1}, 0.6),
            _row("c0001-w0", JUNE, {"lr": 0.2}, 0.7, status="failed")]
    index = ReuseIndex([(earlier, rows)])
    june_now = DateWindow("w1", JUNE.start, JUNE.end)  # June is w1 of the August run
    now = ReuseContext("2026-08-01", "trainer-a", {"w1": "june-data"}, (june_now,))
    found = index.find(now, "default/rec-2026-08-01", "c0003-w1", "c0003", june_now,
                       {"lr": 0.1})
    assert found is not None
    assert (found.trial, found.config, found.window, found.reused_from) == (
        "c0003-w1", "c0003", "w1", "2026-07-01")
    assert found.metrics == {"val_mse": 0.5} and found.sweep == "default/rec-2026-08-01"
    # another configuration, a failed trial, new data, another trainer: trained again
    assert index.find(now, "s", "c0004-w1", "c0004", june_now, {"lr": 0.3}) is None
    assert index.find(now, "s", "c0004-w1", "c0004", june_now, {"lr": 0.2}) is None
    late = dataclasses.replace(now, data={"w1": "june-data-with-a-late-partition"})
    assert index.find(late, "s", "c0003-w1", "c0003", june_now, {"lr": 0.1}) is None
    other = dataclasses.replace(now, trainer="trainer-b")
    assert index.find(other, "s", "c0003-w1", "c0003", june_now, {"lr": 0.1}) is None


def test_a_reused_row_keeps_the_run_that_trained_it() -> None:
    july = ReuseContext("2026-07-01", "t", {"w0": "d"}, (JUNE,))
    august = ReuseContext("2026-08-01", "t", {"w0": "d"}, (JUNE,))
    index = ReuseIndex([
        (july, [_row("c0000-w0", JUNE, {"lr": 0.1}, 0.5)]),
        (august, [_row("c0002-w0", JUNE, {"lr": 0.1}, 0.5, reused_from="2026-07-01")]),
    ])
    found = index.find(august, "s", "c0009-w0", "c0009", JUNE, {"lr": 0.1})
    assert found is not None and found.reused_from == "2026-07-01"


def test_reused_from_round_trips_through_results_csv_and_costs_no_budget() -> None:
    from tuningsweep.core.planning.ledger import Ledger

    rows = [_row("c0000-w0", JUNE, {"lr": 0.1}, 0.5),
            _row("c0001-w0", JUNE, {"lr": 0.2}, 0.6, reused_from="2026-07-01")]
    back = parse_csv(render_csv(rows))
    assert [r.reused_from for r in back] == ["", "2026-07-01"]
    assert Ledger(back).gpu_seconds == 100.0  # the reused trial cost this run nothing


def test_fingerprints_and_trainer_identity_change_with_what_they_cover() -> None:
    listing = [("date=2026-06-01/a.csv", 10, 1), ("date=2026-06-02/a.csv", 12, 1)]
    assert data_fingerprint(listing) == data_fingerprint(list(reversed(listing)))
    assert data_fingerprint(listing) != data_fingerprint([*listing[:1], ("x", 13, 1)])
    spec = sweep_of().spec
    assert trainer_identity(spec, ["train"]) != trainer_identity(spec, ["train", "--v2"])
    env = dataclasses.replace(spec, trainer=dataclasses.replace(spec.trainer, env=(("A", "1"),)))
    assert trainer_identity(spec, ["train"]) != trainer_identity(env, ["train"])


# -- warm start ---------------------------------------------------------------------------------


def test_seeds_put_the_champion_first_and_stay_inside_the_space() -> None:
    spec = sweep_of(search="algorithm: grid, warmStart: {keep: 3}").spec
    champion = {"learning_rate": 0.1, "hidden_units": 16}
    ranking = [{"learning_rate": 0.01, "hidden_units": 64}, champion,
               {"learning_rate": 0.5, "hidden_units": 64},  # no longer in the space
               {"learning_rate": 0.001, "hidden_units": 64}]
    seeds = choose_seeds(champion, ranking, [], 3, spec.parameters)
    assert seeds == (champion, ranking[0], ranking[3])


@pytest.mark.parametrize("search", [
    "algorithm: grid, seed: 3, maxConfigs: 4",
    "algorithm: random, seed: 3, maxConfigs: 4",
    "algorithm: grid, seed: 3, racing: {}",
])
def test_seeds_enter_the_plan_first_within_max_configs(search: str) -> None:
    spec = sweep_of(search=search).spec
    windows = resolve_windows(spec, dt.date(2026, 8, 1))
    seeds = ({"learning_rate": 0.1, "hidden_units": 16},
             {"learning_rate": 0.01, "hidden_units": 64})
    without = plan_trials(spec, windows)
    plan = plan_trials(dataclasses.replace(spec, seeds=seeds), windows)
    assert plan.configs == without.configs
    params = {t.config: dict(t.params) for t in plan.trials}
    assert params["c0000"] == seeds[0] and params["c0001"] == seeds[1]
    assert len({tuple(sorted(p.items())) for p in params.values()}) == len(params)


def test_tpe_asks_after_the_seeds_and_learns_from_earlier_runs() -> None:
    spec = sweep_of(search="algorithm: tpe, seed: 3, maxConfigs: 5, batchSize: 2, "
                           "warmStart: {}").spec
    windows = resolve_windows(spec, dt.date(2026, 8, 1))
    seeds = ({"learning_rate": 0.1, "hidden_units": 16},)
    seeded = dataclasses.replace(spec, seeds=seeds)
    first = plan_trials(seeded, windows)
    assert not first.final and {t.config for t in first.trials} == {"c0000"}
    rows = [ResultRow("s", t.id, t.config, t.window.id, t.window.start.isoformat(),
                      t.window.end.isoformat(), "succeeded", params=t.params,
                      metrics={"val_mse": 1.0}) for t in first.trials]
    asked = plan_trials(seeded, windows, rows)
    assert {t.config for t in asked.trials} == {"c0000", "c0001", "c0002"}
    prior = tuple(dataclasses.replace(r, config=f"2026-07-01/{r.config}",
                                      window=f"{r.window_start}..{r.window_end}",
                                      params={"learning_rate": 0.001, "hidden_units": 64},
                                      metrics={"val_mse": 0.01}) for r in rows)
    learned = plan_trials(dataclasses.replace(seeded, prior=prior), windows, rows)
    assert learned.trials[:3] == asked.trials[:3]  # the seed is the same ...
    assert learned != asked  # ... and what tpe asks next follows the earlier run's results


# -- the verdict --------------------------------------------------------------------------------


def _summary(values: dict[str, list[float]]) -> Summary:
    rows = []
    for arm, per_window in values.items():
        for w, value in enumerate(per_window):
            rows.append(ResultRow("s", f"{arm}-w{w}", arm, f"w{w}", "", "", "succeeded",
                                  params={"arm": int(arm[1:])}, metrics={"m": value}))
    return summarize(rows, "m", "minimize")


NOISE = [0.001, -0.002, 0.0015, 0.0, -0.001, 0.002]
OTHERS = {f"c{i}": [0.2 + 0.01 * i + n for n in NOISE] for i in range(2, 8)}


def test_a_winner_within_noise_keeps_the_champion() -> None:
    summary = _summary({"c0": [0.1 + n for n in NOISE],
                        "c1": [0.0995 + n for n in reversed(NOISE)], **OTHERS})
    verdict = judge(summary, {"arm": 0})
    assert summary.best == "c1" and verdict.kind == "keep" and not verdict.changed
    assert verdict.champion == {"arm": 0} and verdict.p_value is not None
    assert verdict.p_value >= 0.05 and verdict.ci is not None
    assert verdict.ci[0] < verdict.difference < verdict.ci[1]  # type: ignore[operator]
    assert verdict.text.startswith("keep the champion c0: the winner c1 differs by -0.0005")


def test_a_clearly_better_winner_is_a_new_winner() -> None:
    summary = _summary({"c0": [0.1 + n for n in NOISE],
                        "c1": [0.05 + n for n in reversed(NOISE)], **OTHERS})
    verdict = judge(summary, {"arm": 0})
    assert verdict.kind == "new" and verdict.changed and verdict.significant
    assert verdict.champion == {"arm": 1} and verdict.p_value is not None
    assert verdict.p_value < 0.05 and verdict.ci is not None and verdict.ci[1] < 0
    assert verdict.text.startswith("new winner: c1 beats the champion c0 by -0.05")


def test_no_change_is_claimed_on_a_test_that_finds_the_winner_behind() -> None:
    """The winner's lead is one trial the robust test leaves out (an outlier both ways);
    on the windows that remain the champion is ahead: the verdict must not call the
    winner significantly better (a two-sided p-value of the other direction once did)."""
    shift = [0.0, 0.05, -0.03]
    noise = [[0.001, -0.002, 0.0015], [-0.001, 0.002, 0.0], [0.0005, 0.001, -0.0015]]
    values = {f"c{i}": [0.3 + 0.01 * i + shift[w] + noise[i % 3][w] for w in range(3)]
              for i in range(12)}
    values["c6"] = [0.3 + shift[0] - 0.135, 0.3 + shift[1] + 0.066, 0.3 + shift[2] + 0.062]
    summary = _summary(values)
    assert summary.best == "c6" and summary.test is not None
    assert [(t.config, t.window) for t in summary.test.outliers] == [("c6", "w0")]
    verdict = judge(summary, {"arm": 0})
    assert verdict.difference is not None and verdict.difference < 0  # ahead on the mean
    assert verdict.kind == "keep" and not verdict.significant and not verdict.changed


def test_a_maximised_metric_is_tested_in_its_own_direction() -> None:
    base = {"c0": [0.1 + n for n in NOISE], "c1": [0.05 + n for n in reversed(NOISE)],
            **OTHERS}
    rows = []
    for arm, per_window in base.items():
        for w, value in enumerate(per_window):
            rows.append(ResultRow("s", f"{arm}-w{w}", arm, f"w{w}", "", "", "succeeded",
                                  params={"arm": int(arm[1:])}, metrics={"auc": 1.0 - value}))
    summary = summarize(rows, "auc", "maximize")
    verdict = judge(summary, {"arm": 0})
    assert summary.best == "c1" and verdict.kind == "new" and verdict.significant
    assert verdict.difference is not None and verdict.difference > 0


def test_the_champion_left_the_race_when_absent_or_failed() -> None:
    summary = _summary({"c1": [0.1, 0.2], "c2": [0.3, 0.4]})
    gone = judge(summary, {"arm": 9})
    assert gone.kind == "left" and gone.changed and gone.champion == {"arm": 1}
    assert "not among this run's configurations" in gone.text
    failed = summarize([
        ResultRow("s", "c0-w0", "c0", "w0", "", "", "failed", params={"arm": 0}, error="x"),
        ResultRow("s", "c0-w1", "c0", "w1", "", "", "succeeded", params={"arm": 0},
                  metrics={"m": 0.0}),
        ResultRow("s", "c1-w0", "c1", "w0", "", "", "succeeded", params={"arm": 1},
                  metrics={"m": 0.5}),
        ResultRow("s", "c1-w1", "c1", "w1", "", "", "succeeded", params={"arm": 1},
                  metrics={"m": 0.5})], "m", "minimize")
    verdict = judge(failed, {"arm": 0})
    assert verdict.kind == "left" and "1 of its trials failed" in verdict.text
    assert judge(summary, None).kind == "first"


def test_history_rows_round_trip_and_a_rerun_replaces_its_row() -> None:
    row = HistoryRow("2026-07-01", ("2026-06-01..2026-06-30",), "c0001", {"lr": 0.01},
                     0.25, "new", True, True, 0.003, -0.02, (-0.03, -0.01), {"lr": 0.01},
                     12, 24, 3600.0, 7200.0, "new winner: c0001 beats the champion c0000")
    assert parse_history(render_history([row])) == [row]
    again = dataclasses.replace(row, trained=13)
    assert upsert([row], again) == [again]


# -- against a known truth ----------------------------------------------------------------------


def test_recurring_runs_train_a_third_and_report_the_real_change() -> None:
    """The issue's targets on a few replicates (bench/recurring_bench.py: many)."""
    figures = compare(Scenario(), replicates=6)
    new, recurring = figures["new_each_month"], figures["recurring"]
    assert recurring.trained_later <= new.trained_later / 2
    assert recurring.picks_best >= new.picks_best - 0.05
    assert recurring.false_changes <= 0.05
    assert recurring.reported_by[2] == 1.0


def test_a_run_reuses_the_overlapping_windows_of_the_last() -> None:
    runs = run_recurring(Scenario(), 1)
    assert len(runs) == RUNS
    assert runs[0].trained == 36 and runs[0].reused == 0
    assert all(r.trained == 12 and r.reused == 24 for r in runs[1:])
