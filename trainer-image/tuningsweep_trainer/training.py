"""Compile and fit one trial's model, and summarise the run as the contract's metrics.

Choices that shape the numbers a sweep compares:

* **Optimiser**: Adam on an exponential-decay schedule whose step is one epoch
  (``decay_steps = steps per epoch``, staircase), so ``decay_factor`` reads as "the
  learning rate is multiplied by this after every epoch", independent of batch size.
* **Early stopping** on ``val_loss`` with ``early_stopping_patience``, restoring the
  best epoch's weights at the end; a diverging configuration (non-finite loss) is
  stopped after its first bad epoch instead of burning the remaining ones. Every
  callback is epoch-level, which keeps Keras' training loop asynchronous (see
  :mod:`.keras_callbacks`).
* **Final metrics** are those of the *best* epoch (whose weights are the saved model),
  not of the last one: ``loss``, ``mse``, ``val_loss``, ``val_mse``, plus
  ``training_time_seconds`` (wall time of ``fit``), ``epochs_run``, ``best_epoch``
  (1-based) and ``samples_per_second`` (training rows times epochs run, over the fit
  time). A run whose validation loss is never finite fails (exit 1) rather than
  reporting a NaN objective.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import models, pipeline, schema
from .errors import TrainingFailedError
from .examples import Examples

log = logging.getLogger(__name__)

#: Keys of the per-epoch history and of the best-epoch part of the final metrics.
EPOCH_METRICS = ("loss", "mse", "val_loss", "val_mse")


@dataclass
class TrainingResult:
    """A fitted model, its per-epoch history (1-based ``epoch``) and final metrics."""

    model: Any
    history: list[dict[str, float]]
    metrics: dict[str, float]


def train(
    tf: Any,
    architecture: str,
    params: Mapping[str, Any],
    train_examples: Examples,
    val_examples: Examples,
    *,
    epochs: int,
    seed: int = 0,
    tensorboard_dir: Path | None = None,
    callbacks: Sequence[Any] = (),
    verbose: bool = False,
    layout: schema.Layout = schema.FIXED_LAYOUT,
) -> TrainingResult:
    """Build, compile and fit the model; return it with its history and final metrics.

    Raises:
        TrainingFailedError: the validation loss was never finite.
    """
    import keras

    from . import keras_callbacks

    inputs = models.input_names(architecture, layout)
    batch_size = int(params["batch_size"])
    learning_rate = float(params["learning_rate"])
    decay_factor = float(params["decay_factor"])
    steps = pipeline.steps_per_epoch(len(train_examples), batch_size)

    model = models.build_model(architecture, params, layout)
    schedule = keras.optimizers.schedules.ExponentialDecay(
        initial_learning_rate=learning_rate, decay_steps=steps, decay_rate=decay_factor,
        staircase=True,
    )
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse", metrics=["mse"])

    def rate(epoch: int) -> float:
        """The learning rate during (0-based) ``epoch``."""
        return learning_rate * decay_factor ** epoch

    all_callbacks: list[Any] = [
        keras_callbacks.StopOnNonFinite(),
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=int(params["early_stopping_patience"]),
            restore_best_weights=True,
        ),
        keras_callbacks.EpochLogger(epochs, EPOCH_METRICS),
    ]
    if tensorboard_dir is not None and _tensorboard_available():
        all_callbacks.append(keras_callbacks.EpochSummaries(tensorboard_dir, rate))
    all_callbacks.extend(callbacks)

    train_ds = pipeline.training_dataset(tf, train_examples, inputs, batch_size, seed)
    val_ds = pipeline.validation_dataset(tf, val_examples, inputs, batch_size)

    started = time.perf_counter()
    fitted = model.fit(
        train_ds, validation_data=val_ds, epochs=epochs, steps_per_epoch=steps,
        callbacks=all_callbacks, verbose=2 if verbose else 0, shuffle=False,
    )
    elapsed = time.perf_counter() - started

    history = _history(fitted.history, rate)
    metrics = summarise(history, elapsed, len(train_examples))
    return TrainingResult(model=model, history=history, metrics=metrics)


def _tensorboard_available() -> bool:
    """TensorFlow 2.21 no longer depends on ``tensorboard``; without it, skip the logs."""
    if importlib.util.find_spec("tensorboard") is not None:
        return True
    log.warning("TensorBoard logs not written: the tensorboard package is not installed")
    return False


def _history(
    raw: Mapping[str, Sequence[float]], rate: Callable[[int], float]
) -> list[dict[str, float]]:
    epochs_run = len(raw.get("loss", ()))
    history: list[dict[str, float]] = []
    for i in range(epochs_run):
        entry: dict[str, float] = {"epoch": i + 1}
        for key, values in raw.items():
            if i < len(values):
                entry[key] = float(values[i])
        entry["learning_rate"] = rate(i)
        history.append(entry)
    return history


def summarise(history: Sequence[Mapping[str, float]], elapsed: float, n_train: int) -> dict[str, float]:
    """Final metrics from the per-epoch history (see the module docstring).

    Raises:
        TrainingFailedError: no epoch has a finite ``val_loss``.
    """
    finite = [h for h in history if math.isfinite(h.get("val_loss", math.nan))]
    if not finite:
        raise TrainingFailedError(
            "training diverged: val_loss is not finite in any epoch "
            "(try a lower learning_rate)"
        )
    best = min(finite, key=lambda h: h["val_loss"])
    metrics = {key: float(best[key]) for key in EPOCH_METRICS if key in best}
    epochs_run = len(history)
    metrics.update({
        "training_time_seconds": elapsed,
        "epochs_run": float(epochs_run),
        "best_epoch": float(best["epoch"]),
        "samples_per_second": n_train * epochs_run / elapsed if elapsed > 0 else 0.0,
    })
    return metrics
