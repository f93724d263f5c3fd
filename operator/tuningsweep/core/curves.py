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

Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tuningsweep.core.summary import Goal

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
class LearningCurves:
    """Median and IQR per epoch and the epoch where the median converges."""

    metric: str
    goal: Goal
    points: tuple[CurvePoint, ...]
    n_trials: int
    converged_epoch: int | None
    tolerance: float


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
