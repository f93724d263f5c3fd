"""Daily partitions on disk or in GCS: ``<root>/date=YYYY-MM-DD/*.csv`` (or ``*.parquet``).

Reading lists the partition folders once, keeps those whose date is inside the window
and reads only their files; a partition outside the window is never opened, so a
year of history costs nothing when tuning on one quarter. Partitions are read in date
order and files within a partition in name order, which makes the row order (and so
the time-ordered validation split) deterministic.

CSV is the baseline format: a header naming the columns (any order; columns the trial
does not read are ignored, text included), one example per line; :mod:`.table` parses
it. Parquet is read and written when ``pyarrow`` is installed; it is optional because
the trainer image should not need it for CSV data.

Writing (``tuningsweep-trainer make-data``) produces exactly this layout, one
``part-0.<ext>`` per day.
"""

from __future__ import annotations

import datetime as dt
import importlib
import io
import logging
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tuningsweep.core.records.layout import is_data_file, partition_date, partition_folder

from . import gcs, schema
from .columns import FIXED, ColumnSpec
from .errors import BadInputError
from .examples import Examples
from .table import Table, read_csv, read_parquet

log = logging.getLogger(__name__)

FORMATS = ("csv", "parquet")
_DOWNLOAD_THREADS = 8


@dataclass(frozen=True)
class PartitionFile:
    """One data file of one day's partition."""

    date: dt.date
    location: str
    version: str = ""  # GCS: the object's size and generation (what a cache is keyed by)

    @property
    def fmt(self) -> str:
        """``csv`` or ``parquet``, from the file name."""
        return "parquet" if self.location.endswith(".parquet") else "csv"


class PartitionedSource:
    """A local folder or ``gs://`` prefix holding ``date=YYYY-MM-DD`` partitions."""

    def __init__(self, root: str, columns: ColumnSpec = FIXED) -> None:
        self.root = root
        self.columns = columns

    def table(self, start: dt.date, end: dt.date) -> Table:
        """Read the columns of every partition dated ``start``..``end`` (inclusive), in date order.

        Raises:
            BadInputError: the root does not exist, no partition falls in the window,
                the window's partitions hold no rows, or a file is malformed.
        """
        return self.read(self.list_files(start, end), start, end)

    def read(self, files: list[PartitionFile], start: dt.date, end: dt.date) -> Table:
        """Read ``files`` (:meth:`list_files` of the window ``start``..``end``).

        Raises:
            BadInputError: as :meth:`table`.
        """
        if not files:
            raise BadInputError(
                f"no data for window {start}..{end} under {self.root!r} "
                "(expected folders named date=YYYY-MM-DD holding .csv or .parquet files)"
            )
        log.info("reading %d file(s) of %d day(s) from %s", len(files),
                 len({f.date for f in files}), self.root)
        blocks = [_parse(f, payload, self.columns)
                  for f, payload in zip(files, self._fetch(files), strict=True)]
        table = Table.concat(blocks)
        if len(table) == 0:
            raise BadInputError(f"the partitions for window {start}..{end} under {self.root!r} "
                                "hold no rows")
        return table

    def list_files(self, start: dt.date, end: dt.date) -> list[PartitionFile]:
        """Return the data files of the partitions inside the window, in read order."""
        if gcs.is_gcs_uri(self.root):
            return self._list_gcs(start, end)
        return self._list_local(start, end)

    def _list_local(self, start: dt.date, end: dt.date) -> list[PartitionFile]:
        root = Path(self.root)
        if not root.is_dir():
            raise BadInputError(f"data folder {self.root!r} does not exist or is not a folder")
        found: list[PartitionFile] = []
        for entry in sorted(os.scandir(root), key=lambda e: e.name):
            day = partition_date(entry.name)
            if day is None or not (start <= day <= end) or not entry.is_dir():
                continue
            for name in sorted(os.listdir(entry.path)):
                if is_data_file(name):
                    found.append(PartitionFile(day, os.path.join(entry.path, name)))
        return found

    def _list_gcs(self, start: dt.date, end: dt.date) -> list[PartitionFile]:
        from google.api_core import exceptions

        bucket_name, prefix = gcs.split_uri(self.root)
        base = f"{prefix}/" if prefix else ""
        client = gcs.client()
        try:
            pages = client.list_blobs(bucket_name, prefix=base, delimiter="/")
            for _ in pages:
                pass
            partitions = sorted(pages.prefixes)
            found: list[PartitionFile] = []
            for partition in partitions:
                day = partition_date(partition)
                if day is None or not (start <= day <= end):
                    continue
                for blob in client.list_blobs(bucket_name, prefix=partition):
                    if is_data_file(blob.name):
                        found.append(PartitionFile(day, f"gs://{bucket_name}/{blob.name}",
                                                   f"{blob.size}:{blob.generation}"))
        except exceptions.NotFound:
            raise BadInputError(f"GCS bucket {bucket_name!r} of {self.root!r} does not exist") from None
        found.sort(key=lambda f: (f.date, f.location))
        return found

    def _fetch(self, files: list[PartitionFile]) -> Iterable[bytes | str]:
        """Yield, per file, a local path (str) or the downloaded bytes (GCS)."""
        if not gcs.is_gcs_uri(self.root):
            return [f.location for f in files]
        client = gcs.client()

        def download(f: PartitionFile) -> bytes:
            bucket_name, name = gcs.split_uri(f.location)
            data: bytes = client.bucket(bucket_name).blob(name).download_as_bytes()
            return data

        with ThreadPoolExecutor(_DOWNLOAD_THREADS) as pool:
            return list(pool.map(download, files))


def _parse(f: PartitionFile, payload: bytes | str, spec: ColumnSpec) -> Table:
    try:
        data = Path(payload).read_bytes() if isinstance(payload, str) else payload
        if f.fmt == "parquet":
            return read_parquet(_pyarrow_parquet().read_table(io.BytesIO(data)), spec,
                                f.date.toordinal())
        return read_csv(data, spec, f.date.toordinal())
    except BadInputError as err:
        raise BadInputError(f"{f.location}: {err}") from None
    except (ValueError, OSError, UnicodeDecodeError) as err:
        raise BadInputError(f"{f.location}: cannot read {f.fmt}: {err}") from None


def _pyarrow_parquet() -> Any:
    try:
        # Imported by name: pyarrow is optional and has no type stubs here.
        pq = importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise BadInputError(
            "Parquet partitions need pyarrow, which is not installed (pip install pyarrow), "
            "or write the partitions as CSV"
        ) from None
    return pq


def write_partitions(
    days: Iterable[tuple[dt.date, Examples]], root: str, fmt: str = "csv"
) -> list[str]:
    """Write each day's examples to ``<root>/date=YYYY-MM-DD/part-0.<fmt>``.

    Returns:
        The locations written, in date order.
    """
    if fmt not in FORMATS:
        raise BadInputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "parquet":
        _pyarrow_parquet()
    bucket: Any = None
    prefix = ""
    if gcs.is_gcs_uri(root):
        bucket_name, prefix = gcs.split_uri(root)
        bucket = gcs.client().bucket(bucket_name)
    written: list[str] = []
    for day, examples in days:
        rel = f"{partition_folder(day)}/part-0.{fmt}"
        payload = _encode_parquet(examples) if fmt == "parquet" else _encode_csv(examples)
        if bucket is not None:
            name = f"{prefix}/{rel}" if prefix else rel
            bucket.blob(name).upload_from_string(payload)
            written.append(f"gs://{bucket.name}/{name}")
        else:
            path = Path(root) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(payload)
            os.replace(tmp, path)
            written.append(str(path))
    return written


def _encode_csv(examples: Examples) -> bytes:
    out = io.StringIO()
    out.write(",".join(schema.ALL_COLUMNS) + "\n")
    table = np.concatenate(
        [examples.numeric, examples.tokens.astype(np.float32), examples.history,
         examples.target[:, None]], axis=1,
    )
    fmt = (["%.7g"] * schema.NUM_NUMERIC + ["%d"] * schema.NUM_TOKENS
           + ["%.7g"] * schema.HISTORY_LENGTH + ["%.7g"])
    np.savetxt(out, table, fmt=fmt, delimiter=",")
    return out.getvalue().encode("utf-8")


def _encode_parquet(examples: Examples) -> bytes:
    pq = _pyarrow_parquet()
    pa = importlib.import_module("pyarrow")

    columns: dict[str, Any] = {}
    for i, name in enumerate(schema.NUMERIC_COLUMNS):
        columns[name] = examples.numeric[:, i]
    for i, name in enumerate(schema.TOKEN_COLUMNS):
        columns[name] = examples.tokens[:, i]
    for i, name in enumerate(schema.HISTORY_COLUMNS):
        columns[name] = examples.history[:, i]
    columns[schema.TARGET_COLUMN] = examples.target
    out = io.BytesIO()
    pq.write_table(pa.table(columns), out)
    return out.getvalue()
