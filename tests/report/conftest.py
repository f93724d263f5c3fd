"""A results folder with a known truth, histories and a resolved spec, for report tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuningsweep.core.records.results import ParamValue

from .synthetic import FAIL, history, rows_from_table, write_results

# c0001 wins every window; c0002 and c0003 trail; c0004 is incomplete (its w1 trial
# failed) despite the best single value; c0005 has not run w2 yet.
TABLE: dict[str, list[float | str | None]] = {
    "c0001": [0.020, 0.022, 0.021],
    "c0002": [0.024, 0.025, 0.023],
    "c0003": [0.030, 0.031, 0.029],
    "c0004": [0.010, FAIL, 0.030],
    "c0005": [0.021, 0.023, None],
}
PARAMS: dict[str, dict[str, ParamValue]] = {
    "c0001": {"learning_rate": 0.003, "hidden_units": 128, "optimizer": "adam"},
    "c0002": {"learning_rate": 0.001, "hidden_units": 128, "optimizer": "adam"},
    "c0003": {"learning_rate": 0.01, "hidden_units": 64, "optimizer": "sgd"},
    "c0004": {"learning_rate": 0.003, "hidden_units": 64, "optimizer": "sgd"},
    "c0005": {"learning_rate": 0.001, "hidden_units": 64, "optimizer": "adam"},
}
SPEC = "spec:\n  objective:\n    metric: val_mse\n    goal: minimize\n"


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    """``tmp/results/results.csv`` + ``resolved-spec.yaml`` + per-trial ``history.json``."""
    folder = tmp_path / "results"
    rows = rows_from_table(TABLE, PARAMS, model_root=str(tmp_path / "models"))
    histories = {r.trial: history(r.metrics["val_mse"]) for r in rows if r.status == "succeeded"}
    write_results(folder, rows, spec=SPEC, histories=histories)
    return folder
