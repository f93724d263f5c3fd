"""Summaries of raced sweeps: configurations on different windows, eliminated ones kept."""

from __future__ import annotations

import numpy as np
import pytest

from tests.report.synthetic import rows_from_table
from tuningsweep.core.stats.noise import (
    digamma,
    fit_noise,
    residual_variance,
    trigamma,
    trigamma_inverse,
)
from tuningsweep.core.stats.summary import summarize


def _least_squares(matrix: np.ndarray) -> tuple[float, int]:
    """The additive model fitted the slow, obvious way: dummy columns and lstsq."""
    cells = np.argwhere(~np.isnan(matrix))
    rows, cols = matrix.shape
    design = np.zeros((len(cells), rows + cols))
    design[np.arange(len(cells)), cells[:, 0]] = 1.0
    design[np.arange(len(cells)), rows + cells[:, 1]] = 1.0
    y = matrix[cells[:, 0], cells[:, 1]]
    fit = np.linalg.lstsq(design, y, rcond=None)[0]
    rank = np.linalg.matrix_rank(design)
    df = len(y) - int(rank)
    return float(np.sum((y - design @ fit) ** 2) / df), df


@pytest.mark.parametrize("seed", range(5))
def test_residual_variance_matches_a_dummy_variable_fit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(12, 6)) + rng.normal(size=(12, 1)) + rng.normal(size=(1, 6))
    matrix[rng.random(matrix.shape) < 0.35] = np.nan
    matrix[:, 0] = rng.normal(size=12)  # every configuration ran the first window
    variance, df = residual_variance(matrix)
    expected, expected_df = _least_squares(matrix)
    assert df == expected_df and variance == pytest.approx(expected, rel=1e-9)


def test_residual_variance_needs_more_than_one_window() -> None:
    assert residual_variance(np.asarray([[1.0], [2.0]]))[1] <= 0
    assert residual_variance(np.full((2, 2), np.nan)) == (0.0, 0)


def test_eliminated_configurations_keep_their_rows_and_are_marked() -> None:
    table = {
        "c01": [1.00, 1.10, 1.05, 1.02],  # a contender with an extra window
        "c02": [1.04, 1.16, 1.08, 1.09],
        "c03": [1.30, 1.42, None, None],  # eliminated after w1
        "c04": [1.60, None, None, None],  # eliminated after w0
    }
    s = summarize(rows_from_table(table), "val_mse", "minimize",
                  eliminated={"c03": ("w1", "behind c01 (p=0.01)"), "c04": ("w0", "bottom half")})
    assert s.best == "c01" and s.n_alive == 2
    c03, c04 = s.config("c03"), s.config("c04")
    assert (c03.status, c03.eliminated_at, c03.elimination_reason) == (
        "eliminated", "w1", "behind c01 (p=0.01)")
    assert c04.windows_run == 1 and c03.windows_run == 2 and s.config("c01").windows_run == 4
    assert s.config("c02").status == "alive" and s.config("c02").eliminated_at is None
    # Each is compared on the windows it shares with the best, paired.
    assert c03.comparison is not None and c03.comparison.n_pairs == 2
    assert c03.comparison.mean_difference == pytest.approx((0.30 + 0.32) / 2)
    assert c04.comparison is not None and c04.comparison.n_pairs == 1
    assert c04.comparison.ci_low is None and c04.comparison.p_value is not None
    assert s.test is not None and s.test.df == 11 - 4 - 3 and s.test.n_hypotheses == 6


def test_equally_noisy_configurations_share_the_pooled_variance() -> None:
    rng = np.random.default_rng(7)
    matrix = rng.normal(size=(40, 4)) * 0.01 + rng.normal(size=(40, 1))
    noise = fit_noise(matrix)
    assert noise is not None and noise.prior_df == np.inf
    assert np.all(noise.config_variance == noise.variance)
    assert np.all(noise.config_df == noise.df) and noise.df == 39 * 3


def test_a_noisy_configuration_gets_a_larger_moderated_variance() -> None:
    rng = np.random.default_rng(8)
    scale = np.exp(rng.normal(size=(40, 1)))
    matrix = rng.normal(size=(40, 4)) * 0.01 * scale
    noise = fit_noise(matrix)
    assert noise is not None and 0 < noise.prior_df < np.inf
    by_noise = np.argsort(scale[:, 0])
    quietest, noisiest = by_noise[:10], by_noise[-10:]
    assert (np.mean(noise.config_variance[noisiest]) > noise.variance
            > np.mean(noise.config_variance[quietest]))
    assert np.all(noise.config_df <= noise.df)


def test_digamma_and_trigamma_match_scipy() -> None:
    from scipy import special

    x = np.asarray([1e-3, 0.1, 0.5, 1.0, 2.5, 5.99, 6.0, 10.0, 1e3, 1e6])
    assert digamma(x) == pytest.approx(special.digamma(x), rel=1e-10)
    assert trigamma(x) == pytest.approx(special.polygamma(1, x), rel=1e-8)
    for y in (0.01, 1.0, 50.0):
        assert trigamma(np.asarray([trigamma_inverse(y)]))[0] == pytest.approx(y, rel=1e-9)
