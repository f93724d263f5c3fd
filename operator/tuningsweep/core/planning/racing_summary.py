"""The summary of a sweep as its executors and the report see it, racing included.

With racing, a configuration's windows are decided by the race: the survivors ran the
most windows, the eliminated fewer, and extra windows went only to contenders. A
configuration is then complete when the race finished with it, so the summary's windows
are those the results have (not every pinned window), and the eliminated are marked
with the window and reason of their elimination, which the planner alone knows: it is
replayed here from the same rows (pure, deterministic), so every reader, a restarted
runner and ``tuningsweep report`` included, shows the same race.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ..records.results import ResultRow
from ..search.racing import regular_count
from ..spec.parse import DateWindow, Spec, Sweep
from .planner import Plan, plan_trials

if TYPE_CHECKING:
    from ..stats.summary import Summary


def windows_of_rows(rows: Sequence[ResultRow]) -> tuple[DateWindow, ...]:
    """The windows the rows ran on, from their dates (enough to replay a race)."""
    seen: dict[str, DateWindow] = {}
    for r in rows:
        if r.window not in seen and r.window_start and r.window_end:
            try:
                seen[r.window] = DateWindow(r.window, dt.date.fromisoformat(r.window_start),
                                            dt.date.fromisoformat(r.window_end))
            except ValueError:
                continue
    return tuple(seen.values())


def eliminations(sweep: Sweep, rows: Sequence[ResultRow],
                 windows: Sequence[DateWindow] = ()) -> Mapping[str, tuple[str, str]]:
    """Racing's eliminations, ``{config: (window, reason)}``, replayed from the rows."""
    if sweep.spec.racing is None:
        return {}
    plan = plan_trials(sweep.spec, windows or windows_of_rows(rows), rows)
    return {c: (e.window, e.reason) for c, e in plan.eliminated.items()}


def summarize_sweep(sweep: Sweep, rows: Sequence[ResultRow], plan: Plan | None = None,
                    windows: Sequence[DateWindow] = ()) -> Summary:
    """Summarise ``rows`` for ``sweep``'s objective, with racing's eliminations.

    Args:
        plan: the plan of these rows if the caller has it (else replayed from ``rows``
            over ``windows``).
        windows: the pinned windows (shown even before they have results, without racing).
    """
    # The statistics (numpy) load at the first summary, not before the first trial.
    from ..stats.summary import summarize

    spec = sweep.spec
    if spec.racing is None:
        return summarize(rows, spec.objective_metric, spec.objective_goal,
                         [w.id for w in windows] or None)
    eliminated = ({c: (e.window, e.reason) for c, e in plan.eliminated.items()}
                  if plan is not None else eliminations(sweep, rows, windows))
    return summarize(rows, spec.objective_metric, spec.objective_goal, None, eliminated)


def racing_status(spec: Spec, windows: Sequence[DateWindow], plan: Plan) -> dict[str, int]:
    """What racing has done so far, for status: alive, eliminated, trials saved.

    Trials saved are those every configuration would have run on every regular window
    without racing, less the trials racing has planned (extra windows included).
    """
    if spec.racing is None:
        return {}
    regular = regular_count(spec.racing, windows,
                            spec.rolling.count if spec.rolling is not None else None)
    return {"configs": plan.configs, "alive": plan.configs - len(plan.eliminated),
            "eliminated": len(plan.eliminated),
            "trialsSaved": max(0, plan.configs * regular - len(plan.trials))}
