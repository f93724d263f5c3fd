"""Everything a report shows, computed once and handed to every renderer.

Computing is kept apart from rendering: :func:`build_report` calls the pure core
(summary, trends, curves) and the renderers (table, JSON, HTML) only format a
:class:`Report`, so the three formats can never disagree on a number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tuningsweep.core.records.results import ResultRow
from tuningsweep.core.stats.baseline import BaselineComparison, compare_with_baseline
from tuningsweep.core.stats.curves import (
    Epochs,
    LearningCurves,
    curve_metric,
    windowed_learning_curves,
)
from tuningsweep.core.stats.summary import Goal, Summary, summarize
from tuningsweep.core.stats.time_split import TimeSplit, time_split
from tuningsweep.core.stats.trends import Trends, trends_from_summary
from tuningsweep.reports.objective import DEFAULT_GOAL, infer_goal


@dataclass(frozen=True)
class TrialFailure:
    """A failed trial and why: shown in every format, since a count alone says nothing."""

    trial: str
    config: str
    window: str
    error: str


@dataclass(frozen=True)
class Report:
    """A sweep's leaderboard, trends and learning curves, plus where they came from."""

    source: str
    summary: Summary
    trends: Trends
    curves: LearningCurves | None
    best_histories: Mapping[str, Epochs]
    notes: tuple[str, ...] = ()
    failures: tuple[TrialFailure, ...] = ()
    #: The window of each trial in ``best_histories`` (its curve goes in that window's panel).
    best_windows: Mapping[str, str] = field(default_factory=dict)
    #: Each configuration against the trainer's naive baseline (None: none reported).
    baseline: BaselineComparison | None = None
    #: Where the trials' time went (startup, data, training; the overhead share).
    time: TimeSplit = field(default_factory=TimeSplit)


def trial_failures(rows: Sequence[ResultRow]) -> tuple[TrialFailure, ...]:
    """The failed trials of ``rows`` with their errors, in trial order."""
    return tuple(TrialFailure(r.trial, r.config, r.window, r.error or "(no error recorded)")
                 for r in sorted(rows, key=lambda r: r.trial) if r.status == "failed")


def _curve_goal(curve: str, metric: str, goal: Goal) -> Goal:
    if curve == metric:
        return goal
    return infer_goal(curve) or DEFAULT_GOAL


def build_report(
    rows: Sequence[ResultRow],
    metric: str,
    goal: Goal,
    *,
    source: str = "",
    windows: Sequence[str] | None = None,
    histories: Mapping[str, Epochs] | None = None,
    notes: Sequence[str] = (),
    summary: Summary | None = None,
) -> Report:
    """Compute the report for one objective from result rows and trial histories.

    ``histories`` maps trial ids to normalised per-epoch histories; trials of the best
    configuration are also kept separately so the curves can show them. A ``summary``
    already computed from the same rows, objective and windows may be passed in to save
    recomputing it.
    """
    if summary is None:
        summary = summarize(rows, metric, goal, windows)
    trends = trends_from_summary(summary)
    curves: LearningCurves | None = None
    best_histories: dict[str, Epochs] = {}
    if histories:
        name = curve_metric(list(histories.values()), metric)
        if name is not None:
            # A trial is compared only with trials of its own window (core.curves).
            curves = windowed_learning_curves(histories, {r.trial: r.window for r in rows},
                                              name, _curve_goal(name, metric, goal))
        if summary.best is not None:
            best_trials = {r.trial for r in rows if r.config == summary.best}
            best_histories = {t: h for t, h in histories.items() if t in best_trials}
    windows_of = {r.trial: r.window for r in rows if r.trial in best_histories}
    return Report(source, summary, trends, curves, best_histories, tuple(notes),
                  trial_failures(rows), windows_of,
                  compare_with_baseline(rows, summary.metric, goal), time_split(rows))
