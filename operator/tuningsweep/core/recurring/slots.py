"""When the operator starts a recurring sweep's runs, and which finished runs it keeps.

On a cluster a recurring sweep (``spec.schedule``) is not run itself: each run is a child
TuningSweep ``<name>-<run>``, created when its slot comes, as a CronJob creates Jobs.
:func:`decide_runs` is that CronJob logic, pure (the clock, the children and the history
are arguments):

* the run due is the one of the **latest slot at or before now**; slots missed while the
  operator was down are not caught up one by one: only the latest is started, once (as
  CronJob does). A new recurring sweep starts the run of the current slot at once, as
  ``tuningsweep run`` would, rather than waiting up to a month for its first result;
* a run is started only when it is later than every run known: a child, a row of the
  history, or the last run the status says was started (a child deleted by hand, or
  pruned, is not started again);
* **no overlapping runs** (CronJob's ``concurrencyPolicy: Forbid``, except that the slot
  waits rather than being skipped): while a run is unfinished the due one waits, and
  starts when it finishes;
* **historyLimit**: the finished runs beyond the newest ``history_limit`` are deleted once
  their history row is written (a failed run has none to write); a run in progress never.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from ..spec.schedule import Schedule, run_id


@dataclass(frozen=True)
class ChildRun:
    """A child TuningSweep of the recurring sweep, as the operator sees it.

    Attributes:
        run: the run's id (its slot's date).
        name: the child's name, ``<name>-<run>``.
        phase: its status phase ("" before its first status).
    """

    run: str
    name: str
    phase: str

    @property
    def finished(self) -> bool:
        """Succeeded or Failed: it will not change any more."""
        return self.phase in ("Succeeded", "Failed")


@dataclass(frozen=True)
class RunsDecision:
    """What to do now.

    Attributes:
        start: the run to create now (None: none).
        waiting: the run due but held back by ``blocked_by`` (no overlapping runs).
        blocked_by: the unfinished run holding it back.
        prune: children to delete (beyond ``historyLimit``, history recorded).
        next_slot: the next slot after now (None: the schedule never fires again).
    """

    start: str | None
    waiting: str | None
    blocked_by: str | None
    prune: tuple[str, ...]
    next_slot: dt.datetime | None


def decide_runs(schedule: Schedule, now: dt.datetime, children: Sequence[ChildRun],
                recorded: Collection[str], last_started: str | None,
                history_limit: int) -> RunsDecision:
    """Which run to start, which to wait for, which children to delete (module docstring).

    Args:
        now: the operator's clock (UTC).
        children: the recurring sweep's child TuningSweeps.
        recorded: runs with a row in history.csv.
        last_started: the last run the status says was started (None: none yet).
        history_limit: finished runs to keep.

    Example:
        >>> from .schedule import parse_schedule
        >>> decide_runs(parse_schedule("0 6 1 * *"), dt.datetime(2026, 8, 3, tzinfo=dt.UTC),
        ...             [ChildRun("2026-07-01", "s-2026-07-01", "Succeeded")],
        ...             {"2026-07-01"}, "2026-07-01", 3).start
        '2026-08-01'
    """
    slot = schedule.latest_at_or_before(now)
    due = run_id(slot) if slot is not None else None
    known = {c.run for c in children} | set(recorded)
    if last_started:
        known.add(last_started)
    start = waiting = blocked_by = None
    if due is not None and (not known or due > max(known)):
        active = sorted(c.run for c in children if not c.finished)
        if active:
            waiting, blocked_by = due, active[-1]
        else:
            start = due
    finished = sorted((c for c in children if c.finished), key=lambda c: c.run, reverse=True)
    prune = tuple(c.name for c in finished[history_limit:]
                  if c.run in recorded or c.phase == "Failed")
    return RunsDecision(start, waiting, blocked_by, prune, schedule.next_after(now))
