"""How far each configuration is from a naive baseline, so "best" cannot hide "no better
than doing nothing".

A trainer may report ``baseline_<metric>`` beside ``<metric>`` in its final metrics: the
same metric for a naive prediction on the same validation rows (the reference trainer
predicts the training rows' mean of the target; a classifier would predict the majority
class). Every trial of a window sees the same split, so a window's baseline is the
median of its trials' reports (robust to one trial that computed it differently).

A configuration's distance from the baseline is its **relative improvement**, window by
window, oriented so that positive is better: ``(baseline - value) / |baseline|`` for a
metric to minimise, ``(value - baseline) / |baseline|`` to maximise; its mean over the
windows the configuration ran, and the number of those windows in which it beat the
baseline. Relative, because errors scale with a window's difficulty (issue 22): a
window twice as hard has twice the baseline error and twice the gaps. A window whose
baseline is 0 has no relative scale and is left out.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ..records.results import ResultRow
from ..spec.model import BASELINE_PREFIX


def baseline_metric(metric: str) -> str:
    """The name a trainer reports ``metric``'s naive baseline under."""
    return BASELINE_PREFIX + metric


@dataclass(frozen=True)
class VersusBaseline:
    """One configuration against the baseline.

    Attributes:
        improvement: mean relative improvement over the baseline (0.23: 23% better;
            negative: worse than doing nothing).
        beaten: windows in which the configuration was better than the baseline.
        windows: windows compared (those with both a value and a baseline).
    """

    improvement: float
    beaten: int
    windows: int

    @property
    def better(self) -> bool:
        """Better than the baseline on average and in every window compared."""
        return self.improvement > 0 and self.beaten == self.windows


@dataclass(frozen=True)
class BaselineComparison:
    """The baseline of each window and every configuration's distance from it."""

    metric: str
    per_window: Mapping[str, float]
    configs: Mapping[str, VersusBaseline]


def compare_with_baseline(rows: Sequence[ResultRow], metric: str,
                          goal: Literal["minimize", "maximize"]) -> BaselineComparison | None:
    """The comparison (None when no succeeded trial reported ``baseline_<metric>``)."""
    name = baseline_metric(metric)
    reported: dict[str, list[float]] = {}
    for r in rows:
        value = r.metrics.get(name)
        if r.status == "succeeded" and value is not None and math.isfinite(value):
            reported.setdefault(r.window, []).append(value)
    if not reported:
        return None
    per_window = {w: statistics.median(values) for w, values in sorted(reported.items())}
    sign = 1.0 if goal == "maximize" else -1.0
    gains: dict[str, list[float]] = {}
    for r in rows:
        value = r.metrics.get(metric)
        base = per_window.get(r.window)
        if r.status != "succeeded" or value is None or base is None or base == 0:
            continue
        if math.isfinite(value):
            gains.setdefault(r.config, []).append(sign * (value - base) / abs(base))
    configs = {c: VersusBaseline(statistics.fmean(g), sum(1 for x in g if x > 0), len(g))
               for c, g in sorted(gains.items())}
    return BaselineComparison(name, per_window, configs)
