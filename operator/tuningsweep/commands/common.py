"""What every subcommand shares: exit statuses, ``--today`` parsing, error printing.

Commands import this module, never ``tuningsweep.cli`` (which imports the commands to
register them), so there is no import cycle and any command module can be loaded alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TYPE_CHECKING, TypeAlias

from ..core.spec.errors import EXIT_FAILED, EXIT_USAGE, FieldError, UserError
from ..io.data_check import DataCheck

# The exit statuses of every command, defined once (README's commands table and
# docs/design.md list them). As pytest does, 0 means everything asked for succeeded, so a
# script or a CI job can trust it; each way of not succeeding has its own number.
EXIT_OK = 0
"""Every planned trial succeeded (racing eliminations are by design, not failures)."""
# EXIT_FAILED = 1 (from core.errors): trials failed within spec.maxFailedTrials, or the
# outside world failed (storage down past the retries).
# EXIT_USAGE = 2 (from core.errors): bad input; nothing ran.
EXIT_FAILURE_BUDGET = 3
"""More trials failed than spec.maxFailedTrials allows: the sweep was stopped."""
EXIT_SUSPENDED = 4
"""spec.suspend is true: no trial started."""
EXIT_INTERRUPTED = 130
"""Ctrl-C or SIGTERM (128 + SIGINT, as shells report it)."""

__all__ = ["EXIT_FAILED", "EXIT_FAILURE_BUDGET", "EXIT_INTERRUPTED", "EXIT_OK",
           "EXIT_SUSPENDED", "EXIT_USAGE", "MissingDependency", "ResultsLocationError",
           "Subparsers", "add_today", "parse_today", "print_error", "print_warning",
           "print_warnings"]

if TYPE_CHECKING:
    # Generic only to the type checker: argparse's class is not subscriptable at run time.
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subparsers = argparse._SubParsersAction


class ResultsLocationError(FieldError):
    """``--results``/``--models`` (or the spec's output) cannot be used: bad input, 2."""


class MissingDependency(FieldError):
    """A command needs an optional package that is not installed: 2, with the pip line."""


def parse_today(text: str) -> dt.date:
    """argparse type for ``--today YYYY-MM-DD``."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from None


def add_today(parser: argparse.ArgumentParser, what: str = "") -> None:
    """Add the ``--today`` flag every planning command takes."""
    parser.add_argument("--today", type=parse_today, default=None,
                        help=f"anchor date for rolling windows{what} (default: today)")


def print_warning(message: str) -> None:
    """Print one ``warning:`` line on stderr (the command goes on)."""
    print(f"warning: {message}", file=sys.stderr)


def print_error(exc: UserError) -> None:
    """Print a user error on stderr, one ``error:`` line per problem."""
    for line in exc.lines():
        print(f"error: {line}", file=sys.stderr)


def print_warnings(data: DataCheck) -> None:
    """Print the data check's warnings on stderr."""
    for warning in data.warnings:
        print_warning(warning)
