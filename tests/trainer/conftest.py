"""Fixtures of the trainer tests (helpers live in ``tests/trainer/helpers.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from tests.trainer.helpers import Run, RunMain, trial_env
from tuningsweep_trainer import cli


@pytest.fixture
def run_main(capsys: pytest.CaptureFixture[str]) -> RunMain:
    """Call ``cli.main(argv, env)`` in-process and capture its output."""

    def run(argv: Sequence[str] = (), env: Mapping[str, str] | None = None) -> Run:
        capsys.readouterr()
        rc = cli.main(list(argv), env=dict(env if env is not None else trial_env()))
        captured = capsys.readouterr()
        return Run(rc, captured.out, captured.err)

    return run
