"""A cluster-side stand-in trainer: reports through ``tuningsweep.reporting`` only.

It follows the trainer contract like the real one (Pushgateway from
``TUNINGSWEEP_PUSHGATEWAY``, grouping key ``{namespace, sweep, trial}``) but trains
nothing, so operator tests run in seconds. Its objective is a known function of the
parameters and window (see ``tests.local.fake_trainer.objective``).

Environment: ``FAKE_SLEEP`` (seconds, default 0.2), ``FAKE_FAIL_CONFIGS`` (config ids
that exit 1), ``FAKE_BAD_INPUT_CONFIGS`` (config ids that exit 2, the contract's bad
input), ``FAKE_NO_PUSH`` (exit 0 without reporting).
"""

from __future__ import annotations

import json
import os
import sys
import time

from tests.local.fake_trainer import objective
from tuningsweep.reporting import Reporter


def main() -> int:
    trial = os.environ["TUNINGSWEEP_TRIAL"]
    time.sleep(float(os.environ.get("FAKE_SLEEP", "0.2")))
    if trial.split("-")[0] in os.environ.get("FAKE_FAIL_CONFIGS", "").split(","):
        print(f"RuntimeError: simulated failure in {trial}", file=sys.stderr)
        return 1
    if trial.split("-")[0] in os.environ.get("FAKE_BAD_INPUT_CONFIGS", "").split(","):
        print(f"BadInputError: no data for the window of {trial}", file=sys.stderr)
        return 2
    if os.environ.get("FAKE_NO_PUSH"):
        return 0
    params = json.loads(os.environ["TUNINGSWEEP_PARAMS"])
    value = objective(params, os.environ["TUNINGSWEEP_WINDOW_START"])
    reporter = Reporter.from_env()
    reporter.report_epoch(1, {"val_mse": value * 1.5, "loss": value * 3})
    reporter.report_final({"val_mse": value, "loss": value * 2, "training_time_seconds": 0.2})
    return 0


if __name__ == "__main__":
    sys.exit(main())
