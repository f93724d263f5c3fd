"""TPE against random, and early stopping, against a known truth (issue 12).

* TPE vs random at ``maxConfigs`` 40 on a smooth 5-dimensional function with noise
  (tests/search_truth.py), over ``--seeds`` sweeps: the median true value of the
  configuration each calls best, and the planning cost per configuration with 1,000
  finished results;
* early stopping at its defaults (and ASHA) on trials with known learning curves over
  three windows of different levels: the share of epochs saved, and how often the truly
  best configuration is still the best (with and without early stopping), for curves
  whose early epochs predict the final rank, and for crossing curves where they do not.

Both drive the decision core as the executors do. Usage::

    python bench/search_bench.py [--seeds 30]

Writes ``bench/out/search.json``; exits 1 when TPE's median is not better than
random's, or when early stopping at its defaults saves under 40% of the epochs or finds
the best configuration more than 2 points less often (well-ordered curves).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common import write  # noqa: E402
from tests.search_truth import SEARCH, early_sweep, search_sweep  # noqa: E402

from tuningsweep.core.planning.outcomes import TrialEnd, trial_row  # noqa: E402
from tuningsweep.core.planning.planner import plan_trials  # noqa: E402
from tuningsweep.core.planning.windows import resolve_windows  # noqa: E402
from tuningsweep.core.spec.manifest import load_sweeps  # noqa: E402


def planning_cost(finished: int = 1000) -> float:
    """Milliseconds per configuration to replan a TPE sweep with ``finished`` results."""
    sweep = load_sweeps(SEARCH.format(algorithm="tpe", seed=1, configs=finished + 4),
                        "s.yaml")[0]
    windows = resolve_windows(sweep.spec, dt.date(2026, 11, 30))
    rows = []
    plan = plan_trials(sweep.spec, windows, rows)
    while len(rows) < finished:  # fill the results batch by batch, as a sweep would
        for t in plan.pending(r.trial for r in rows):
            rows.append(trial_row(sweep, TrialEnd(t, True, final={"val_mse": len(rows) % 7})))
        plan = plan_trials(sweep.spec, windows, rows)
    started = time.perf_counter()
    plan_trials(sweep.spec, windows, rows[:finished])  # replayed: every batch is cached
    cached = time.perf_counter() - started
    from tuningsweep.core.search import tpe as search_tpe
    search_tpe._CACHE.clear()
    started = time.perf_counter()
    plan_trials(sweep.spec, windows, rows[:finished])
    cold = time.perf_counter() - started
    return round(1000 * cold / finished, 2), round(1000 * cached / finished, 3)


def early(seeds: int, rule: str, crossing: bool) -> dict[str, float]:
    run = full = found = 0
    for seed in range(seeds):
        a, b, f = early_sweep(seed, early=rule, crossing=crossing)
        run, full, found = run + a, full + b, found + f
    return {"epochs_saved": round(1 - run / full, 3), "best_found": round(found / seeds, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=30)
    args = parser.parse_args()
    started = time.time()
    search = {alg: statistics.median(search_sweep(alg, s) for s in range(args.seeds))
              for alg in ("random", "tpe")}
    cold, cached = planning_cost()
    stopping = {
        f"{curves}: {rule or 'none'}": early(args.seeds, rule, curves == "crossing")
        for curves in ("well-ordered", "crossing")
        for rule in ("", "{rule: median}", "{rule: asha}")
    }
    base, default = stopping["well-ordered: none"], stopping["well-ordered: {rule: median}"]
    targets = {
        "tpe median better than random": search["tpe"] < search["random"],
        "early stopping saves >= 40% of epochs": default["epochs_saved"] >= 0.40,
        "best found within 2 points": default["best_found"] >= base["best_found"] - 0.02,
    }
    write("search", {
        "seeds": args.seeds,
        "median_true_value_of_best": {k: round(v, 4) for k, v in search.items()},
        "tpe_planning_ms_per_config_at_1000_results": {"cold": cold, "replayed": cached},
        "early_stopping": stopping, "targets": targets,
        "seconds": round(time.time() - started, 1)})
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
