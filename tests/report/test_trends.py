"""Trends and importance against values computed by hand."""

from __future__ import annotations

import math

import pytest

from tuningsweep.core.records.results import ParamValue
from tuningsweep.core.stats.summary import summarize
from tuningsweep.core.stats.trends import compute_trends, trends_from_summary

from .synthetic import FAIL, Cell, rows_from_table

# Four configurations, a 2 x 2 grid; objective (mean over windows) by hand:
#   lr=0.1 : u=64 -> 1, u=128 -> 2      ranks 1, 2, 3, 4: grand mean 2.5, total SS 5
#   lr=0.01: u=64 -> 3, u=128 -> 6
# Importance is on the ranks:
# lr groups: mean ranks 1.5 / 3.5 -> between SS = 2*1^2 + 2*1^2 = 4    -> importance 4/5
# u groups : mean ranks 2 / 3     -> between SS = 2*0.5^2 + 2*0.5^2 = 1 -> importance 1/5
GRID: list[tuple[dict[str, ParamValue], float]] = [
    ({"lr": 0.1, "u": 64}, 1.0),
    ({"lr": 0.1, "u": 128}, 2.0),
    ({"lr": 0.01, "u": 64}, 3.0),
    ({"lr": 0.01, "u": 128}, 6.0),
]


def test_levels_and_importance_match_hand_computation() -> None:
    t = compute_trends(GRID, "minimize")
    assert [p.name for p in t.parameters] == ["lr", "u"]  # most important first
    lr = t.parameter("lr")
    assert lr.importance == pytest.approx(4 / 5)
    assert t.parameter("u").importance == pytest.approx(1 / 5)
    assert [(lv.value, lv.mean, lv.count) for lv in lr.levels] == [(0.01, 4.5, 2), (0.1, 1.5, 2)]
    assert [lv.median for lv in lr.levels] == [4.5, 1.5]
    assert lr.levels[0].std == pytest.approx(math.sqrt(4.5))
    assert lr.best_value == 0.1 and t.parameter("u").best_value == 64
    assert not lr.binned


def test_best_value_follows_the_goal() -> None:
    t = compute_trends(GRID, "maximize")
    assert t.parameter("lr").best_value == 0.01 and t.parameter("u").best_value == 128


def test_interaction_of_the_two_most_important() -> None:
    interaction = compute_trends(GRID, "minimize").interaction
    assert interaction is not None
    assert interaction.params == ("lr", "u")
    assert interaction.row_values == (0.01, 0.1) and interaction.column_values == (64, 128)
    assert interaction.means == ((3.0, 6.0), (1.0, 2.0))
    assert interaction.counts == ((1, 1), (1, 1))


def test_continuous_parameters_get_quantile_bins() -> None:
    # 20 distinct values 0..19 with objective = value: quantile edges 0, 3.8, 7.6, 11.4,
    # 15.2, 19 -> five bins of four values, means 1.5, 5.5, 9.5, 13.5, 17.5.
    # Total SS = sum((v - 9.5)^2) = 665; between SS = 4 * (64 + 16 + 0 + 16 + 64) = 640.
    points = [({"dropout": float(v)}, float(v)) for v in range(20)]
    trend = compute_trends(points, "minimize").parameter("dropout")
    assert trend.binned
    assert [lv.count for lv in trend.levels] == [4, 4, 4, 4, 4]
    assert [lv.mean for lv in trend.levels] == pytest.approx([1.5, 5.5, 9.5, 13.5, 17.5])
    assert trend.levels[0].value == "[0, 3.8)" and trend.levels[-1].value == "[15.2, 19]"
    assert (trend.levels[1].low, trend.levels[1].high) == pytest.approx((3.8, 7.6))
    assert trend.importance == pytest.approx(640 / 665)
    assert trend.best_value == "[0, 3.8)"


def test_ten_distinct_values_are_not_binned() -> None:
    points = [({"units": v}, float(v)) for v in range(10)]
    assert not compute_trends(points, "minimize").parameter("units").binned


def test_strings_single_levels_and_missing_parameters() -> None:
    points: list[tuple[dict[str, ParamValue], float]] = [
        ({"opt": "adam", "fixed": 1, "extra": 5}, 1.0),
        ({"opt": "sgd", "fixed": 1}, 3.0),
        ({"opt": "adam", "fixed": 1}, 1.0),
    ]
    t = compute_trends(points, "minimize")
    opt = t.parameter("opt")
    assert [lv.value for lv in opt.levels] == ["adam", "sgd"] and opt.importance == 1.0
    assert opt.best_value == "adam"
    fixed = t.parameter("fixed")
    assert fixed.importance == 0.0 and fixed.best_value is None
    assert t.parameter("extra").levels[0].count == 1
    assert t.interaction is None  # only one parameter varies


def test_equal_objectives_have_zero_importance() -> None:
    t = compute_trends([({"a": 1}, 2.0), ({"a": 2}, 2.0)], "minimize")
    assert t.parameter("a").importance == 0.0


def test_an_outlying_configuration_does_not_move_the_best_value() -> None:
    # The issue: one diverged configuration (a=1, b=1) pulled the means of a=1 and b=1
    # up, so the markers pointed away from the winner (a=1, b=1 otherwise best).
    points: list[tuple[dict[str, ParamValue], float]] = [
        ({"a": 1, "b": 1}, 10.0), ({"a": 1, "b": 1}, 200.0), ({"a": 1, "b": 2}, 12.0),
        ({"a": 2, "b": 1}, 13.0), ({"a": 2, "b": 2}, 14.0), ({"a": 1, "b": 2}, 11.5),
        ({"a": 2, "b": 1}, 13.5), ({"a": 2, "b": 2}, 14.5),
    ]
    t = compute_trends(points, "minimize")
    a = t.parameter("a")
    assert a.levels[0].mean > a.levels[1].mean  # the mean alone would pick a=2
    assert a.best_value == 1 and a.levels[0].median == pytest.approx(11.75)


def test_trends_from_summary_count_every_configuration_on_its_windows() -> None:
    # c03 failed on the hard window w1: its mean (0.1) would look best, its mean
    # adjusted for the windows it ran does not. Shifts from c01, c02: w0 -1, w1 +1
    # -> c03 scores 0.1 + 1 = 1.1 on the scale of the complete configurations' means.
    table: dict[str, list[Cell]] = {"c01": [1.0, 3.0], "c02": [1.0, 3.2], "c03": [0.1, FAIL]}
    params: dict[str, dict[str, ParamValue]] = {"c01": {"a": 1}, "c02": {"a": 2}, "c03": {"a": 3}}
    t = trends_from_summary(summarize(rows_from_table(table, params), "val_mse", "minimize"))
    assert t.basis == "adjusted" and t.n_configs == 3
    levels = {lv.value: lv.mean for lv in t.parameter("a").levels}
    assert levels[1] == pytest.approx(2.0) and levels[2] == pytest.approx(2.1)
    assert levels[3] == pytest.approx(1.1, abs=0.06)
    complete = trends_from_summary(summarize(
        rows_from_table({"c01": [1.0, 3.0], "c02": [2.0, 2.0]}), "val_mse", "minimize"))
    assert complete.basis == "complete" and complete.n_configs == 2
    partial = trends_from_summary(summarize(
        rows_from_table({"c01": [1.0, None], "c02": [None, 2.0]}), "val_mse", "minimize",
    ))
    assert partial.basis == "all" and partial.n_configs == 2


def test_racings_eliminated_configurations_count_on_the_windows_they_ran() -> None:
    # The issue: trends over the 2 survivors said "hidden_units explains 100%,
    # learning_rate 0%" although racing had dropped every learning rate of 0.003 after
    # the first window. Here lr=0.003 is far behind on w0, the one window it ran.
    table: dict[str, list[Cell]] = {
        "c01": [1.0, 2.0, 3.0], "c02": [1.2, 2.1, 3.3],
        "c03": [5.0, None, None], "c04": [5.5, None, None],
    }
    params: dict[str, dict[str, ParamValue]] = {
        "c01": {"lr": 0.001, "units": 16}, "c02": {"lr": 0.001, "units": 64},
        "c03": {"lr": 0.003, "units": 16}, "c04": {"lr": 0.003, "units": 64},
    }
    eliminated = {"c03": ("w0", "rank 3 of 4"), "c04": ("w0", "rank 4 of 4")}
    summary = summarize(rows_from_table(table, params), "val_mse", "minimize",
                        eliminated=eliminated)
    t = trends_from_summary(summary)
    assert t.n_configs == 4 and t.basis == "adjusted"
    lr = t.parameter("lr")
    # Ranks 1, 2 (lr 0.001) and 3, 4 (lr 0.003): the most a 2 x 2 split can explain.
    assert lr.best_value == 0.001 and lr.importance == pytest.approx(0.8)
    assert t.parameter("units").importance == pytest.approx(0.2)
    # c03 scores its w0 value moved to the level of the average window: 5 + (2.1 - 1.1).
    assert lr.levels[1].mean == pytest.approx(6.25, abs=0.01)
