"""How noisy each configuration is: the additive model's residuals, moderated.

The test "worse than the best" (:mod:`tuningsweep.core.stats.comparisons`) needs the noise of
a paired difference. One pair's own differences give 1-2 degrees of freedom with 2-3
windows, far too few to decide anything after correcting for many comparisons. The
model ``value = level of the configuration + shift of the window + noise`` fitted to
every result gives a residual variance with many (58 for 30 configurations x 3
windows), but assumes every configuration is equally noisy, and configurations are not
(an unstable learning rate is noisier): with noise varying x0.4-2.7 between
configurations, the pooled variance alone made a wrong claim in 9% of simulated sweeps.

So each configuration's own residual variance is **moderated** towards a common value,
the empirical Bayes step of limma (Smyth 2004): its residual variances are modelled as
scaled chi-square draws around a prior variance ``s0^2`` with ``d0`` prior degrees of
freedom, both estimated from the spread of their logarithms; each configuration then
gets ``(d0 s0^2 + d_c s_c^2) / (d0 + d_c)`` with ``d0 + d_c`` degrees of freedom. When
the configurations look equally noisy, ``d0`` is infinite and this is the pooled
variance with its degrees of freedom; when they clearly differ, each one's own noise
weighs in. Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tuningsweep.core.stats.significance import FloatArray

#: Fewer configurations with residual spread than this: no moderation, pooled variance.
MIN_CONFIGS_TO_MODERATE = 3
_TINY_VARIANCE = 1e-300


@dataclass(frozen=True)
class NoiseModel:
    """The residual noise of a sweep, pooled and per configuration (row of the matrix).

    ``config_variance[i]`` and ``config_df[i]`` are row ``i``'s moderated variance and
    its degrees of freedom (the pooled ones when ``prior_df`` is infinite).
    """

    variance: float
    df: int
    prior_df: float
    config_variance: FloatArray
    config_df: FloatArray


@dataclass(frozen=True)
class AdditiveFit:
    """The least-squares fit of ``value = level of the configuration + shift of the window``.

    ``levels`` by row and ``shifts`` by column (NaN for a row or column with no value;
    the shifts are determined up to a constant, taken by the minimum-norm solution);
    ``residual`` is 0 at missing cells; ``df`` the residual degrees of freedom.
    """

    levels: FloatArray
    shifts: FloatArray
    residual: FloatArray
    df: int


def additive_fit(matrix: FloatArray) -> AdditiveFit:
    """Fit ``value = config + window + noise`` to the present cells (NaN = missing).

    Least squares on the present cells of a configuration x window matrix, so
    configurations that ran on different windows (racing) are handled exactly: the
    configuration levels are eliminated in closed form, leaving a small window x window
    system for the window shifts. ``df <= 0`` means there is nothing left to estimate
    noise from (one window, or every configuration on its own windows).
    """
    present = ~np.isnan(matrix)
    residual = np.zeros(matrix.shape, dtype=np.float64)
    levels = np.full(matrix.shape[0], np.nan)
    shifts = np.full(matrix.shape[1], np.nan)
    rows, cols = present.any(axis=1), present.any(axis=0)
    if not rows.any():
        return AdditiveFit(levels, shifts, residual, 0)
    mask = present[np.ix_(rows, cols)].astype(np.float64)
    values = np.where(present, matrix, 0.0)[np.ix_(rows, cols)]
    per_row = mask.sum(axis=1)
    row_mean = values.sum(axis=1) / per_row
    centred = (values - row_mean[:, None]) * mask
    # Normal equations of the window shifts once each configuration's level is profiled
    # out: (diag(N_w) - M' diag(1/n_c) M) s = sum_c M_cw (y_cw - mean_c).
    system = np.diag(mask.sum(axis=0)) - (mask / per_row[:, None]).T @ mask
    fitted_shifts = np.linalg.lstsq(system, centred.sum(axis=0), rcond=None)[0]
    fitted_levels = row_mean - (mask @ fitted_shifts) / per_row
    residual[np.ix_(rows, cols)] = (
        values - fitted_levels[:, None] - fitted_shifts[None, :]) * mask
    levels[rows], shifts[cols] = fitted_levels, fitted_shifts
    df = int(mask.sum()) - int(rows.sum()) - int(np.linalg.matrix_rank(system))
    return AdditiveFit(levels, shifts, residual, df)


def additive_residuals(matrix: FloatArray) -> tuple[FloatArray, int]:
    """Residuals of ``value = config + window + noise`` and their degrees of freedom.

    See :func:`additive_fit`; missing cells get a residual of 0.
    """
    fit = additive_fit(matrix)
    return fit.residual, fit.df


def residual_variance(matrix: FloatArray) -> tuple[float, int]:
    """The pooled residual variance of the additive model and its degrees of freedom."""
    residual, df = additive_residuals(matrix)
    if df <= 0:
        return 0.0, df
    return float(np.sum(residual**2)) / df, df


def digamma(x: FloatArray) -> FloatArray:
    """The digamma function for positive ``x`` (recurrence up to 6, then its series)."""
    x = np.asarray(x, dtype=np.float64).copy()
    result = np.zeros_like(x)
    while (small := x < 6.0).any():
        result[small] -= 1.0 / x[small]
        x[small] += 1.0
    inv2 = 1.0 / (x * x)
    series = inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240 - inv2 / 132))))
    out: FloatArray = result + np.log(x) - 0.5 / x - series
    return out


def trigamma(x: FloatArray) -> FloatArray:
    """The trigamma function for positive ``x`` (recurrence up to 6, then its series)."""
    x = np.asarray(x, dtype=np.float64).copy()
    result = np.zeros_like(x)
    while (small := x < 6.0).any():
        result[small] += 1.0 / (x[small] * x[small])
        x[small] += 1.0
    inv = 1.0 / x
    inv2 = inv * inv
    series = inv + inv2 / 2 + inv * inv2 * (1 / 6 - inv2 * (1 / 30 - inv2 * (1 / 42 - inv2 / 30)))
    out: FloatArray = result + series
    return out


def trigamma_inverse(y: float) -> float:
    """The ``x > 0`` with ``trigamma(x) = y`` (``y > 0``), by bisection on a log scale."""
    low, high = 1e-8, 1e8
    for _ in range(200):
        middle = math.sqrt(low * high)
        if float(trigamma(np.asarray([middle]))[0]) > y:
            low = middle
        else:
            high = middle
        if high / low < 1.0 + 1e-12:
            break
    return math.sqrt(low * high)


def fit_noise(matrix: FloatArray) -> NoiseModel | None:
    """Pooled and moderated per-configuration noise of a configuration x window matrix.

    Returns None when the additive model leaves no degrees of freedom.
    """
    residual, df = additive_residuals(matrix)
    if df <= 0:
        return None
    pooled = float(np.sum(residual**2)) / df
    counts = np.sum(~np.isnan(matrix), axis=1)
    # Each configuration's share of the residual degrees of freedom, in proportion to
    # its windows beyond the first (a configuration on one window has none).
    extra = np.maximum(counts - 1, 0).astype(np.float64)
    own_df = extra * df / extra.sum()
    own_ss = np.sum(residual**2, axis=1)
    usable = (own_df > 0) & (own_ss > _TINY_VARIANCE)
    prior_df, prior_variance = math.inf, pooled
    if int(usable.sum()) >= MIN_CONFIGS_TO_MODERATE:
        d = own_df[usable]
        logs = np.log(own_ss[usable] / d) - digamma(d / 2) + np.log(d / 2)
        excess = float(np.var(logs, ddof=1) - np.mean(trigamma(d / 2)))
        if excess > 0:
            prior_df = 2.0 * trigamma_inverse(excess)
            prior_variance = math.exp(float(np.mean(logs)) + float(digamma(
                np.asarray([prior_df / 2]))[0]) - math.log(prior_df / 2))
    if math.isinf(prior_df):
        size = matrix.shape[0]
        return NoiseModel(pooled, df, prior_df, np.full(size, pooled), np.full(size, float(df)))
    with np.errstate(invalid="ignore", divide="ignore"):
        own = np.where(own_df > 0, own_ss / np.maximum(own_df, 1e-12), 0.0)
    moderated = (prior_df * prior_variance + own_df * own) / (prior_df + own_df)
    # Never more degrees of freedom than the whole sweep has.
    return NoiseModel(pooled, df, prior_df, moderated, np.minimum(prior_df + own_df, df))
