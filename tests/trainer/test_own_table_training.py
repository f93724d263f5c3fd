"""Training on a user's own table, by column flags, with every architecture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.trainer.helpers import RunMain, trial_env, write_partition
from tuningsweep.core.spec import presets
from tuningsweep_trainer import models, schema

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

COLUMNS = ["--target", "arr_delay", "--numeric", "dep_delay,distance",
           "--categorical", "carrier,origin"]
SEQUENCE = ["--sequence", "lag_3,lag_2,lag_1"]


def _flights(root: Path, days: int = 20, rows: int = 12) -> None:
    rng = np.random.default_rng(0)
    carriers, origins = ["UA", "AA", "DL"], ["SFO", "JFK", "ORD", "SEA"]
    for d in range(1, days + 1):
        lines = ["date_note,carrier,origin,dep_delay,distance,lag_3,lag_2,lag_1,arr_delay"]
        for _ in range(rows):
            carrier = carriers[rng.integers(3)]
            dep = "" if rng.random() < 0.1 else f"{rng.normal(10, 20):.1f}"
            lags = rng.normal(5, 3, 3)
            delay = 15 * carriers.index(carrier) + (float(dep) if dep else 10) + lags[-1]
            lines.append(f'"day {d}, busy",{carrier},{origins[rng.integers(4)]},{dep},'
                         f"{rng.integers(100, 3000)},{lags[0]:.2f},{lags[1]:.2f},{lags[2]:.2f},"
                         f"{delay:.1f}")
        write_partition(root, f"2025-05-{d:02d}", "\n".join(lines) + "\n")


def test_every_architecture_reads_the_token_input() -> None:
    for architecture in presets.ARCHITECTURES:
        assert schema.INPUT_TOKENS in models.input_names(architecture)


@pytest.mark.parametrize("architecture", presets.ARCHITECTURES)
def test_each_architecture_trains_on_named_columns_and_embeds_categories(
    run_main: RunMain, tmp_path: Path, architecture: str
) -> None:
    _flights(tmp_path / "data")
    model_dir = tmp_path / "model"
    params: dict[str, Any] = {"epochs": 1, "batch_size": 32}
    args = [*COLUMNS, *(SEQUENCE if architecture in ("cnn", "lstm") else [])]
    env = trial_env(architecture=architecture, params=json.dumps(params),
                    data=str(tmp_path / "data"), window_start="2025-05-01",
                    window_end="2025-05-31", model_uri=str(model_dir),
                    metrics_file=str(tmp_path / "metrics.jsonl"))
    run = run_main(args, env)
    assert run.rc == 0, run.err
    assert "missing value(s) imputed" in run.err and "in dep_delay" in run.err

    result = json.loads((model_dir / "result.json").read_text())
    assert result["data_report"]["missing_values"] == result["metrics"]["missing_values"] > 0
    preprocessing = json.loads((model_dir / "preprocessing.json").read_text())
    assert set(preprocessing["categorical"]) == {"carrier", "origin"}

    import keras

    model = keras.saving.load_model(model_dir / "model.keras")
    n = 4
    inputs = {
        schema.INPUT_NUMERIC: np.zeros((n, 2), np.float32),
        schema.INPUT_TOKENS: np.array([[2 + i % 3, 7] for i in range(n)], np.int32),
        schema.INPUT_HISTORY: np.zeros((n, 3), np.float32),
    }
    fed = {t.name: inputs[t.name] for t in model.inputs}
    assert schema.INPUT_TOKENS in fed
    assert (schema.INPUT_HISTORY in fed) == (architecture in ("cnn", "lstm"))  # --sequence
    predictions = np.asarray(model.predict(fed, verbose=0)).ravel()
    # Rows differing only in their carrier get different predictions: it is not ignored.
    assert len(set(np.round(predictions, 6))) > 1
