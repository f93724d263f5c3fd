"""README's commands table names the flags every planning command shares (issue 22:
``--today`` was listed under ``plan`` only, though ``validate`` and ``run`` take it)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tuningsweep.cli import build_parser

README = Path(__file__).resolve().parents[2] / "README.md"


def _row(command: str) -> str:
    rows = [line for line in README.read_text().splitlines()
            if line.startswith(f"| `tuningsweep {command} ")]
    assert len(rows) == 1, f"README's commands table has no single row for {command}"
    return rows[0]


@pytest.mark.parametrize("command", ["validate", "plan", "run"])
def test_today_is_listed_for_every_command_that_takes_it(command: str) -> None:
    parser = build_parser(command)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert "--today" in sub.choices[command].format_help()
    assert "--today" in _row(command)
