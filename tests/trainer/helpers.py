"""Helpers shared by the trainer tests: tiny trials, run in-process or as the real CLI.

Training tests run :func:`tuningsweep_trainer.cli.main` in the test process (TensorFlow
is imported once for the whole session, which keeps the suite quick on two cores) with
an explicit environment, so the machine's own ``TUNINGSWEEP_*`` variables never leak in.
Tests about the process boundary (exit status, nothing imported before validation, the
console script and its environment contract) run ``tuningsweep-trainer`` for real.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

#: One month of tiny synthetic data: 31 days x 50 rows.
TINY_DATA = "synthetic://ctr?seed=1&rows_per_day=50"
WINDOW = ("2025-01-01", "2025-01-31")
CONSOLE_SCRIPT = Path(sys.executable).with_name("tuningsweep-trainer")


@dataclass
class Run:
    """Exit status and captured output of one trainer run."""

    rc: int
    out: str
    err: str


def trial_env(**values: str) -> dict[str, str]:
    """The contract's variables for a tiny trial; keyword names drop the prefix."""
    env = {
        "TUNINGSWEEP_ARCHITECTURE": "mlp",
        "TUNINGSWEEP_WINDOW_START": WINDOW[0],
        "TUNINGSWEEP_WINDOW_END": WINDOW[1],
        "TUNINGSWEEP_DATA": TINY_DATA,
        "TUNINGSWEEP_PARAMS": '{"epochs": 2}',
        "TUNINGSWEEP_NAMESPACE": "ml",
        "TUNINGSWEEP_SWEEP": "test-sweep",
        "TUNINGSWEEP_TRIAL": "c0001-w0",
    }
    env.update({f"TUNINGSWEEP_{k.upper()}": v for k, v in values.items()})
    return env


def clean_process_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without ``TUNINGSWEEP_*``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNINGSWEEP_")}
    env.update(extra)
    return env


class RunMain(Protocol):
    """The ``run_main`` fixture: ``run_main(argv, env) -> Run``."""

    def __call__(self, argv: Sequence[str] = (), env: Mapping[str, str] | None = None) -> Run:
        """Run the trainer in-process; ``env=None`` means :func:`trial_env`."""
        ...


def run_console(args: Sequence[str], env: Mapping[str, str], timeout: float = 120) -> Run:
    """Run the installed ``tuningsweep-trainer`` console script (next to this Python).

    Falls back to ``python -m tuningsweep_trainer`` where the interpreter is not the
    virtual environment's own (the console script then lives elsewhere).
    """
    command = ([str(CONSOLE_SCRIPT)] if CONSOLE_SCRIPT.exists()
               else [sys.executable, "-m", "tuningsweep_trainer"])
    proc = subprocess.run([*command, *args], env=clean_process_env(env),
                          capture_output=True, text=True, timeout=timeout, check=False)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def write_partition(root: Path, day: str, text: str, name: str = "part-0.csv") -> Path:
    """Write one day's CSV file (``text`` as given, header included) under ``root``."""
    path = root / f"date={day}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
