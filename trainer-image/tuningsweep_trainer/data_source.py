"""Resolve a ``TUNINGSWEEP_DATA`` URI to a source of examples for a date window.

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
from typing import Protocol

from . import gcs
from .data_files import PartitionedSource
from .data_synthetic import SCHEME as SYNTHETIC_SCHEME
from .data_synthetic import SyntheticSource
from .errors import BadInputError
from .examples import Examples


class DataSource(Protocol):
    """Anything that yields the examples of an inclusive date window, in time order."""

    def window(self, start: dt.date, end: dt.date) -> Examples:
        """Return the window's examples; raise BadInputError when there are none."""
        ...


def open_source(uri: str) -> DataSource:
    """Return the source a data URI names.

    Raises:
        BadInputError: empty URI or an unsupported scheme.
    """
    if not uri:
        raise BadInputError("no data URI: set TUNINGSWEEP_DATA or pass --data")
    scheme = urllib.parse.urlsplit(uri).scheme
    if scheme == SYNTHETIC_SCHEME:
        return SyntheticSource.parse(uri)
    if gcs.is_gcs_uri(uri):
        gcs.split_uri(uri)
        return PartitionedSource(uri)
    if scheme == "file":
        return PartitionedSource(urllib.parse.urlsplit(uri).path)
    if scheme and len(scheme) > 1:  # a one-letter scheme is a Windows drive letter
        raise BadInputError(
            f"unsupported data URI {uri!r}; use synthetic://ctr?seed=N, gs://bucket/prefix/ "
            "or a local folder of date=YYYY-MM-DD partitions"
        )
    return PartitionedSource(uri)


def load_window(uri: str, start: dt.date, end: dt.date) -> Examples:
    """Load the examples of ``start``..``end`` (inclusive) from ``uri``."""
    return open_source(uri).window(start, end)
