"""Where a report's inputs come from: the results CSV, the sweep's spec, trial histories.

RESULTS is what a user has at hand: a ``results.csv`` path, a results folder, or the
same as ``gs://`` URIs (read through :mod:`tuningsweep.io.storage`, so the GCS emulator,
anonymous credentials and retries behave as everywhere else). Beside the CSV the
runners write ``resolved-spec.yaml`` and ``windows.json`` (:mod:`tuningsweep.core.records.layout`):
the spec's objective (``spec.objective``) tells the report what to rank by, and the pinned windows
(or a spec's ``status.windows``) which windows exist even if none of their trials
finished yet. An empty ``results.csv`` (``run --fresh`` empties it) is a sweep with no
trials yet, not an error.

Histories are optional: a report without them simply has no learning curves. They live
at ``<model_uri>/history.json`` per trial. Reading all of them for a sweep of 100,000
trials on GCS would take minutes, and a median curve needs far fewer, so at most
``limit`` trials are read: an evenly spaced sample of trial ids (deterministic), plus
every trial of the configurations named in ``include``. Reads run in a small thread
pool since each is one network round trip.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tuningsweep.core.planning.racing_summary import eliminations
from tuningsweep.core.records import layout
from tuningsweep.core.records.results import ResultRow
from tuningsweep.core.spec.errors import InvalidSpec
from tuningsweep.core.spec.parse import parse_sweep
from tuningsweep.core.stats.curves import Epochs, HistoryFormatError, normalize_history
from tuningsweep.core.stats.summary_csv import recorded_eliminations
from tuningsweep.io.storage import StorageError, Store, open_store

#: Spec files looked for next to ``results.csv``, in order: the runner's, then a user's.
SPEC_FILENAMES: tuple[str, ...] = (layout.SPEC_YAML, "spec.yaml", "sweep.yaml")
#: Default cap on the histories read for learning curves.
DEFAULT_MAX_HISTORIES = 200
_READERS = 16


class ReportInputError(Exception):
    """The report cannot be made from what the user gave; the message says why."""


@dataclass(frozen=True)
class ResultsSource:
    """The results CSV's text and what was found beside it."""

    uri: str
    folder: str
    text: str
    spec: Mapping[str, Any] | None
    spec_uri: str | None
    windows: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    summary_text: str | None = None  # summary.csv beside the results, when there is one


def _split(location: str) -> tuple[str, str]:
    """(folder URI, object name) for a results location."""
    text = location.strip()
    if text.startswith("gs://"):
        path = text[len("gs://"):]
        if "/" in path.strip("/") and path.endswith(".csv"):
            folder, _, name = text.rpartition("/")
            return folder, name
        return text.rstrip("/"), layout.RESULTS_CSV
    local = Path(text[len("file://"):] if text.startswith("file://") else text).expanduser()
    if local.is_dir():
        return str(local), layout.RESULTS_CSV
    if local.exists():
        return str(local.parent), local.name
    if local.suffix == ".csv":
        raise ReportInputError(f"{location}: no such file")
    raise ReportInputError(f"{location}: no such file or folder")


def _read(store: Store, name: str) -> str | None:
    try:
        return store.read_text(name)
    except StorageError as err:
        raise ReportInputError(str(err)) from err
    except UnicodeDecodeError as err:
        raise ReportInputError(
            f"{store.uri_for(name)} is not a results CSV: not UTF-8 text"
        ) from err
    except IsADirectoryError as err:
        raise ReportInputError(f"{store.uri_for(name)} is a folder, not a results CSV") from err


def load_results(location: str) -> ResultsSource:
    """Read the results CSV at ``location`` (file, folder, or ``gs://`` of either).

    Raises:
        ReportInputError: nothing readable is there; the message names the location.
    """
    folder, name = _split(location)
    try:
        store = open_store(folder)
    except StorageError as err:
        raise ReportInputError(str(err)) from err
    text = _read(store, name)
    if text is None:
        where = store.uri_for(name)
        if name == layout.RESULTS_CSV and not location.rstrip("/").endswith(".csv"):
            raise ReportInputError(
                f"{location}: no {layout.RESULTS_CSV} there (expected {where}); give the "
                "results CSV or the folder the runner wrote it to"
            )
        raise ReportInputError(f"{where}: no such file")
    notes: list[str] = []
    spec: Mapping[str, Any] | None = None
    spec_uri: str | None = None
    for candidate in SPEC_FILENAMES:
        try:
            spec_text = store.read_text(candidate)
        except (StorageError, OSError, UnicodeDecodeError):
            continue
        if spec_text is None:
            continue
        try:
            loaded = yaml.safe_load(spec_text)
        except yaml.YAMLError:
            notes.append(f"ignored {store.uri_for(candidate)}: not valid YAML")
            continue
        if isinstance(loaded, Mapping):
            spec, spec_uri = loaded, store.uri_for(candidate)
            break
    windows = _pinned_windows(store) or spec_windows(spec)
    try:
        summary_text = store.read_text(layout.SUMMARY_CSV)
    except (StorageError, OSError, UnicodeDecodeError):
        summary_text = None  # the eliminations are then replayed from the rows
    return ResultsSource(
        store.uri_for(name), store.uri, text, spec, spec_uri, tuple(windows), tuple(notes),
        summary_text,
    )


def _pinned_windows(store: Store) -> list[str]:
    """Window ids from ``windows.json`` (``{"windows": [{"id": "w0", ...}, ...]}``)."""
    try:
        text = store.read_text(layout.WINDOWS_JSON)
        data = json.loads(text) if text and text.strip() else None
    except (StorageError, OSError, UnicodeDecodeError, ValueError):
        return []
    items = data.get("windows") if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        return []
    return [
        str(item["id"]) if isinstance(item, Mapping) and item.get("id") else f"w{i}"
        for i, item in enumerate(items)
    ]


def _get(mapping: object, *path: str) -> object:
    for key in path:
        if not isinstance(mapping, Mapping):
            return None
        mapping = mapping.get(key)
    return mapping


def spec_objective(spec: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """(metric, goal) from ``spec.objective`` (or a top-level ``objective``)."""
    for objective in (_get(spec, "spec", "objective"), _get(spec, "objective")):
        if isinstance(objective, Mapping):
            metric, goal = objective.get("metric"), objective.get("goal")
            return (
                str(metric) if metric is not None else None,
                str(goal) if goal is not None else None,
            )
    return None, None


def spec_windows(spec: Mapping[str, Any] | None) -> list[str]:
    """Window ids ``w0..wN-1`` when the spec pins ``N`` windows (``status.windows``)."""
    for windows in (_get(spec, "status", "windows"), _get(spec, "windows")):
        if isinstance(windows, list) and windows:
            return [f"w{i}" for i in range(len(windows))]
    return []


def _history_location(model_uri: str, results_folder: str) -> tuple[str, str]:
    """(store URI, relpath) of a trial's history file."""
    uri = model_uri.strip().rstrip("/")
    if uri.startswith("gs://"):
        bucket, _, key = uri[len("gs://"):].partition("/")
        return f"gs://{bucket}", f"{key}/{layout.HISTORY_JSON}" if key else layout.HISTORY_JSON
    path = Path(uri[len("file://"):] if uri.startswith("file://") else uri)
    if not path.is_absolute() and not results_folder.startswith("gs://"):
        path = Path(results_folder) / path
    return str(path), layout.HISTORY_JSON


def pick_history_trials(
    rows: Sequence[ResultRow], limit: int, include: Sequence[str] = ()
) -> list[ResultRow]:
    """Choose which trials' histories to read: ``include`` configs, then a spread sample."""
    candidates = sorted(
        (r for r in rows if r.status == "succeeded" and r.model_uri), key=lambda r: r.trial
    )
    wanted = set(include)
    chosen = [r for r in candidates if r.config in wanted]
    rest = [r for r in candidates if r.config not in wanted]
    room = max(0, limit - len(chosen))
    if room and rest:
        if len(rest) <= room:
            chosen.extend(rest)
        else:
            step = len(rest) / room
            chosen.extend(rest[int(i * step)] for i in range(room))
    return chosen


@dataclass(frozen=True)
class LoadedHistories:
    """Histories by trial id, and how many could not be read or parsed."""

    histories: dict[str, Epochs]
    missing: int
    unreadable: int


def load_histories(rows: Sequence[ResultRow], results_folder: str) -> LoadedHistories:
    """Read and normalise ``history.json`` for each row; missing ones are counted."""
    stores: dict[str, Store] = {}
    jobs: list[tuple[str, Store, str]] = []
    for row in rows:
        try:
            root, rel = _history_location(row.model_uri, results_folder)
            if root not in stores:
                stores[root] = open_store(root)
        except StorageError:
            continue
        jobs.append((row.trial, stores[root], rel))

    def fetch(job: tuple[str, Store, str]) -> tuple[str, str | None, bool]:
        trial, store, rel = job
        try:
            return trial, store.read_text(rel), False
        except (StorageError, OSError, UnicodeDecodeError):
            return trial, None, True

    histories: dict[str, Epochs] = {}
    missing = unreadable = 0
    with ThreadPoolExecutor(max_workers=_READERS) as pool:
        for trial, text, failed in pool.map(fetch, jobs):
            if failed:
                unreadable += 1
                continue
            if text is None:
                missing += 1
                continue
            try:
                histories[trial] = normalize_history(json.loads(text))
            except (ValueError, HistoryFormatError):
                unreadable += 1
    missing += len(rows) - len(jobs)
    return LoadedHistories(histories, missing, unreadable)


def racing_eliminations(manifest: Mapping[str, Any] | None, rows: Sequence[ResultRow],
                        summary_text: str | None = None) -> dict[str, tuple[str, str]] | None:
    """Racing's eliminations; None when the sweep did not race.

    The recorded manifest says whether the sweep raced; ``summary.csv``, written by the
    runner with the plan it ran, says who was eliminated after which window and why.
    Only results without one (or written before it had those columns) have the race
    replayed by the planner from the rows.
    """
    if not isinstance(manifest, Mapping) or _get(manifest, "spec", "search", "racing") is None:
        return None
    recorded = recorded_eliminations(summary_text) if summary_text else None
    if recorded is not None:
        return recorded
    try:
        sweep = parse_sweep(dict(manifest))
    except InvalidSpec:
        return None
    return dict(eliminations(sweep, rows))
