"""The naive baseline the reference trainer reports beside its metrics.

The reference trainer is a regressor (mean squared error), so its naive prediction is
the **training rows' mean of the target**, for every row: what a model that learned
nothing from the inputs would predict. Its metrics on the same rows as the model's are
reported as ``baseline_<metric>`` (``baseline_val_mse``, ``baseline_val_loss``,
``baseline_mse``, ``baseline_loss``; the loss is the mean squared error), and the report
shows each configuration's distance from it (``tuningsweep.core.stats.baseline``).

Why the mean and not the last value: the reference trainer's rows are examples of a
day, often many per day and from many series (clicks, flights), with no order inside
a day that would make "the previous value" meaningful; the training mean is defined for
any table. For a single daily series (one row a day) it is the weaker of the two naive
forecasts, so beating it is a floor, not a bar. A classifier of your own would report
the majority class's metrics the same way.
"""

from __future__ import annotations

import numpy as np

#: The metrics a baseline is reported for: the model's, on the same rows.
BASELINE_OF = {"val_mse": "validation", "val_loss": "validation",
               "mse": "training", "loss": "training"}


def naive_baselines(train_target: np.ndarray, val_target: np.ndarray) -> dict[str, float]:
    """``baseline_<metric>`` of predicting the training mean (see the module docstring)."""
    mean = float(np.mean(train_target, dtype=np.float64))
    errors = {"training": float(np.mean((train_target.astype(np.float64) - mean) ** 2)),
              "validation": float(np.mean((val_target.astype(np.float64) - mean) ** 2))}
    return {f"baseline_{metric}": errors[part] for metric, part in BASELINE_OF.items()}
