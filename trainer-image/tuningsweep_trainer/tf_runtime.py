"""Import and configure TensorFlow once the trial's inputs are known to be good.

TensorFlow is imported here and nowhere at module level, so validating a trial (and
``--describe``, and ``make-data``) costs no TensorFlow start-up, and a bad parameter
exits in well under a second.

Quiet by default: ``TF_CPP_MIN_LOG_LEVEL=2`` hides the C++ info and warning logs. A few
lines (the oneDNN notice) are printed by native code before that setting is read; they
are filtered out of file descriptor 2 while TensorFlow loads, and any other output of
the import is passed through, so a real import problem stays visible.

Threads: TensorFlow sizes its pools to the whole machine, which oversubscribes the CPU
when the local runner trains several trials at once; ``TUNINGSWEEP_TF_THREADS`` caps
them. The pools must be sized before the runtime starts, so this happens right after
the import. On a GPU, memory growth is enabled so that a small model does not reserve
the whole card.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

#: The thread pools' sizes once set: they cannot change after the runtime started, and a
#: warm worker (one process, trial after trial) asks for the same sizes every trial.
_threads_applied: tuple[int, int] | None = None

_NOISE = (
    "All log messages before absl::InitializeLog() is called",
    "oneDNN custom operations are on",
)


@contextlib.contextmanager
def _filtered_native_stderr() -> Iterator[None]:
    """Capture fd 2 during the block; replay what is not known start-up noise."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines() if not any(n in line for n in _NOISE)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")


def import_tensorflow(
    *, verbose: bool = False, threads: tuple[int, int] | None = None, seed: int | None = None
) -> Any:
    """Import TensorFlow quietly, size its thread pools and seed it; return the module."""
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with contextlib.nullcontext() if verbose else _filtered_native_stderr():
        import tensorflow as tf

        # Initialising the runtime also prints noise on the first op: trigger it here.
        gpus = tf.config.list_physical_devices("GPU")
    if not verbose:
        tf.get_logger().setLevel(logging.ERROR)
        logging.getLogger("absl").setLevel(logging.ERROR)
    global _threads_applied
    if threads is not None and threads != _threads_applied:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads[0])
            tf.config.threading.set_inter_op_parallelism_threads(threads[1])
            _threads_applied = threads
        except RuntimeError:
            log.warning("TensorFlow runtime already started in this process: "
                        "TUNINGSWEEP_TF_THREADS not applied")
    for gpu in gpus:
        with contextlib.suppress(RuntimeError, ValueError):
            tf.config.experimental.set_memory_growth(gpu, True)
    if seed is not None:
        import keras

        # A warm worker trains many trials in one process: a clean session first, so
        # that a trial's initial weights and shuffles are those of a fresh process.
        keras.backend.clear_session(free_memory=False)  # a warm worker freed it already
        keras.utils.set_random_seed(seed)
    return tf


def device_summary(tf: Any) -> str:
    """Return e.g. ``"1 GPU"`` or ``"CPU"`` for the log."""
    gpus = tf.config.list_physical_devices("GPU")
    return f"{len(gpus)} GPU" if gpus else "CPU"
