"""Which parameter values matter: the objective per parameter value, and importance.

The unit of observation is one configuration's **score**: its mean objective over the
windows it ran, **adjusted for how hard those windows are** (the window shifts of the
additive model fitted to every result, diverged trials left out of that fit: see
:mod:`tuningsweep.core.stats.robust`). For a configuration that ran every window the score is
exactly its leaderboard mean, the statistic that picks the winner, so the trends rank
configurations as the leaderboard does; a configuration racing eliminated, or one with a
failed trial, counts too, on the windows it ran, instead of being left out (``basis`` is
``complete`` when every configuration ran every window, ``adjusted`` otherwise, and
``all``, plain means, when the windows cannot be linked by common configurations).
A diverged trial stays in its configuration's score: it did diverge.

* **Levels.** A parameter with at most ``max_levels`` distinct values (every grid
  parameter, choices) is grouped by value. A numeric parameter with more distinct values
  (a random draw from a range) is grouped into ``n_bins`` **quantile bins**: equal-count
  bins follow the sampled distribution, so a log-scaled learning rate gets sensible bins
  without knowing the scale. Bins are half-open ``[low, high)``, the last one closed.
* **Per level**: median, mean, sample standard deviation (``None`` for one configuration)
  and count of the configurations' scores. The **best value** is the level with the best
  **median**: one configuration that diverged moves a mean without bound (it marked
  ``hidden_units=64`` best while the winner had 16) but a median of 3 or more not at all.
* **Importance** of a parameter is the share of the variance of the configurations'
  **ranks** (by score, as the leaderboard ranks them) explained by grouping on it alone:
  between-level over total sum of squares of the ranks (the eta-squared of a one-way
  ANOVA on ranks, i.e. Kruskal-Wallis). Ranks keep one outlying configuration from
  claiming the whole variance. It is in ``[0, 1]``, can be checked by hand, and is
  **not normalised** across parameters: each figure answers "how much does knowing this
  parameter tell me about the ranking?" by itself. In a grid the shares roughly add up
  to at most 1, the rest being interactions and noise; with correlated parameters (a
  staged search) they can add up to more.
* **Interaction** of the two most important parameters: the mean score per pair of
  levels, so a user sees whether the best value of one depends on the other.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tuningsweep.core.records.results import ParamValue
from tuningsweep.core.stats.noise import additive_fit
from tuningsweep.core.stats.significance import average_ranks
from tuningsweep.core.stats.summary import Goal, Summary

LevelValue = ParamValue
#: Parameters with more distinct numeric values than this are binned.
MAX_LEVELS = 10
#: Number of quantile bins for binned parameters.
N_BINS = 5


@dataclass(frozen=True)
class Level:
    """One value (or bin of values) of a parameter and the objective there."""

    value: LevelValue
    mean: float
    std: float | None
    count: int
    low: float | None = None
    high: float | None = None
    #: The median score (what decides the best value); the mean when left unset.
    median: float | None = None

    @property
    def centre(self) -> float:
        """The statistic that ranks levels: the median score."""
        return self.mean if self.median is None else self.median


@dataclass(frozen=True)
class ParameterTrend:
    """The objective's trend along one parameter."""

    name: str
    binned: bool
    levels: tuple[Level, ...]
    importance: float
    best_value: LevelValue | None


@dataclass(frozen=True)
class Interaction:
    """Mean objective for each pair of levels of two parameters (``None``: no config)."""

    params: tuple[str, str]
    row_values: tuple[LevelValue, ...]
    column_values: tuple[LevelValue, ...]
    means: tuple[tuple[float | None, ...], ...]
    counts: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Trends:
    """Trends of every parameter, most important first, and the top interaction."""

    parameters: tuple[ParameterTrend, ...]
    interaction: Interaction | None
    n_configs: int
    basis: Literal["complete", "adjusted", "all"]

    def parameter(self, name: str) -> ParameterTrend:
        """Return one parameter's trend by name (KeyError if unknown)."""
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _level_sort_key(value: LevelValue) -> tuple[int, float, str]:
    if _is_number(value):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def _format_edge(value: float) -> str:
    return f"{value:.4g}"


@dataclass(frozen=True)
class _Grouping:
    labels: list[LevelValue]        # one level label per observation
    order: list[LevelValue]         # level labels in display order
    bounds: dict[LevelValue, tuple[float, float]]
    binned: bool


def _group(values: Sequence[ParamValue], max_levels: int, n_bins: int) -> _Grouping:
    distinct = set(values)
    numeric = all(_is_number(v) for v in distinct)
    if not numeric or len(distinct) <= max_levels:
        labels: list[LevelValue] = list(values)
        if not numeric:
            labels = [v if isinstance(v, str) else str(v) for v in values]
        order = sorted(set(labels), key=_level_sort_key)
        return _Grouping(labels, order, {}, binned=False)
    array = np.asarray([float(v) for v in values], dtype=np.float64)
    edges = np.unique(np.quantile(array, np.linspace(0.0, 1.0, n_bins + 1)))
    inner = edges[1:-1]
    index = np.searchsorted(inner, array, side="right")
    names: list[LevelValue] = []
    bounds: dict[LevelValue, tuple[float, float]] = {}
    for b in range(len(edges) - 1):
        lo, hi = float(edges[b]), float(edges[b + 1])
        closing = "]" if b == len(edges) - 2 else ")"
        name = f"[{_format_edge(lo)}, {_format_edge(hi)}{closing}"
        names.append(name)
        bounds[name] = (lo, hi)
    bin_labels: list[LevelValue] = [names[int(i)] for i in index]
    used = set(bin_labels)
    return _Grouping(bin_labels, [n for n in names if n in used], bounds, binned=True)


def _mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    mean = math.fsum(values) / len(values)
    if len(values) < 2:
        return mean, None
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _eta_squared(groups: Mapping[LevelValue, Sequence[float]]) -> float:
    everything = [v for vs in groups.values() for v in vs]
    if len(everything) < 2:
        return 0.0
    grand = math.fsum(everything) / len(everything)
    total = math.fsum((v - grand) ** 2 for v in everything)
    if total <= 0.0:
        return 0.0
    between = math.fsum(
        len(vs) * (math.fsum(vs) / len(vs) - grand) ** 2 for vs in groups.values() if vs
    )
    return min(1.0, max(0.0, between / total))


def _better(a: float, b: float, goal: Goal) -> bool:
    return a < b if goal == "minimize" else a > b


def compute_trends(
    points: Sequence[tuple[Mapping[str, ParamValue], float]],
    goal: Goal,
    *,
    max_levels: int = MAX_LEVELS,
    n_bins: int = N_BINS,
    basis: Literal["complete", "adjusted", "all"] = "complete",
) -> Trends:
    """Compute per-parameter trends, importance and the top interaction.

    Args:
        points: one ``(params, mean objective)`` pair per configuration.
        goal: which direction is better (for ``best_value``).
        max_levels: numeric parameters with more distinct values are binned.
        n_bins: quantile bins for binned parameters.
        basis: recorded in the result: which configurations the points came from.

    Returns:
        Trends with parameters sorted by importance (descending, then name).
    """
    names = sorted({p for params, _ in points for p in params})
    trends: list[ParameterTrend] = []
    groupings: dict[str, tuple[_Grouping, list[int]]] = {}
    for name in names:
        present = [i for i, (params, _) in enumerate(points) if name in params]
        grouping = _group([points[i][0][name] for i in present], max_levels, n_bins)
        groupings[name] = (grouping, present)
        by_level: dict[LevelValue, list[float]] = {label: [] for label in grouping.order}
        rank_level: dict[LevelValue, list[float]] = {label: [] for label in grouping.order}
        ranks = average_ranks([points[i][1] for i in present])
        for label, i, rank in zip(grouping.labels, present, ranks, strict=True):
            by_level[label].append(points[i][1])
            rank_level[label].append(rank)
        levels: list[Level] = []
        best: Level | None = None
        for label in grouping.order:
            mean, std = _mean_std(by_level[label])
            lo, hi = grouping.bounds.get(label, (None, None))
            median = float(np.median(by_level[label]))
            level = Level(label, mean, std, len(by_level[label]), lo, hi, median)
            levels.append(level)
            if best is None or _better(level.centre, best.centre, goal):
                best = level
        trends.append(ParameterTrend(
            name=name,
            binned=grouping.binned,
            levels=tuple(levels),
            importance=_eta_squared(rank_level),
            best_value=best.value if best is not None and len(levels) > 1 else None,
        ))
    trends.sort(key=lambda t: (-t.importance, t.name))
    varying = [t for t in trends if len(t.levels) > 1]
    interaction = None
    if len(varying) >= 2:
        interaction = _interaction(points, varying[0], varying[1], groupings)
    return Trends(tuple(trends), interaction, len(points), basis)


def _interaction(
    points: Sequence[tuple[Mapping[str, ParamValue], float]],
    first: ParameterTrend,
    second: ParameterTrend,
    groupings: Mapping[str, tuple[_Grouping, list[int]]],
) -> Interaction:
    label_of: dict[str, dict[int, LevelValue]] = {}
    for name in (first.name, second.name):
        grouping, present = groupings[name]
        label_of[name] = dict(zip(present, grouping.labels, strict=True))
    rows = [lv.value for lv in first.levels]
    columns = [lv.value for lv in second.levels]
    cells: dict[tuple[LevelValue, LevelValue], list[float]] = {}
    for i, (_, objective) in enumerate(points):
        a = label_of[first.name].get(i)
        b = label_of[second.name].get(i)
        if a is not None and b is not None:
            cells.setdefault((a, b), []).append(objective)
    means = tuple(
        tuple(
            math.fsum(cells[(a, b)]) / len(cells[(a, b)]) if (a, b) in cells else None
            for b in columns
        )
        for a in rows
    )
    counts = tuple(tuple(len(cells.get((a, b), ())) for b in columns) for a in rows)
    return Interaction((first.name, second.name), tuple(rows), tuple(columns), means, counts)


def adjusted_scores(summary: Summary) -> tuple[dict[str, float], bool]:
    """Each configuration's mean over its windows, adjusted for those windows' difficulty.

    ``score = mean over its windows of (value - shift of the window) + mean shift``, the
    shifts fitted by the additive model on every result except the trials the summary
    flagged as outliers. Exactly the plain mean for a configuration that ran every
    window. Returns the scores and whether they are adjusted (False: plain means,
    because the windows share no configuration and their shifts cannot be told apart).
    """
    windows = list(summary.windows)
    rows = [c for c in summary.configs if c.mean is not None]
    if not rows or not windows:
        return {}, False
    flagged = {(t.config, t.window) for t in summary.test.outliers} if summary.test else set()
    matrix = np.full((len(rows), len(windows)), np.nan)
    for i, c in enumerate(rows):
        for j, w in enumerate(windows):
            if w in c.per_window and (c.config, w) not in flagged:
                matrix[i, j] = c.per_window[w]
    fit = additive_fit(matrix)
    present = ~np.isnan(matrix)
    used_rows = int(present.any(axis=1).sum())
    used_columns = int(present.any(axis=0).sum())
    rank = int(present.sum()) - used_rows - fit.df
    linked = used_columns == len(windows) and rank == len(windows) - 1
    if not linked:
        return {c.config: float(c.mean) for c in rows if c.mean is not None}, False
    shifts = fit.shifts
    average = float(np.mean(shifts))
    scores = {}
    for c in rows:
        adjusted = [v - float(shifts[windows.index(w)]) for w, v in c.per_window.items()]
        scores[c.config] = math.fsum(adjusted) / len(adjusted) + average
    return scores, True


def trends_from_summary(
    summary: Summary, *, max_levels: int = MAX_LEVELS, n_bins: int = N_BINS
) -> Trends:
    """Trends over every configuration with a result, scored as the leaderboard ranks.

    See the module docstring: complete configurations by their mean, the others by
    their mean adjusted for the windows they ran (racing's eliminated ones included).
    """
    scores, adjusted = adjusted_scores(summary)
    points: list[tuple[Mapping[str, ParamValue], float]] = [
        (c.params, scores[c.config]) for c in summary.configs if c.config in scores
    ]
    every = all(c.complete for c in summary.configs if c.config in scores)
    basis: Literal["complete", "adjusted", "all"] = (
        "complete" if every else ("adjusted" if adjusted else "all"))
    return compute_trends(points, summary.goal, max_levels=max_levels, n_bins=n_bins,
                          basis=basis)
