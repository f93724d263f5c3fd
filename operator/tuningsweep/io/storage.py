"""Object storage for results and models: a local folder or a GCS prefix, one interface.

The local runner and the operator both keep their durable state in a results folder
(:mod:`tuningsweep.core.records.layout`) and save trial models under a models prefix. Both
locations are URIs in the manifest, so storage is chosen by URI:

* ``gs://bucket/prefix`` -> :class:`~tuningsweep.io.gcs_store.GcsStore`, and
* anything else without a scheme, or ``file://...`` ->
  :class:`~tuningsweep.io.local_store.LocalStore`.

This module holds the contract (:class:`Store`) and the choice (:func:`open_store`); each
backend is its own module, and the GCS one (with google-cloud-storage) is imported only
when a ``gs://`` location is opened, so a run on a local folder never loads the client.
Rewrites coalesced to the rate GCS allows are :mod:`tuningsweep.io.throttled_writer`.

Design reasoning:

* **Whole-object writes only.** Results are small CSVs rewritten in full, so the store
  offers ``write_text`` (replace the object) and ``read_text`` rather than appends.
  A reader therefore sees either the old or the new file, never a mix.
* **User mistakes are :class:`StorageError` with a sentence, not a traceback:** a
  missing bucket, a folder that is not writable, missing credentials. Call
  :meth:`Store.check_writable` before a sweep starts so these surface before any trial
  runs.

Relative paths (``relpath``) use ``/`` separators; ``..`` and empty paths are refused.
"""

from __future__ import annotations

import re
from typing import Protocol

from .errors import StorageError as StorageError  # re-exported: the public name
from .object_paths import DEFAULT_RETRY_TIMEOUT_S


class Store(Protocol):
    """A results/models location: a local folder or a ``gs://bucket/prefix``."""

    @property
    def uri(self) -> str:
        """The location this store was opened on, normalised."""
        ...

    def read_text(self, relpath: str) -> str | None:
        """Return the object's UTF-8 text, or None when it does not exist."""
        ...

    def write_text(self, relpath: str, text: str) -> None:
        """Replace the object atomically with ``text`` (UTF-8)."""
        ...

    def exists(self, relpath: str) -> bool:
        """Whether the object exists."""
        ...

    def list(self, prefix: str = "") -> list[str]:
        """Sorted relative paths of the objects whose path starts with ``prefix``."""
        ...

    def uri_for(self, relpath: str) -> str:
        """The full URI (``gs://...`` or an absolute path) of ``relpath``."""
        ...

    def check_writable(self) -> None:
        """Raise :class:`StorageError` unless objects can be created and replaced here."""
        ...


def open_store(
    uri: str,
    *,
    retry_timeout: float = DEFAULT_RETRY_TIMEOUT_S,
) -> Store:
    """Open the store for ``uri``: ``gs://bucket[/prefix]``, ``file://path`` or a path.

    Nothing is contacted yet; ``retry_timeout`` bounds the retries of one GCS call.
    Raises :class:`StorageError` for malformed or unsupported URIs.
    """
    text = uri.strip()
    if not text:
        raise StorageError("storage location is empty: give a folder or gs://bucket/prefix")
    if text.startswith("gs://"):
        from .gcs_store import GcsStore

        bucket, _, prefix = text[len("gs://") :].partition("/")
        return GcsStore(bucket, prefix, retry_timeout=retry_timeout)
    from .local_store import LocalStore

    if text.startswith("file://"):
        return LocalStore(text[len("file://") :])
    scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", text)
    if scheme:
        raise StorageError(
            f"unsupported storage location {uri!r}: use a local folder or gs://bucket/prefix"
        )
    return LocalStore(text)
