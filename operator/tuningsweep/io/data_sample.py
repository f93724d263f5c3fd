"""A few rows of a data folder's files, read before any trial to check the named columns.

What is read stays small whatever the data: the first :data:`SAMPLE_BYTES` of a CSV file
(a partial last line is dropped) and at most :data:`SAMPLE_ROWS` rows of it, or a local
Parquet file's column names (its footer; needs ``pyarrow``, optional as for the trainer). In
``gs://`` only that byte range is downloaded. :mod:`tuningsweep.core.planning.column_sample`
judges what is read.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import io
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.planning.column_sample import Sample
from ..core.spec.parse import DateWindow
from .errors import StorageError

SAMPLE_BYTES = 256 * 1024
SAMPLE_ROWS = 500
SAMPLE_FILES = 2


def sample_files(days: Mapping[dt.date, Sequence[str]],
                 windows: Sequence[DateWindow]) -> list[str]:
    """The files to sample: the first file of the first and of the last day with data
    inside the windows (two days apart in time: a column that changes type over the
    data's history has a chance to show it)."""
    inside = sorted(d for d in days if any(w.start <= d <= w.end for w in windows))
    chosen = dict.fromkeys(d for d in (inside[:1] + inside[-1:]))
    return [days[d][0] for d in list(chosen)[:SAMPLE_FILES] if days[d]]


def read_sample(location: str) -> Sample | None:
    """A sample of one data file (None: a Parquet file without pyarrow to read it).

    Raises:
        StorageError: the file cannot be read.
    """
    if location.endswith(".parquet"):
        return _parquet_sample(location)
    payload = _head(location)
    text = payload.decode("utf-8-sig", errors="replace")
    if len(payload) >= SAMPLE_BYTES:
        text = text[:text.rfind("\n") + 1]  # a line cut by the byte limit is not a row
    reader = csv.reader(io.StringIO(text))
    header = tuple(n.strip() for n in next(reader, []))
    rows: list[tuple[str, ...]] = []
    for row in reader:
        if row:
            rows.append(tuple(row))
        if len(rows) >= SAMPLE_ROWS:
            break
    return Sample(location, header, tuple(rows))


def _head(location: str) -> bytes:
    if location.startswith("gs://"):
        return _gcs_head(location)
    try:
        with open(location.removeprefix("file://"), "rb") as f:
            return f.read(SAMPLE_BYTES)
    except OSError as exc:
        raise StorageError(f"cannot read {location}: {exc.strerror or exc}") from None


def _gcs_head(location: str) -> bytes:
    from google.api_core import exceptions

    from .gcs_client import make_client

    bucket, _, name = location.removeprefix("gs://").partition("/")
    try:
        blob = make_client().bucket(bucket).blob(name)
        data: bytes = blob.download_as_bytes(start=0, end=SAMPLE_BYTES - 1, timeout=30)
    except exceptions.GoogleAPICallError as exc:
        raise StorageError(f"cannot read {location}: {exc}") from None
    return data


def _parquet_sample(location: str) -> Sample | None:
    if location.startswith("gs://"):
        return None  # the footer is at the end: not worth a second download here
    try:
        # Imported by name: pyarrow is optional and has no type stubs.
        parquet: Any = importlib.import_module("pyarrow.parquet")
    except ImportError:
        return None
    try:
        schema = parquet.read_schema(location.removeprefix("file://"))
    except (OSError, ValueError) as exc:
        raise StorageError(f"cannot read {location}: {exc}") from None
    # The names only: the trainer converts text cells too ("1.5"), so a Parquet column's
    # type alone does not say it would fail.
    return Sample(location, tuple(schema.names))
