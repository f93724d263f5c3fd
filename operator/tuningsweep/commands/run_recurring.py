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
import json
from dataclasses import dataclass
from typing import Any

from ..core.records import layout
from ..core.records.results import ParamValue, ResultRow, ResultsFormatError, parse_csv
from ..core.records.reuse import ReuseContext, trainer_identity
from ..core.recurring.history import HistoryRow, parse_history, render_history, upsert
from ..core.recurring.runs import (
    HISTORY_CSV,
    REUSE_JSON,
    RUNS_FOLDER,
    WARM_START_JSON,
    EarlierRun,
    RunStart,
    choose_run_seeds,
    finish_run,
    run_sweep,
    start_run,
)
from ..core.spec.errors import FieldError
from ..core.spec.parse import DateWindow, Sweep
from ..core.spec.schedule import end_of_day, parse_schedule, run_id
from ..io.data_fingerprint import window_fingerprints
from ..io.errors import StorageError
from ..io.storage import Store


@dataclass(frozen=True)
class RecurringRun:
    """The run ``run`` picked: which slot, and where it lives.

    Attributes:
        base: the recurring sweep as written.
        run: the run's id, its slot's date (``2026-07-01``).
        anchor: the date its rolling windows are resolved against (the slot's).
        sweep: the run's own sweep, ``<name>-<run>``.
        top: the recurring sweep's folder (``<namespace>/<name>``: history.csv).
        folder: the run's folder (``<top>/runs/<run>``).
    """

    base: Sweep
    run: str
    anchor: dt.date
    sweep: Sweep
    top: str
    folder: str


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
    run = run_id(slot)
    top = layout.sweep_folder(sweep.namespace, sweep.name)
    return RecurringRun(sweep, run, slot.date(), run_sweep(sweep, run), top,
                        layout.join(top, RUNS_FOLDER, run))


def read_history(store: Store, top: str) -> list[HistoryRow]:
    """The recurring sweep's history so far (none before its first finished run).

    Raises:
        StorageError: history.csv is there but unreadable.
    """
    path = layout.join(top, HISTORY_CSV)
    text = store.read_text(path)
    if not text or not text.strip():
        return []
    try:
        return parse_history(text)
    except ValueError as exc:
        raise StorageError(f"{store.uri_for(path)}: {exc}; move it away to start the "
                           "history over") from None


def _read_json(store: Store, path: str) -> dict[str, Any] | None:
    text = store.read_text(path)
    if not text or not text.strip():
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise StorageError(f"{store.uri_for(path)} is not JSON ({exc}); move the run's "
                           "folder away or use --fresh") from None
    return data if isinstance(data, dict) else None


def _earlier_run(store: Store, top: str, run: str) -> EarlierRun | None:
    """A finished earlier run's rows and reuse context (None: not readable, skipped)."""
    folder = layout.join(top, RUNS_FOLDER, run)
    context_data = _read_json(store, layout.join(folder, REUSE_JSON))
    text = store.read_text(layout.join(folder, layout.RESULTS_CSV))
    if context_data is None or not text:
        return None
    try:
        context = ReuseContext.from_data(context_data)
        rows = parse_csv(text)
    except (ValueError, KeyError, TypeError, ResultsFormatError):
        return None  # an unreadable earlier run is not reused; it does not stop this one
    return EarlierRun(context, tuple(rows))


def begin(picked: RecurringRun, store: Store, windows: tuple[DateWindow, ...],
          runner: list[str], data: str, reuse: bool, fresh: bool = False) -> RunStart:
    """What the run starts from, pinned in its folder on its first start.

    Args:
        windows: the run's pinned windows.
        runner: the command line each trial runs (the trainer's identity).
        data: the data URI the trials read (``--data`` or ``spec.data``).
        reuse: False for ``--no-reuse``.
        fresh: ``--fresh``: choose the seeds and record the trainer and data anew.
    """
    if fresh:  # emptied files read as absent (as ResultsStore.discard does)
        for name in (WARM_START_JSON, REUSE_JSON):
            if store.exists(layout.join(picked.folder, name)):
                store.write_text(layout.join(picked.folder, name), "")
    history = read_history(store, picked.top)
    earlier = [e for e in (_earlier_run(store, picked.top, h.run)
                           for h in history if h.run < picked.run) if e is not None]
    seeds_path = layout.join(picked.folder, WARM_START_JSON)
    pinned = _read_json(store, seeds_path)
    seeds: tuple[dict[str, ParamValue], ...]
    if pinned is not None and isinstance(pinned.get("seeds"), list):
        seeds = tuple(dict(s) for s in pinned["seeds"])
    else:
        seeds = choose_run_seeds(picked.base, picked.run, history, earlier)
        store.write_text(seeds_path, json.dumps(
            {"run": picked.run, "seeds": list(seeds),
             "from_runs": [e.context.run for e in earlier]}, indent=2) + "\n")
    context_path = layout.join(picked.folder, REUSE_JSON)
    recorded = _read_json(store, context_path)
    if recorded is not None:
        try:
            context = ReuseContext.from_data(recorded)
        except (ValueError, KeyError, TypeError) as exc:
            raise StorageError(f"{store.uri_for(context_path)} is not a reuse record "
                               f"({exc}); move the run's folder away or use --fresh") from None
        trainer, prints = context.trainer, dict(context.data)
    else:
        trainer = trainer_identity(picked.base.spec, [*runner, f"data={data}"])
        prints = dict(window_fingerprints(data, windows))
    start = start_run(picked.base, picked.run, windows, history, earlier, seeds, trainer,
                      prints, reuse=reuse)
    if recorded is None:
        # Written before the first trial: the trials of this run are trained with these.
        store.write_text(context_path, json.dumps(start.context.to_data(), indent=2) + "\n")
    return start


def finish(picked: RecurringRun, store: Store, start: RunStart, rows: list[ResultRow],
           windows: tuple[DateWindow, ...]) -> HistoryRow:
    """Write the run's line of history.csv (replacing an earlier one of the same run)."""
    row = finish_run(start, rows, windows)
    history = upsert(read_history(store, picked.top), row)
    store.write_text(layout.join(picked.top, HISTORY_CSV), render_history(history))
    return row


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
