"""Trends and importance against values computed by hand."""

from __future__ import annotations

import math

import pytest

from tuningsweep.core.records.results import ParamValue
from tuningsweep.core.stats.summary import summarize
from tuningsweep.core.stats.trends import compute_trends, trends_from_summary

from .synthetic import FAIL, Cell, rows_from_table

# Four configurations, a 2 x 2 grid; objective (mean over windows) by hand:
#   lr=0.1 : u=64 -> 1, u=128 -> 2      grand mean 3, total SS = 4 + 1 + 0 + 9 = 14
#   lr=0.01: u=64 -> 3, u=128 -> 6
# lr groups: means 1.5 / 4.5 -> between SS = 2*1.5^2 + 2*1.5^2 = 9 -> importance 9/14
# u groups : means 2 / 4     -> between SS = 2*1^2 + 2*1^2 = 4     -> importance 4/14
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
    assert lr.importance == pytest.approx(9 / 14)
    assert t.parameter("u").importance == pytest.approx(4 / 14)
    assert [(lv.value, lv.mean, lv.count) for lv in lr.levels] == [(0.01, 4.5, 2), (0.1, 1.5, 2)]
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


def test_trends_from_summary_use_complete_configurations() -> None:
    table: dict[str, list[Cell]] = {"c01": [1.0, 3.0], "c02": [2.0, 2.0], "c03": [0.1, FAIL]}
    params: dict[str, dict[str, ParamValue]] = {"c01": {"a": 1}, "c02": {"a": 2}, "c03": {"a": 3}}
    t = trends_from_summary(summarize(rows_from_table(table, params), "val_mse", "minimize"))
    assert t.basis == "complete" and t.n_configs == 2
    assert [lv.value for lv in t.parameter("a").levels] == [1, 2]
    partial = trends_from_summary(summarize(
        rows_from_table({"c01": [1.0, None], "c02": [None, 2.0]}), "val_mse", "minimize",
    ))
    assert partial.basis == "all" and partial.n_configs == 2
