"""Warm trainers against a process per trial: where fast-mode trial time goes.

Two fast-mode sweeps of the reference TensorFlow trainer, each run twice side by side on
this machine: once with ``--no-warm`` (a new process per trial that imports TensorFlow
and reads its window's files again: the behaviour before warm trainers) and once as
``tuningsweep run`` does by default (a warm worker per slot, each window read once).

* ``user-table``: a user's table of 31 daily CSV partitions of 4,000 rows with 5
  numeric columns and a target, 12 small configurations in fast mode (8 epochs) at
  ``--parallel 2``; with a process per trial it spends about 0.7 of its trial time not
  training, as the sweep measured in issue 24 did;
* ``quickstart``: ``examples/quickstart.yaml`` as written (6 trials, synthetic data).

Figures per run: wall time, wall per trial, the sum of trial times (``duration_seconds``)
and of training (``train_seconds``, the trainer's build, compile and fit), the overhead
share ``1 - train / trial time``, and the mean startup and data seconds. Targets: the
warm overhead share <= 0.3 and the warm wall <= 0.5x the cold one, with the same
objective value for every trial (the same seed trains the same model).

``python bench/warm_trainers.py [--repeat N] [--only user-table|quickstart]`` (``make
bench`` runs both once); writes ``bench/out/warm_trainers[_<only>].json``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import write  # noqa: E402

ROOT = HERE.parent
TODAY = "2026-11-15"  # fast mode's window: the last complete month, October 2026
DAYS = 31
ROWS = 4000
COLUMNS = ("x1", "x2", "x3", "x4", "x5")

USER_TABLE = f"""\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {{name: user-table}}
spec:
  architecture: mlp
  mode: fast
  fast: {{months: 1, maxEpochs: 8}}
  search: {{algorithm: grid, seed: 1}}
  parameters:
    learning_rate: {{values: [0.001, 0.003, 0.01]}}
    hidden_units: {{values: [16, 64]}}
    batch_size: {{values: [1024, 2048]}}
  objective: {{metric: val_mse, goal: minimize}}
  trainer:
    args: [--target, y, --numeric, "{','.join(COLUMNS)}"]
  data: data
"""


def write_table(folder: Path, start: dt.date = dt.date(2026, 10, 1), days: int = DAYS) -> None:
    """``days`` daily partitions of 4,000 rows from ``start`` (by default October 2026's
    31): y depends on x1..x5, with noise."""
    rng = np.random.default_rng(7)
    weights = rng.normal(size=len(COLUMNS))
    for day in range(days):
        x = rng.normal(size=(ROWS, len(COLUMNS)))
        y = x @ weights + 0.5 * np.sin(x[:, 0] * x[:, 1]) + rng.normal(scale=0.1, size=ROWS)
        partition = folder / f"date={start + dt.timedelta(days=day)}"
        partition.mkdir(parents=True)
        with (partition / "part-0.csv").open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow([*COLUMNS, "y"])
            writer.writerows([*(f"{v:.6f}" for v in row), f"{t:.6f}"]
                             for row, t in zip(x, y, strict=True))


def run(manifest: Path, results: Path, warm: bool) -> dict[str, Any]:
    """One sweep; its figures from results.csv."""
    command = [sys.executable, "-m", "tuningsweep.cli", "run", str(manifest), "--results",
               str(results), "--parallel", "2", "--today", TODAY, "-q"]
    if not warm:
        command.append("--no-warm")
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=manifest.parent)
    wall = time.perf_counter() - started
    [found] = results.glob("*/*/results.csv")
    with found.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert all(r["status"] == "succeeded" for r in rows), [r["error"] for r in rows]

    def total(column: str) -> float:
        return sum(float(r[column]) for r in rows)

    trial, train = total("duration_seconds"), total("train_seconds")
    fit = total("metric.training_time_seconds")
    return {
        "warm": warm, "trials": len(rows), "wall_seconds": round(wall, 2),
        "wall_per_trial_seconds": round(wall / len(rows), 2),
        "trial_seconds": round(trial, 2), "train_seconds": round(train, 2),
        "overhead_share": round(1 - train / trial, 3),
        # the share by Keras' fit time alone (the issue's measure: training_time_seconds)
        "overhead_share_fit": round(1 - fit / trial, 3),
        "mean_startup_seconds": round(total("startup_seconds") / len(rows), 3),
        "mean_data_seconds": round(total("data_seconds") / len(rows), 3),
        "objective": {r["trial"]: float(r["metric.val_mse"]) for r in rows},
    }


def compare(name: str, manifest: Path, work: Path, repeat: int) -> dict[str, Any]:
    """Cold and warm runs alternated ``repeat`` times; the ratios of their medians."""
    runs: list[dict[str, Any]] = []
    for i in range(repeat):
        for warm in (False, True):
            runs.append(run(manifest, work / f"{name}-{i}-{'warm' if warm else 'cold'}", warm))
            print(f"{name} {'warm' if warm else 'cold'}: {runs[-1]['wall_seconds']} s, "
                  f"overhead share {runs[-1]['overhead_share']}", flush=True)
    cold = [r for r in runs if not r["warm"]]
    warm_runs = [r for r in runs if r["warm"]]

    def median(rs: list[dict[str, Any]], key: str) -> float:
        return float(np.median([r[key] for r in rs]))

    same = all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
               for c, w in zip(cold, warm_runs, strict=True)
               for a, b in zip(c["objective"].values(), w["objective"].values(), strict=True))
    for r in runs:
        r.pop("objective")
    return {
        "runs": runs,
        "cold_overhead_share": median(cold, "overhead_share"),
        "warm_overhead_share": median(warm_runs, "overhead_share"),
        "cold_overhead_share_fit": median(cold, "overhead_share_fit"),
        "warm_overhead_share_fit": median(warm_runs, "overhead_share_fit"),
        "warm_over_cold_wall": round(median(warm_runs, "wall_seconds")
                                     / median(cold, "wall_seconds"), 3),
        "identical_objectives": same,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="cold/warm pairs per sweep")
    parser.add_argument("--only", choices=("user-table", "quickstart"), default=None,
                        help="run one of the two sweeps")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "user").mkdir()
        write_table(work / "user" / "data")
        manifest = work / "user" / "sweep.yaml"
        manifest.write_text(USER_TABLE)
        figures = {}
        if args.only in (None, "user-table"):
            figures["user_table"] = compare("user-table", manifest, work, args.repeat)
        if args.only in (None, "quickstart"):
            figures["quickstart"] = compare("quickstart", ROOT / "examples" / "quickstart.yaml",
                                            work, args.repeat)
    write("warm_trainers" if args.only is None else f"warm_trainers_{args.only}", {
        **figures, "targets": {"warm_overhead_share": 0.3, "warm_over_cold_wall": 0.5},
        "trainer": "reference TensorFlow trainer (CPU)",
        "note": "cold = --no-warm (a process per trial, no data cache); ratios are "
                "measured side by side on one machine",
    })


if __name__ == "__main__":
    main()
