"""summarize / summary_csv on synthetic sweeps whose right answer is known by construction."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Mapping, Sequence

import pytest

from tuningsweep.core.stats.summary import Summary, summarize, summary_csv

from .synthetic import FAIL, Cell, large_sweep, rows_from_table

# Three windows, minimised. c01 is best in every window; c04 has the best single value
# (w0) but failed in w1 and never ran w2; c05 failed everywhere.
WINNER: dict[str, list[Cell]] = {
    "c01": [0.90, 0.95, 0.92],
    "c02": [1.00, 1.05, 1.01],
    "c03": [1.10, 1.20, 1.15],
    "c04": [0.50, FAIL, None],
    "c05": [FAIL, FAIL, FAIL],
}
# c02 has the best mean only thanks to one outlier window; c01 wins the other two.
OUTLIER: dict[str, list[Cell]] = {
    "c01": [1.00, 1.00, 1.00],
    "c02": [1.10, 1.10, 0.50],
    "c03": [1.20, 1.20, 1.20],
}
TIES: dict[str, list[Cell]] = {
    "c01": [1.0, 2.0, 3.0],
    "c02": [1.0, 2.0, 3.0],
    "c03": [1.5, 2.5, 3.5],
}


# Columns added after the first release of summary.csv (old ones keep their place).
NEW_COLUMNS = [
    "significant", "p_value_unadjusted", "sign_test_p_vs_best", "windows_compared",
    "simultaneous_ci_low", "simultaneous_ci_high", "windows_run", "status", "eliminated_at",
    "elimination_reason",
]


def summary_of(table: Mapping[str, Sequence[Cell]], goal: str = "minimize",
               windows: list[str] | None = None) -> Summary:
    return summarize(rows_from_table(table), "val_mse", goal, windows)


def test_consistent_winner_wins_all_windows() -> None:
    s = summary_of({c: WINNER[c] for c in ("c01", "c02", "c03")})
    assert s.windows == ("w0", "w1", "w2")
    assert s.best == "c01" and s.runner_up == "c02"
    best = s.config("c01")
    assert best.ranks == {"w0": 1.0, "w1": 1.0, "w2": 1.0}
    assert best.windows_won == 3 and best.wins_all_windows and best.complete
    assert best.mean == pytest.approx((0.90 + 0.95 + 0.92) / 3)
    assert best.std == pytest.approx(0.025166114784235836)
    # The best is compared with its closest contender, the runner-up: better in all 3
    # windows, and significantly better than both others (the noise left after the
    # window shifts is small next to the differences).
    comp = best.comparison
    assert comp is not None and comp.reference == "c02"
    assert comp.significant and comp.p_value is not None and comp.p_value < 0.05
    assert comp.p_value == s.config("c02").p_value_vs_best
    assert (comp.wins, comp.losses, comp.ties) == (3, 0, 0)
    assert comp.sign_test_p == pytest.approx(0.25)
    assert comp.wilcoxon_p == pytest.approx(0.25)
    assert comp.low_power and comp.min_attainable_p == pytest.approx(0.25)
    assert comp.mean_difference == pytest.approx(-(0.10 + 0.10 + 0.09) / 3)
    assert comp.ci_low is not None and comp.ci_high is not None
    assert comp.ci_low <= comp.mean_difference <= comp.ci_high < 0


def test_others_are_compared_with_the_best() -> None:
    s = summary_of(WINNER)
    c02, c03 = s.config("c02"), s.config("c03")
    assert c02.ranks == {"w0": 2.0, "w1": 2.0, "w2": 2.0}
    assert c03.ranks == {"w0": 3.0, "w1": 3.0, "w2": 3.0}
    assert c02.comparison is not None and c02.comparison.reference == "c01"
    assert c02.comparison.losses == 3 and c02.comparison.sign_test_p == pytest.approx(0.25)
    # Corrected for the 6 pairs of the 4 configurations with results.
    assert s.test is not None and s.test.n_hypotheses == 6 and s.test.df == 4
    assert c02.comparison.p_unadjusted is not None
    assert c02.p_value_vs_best == pytest.approx(6 * c02.comparison.p_unadjusted)
    assert c02.comparison.significant and c03.comparison is not None
    assert c03.comparison.significant
    assert c03.windows_won == 0 and not c03.wins_all_windows


def test_an_incomplete_config_better_where_it_ran_blocks_the_claim_for_the_best() -> None:
    s = summary_of(WINNER)
    comp = s.config("c01").comparison
    # c04 beat c01 in w0, its only window: c01 cannot be called better than everyone.
    assert comp is not None and comp.reference == "c04" and comp.p_value == 1.0
    assert not comp.significant and comp.mean_difference == pytest.approx(0.4)


def test_incomplete_configs_are_flagged_never_best_and_never_displace() -> None:
    s = summary_of(WINNER)
    c04, c05 = s.config("c04"), s.config("c05")
    assert not c04.complete and not c05.complete
    assert c04.missing_windows == ("w1", "w2") and c04.n_failed == 1
    # Its w0 value beats everyone, yet it is not best and c01 keeps its w0 win.
    assert c04.mean == pytest.approx(0.50)
    assert s.best == "c01" and s.config("c01").ranks["w0"] == 1.0
    assert c04.ranks == {"w0": 1.0}  # where it would place among the complete ones
    assert not c04.wins_all_windows
    # Leaderboard: complete ones first by mean, then incomplete, then no value at all.
    assert [c.config for c in s.configs] == ["c01", "c02", "c03", "c04", "c05"]
    assert c05.mean is None and c05.std is None and c05.ranks == {} and c05.n_failed == 3
    assert c05.comparison is None
    # c04 is compared on its single common window: no interval of its own, but the
    # sweep's noise still gives a test; it is better there, so never "worse than best".
    assert c04.comparison is not None and c04.comparison.n_pairs == 1
    assert c04.comparison.ci_low is None and c04.p_value_vs_best is not None
    assert not c04.comparison.significant


def test_failed_trials_are_counted_and_excluded() -> None:
    s = summary_of(WINNER)
    assert s.n_trials == 14 and s.n_failed == 4
    assert s.n_complete == 3


def test_outlier_mean_does_not_win_all_windows_and_is_not_significant() -> None:
    s = summary_of(OUTLIER)
    assert s.best == "c02"  # best mean, from one window
    outlier, steady = s.config("c02"), s.config("c01")
    assert outlier.mean == pytest.approx(0.9)
    assert outlier.windows_won == 1 and not outlier.wins_all_windows
    assert steady.windows_won == 2 and not steady.wins_all_windows
    assert steady.ranks == {"w0": 1.0, "w1": 1.0, "w2": 2.0}
    comp = steady.comparison
    assert comp is not None and comp.reference == "c02"
    assert (comp.wins, comp.losses) == (2, 1)
    assert comp.sign_test_p == 1.0
    assert comp.wilcoxon_p == 1.0
    assert comp.ci_low is not None and comp.ci_high is not None
    assert comp.ci_low < 0 < comp.ci_high
    assert not comp.significant and comp.p_value is not None and comp.p_value > 0.05


def test_ties_share_average_ranks_and_are_not_wins() -> None:
    s = summary_of(TIES)
    for config in ("c01", "c02"):
        c = s.config(config)
        assert c.ranks == {"w0": 1.5, "w1": 1.5, "w2": 1.5}
        assert c.windows_won == 0 and not c.wins_all_windows
    assert s.config("c03").ranks == {"w0": 3.0, "w1": 3.0, "w2": 3.0}
    assert s.best == "c01" and s.runner_up == "c02"  # equal means: ties broken by id
    comp = s.config("c01").comparison
    assert comp is not None and comp.ties == 3 and comp.sign_test_p == 1.0
    assert comp.wilcoxon_p == 1.0 and comp.mean_difference == 0.0


def test_maximize_reverses_the_order() -> None:
    s = summary_of(WINNER, goal="maximize")
    assert s.best == "c03"
    assert s.config("c03").wins_all_windows
    assert s.config("c01").ranks == {"w0": 3.0, "w1": 3.0, "w2": 3.0}
    assert s.config("c04").ranks == {"w0": 4.0}


def test_many_windows_give_a_significant_result() -> None:
    table: dict[str, list[Cell]] = {
        "c01": [1.0 + 0.01 * w for w in range(8)],
        "c02": [1.1 + 0.02 * w for w in range(8)],
    }
    s = summary_of(table)
    comp = s.config("c02").comparison
    assert comp is not None and not comp.low_power
    assert comp.sign_test_p == pytest.approx(2 / 2**8)
    assert comp.wilcoxon_p == pytest.approx(2 / 2**8)


def test_pinned_windows_without_results_make_everything_incomplete() -> None:
    s = summary_of(OUTLIER, windows=["w0", "w1", "w2", "w3"])
    assert s.windows == ("w0", "w1", "w2", "w3")
    assert s.best is None and s.n_complete == 0
    assert all(c.comparison is None and c.p_value_vs_best is None for c in s.configs)
    # With no complete configuration yet, ranks compare everyone with a value.
    assert s.config("c01").ranks == {"w0": 1.0, "w1": 1.0, "w2": 2.0}
    assert s.config("c01").missing_windows == ("w3",)


def test_single_window_has_no_std_and_no_ci() -> None:
    s = summary_of({"c01": [1.0], "c02": [2.0]})
    assert s.config("c01").std is None
    comp = s.config("c01").comparison
    assert comp is not None and comp.ci_low is None and comp.sign_test_p == 1.0
    # No noise left to estimate with one window: no test, and no claim.
    assert s.test is None and comp.p_value is None and not comp.significant


def test_windows_sort_naturally_and_come_from_trial_ids() -> None:
    rows = rows_from_table({"c01": [float(w) for w in range(12)]})
    stripped = [dataclasses.replace(r, window="") for r in rows]
    s = summarize(stripped, "val_mse", "minimize")
    assert s.windows == tuple(f"w{w}" for w in range(12))


def test_a_later_row_for_the_same_trial_wins() -> None:
    rows = rows_from_table({"c01": [FAIL, 1.0], "c02": [2.0, 2.0]})
    retried = rows_from_table({"c01": [0.5]})
    s = summarize([*rows, *retried], "val_mse", "minimize")
    assert s.config("c01").complete and s.config("c01").per_window["w0"] == 0.5
    assert s.n_failed == 0 and s.n_trials == 4


def test_rows_without_the_objective_are_counted_separately() -> None:
    s = summarize(rows_from_table({"c01": [1.0, 2.0]}), "auc", "maximize")
    assert s.n_missing_objective == 2 and s.n_failed == 0
    assert s.best is None and s.config("c01").n_failed == 2


def test_bad_goal_is_refused() -> None:
    with pytest.raises(ValueError, match="goal"):
        summarize([], "val_mse", "lowest")


def test_empty_results() -> None:
    s = summarize([], "val_mse", "minimize")
    assert s.configs == () and s.best is None and s.windows == ()
    assert summary_csv(s).splitlines() == [",".join([
        "config", "objective_mean", "objective_std", "windows_won", "wins_all_windows",
        "complete", "n_windows", "p_value_vs_best", "compared_with", "wilcoxon_p_vs_best",
        "mean_diff_vs_best", "mean_diff_ci_low", "mean_diff_ci_high", "n_failed",
        *NEW_COLUMNS])]


def test_summary_csv_columns_and_rows() -> None:
    params = {c: {"learning_rate": 0.001 * (i + 1), "units": 64} for i, c in enumerate(WINNER)}
    s = summarize(rows_from_table(WINNER, params), "val_mse", "minimize")
    table = list(csv.DictReader(io.StringIO(summary_csv(s))))
    assert list(table[0]) == [
        "config", "param.learning_rate", "param.units", "objective_mean", "objective_std",
        "objective_w0", "objective_w1", "objective_w2", "rank_w0", "rank_w1", "rank_w2",
        "windows_won", "wins_all_windows", "complete", "n_windows", "p_value_vs_best",
        "compared_with", "wilcoxon_p_vs_best", "mean_diff_vs_best", "mean_diff_ci_low",
        "mean_diff_ci_high", "n_failed", *NEW_COLUMNS,
    ]
    assert [r["config"] for r in table] == ["c01", "c02", "c03", "c04", "c05"]
    best = table[0]
    assert best["param.learning_rate"] == "0.001" and best["param.units"] == "64"
    assert best["rank_w0"] == "1" and best["windows_won"] == "3"
    assert best["wins_all_windows"] == "true" and best["complete"] == "true"
    assert best["compared_with"] == "c04" and float(best["p_value_vs_best"]) == 1.0
    assert best["status"] == "alive" and best["windows_run"] == "3"
    runner_up = table[1]
    assert runner_up["significant"] == "true" and runner_up["windows_compared"] == "3"
    assert float(runner_up["mean_diff_ci_low"]) > 0 and runner_up["sign_test_p_vs_best"] == "0.25"
    assert float(best["objective_mean"]) == pytest.approx(0.9233333333333333)
    incomplete = table[3]
    assert incomplete["complete"] == "false" and incomplete["n_windows"] == "1"
    assert incomplete["rank_w1"] == "" and incomplete["objective_std"] == ""
    assert incomplete["n_failed"] == "1" and incomplete["windows_run"] == "2"
    assert table[4]["objective_mean"] == "" and table[4]["p_value_vs_best"] == ""


def test_summary_csv_prints_average_ranks() -> None:
    table = list(csv.DictReader(io.StringIO(summary_csv(summary_of(TIES)))))
    assert table[0]["rank_w0"] == "1.5"


def test_ten_thousand_rows_summarise_to_one_line_per_configuration() -> None:
    # How fast is measured by bench/report_bench.py, not here: a timed unit test fails on
    # a loaded machine, not on slow code.
    rows = large_sweep(2000, 5)
    text = summary_csv(summarize(rows, "val_mse", "minimize"))
    assert text.count("\n") == 2001
