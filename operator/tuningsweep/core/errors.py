"""User-facing validation errors.

Every error a user can cause names the field (``spec.parameters.dropout.max``), says what
is wrong and what would fix it, and carries the line in the file where that is known.
Validation collects all errors of a file before reporting, so a user fixes them in one
pass instead of one per run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SpecError:
    """One problem with a manifest, located by its field path."""

    path: str
    message: str
    fix: str = ""
    line: int | None = None

    def render(self, source: str = "") -> str:
        """Return ``source:line: path: message (fix)`` with empty parts left out."""
        where = source
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        text = f"{self.path}: {self.message}" if self.path else self.message
        if self.fix:
            text = f"{text}; {self.fix}"
        return f"{where}: {text}" if where else text


class InvalidSpec(Exception):
    """A manifest failed validation; ``errors`` holds every problem found."""

    def __init__(self, errors: list[SpecError], source: str = "") -> None:
        self.errors = errors
        self.source = source
        super().__init__("\n".join(e.render(source) for e in errors))
