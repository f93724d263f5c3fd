"""The paired tests agree with scipy (used here only as a reference, not by the code)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from tuningsweep.core.significance import (
    bootstrap_mean_ci,
    min_two_sided_p,
    sign_test,
    sign_test_rows,
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


def test_bootstrap_is_deterministic_and_covers_the_mean() -> None:
    rng = np.random.default_rng(3)
    diffs = rng.normal(1.0, 0.5, size=(20, 5))
    low, high = bootstrap_mean_ci(diffs)
    low2, high2 = bootstrap_mean_ci(diffs[::-1])
    assert np.array_equal(low[::-1], low2) and np.array_equal(high[::-1], high2)
    means = diffs.mean(axis=1)
    assert np.all(low <= means) and np.all(means <= high)
    assert np.all(np.isnan(bootstrap_mean_ci(diffs[:, :1])[0]))


def test_exact_bootstrap_by_hand() -> None:
    # Two pairs 1 and 3: resample means 1 (p=1/4), 2 (p=1/2), 3 (p=1/4).
    low, high = bootstrap_mean_ci(np.asarray([[1.0, 3.0]]))
    assert (low[0], high[0]) == (1.0, 3.0)
    low, high = bootstrap_mean_ci(np.asarray([[1.0, 3.0]]), confidence=0.4)
    assert (low[0], high[0]) == (2.0, 2.0)


def test_exact_and_monte_carlo_bootstraps_agree() -> None:
    rng = np.random.default_rng(4)
    six = rng.normal(0.0, 1.0, size=(5, 6))
    exact_low, exact_high = bootstrap_mean_ci(six)
    # Monte Carlo on the same data, duplicated to 12 pairs (same mean, tighter spread).
    mc_low, mc_high = bootstrap_mean_ci(np.hstack([six, six]), resamples=4000)
    assert np.all(mc_low >= exact_low - 0.1) and np.all(mc_high <= exact_high + 0.1)
    assert np.all(mc_low < six.mean(axis=1)) and np.all(six.mean(axis=1) < mc_high)
