"""Properties of summarize on arbitrary sweeps (hypothesis)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from tuningsweep.core.stats.summary import summarize

from .synthetic import FAIL, Cell, rows_from_table

# Few distinct values so ties are common; None = not run, FAIL = failed trial.
cells = st.one_of(st.sampled_from([0.1, 0.2, 0.3, 0.5, 0.8]), st.just(FAIL), st.none())


@st.composite
def sweeps(draw: st.DrawFn) -> dict[str, list[Cell]]:
    n_windows = draw(st.integers(1, 5))
    n_configs = draw(st.integers(1, 8))
    return {
        f"c{i:02d}": draw(st.lists(cells, min_size=n_windows, max_size=n_windows))
        for i in range(n_configs)
    }


@settings(max_examples=150, deadline=None)
@given(sweeps())
def test_ranks_wins_and_best_are_consistent(table: dict[str, list[Cell]]) -> None:
    s = summarize(rows_from_table(table), "val_mse", "minimize")
    complete = [c for c in s.configs if c.complete]
    for w in s.windows:
        ranks = [c.ranks[w] for c in complete]
        n = len(ranks)
        # Average ranks of the field always sum to n(n+1)/2, whatever the ties.
        assert sum(ranks) == n * (n + 1) / 2
        assert sum(1 for r in ranks if r == 1.0) <= 1
    for c in s.configs:
        if c.wins_all_windows:
            assert c.complete and all(c.ranks[w] == 1.0 for w in s.windows)
        assert c.windows_won == sum(1 for r in c.ranks.values() if r == 1.0)
        assert set(c.per_window) | set(c.missing_windows) == set(s.windows)
    if complete:
        assert s.best == complete[0].config
        assert all(complete[0].mean is not None and c.mean is not None
                   and complete[0].mean <= c.mean for c in complete)
    else:
        assert s.best is None
    # Incomplete configurations never come before a complete one.
    flags = [c.complete for c in s.configs]
    assert flags == sorted(flags, reverse=True)


@settings(max_examples=80, deadline=None)
@given(sweeps(), st.randoms(use_true_random=False))
def test_row_order_does_not_matter(table: dict[str, list[Cell]], rnd: random.Random) -> None:
    rows = rows_from_table(table)
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    assert summarize(rows, "val_mse", "minimize") == summarize(shuffled, "val_mse", "minimize")


@settings(max_examples=80, deadline=None)
@given(sweeps())
def test_maximizing_the_negated_metric_gives_the_same_verdict(table: dict[str, list[Cell]]) -> None:
    negated = {c: [-v if isinstance(v, float) else v for v in vs] for c, vs in table.items()}
    low = summarize(rows_from_table(table), "val_mse", "minimize")
    high = summarize(rows_from_table(negated), "val_mse", "maximize")
    assert low.best == high.best and low.runner_up == high.runner_up
    for a, b in zip(low.configs, high.configs, strict=True):
        assert (a.config, a.ranks, a.windows_won, a.wins_all_windows, a.complete) == (
            b.config, b.ranks, b.windows_won, b.wins_all_windows, b.complete)
        assert a.p_value_vs_best == b.p_value_vs_best
