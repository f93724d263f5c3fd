"""A stand-in trainer for runner and operator tests: the trainer contract, no TensorFlow.

It reports through :class:`tuningsweep.reporting.Reporter`, the writer users' trainers
use (metrics file locally, Pushgateway on a cluster), so the tests exercise the real
record format. Its objective is a known function of the parameters and the window, so
tests can check rows and summaries exactly. Behaviour is steered through the
environment:

* ``FAKE_SLEEP``: seconds to "train" (default 0.2);
* ``FAKE_FAIL_CONFIGS``: comma-separated config ids (from the trial id) that exit 1;
* ``FAKE_BAD_INPUT_CONFIGS``: config ids that exit 2 (the contract's "bad input");
* ``FAKE_NAN_CONFIGS``: config ids whose objective is NaN (a diverged training);
* ``FAKE_NO_PUSH``: exit 0 without reporting anything;
* ``FAKE_EPOCHS``: epochs to report (default 1), ``FAKE_SLEEP`` spread over them; epoch
  ``e`` reports ``objective * (1 + 1/e)``, improving towards the final value;
* ``FAKE_STARTED_DIR``: a folder where each trial touches ``<trial>.started``.
* ``FAKE_KILL_CONFIGS``: config ids whose trial SIGKILLs its own process after
  ``FAKE_SLEEP`` (the out-of-memory killer's way: no exit status of its own).
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import time
from pathlib import Path

from tuningsweep.reporting import Reporter


def objective(params: dict[str, float], window_start: str) -> float:
    """val_mse: lower learning rates and more units are better; later windows are harder."""
    month = int(window_start[5:7])
    return round(params.get("learning_rate", 0.0) * 10 + 1.0 / params.get("hidden_units", 1)
                 + month / 1000, 9)


def _configs(variable: str) -> list[str]:
    return [c for c in os.environ.get(variable, "").split(",") if c]


def main() -> int:
    trial = os.environ["TUNINGSWEEP_TRIAL"]
    started_dir = os.environ.get("FAKE_STARTED_DIR")
    if started_dir:
        Path(started_dir, f"{trial}.started").touch()
    epochs = int(os.environ.get("FAKE_EPOCHS", "1"))
    sleep = float(os.environ.get("FAKE_SLEEP", "0.2"))
    config = trial.split("-")[0]
    if config in _configs("FAKE_KILL_CONFIGS"):
        time.sleep(sleep)
        os.kill(os.getpid(), signal.SIGKILL)
    if config in _configs("FAKE_FAIL_CONFIGS"):
        time.sleep(sleep)
        print("loading data...", file=sys.stderr)
        print(f"RuntimeError: simulated failure in {trial}", file=sys.stderr)
        return 1
    if config in _configs("FAKE_BAD_INPUT_CONFIGS"):
        print(f"BadInputError: no data for the window of {trial}", file=sys.stderr)
        return 2
    if os.environ.get("FAKE_NO_PUSH"):
        time.sleep(sleep)
        return 0
    params = json.loads(os.environ["TUNINGSWEEP_PARAMS"])
    value = objective(params, os.environ["TUNINGSWEEP_WINDOW_START"])
    if config in _configs("FAKE_NAN_CONFIGS"):
        value = math.nan
    reporter = Reporter.from_env()
    for epoch in range(1, epochs + 1):
        time.sleep(sleep / epochs)
        reporter.report_epoch(epoch, {"val_mse": value * (1 + 1 / epoch), "loss": value * 3})
    reporter.report_final({"val_mse": value, "loss": value * 2, "training_time_seconds": 0.1})
    return 0


if __name__ == "__main__":
    sys.exit(main())
