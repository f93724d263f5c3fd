"""Paired tests and intervals for comparing two configurations across date windows.

A sweep trains every configuration on the same few date windows, so the natural unit of
evidence is one window: for two configurations we get one paired difference per window
both finished. Everything here works on such a vector of differences.

Why these tests:

* **Sign test** (exact binomial): counts the windows each side wins and nothing else. It
  assumes only that windows are independent, not that a difference of 0.01 in a quiet
  month means the same as 0.01 in a holiday month, which is exactly the situation of
  time-ordered data whose error level drifts. It is the test of the question the project
  asks ("does it win across windows?"), so it is the headline p-value.
* **Wilcoxon signed-rank** (exact by enumeration of the null distribution up to
  :data:`EXACT_WILCOXON_MAX` pairs, normal approximation with tie and continuity
  correction beyond): also uses how large the differences are relative to each other,
  which gives it more power once there are enough windows, at the price of assuming the
  differences are comparable across windows. Reported next to the sign test.
* **Bootstrap percentile interval** of the mean difference: a scale for the effect in the
  objective's own units. With few windows (up to :data:`EXACT_BOOTSTRAP_MAX`) there are
  few distinct resamples, so the bootstrap distribution is enumerated exactly instead of
  sampled: no Monte Carlo noise, no seed, and faster. With more windows resampling is
  seeded by the number of pairs only. Either way a configuration's interval never
  depends on which other configurations are in the sweep, and the computation is
  vectorised for thousands of configurations at once. With 3-5 windows the interval is
  rough (it can only take a handful of values); it is a scale, not a test.

Both tests are two-sided: the direction was picked after looking at the data (the best
configuration is chosen by its mean), so a one-sided test would overstate the evidence.
With ``n`` windows the smallest two-sided p-value either test can give is ``2 / 2**n``
(every window going the same way): 0.25 with 3 windows, 0.0625 with 5, 0.03125 with 6.
:func:`min_two_sided_p` says so, and callers flag comparisons with fewer than
:data:`LOW_POWER_PAIRS` windows as having little power.

Zero differences (exact ties) are dropped before both tests, as in Wilcoxon's original
procedure; they carry no information about direction. Pure: no I/O, no clock.
"""

from __future__ import annotations

import itertools
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
#: Up to this many pairs the bootstrap distribution is enumerated exactly (462 resamples).
EXACT_BOOTSTRAP_MAX = 6
#: Monte Carlo bootstrap resamples for more pairs than that.
BOOTSTRAP_RESAMPLES = 2000
#: Base seed of the bootstrap; the stream for ``n`` pairs is seeded with ``(BASE, n)``.
BOOTSTRAP_SEED = 20240601
_BOOTSTRAP_CHUNK = 2048


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


def _average_ranks_list(values: Sequence[float]) -> list[float]:
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
    ranks = _average_ranks_list([abs(d) for d in nonzero])
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


@lru_cache(maxsize=16)
def _exact_resamples(n_pairs: int) -> tuple[FloatArray, FloatArray]:
    """Every distinct bootstrap resample of ``n_pairs`` items and its probability.

    A resample is a multiset of the items: ``C(2n-1, n)`` of them (126 for 5 windows),
    each with the multinomial probability ``n! / (prod k_i!) / n**n`` of being drawn.
    Returns ``(weights, probabilities)`` with ``weights`` = counts / n (one row each).
    """
    rows: list[list[float]] = []
    probabilities: list[float] = []
    scale = n_pairs**n_pairs
    for combo in itertools.combinations_with_replacement(range(n_pairs), n_pairs):
        counts = [0] * n_pairs
        for item in combo:
            counts[item] += 1
        ways = math.factorial(n_pairs)
        for k in counts:
            ways //= math.factorial(k)
        rows.append([k / n_pairs for k in counts])
        probabilities.append(ways / scale)
    weights = np.asarray(rows, dtype=np.float64)
    probs = np.asarray(probabilities, dtype=np.float64)
    weights.setflags(write=False)
    probs.setflags(write=False)
    return weights, probs


@lru_cache(maxsize=64)
def _random_resamples(n_pairs: int, resamples: int) -> FloatArray:
    """Monte Carlo resampling weights (``resamples x n_pairs``): counts / n_pairs."""
    rng = np.random.default_rng((BOOTSTRAP_SEED, n_pairs))
    picks = rng.integers(0, n_pairs, size=(resamples, n_pairs))
    counts = np.zeros((resamples, n_pairs), dtype=np.float64)
    np.add.at(counts, (np.arange(resamples)[:, None], picks), 1.0)
    weights: FloatArray = counts / n_pairs
    weights.setflags(write=False)
    return weights


def _weighted_quantiles(
    means: FloatArray, probs: FloatArray, levels: tuple[float, float]
) -> tuple[FloatArray, FloatArray]:
    """Per row, the smallest value whose cumulative probability reaches each level."""
    order = np.argsort(means, axis=1, kind="stable")
    sorted_means = np.take_along_axis(means, order, axis=1)
    cumulative = np.cumsum(probs[order], axis=1)
    found = []
    for level in levels:
        index = np.argmax(cumulative >= level - 1e-12, axis=1)
        found.append(np.take_along_axis(sorted_means, index[:, None], axis=1)[:, 0])
    return found[0], found[1]


def bootstrap_mean_ci(
    differences: FloatArray,
    confidence: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> tuple[FloatArray, FloatArray]:
    """Percentile bootstrap intervals of the mean for each row of a difference matrix.

    With up to :data:`EXACT_BOOTSTRAP_MAX` pairs the bootstrap distribution is
    enumerated exactly (every distinct resample with its probability), so the interval
    has no Monte Carlo error and needs no seed; beyond that ``resamples`` random
    resamples are drawn from a stream seeded by the number of pairs.

    Args:
        differences: ``k x n`` matrix, one row of ``n`` paired differences per
            comparison; all rows share ``n`` so they share one set of resamples.
        confidence: coverage of the two-sided interval.
        resamples: Monte Carlo resamples when ``n`` is too large to enumerate.

    Returns:
        ``(low, high)`` arrays of length ``k``. Deterministic: a row's interval depends
        only on that row. With ``n < 2`` the intervals are NaN (a single window has no
        spread to resample).
    """
    k, n = differences.shape
    if n < 2 or k == 0:
        nan = np.full(k, np.nan, dtype=np.float64)
        return nan, nan.copy()
    alpha = (1.0 - confidence) / 2.0
    if n <= EXACT_BOOTSTRAP_MAX:
        weights, probs = _exact_resamples(n)
    else:
        weights = _random_resamples(n, resamples)
        probs = np.full(resamples, 1.0 / resamples)
    low = np.empty(k, dtype=np.float64)
    high = np.empty(k, dtype=np.float64)
    for start in range(0, k, _BOOTSTRAP_CHUNK):
        block = differences[start:start + _BOOTSTRAP_CHUNK]
        lo, hi = _weighted_quantiles(block @ weights.T, probs, (alpha, 1.0 - alpha))
        low[start:start + block.shape[0]] = lo
        high[start:start + block.shape[0]] = hi
    return low, high
