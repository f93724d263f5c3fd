"""Storage errors, importable without the GCS client (the CLI catches them)."""

from __future__ import annotations


class StorageError(Exception):
    """A storage operation failed; the message is meant for the user as is."""
