#!/usr/bin/env python3
"""A trainer with a known truth: objective = true mean of the arm + window shift + noise.

For the racing and search benchmarks run through ``tuningsweep run``: no training, so a
sweep of hundreds of trials takes seconds, and the benchmark can compute the truth
(which configuration is really best, by how much) from the same functions.

It follows the trainer contract: reads ``TUNINGSWEEP_PARAMS`` (JSON with an integer
``arm``), ``TUNINGSWEEP_TRIAL``, ``TUNINGSWEEP_WINDOW_START`` and reports ``val_mse``
with :class:`tuningsweep.reporting.Reporter` (to ``TUNINGSWEEP_METRICS_FILE`` locally,
or the Pushgateway on a cluster). The scenario comes from the environment:

* ``KNOWN_TRUTH_SEED`` (default 0): draws the arms' true means and the window shifts;
* ``KNOWN_TRUTH_MEAN``, ``KNOWN_TRUTH_SPREAD`` (0.10, 0.01): true means ~ N(mean, spread);
* ``KNOWN_TRUTH_SHIFT`` (0.01): the shift of a window, ~ N(0, shift), added to every arm;
* ``KNOWN_TRUTH_NOISE`` (0.004): trial noise ~ N(0, noise), seeded by the trial id;
* ``KNOWN_TRUTH_MULTIPLICATIVE`` (0): when positive, what real errors do instead:
  ``true mean x window factor x exp(noise / mean)``, the window factor
  ``exp(N(0, multiplicative))`` (the additive shift is then not used);
* ``KNOWN_TRUTH_DIVERGED`` (empty): trial ids, comma-separated, that diverge: their
  value is multiplied by ``KNOWN_TRUTH_DIVERGE_FACTOR`` (10).

Each draw comes from its own ``random.Random`` seeded by a string (hashed with SHA-512 by
Python, so independent of ``PYTHONHASHSEED``): the true mean of arm ``k`` does not depend
on how many arms there are, and a rerun of a trial reports the same value. Import
:func:`true_mean` and :func:`window_shift` to compute the truth in a benchmark.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
from collections.abc import Mapping
from pathlib import Path

METRIC = "val_mse"


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    return float(env.get(name, default))


def true_mean(arm: int, seed: int, mean: float = 0.10, spread: float = 0.01) -> float:
    """The true objective of arm ``arm`` in scenario ``seed`` (lower is better)."""
    return mean + spread * random.Random(f"known-truth:{seed}:arm:{arm}").gauss(0.0, 1.0)


def window_shift(window_start: str, seed: int, shift: float = 0.01) -> float:
    """How much harder the window starting on ``window_start`` is, for every arm."""
    return shift * random.Random(f"known-truth:{seed}:window:{window_start}").gauss(0.0, 1.0)


def trial_noise(trial: str, seed: int, noise: float = 0.004) -> float:
    """The trial's own noise: the same trial id always draws the same value."""
    return noise * random.Random(f"known-truth:{seed}:trial:{trial}").gauss(0.0, 1.0)


def objective(env: Mapping[str, str]) -> float:
    """The value a trial reports, from the trainer contract's environment."""
    params = json.loads(env["TUNINGSWEEP_PARAMS"])
    arm = params.get("arm")
    if not isinstance(arm, int) or isinstance(arm, bool):
        raise ValueError(f"TUNINGSWEEP_PARAMS needs an integer 'arm', got {params!r}")
    seed = int(env.get("KNOWN_TRUTH_SEED", "0"))
    diverged = env.get("KNOWN_TRUTH_DIVERGED", "").split(",")
    factor = _number(env, "KNOWN_TRUTH_DIVERGE_FACTOR", 10.0) if env[
        "TUNINGSWEEP_TRIAL"] in diverged else 1.0
    multiplicative = _number(env, "KNOWN_TRUTH_MULTIPLICATIVE", 0.0)
    if multiplicative > 0:
        mean = _number(env, "KNOWN_TRUTH_MEAN", 0.10)
        level = true_mean(arm, seed, mean, _number(env, "KNOWN_TRUTH_SPREAD", 0.01))
        window = math.exp(window_shift(env["TUNINGSWEEP_WINDOW_START"], seed, multiplicative))
        noise = trial_noise(env["TUNINGSWEEP_TRIAL"], seed,
                            _number(env, "KNOWN_TRUTH_NOISE", 0.004) / mean)
        return factor * level * window * math.exp(noise)
    return factor * (
        true_mean(arm, seed, _number(env, "KNOWN_TRUTH_MEAN", 0.10),
                  _number(env, "KNOWN_TRUTH_SPREAD", 0.01))
        + window_shift(env["TUNINGSWEEP_WINDOW_START"], seed,
                       _number(env, "KNOWN_TRUTH_SHIFT", 0.01))
        + trial_noise(env["TUNINGSWEEP_TRIAL"], seed, _number(env, "KNOWN_TRUTH_NOISE", 0.004))
    )


def main() -> int:
    try:
        from tuningsweep.reporting import Reporter
    except ImportError:  # run from a checkout without the package installed
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "operator"))
        from tuningsweep.reporting import Reporter
    try:
        value = objective(os.environ)
    except (KeyError, ValueError) as err:
        print(f"known_truth_trainer: {err}", file=sys.stderr)
        return 2
    Reporter.from_env().report_final({METRIC: value})
    return 0


if __name__ == "__main__":
    sys.exit(main())
