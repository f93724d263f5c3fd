"""Resolve a ``TUNINGSWEEP_DATA`` URI to a source of rows for a date window.

Three kinds of URI, told apart by their scheme:

* ``synthetic://ctr?seed=N[&rows_per_day=K]``: generated on the fly
  (:mod:`.data_synthetic`);
* ``gs://bucket/prefix/``: daily partitions in GCS (:mod:`.data_files`);
* a local folder (plain path or ``file://``): daily partitions on disk.

Anything else is bad input (exit status 2), reported before TensorFlow is imported.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse

from . import gcs
from .columns import FIXED, ColumnSpec
from .data_files import PartitionedSource
from .data_synthetic import SCHEME as SYNTHETIC_SCHEME
from .data_synthetic import SyntheticSource
from .errors import BadInputError
from .table import Table


def load_window(uri: str, start: dt.date, end: dt.date, columns: ColumnSpec = FIXED) -> Table:
    """Read the columns ``columns`` names for ``start``..``end`` (inclusive) from ``uri``.

    Raises:
        BadInputError: empty URI, an unsupported scheme, no data in the window, or a
            malformed file.
    """
    if not uri:
        raise BadInputError("no data URI: set TUNINGSWEEP_DATA or pass --data")
    scheme = urllib.parse.urlsplit(uri).scheme
    if scheme == SYNTHETIC_SCHEME:
        return SyntheticSource.parse(uri).table(start, end, columns)
    return open_files(uri, columns).table(start, end)


def open_files(uri: str, columns: ColumnSpec = FIXED) -> PartitionedSource:
    """The partition folder a non-synthetic URI names.

    Raises:
        BadInputError: an unsupported scheme or a malformed ``gs://`` URI.
    """
    scheme = urllib.parse.urlsplit(uri).scheme
    if gcs.is_gcs_uri(uri):
        gcs.split_uri(uri)
        return PartitionedSource(uri, columns)
    if scheme == "file":
        return PartitionedSource(urllib.parse.urlsplit(uri).path, columns)
    if scheme and len(scheme) > 1:  # a one-letter scheme is a Windows drive letter
        raise BadInputError(
            f"unsupported data URI {uri!r}; use synthetic://ctr?seed=N, gs://bucket/prefix/ "
            "or a local folder of date=YYYY-MM-DD partitions"
        )
    return PartitionedSource(uri, columns)
