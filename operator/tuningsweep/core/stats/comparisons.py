"""Every configuration against the best: the paired interval and the corrected test.

Two numbers per configuration, each meaning what it says (the figures behind these
choices are in ``docs/statistics.md``):

* **The 95% interval** of (configuration - best) is the paired t-interval over the
  windows both have (:func:`tuningsweep.core.stats.significance.paired_t_intervals`). It uses
  only this pair's differences, so a configuration that is noisier than the others
  gets a wider interval rather than a wrong one. It covers the true difference about
  95% of the time, per configuration, at 2-10 windows.
* **Significance** ("worse than the best") is decided by a test with more power at few
  windows: the paired mean difference divided by the noise estimated from the whole
  sweep, the residuals of the additive model ``value = level of the configuration +
  shift of the window + noise`` fitted to every result (with 30 configurations and 3
  windows they have 58 degrees of freedom instead of the pair's 2), moderated per
  configuration so that a noisier configuration is judged by its own noise
  (:mod:`tuningsweep.core.stats.noise`). A configuration that ran on a single window
  (eliminated early by racing) can be tested too.

  The best is selected from the same data, so it is lucky on average, and every
  difference to it is inflated by the same luck: per-pair tests against it, even
  Holm-corrected for the ``k - 1`` comparisons, claim wrongly in about 25% of sweeps
  when the configurations are in truth equal. The p-values are therefore multiplied by
  the number of *pairs* of configurations, ``k (k - 1) / 2`` (Bonferroni over every pair
  the best could have been part of). Whatever the true means, the chance of any wrong
  claim "worse than the best" in a sweep is then at most 5% (Tukey's argument: all
  pairwise intervals hold at once, so the ones with the selected best do too).

Before any of this, :func:`tuningsweep.core.stats.robust.prepare` chooses the scale (the
metric's units, or its logarithm when the window effects are multiplicative) and flags
trials that diverged: the test runs on that scale, a flagged trial is left out of every
paired comparison and of the noise, and the report lists it. The 95% interval, the mean
difference and the rank tests stay in the objective's units; on the log scale the
simultaneous interval is the ratio interval times the best's mean over the common
windows, so it still excludes 0 exactly when the test rejects.

The best's own row is compared with its **closest contender**, the configuration with the
largest adjusted p-value; its p-value is therefore the one at which the best is
significantly better than every other configuration.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from tuningsweep.core.stats.noise import NoiseModel, fit_noise, residual_variance
from tuningsweep.core.stats.robust import prepare
from tuningsweep.core.stats.significance import (
    FloatArray,
    paired_t_intervals,
    sign_test_rows,
    t_critical,
    t_two_sided_p,
    wilcoxon_rows,
)
from tuningsweep.core.stats.summary_model import ALPHA, Comparison, FlaggedTrial, SignificanceTest

__all__ = ["METHOD", "behind_p_values", "compare_with_best", "p_values_against",
           "residual_variance"]

METHOD = ("paired t on moderated residual variances (additive model), "
          "Bonferroni over all pairs of configurations")
ROBUST_METHOD = ("paired t on moderated residual variances (additive model on the {scale} "
                 "scale, outlying trials left out), Bonferroni over all pairs of configurations")


def _pair_groups(present: npt.NDArray[np.bool_], best: int) -> dict[bytes, list[int]]:
    """Configurations with a window in common with the best, grouped by those windows."""
    groups: dict[bytes, list[int]] = {}
    for i in range(present.shape[0]):
        common = present[i] & present[best]
        if i != best and common.any():
            groups.setdefault(common.tobytes(), []).append(i)
    return groups


def _tested(
    means: FloatArray, rows: npt.NDArray[np.int64], best: int, n_pairs: int,
    noise: NoiseModel, n_hypotheses: int, alpha: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Unadjusted and adjusted p-values and the simultaneous half-width for one group.

    The variance of a mean of ``n`` paired differences is the sum of the two
    configurations' moderated variances over ``n``; its degrees of freedom follow
    Welch and Satterthwaite, rounded down (fewer degrees of freedom: a larger p).
    """
    own = noise.config_variance[rows] / n_pairs
    other = noise.config_variance[best] / n_pairs
    se = np.sqrt(own + other)
    with np.errstate(divide="ignore", invalid="ignore"):
        welch = (own + other) ** 2 / (own**2 / noise.config_df[rows]
                                      + other**2 / noise.config_df[best])
        t = np.where(means == 0.0, 0.0, means / se)
    df = np.floor(np.where(np.isfinite(welch), welch, noise.df)).clip(1.0, noise.df)
    raw = np.empty_like(means)
    half = np.empty_like(means)
    for value in np.unique(df):
        same = df == value
        raw[same] = t_two_sided_p(t[same], float(value))
        half[same] = t_critical(alpha / n_hypotheses, float(value)) * se[same]
    return raw, np.minimum(1.0, raw * n_hypotheses), half


def _against(matrix: FloatArray, reference: int, goal: str,
             robust: bool) -> tuple[FloatArray, FloatArray]:
    """Two-sided p-values of every row against ``reference`` and the mean difference tested."""
    scaled = prepare(matrix, goal, robust=robust).scaled
    present = ~np.isnan(scaled)
    p = np.full(matrix.shape[0], np.nan)
    difference = np.full(matrix.shape[0], np.nan)
    noise = fit_noise(scaled)
    if noise is None:
        return p, difference
    for members in _pair_groups(present, reference).values():
        rows = np.asarray(members, dtype=np.int64)
        columns = np.flatnonzero(present[members[0]] & present[reference])
        means = np.mean(scaled[np.ix_(rows, columns)] - scaled[reference, columns][None, :], axis=1)
        p[rows] = _tested(means, rows, reference, len(columns), noise, 1, ALPHA)[0]
        difference[rows] = means
    return p, difference


def p_values_against(matrix: FloatArray, reference: int, goal: str = "minimize",
                     robust: bool = True) -> FloatArray:
    """Unadjusted two-sided p-values of every row against row ``reference``.

    The same paired test as the report's (same scale, outlying trials left out,
    moderated noise of the whole matrix, common columns only), for callers that correct
    for multiplicity themselves. NaN for the reference itself, rows with no column in
    common with it, and everywhere when the matrix leaves no degrees of freedom (a
    single window).
    """
    return _against(matrix, reference, goal, robust)[0]


def behind_p_values(oriented: FloatArray, leader: int, goal: str = "minimize",
                    robust: bool = True) -> FloatArray:
    """One-sided p-values of "row is worse than the leader", the report's test (racing).

    ``oriented`` is lower-is-better (the objective negated when ``goal`` is maximize,
    which then stays in its units). NaN where no test is possible.
    """
    p, difference = _against(oriented, leader, goal, robust)
    one_sided: FloatArray = np.where(difference > 0, p / 2.0, 1.0 - p / 2.0)
    return np.where(np.isnan(p), np.nan, one_sided)


def compare_with_best(
    matrix: FloatArray,
    oriented: FloatArray,
    best: int,
    order: Sequence[int],
    ids: Sequence[str],
    alpha: float = ALPHA,
    *,
    goal: str = "minimize",
    windows: Sequence[str] | None = None,
    robust: bool = True,
) -> tuple[dict[int, Comparison], SignificanceTest | None]:
    """Compare every configuration with the best, and the best with its closest contender.

    Args:
        matrix: configuration x window values in the objective's units (NaN = missing).
        oriented: the same, lower-is-better (negated when maximising).
        best: row of the best configuration.
        order: the leaderboard order of the rows (breaks ties between contenders).
        ids: configuration ids by row.
        alpha: the family-wise error rate of the claims (racing may use its own).
        goal: ``minimize`` or ``maximize`` (which scales are possible).
        windows: column names (for the flagged trials and the warnings).
        robust: False: the plain additive model, nothing flagged (the old behaviour,
            kept for the known-truth comparison in ``bench/statistics_sim.py``).

    Returns:
        Comparisons by row, and the test used (None when no test is possible).
    """
    names = list(windows) if windows is not None else [f"w{j}" for j in range(matrix.shape[1])]
    prepared = prepare(matrix, goal, names, robust)
    kept, scaled = prepared.kept, prepared.scaled
    log_scale = prepared.scale == "log"
    kept_oriented = np.where(np.isnan(kept), np.nan, oriented)
    present = ~np.isnan(kept)
    noise = fit_noise(scaled)
    n_configs = int((~np.isnan(matrix)).any(axis=1).sum())
    n_hypotheses = max(1, n_configs * (n_configs - 1) // 2)
    test = None
    if noise is not None:
        flagged = tuple(FlaggedTrial(ids[o.row], names[o.column], o.value, o.expected, o.t, o.p,
                                     o.ratio)
                        for o in prepared.outliers)
        test = SignificanceTest(
            ROBUST_METHOD.format(scale=prepared.scale) if robust else METHOD, alpha,
            math.sqrt(noise.variance), noise.df, n_hypotheses, noise.prior_df,
            prepared.scale, prepared.scale_reason, flagged, prepared.warnings)
    tested = noise is not None
    done: dict[int, Comparison] = {}
    for members in _pair_groups(present, best).values():
        rows = np.asarray(members, dtype=np.int64)
        columns = np.flatnonzero(present[members[0]] & present[best])
        diffs = kept[np.ix_(rows, columns)] - kept[best, columns][None, :]
        worse_by = kept_oriented[np.ix_(rows, columns)] - kept_oriented[best, columns][None, :]
        means = np.mean(diffs, axis=1)
        scaled_means = np.mean(scaled[np.ix_(rows, columns)] - scaled[best, columns][None, :],
                               axis=1)
        low, high = paired_t_intervals(diffs)
        sign_ps, wilcoxon_ps = sign_test_rows(diffs), wilcoxon_rows(diffs)
        n_pairs = len(columns)
        if tested and noise is not None:
            raw, adjusted, half = _tested(scaled_means, rows, best, n_pairs, noise,
                                          n_hypotheses, alpha)
            if log_scale:
                # The ratio interval of the lower-is-better values, at the best's level
                # on these windows, back in the objective's units.
                sign = 1.0 if goal == "minimize" else -1.0
                level = float(np.mean(kept_oriented[best, columns]))
                ends = (sign * level * np.expm1(sign * scaled_means - half),
                        sign * level * np.expm1(sign * scaled_means + half))
                sim_low, sim_high = np.minimum(*ends), np.maximum(*ends)
            else:
                sim_low, sim_high = means - half, means + half
        wins = np.sum(worse_by < 0, axis=1)
        losses = np.sum(worse_by > 0, axis=1)
        # Worse on the scale of the test (the same direction as the mean there).
        scaled_worse = scaled_means if goal == "minimize" else -scaled_means
        worse = scaled_worse > 0
        for k, i in enumerate(members):
            mean = float(means[k])
            done[i] = Comparison(
                reference=ids[best],
                n_pairs=n_pairs,
                wins=int(wins[k]),
                losses=int(losses[k]),
                ties=n_pairs - int(wins[k]) - int(losses[k]),
                mean_difference=mean,
                ci_low=None if math.isnan(low[k]) else float(low[k]),
                ci_high=None if math.isnan(high[k]) else float(high[k]),
                sign_test_p=sign_ps[k],
                wilcoxon_p=wilcoxon_ps[k],
                p_value=float(adjusted[k]) if tested else None,
                p_unadjusted=float(raw[k]) if tested else None,
                significant=tested and bool(worse[k]) and float(adjusted[k]) < alpha,
                simultaneous_low=float(sim_low[k]) if tested else None,
                simultaneous_high=float(sim_high[k]) if tested else None,
            )
    best_comparison = _leader(done, order, best, ids, alpha)
    if best_comparison is not None:
        done[best] = best_comparison
    return done, test


def _leader(
    done: dict[int, Comparison], order: Sequence[int], best: int, ids: Sequence[str],
    alpha: float,
) -> Comparison | None:
    """The best against its closest contender: the largest p of a claim "worse than it".

    A contender that is better than the best on their common windows (an incomplete
    one) cannot be claimed worse: its p counts as 1.
    """
    contenders = [i for i in order if i in done and i != best]
    if not contenders:
        return None

    def claim_p(i: int) -> float:
        comp = done[i]
        if comp.p_value is None:
            return math.inf
        return comp.p_value if comp.significant or comp.p_value >= alpha else 1.0

    position = {i: k for k, i in enumerate(contenders)}
    index = max(contenders, key=lambda i: (claim_p(i), -position[i]))
    closest, p = done[index], claim_p(index)
    return replace(
        closest,
        reference=ids[index],
        p_value=None if math.isinf(p) else p,
        wins=closest.losses,
        losses=closest.wins,
        mean_difference=-closest.mean_difference,
        ci_low=None if closest.ci_high is None else -closest.ci_high,
        ci_high=None if closest.ci_low is None else -closest.ci_low,
        simultaneous_low=None if closest.simultaneous_high is None else -closest.simultaneous_high,
        simultaneous_high=None if closest.simultaneous_low is None else -closest.simultaneous_low,
        significant=all(done[i].significant for i in contenders),
    )
