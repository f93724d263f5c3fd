"""Opening a sweep on the cluster: validate, find its results, pin its windows.

Runs once per sweep per operator start, before any Job is created. The results folder
is opened by :func:`tuningsweep.io.opening.open_results`, the steps ``tuningsweep run``
takes too, in the same order (rows read back, windows pinned, a recurring run's seeds
and reuse record pinned, each read back on a restart). What is the cluster's own:

* an invalid spec is the user's to fix: phase Failed, reason ``InvalidSpec``, no retries
  (a recurring sweep, ``spec.schedule``, is not opened here: :mod:`.recurring` creates
  its runs, and a run, a child sweep, opens here in its run's folder:
  :mod:`.recurring_child`);
* the results folder is checked writable, and its owner is the object's uid: a folder
  left by an earlier object of the same name (deleted and applied again, as GitOps
  does) is resumed when it holds the same search (a ``Resumed`` Event) and refused
  otherwise (``ResultsConflict``); the sweep's own folder resumes on the spec it started
  with, so later edits to immutable fields are refused with a condition, not replanned;
* rolling windows are resolved against the object's creation date (a run's: its slot's)
  and kept in status too, so a sweep restarted next month trains on the same data;
* ``gs://`` data is checked against the windows where the operator can list it (the same
  check as ``tuningsweep validate``): a window without data fails the sweep (``NoData``) before
  any Job, a partial one is a Warning Event. Data the operator's credentials cannot list
  is left to the trainers (they may run with other credentials).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import time
from dataclasses import dataclass

from ..core.kube.jobs import parse_timestamp
from ..core.kube.resource import SweepBody
from ..core.planning.windows import windows_from_data
from ..core.spec.errors import InvalidSpec, SpecError
from ..core.spec.parse import DateWindow, Sweep, parse_spec
from ..io.data_check import check_data
from ..io.errors import StorageError
from ..io.opening import open_results
from ..io.results_store import ResultsConflict, ResultsStore, immutable_differences
from .ports import Emit, OpenStore
from .recurring_child import Reuse, run_of, start_child

log = logging.getLogger(__name__)

RESULTS_MIN_INTERVAL_S = 2.0  # GCS takes one write per object per 2 s


@dataclass
class OpenedSweep:
    """A sweep ready to reconcile: the spec it started with, its rows and windows."""

    sweep: Sweep
    results: ResultsStore
    windows: tuple[DateWindow, ...]
    pinned_now: bool  # the windows were resolved by this start (status needs them)
    reuse: Reuse | None = None  # a recurring run's: earlier runs' rows copied, not trained
    # The live object's spec as parsed at opening, and the generation it was read at: the
    # first step takes its mutable fields from it instead of parsing the same spec again.
    live: Sweep | None = None
    live_generation: int | None = None


@dataclass
class Refused:
    """The sweep cannot run: the reason and message of its Failed condition."""

    reason: str
    message: str


def close_quietly(results: ResultsStore) -> None:
    """Stop a results writer whose last texts could not be written (they are re-collected)."""
    try:
        results.close(60.0)
    except Exception as exc:
        log.warning("results writer closed with unwritten data: %s", exc)


def _date_of(timestamp: str | None) -> dt.date:
    seconds = parse_timestamp(timestamp)
    return dt.datetime.fromtimestamp(seconds or time.time(), dt.UTC).date()


def changed_fields(original: Sweep, live: Sweep) -> list[str]:
    """Immutable spec fields that differ between the sweep as started and as edited."""
    return immutable_differences(dict(original.raw_spec), dict(live.raw_spec))


async def open_sweep(body: SweepBody, name: str, namespace: str, uid: str,
                     open_store: OpenStore, results_default: str | None,
                     emit: Emit) -> OpenedSweep | Refused:
    """Validate the sweep and open its results (see the module docstring)."""
    try:
        sweep = parse_spec(body.get("spec") or {}, name, namespace)
    except InvalidSpec as exc:
        return Refused("InvalidSpec", "; ".join(e.render() for e in exc.errors))
    if sweep.spec.schedule is not None:
        # The handlers give a recurring sweep to .recurring, which creates its runs; it
        # must never be run once as if the schedule were not there.
        return Refused("Recurring", "a recurring sweep (spec.schedule) is not run itself: "
                       "its runs are child sweeps the operator creates on its schedule")
    picked = run_of(body, namespace)  # a run of a recurring sweep (None: an ordinary one)
    results_prefix = sweep.spec.results or results_default
    if not results_prefix:
        error = SpecError("spec.output.results", "is required on a cluster",
                          "set it to gs://BUCKET/PREFIX (or configure the operator's "
                          "default results location)")
        return Refused("InvalidSpec", error.render())
    store = open_store(results_prefix)
    await asyncio.to_thread(store.check_writable)
    results = ResultsStore(store, sweep, min_interval=RESULTS_MIN_INTERVAL_S, owner=uid,
                           folder=picked.folder if picked else None)
    # A recurring run's windows are resolved against its slot's date.
    anchor = picked.anchor if picked else _date_of(
        (body.get("metadata") or {}).get("creationTimestamp"))
    pinned = (body.get("status") or {}).get("windows")

    def vet(planned: Sweep, resolved: tuple[DateWindow, ...],
            windows: tuple[DateWindow, ...]) -> None:
        problem = _check_data(planned, windows, emit)
        if problem is not None:
            raise _Refusal(problem)

    start_run = None if picked is None else functools.partial(start_child, picked, store)
    try:
        opened = await asyncio.to_thread(
            open_results, results, anchor, pinned=windows_from_data(pinned) if pinned else None,
            vet=vet, begin=start_run)
    except BaseException as exc:
        await asyncio.to_thread(close_quietly, results)  # no writer thread per retry
        if isinstance(exc, _Refusal):
            return exc.refused
        if isinstance(exc, ResultsConflict):
            return Refused("ResultsConflict", "; ".join(e.render() for e in exc.errors))
        raise
    if opened.resumed:
        emit("Normal", "Resumed", "results of an earlier sweep with the same spec found in "
             f"{results.store.uri_for(results.folder)}; continuing on its windows and rows")
    generation = (body.get("metadata") or {}).get("generation")
    return OpenedSweep(opened.sweep, results, opened.windows, pinned_now=not pinned,
                       reuse=opened.start.lookup if opened.start else None, live=sweep,
                       live_generation=generation if isinstance(generation, int) else None)


class _Refusal(Exception):
    """Raised by a check inside :func:`open_results` to refuse the sweep."""

    def __init__(self, refused: Refused) -> None:
        super().__init__(refused.message)
        self.refused = refused


def _check_data(sweep: Sweep, windows: tuple[DateWindow, ...], emit: Emit) -> Refused | None:
    """The windows against the data; Refused when a window has none (or, for the
    reference trainer, a column named in ``spec.trainer.args`` is missing or not numeric).

    Only ``gs://`` data: a path is one inside the trainer's container (a mounted volume),
    which the operator's own filesystem says nothing about.
    """
    if not sweep.spec.data.startswith("gs://"):
        return None
    try:
        found = check_data(sweep, windows, remote_required=False)
    except InvalidSpec as exc:
        # The reference trainer's named columns are checked against a sample too.
        columns = any(e.path == "spec.trainer.args" for e in exc.errors)
        return Refused("BadColumns" if columns else "NoData",
                       "; ".join(e.render() for e in exc.errors))
    except StorageError as exc:
        log.warning("%s: data not checked against the windows: %s", sweep.key, exc)
        return None
    for warning in found.warnings:
        emit("Warning", "DataCoverage", warning)
    return None
