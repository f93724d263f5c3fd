"""TPE and early stopping measured against a known truth, through the decision core.

Sweeps are driven through :func:`tuningsweep.core.planning.decisions.decide` exactly as the
executors drive it, with the values a known-truth trainer would report instead of
processes, so dozens of sweeps take seconds:

* **search**: a smooth 5-dimensional function with noise, ``f(x) + N(0, noise)``;
  TPE and random each get ``maxConfigs`` configurations; the figure is the true value
  ``f`` of the configuration each sweep calls best.
* **early stopping**: configurations whose learning curves are known,
  ``value(epoch) = final + gap * exp(-epoch / tau) + noise``, on several windows with
  their own levels; trials advance one epoch per tick, ``parallelism`` at a time, and
  the core sees every curve after each tick. The figures are the share of epochs saved
  against training every trial to the end, and how often the truly best configuration
  is still the sweep's best.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

from tests.core_driver import drive
from tuningsweep.core.planning.decisions import decide
from tuningsweep.core.planning.outcomes import TrialEnd, trial_row
from tuningsweep.core.planning.racing_summary import summarize_sweep
from tuningsweep.core.planning.windows import resolve_windows
from tuningsweep.core.records.results import ResultRow
from tuningsweep.core.spec.manifest import load_sweeps

TODAY = dt.date(2026, 11, 30)

SEARCH = """\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {{name: search, namespace: bench}}
spec:
  architecture: function
  windows: {{rolling: {{count: 1, months: 1}}}}
  search: {{algorithm: {algorithm}, seed: {seed}, maxConfigs: {configs}, batchSize: 4}}
  parameters:
    x1: {{min: -2.0, max: 2.0}}
    x2: {{min: -2.0, max: 2.0}}
    x3: {{min: 0.0001, max: 1.0, scale: log}}
    x4: {{min: 1, max: 16, type: int}}
    x5: {{values: [relu, tanh, gelu]}}
  parallelism: 4
"""


def smooth(p: dict[str, object]) -> float:
    """The test function (lower is better; its minimum, 0, is at x1=0.5, x2=-0.3,
    x3=0.03, x4=9, x5=gelu)."""
    x1, x2, x3, x4 = (float(p[k]) for k in ("x1", "x2", "x3", "x4"))  # type: ignore[arg-type]
    return ((x1 - 0.5) ** 2 + (x2 + 0.3) ** 2 + (math.log10(x3) + 1.5) ** 2 / 2
            + 0.02 * (x4 - 9) ** 2 + {"relu": 0.3, "tanh": 0.6, "gelu": 0.0}[str(p["x5"])])


def search_sweep(algorithm: str, seed: int, configs: int = 40, noise: float = 0.05) -> float:
    """The true value of the configuration the sweep calls best."""
    sweep = load_sweeps(SEARCH.format(algorithm=algorithm, seed=seed, configs=configs),
                        "s.yaml")[0]
    windows = resolve_windows(sweep.spec, TODAY)
    rows, plan = drive(sweep, windows, lambda t: smooth(dict(t.params)) + random.Random(
        f"{seed}:{t.id}").gauss(0, noise))
    summary = summarize_sweep(sweep, rows, plan, windows)
    assert summary.best is not None
    return smooth(dict(summary.config(summary.best).params))


EARLY = """\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {{name: early, namespace: bench}}
spec:
  architecture: curves
  windows: {{rolling: {{count: 3, months: 1}}}}
  search: {{algorithm: grid, seed: {seed}{early}}}
  parameters: {{arm: {{values: [{arms}]}}}}
  parallelism: 4
"""


@dataclass(frozen=True)
class Curves:
    """The known learning curves of one scenario."""

    seed: int
    epochs: int = 20
    gap: tuple[float, float] = (0.3, 1.0)  # how far above its final value a trial starts
    tau: tuple[float, float] = (1.0, 3.0)  # epochs to close 63% of the gap

    def final(self, arm: int) -> float:
        return 1.0 + 0.1 * random.Random(f"{self.seed}:final:{arm}").gauss(0, 1)

    def value(self, arm: int, window: str, epoch: int, trial: str) -> float:
        rng = random.Random(f"{self.seed}:{arm}")
        gap, tau = rng.uniform(*self.gap), rng.uniform(*self.tau)
        level = 1.0 + 3.0 * random.Random(f"{self.seed}:window:{window}").random()
        noise = random.Random(f"{self.seed}:{trial}:{epoch}").gauss(0, 0.02)
        return level * (self.final(arm) + gap * math.exp(-epoch / tau)) + noise


def early_sweep(seed: int, arms: int = 24, early: str = "",
                crossing: bool = False) -> tuple[int, int, bool]:
    """(epochs run, epochs without early stopping, truly best arm found).

    ``crossing``: slow learners start far above their final value and close the gap late
    (tau up to 6 epochs, gap up to 2), so early epochs say little about the final rank.
    """
    truth = Curves(seed, gap=(0.5, 2.0), tau=(2.0, 6.0)) if crossing else Curves(seed)
    spec_text = EARLY.format(seed=seed, arms=", ".join(map(str, range(arms))),
                             early=f", earlyStopping: {early}" if early else "")
    sweep = load_sweeps(spec_text, "e.yaml")[0]
    windows = resolve_windows(sweep.spec, TODAY)
    rows: list[ResultRow] = []
    running: dict[str, tuple[object, int]] = {}  # trial id -> (trial, epochs done)
    curves: dict[str, dict[int, float]] = {}
    plan = None
    epochs_run = 0
    while True:
        decision = decide(sweep.spec, windows, rows, running=list(running), previous=plan,
                          curves=curves)
        plan = decision.plan
        for trial_id in decision.stop or {}:
            trial, _ = running.pop(trial_id)
            curve = curves[trial_id]
            rows.append(trial_row(sweep, TrialEnd(
                trial, True, final={"val_mse": curve[max(curve)]},  # type: ignore[arg-type]
                stopped=(decision.stop or {})[trial_id])))
        for t in decision.start:
            running[t.id] = (t, 0)
            curves[t.id] = {}
        if not running:
            if decision.ended or not decision.start:
                break
            continue
        for trial_id, (trial, done) in list(running.items()):
            arm = int(trial.params["arm"])  # type: ignore[attr-defined]
            epoch = done + 1
            curves[trial_id][epoch] = truth.value(arm, trial.window.id,  # type: ignore[attr-defined]
                                                  epoch, trial_id)
            epochs_run += 1
            if epoch == truth.epochs:
                del running[trial_id]
                rows.append(trial_row(sweep, TrialEnd(
                    trial, True, final={"val_mse": curves[trial_id][epoch]})))  # type: ignore[arg-type]
            else:
                running[trial_id] = (trial, epoch)
    summary = summarize_sweep(sweep, rows, plan, windows)
    best_arm = min(range(arms), key=truth.final)
    found = summary.best is not None and int(summary.config(summary.best).params["arm"]) == best_arm
    return epochs_run, arms * len(windows) * truth.epochs, found
