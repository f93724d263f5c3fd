"""The trainer's own Keras callbacks, all epoch-level so that training stays asynchronous.

Keras 3 dispatches batch callbacks asynchronously only if no callback overrides a batch
hook; a single one that does (Keras' ``TensorBoard`` and ``TerminateOnNaN`` both do)
makes every training step wait for its logs to be copied back to Python, which cost
about a fifth of the throughput on small models in ``bench/trainer_throughput.py``. So
the per-batch parts are replaced by epoch-level equivalents:

* :class:`EpochSummaries` writes TensorBoard scalars once per epoch, in the layout and
  with the names Keras' callback uses (``train/`` and ``validation/`` runs,
  ``epoch_loss``, ``epoch_mse``, plus ``epoch_learning_rate``), so TensorBoard overlays
  training and validation curves as usual;
* :class:`StopOnNonFinite` ends training after the first epoch whose loss is NaN or
  infinite (a diverged configuration), instead of after the first such batch;
* :class:`EpochLogger` prints one progress line per epoch to the trial's log.

This module imports Keras at module level: import it only after
:func:`tuningsweep_trainer.tf_runtime.import_tensorflow` has configured TensorFlow.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

log = logging.getLogger(__name__)


class EpochSummaries(keras.callbacks.Callback):  # type: ignore[misc]
    """TensorBoard scalars per epoch under ``log_dir/train`` and ``log_dir/validation``."""

    def __init__(self, log_dir: Path, learning_rate: Callable[[int], float]) -> None:
        super().__init__()
        self.log_dir = log_dir
        self.learning_rate = learning_rate
        self._train: Any = None
        self._validation: Any = None

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self._train = tf.summary.create_file_writer(str(self.log_dir / "train"))
        self._validation = tf.summary.create_file_writer(str(self.log_dir / "validation"))

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        logs = logs or {}
        with self._train.as_default():
            for name, value in logs.items():
                if not name.startswith("val_"):
                    tf.summary.scalar(f"epoch_{name}", float(value), step=epoch)
            tf.summary.scalar("epoch_learning_rate", self.learning_rate(epoch), step=epoch)
        with self._validation.as_default():
            for name, value in logs.items():
                if name.startswith("val_"):
                    tf.summary.scalar(f"epoch_{name[4:]}", float(value), step=epoch)
        self._train.flush()
        self._validation.flush()

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        for writer in (self._train, self._validation):
            if writer is not None:
                writer.close()


class StopOnNonFinite(keras.callbacks.Callback):  # type: ignore[misc]
    """Stop training at the end of an epoch whose ``loss`` is NaN or infinite."""

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss):
            log.warning("epoch %d: loss is %s, stopping (diverged)", epoch + 1, loss)
            self.model.stop_training = True


class EpochLogger(keras.callbacks.Callback):  # type: ignore[misc]
    """Log ``epoch N/M name=value ... (seconds)`` at the end of every epoch."""

    def __init__(self, total_epochs: int, names: Sequence[str]) -> None:
        super().__init__()
        self.total_epochs = total_epochs
        self.names = tuple(names)
        self._started = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        values = " ".join(f"{k}={float(v):.6g}" for k, v in (logs or {}).items()
                          if k in self.names)
        log.info("epoch %d/%d %s (%.2fs)", epoch + 1, self.total_epochs, values,
                 time.perf_counter() - self._started)
