"""Opening a sweep's results folder: what both executors do before the first trial.

``tuningsweep run`` (:mod:`tuningsweep.commands.run`) and the operator
(:mod:`tuningsweep.controller.opening`) open a sweep with :func:`open_results` and so
take the same steps in the same order. The order is the crash-safety argument: nothing
trains before the windows, a recurring run's seeds and its reuse record are durable,
and every step reads back what an earlier start wrote instead of deciding again.

1. **Whose folder.** ``fresh`` (``run --fresh``) empties it first. A folder an earlier
   start of *this* object wrote (its uid recorded, on a cluster) resumes on the spec it
   started with, so that later edits of immutable fields are refused, not replanned. Any
   other earlier sweep's folder must hold the same search
   (:meth:`~tuningsweep.io.results_store.ResultsStore.check_same_sweep`, raising
   :class:`~tuningsweep.io.results_store.ResultsConflict`), and on a cluster the new
   object records itself as the owner (``resumed``: the operator says so in an Event).
2. **Rows read back**, so a restart neither trains nor collects a trial twice.
3. **Windows pinned**: those pinned before (``windows.json``, or the ones the caller
   kept, a cluster sweep's status), else the spec's resolved against ``anchor`` and
   written before anything else can start. Never resolved again: a sweep resumed next
   month trains on the same data.
4. **The caller's checks** (``vet``): the data against the windows, ``--today`` against
   what was pinned. They raise to stop the sweep before anything trains.
5. **A recurring run's start** (``begin``): its seeds and reuse record, pinned in its
   folder on the first start and read back on later ones; the sweep to plan becomes the
   run's, seeds included (the spec compared with later edits stays the one opened).
6. **The summary** rewritten from the rows read back (the progress line's best, the
   cluster's status).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core.planning.windows import resolve_windows
from ..core.recurring.runs import RunStart
from ..core.spec.errors import InvalidSpec
from ..core.spec.parse import DateWindow, Sweep, parse_spec
from .results_store import ResultsStore

#: The caller's checks of the pinned windows, given the sweep, the windows resolved now
#: and those pinned (they differ on a resume in a later month). Raise to stop the sweep.
Vet = Callable[[Sweep, tuple[DateWindow, ...], tuple[DateWindow, ...]], None]
#: A recurring run's start on its pinned windows (:func:`tuningsweep.io.recurring_runs.begin`).
Begin = Callable[[tuple[DateWindow, ...]], RunStart]


@dataclass(frozen=True)
class Opened:
    """A sweep whose folder is open: what it plans with and on."""

    sweep: Sweep  # the sweep to plan (a recurring run's with its seeds)
    windows: tuple[DateWindow, ...]
    resumed: bool  # the folder was an earlier object's and is now this one's (cluster)
    start: RunStart | None  # a recurring run's start (None: an ordinary sweep)


def open_results(results: ResultsStore, anchor: dt.date, *, fresh: bool = False,
                 ignore: tuple[str, ...] = ("output",),
                 pinned: tuple[DateWindow, ...] | None = None,
                 vet: Vet | None = None, begin: Begin | None = None) -> Opened:
    """Open ``results`` for ``results.sweep`` (the steps in the module docstring).

    Args:
        anchor: the date rolling windows are resolved against on a first start.
        fresh: discard what the folder holds first (``run --fresh``).
        ignore: spec fields an earlier sweep may have had otherwise (``output`` always
            may; locally ``trainer`` too, a command the user fixes and resumes with).
        pinned: windows the caller already holds (a cluster sweep's status): used as
            they are, and ``vet`` is not called (they were checked when pinned).
        vet: the caller's checks of the windows (see :data:`Vet`).
        begin: a recurring run's start (see :data:`Begin`).

    Raises:
        ResultsConflict: the folder holds a different search.
        StorageError: a file in the folder is unreadable, or a write failed.
    """
    if fresh:
        results.discard()
    results.sweep, resumed = _claim(results, ignore)
    results.load()
    resolved = resolve_windows(results.sweep.spec, anchor)
    if pinned:
        results.windows = windows = pinned
    else:
        windows = results.pin_windows(resolved)
        if vet is not None:
            vet(results.sweep, resolved, windows)
    start = begin(windows) if begin is not None else None
    if start is not None:
        # The run's plan is the recurring spec's with its seeds; the spec compared with
        # later edits stays the one opened.
        results.sweep = dataclasses.replace(start.sweep, raw_spec=results.sweep.raw_spec)
    if results.rows:
        results.publish()
    return Opened(results.sweep, windows, resumed=resumed, start=start)


def _claim(results: ResultsStore, ignore: tuple[str, ...]) -> tuple[Sweep, bool]:
    """The spec to run with, and whether the folder was taken over from another object."""
    previous = results.previous_manifest()
    if previous is None:
        return results.sweep, False
    owner = (previous.get("metadata") or {}).get("uid")
    if results.owner is not None and owner == results.owner:
        return _original_spec(previous, results.sweep), False
    results.check_same_sweep(previous, ignore)
    if results.owner is None:  # locally: no object to own the folder
        return results.sweep, False
    results.record_owner()
    return results.sweep, True


def _original_spec(previous: dict[str, Any], live: Sweep) -> Sweep:
    """The spec this sweep started with (the live one if the record is unreadable)."""
    try:
        return parse_spec(previous.get("spec") or {}, live.name, live.namespace)
    except InvalidSpec:
        return live
