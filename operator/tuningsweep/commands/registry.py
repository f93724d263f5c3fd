"""Subcommands registered from their own modules, so ``cli.py`` stays small.

Each registrar adds one subparser; importing a registrar must stay cheap (heavy imports
happen inside the handler), so ``tuningsweep validate`` starts fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

REGISTRARS: list[Registrar] = []


def load_all() -> list[Registrar]:
    """Import every subcommand module (each appends its registrar) and return them."""
    from ..reports.command import add_report_parser
    from . import operator, render, run  # noqa: F401

    if add_report_parser not in REGISTRARS:
        REGISTRARS.append(add_report_parser)
    return REGISTRARS
