"""Which configuration wins: per-configuration statistics across date windows.

:func:`summarize` turns result rows into a leaderboard; :func:`summary_csv` renders it as
the ``summary.csv`` that the local runner and the operator write after every flush (so
it has to stay fast: ranking and the paired tests are vectorised with numpy over all
configurations at once, and 10,000 rows summarise in about 0.2 s on a laptop core).

Decisions, and why:

* **Windows of the sweep** are the union of the windows passed in (the pinned windows, if
  known) and those seen in any row, failed ones included. A configuration is
  **complete** when it has a succeeded value of the objective for every one of them.
* **Failed trials** (and succeeded rows that lack the objective) are excluded from every
  statistic and counted per configuration (``n_failed``); they make the configuration
  incomplete, since a failure is no evidence about the objective.
* **Ranks per window** compare each configuration with the **field**: the complete
  configurations (or, while none is complete yet, every configuration with a value in
  that window). Rank 1 is best for the goal; a configuration's rank is
  ``1 + (field members better) + 0.5 * (field members tied)``, which for members of the
  field is the usual **average rank** (two configurations tied for first are both 1.5).
  Average ranks keep rank sums fixed, as rank statistics expect, and make a shared first
  place visibly not a win. Complete configurations are compared on the same windows (a
  balanced design), so an incomplete configuration's rank only says where it *would*
  place among them: it never pushes a complete configuration down or takes its win.
* **windows_won** counts windows where the configuration is strictly better than every
  other member of the field (rank exactly 1); **wins_all_windows** needs the
  configuration to be complete and to have won every window of the sweep.
* **mean / std** are over the windows the configuration has values for; ``std`` is the
  sample standard deviation (``ddof=1``) and ``None`` with a single window, where there
  is no spread to estimate.
* **best** is the configuration with the best mean among the *complete* ones (ties broken
  by more windows won, then by id). An incomplete configuration can look better only
  because it skipped a hard window, so it is shown and flagged but never best, and never
  placed above a complete one in the leaderboard.
* **Comparison**: every configuration is compared with the best on the windows both
  have values for (paired: a hard month shifts both and cancels). The best itself is
  compared with its closest contender. The 95% interval, the corrected test behind
  ``p_value_vs_best`` and why they are built that way: :mod:`tuningsweep.core.stats.comparisons`.
* **Racing**: configurations may have run on different windows (eliminated ones on
  fewer); every statistic uses the windows a configuration has. ``eliminated`` (filled
  by the planner) marks which were dropped, at which window and why.

The records returned are in :mod:`tuningsweep.core.stats.summary_model` and ``summary.csv`` is
rendered by :mod:`tuningsweep.core.stats.summary_csv`; both are re-exported here.

Pure: no I/O, no clock, no environment.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tuningsweep.core.records.results import ParamValue, ResultRow
from tuningsweep.core.stats.comparisons import compare_with_best
from tuningsweep.core.stats.significance import FloatArray
from tuningsweep.core.stats.summary_csv import (
    format_number,
    rank_number,
    summary_columns,
    summary_csv,
)
from tuningsweep.core.stats.summary_model import (
    ALPHA,
    GOALS,
    Comparison,
    ConfigSummary,
    Goal,
    SignificanceTest,
    Summary,
)

__all__ = [
    "GOALS", "Comparison", "ConfigSummary", "Goal", "SignificanceTest", "Summary",
    "format_number", "is_better", "rank_number", "summarize", "summary_columns",
    "summary_csv", "window_of", "window_sort_key",
]

_WINDOW_SUFFIX = re.compile(r"-(w\d+)$")
_NATURAL = re.compile(r"^(.*?)(\d+)$")


def window_of(row: ResultRow) -> str:
    """The window id of a row: its ``window`` column, else the ``-wN`` suffix of the trial."""
    if row.window:
        return row.window
    match = _WINDOW_SUFFIX.search(row.trial)
    if match:
        return match.group(1)
    return row.window_start or "w0"


def window_sort_key(window: str) -> tuple[str, int, str]:
    """Natural order of window ids: w0, w1, ..., w10 (w0 is the most recent window)."""
    match = _NATURAL.match(window)
    if match:
        return (match.group(1), int(match.group(2)), "")
    return (window, -1, window)


def is_better(a: float, b: float, goal: Goal) -> bool:
    """True when objective value ``a`` is strictly better than ``b`` for ``goal``."""
    return a < b if goal == "minimize" else a > b


def _check_goal(goal: str) -> Goal:
    if goal == "minimize":
        return "minimize"
    if goal == "maximize":
        return "maximize"
    raise ValueError(f"goal must be 'minimize' or 'maximize', not {goal!r}")


@dataclass
class _Collected:
    configs: list[str]
    params: dict[str, Mapping[str, ParamValue]]
    failed: dict[str, int]
    run: dict[str, set[str]]
    values: dict[str, dict[str, float]]
    windows: list[str]
    n_trials: int
    n_failed: int
    n_missing: int
    n_stopped: int


def _collect(rows: Iterable[ResultRow], metric: str, windows: Sequence[str] | None) -> _Collected:
    latest: dict[str, ResultRow] = {}
    for r in rows:
        latest[r.trial] = r  # a later row for the same trial replaces the earlier one
    window_set: set[str] = set(windows or ())
    params: dict[str, Mapping[str, ParamValue]] = {}
    failed: dict[str, int] = {}
    run: dict[str, set[str]] = {}
    values: dict[str, dict[str, float]] = {}
    n_failed = n_missing = n_stopped = 0
    for r in latest.values():
        w = window_of(r)
        window_set.add(w)
        if r.config not in params or (r.params and not params[r.config]):
            params[r.config] = r.params
        values.setdefault(r.config, {})
        failed.setdefault(r.config, 0)
        run.setdefault(r.config, set()).add(w)
        value = r.metrics.get(metric) if r.status == "succeeded" else None
        if value is None or math.isnan(value):
            failed[r.config] += 1
            if r.status == "failed":
                n_failed += 1
            elif r.status == "stopped":
                n_stopped += 1
            else:
                n_missing += 1
            continue
        values[r.config][w] = float(value)
    return _Collected(
        configs=sorted(params),
        params=params,
        failed=failed,
        run=run,
        values=values,
        windows=sorted(window_set, key=window_sort_key),
        n_trials=len(latest),
        n_failed=n_failed,
        n_missing=n_missing,
        n_stopped=n_stopped,
    )


def _window_ranks(oriented: FloatArray, field: npt.NDArray[np.bool_]) -> FloatArray:
    """Rank of every present cell against the field's cells in its column (NaN if missing).

    ``oriented`` is lower-is-better with NaN for missing values; ``field`` marks the rows
    that form the field. A field member does not count itself among the ties.
    """
    ranks = np.full(oriented.shape, np.nan, dtype=np.float64)
    for j in range(oriented.shape[1]):
        column = oriented[:, j]
        present = ~np.isnan(column)
        reference = np.sort(column[present & field])
        values = column[present]
        better = np.searchsorted(reference, values, side="left")
        tied = np.searchsorted(reference, values, side="right") - better
        tied = tied - field[present].astype(np.int64)
        ranks[present, j] = 1.0 + better + 0.5 * tied
    return ranks


def summarize(
    rows: Iterable[ResultRow],
    metric: str,
    goal: str,
    windows: Sequence[str] | None = None,
    eliminated: Mapping[str, tuple[str, str]] | None = None,
    alpha: float = ALPHA,
    robust: bool = True,
) -> Summary:
    """Summarise result rows per configuration for one objective.

    Args:
        rows: result rows (any order; a later row for the same trial id wins).
        metric: the objective's metric name (``row.metrics[metric]``).
        goal: ``"minimize"`` or ``"maximize"``.
        windows: the sweep's window ids if known (e.g. pinned windows with no finished
            trial yet); windows seen in the rows are added.
        eliminated: configurations racing dropped, as ``{config: (window, reason)}``:
            the window after which each was eliminated and why. They keep their rows
            and statistics, are never complete, and are shown as ``eliminated``.
        alpha: family-wise error rate of the "significantly worse than the best" claims
            (the report's is 5%; racing may decide at ``spec.search.racing.alpha``).
        robust: choose the comparison scale and leave outlying trials out of the tests
            (:mod:`tuningsweep.core.stats.robust`); False only to measure what that changes.

    Returns:
        The leaderboard: complete configurations by mean (best first), then incomplete
        ones by number of windows and mean, then those with no value at all.

    Raises:
        ValueError: ``goal`` is neither minimize nor maximize.
    """
    checked_goal = _check_goal(goal)
    data = _collect(rows, metric, windows)
    ids = data.configs
    window_index = {w: j for j, w in enumerate(data.windows)}
    n_c, n_w = len(ids), len(data.windows)
    matrix = np.full((n_c, n_w), np.nan, dtype=np.float64)
    for i, cid in enumerate(ids):
        for w, v in data.values[cid].items():
            matrix[i, window_index[w]] = v
    oriented = matrix if checked_goal == "minimize" else -matrix
    counts = np.sum(~np.isnan(matrix), axis=1)
    complete = (counts == n_w) & (n_w > 0)
    ranks = _window_ranks(oriented, complete if complete.any() else np.ones(n_c, dtype=bool))
    won = np.sum(ranks == 1.0, axis=1)
    with np.errstate(invalid="ignore"):
        sums = np.nansum(oriented, axis=1)
        oriented_mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)

    def order_key(i: int) -> tuple[int, int, float, int, str]:
        has_value = counts[i] > 0
        group = 0 if complete[i] else (1 if has_value else 2)
        m = float(oriented_mean[i]) if has_value else math.inf
        return (group, -int(counts[i]), m, -int(won[i]), ids[i])

    order = sorted(range(n_c), key=order_key)
    complete_order = [i for i in order if complete[i]]
    best = complete_order[0] if complete_order else None
    runner_up = complete_order[1] if len(complete_order) > 1 else None

    comparisons: dict[int, Comparison] = {}
    test: SignificanceTest | None = None
    if best is not None:
        comparisons, test = compare_with_best(
            matrix, oriented, best, order, ids, alpha, goal=checked_goal,
            windows=data.windows, robust=robust)
    dropped = eliminated or {}

    configs: list[ConfigSummary] = []
    for i in order:
        cid = ids[i]
        row_values = data.values[cid]
        vals = [row_values[w] for w in data.windows if w in row_values]
        mean = math.fsum(vals) / len(vals) if vals else None
        std: float | None = None
        if len(vals) >= 2 and mean is not None:
            std = math.sqrt(math.fsum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
        configs.append(ConfigSummary(
            config=cid,
            params=data.params[cid],
            per_window={w: row_values[w] for w in data.windows if w in row_values},
            ranks={
                w: float(ranks[i, j]) for j, w in enumerate(data.windows)
                if not math.isnan(ranks[i, j])
            },
            mean=mean,
            std=std,
            windows_won=int(won[i]),
            wins_all_windows=bool(complete[i]) and int(won[i]) == n_w,
            complete=bool(complete[i]),
            n_failed=data.failed[cid],
            missing_windows=tuple(w for w in data.windows if w not in row_values),
            comparison=comparisons.get(i),
            windows_run=len(data.run[cid]),
            eliminated_at=dropped[cid][0] if cid in dropped else None,
            elimination_reason=dropped[cid][1] if cid in dropped else None,
        ))
    param_names = sorted({p for cid in ids for p in data.params[cid]})
    return Summary(
        metric=metric,
        goal=checked_goal,
        windows=tuple(data.windows),
        configs=tuple(configs),
        best=ids[best] if best is not None else None,
        runner_up=ids[runner_up] if runner_up is not None else None,
        n_trials=data.n_trials,
        n_failed=data.n_failed,
        n_missing_objective=data.n_missing,
        param_names=tuple(param_names),
        test=test,
        n_stopped=data.n_stopped,
    )
