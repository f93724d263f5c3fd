"""The paired tests agree with scipy (used here only as a reference, not by the code)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from tuningsweep.core.stats.significance import (
    min_two_sided_p,
    paired_t_intervals,
    sign_test,
    sign_test_rows,
    t_critical,
    t_two_sided_p,
    wilcoxon_rows,
    wilcoxon_signed_rank,
)

nonzero = st.floats(min_value=0.001, max_value=100, allow_nan=False).flatmap(
    lambda m: st.sampled_from([m, -m])
)


def test_known_values() -> None:
    assert sign_test([-1, -2, -3]) == 0.25
    assert sign_test([1, -1]) == 1.0
    assert sign_test([0, 0]) == 1.0
    assert sign_test([1] * 6) == pytest.approx(2 / 64)
    assert wilcoxon_signed_rank([1, 2, 3, 4, 5, 6]) == pytest.approx(2 / 64)
    assert wilcoxon_signed_rank([]) == 1.0
    assert min_two_sided_p(3) == 0.25 and min_two_sided_p(0) == 1.0


@given(st.lists(st.sampled_from([-1.0, 0.0, 1.0]), max_size=40))
def test_sign_test_matches_binomtest(diffs: list[float]) -> None:
    pos = sum(d > 0 for d in diffs)
    n = sum(d != 0 for d in diffs)
    expected = stats.binomtest(pos, n).pvalue if n else 1.0
    assert sign_test(diffs) == pytest.approx(expected, rel=1e-9)


@settings(max_examples=60)
@given(st.lists(nonzero, min_size=1, max_size=14, unique_by=abs))
def test_exact_wilcoxon_matches_scipy(diffs: list[float]) -> None:
    expected = stats.wilcoxon(diffs, method="exact").pvalue
    assert wilcoxon_signed_rank(diffs) == pytest.approx(expected, rel=1e-9)


def test_wilcoxon_with_ties_is_exact_by_enumeration() -> None:
    # |d| ranks: 1.5, 1.5, 3 -> W+ = 3 (the two tied ones positive); by enumeration of the
    # 8 sign patterns, P(W+ <= 3) = 5/8, P(W+ >= 3) = 5/8, so p = min(1, 2 * 5/8) = 1.
    assert wilcoxon_signed_rank([0.1, 0.1, -0.5]) == 1.0
    # All positive with a tie: the most extreme pattern, p = 2/8.
    assert wilcoxon_signed_rank([0.1, 0.1, 0.5]) == pytest.approx(0.25)


def test_large_samples_use_the_normal_approximation() -> None:
    rng = np.random.default_rng(1)
    diffs = list(rng.normal(0.3, 1.0, size=80))
    expected = stats.wilcoxon(diffs, method="approx", correction=True).pvalue
    assert wilcoxon_signed_rank(diffs) == pytest.approx(expected, rel=1e-6)


@settings(max_examples=60)
@given(st.lists(st.lists(st.sampled_from([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0]), min_size=4,
                         max_size=4), min_size=1, max_size=12))
def test_vectorised_rows_equal_the_scalar_tests(matrix: list[list[float]]) -> None:
    array = np.asarray(matrix)
    assert sign_test_rows(array) == pytest.approx([sign_test(r) for r in matrix])
    assert wilcoxon_rows(array) == pytest.approx([wilcoxon_signed_rank(r) for r in matrix])


def test_vectorised_wilcoxon_on_distinct_values() -> None:
    rng = np.random.default_rng(2)
    matrix = rng.normal(0.2, 1.0, size=(50, 7))
    assert wilcoxon_rows(matrix) == pytest.approx([wilcoxon_signed_rank(list(r)) for r in matrix])


@pytest.mark.parametrize("df", [1, 2, 3, 7, 29, 58, 500, 20000])
def test_t_p_values_match_scipy(df: int) -> None:
    t = np.asarray([0.0, 1e-3, 0.3, 1.0, 2.0, 4.3, 12.7, 60.0, -2.5, np.inf])
    expected = 2 * stats.t.sf(np.abs(t), df)
    assert t_two_sided_p(t, df) == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert np.isnan(t_two_sided_p(np.asarray([np.nan]), df)[0])


@pytest.mark.parametrize("df", [1, 2, 4, 29, 58, 1000])
@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.05 / 435, 1e-7])
def test_t_critical_matches_scipy(df: int, alpha: float) -> None:
    assert t_critical(alpha, df) == pytest.approx(stats.t.isf(alpha / 2, df), rel=1e-9)


def test_bad_t_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        t_two_sided_p(np.asarray([1.0]), 0)
    with pytest.raises(ValueError):
        t_critical(1.5, 3)


def test_paired_t_interval_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    diffs = rng.normal(1.0, 0.5, size=(20, 3))
    low, high = paired_t_intervals(diffs)
    for row, lo, hi in zip(diffs, low, high, strict=True):
        ref = stats.t.interval(0.95, 2, loc=row.mean(), scale=stats.sem(row))
        assert (lo, hi) == pytest.approx(ref, rel=1e-9)
    assert np.all(np.isnan(paired_t_intervals(diffs[:, :1])[0]))
    assert paired_t_intervals(np.zeros((0, 3)))[0].shape == (0,)


def test_paired_t_interval_covers_95_percent() -> None:
    # 4000 comparisons with a known mean difference of 0.3: coverage within 1.5 points.
    rng = np.random.default_rng(5)
    for n in (2, 3, 5, 10):
        low, high = paired_t_intervals(rng.normal(0.3, 1.0, size=(4000, n)))
        coverage = np.mean((low <= 0.3) & (high >= 0.3))
        assert abs(coverage - 0.95) < 0.015, (n, coverage)
