"""Early stopping's cost per decision as a sweep grows: 1,000 and 10,000 finished trials.

Each decision judges the running trials (16 here, 3 windows, curves of 20 epochs) against
the finished trials of their windows. The executors keep finished curves folded in an
:class:`~tuningsweep.core.search.early_stopping.EpochCurves`, so a decision costs a few bisects
per running trial; the plain alternative rebuilds the table from every finished curve at
each decision (what ``decide`` does when given a ``{trial: curve}`` mapping; before the
table, the executors' decisions walked every finished curve once per running trial,
which costs more still). Figures per size: milliseconds per decision both ways (median of
``REPEATS``), and the one-off cost of folding a finished curve in. Target: the kept
table flat, 10,000 within 1.1x of 1,000.

``python bench/early_stopping_scaling.py [SIZE ...]`` measures other sizes.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ratio, write

from tuningsweep.core.search.early_stopping import EpochCurves
from tuningsweep.core.spec.parse import EarlyStopping

SIZES = (1000, 10000)
RUNNING = 16
WINDOWS = 3
EPOCHS = 20
REPEATS = 30
RULES = (EarlyStopping("median", grace_epochs=5, min_trials=5, reduction_factor=3),
         EarlyStopping("asha", grace_epochs=2, min_trials=5, reduction_factor=3))


def _curve(rng: random.Random, epochs: int) -> dict[int, float]:
    level = rng.uniform(0.2, 1.0)
    return {e: level + 1.0 / e + rng.gauss(0, 0.01) for e in range(1, epochs + 1)}


def measure(size: int, rule: EarlyStopping) -> dict[str, float]:
    """Per-decision milliseconds, kept table against a pass over every curve."""
    rng = random.Random(size)
    finished = {f"c{i:05d}-w{i % WINDOWS}": _curve(rng, rng.randint(3, EPOCHS))
                for i in range(size)}
    running = {f"r{i:05d}-w{i % WINDOWS}": _curve(rng, rng.randint(1, EPOCHS))
               for i in range(RUNNING)}
    live = {t: (t.rpartition("-")[2], c) for t, c in running.items()}
    started = time.perf_counter()
    kept = EpochCurves()
    for trial, curve in finished.items():
        kept.finish(trial, trial.rpartition("-")[2], curve)
    fold_us = 1e6 * (time.perf_counter() - started) / size

    def kept_decision() -> dict[str, str]:
        kept.set_running(live)
        return kept.stops(rule, running)

    def plain_decision() -> dict[str, str]:
        table = EpochCurves()  # built from every curve, as a plain mapping makes decide do
        for trial, curve in finished.items():
            table.finish(trial, trial.rpartition("-")[2], curve)
        table.set_running(live)
        return table.stops(rule, running)

    assert kept_decision() == plain_decision()
    timings = {}
    for name, decision in (("kept", kept_decision), ("plain", plain_decision)):
        samples = []
        for _ in range(REPEATS if name == "kept" else 5):
            began = time.perf_counter()
            decision()
            samples.append(time.perf_counter() - began)
        timings[name] = 1000 * statistics.median(samples)
    return {"finished_trials": size, "kept_ms_per_decision": round(timings["kept"], 3),
            "plain_ms_per_decision": round(timings["plain"], 2),
            "fold_us_per_finished_trial": round(fold_us, 1)}


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or list(SIZES)
    results = {}
    for rule in RULES:
        figures = [measure(size, rule) for size in sizes]
        results[rule.rule] = {
            "sizes": figures,
            "kept_ratio_largest_to_smallest": ratio(figures, "kept_ms_per_decision"),
            "plain_ratio_largest_to_smallest": ratio(figures, "plain_ms_per_decision"),
        }
    write("early_stopping_scaling", {
        "running_trials": RUNNING, "windows": WINDOWS, "epochs": EPOCHS, **results,
        "target_ratio": 1.1,
        "note": "decisions per step with early stopping on: judging the running trials "
                "against kept per-window, per-epoch levels vs rebuilding them each time",
    })


if __name__ == "__main__":
    main(sys.argv[1:])
