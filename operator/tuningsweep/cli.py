"""The ``tuningsweep`` command line: validate | plan | run | report | render | operator.

Commands follow kubectl and helm conventions: ``-f``-less positional files, ``--format``
(``-o``) for machine-readable output, errors on stderr as ``file:line: field: problem;
fix``, exit status 2 for bad input and 130 when interrupted. User mistakes never print a
traceback: every one is a :class:`~tuningsweep.core.spec.errors.UserError` carrying its exit
status, caught once in :func:`main`.

Each subcommand is a module of :mod:`tuningsweep.commands` with an ``add_parser``
function. Only the module of the command being run is imported (every one for
``--help`` or a mistyped command), so ``tuningsweep run`` does not pay for the operator's
settings or the planner's tables before its first trial starts; no command imports a
Google, Kubernetes or kopf client until its handler needs one.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .commands.common import EXIT_INTERRUPTED, EXIT_OK, print_error
from .core.spec.errors import UserError

Handler = Callable[[argparse.Namespace], int]
COMMANDS = ("validate", "plan", "run", "report", "render", "operator")
"""The subcommands, in the order ``--help`` lists them; each is ``commands.<name>``."""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of every subcommand (of ``only``, when it names one)."""
    parser = argparse.ArgumentParser(
        prog="tuningsweep",
        description="Hyperparameter tuning across rolling date windows, on one machine "
                    "or on Kubernetes.",
    )
    parser.add_argument("--version", action="version", version=f"tuningsweep {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in (only,) if only in COMMANDS else COMMANDS:
        importlib.import_module(f"{__package__}.commands.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tuningsweep`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=argv[0] if argv else None)
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
