"""The tf.data pipelines: every row once per epoch, reshuffled per epoch, reproducible."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np

from tuningsweep_trainer import pipeline, schema, tf_runtime
from tuningsweep_trainer.examples import Examples

N, BATCH = 103, 10  # a partial last batch on purpose
INPUTS = (schema.INPUT_NUMERIC,)


def _examples() -> Examples:
    rows = np.arange(N, dtype=np.float32)
    return Examples(
        numeric=np.repeat(rows[:, None], schema.NUM_NUMERIC, axis=1),
        tokens=np.zeros((N, schema.NUM_TOKENS), np.int32),
        history=np.zeros((N, schema.HISTORY_LENGTH), np.float32),
        target=rows,  # the target is the row number, so batches can be traced back
        day=np.zeros(N, np.int32),
    )


def _epochs(tf: Any, seed: int, epochs: int) -> list[list[int]]:
    steps = pipeline.steps_per_epoch(N, BATCH)
    batches = pipeline.training_dataset(tf, _examples(), INPUTS, BATCH, seed).take(steps * epochs)
    rows: list[list[int]] = [[] for _ in range(epochs)]
    for i, (features, target) in enumerate(batches):
        assert set(features) == set(INPUTS)
        assert np.array_equal(features[schema.INPUT_NUMERIC].numpy()[:, 0], target.numpy()[:, 0])
        rows[i // steps].extend(int(v) for v in target.numpy()[:, 0])
    return rows


def test_training_batches_cover_every_row_once_per_epoch_in_a_new_order() -> None:
    tf = tf_runtime.import_tensorflow()
    epochs = _epochs(tf, seed=7, epochs=3)
    for rows in epochs:
        assert sorted(rows) == list(range(N))
    assert epochs[0] != epochs[1] != epochs[2]
    assert _epochs(tf, seed=7, epochs=3) == epochs
    assert _epochs(tf, seed=8, epochs=1)[0] != epochs[0]


def test_validation_batches_are_in_order() -> None:
    tf = tf_runtime.import_tensorflow()
    dataset = pipeline.validation_dataset(tf, _examples(), INPUTS, BATCH)
    sizes = [int(t.shape[0]) for _, t in dataset]
    assert sizes == [10] * 10 + [3]
    rows = [int(v) for _, t in dataset for v in t.numpy()[:, 0]]
    assert rows == list(range(N))


def test_thread_limits_are_applied_before_the_runtime_starts() -> None:
    code = ("from tuningsweep_trainer import tf_runtime\n"
            "tf = tf_runtime.import_tensorflow(threads=(1, 2))\n"
            "tf.constant(1) + 1\n"
            "print(tf.config.threading.get_intra_op_parallelism_threads(),\n"
            "      tf.config.threading.get_inter_op_parallelism_threads())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert proc.stdout.split() == ["1", "2"]
    assert "oneDNN" not in proc.stderr
