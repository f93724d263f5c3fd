"""Learning curves: where training converges, from the per-epoch histories of trials.

The original authors chose the epoch count by looking at learning curves; this module
turns many trials' histories into the one curve a user needs: the **median** of a
validation metric per epoch with its **interquartile range** (median and quartiles, not
mean and std, because a few diverging trials must not drag the curve), and the epoch
where the median **stops improving meaningfully**.

Histories are accepted in the two common shapes: a list of per-epoch objects
(``[{"epoch": 1, "loss": ..., "val_mse": ...}, ...]``, what the reference trainer writes
to ``history.json``; ``epoch`` is optional and then counts from 1) and Keras' dict of
lists (``{"loss": [...], "val_mse": [...]}``), optionally wrapped as ``{"history": ...}``.

Convergence rule: with ``m(e)`` the median curve oriented so lower is better, the total
improvement is ``m(first) - min(m)``; the convergence epoch is the first epoch after
which the curve never improves by more than ``tolerance`` (default 2%) of that total.
Only epochs reached by at least half of the trials are considered: with early stopping
the few trials that run longest are a biased sample, and their tail is noise.

**Windows are never pooled raw.** Windows' levels can differ several-fold (a hard month
has four times the error of an easy one), so a median over trials of all windows mixes
levels, and the mix changes from epoch to epoch as trials stop: such a curve can flatten
while every trial's own history is still improving (issue 14: "stops improving at epoch
5 of 15" for trials that improved until 15). So a trial is compared only with trials of
its own window (:func:`windowed_learning_curves`):

* each window gets its own median curve and convergence epoch;
* the sweep's convergence epoch is the **latest** of the windows' (cutting epochs where
  one window still improves would cut that window short);
* the one curve drawn across windows is **relative to each window's level**: a trial's
  values divided by its window's level (the median over the window's trials of their
  best value), so 1.0 is "where trials of this window end up" in every window. When a
  value is not positive a ratio means nothing, and the curve is the difference to the
  level instead (``relative``).

Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from tuningsweep.core.stats.summary import Goal

#: Share of the total improvement below which later gains do not count.
CONVERGENCE_TOLERANCE = 0.02
#: Epochs reached by fewer than this share of the trials are ignored for convergence.
MIN_TRIAL_SHARE = 0.5

Epochs = list[dict[str, float]]


class HistoryFormatError(ValueError):
    """A history is neither a list of per-epoch objects nor a dict of lists."""


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return None if math.isnan(number) or math.isinf(number) else number


def normalize_history(raw: object) -> Epochs:
    """Turn a history in any accepted shape into a list of per-epoch dicts.

    Each dict has an ``epoch`` key (1-based) and the numeric metrics of that epoch;
    non-numeric and non-finite values are dropped.

    Raises:
        HistoryFormatError: the object has neither accepted shape.
    """
    if isinstance(raw, Mapping) and "history" in raw and len(raw) <= 3:
        raw = raw["history"]
    if isinstance(raw, Mapping):
        columns = {str(k): v for k, v in raw.items() if isinstance(v, list)}
        if not columns:
            raise HistoryFormatError("history object has no per-epoch lists")
        length = max(len(v) for v in columns.values())
        rows: Epochs = [{} for _ in range(length)]
        for name, values in columns.items():
            for i, value in enumerate(values):
                number = _number(value)
                if number is not None:
                    rows[i][name] = number
        raw = rows
    if not isinstance(raw, list):
        raise HistoryFormatError("history is not a list of epochs or a dict of lists")
    epochs: Epochs = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise HistoryFormatError(f"history entry {i} is not an object")
        row = {str(k): n for k, v in item.items() if (n := _number(v)) is not None}
        row["epoch"] = row.get("epoch", float(i + 1))
        epochs.append(row)
    return epochs


def curve_metric(histories: Sequence[Epochs], objective: str) -> str | None:
    """The validation metric to plot: the objective if recorded, else a ``val_*`` one.

    Falls back to ``val_loss``, then the first ``val_*`` metric (sorted), then ``loss``.
    """
    names = {k for h in histories for row in h for k in row if k != "epoch"}
    if objective in names:
        return objective
    if "val_loss" in names:
        return "val_loss"
    validation = sorted(n for n in names if n.startswith("val_"))
    if validation:
        return validation[0]
    return "loss" if "loss" in names else None


@dataclass(frozen=True)
class CurvePoint:
    """The distribution of the metric over trials at one epoch."""

    epoch: int
    median: float
    q25: float
    q75: float
    count: int


@dataclass(frozen=True)
class WindowCurve:
    """One window's own curve, its level and the epoch where it converges."""

    window: str
    level: float
    curves: LearningCurves

    @property
    def still_improving(self) -> bool:
        """Converges only at its last solid epoch: more epochs might still help."""
        c = self.curves
        last = max((p.epoch for p in c.points if p.count >= c.needed), default=None)
        return c.converged_epoch is not None and len(c.points) > 1 and c.converged_epoch == last


@dataclass(frozen=True)
class LearningCurves:
    """Median and IQR per epoch and the epoch where the median converges.

    With several windows (:func:`windowed_learning_curves`), ``points`` are relative to
    each window's level (``relative`` says how: ``ratio`` or ``difference``),
    ``windows`` holds each window's own curve, and ``converged_epoch`` is the latest of
    theirs.
    """

    metric: str
    goal: Goal
    points: tuple[CurvePoint, ...]
    n_trials: int
    converged_epoch: int | None
    tolerance: float
    windows: tuple[WindowCurve, ...] = ()
    relative: Literal["", "ratio", "difference"] = ""

    @property
    def needed(self) -> int:
        """Trials an epoch must have to count for convergence (see the module doc)."""
        return max(1, math.ceil(MIN_TRIAL_SHARE * self.n_trials))


def converged_epoch(
    epochs: Sequence[int], medians: Sequence[float], goal: Goal, tolerance: float
) -> int | None:
    """First epoch after which the median never improves by more than ``tolerance``.

    ``tolerance`` is a share of the total improvement (first value minus best value).
    A curve that never improves converges at its first epoch.
    """
    if not epochs:
        return None
    oriented = [m if goal == "minimize" else -m for m in medians]
    total = oriented[0] - min(oriented)
    if total <= 0:
        return epochs[0]
    threshold = tolerance * total
    # Walking backwards, track the best value still to come.
    best_after = math.inf
    answer = epochs[-1]
    for epoch, value in zip(reversed(epochs), reversed(oriented), strict=True):
        if value - best_after > threshold:
            break
        answer = epoch
        best_after = min(best_after, value)
    return answer


def learning_curves(
    histories: Mapping[str, Epochs],
    metric: str,
    goal: Goal,
    tolerance: float = CONVERGENCE_TOLERANCE,
) -> LearningCurves | None:
    """Median and IQR of ``metric`` per epoch over trials, and its convergence epoch.

    Args:
        histories: per trial id, its normalised history (:func:`normalize_history`).
        metric: the metric to summarise (see :func:`curve_metric`).
        goal: direction of improvement of ``metric``.
        tolerance: see :func:`converged_epoch`.

    Returns:
        The curves, or None when no trial recorded ``metric``.
    """
    per_epoch: dict[int, list[float]] = {}
    n_trials = 0
    for history in histories.values():
        seen = False
        for row in history:
            if metric in row:
                per_epoch.setdefault(int(row["epoch"]), []).append(row[metric])
                seen = True
        n_trials += seen
    if not per_epoch:
        return None
    points: list[CurvePoint] = []
    for epoch in sorted(per_epoch):
        values = np.asarray(per_epoch[epoch], dtype=np.float64)
        q25, median, q75 = np.quantile(values, [0.25, 0.5, 0.75])
        points.append(CurvePoint(epoch, float(median), float(q25), float(q75), len(values)))
    needed = max(1, math.ceil(MIN_TRIAL_SHARE * n_trials))
    solid = [p for p in points if p.count >= needed]
    converged = converged_epoch(
        [p.epoch for p in solid], [p.median for p in solid], goal, tolerance
    )
    return LearningCurves(metric, goal, tuple(points), n_trials, converged, tolerance)


def _best(history: Epochs, metric: str, goal: Goal) -> float | None:
    values = [row[metric] for row in history if metric in row]
    if not values:
        return None
    return min(values) if goal == "minimize" else max(values)


def windowed_learning_curves(
    histories: Mapping[str, Epochs],
    window_of: Mapping[str, str],
    metric: str,
    goal: Goal,
    tolerance: float = CONVERGENCE_TOLERANCE,
) -> LearningCurves | None:
    """Learning curves that compare a trial only within its window (module docstring).

    Args:
        histories: per trial id, its normalised history.
        window_of: per trial id, its window id (trials without one form their own group).
        metric: the metric to summarise.
        goal: direction of improvement of ``metric``.
        tolerance: see :func:`converged_epoch`.

    Returns:
        Plain :func:`learning_curves` when the trials share one window; else the curves
        relative to each window's level with each window's own curve. None when no trial
        recorded ``metric``.
    """
    groups: dict[str, dict[str, Epochs]] = {}
    for trial, history in histories.items():
        groups.setdefault(window_of.get(trial, ""), {})[trial] = history
    if len(groups) <= 1:
        return learning_curves(histories, metric, goal, tolerance)
    windows: list[WindowCurve] = []
    for window in sorted(groups):
        own = learning_curves(groups[window], metric, goal, tolerance)
        bests = [b for h in groups[window].values() if (b := _best(h, metric, goal)) is not None]
        if own is not None and bests:
            windows.append(WindowCurve(window, float(np.median(bests)), own))
    if not windows:
        return None
    if len(windows) == 1:
        return replace(windows[0].curves, windows=tuple(windows))
    levels = {w.window: w.level for w in windows}
    positive = all(level > 0 for level in levels.values()) and all(
        row[metric] > 0 for h in histories.values() for row in h if metric in row)
    relative: dict[str, Epochs] = {}
    for window, trials in groups.items():
        if window not in levels:
            continue
        level = levels[window]
        for trial, history in trials.items():
            relative[trial] = [
                {"epoch": row["epoch"],
                 metric: row[metric] / level if positive else row[metric] - level}
                for row in history if metric in row]
    pooled = learning_curves(relative, metric, goal, tolerance)
    if pooled is None:
        return None
    epochs = [w.curves.converged_epoch for w in windows if w.curves.converged_epoch is not None]
    return replace(pooled, converged_epoch=max(epochs, default=None), windows=tuple(windows),
                   relative="ratio" if positive else "difference")
