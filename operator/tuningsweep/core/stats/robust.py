"""Before comparing: the scale, the trials that diverged, and whether the model fits.

The comparisons (:mod:`tuningsweep.core.stats.comparisons`) rest on the additive model
``value = level of the configuration + shift of the window + noise``. Real training
breaks it in two common ways, and this module finds both before any test is made:

* **A diverged or broken trial** (one learning rate that blows up on one window: val_mse
  121 where the others are 2-30) inflates the residual noise of the whole sweep and
  erases every difference. The most extreme cells, by studentized residual, are each
  predicted from the model fitted **without them**, and judged against the moderated
  noise of their own configuration fitted without them too
  (:func:`tuningsweep.core.stats.noise.fit_noise`): under the model the prediction error
  divided by its standard error follows Student's t with that configuration's degrees
  of freedom. The cell is flagged when its two-sided p-value, multiplied by the number
  of cells tested (Bonferroni), is below :data:`OUTLIER_ALPHA`; it is then left out and
  the search repeated, up to :data:`MAX_OUTLIER_SHARE` of the cells (at most
  :data:`MAX_OUTLIERS`). With equally noisy
  configurations this is the classical outlier test, and a sweep flags a trial by
  mistake about 1% of the time; when configurations differ in noise, the moderation's
  prior has few degrees of freedom, the t has heavy tails, and a merely noisy
  configuration's large residual is not taken for a divergence (judging it by the
  pooled noise did, and made wrong claims in 6% of such sweeps). A flagged trial stays
  in its configuration's mean and ranks (it did diverge, and a configuration that
  diverges should not win), but is left out of the noise estimate and of every paired
  comparison.
* **The ratio rule.** A configuration can diverge on most of its windows (a learning
  rate of 1.0 on 2 of 3): then its one sound trial is what the model calls odd. So,
  before the test above, a positive lower-is-better value (an error, a loss) at least
  :data:`DIVERGED_RATIO` times the median of its window over the configurations is
  flagged as diverged, whatever its configuration does elsewhere: no sound run of an
  error metric is 5 times the typical one in the same window, while a diverged one is
  10-1000 times. The median does not move with any number of diverged trials below
  half the window's.
* **Effects that scale with the window** (the hardest window's errors 2-3x the easiest's,
  and the gaps between configurations with them): an error metric (MSE, log-loss,
  latency) is often multiplicative, ``value = level x window factor x noise``, which is
  additive on the log scale. When the lower-is-better values (the objective, negated
  when maximised) are all positive, as errors, losses and costs are, the scale is chosen by the Box-Cox profile log-likelihood of the additive fit at
  ``lambda = 1`` (the metric's units) and ``lambda = 0`` (its logarithm), on the cells
  neither scale flags: the log scale when it is better by at least
  :data:`LOG_SCALE_MARGIN` (a likelihood ratio of e^2, about 7). A maximised accuracy
  (negative once negated) and anything with a value <= 0 stay in their units. Deciding
  on the lower-is-better values keeps the verdict the same when a user maximises the
  negated metric instead.

And it says when the model's assumptions visibly fail on the scale chosen
(:func:`model_warnings`): Tukey's one-degree-of-freedom test for non-additivity (the
gaps between configurations grow or shrink with the window's level) at p < 0.01, and one
window where the configurations differ :data:`DOMINANCE_RATIO` times more (in variance)
than in the others on average, which then decides any mean over windows by itself.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from tuningsweep.core.stats.noise import additive_fit, fit_noise
from tuningsweep.core.stats.significance import FloatArray, t_two_sided_p

Scale = Literal["linear", "log"]
BoolArray = npt.NDArray[np.bool_]

#: Family-wise rate at which a sweep flags a trial as an outlier when none is.
OUTLIER_ALPHA = 0.01
#: At most this share of the cells, and this many, are flagged by the residual rule (more
#: is not "a few broken trials", and each costs a refit: summary.csv is rewritten often).
MAX_OUTLIER_SHARE = 0.1
MAX_OUTLIERS = 10
#: Residual degrees of freedom needed before any cell is tested.
MIN_OUTLIER_DF = 4
#: Box-Cox log-likelihood by which the log scale must beat the metric's units.
LOG_SCALE_MARGIN = 2.0
#: p-value below which Tukey's test for non-additivity makes a warning.
NONADDITIVITY_ALPHA = 0.01
#: A window whose between-configuration variance is this many times the others' mean.
DOMINANCE_RATIO = 4.0
#: A positive error this many times its window's median over configurations has diverged.
DIVERGED_RATIO = 5.0
#: Configurations with a value a window needs before the ratio rule applies to it.
MIN_CONFIGS_FOR_RATIO = 4
#: How many of the most extreme cells are judged against their configuration's noise.
CANDIDATES = 3
#: 1: flag only trials worse than predicted (diverged); 0: both directions (also a broken
#: trial that looks too good). Both: leaving out only one side's extremes would bias the
#: comparisons of a configuration that is merely noisy.
FLAG_DIRECTION = 0.0
_TINY = 1e-300


@dataclass(frozen=True)
class Outlier:
    """A trial left out of the comparisons: row and column of the matrix and why.

    ``value`` is the result, ``expected`` what the model fitted without it predicts
    (both in the objective's units), ``t`` its standardised prediction error on the
    comparison scale and ``p`` the Bonferroni-adjusted p-value that flagged it (NaN
    for a trial flagged by the ratio rule, which sets ``ratio``).
    """

    row: int
    column: int
    value: float
    expected: float
    t: float
    p: float
    #: Set when flagged by the ratio rule: the value over its window's median.
    ratio: float | None = None


@dataclass(frozen=True)
class Prepared:
    """A matrix made ready for the comparisons.

    ``kept`` is the matrix in the objective's units with the outliers blanked (NaN);
    ``scaled`` the same on the comparison scale.
    """

    scale: Scale
    scale_reason: str
    kept: FloatArray
    scaled: FloatArray
    outliers: tuple[Outlier, ...]
    warnings: tuple[str, ...]


def leverages(present: BoolArray) -> FloatArray:
    """Diagonal of the hat matrix of the additive design on the present cells (NaN elsewhere).

    For cell ``(i, j)``: ``1/n_i + z' A^+ z`` with ``z = e_j - m_i / n_i`` (``m_i`` row
    ``i``'s window indicators) and ``A`` the window system of
    :func:`tuningsweep.core.stats.noise.additive_fit`; ``1/C + 1/W - 1/(CW)`` when complete.
    """
    mask = present.astype(np.float64)
    per_row = mask.sum(axis=1)
    h = np.full(present.shape, np.nan)
    rows = per_row > 0
    if not rows.any():
        return h
    m, n = mask[rows], per_row[rows][:, None]
    system = np.diag(m.sum(axis=0)) - (m / n).T @ m
    inverse = np.linalg.pinv(system)
    projected = m @ inverse
    quadratic = np.sum(projected * m, axis=1)[:, None]
    inner = 1.0 / n + np.diag(inverse)[None, :] - 2.0 * projected / n + quadratic / n**2
    h[rows] = np.where(present[rows], inner, np.nan)
    return h


def studentized_residuals(values: FloatArray) -> tuple[FloatArray, int] | None:
    """Externally studentized residuals of the additive model and their t degrees of freedom.

    NaN for missing cells and cells the model fits exactly (a configuration with one
    window). None when there are too few residual degrees of freedom.
    """
    fit = additive_fit(values)
    if fit.df < MIN_OUTLIER_DF:
        return None
    present = ~np.isnan(values)
    h = leverages(present)
    rss = float(np.sum(fit.residual**2))
    with np.errstate(divide="ignore", invalid="ignore"):
        room = 1.0 - h
        # A configuration's only window, or a window's only configuration, is fitted
        # exactly (h = 1): nothing can be said about it; rounding must not make it extreme.
        alone = (present.sum(axis=1) < 2)[:, None] | (present.sum(axis=0) < 2)[None, :]
        testable = present & ~alone & (room > 1e-6)
        deleted = (rss - fit.residual**2 / room) / (fit.df - 1)
        t = np.where(testable & (deleted > _TINY),
                     fit.residual / np.sqrt(np.maximum(deleted, _TINY) * room), np.nan)
    return t, fit.df - 1


def flag_outliers(values: FloatArray, worse: float = 1.0) -> list[tuple[int, int, float, float]]:
    """Cells far worse than the additive model predicts: ``(row, column, t, adjusted p)``.

    One at a time (then refitted without it), see the module docstring: the
    :data:`CANDIDATES` most extreme cells by studentized residual are each predicted
    from the fit without them and judged against their own configuration's moderated
    noise, fitted without them too (:func:`tuningsweep.core.stats.noise.fit_noise`): the
    predictive distribution is Student's t with that configuration's degrees of freedom.
    When the configurations are equally noisy this is the classical outlier test; when
    some are much noisier than others, the prior degrees of freedom are few, its tails
    heavy, and a noisy configuration's large residual is not taken for a divergence.
    ``values`` is on the comparison scale; NaN = missing. ``worse`` is +1 when higher
    values are worse (minimised), -1 when lower ones are; 0 looks both ways.
    """
    flagged: list[tuple[int, int, float, float]] = []
    current = values.copy()
    limit = min(MAX_OUTLIERS, int(MAX_OUTLIER_SHARE * int(np.sum(~np.isnan(values)))))
    while len(flagged) < limit:
        studentized = studentized_residuals(current)
        if studentized is None:
            break
        t, _ = studentized
        tested = int(np.sum(~np.isnan(t)))
        directed = np.abs(t) if worse == 0 else worse * t
        order = np.argsort(np.where(np.isnan(directed), np.inf, -directed), axis=None)
        h = leverages(~np.isnan(current))
        found = None
        for flat in order[:CANDIDATES]:
            i, j = np.unravel_index(int(flat), t.shape)
            if not directed[i, j] > 0:
                break
            without = current.copy()
            without[i, j] = np.nan
            noise = fit_noise(without)
            fit = additive_fit(without)
            if noise is None or noise.config_variance[i] <= _TINY:
                continue
            deleted = float(current[i, j] - fit.levels[i] - fit.shifts[j])
            score = deleted / math.sqrt(float(noise.config_variance[i]) / (1.0 - float(h[i, j])))
            p_two = float(t_two_sided_p(np.asarray([score]), float(noise.config_df[i]))[0])
            p = min(1.0, p_two * (0.5 if worse else 1.0) * tested)
            if p < OUTLIER_ALPHA:
                found = (int(i), int(j), score, p)
                break
        if found is None:
            break
        flagged.append(found)
        current[found[0], found[1]] = np.nan
    return flagged


def diverged_cells(lower_is_better: FloatArray) -> list[tuple[int, int, float]]:
    """Trials :data:`DIVERGED_RATIO` times their window's median or worse: ``(row, column, ratio)``.

    For positive lower-is-better values only (an error, a loss), in windows with at
    least :data:`MIN_CONFIGS_FOR_RATIO` values. The median over configurations is not
    moved by any number of diverged trials below half of them, which a model with a
    level per configuration cannot promise when one configuration diverges on most
    of its windows.
    """
    out: list[tuple[int, int, float]] = []
    for j in range(lower_is_better.shape[1]):
        column = lower_is_better[:, j]
        present = ~np.isnan(column)
        if int(present.sum()) < MIN_CONFIGS_FOR_RATIO:
            continue
        median = float(np.median(column[present]))
        if median <= 0:
            continue
        for i in np.flatnonzero(present & (column > DIVERGED_RATIO * median)):
            out.append((int(i), j, float(column[i]) / median))
    return out


def _blank(values: FloatArray, cells: Sequence[tuple[int, int, float, float]]) -> FloatArray:
    out = values.copy()
    for i, j, _, _ in cells:
        out[i, j] = np.nan
    return out


def choose_scale(matrix: FloatArray, goal: str,
                 excluded: BoolArray | None = None) -> tuple[Scale, str]:
    """The comparison scale and why (see the module docstring): ``linear`` or ``log``."""
    present = ~np.isnan(matrix)
    if goal != "minimize":
        matrix = -matrix  # the lower-is-better values: positive for a negated error
    if np.any(matrix[present] <= 0):
        return "linear", ("some lower-is-better values are not positive: compared in the "
                          "metric's units")
    keep = present if excluded is None else present & ~excluded
    linear = additive_fit(np.where(keep, matrix, np.nan))
    logged = additive_fit(np.where(keep, np.log(np.where(keep, matrix, 1.0)), np.nan))
    if linear.df <= 0:
        return "linear", "too few results to choose a scale: compared in the metric's units"
    n = int(keep.sum())
    rss_linear = float(np.sum(linear.residual**2))
    rss_log = float(np.sum(logged.residual**2))
    if rss_linear <= _TINY or rss_log <= _TINY:
        return "linear", "the additive model fits exactly: compared in the metric's units"
    jacobian = float(np.sum(np.log(matrix[keep])))
    at_linear = -0.5 * n * math.log(rss_linear / n)
    at_log = -0.5 * n * math.log(rss_log / n) - jacobian
    if at_log >= at_linear + LOG_SCALE_MARGIN:
        return "log", (f"differences scale with the window's level: the additive model fits "
                       f"the logarithm better (Box-Cox log-likelihood {at_log:.1f} vs "
                       f"{at_linear:.1f}), so configurations are compared by ratios")
    return "linear", (f"the additive model fits the metric's units as well as its logarithm "
                      f"(Box-Cox log-likelihood {at_linear:.1f} vs {at_log:.1f})")


def prepare(matrix: FloatArray, goal: str, windows: Sequence[str] | None = None,
            robust: bool = True) -> Prepared:
    """Choose the scale, flag outliers and check the model for a configuration x window matrix.

    Args:
        matrix: values in the objective's units (NaN = missing).
        goal: ``minimize`` or ``maximize`` (only a minimised objective may go on a log scale).
        windows: column names, for the warnings' text.
        robust: False gives the plain additive model in the metric's units with nothing
            flagged (what the report did before; kept for the known-truth comparison).
    """
    names = list(windows) if windows is not None else [f"w{j}" for j in range(matrix.shape[1])]
    if not robust:
        return Prepared("linear", "the metric's units", matrix, matrix, (), ())
    sign = 1.0 if goal == "minimize" else -1.0
    positive = bool(np.all(sign * matrix[~np.isnan(matrix)] > 0))
    blown = diverged_cells(sign * matrix) if positive else []
    base = matrix.copy()
    for i, j, _ in blown:
        base[i, j] = np.nan
    on_linear = flag_outliers(base, FLAG_DIRECTION * sign)
    # On the log scale, sign * log(lower-is-better value): differences keep the
    # direction of the objective's own.
    logged = None
    if positive:
        with np.errstate(invalid="ignore"):
            logged = sign * np.log(np.where(np.isnan(matrix), np.nan, sign * matrix))
    on_log = flag_outliers(_blank(logged, [(i, j, 0.0, 0.0) for i, j, _ in blown]),
                           FLAG_DIRECTION * sign) if logged is not None else []
    excluded = np.zeros(matrix.shape, dtype=bool)
    cells_seen = [(i, j) for i, j, _ in blown] + [(i, j) for i, j, _, _ in (*on_linear, *on_log)]
    for row, column in cells_seen:
        excluded[row, column] = True
    scale, reason = choose_scale(matrix, goal, excluded)
    scaled = logged if scale == "log" and logged is not None else matrix.copy()
    cells = [(i, j, math.nan, math.nan) for i, j, _ in blown]
    cells += on_log if scale == "log" else on_linear
    kept_scaled = _blank(scaled, cells)
    fit = additive_fit(kept_scaled)
    outliers = []
    ratios = {(i, j): ratio for i, j, ratio in blown}
    for i, j, t, p in cells:
        expected = float(fit.levels[i] + fit.shifts[j])
        if scale == "log":
            expected = sign * math.exp(sign * expected)
        outliers.append(Outlier(i, j, float(matrix[i, j]), expected, t, p,
                                ratios.get((i, j))))
    return Prepared(scale, reason, _blank(matrix, cells), kept_scaled, tuple(outliers),
                    model_warnings(kept_scaled, names, scale))


def nonadditivity_p(values: FloatArray) -> tuple[float, float] | None:
    """Tukey's one-degree-of-freedom test for non-additivity: ``(p, direction)``.

    The residuals are regressed on the product of the configuration and window effects
    (projected off the additive model, so incomplete matrices work too); a positive
    direction means the gaps between configurations grow with the window's level. None
    when too few degrees of freedom are left.
    """
    fit = additive_fit(values)
    if fit.df < 3:
        return None
    present = ~np.isnan(values)
    a = fit.levels - np.nanmean(fit.levels)
    b = fit.shifts - np.nanmean(fit.shifts)
    product = np.where(present, np.nan_to_num(a)[:, None] * np.nan_to_num(b)[None, :], np.nan)
    q = additive_fit(product).residual
    denominator = float(np.sum(q**2))
    rss = float(np.sum(fit.residual**2))
    if denominator <= _TINY or rss <= _TINY:
        return None
    numerator = float(np.sum(fit.residual * q))
    explained = numerator**2 / denominator
    rest = (rss - explained) / (fit.df - 1)
    if rest <= _TINY:
        return 0.0, numerator
    p = float(t_two_sided_p(np.asarray([math.sqrt(explained / rest)]), fit.df - 1)[0])
    return p, numerator


def dominant_window(values: FloatArray) -> tuple[int, float] | None:
    """The window where complete configurations differ most, if ``DOMINANCE_RATIO`` x the rest.

    Returns ``(column, ratio of its variance to the other windows' mean variance)``.
    """
    complete = ~np.isnan(values).any(axis=1)
    if int(complete.sum()) < 3 or values.shape[1] < 2:
        return None
    spread = np.var(values[complete], axis=0, ddof=1)
    j = int(np.argmax(spread))
    rest = float(np.mean(np.delete(spread, j)))
    if rest <= _TINY:
        return None
    ratio = float(spread[j]) / rest
    return (j, ratio) if ratio >= DOMINANCE_RATIO else None


def model_warnings(values: FloatArray, windows: Sequence[str], scale: Scale) -> tuple[str, ...]:
    """Sentences for each visible failure of the additive model on ``values`` (its scale)."""
    units = "logarithm" if scale == "log" else "metric's units"
    out: list[str] = []
    tukey = nonadditivity_p(values)
    if tukey is not None and tukey[0] < NONADDITIVITY_ALPHA:
        grow = "grow" if tukey[1] > 0 else "shrink"
        out.append(
            f"the gaps between configurations {grow} with the window's level (Tukey's test "
            f"for non-additivity on the {units}, p = {tukey[0]:.2g}): the comparisons assume "
            "they do not, so their p-values are approximate")
    dominant = dominant_window(values)
    if dominant is not None:
        j, ratio = dominant
        out.append(
            f"window {windows[j]} dominates: configurations differ {ratio:.1f}x more there "
            f"(variance, on the {units}) than in the other windows on average, so a mean "
            "over windows is decided mostly by it")
    return tuple(out)
