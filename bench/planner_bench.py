"""Planner benchmark: huge lazy grids, 10,000-configuration sweeps, linear scaling.

Figures: time and peak memory to plan 100 configurations out of a 10^10-point grid; time
to plan 10,000 configurations x 3 windows; and time per trial at 1k/10k/30k
configurations, whose ratio shows that planning grows linearly with the trials.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import write

from tuningsweep.core.planning.planner import plan_trials
from tuningsweep.core.planning.windows import resolve_windows
from tuningsweep.core.spec.manifest import load_sweeps

ANCHOR = dt.date(2026, 11, 27)


def manifest(max_configs: int, params: int = 10, values: int = 10, windows: int = 3) -> str:
    space = "\n".join(f"  p{i}: {{values: [{', '.join(str(v) for v in range(values))}]}}"
                      for i in range(params))
    return (f"architecture: mlp\nwindows: {{rolling: {{count: {windows}}}}}\n"
            f"search: {{algorithm: grid, maxConfigs: {max_configs}, seed: 7}}\n"
            f"parameters:\n{space}\n")


def best_of(text: str, repeats: int = 5) -> tuple[float, int]:
    spec = load_sweeps(text, "bench.yaml")[0].spec
    windows = resolve_windows(spec, ANCHOR)
    times = []
    trials = 0
    for _ in range(repeats):
        started = time.perf_counter()
        trials = len(plan_trials(spec, windows).trials)
        times.append(time.perf_counter() - started)
    return min(times), trials


def main() -> None:
    spec = load_sweeps(manifest(100), "bench.yaml")[0].spec
    windows = resolve_windows(spec, ANCHOR)
    tracemalloc.start()
    started = time.perf_counter()
    plan_trials(spec, windows)
    huge_s = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    ten_k_s, ten_k_trials = best_of(manifest(10_000))
    per_trial = {}
    for configs in (1_000, 10_000, 30_000):
        seconds, trials = best_of(manifest(configs), repeats=3)
        per_trial[configs] = seconds / trials
    linearity = per_trial[30_000] / per_trial[1_000]
    write("planner", {
        "grid_1e10_points_100_configs_seconds": round(huge_s, 5),
        "grid_1e10_points_100_configs_peak_bytes": peak,
        "configs_10k_x_3_windows_seconds": round(ten_k_s, 4),
        "configs_10k_x_3_windows_trials": ten_k_trials,
        "target_10k_seconds": 0.1,
        "microseconds_per_trial": {k: round(v * 1e6, 3) for k, v in per_trial.items()},
        "per_trial_ratio_30k_vs_1k": round(linearity, 3),
        "note": "a ratio near 1.0 means planning time grows linearly with trials",
        "median_us_per_trial": round(statistics.median(per_trial.values()) * 1e6, 3),
    })


if __name__ == "__main__":
    main()
