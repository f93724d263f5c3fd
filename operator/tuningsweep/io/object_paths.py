"""Object paths and the retry horizon shared by the stores.

Kept apart from :mod:`.storage` (the contract and the choice of backend), which imports
the backends when a location is opened: the backends import these helpers from here, so
no module of the package imports one that imports it back.
"""

from __future__ import annotations

from .errors import StorageError

DEFAULT_RETRY_TIMEOUT_S = 60.0  # the longest one GCS call is retried


def clean_relpath(relpath: str) -> str:
    """Normalise a relative object path (``/`` separators, no ``.``); refuse ``..``."""
    parts = [p for p in relpath.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise StorageError(f"invalid object path {relpath!r}: '..' is not allowed")
    if not parts:
        raise StorageError(f"invalid object path {relpath!r}: empty")
    return "/".join(parts)


def clean_prefix(prefix: str) -> str:
    """Like :func:`clean_relpath` but empty is allowed and a trailing ``/`` is kept."""
    if not prefix.strip("/"):
        return ""
    cleaned = clean_relpath(prefix)
    return cleaned + "/" if prefix.endswith("/") else cleaned
