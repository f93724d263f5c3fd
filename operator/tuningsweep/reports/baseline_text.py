"""The baseline in words and cells, for every rendering (:mod:`tuningsweep.core.stats.baseline`).

A configuration's cell reads ``+23% 3/3``: 23% better than the naive baseline on
average, better in 3 of the 3 windows compared; ``-4% 1/3`` is worse than doing
nothing. The verdict says whether the best beats the baseline, and says so plainly
when it does not.
"""

from __future__ import annotations

from tuningsweep.core.stats.baseline import BaselineComparison, VersusBaseline
from tuningsweep.core.stats.summary import Summary
from tuningsweep.reports.formatting import MISSING

HEADER = "vs baseline"


def fmt_improvement(v: VersusBaseline | None) -> str:
    """``+23% 3/3`` (see the module docstring); a dash without a comparison."""
    if v is None:
        return MISSING
    pct = 100.0 * v.improvement
    digits = 1 if abs(pct) < 9.95 else 0  # "-0.3%", never "-0%"
    return f"{pct:+.{digits}f}% {v.beaten}/{v.windows}"


def baseline_sentences(summary: Summary, baseline: BaselineComparison | None) -> list[str]:
    """What the best is worth against doing nothing ([] without a baseline)."""
    if baseline is None or summary.best is None:
        return []
    v = baseline.configs.get(summary.best)
    if v is None:
        return []
    what = (f"the naive baseline ({baseline.metric}, reported by the trainer: for the "
            "reference trainer, predicting the training mean)")
    better = sum(1 for c in baseline.configs.values() if c.better)
    others = (f"; {better} of {len(baseline.configs)} configurations beat it in every window"
              if len(baseline.configs) > 1 else "")
    if v.better:
        return [f"{summary.best} is {100.0 * v.improvement:.0f}% better than {what} on "
                f"average, and better in all {v.windows} windows{others}."]
    if v.improvement <= 0:
        return [f"Warning: the best, {summary.best}, is no better than {what}: "
                f"{100.0 * -v.improvement:.0f}% worse on average, better in {v.beaten} of "
                f"{v.windows} windows{others}."]
    return [f"Warning: the best, {summary.best}, does not beat {what} in every window: "
            f"{100.0 * v.improvement:.0f}% better on average, but better in only {v.beaten} "
            f"of {v.windows} windows{others}."]
