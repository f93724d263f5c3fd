"""Fixtures for the local runner: a small grid manifest and the fake trainer command."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

FAKE_TRAINER = Path(__file__).with_name("fake_trainer.py")

GRID = """\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {{name: {name}, namespace: team}}
spec:
  architecture: mlp
  windows: {{rolling: {{count: 2, months: 1}}}}
  search: {{algorithm: grid, seed: 3{max_configs}}}
  parameters:
    learning_rate: {{values: [0.001, 0.01, 0.1]}}
    hidden_units: {{values: [16, 64]}}
  maxFailedTrials: {max_failed}
"""


def write_grid(folder: Path, name: str = "grid", max_configs: int | None = None,
               max_failed: int = 3) -> Path:
    """Write a 6-configuration x 2-window grid manifest; return its path."""
    path = folder / f"{name}.yaml"
    extra = f", maxConfigs: {max_configs}" if max_configs else ""
    path.write_text(GRID.format(name=name, max_configs=extra, max_failed=max_failed))
    return path


@pytest.fixture
def fake_command() -> str:
    """``--trainer-command`` running the fake trainer with this interpreter."""
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(FAKE_TRAINER))}"
