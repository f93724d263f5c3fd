"""A recurring sweep's runs in its results location: history, pinned starts, finishes.

Shared by both executors (``tuningsweep run`` and the operator): what a run starts from
(seeds, reuse record) is pinned in its folder on its first start and read back on every
later one, so a resumed run, or the operator's parent and child, see the same start; a
finished run's line of ``<name>/history.csv`` replaces any earlier line of the same run,
and the file is replaced whole (atomically), so a crash never leaves half a row or two.
The decisions themselves are :mod:`tuningsweep.core.recurring.runs`'s.
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
from ..core.spec.parse import DateWindow, Sweep
from .data_fingerprint import window_fingerprints
from .errors import StorageError
from .storage import Store


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


def recurring_run(sweep: Sweep, run: str) -> RecurringRun:
    """Run ``run`` (a slot's date, ``2026-07-01``) of the recurring ``sweep``."""
    top = layout.sweep_folder(sweep.namespace, sweep.name)
    return RecurringRun(sweep, run, dt.date.fromisoformat(run), run_sweep(sweep, run), top,
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
