"""Held-out known-truth sweeps through ``tuningsweep run`` and ``report --format json``.

Issue 22's "done when": sweeps whose truth is known, with what real training does
(errors that scale with the window, one diverged trial), run by the real local runner
with ``bench/known_truth_trainer.py`` as the trainer, judged by the real report, and
scored against the truth. 8 configurations x 3 windows (the user's case); true means
N(0.10, 0.02), window factors exp(N(0, 0.4)) (the hardest of 3 windows about 2-3x the
easiest), relative trial noise 10%, and in every sweep one trial, drawn at random,
diverges (x10). Seeds start at 1000, away from any seed the statistics were tuned on.

For each sweep it reads the report's JSON (``after``: the scale choice and the flagged
trials of :mod:`tuningsweep.core.stats.robust`) and summarises the same ``results.csv`` with
``robust=False`` (``before``), then scores both: **power** (share of the configurations
truly worse than the selected best that are claimed worse), **claims** per sweep,
**wrong claims** (claimed worse, truly not), sweeps with a wrong claim, and for
``after`` whether the diverged trial was flagged.

Usage::

    python bench/robust_through_run.py [--sweeps 20]

Writes ``bench/out/robust_through_run.json``; exits 1 when wrong claims exceed 5% (of
claims or of sweeps) with the robust statistics.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from common import write  # noqa: E402
from known_truth_trainer import true_mean  # noqa: E402
from tests.racing_truth import TODAY, Scenario, manifest  # noqa: E402

from tuningsweep.core.records.results import parse_csv  # noqa: E402
from tuningsweep.core.stats.summary import summarize  # noqa: E402

SCENARIO = Scenario(configs=8, windows=3, spread=0.02, noise=0.01, racing="")
MULTIPLICATIVE = 0.4
FIRST_SEED = 1000


def _run(seed: int, folder: Path) -> tuple[dict[str, Any], list[Any], str]:
    """One sweep through ``tuningsweep run``; the report's JSON, the rows, the diverged trial."""
    trainer = REPO / "bench" / "known_truth_trainer.py"
    path = folder / "sweep.yaml"
    path.write_text(manifest(SCENARIO, command=f"{shlex.quote(sys.executable)}, "
                                                f"{shlex.quote(str(trainer))}"))
    pick = random.Random(f"diverged:{seed}")
    diverged = f"c{pick.randrange(SCENARIO.configs):04d}-w{pick.randrange(SCENARIO.windows)}"
    env = {**os.environ, "KNOWN_TRUTH_SEED": str(seed), "KNOWN_TRUTH_NOISE": str(SCENARIO.noise),
           "KNOWN_TRUTH_SPREAD": str(SCENARIO.spread),
           "KNOWN_TRUTH_MULTIPLICATIVE": str(MULTIPLICATIVE), "KNOWN_TRUTH_DIVERGED": diverged}
    results = folder / "results"
    subprocess.run([sys.executable, "-m", "tuningsweep.cli", "run", str(path), "--results",
                    str(results), "--today", TODAY.isoformat(), "-q"],
                   env=env, check=True, capture_output=True)
    sweep = results / "bench" / "truth"
    report = subprocess.run([sys.executable, "-m", "tuningsweep.cli", "report", str(sweep),
                             "--format", "json", "--no-curves"],
                            env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(report), parse_csv((sweep / "results.csv").read_text()), diverged


def _score(best: str, claims: dict[str, bool], arms: dict[str, int], seed: int,
           tally: dict[str, int]) -> None:
    truth = {c: true_mean(arm, seed, 0.10, SCENARIO.spread) for c, arm in arms.items()}
    wrong = 0
    for config, claimed in claims.items():
        if config == best:
            continue
        worse = truth[config] > truth[best]
        tally["truly_worse"] += int(worse)
        tally["claimed_truly_worse"] += int(worse and claimed)
        tally["claims"] += int(claimed)
        wrong += int(claimed and not worse)
    tally["wrong"] += wrong
    tally["sweeps_wrong"] += int(wrong > 0)
    tally["top1"] += int(best == min(truth, key=lambda c: truth[c]))


def _figures(tally: dict[str, int], sweeps: int) -> dict[str, Any]:
    def share(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    return {"power": share(tally["claimed_truly_worse"], tally["truly_worse"]),
            "claims_per_sweep": round(tally["claims"] / sweeps, 3),
            "wrong_claim_share": share(tally["wrong"], tally["claims"]),
            "sweeps_with_wrong_claim": share(tally["sweeps_wrong"], sweeps),
            "top1": share(tally["top1"], sweeps), **{k: v for k, v in tally.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweeps", type=int, default=20)
    args = parser.parse_args()
    started = time.perf_counter()
    keys = ("truly_worse", "claimed_truly_worse", "claims", "wrong", "sweeps_wrong", "top1")
    before = dict.fromkeys(keys, 0)
    after = {**dict.fromkeys(keys, 0), "diverged_flagged": 0, "other_flags": 0, "log_scale": 0}
    for seed in range(FIRST_SEED, FIRST_SEED + args.sweeps):
        with tempfile.TemporaryDirectory() as tmp:
            report, rows, diverged = _run(seed, Path(tmp))
        arms = {c["config"]: int(c["params"]["arm"]) for c in report["configs"]}
        significance = report["significance"] or {}
        flagged = {f"{t['config']}-{t['window']}" for t in significance.get("outliers", [])}
        after["diverged_flagged"] += int(diverged in flagged)
        after["other_flags"] += len(flagged - {diverged})
        after["log_scale"] += int(significance.get("scale") == "log")
        _score(report["best"], {c["config"]: bool(c["comparison"] and c["comparison"]["significant"])
                                for c in report["configs"]}, arms, seed, after)
        plain = summarize(rows, "val_mse", "minimize", robust=False)
        assert plain.best == report["best"]  # the winner does not depend on the method
        _score(plain.best, {c.config: bool(c.comparison and c.comparison.significant)
                            for c in plain.configs}, arms, seed, before)
        print(f"seed {seed}: diverged {diverged}, flagged {sorted(flagged)}", flush=True)
    figures = {"sweeps": args.sweeps, "before": _figures(before, args.sweeps),
               "after": _figures(after, args.sweeps),
               "seconds": round(time.perf_counter() - started, 1)}
    write("robust_through_run", figures)
    robust = figures["after"]
    ok = (robust["wrong_claim_share"] or 0.0) <= 0.05 and (robust["sweeps_with_wrong_claim"] or 0.0) <= 0.05
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
