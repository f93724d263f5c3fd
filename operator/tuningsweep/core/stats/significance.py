"""Paired tests and intervals for comparing two configurations across date windows.

A sweep trains every configuration on the same date windows, so the unit of evidence is
one window: for two configurations we get one paired difference per window both
finished. Pairing removes how hard each window is (a shift shared by every configuration
in a month cancels in the difference), so a hard month cannot decide a comparison.

What is here, and why:

* **Student's t distribution** (:func:`t_two_sided_p`, :func:`t_critical`), computed
  with the regularised incomplete beta function so the core needs nothing beyond numpy
  (scipy is only a test dependency, used to cross-check these).
* **Paired t-interval** (:func:`paired_t_intervals`): the mean paired difference plus or
  minus ``t(n-1) * sd / sqrt(n)``. It assumes only that the windows are independent and
  the differences roughly normal; with ``n`` windows it has ``n - 1`` degrees of
  freedom, so it is wide with 2-3 windows but honest: it covers about 95% at every
  window count in the known-truth simulation (``docs/statistics.md``), where the old
  percentile bootstrap over 3 windows covered 70-77%. One window gives no interval.
* **Sign test** and **Wilcoxon signed-rank** (exact): reported next to the t-test as a
  description of how consistent the win is. With ``n`` windows neither can go below
  ``2 / 2**n`` (0.25 with 3 windows), so neither decides significance.

Zero differences (exact ties) are dropped before the rank tests, as in Wilcoxon's
original procedure. Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Below this many non-zero paired differences no two-sided test reaches p < 0.05.
LOW_POWER_PAIRS = 6
#: Up to this many non-zero differences the Wilcoxon null distribution is enumerated.
EXACT_WILCOXON_MAX = 50
#: Continued-fraction iterations of the incomplete beta function (converges in far fewer).
_BETA_ITERATIONS = 2000
_BETA_TOLERANCE = 1e-15
_TINY = 1e-300


def min_two_sided_p(n_nonzero: int) -> float:
    """Return the smallest two-sided p-value a sign or signed-rank test can reach.

    With ``n`` non-zero paired differences the most extreme outcome (all of one sign)
    has probability ``2 / 2**n`` under the null hypothesis.
    """
    if n_nonzero <= 0:
        return 1.0
    return min(1.0, 2.0 ** (1 - n_nonzero))


@lru_cache(maxsize=4096)
def _sign_test_cached(n: int, k: int) -> float:
    tail = sum(math.comb(n, i) for i in range(k + 1))
    return min(1.0, 2.0 * tail / 2.0**n)


def sign_test(differences: Sequence[float]) -> float:
    """Exact two-sided sign test p-value for paired differences.

    Args:
        differences: one paired difference per window; zeros are dropped.

    Returns:
        ``P(at least as lopsided a split | each window is a fair coin)``, 1.0 when there
        is no non-zero difference.

    Example:
        >>> sign_test([-0.1, -0.2, -0.05])
        0.25
    """
    positive = sum(1 for d in differences if d > 0)
    negative = sum(1 for d in differences if d < 0)
    n = positive + negative
    if n == 0:
        return 1.0
    return _sign_test_cached(n, min(positive, negative))


def average_ranks(values: Sequence[float]) -> list[float]:
    """Average ranks (1 = smallest), ties sharing the mean of their ranks."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        rank = (i + j) / 2.0 + 1.0
        for t in range(i, j + 1):
            ranks[order[t]] = rank
        i = j + 1
    return ranks


@lru_cache(maxsize=1024)
def _signed_rank_cdf(doubled_ranks: tuple[int, ...]) -> tuple[float, ...]:
    """Null distribution of ``2 * W+`` as a cumulative table, by dynamic programming.

    Under the null each rank's sign is an independent fair coin, so the distribution of
    the sum of the positive ranks is the subset-sum count over the ranks. Ranks are
    doubled so average ranks of ties (multiples of 0.5) become integers.
    """
    total = sum(doubled_ranks)
    counts = [0] * (total + 1)
    counts[0] = 1
    reach = 0
    for r in doubled_ranks:
        reach += r
        for s in range(reach, r - 1, -1):
            counts[s] += counts[s - r]
    scale = 2 ** len(doubled_ranks)
    cdf: list[float] = []
    running = 0
    for c in counts:
        running += c
        cdf.append(running / scale)
    return tuple(cdf)


def wilcoxon_signed_rank(differences: Sequence[float]) -> float:
    """Two-sided Wilcoxon signed-rank p-value for paired differences.

    Zeros are dropped; tied absolute differences get average ranks. Exact (by
    enumerating the null distribution, ties included) for up to
    :data:`EXACT_WILCOXON_MAX` non-zero differences; normal approximation with tie and
    continuity correction beyond.

    Returns:
        The p-value; 1.0 when there is no non-zero difference.

    Example:
        >>> wilcoxon_signed_rank([-0.1, -0.2, -0.05])
        0.25
    """
    nonzero = [d for d in differences if d != 0]
    n = len(nonzero)
    if n == 0:
        return 1.0
    ranks = average_ranks([abs(d) for d in nonzero])
    w_plus = sum(r for r, d in zip(ranks, nonzero, strict=True) if d > 0)
    if n <= EXACT_WILCOXON_MAX:
        doubled = tuple(sorted(round(2 * r) for r in ranks))
        cdf = _signed_rank_cdf(doubled)
        t = round(2 * w_plus)
        lower = cdf[t]
        upper = 1.0 - (cdf[t - 1] if t > 0 else 0.0)
        return min(1.0, 2.0 * min(lower, upper))
    mean = n * (n + 1) / 4.0
    tie_sizes: dict[float, int] = {}
    for r in ranks:
        tie_sizes[r] = tie_sizes.get(r, 0) + 1
    tie_term = sum(t**3 - t for t in tie_sizes.values()) / 48.0
    variance = n * (n + 1) * (2 * n + 1) / 24.0 - tie_term
    if variance <= 0:
        return 1.0
    z = (abs(w_plus - mean) - 0.5) / math.sqrt(variance)
    return min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2.0)))


def sign_test_rows(differences: FloatArray) -> list[float]:
    """:func:`sign_test` for each row of a ``k x n`` difference matrix."""
    positive = np.sum(differences > 0, axis=1)
    negative = np.sum(differences < 0, axis=1)
    return [
        _sign_test_cached(int(p + m), int(min(p, m))) if p + m else 1.0
        for p, m in zip(positive, negative, strict=True)
    ]


def wilcoxon_rows(differences: FloatArray) -> list[float]:
    """:func:`wilcoxon_signed_rank` for each row of a ``k x n`` difference matrix.

    Rows with no zero and no tied absolute difference (the usual case for real-valued
    metrics) are ranked in one vectorised pass and share one cached null distribution;
    other rows go through the general per-row function.
    """
    k, n = differences.shape
    if k == 0:
        return []
    if n == 0:
        return [1.0] * k
    magnitudes = np.abs(differences)
    sorted_magnitudes = np.sort(magnitudes, axis=1)
    clean = np.all(differences != 0, axis=1)
    if n > 1:
        clean &= np.all(sorted_magnitudes[:, 1:] != sorted_magnitudes[:, :-1], axis=1)
    result = [1.0] * k
    if n <= EXACT_WILCOXON_MAX and clean.any():
        block = magnitudes[clean]
        ranks = np.argsort(np.argsort(block, axis=1), axis=1) + 1
        doubled_w = 2 * np.sum(ranks * (differences[clean] > 0), axis=1)
        cdf = np.asarray(_signed_rank_cdf(tuple(range(2, 2 * n + 1, 2))))
        lower = cdf[doubled_w]
        below = np.where(doubled_w > 0, cdf[np.maximum(doubled_w - 1, 0)], 0.0)
        p_values = np.minimum(1.0, 2.0 * np.minimum(lower, 1.0 - below))
        for index, p in zip(np.flatnonzero(clean), p_values, strict=True):
            result[int(index)] = float(p)
    else:
        clean[:] = False
    for index in np.flatnonzero(~clean):
        result[int(index)] = wilcoxon_signed_rank([float(d) for d in differences[index]])
    return result




def _beta_continued_fraction(a: float, b: float, x: FloatArray) -> FloatArray:
    """Lentz's continued fraction for the incomplete beta function (Numerical Recipes).

    Elements leave the computation as soon as they converge: with many degrees of
    freedom a few large ``t`` need hundreds of terms while most need a handful.
    """
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    result = np.empty_like(x)
    active = np.arange(len(x))
    xs = x.copy()
    c = np.ones_like(xs)
    d = 1.0 - qab * xs / qap
    d = 1.0 / np.where(np.abs(d) < _TINY, _TINY, d)
    h = d.copy()
    for m in range(1, _BETA_ITERATIONS + 1):
        m2 = 2 * m
        step = np.ones_like(xs)
        for aa in (m * (b - m) * xs / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * xs / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / np.where(np.abs(d) < _TINY, _TINY, d)
            c = 1.0 + aa / c
            c = np.where(np.abs(c) < _TINY, _TINY, c)
            step = d * c
            h = h * step
        done = np.abs(step - 1.0) < _BETA_TOLERANCE
        if done.any():
            result[active[done]] = h[done]
            keep = ~done
            active, xs, c, d, h = active[keep], xs[keep], c[keep], d[keep], h[keep]
            if len(active) == 0:
                return result
    result[active] = h
    return result


def _regularized_beta(a: float, b: float, x: FloatArray) -> FloatArray:
    """``I_x(a, b)`` for an array of ``x`` in [0, 1] (the CDF of a Beta(a, b) variable)."""
    out = np.where(x >= 1.0, 1.0, 0.0)
    inner = (x > 0.0) & (x < 1.0)
    if not inner.any():
        return out
    xs = x[inner]
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    # The fraction converges fast below the mean of the distribution; above it, the
    # symmetry I_x(a, b) = 1 - I_{1-x}(b, a) keeps it converging fast.
    direct = xs < (a + 1.0) / (a + b + 2.0)
    values = np.empty_like(xs)
    if direct.any():
        x1 = xs[direct]
        front = np.exp(log_front + a * np.log(x1) + b * np.log1p(-x1))
        values[direct] = front * _beta_continued_fraction(a, b, x1) / a
    if (~direct).any():
        x2 = xs[~direct]
        front = np.exp(log_front + a * np.log(x2) + b * np.log1p(-x2))
        values[~direct] = 1.0 - front * _beta_continued_fraction(b, a, 1.0 - x2) / b
    out[inner] = values
    return out


def t_two_sided_p(t: FloatArray, df: float) -> FloatArray:
    """Two-sided p-values ``P(|T| >= |t|)`` of Student's t with ``df`` degrees of freedom.

    ``t`` may hold ``inf`` (p = 0) and NaN (p = NaN). Agrees with scipy to about 1e-12.

    Example:
        >>> float(t_two_sided_p(np.asarray([4.302652729749464]), 2)[0])  # doctest: +ELLIPSIS
        0.0500...
    """
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, not {df}")
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        x = df / (df + t * t)
    x = np.where(np.isinf(t), 0.0, x)
    p = _regularized_beta(df / 2.0, 0.5, np.nan_to_num(x, nan=1.0))
    result: FloatArray = np.where(np.isnan(t), np.nan, np.clip(p, 0.0, 1.0))
    return result


@lru_cache(maxsize=1024)
def t_critical(two_sided_alpha: float, df: float) -> float:
    """The ``t`` with ``P(|T| >= t) = two_sided_alpha`` (``t(0.05, 2)`` is 4.303).

    Found by bisection on :func:`t_two_sided_p`; cached, since a summary asks for the
    same few (level, degrees of freedom) pairs over and over.
    """
    if not 0.0 < two_sided_alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), not {two_sided_alpha}")
    low, high = 0.0, 1.0
    while float(t_two_sided_p(np.asarray([high]), df)[0]) > two_sided_alpha:
        low, high = high, high * 2.0
    for _ in range(200):
        middle = (low + high) / 2.0
        if float(t_two_sided_p(np.asarray([middle]), df)[0]) > two_sided_alpha:
            low = middle
        else:
            high = middle
        if high - low <= 1e-12 * high:
            break
    return (low + high) / 2.0


def paired_t_intervals(
    differences: FloatArray, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Paired t-intervals of the mean difference, one per row of a ``k x n`` matrix.

    Args:
        differences: one row of ``n`` paired differences (one per window) per comparison.
        confidence: coverage of the two-sided interval.

    Returns:
        ``(low, high)`` arrays of length ``k``: the mean plus or minus
        ``t(n - 1) * sd / sqrt(n)``. NaN when ``n < 2`` (one window has no spread).
    """
    k, n = differences.shape
    if n < 2 or k == 0:
        nan = np.full(k, np.nan, dtype=np.float64)
        return nan, nan.copy()
    mean = np.mean(differences, axis=1)
    half = t_critical(1.0 - confidence, n - 1) * np.std(differences, axis=1, ddof=1) / math.sqrt(n)
    return mean - half, mean + half
