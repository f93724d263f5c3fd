"""Each window's data read once: kept in memory for the next trials, on disk for the next
workers.

Every configuration of a sweep trains on the same few windows, and reading a window
(listing, downloading from GCS, parsing CSV) and preparing it (split, scaling,
vocabularies) takes as long as a fast-mode trial trains. A warm worker
(:mod:`tuningsweep.executors.warm_worker`) runs trial after trial in one process, so
the prepared window is kept in memory (the last :data:`MEMORY_WINDOWS` windows), and the
window's raw table is also written to a local folder (``TUNINGSWEEP_DATA_CACHE``, which
the local runner sets) for workers that have not read it yet.

Both are keyed by the data's **fingerprint**, so a changed file is read again:

* local files: every file's path, size and modification time;
* ``gs://``: every object's name, size and generation;
* ``synthetic://``: the URI (the data is a function of it);

and by the window's dates and the columns read (their roles included). Preparing is a
pure function of the table and the columns, so a trial sees exactly what it would have
read itself.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import logging
import os
import tempfile
import urllib.parse
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .columns import ColumnSpec
from .data_source import load_window, open_files
from .data_synthetic import SCHEME as SYNTHETIC_SCHEME
from .preprocess import Prepared, prepare
from .table import Table

log = logging.getLogger(__name__)

#: Prepared windows kept in memory by one process (a sweep has a few windows).
MEMORY_WINDOWS = 4
_FORMAT = "tuningsweep-window-v1"

_memory: collections.OrderedDict[str, Prepared] = collections.OrderedDict()


def _fingerprint(uri: str, start: dt.date, end: dt.date, columns: ColumnSpec) -> tuple[str, ...]:
    """What the window's data is, as cheaply as it can be known (see the module docstring)."""
    if urllib.parse.urlsplit(uri).scheme == SYNTHETIC_SCHEME:
        return (uri,)
    source = open_files(uri, columns)
    files = source.list_files(start, end)
    parts = [source.root]
    for f in files:
        if f.version:
            parts.append(f"{f.location}:{f.version}")
        else:
            stat = os.stat(f.location)
            parts.append(f"{f.location}:{stat.st_size}:{stat.st_mtime_ns}")
    return tuple(parts)


def _key(uri: str, start: dt.date, end: dt.date, columns: ColumnSpec) -> str:
    text = "\n".join((_FORMAT, repr(columns), start.isoformat(), end.isoformat(),
                      *_fingerprint(uri, start, end, columns)))
    return hashlib.sha256(text.encode()).hexdigest()


def prepared_window(uri: str, start: dt.date, end: dt.date, columns: ColumnSpec,
                    cache_dir: str | None = None) -> tuple[Prepared, str]:
    """The window prepared for training, and where it came from: ``memory``, ``disk``
    (``cache_dir``) or ``read`` (the data itself).

    Raises:
        BadInputError: as :func:`.data_source.load_window`.
    """
    if not uri:
        load_window(uri, start, end, columns)  # raises the missing-URI error
    key = _key(uri, start, end, columns)
    kept = _memory.get(key)
    if kept is not None:
        _memory.move_to_end(key)
        return kept, "memory"
    folder = Path(cache_dir) if cache_dir else None
    table = _load(folder / f"{key}.npz") if folder is not None else None
    came_from = "disk"
    if table is None:
        table, came_from = load_window(uri, start, end, columns), "read"
        if folder is not None:
            _save(folder, key, table)
    prepared = prepare(table, columns)
    _memory[key] = prepared
    while len(_memory) > MEMORY_WINDOWS:
        _memory.popitem(last=False)
    return prepared, came_from


def _save(folder: Path, key: str, table: Table) -> None:
    """Write the table atomically (a reader sees all of it or nothing); a cache that
    cannot be written is only a slower next worker."""
    arrays: dict[str, np.ndarray] = {"day": table.day}
    for i, (name, values) in enumerate(table.columns.items()):
        arrays[f"name{i}"] = np.array(name)
        if values.dtype == object:
            missing = np.array([v is None for v in values], dtype=bool)
            arrays[f"text{i}"] = np.array(["" if v is None else v for v in values], dtype=str)
            arrays[f"missing{i}"] = missing
        else:
            arrays[f"number{i}"] = values
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as out:
            savez: Any = np.savez  # typed as if the keywords could be allow_pickle
            savez(out, **arrays)
        os.replace(out.name, folder / f"{key}.npz")
    except OSError as err:
        log.warning("window not cached in %s: %s", folder, err)


def _load(path: Path) -> Table | None:
    """The cached table, or None when there is none (or it cannot be read)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            columns: dict[str, np.ndarray] = {}
            i = 0
            while f"name{i}" in data:
                name = str(data[f"name{i}"])
                if f"text{i}" in data:
                    values = data[f"text{i}"].astype(object)
                    values[data[f"missing{i}"]] = None
                else:
                    values = data[f"number{i}"]
                columns[name] = values
                i += 1
            return Table(columns, data["day"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        log.warning("ignoring unreadable cached window %s: %s", path, err)
        return None
