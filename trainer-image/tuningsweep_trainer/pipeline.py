"""``tf.data`` input pipelines that keep the model fed.

The window's examples are already in memory (a few hundred thousand small rows), so the
pipeline's job is to shuffle and batch them with as little per-example work as
possible, and never to stall between epochs:

* **Vectorised batches.** Instead of ``from_tensor_slices(...).shuffle(n).batch(b)``,
  which moves every example through a shuffle buffer one at a time, each epoch draws one
  permutation of the row indices (a single op), reshapes it into batches of indices and
  gathers every batch from the in-memory tensors in one op, in parallel, prefetched.
  This is what Keras does internally for numpy input, and the tensors are placed on the
  host once, so the whole window is effectively cached.
* **One iterator for the whole fit.** The training dataset is infinite: epoch ``e``'s
  permutation comes from a stateless shuffle seeded by ``(seed, e)``, so batches are
  reproducible for a seed and differ between epochs, and ``fit`` is given
  ``steps_per_epoch``. Keras then keeps one iterator across epochs, so prefetching runs
  over epoch boundaries instead of restarting the pipeline each epoch (which a bare
  ``model.fit`` on arrays does).

Validation batches are contiguous slices, in order, of the in-memory tensors.
``bench/trainer_throughput.py`` compares the result with a bare ``model.fit``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .examples import Examples


def _tensors(tf: Any, examples: Examples, inputs: tuple[str, ...]) -> tuple[dict[str, Any], Any]:
    features = examples.features()
    with tf.device("/CPU:0"):
        x = {name: tf.constant(features[name]) for name in inputs}
        y = tf.constant(examples.target.reshape(-1, 1).astype(np.float32))
    return x, y


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Number of batches in one pass over ``n`` rows (the last one may be partial)."""
    return max(1, -(-n // batch_size))


def training_dataset(
    tf: Any, examples: Examples, inputs: tuple[str, ...], batch_size: int, seed: int
) -> Any:
    """Return an infinite dataset of shuffled ``(features, target)`` batches.

    Every consecutive ``steps_per_epoch(len(examples), batch_size)`` batches are one
    epoch: each row exactly once, in an order drawn from ``(seed, epoch)``.
    """
    x, y = _tensors(tf, examples, inputs)
    n = len(examples)
    full = n // batch_size
    remainder = n - full * batch_size

    def epoch_batches(epoch: Any) -> Any:
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
        batches = tf.data.Dataset.from_tensor_slices(
            tf.reshape(order[: full * batch_size], (full, batch_size)))
        if remainder:
            batches = batches.concatenate(tf.data.Dataset.from_tensors(order[full * batch_size:]))
        return batches

    def gather(indices: Any) -> tuple[dict[str, Any], Any]:
        return {name: tf.gather(t, indices) for name, t in x.items()}, tf.gather(y, indices)

    return (
        tf.data.Dataset.counter()
        .prefetch(1)
        .flat_map(epoch_batches)
        .map(gather, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def validation_dataset(
    tf: Any, examples: Examples, inputs: tuple[str, ...], batch_size: int
) -> Any:
    """Return a finite dataset of in-order ``(features, target)`` batches."""
    x, y = _tensors(tf, examples, inputs)
    n = len(examples)

    def batch(index: Any) -> tuple[dict[str, Any], Any]:
        start = index * batch_size
        stop = tf.minimum(start + batch_size, n)
        return {name: t[start:stop] for name, t in x.items()}, y[start:stop]

    return (
        tf.data.Dataset.range(steps_per_epoch(n, batch_size))
        .map(batch, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
