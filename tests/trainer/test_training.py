"""Real TensorFlow training on the CPU with tiny synthetic data, end to end through the CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from google.cloud import storage

from tests.services import Pushgateway, free_port, http_get
from tests.trainer.helpers import TINY_DATA, WINDOW, RunMain, run_console, trial_env
from tuningsweep.core.spec import presets
from tuningsweep_trainer import models, schema
from tuningsweep_trainer.data_synthetic import SyntheticSource
from tuningsweep_trainer.errors import TrainingFailedError
from tuningsweep_trainer.training import EPOCH_METRICS, summarise

# Keras 3.15's model.save converts tensors with np.array(copy=False), which numpy 2.4
# deprecates; it is Keras' own warning, not the trainer's.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

FINAL_METRICS = {"loss", "mse", "val_loss", "val_mse", "training_time_seconds", "epochs_run",
                 "best_epoch", "samples_per_second", "missing_values", "baseline_loss",
                 "baseline_mse", "baseline_val_loss", "baseline_val_mse"}


def _result_line(stdout: str) -> dict[str, float]:
    lines = [ln for ln in stdout.splitlines() if ln.startswith("TUNINGSWEEP_RESULT ")]
    assert len(lines) == 1, stdout
    return json.loads(lines[0].split(" ", 1)[1])  # type: ignore[no-any-return]


def _validation_split(preprocessing: dict[str, Any]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The window's raw validation rows, fed as ``preprocessing.json`` says to feed them."""
    start, end = (dt.date.fromisoformat(d) for d in WINDOW)
    examples = SyntheticSource.parse(TINY_DATA).window(start, end)
    _, val = examples.split_time_ordered()

    def scaled(values: np.ndarray, stats: dict[str, dict[str, float]]) -> np.ndarray:
        mean = np.array([s["mean"] for s in stats.values()])
        std = np.array([s["std"] for s in stats.values()])
        return ((values - mean) / std).astype(np.float32)

    features = {schema.INPUT_NUMERIC: scaled(val.numeric, preprocessing["numeric"]),
                schema.INPUT_TOKENS: val.tokens,
                schema.INPUT_HISTORY: scaled(val.history, preprocessing["sequence"])}
    return features, val.target


def _preprocessing(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "preprocessing.json").read_text())  # type: ignore[no-any-return]


def _load(path: Path) -> Any:
    import keras

    return keras.saving.load_model(path)


@pytest.mark.parametrize("architecture", presets.ARCHITECTURES)
def test_each_architecture_trains_two_epochs(
    run_main: RunMain, tmp_path: Path, architecture: str
) -> None:
    model_dir = tmp_path / "model"
    metrics_file = tmp_path / "metrics.jsonl"
    params = {"epochs": 2, "batch_size": 64}
    if architecture == "mlp":
        params["num_layers"] = 1
    env = trial_env(architecture=architecture, params=json.dumps(params),
                    model_uri=str(model_dir), metrics_file=str(metrics_file))
    run = run_main([], env)
    assert run.rc == 0, run.err

    result = _result_line(run.out)
    assert set(result) == FINAL_METRICS
    assert result["epochs_run"] == 2
    assert result["samples_per_second"] > 0

    history = json.loads((model_dir / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(set(EPOCH_METRICS) <= set(h) for h in history)
    best = history[int(result["best_epoch"]) - 1]
    assert result["val_mse"] == pytest.approx(best["val_mse"])

    records = [json.loads(ln) for ln in metrics_file.read_text().splitlines()]
    assert [r["type"] for r in records] == ["epoch", "epoch", "final"]
    assert records[-1]["metrics"] == pytest.approx(result)

    assert list((model_dir / "tensorboard" / "train").glob("events.out.tfevents.*"))
    assert list((model_dir / "tensorboard" / "validation").glob("events.out.tfevents.*"))
    saved = json.loads((model_dir / "result.json").read_text())
    assert saved["architecture"] == architecture
    assert saved["params"] == {**presets.defaults(architecture), **params}

    model = _load(model_dir / "model.keras")
    features, target = _validation_split(_preprocessing(model_dir))
    inputs = {k: v for k, v in features.items() if k in models.input_names(architecture)}
    predictions = model.predict(inputs, verbose=0)
    assert predictions.shape == (len(target), 1)
    assert np.isfinite(predictions).all()
    # The saved weights are those of the best epoch: evaluating them reproduces val_mse.
    assert np.mean((predictions[:, 0] - target) ** 2) == pytest.approx(result["val_mse"],
                                                                       rel=1e-3)


def test_early_stopping_stops_and_restores_the_best_epoch(
    run_main: RunMain, tmp_path: Path
) -> None:
    # A huge learning rate without decay makes the validation loss bounce at once;
    # patience 0 must stop at the first epoch that does not improve.
    params = {"epochs": 20, "learning_rate": 1.0, "decay_factor": 1.0,
              "early_stopping_patience": 0}
    run = run_main([], trial_env(params=json.dumps(params), model_uri=str(tmp_path)))
    assert run.rc == 0, run.err
    result = _result_line(run.out)
    history = json.loads((tmp_path / "history.json").read_text())

    assert result["epochs_run"] == len(history) < 20
    val_losses = [h["val_loss"] for h in history]
    assert result["best_epoch"] == 1 + int(np.argmin(val_losses))
    assert result["best_epoch"] < result["epochs_run"]
    assert val_losses[-1] >= min(val_losses)

    features, target = _validation_split(_preprocessing(tmp_path))
    inputs = {k: v for k, v in features.items() if k in models.input_names("mlp")}
    predictions = _load(tmp_path / "model.keras").predict(inputs, verbose=0)[:, 0]
    assert np.mean((predictions - target) ** 2) == pytest.approx(min(val_losses), rel=1e-3)


def test_max_epochs_caps_the_epochs(run_main: RunMain, tmp_path: Path) -> None:
    params = {"epochs": 50, "early_stopping_patience": 50, "learning_rate": 0.001}
    env = trial_env(params=json.dumps(params), model_uri=str(tmp_path), max_epochs="3")
    run = run_main([], env)
    assert run.rc == 0, run.err
    assert _result_line(run.out)["epochs_run"] == 3
    assert len(json.loads((tmp_path / "history.json").read_text())) == 3
    assert "up to 3 epoch(s)" in run.err


def test_model_saved_to_gcs_loads_back_and_predicts(
    run_main: RunMain, tmp_path: Path, gcs_bucket: str, gcs_client: storage.Client
) -> None:
    uri = f"gs://{gcs_bucket}/models/ml/sweep/c0001-w0"
    bucket = gcs_client.bucket(gcs_bucket)
    stale = bucket.blob("models/ml/sweep/c0001-w0/tensorboard/train/events.out.tfevents.old")
    stale.upload_from_string(b"from a previous attempt")
    neighbour = bucket.blob("models/ml/sweep/c0002-w0/model.keras")
    neighbour.upload_from_string(b"another trial")

    run = run_main([], trial_env(architecture="cnn", model_uri=uri))
    assert run.rc == 0, run.err

    names = {b.name for b in gcs_client.list_blobs(gcs_bucket, prefix="models/ml/sweep/")}
    prefix = "models/ml/sweep/c0001-w0/"
    assert {prefix + "model.keras", prefix + "history.json", prefix + "result.json"} <= names
    assert any(n.startswith(prefix + "tensorboard/validation/events.") for n in names)
    assert stale.name not in names
    assert neighbour.name in names
    assert len(json.loads(bucket.blob(prefix + "history.json").download_as_bytes())) == 2

    local = tmp_path / "model.keras"
    bucket.blob(prefix + "model.keras").download_to_filename(str(local))
    preprocessing = json.loads(bucket.blob(prefix + "preprocessing.json").download_as_bytes())
    features, target = _validation_split(preprocessing)
    inputs = {k: v for k, v in features.items() if k in models.input_names("cnn")}
    predictions = _load(local).predict(inputs, verbose=0)
    assert predictions.shape == (len(target), 1)
    assert np.mean((predictions[:, 0] - target) ** 2) == pytest.approx(
        _result_line(run.out)["val_mse"], rel=1e-3)


def test_console_trainer_pushes_final_metrics_to_pushgateway(
    pushgateway: Pushgateway, tmp_path: Path
) -> None:
    trial = "c0042-w1"
    env = trial_env(architecture="bow", model_uri=str(tmp_path / "model"),
                    pushgateway=pushgateway.url, trial=trial, sweep="e2e",
                    tf_threads="1")
    run = run_console([], env)
    assert run.rc == 0, run.err
    result = _result_line(run.out)
    assert "oneDNN" not in run.err  # TensorFlow start-up noise is filtered

    status, body = http_get(f"{pushgateway.url}/api/v1/metrics")
    assert status == 200
    groups = [g for g in json.loads(body)["data"] if g["labels"].get("trial") == trial]
    assert len(groups) == 1
    group = groups[0]
    assert group["labels"] == {"job": "tuningsweep", "namespace": "ml", "sweep": "e2e",
                               "trial": trial}
    metric = {m["labels"]["metric"]: float(m["value"])
              for m in group["tuningsweep_trial_metric"]["metrics"]}
    assert set(metric) == FINAL_METRICS
    assert metric["val_mse"] == pytest.approx(result["val_mse"])
    assert float(group["tuningsweep_trial_finished"]["metrics"][0]["value"]) == 1.0
    assert float(group["tuningsweep_trial_epoch"]["metrics"][0]["value"]) == 2.0


def test_final_metrics_lost_means_exit_1(run_main: RunMain, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    env = trial_env(model_uri=str(tmp_path), pushgateway=url, params='{"epochs": 1}',
                    push_attempts="2", push_backoff_seconds="0.01")
    run = run_main([], env)
    assert run.rc == 1
    last = run.err.strip().splitlines()[-1]
    assert last.startswith("tuningsweep-trainer: error: final metrics reached no sink")
    assert url in last
    assert "TUNINGSWEEP_RESULT" not in run.out
    # The model itself was saved before reporting.
    assert (tmp_path / "model.keras").exists()


def test_summary_takes_the_best_finite_epoch_and_fails_when_none_is() -> None:
    nan = float("nan")
    history = [
        {"epoch": 1, "loss": 2.0, "mse": 2.0, "val_loss": 1.0, "val_mse": 1.0},
        {"epoch": 2, "loss": 1.0, "mse": 1.0, "val_loss": 0.5, "val_mse": 0.5},
        {"epoch": 3, "loss": nan, "mse": nan, "val_loss": nan, "val_mse": nan},
    ]
    metrics = summarise(history, elapsed=2.0, n_train=100)
    assert metrics == {"loss": 1.0, "mse": 1.0, "val_loss": 0.5, "val_mse": 0.5,
                       "training_time_seconds": 2.0, "epochs_run": 3.0, "best_epoch": 2.0,
                       "samples_per_second": 150.0}
    with pytest.raises(TrainingFailedError, match="diverged"):
        summarise(history[2:], elapsed=1.0, n_train=100)
