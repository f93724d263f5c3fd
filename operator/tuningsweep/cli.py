"""The ``tuningsweep`` command line: validate | plan | run | report | render | operator.

Commands follow kubectl and helm conventions: ``-f``-less positional files, ``--format``
(``-o``) for machine-readable output, errors on stderr as ``file:line: field: problem;
fix``, exit status 2 for bad input and 130 when interrupted. User mistakes never print a
traceback: every one is a :class:`~tuningsweep.core.errors.UserError` carrying its exit
status, caught once in :func:`main`.

Each subcommand is a module of :mod:`tuningsweep.commands` with an ``add_parser``
function; registering them imports no Google, Kubernetes or kopf client (those load
inside the handlers that need them), so ``validate`` and ``plan`` start fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .commands import operator, plan, render, report, run, validate
from .commands.common import EXIT_INTERRUPTED, EXIT_OK, print_error
from .core.errors import UserError

Handler = Callable[[argparse.Namespace], int]
COMMANDS = (validate, plan, run, report, render, operator)


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
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tuningsweep`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except UserError as exc:
        print_error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `tuningsweep plan ... | head` closes the pipe early; that is not an error.
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
