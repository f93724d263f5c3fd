"""``tuningsweep run`` on a recurring sweep (``spec.schedule``): one run per slot.

``run FILE [--today D]`` runs the latest slot at or before D (today by default, UTC):
it starts that run, or resumes it when its folder exists. The run is a sweep of its
own, ``<name>-<run>``, in ``<results>/<namespace>/<name>/runs/<run>/``; what it takes
from the runs before it (seeds, reusable trials, the champion) is decided by
:mod:`tuningsweep.core.recurring.runs`, and pinned in its folder on its first start so a
resumed run plans the same trials:

* ``warm-start.json``: the seeds (the configurations carried over);
* ``reuse.json``: the trainer identity and each window's data fingerprint.

Once every trial of the run has a row, its line of ``<name>/history.csv`` is written
(replacing any earlier line of the same run, atomically), so a run killed at any point
and run again loses and duplicates nothing: only finished runs are in the history, and
the next run reads only those.
"""

from __future__ import annotations

import datetime as dt

from ..core.recurring.history import HistoryRow
from ..core.recurring.runs import RunStart
from ..core.spec.errors import FieldError
from ..core.spec.parse import Sweep
from ..core.spec.schedule import end_of_day, parse_schedule, run_id
from ..io.recurring_runs import RecurringRun, begin, finish, read_history, recurring_run

__all__ = ["RecurringRun", "begin", "describe_end", "describe_start", "finish", "pick_run",
           "read_history", "saved_time"]


def pick_run(sweep: Sweep, today: dt.date | None) -> RecurringRun:
    """The run of the latest slot at or before ``today`` (None: now, UTC).

    Raises:
        FieldError: the schedule has no slot before that date.
    """
    assert sweep.spec.schedule is not None
    schedule = parse_schedule(sweep.spec.schedule)
    moment = end_of_day(today) if today is not None else dt.datetime.now(dt.UTC)
    slot = schedule.latest_at_or_before(moment)
    if slot is None:
        raise FieldError("--today", f"no slot of schedule {sweep.spec.schedule!r} comes at "
                         f"or before {moment:%Y-%m-%d}", "pass a later --today")
    return recurring_run(sweep, run_id(slot))


def describe_start(picked: RecurringRun, start: RunStart) -> list[str]:
    """What the run carries over, in words (printed before the first trial)."""
    lines = [f"run {picked.run} of schedule {picked.base.spec.schedule!r}"]
    seeds = start.sweep.spec.seeds
    if seeds:
        lines.append(f"warm start: {len(seeds)} configuration(s) of earlier runs enter the "
                     "plan first" + (" (the champion first)" if start.champion else ""))
    if start.index is not None and len(start.index):
        lines.append(f"reuse: {len(start.index)} trial(s) of earlier runs may be reused "
                     "(same window, data, trainer, parameters)")
    return lines


def describe_end(row: HistoryRow) -> list[str]:
    """The run's verdict and what reuse saved, in words."""
    return [f"verdict: {row.verdict_text}",
            f"trials: {row.trained} trained, {row.reused} reused"
            + (f" ({saved_time(row)} saved)" if row.reused else "")]


def saved_time(row: HistoryRow) -> str:
    """The time reuse saved: GPU-hours, or trial-hours when the trials had no GPU."""
    if row.gpu_seconds_saved > 0:
        return f"{row.gpu_seconds_saved / 3600:.2f} GPU-hours"
    return f"{row.trial_seconds_saved / 3600:.2f} trial-hours (no GPU)"
