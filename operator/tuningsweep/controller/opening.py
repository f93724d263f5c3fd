"""Opening a sweep on the cluster: validate, find its results, pin its windows.

Runs once per sweep per operator start, before any Job is created:

* an invalid spec is the user's to fix: phase Failed, reason ``InvalidSpec``, no retries;
  so is a recurring sweep (``spec.schedule``, reason ``RecurringNotSupported``): its runs
  are made by ``tuningsweep run``, not by the operator yet;
* the results folder is opened and checked writable; rows already there are read back,
  so a restarted operator collects nothing twice;
* a folder left by an earlier object of the same name (deleted and applied again, as
  GitOps does) is resumed when it holds the same search and refused otherwise;
* windows are pinned in status and ``windows.json`` before the first Job, and never
  resolved again (a sweep restarted next month trains on the same data);
* the spec the sweep started with is kept: later edits to immutable fields are refused
  with a condition rather than replanned;
* ``gs://`` data is checked against the windows where the operator can list it (the same
  check as ``tuningsweep validate``): a window without data fails the sweep (``NoData``) before
  any Job, a partial one is a Warning Event. Data the operator's credentials cannot list
  is left to the trainers (they may run with other credentials).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

from ..core.kube.jobs import parse_timestamp
from ..core.planning.windows import resolve_windows, windows_from_data
from ..core.spec.errors import InvalidSpec, SpecError
from ..core.spec.parse import DateWindow, Sweep, parse_spec
from ..io.data_check import check_data
from ..io.errors import StorageError
from ..io.results_store import ResultsConflict, ResultsStore, immutable_differences
from .ports import Emit, OpenStore

log = logging.getLogger(__name__)

RESULTS_MIN_INTERVAL_S = 2.0  # GCS takes one write per object per 2 s


@dataclass
class OpenedSweep:
    """A sweep ready to reconcile: the spec it started with, its rows and windows."""

    sweep: Sweep
    results: ResultsStore
    windows: tuple[DateWindow, ...]
    pinned_now: bool  # the windows were resolved by this start (status needs them)


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


async def open_sweep(body: dict[str, Any], name: str, namespace: str, uid: str,
                     open_store: OpenStore, results_default: str | None,
                     emit: Emit) -> OpenedSweep | Refused:
    """Validate the sweep and open its results (see the module docstring)."""
    try:
        sweep = parse_spec(body.get("spec") or {}, name, namespace)
    except InvalidSpec as exc:
        return Refused("InvalidSpec", "; ".join(e.render() for e in exc.errors))
    if sweep.spec.schedule is not None:
        # Recurring runs are created by `tuningsweep run` (a CronJob can run it); the
        # operator does not schedule them yet, and must not run the sweep once as if
        # the schedule were not there.
        error = SpecError("spec.schedule", "recurring sweeps are not run by the operator "
                          "in this version", "run `tuningsweep run FILE` on its schedule "
                          "(e.g. from a CronJob), or remove spec.schedule to run the sweep "
                          "once")
        return Refused("RecurringNotSupported", error.render())
    results_prefix = sweep.spec.results or results_default
    if not results_prefix:
        error = SpecError("spec.output.results", "is required on a cluster",
                          "set it to gs://BUCKET/PREFIX (or configure the operator's "
                          "default results location)")
        return Refused("InvalidSpec", error.render())
    store = open_store(results_prefix)
    await asyncio.to_thread(store.check_writable)
    results = ResultsStore(store, sweep, min_interval=RESULTS_MIN_INTERVAL_S, owner=uid)
    try:
        opened = await _open_results(body, sweep, results, uid, emit)
    except BaseException:
        await asyncio.to_thread(close_quietly, results)  # no writer thread per retry
        raise
    if isinstance(opened, Refused):
        await asyncio.to_thread(close_quietly, results)
    return opened


async def _open_results(body: dict[str, Any], sweep: Sweep, results: ResultsStore, uid: str,
                        emit: Emit) -> OpenedSweep | Refused:
    previous = await asyncio.to_thread(results.previous_manifest)
    if previous is not None:
        if (previous.get("metadata") or {}).get("uid") == uid:
            sweep = _original_spec(previous, sweep)
        else:
            # An earlier object of the same name left results here. The same search
            # resumes on its windows and rows; a different one must not be mixed in.
            try:
                await asyncio.to_thread(results.check_same_sweep)
            except ResultsConflict as exc:
                return Refused("ResultsConflict", "; ".join(e.render() for e in exc.errors))
            await asyncio.to_thread(results.record_owner)
            emit("Normal", "Resumed", "results of an earlier sweep with the same spec found "
                 f"in {results.store.uri_for(results.folder)}; continuing on its windows "
                 "and rows")
    results.sweep = sweep
    pinned = (body.get("status") or {}).get("windows")
    if pinned:
        windows = windows_from_data(pinned)
        results.windows = windows
    else:
        anchor = _date_of(body.get("metadata", {}).get("creationTimestamp"))
        windows = await asyncio.to_thread(results.pin_windows,
                                          resolve_windows(sweep.spec, anchor))
    if not pinned:  # once per sweep: a sweep already running was checked when it started
        problem = await asyncio.to_thread(_check_data, sweep, windows, emit)
        if problem is not None:
            return problem
    await asyncio.to_thread(results.load)
    if results.rows:
        await asyncio.to_thread(results.publish)  # the summary for the status
    return OpenedSweep(sweep, results, windows, pinned_now=not pinned)


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


def _original_spec(previous: dict[str, Any], live: Sweep) -> Sweep:
    """The spec this sweep started with (the live one if the record is unreadable)."""
    try:
        return parse_spec(previous.get("spec") or {}, live.name, live.namespace)
    except InvalidSpec:
        return live
