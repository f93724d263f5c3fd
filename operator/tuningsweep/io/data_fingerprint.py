"""The data fingerprint of each window: what a reused trial's data must still be.

A recurring sweep reuses a trial only if the window's data is what it was when the trial
was trained (core/records/reuse.py). The fingerprint is a digest of the window's partition
listing: every data file of its days with its size and modification time (local) or
checksum (``gs://``), so a partition that arrived late, was rewritten or removed changes
it. ``synthetic://`` data is generated from its URI and the window's dates, so the URI
is its fingerprint. Listing only: no file is read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from ..core.records.reuse import data_fingerprint
from ..core.spec.parse import DateWindow
from .errors import StorageError
from .partitions import LIST_TIMEOUT_S, DataFolderMissing, is_data_folder, partition_date


def _local_entries(root: str) -> list[tuple[object, ...]]:
    entries: list[tuple[object, ...]] = []
    if not os.path.isdir(root):
        raise DataFolderMissing(f"{root} does not exist or is not a folder")
    for folder in os.scandir(root):
        day = partition_date(folder.name)
        if day is None or not folder.is_dir():
            continue
        for file in os.scandir(folder.path):
            if file.is_file():
                stat = file.stat()
                entries.append((day, f"{folder.name}/{file.name}", stat.st_size,
                                stat.st_mtime_ns))
    return entries


def _gcs_entries(uri: str) -> list[tuple[object, ...]]:
    from google.api_core import exceptions

    from .gcs_client import make_client

    bucket, _, prefix = uri.removeprefix("gs://").partition("/")
    base = prefix.strip("/") + "/" if prefix.strip("/") else ""
    entries: list[tuple[object, ...]] = []
    try:
        for blob in make_client().list_blobs(bucket, prefix=base, timeout=LIST_TIMEOUT_S):
            folder, _, name = blob.name[len(base):].rpartition("/")
            day = partition_date(folder) if "/" not in folder else None
            if day is not None and name:
                entries.append((day, f"{folder}/{name}", blob.size,
                                blob.crc32c or blob.md5_hash or blob.updated))
    except exceptions.NotFound:
        raise DataFolderMissing(f"GCS bucket {bucket!r} does not exist") from None
    except exceptions.GoogleAPICallError as exc:
        raise StorageError(f"cannot list {uri}: {exc}") from None
    return entries


def window_fingerprints(uri: str, windows: Sequence[DateWindow]) -> Mapping[str, str]:
    """The data fingerprint of each window, by window id.

    Raises:
        StorageError: the data folder cannot be listed.
    """
    if not is_data_folder(uri):
        return {w.id: data_fingerprint([(uri,)]) for w in windows}
    if uri.startswith("gs://"):
        entries = _gcs_entries(uri)
    else:
        entries = _local_entries(uri.removeprefix("file://"))
    return {w.id: data_fingerprint(e[1:] for e in entries
                                   if w.start <= e[0] <= w.end)  # type: ignore[operator]
            for w in windows}
