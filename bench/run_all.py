"""`make bench`: run every benchmark; each prints its figures and writes bench/out/*.json."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "planner_bench.py",
    "runner_overhead.py",
    "runner_scaling.py",
    "optuna_compare.py",
    "report_bench.py",
    "statistics_sim.py",
    # The known-truth checks docs/racing-and-search.md reports: racing, TPE against
    # random, early stopping (5 min and 1.5 min on a 2-core machine).
    "racing_bench.py",
    "search_bench.py",
    "robust_through_run.py",
    "trainer_throughput.py",
    "warm_trainers.py",
    "operator_bench.py",
    "operator_step_scaling.py",
    "early_stopping_scaling.py",
    "recurring_bench.py",
    "operator_scaling.py",
    "cluster_bench.py",
    "cluster_packing.py",
]


def main() -> int:
    failed = []
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, str(HERE / name)]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"figures written to {HERE / 'out'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
