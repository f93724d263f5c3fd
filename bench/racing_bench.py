"""Racing against a known truth: top-1, cost, wrong claims and coverage (issue 15).

Each sweep searches an integer ``arm`` (one configuration per arm) whose objective is
``true mean + window shift + noise`` (bench/known_truth_trainer.py). Sweeps are driven
through the decision core exactly as the executors drive it (tests/racing_truth.py), so
hundreds of sweeps take seconds; ``--through-run K`` also runs K of them through
``tuningsweep run`` with the known-truth trainer as the trainer command and checks that
they give the same rows, so the figures are those of ``tuningsweep run``.

Usage::

    python bench/racing_bench.py [--sweeps 200] [--through-run 3]

Writes ``bench/out/racing.json``; exits 1 when the issue's targets are missed in its
scenario (top-1 >= 0.80, cost <= 0.6, wrong claims <= 5% with claims made, coverage >=
0.94).
"""

from __future__ import annotations

import argparse
import csv
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common import write  # noqa: E402
from tests.racing_truth import TODAY, Scenario, manifest, run_sweep, simulate  # noqa: E402

ISSUE = Scenario()
SCENARIOS = [
    Scenario(racing=""), ISSUE,
    Scenario(noise=0.002, racing=""), Scenario(noise=0.002),
    Scenario(noise=0.008, racing=""), Scenario(noise=0.008),
    Scenario(configs=10, racing=""), Scenario(configs=10),
    Scenario(configs=60, racing=""), Scenario(configs=60),
    Scenario(windows=5, racing=""), Scenario(windows=5),
]


def through_run(scenario: Scenario, seed: int, folder: Path) -> bool:
    """Run one sweep with ``tuningsweep run``; True when its rows equal the replay's."""
    trainer = REPO / "bench" / "known_truth_trainer.py"
    command = f"{shlex.quote(sys.executable)}, {shlex.quote(str(trainer))}"
    path = folder / "sweep.yaml"
    path.write_text(manifest(scenario, command=command))
    env = {"KNOWN_TRUTH_SEED": str(seed), "KNOWN_TRUTH_NOISE": str(scenario.noise),
           "KNOWN_TRUTH_SPREAD": str(scenario.spread), "KNOWN_TRUTH_SHIFT": str(scenario.shift)}
    subprocess.run([sys.executable, "-m", "tuningsweep.cli", "run", str(path), "--results",
                    str(folder / "results"), "--today", TODAY.isoformat(), "-q"],
                   env={**os.environ, **env}, check=False, capture_output=True)
    with open(folder / "results" / "bench" / "truth" / "results.csv") as handle:
        ran = {(r["trial"], round(float(r["metric.val_mse"]), 9)) for r in csv.DictReader(handle)}
    _, rows, _ = run_sweep(scenario, seed)
    replay = {(r.trial, round(r.metrics["val_mse"], 9)) for r in rows}
    return ran == replay


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sweeps", type=int, default=200)
    parser.add_argument("--through-run", type=int, default=2, metavar="K")
    args = parser.parse_args()
    started = time.time()
    figures = [simulate(s, args.sweeps) for s in SCENARIOS]
    for f in figures:
        print(f, flush=True)
    same = []
    for seed in range(args.through_run):
        with tempfile.TemporaryDirectory() as tmp:
            same.append(through_run(ISSUE, seed, Path(tmp)))
    issue = next(f for f in figures if f["scenario"] == ISSUE.label)
    targets = {
        "top1 >= 0.80": (issue["top1"] or 0) >= 0.80,
        "cost <= 0.6": (issue["cost"] or 1) <= 0.6,
        "wrong claims <= 5% with claims": issue["claims_per_sweep"] > 0
        and (issue["wrong_claim_share"] or 0) <= 0.05,
        "coverage >= 0.94": (issue["coverage"] or 0) >= 0.94,
        "tuningsweep run gives the replay's rows": all(same),
    }
    write("racing", {"sweeps": args.sweeps, "scenarios": figures, "targets": targets,
                     "through_run_sweeps": len(same), "seconds": round(time.time() - started, 1)})
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
