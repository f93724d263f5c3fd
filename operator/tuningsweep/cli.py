"""The ``tuningsweep`` command line: validate | plan | run | report | render | operator.

Commands follow kubectl and helm conventions: ``-f``-less positional files, ``--format``
(``-o``) for machine-readable output, errors on stderr as ``file:line: field: problem;
fix``, exit status 2 for bad input and 130 when interrupted. User mistakes never print a
traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .core.errors import InvalidSpec
from .io.errors import StorageError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def print_errors(exc: InvalidSpec) -> None:
    """Print every validation error, one per line, on stderr."""
    for error in exc.errors:
        print(f"error: {error.render(exc.source)}", file=sys.stderr)


def parse_today(text: str) -> dt.date:
    """argparse type for ``--today YYYY-MM-DD``."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from None


Handler = Callable[[argparse.Namespace], int]


def _validate(args: argparse.Namespace) -> int:
    from .commands.validate import validate_command

    return validate_command(args.files, args.today)


def _plan(args: argparse.Namespace) -> int:
    from .commands.plan import plan_command

    return plan_command(args.file, args.today, args.format)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="tuningsweep",
        description="Hyperparameter tuning across rolling date windows, on one machine "
                    "or on Kubernetes.",
    )
    parser.add_argument("--version", action="version", version=f"tuningsweep {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("validate", help="check sweep manifests",
                       description="Check sweep manifests; print each sweep's trial count.")
    p.add_argument("files", nargs="+", metavar="FILE", help="YAML or JSON manifest ('-' = stdin)")
    p.add_argument("--today", type=parse_today, default=None,
                   help="anchor date for rolling windows (default: today)")
    p.set_defaults(handler=_validate)

    p = sub.add_parser("plan", help="show the windows and trials a sweep will run",
                       description="Show the windows and the trials with their parameters.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--today", type=parse_today, default=None,
                   help="anchor date for rolling windows (default: today)")
    p.add_argument("-o", "--format", choices=("table", "json", "csv"), default="table")
    p.set_defaults(handler=_plan)

    for register in _optional_commands():
        register(sub)
    return parser


def _optional_commands() -> list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]]:
    """Subcommands that live in their own modules (run, report, render, operator)."""
    from .commands import registry

    return registry.load_all()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tuningsweep`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except InvalidSpec as exc:
        print_errors(exc)
        return EXIT_USAGE
    except StorageError as exc:
        # Results storage failed (GCS down past the retries, a foreign results file):
        # the message says what to do; what finished is already durable.
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `tuningsweep plan ... | head` closes the pipe early; that is not an error.
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
