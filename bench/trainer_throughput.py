"""Does the trainer's input pipeline keep the model fed?

Compares, for the same model, data and hyperparameters, the training throughput
(training examples x epochs / wall time of ``fit``) of

* **trainer**: :func:`tuningsweep_trainer.training.train` exactly as a trial runs it
  (``tf.data`` pipeline, early stopping, TensorBoard logs, per-epoch reporting to a
  metrics file), whose ``samples_per_second`` metric is what the sweep records; and
* **bare**: ``model.fit`` on the in-memory numpy arrays with ``shuffle=True`` and the
  same validation data, no callbacks: the best Keras does with no pipeline of ours.

Both sides include validation every epoch and the first epoch's tracing, as a trial
does; a steady-state figure (epochs after the first) is printed as well. Runs
alternate between the two sides to spread machine noise, and medians are compared.
The target is a ratio of at least 0.9.

Usage::

    python bench/trainer_throughput.py [--arch mlp] [--days 60] [--rows-per-day 2000]

Writes the figures to ``bench/out/trainer.json``; exits 1 if an architecture misses
the target.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import write  # bench/ is on sys.path when this file runs as a script

from tuningsweep.core.spec import presets
from tuningsweep.reporting import Reporter
from tuningsweep_trainer import models, tf_runtime, training
from tuningsweep_trainer.data_synthetic import SyntheticSource
from tuningsweep_trainer.examples import Examples

TARGET_RATIO = 0.9


def _epoch_timer(keras: Any) -> Any:
    class EpochTimer(keras.callbacks.Callback):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._t = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.seconds.append(time.perf_counter() - self._t)

    return EpochTimer()


def run_trainer(tf: Any, arch: str, params: dict[str, Any], train: Examples, val: Examples,
                epochs: int, workdir: Path) -> tuple[float, float]:
    """One trainer run; return (whole-fit, steady-state) samples per second."""
    import keras

    from tuningsweep.reporting import ReportingCallback

    timer = _epoch_timer(keras)
    reporter = Reporter(metrics_file=workdir / "metrics.jsonl")
    result = training.train(
        tf, arch, params, train, val, epochs=epochs, seed=0,
        tensorboard_dir=workdir / "tensorboard",
        callbacks=[ReportingCallback(reporter), timer],
    )
    steady = len(train) * (epochs - 1) / sum(timer.seconds[1:])
    return result.metrics["samples_per_second"], steady


def run_bare(arch: str, params: dict[str, Any], train: Examples, val: Examples,
             epochs: int) -> tuple[float, float]:
    """One bare ``model.fit`` on numpy arrays; return (whole-fit, steady-state) samples/s."""
    import keras

    inputs = models.input_names(arch)
    batch_size = int(params["batch_size"])
    model = models.build_model(arch, params)
    steps = -(-len(train) // batch_size)
    schedule = keras.optimizers.schedules.ExponentialDecay(
        float(params["learning_rate"]), steps, float(params["decay_factor"]), staircase=True)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse", metrics=["mse"])
    x = {k: v for k, v in train.features().items() if k in inputs}
    vx = {k: v for k, v in val.features().items() if k in inputs}
    timer = _epoch_timer(keras)
    started = time.perf_counter()
    model.fit(x, train.target.reshape(-1, 1), batch_size=batch_size, epochs=epochs,
              validation_data=(vx, val.target.reshape(-1, 1)), shuffle=True, verbose=0,
              callbacks=[timer])
    elapsed = time.perf_counter() - started
    steady = len(train) * (epochs - 1) / sum(timer.seconds[1:])
    return len(train) * epochs / elapsed, steady


def main() -> int:
    """Run the comparison, print it, and write ``bench/out/trainer.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="mlp", help="architecture, or 'all'")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--rows-per-day", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    archs = list(presets.ARCHITECTURES) if args.arch == "all" else [args.arch]
    start = dt.date(2025, 1, 1)
    source = SyntheticSource.parse(f"synthetic://ctr?seed=1&rows_per_day={args.rows_per_day}")
    examples = source.window(start, start + dt.timedelta(days=args.days - 1))
    train, val = examples.split_time_ordered()
    tf = tf_runtime.import_tensorflow(seed=0)

    report: dict[str, Any] = {
        "tensorflow": tf.__version__, "device": tf_runtime.device_summary(tf),
        "data": {"train_rows": len(train), "validation_rows": len(val), "days": args.days},
        "epochs": args.epochs, "batch_size": args.batch_size, "repeats": args.repeats,
        "target_ratio": TARGET_RATIO, "architectures": {},
    }
    ok = True
    for arch in archs:
        params: dict[str, Any] = presets.defaults(arch)
        params.update(batch_size=args.batch_size, early_stopping_patience=args.epochs)
        trainer_runs: list[tuple[float, float]] = []
        bare_runs: list[tuple[float, float]] = []
        for i in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                order = ("trainer", "bare") if i % 2 == 0 else ("bare", "trainer")
                for side in order:
                    if side == "trainer":
                        trainer_runs.append(run_trainer(tf, arch, params, train, val,
                                                        args.epochs, Path(tmp)))
                    else:
                        bare_runs.append(run_bare(arch, params, train, val, args.epochs))
        trainer_sps = statistics.median(r[0] for r in trainer_runs)
        bare_sps = statistics.median(r[0] for r in bare_runs)
        trainer_steady = statistics.median(r[1] for r in trainer_runs)
        bare_steady = statistics.median(r[1] for r in bare_runs)
        ratio = trainer_sps / bare_sps
        figures = {
            "trainer_samples_per_second": trainer_sps,
            "bare_samples_per_second": bare_sps,
            "ratio": ratio,
            "trainer_steady_samples_per_second": trainer_steady,
            "bare_steady_samples_per_second": bare_steady,
            "steady_ratio": trainer_steady / bare_steady,
            "trainer_runs": trainer_runs, "bare_runs": bare_runs,
        }
        report["architectures"][arch] = figures
        ok = ok and ratio >= TARGET_RATIO
        print(f"{arch}: trainer {trainer_sps:,.0f} samples/s, bare model.fit "
              f"{bare_sps:,.0f} samples/s, ratio {ratio:.2f}x (steady state "
              f"{trainer_steady / bare_steady:.2f}x; target >= {TARGET_RATIO}x)", flush=True)

    report["meets_target"] = ok
    write("trainer", report)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
