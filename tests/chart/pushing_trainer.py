"""A trial for the chart's operator runs: reports its final metrics the cluster way, at once.

It follows the trainer contract without training anything: it reads its identity and
parameters from the ``TUNINGSWEEP_*`` environment the operator puts in each Job, pushes
``tuningsweep_trial_metric{metric=...}``, ``tuningsweep_trial_epoch`` and
``tuningsweep_trial_finished 1`` to ``TUNINGSWEEP_PUSHGATEWAY`` under the grouping key
``{namespace, sweep, trial}`` (job ``tuningsweep``), and exits. The node agent runs it as
the Job's container command. A learning rate of 0.5 or more fails (exit 1), for the
operator's failed-trial path.
"""

from __future__ import annotations

import json
import os
import sys

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway


def main() -> int:
    params = json.loads(os.environ["TUNINGSWEEP_PARAMS"])
    if float(params.get("learning_rate", 0.0)) >= 0.5:
        print("RuntimeError: training diverged at learning_rate 0.5", file=sys.stderr)
        return 1
    val_mse = round(0.1 + float(params.get("learning_rate", 0.0)), 6)
    registry = CollectorRegistry()
    metric = Gauge("tuningsweep_trial_metric", "Trial metrics", ["metric"], registry=registry)
    metric.labels("val_mse").set(val_mse)
    metric.labels("loss").set(2 * val_mse)
    Gauge("tuningsweep_trial_epoch", "Last epoch", registry=registry).set(1)
    Gauge("tuningsweep_trial_finished", "1 once final", registry=registry).set(1)
    push_to_gateway(os.environ["TUNINGSWEEP_PUSHGATEWAY"], job="tuningsweep", registry=registry,
                    grouping_key={"namespace": os.environ["TUNINGSWEEP_NAMESPACE"],
                                  "sweep": os.environ["TUNINGSWEEP_SWEEP"],
                                  "trial": os.environ["TUNINGSWEEP_TRIAL"]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
