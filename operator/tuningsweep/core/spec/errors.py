"""User-facing validation errors.

Every error a user can cause names the field (``spec.parameters.dropout.max``), says what
is wrong and what would fix it, and carries the line in the file where that is known.
Validation collects all errors of a file before reporting, so a user fixes them in one
pass instead of one per run.

Every error a user can cause derives from :class:`UserError`, which carries the exit
status the CLI ends with (as the trainer's errors do), so the CLI catches one class,
prints its lines and exits with its code: no traceback for a user's mistake.
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


EXIT_FAILED = 1
EXIT_USAGE = 2


class UserError(Exception):
    """A problem the user can fix; its message is shown as is, without a traceback.

    Subclasses set :attr:`exit_code`: 2 (the default) for bad input, 1 for a failure of
    the outside world the user must attend to (storage down past the retries).
    """

    exit_code = EXIT_USAGE

    def lines(self) -> list[str]:
        """The message, one line per problem (each printed after ``error: ``)."""
        return str(self).splitlines() or [type(self).__name__]


class FieldError(UserError):
    """One problem with one named field or command-line flag (``--results: ...; fix``)."""

    def __init__(self, field: str, message: str, fix: str = "") -> None:
        self.error = SpecError(field, message, fix)
        super().__init__(self.error.render())


class InvalidSpec(UserError):
    """A manifest failed validation; ``errors`` holds every problem found."""

    def __init__(self, errors: list[SpecError], source: str = "") -> None:
        self.errors = errors
        self.source = source
        super().__init__("\n".join(e.render(source) for e in errors))

    def lines(self) -> list[str]:
        """Every validation error, rendered with the file name and line."""
        return [e.render(self.source) for e in self.errors]
