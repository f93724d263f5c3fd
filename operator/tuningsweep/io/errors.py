"""Storage errors, importable without the GCS client (the CLI catches them)."""

from __future__ import annotations

from ..core.spec.errors import EXIT_FAILED, UserError


class StorageError(UserError):
    """A storage operation failed; the message is meant for the user as is.

    Exit status 1: the input was fine, the location failed (GCS down past the retries,
    a disk full); what finished before is durable.
    """

    exit_code = EXIT_FAILED
