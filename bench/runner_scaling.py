"""The local runner's bookkeeping as a sweep grows: instant trials at 250, 2,000, 10,000.

Each trial is a shell script that only appends its final metric to the metrics file,
so a trial's wall time is almost all the runner's: starting the process, collecting it,
recording its row, deciding the next trial, keeping results.csv and summary.csv current.
If that work grew with the rows already recorded, the per-trial figure would grow with
the sweep. Figures per size: wall seconds per trial (the overhead) and the runner's own
CPU per trial (``RUSAGE_SELF`` of the runner process, so the trials' CPU is excluded).
The overhead is counted from the first trial's start to the runner's exit (the final
flush included), so the one-off start-up does not flatter the larger sizes.
Target: per-trial overhead at the largest size within 1.1x of the smallest.

``python bench/runner_scaling.py [SIZE ...]`` measures other sizes (e.g. ``250 2000`` on a
busy machine, where 10,000 trials take several minutes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ratio, write

SIZES = (250, 2000, 10000)
PARALLEL = 2
TARGET_RATIO = 1.1

# The first trial notes when it started, so that the CLI's start-up is not spread over
# the trials (it is the same at every size, and measured apart by optuna_compare.py).
TRAINER = """#!/bin/sh
[ -e "$BENCH_FIRST" ] || date +%s.%N > "$BENCH_FIRST"
echo '{"type": "final", "metrics": {"val_mse": 0.5}}' >> "$TUNINGSWEEP_METRICS_FILE"
"""

# Runs the CLI in-process and records the runner's own CPU (children excluded): the
# trials' processes are not the runner's bookkeeping.
RUNNER = """\
import json, resource, sys
from tuningsweep.cli import main
status = main(sys.argv[2:])
usage = resource.getrusage(resource.RUSAGE_SELF)
with open(sys.argv[1], "w") as out:
    json.dump({"cpu": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss}, out)
sys.exit(status)
"""


def manifest(trials: int) -> str:
    """A grid of ``trials`` configurations on one window."""
    return (f"architecture: custom\n"
            f"windows: {{ranges: [{{start: 2026-01-01, end: 2026-01-31}}]}}\n"
            f"search: {{algorithm: grid}}\n"
            f"parameters:\n  x: {{values: [{', '.join(str(i) for i in range(trials))}]}}\n")


def measure(folder: Path, trials: int) -> dict[str, float]:
    """Run one sweep of ``trials`` instant trials; its per-trial figures."""
    trainer = folder / "trainer.sh"
    trainer.write_text(TRAINER)
    trainer.chmod(0o755)
    spec = folder / f"scale{trials}.yaml"
    spec.write_text(manifest(trials))
    usage = folder / f"usage{trials}.json"
    first = folder / f"first{trials}"
    subprocess.run(
        [sys.executable, "-c", RUNNER, str(usage), "run", str(spec), "--results",
         str(folder / "results"), "--parallel", str(PARALLEL), "--trainer-command",
         str(trainer), "-q"], check=True, env={**os.environ, "BENCH_FIRST": str(first)})
    wall = time.time() - float(first.read_text())
    text = (folder / "results" / "default" / f"scale{trials}" / "results.csv").read_text()
    assert text.count("\n") == trials + 1, "every trial has exactly one row"
    runner = json.loads(usage.read_text())
    return {"trials": trials, "wall_seconds": round(wall, 2),
            "overhead_ms_per_trial": round(1000 * wall / trials, 2),
            "runner_cpu_ms_per_trial": round(1000 * runner["cpu"] / trials, 2),
            "runner_peak_rss_mb": round(runner["maxrss_kb"] / 1024, 1)}


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or list(SIZES)
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        for trials in sizes:
            figures.append(measure(Path(tmp), trials))
            print(json.dumps(figures[-1]), flush=True)
    write("runner_scaling", {
        "parallel": PARALLEL, "sizes": figures,
        "overhead_ratio_largest_to_smallest": ratio(figures, "overhead_ms_per_trial"),
        "cpu_ratio_largest_to_smallest": ratio(figures, "runner_cpu_ms_per_trial"),
        "target_ratio": TARGET_RATIO,
        "note": "instant trials (a shell script appending its metric); wall from the first "
                "trial's start to the runner's exit",
    })


if __name__ == "__main__":
    main(sys.argv[1:])
