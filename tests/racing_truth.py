"""Racing measured against a known truth, with the real planner and decision core.

A sweep searches one integer parameter ``arm`` (one configuration per arm); each trial's
objective is ``true mean of the arm + shift of the window + noise``, computed by the
functions of ``bench/known_truth_trainer.py`` (the trainer command the benchmark also
runs through ``tuningsweep run``). :func:`run_sweep` drives
:func:`tuningsweep.core.planning.decisions.decide` exactly as an executor does, with the values
that trainer would report instead of processes, so a sweep takes milliseconds and the
rows equal those of ``tuningsweep run`` with that trainer (``bench/racing_bench.py
--through-run`` checks it). Each sweep is then scored:

* **top-1**: the summary's ``best`` is the truly best arm;
* **cost**: trials run, as a share of every configuration on every regular window;
* **claims**: configurations called significantly worse than ``best``; a claim is
  wrong when in truth the configuration is not worse;
* **coverage**: the 95% interval of (configuration - best) contains the true difference.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.core_driver import drive
from tuningsweep.core.planning.planner import Trial
from tuningsweep.core.planning.racing_summary import summarize_sweep
from tuningsweep.core.planning.windows import resolve_windows
from tuningsweep.core.records.results import ResultRow
from tuningsweep.core.spec.manifest import load_sweeps
from tuningsweep.core.spec.parse import Sweep
from tuningsweep.core.stats.summary import Summary

TODAY = dt.date(2026, 11, 30)
_TRAINER = Path(__file__).resolve().parents[1] / "bench" / "known_truth_trainer.py"
_spec = importlib.util.spec_from_file_location("known_truth_trainer", _TRAINER)
assert _spec is not None and _spec.loader is not None
truth = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(truth)


@dataclass(frozen=True)
class Scenario:
    """A known-truth setting: the issue's by default."""

    configs: int = 30
    windows: int = 3
    spread: float = 0.01
    shift: float = 0.01
    noise: float = 0.004
    racing: str = "{}"  # the search.racing mapping as YAML flow text; "" for none

    @property
    def label(self) -> str:
        race = f"racing {self.racing}" if self.racing else "full evaluation"
        return (f"{self.configs} configs, {self.windows} windows, noise {self.noise:g}: "
                f"{race}")


def manifest(scenario: Scenario, command: str = "") -> str:
    """The sweep's manifest: a grid over ``arm``, one configuration per arm."""
    racing = f", racing: {scenario.racing}" if scenario.racing else ""
    trainer = f"\n  trainer: {{command: [{command}]}}" if command else ""
    return f"""\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {{name: truth, namespace: bench}}
spec:
  architecture: known-truth
  windows: {{rolling: {{count: {scenario.windows}, months: 1}}}}
  search: {{algorithm: grid, seed: 1{racing}}}
  parameters: {{arm: {{values: [{', '.join(str(i) for i in range(scenario.configs))}]}}}}
  parallelism: 4{trainer}
"""


def trial_value(scenario: Scenario, seed: int, arm: int, window_start: str,
                trial: str) -> float:
    """What the known-truth trainer reports for this trial."""
    return (truth.true_mean(arm, seed, 0.10, scenario.spread)
            + truth.window_shift(window_start, seed, scenario.shift)
            + truth.trial_noise(trial, seed, scenario.noise))


def run_sweep(scenario: Scenario, seed: int) -> tuple[Sweep, list[ResultRow], Any]:
    """Run one sweep through the decision core; returns the sweep, rows and last plan."""
    sweep = load_sweeps(manifest(scenario), "truth.yaml")[0]
    windows = resolve_windows(sweep.spec, TODAY)

    def value(trial: Trial) -> float:
        return trial_value(scenario, seed, int(trial.params["arm"]),
                           trial.window.start.isoformat(), trial.id)

    rows, plan = drive(sweep, windows, value)
    return sweep, rows, plan


@dataclass
class Tally:
    """Scores summed over sweeps."""

    sweeps: int = 0
    top1: int = 0
    trials: int = 0
    full_trials: int = 0
    claims: int = 0
    wrong_claims: int = 0
    intervals: int = 0
    covered: int = 0
    alive_at_end: list[int] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        def share(a: int, b: int) -> float | None:
            return round(a / b, 4) if b else None
        return {
            "sweeps": self.sweeps,
            "top1": share(self.top1, self.sweeps),
            "cost": share(self.trials, self.full_trials),
            "claims_per_sweep": round(self.claims / max(1, self.sweeps), 2),
            "wrong_claim_share": share(self.wrong_claims, self.claims),
            "coverage": share(self.covered, self.intervals),
        }


def score(scenario: Scenario, seed: int, tally: Tally) -> Summary:
    """Run one sweep and add its scores to ``tally``."""
    sweep, rows, plan = run_sweep(scenario, seed)
    summary = summarize_sweep(sweep, rows, plan)
    mu = {c.config: truth.true_mean(int(c.params["arm"]), seed, 0.10, scenario.spread)
          for c in summary.configs}
    tally.sweeps += 1
    tally.trials += len(rows)
    tally.full_trials += scenario.configs * scenario.windows
    if summary.best is not None:
        tally.top1 += mu[summary.best] == min(mu.values())
        for c in summary.configs:
            comp = c.comparison
            if c.config == summary.best or comp is None:
                continue
            true_difference = mu[c.config] - mu[summary.best]
            if comp.significant:
                tally.claims += 1
                tally.wrong_claims += true_difference <= 0
            if comp.ci_low is not None and comp.ci_high is not None:
                tally.intervals += 1
                tally.covered += comp.ci_low <= true_difference <= comp.ci_high
    return summary


def simulate(scenario: Scenario, sweeps: int, first_seed: int = 0) -> dict[str, Any]:
    """The scores of ``sweeps`` sweeps of one scenario."""
    tally = Tally()
    for seed in range(first_seed, first_seed + sweeps):
        score(scenario, seed, tally)
    return {"scenario": scenario.label, **tally.figures()}


