"""The reference trainer's naive baseline: the training mean of the target, reported as
``baseline_<metric>`` beside each of its error metrics, on the same rows."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests.trainer.helpers import RunMain, trial_env
from tests.trainer.test_own_table_training import COLUMNS, _flights
from tuningsweep_trainer.baseline import naive_baselines

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


def test_the_baseline_predicts_the_training_mean() -> None:
    train = np.array([1.0, 2.0, 3.0], np.float32)  # mean 2
    val = np.array([2.0, 4.0], np.float32)
    assert naive_baselines(train, val) == {
        "baseline_val_mse": 2.0, "baseline_val_loss": 2.0,  # (0 + 4) / 2
        "baseline_mse": pytest.approx(2 / 3), "baseline_loss": pytest.approx(2 / 3)}


def test_a_trained_model_reports_its_baseline_and_beats_it(run_main: RunMain,
                                                           tmp_path: Path) -> None:
    _flights(tmp_path / "data")
    env = trial_env(architecture="mlp", params=json.dumps({"epochs": 30, "batch_size": 16,
                                                           "learning_rate": 0.01}),
                    data=str(tmp_path / "data"), window_start="2025-05-01",
                    window_end="2025-05-31", model_uri=str(tmp_path / "model"),
                    metrics_file=str(tmp_path / "metrics.jsonl"))
    run = run_main(COLUMNS, env)
    assert run.rc == 0, run.err
    final = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
             if '"final"' in line][-1]["metrics"]
    # Recomputed from the files: the validation rows are those from the day the log names.
    cut = dt.date.fromisoformat(re.search(r"validation from (\d{4}-\d{2}-\d{2})", run.err).group(1))
    train, val = [], []
    for part in sorted((tmp_path / "data").glob("date=*/*.csv")):
        day = dt.date.fromisoformat(part.parent.name.removeprefix("date="))
        with part.open() as f:
            delays = [float(r["arr_delay"]) for r in csv.DictReader(f)]
        (val if day >= cut else train).extend(delays)
    mean = float(np.mean(np.float32(train), dtype=np.float64))
    expected = float(np.mean((np.float32(val).astype(np.float64) - mean) ** 2))
    assert final["baseline_val_mse"] == pytest.approx(expected, rel=1e-5)
    assert final["baseline_val_loss"] == final["baseline_val_mse"]
    # The delays follow the carrier and the departure delay: a model must beat the mean.
    assert final["val_mse"] < 0.5 * final["baseline_val_mse"]
