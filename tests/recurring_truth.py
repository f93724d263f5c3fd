"""Recurring sweeps measured against a known truth that drifts month to month.

A sweep searches one parameter ``arm`` (one configuration per arm) on three rolling
one-month windows. The true objective of an arm in a month is ``level of the arm +
drift of the arm that month + shift of the month``; a training of it adds noise, drawn
anew each time it is trained (retraining a trial gives another value, as a trainer with
a new seed would). From :attr:`Scenario.jump_month` on, one arm improves sharply and,
once its new months dominate a run's windows, is the truth's best.

Eight monthly runs are driven through the real core, two ways:

* **(a) a new sweep each month**: every configuration trained on every window, no
  memory; its "change" is today's practice: this month's winner differs from last
  month's;
* **(b) one recurring sweep** with ``search.warmStart: {}`` and reuse: each run goes
  through :func:`tuningsweep.core.recurring.runs.start_run` / ``finish_run`` and
  :func:`tuningsweep.core.planning.decisions.decide`, as ``tuningsweep run`` does, with reused
  rows copied instead of trained; its change is the verdict's *new winner* (or *the
  champion left the race*).

Scored per run: trials trained; whether the winner is the truth's best for the run's
(regular) windows (the arm with the best true mean over them); a false change (a change claimed
while the truth's best is the same as for the previous run); and, for the real change,
after how many runs it was reported.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tuningsweep.core.planning.decisions import decide
from tuningsweep.core.planning.outcomes import TrialEnd, trial_row
from tuningsweep.core.planning.planner import Plan, Trial
from tuningsweep.core.planning.racing_summary import summarize_sweep
from tuningsweep.core.planning.windows import resolve_windows
from tuningsweep.core.records.results import ResultRow
from tuningsweep.core.recurring.history import HistoryRow
from tuningsweep.core.recurring.runs import (
    EarlierRun,
    RunStart,
    choose_run_seeds,
    finish_run,
    start_run,
)
from tuningsweep.core.spec.manifest import load_sweeps
from tuningsweep.core.spec.parse import DateWindow, Sweep

FIRST_RUN = dt.date(2026, 1, 1)
RUNS = 8
METRIC = "val_mse"
#: The windows of every run (rolling count); racing's extra, older windows go to
#: contenders only, so the truth's best is judged on these.
REGULAR = 3


@dataclass(frozen=True)
class Scenario:
    """A known-truth setting (the issue's by default)."""

    arms: int = 12
    spread: float = 0.01  # gap between consecutive arms' levels
    drift: float = 0.002  # sd of each arm's month-to-month random walk
    shift: float = 0.05  # sd of a month's shift, shared by every arm
    noise: float = 0.004  # sd of one training
    jump_arm: int = 6
    jump_month: int = 4  # month index (0 = the month before the first run's) it improves
    jump: float = 0.2  # how much it improves
    racing: str = ""  # search.racing as YAML flow text ("" for none)

    @property
    def label(self) -> str:
        race = f", racing {self.racing}" if self.racing else ""
        return (f"{self.arms} arms {self.spread:g} apart, noise {self.noise:g}, drift "
                f"{self.drift:g}/month, jump {self.jump:g}{race}")


def manifest(scenario: Scenario, recurring: bool) -> str:
    """The sweep, as a user would write it."""
    arms = ", ".join(str(a) for a in range(scenario.arms))
    search = "algorithm: grid, seed: 3" + (f", racing: {scenario.racing}"
                                            if scenario.racing else "")
    if recurring:
        search += ", warmStart: {}"
    schedule = "  schedule: '0 6 1 * *'\n" if recurring else ""
    return f"""\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {{name: truth, namespace: bench}}
spec:
  architecture: truth
{schedule}  windows: {{rolling: {{count: 3, months: 1, stepMonths: 1}}}}
  search: {{{search}}}
  parameters:
    arm: {{values: [{arms}], type: int}}
  parallelism: 4
"""


def month_index(day: dt.date) -> int:
    """Months since the month before the first run (0 = December 2025)."""
    return (day.year - FIRST_RUN.year) * 12 + day.month - FIRST_RUN.month + 1


@dataclass
class Truth:
    """One replicate's world: the true value of every arm in every month."""

    scenario: Scenario
    seed: int
    _levels: dict[tuple[int, int], float] = field(default_factory=dict)
    _shifts: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        s, rng = self.scenario, random.Random(f"truth:{self.seed}")
        months = RUNS + 4
        for arm in range(s.arms):
            level = s.spread * arm
            for m in range(-8, months):
                level += rng.gauss(0.0, s.drift)
                jump = s.jump if arm == s.jump_arm and m >= s.jump_month else 0.0
                self._levels[arm, m] = level - jump
        for m in range(-8, months):
            self._shifts[m] = rng.gauss(0.0, s.shift)

    def mean(self, arm: int, window: DateWindow) -> float:
        """The true objective of ``arm`` on a window (one month)."""
        m = month_index(window.start)
        return self._levels[arm, m] + self._shifts[m]

    def trained(self, arm: int, window: DateWindow, run: str) -> float:
        """One training's value: the truth plus noise drawn for this training."""
        rng = random.Random(f"train:{self.seed}:{arm}:{window.start}:{run}")
        return self.mean(arm, window) + rng.gauss(0.0, self.scenario.noise)

    def jumped(self, windows: Sequence[DateWindow]) -> bool:
        """Whether the jump arm has improved in one of the windows' months."""
        return any(month_index(w.start) >= self.scenario.jump_month for w in windows)

    def best(self, windows: Sequence[DateWindow]) -> int:
        """The truth's best arm over a run's windows."""
        means = {a: statistics.fmean(self.mean(a, w) for w in windows)
                 for a in range(self.scenario.arms)}
        return min(means, key=lambda a: (means[a], a))


def _drive(sweep: Sweep, windows: tuple[DateWindow, ...], truth: Truth, run: str,
           start: RunStart | None) -> list[ResultRow]:
    """Run one sweep through the decision core; reused trials are copied, not trained."""
    rows: list[ResultRow] = []
    plan: Plan | None = None
    while True:
        decision = decide(sweep.spec, windows, rows, previous=plan)
        plan = decision.plan
        if decision.ended or not decision.start:
            return rows
        for trial in decision.start:
            reused = start.reuse(trial) if start is not None else None
            rows.append(reused or _trained(sweep, trial, truth, run))


def _trained(sweep: Sweep, trial: Trial, truth: Truth, run: str) -> ResultRow:
    value = truth.trained(int(trial.params["arm"]), trial.window, run)
    return trial_row(sweep, TrialEnd(trial, True, final={METRIC: value},
                                     duration_seconds=600.0, gpus=1.0))


@dataclass(frozen=True)
class RunScore:
    """One run of one way."""

    run: str
    trained: int
    reused: int
    winner: int | None
    truth_best: int
    change_claimed: bool  # the run says the winner changed (for (b): new or left)
    champion_before: int | None = None  # the champion the run was judged against
    verdict: str = ""
    jumped: bool = False  # a regular window of the run is a month the jump arm improved in

    @property
    def significant_claim(self) -> bool:
        """A claim that the winner is better than the champion (for (a): any change)."""
        return self.change_claimed and self.verdict != "left"


def run_new_sweeps(scenario: Scenario, seed: int) -> list[RunScore]:
    """(a): a new sweep each month."""
    truth = Truth(scenario, seed)
    base = load_sweeps(manifest(scenario, recurring=False), "truth.yaml")[0]
    out: list[RunScore] = []
    previous: int | None = None
    for k in range(RUNS):
        day = _month(k)
        run = day.isoformat()
        sweep = dataclasses.replace(base, name=f"truth-{run}")
        windows = resolve_windows(sweep.spec, day)
        rows = _drive(sweep, windows, truth, run, None)
        summary = summarize_sweep(sweep, rows, windows=windows)
        best = summary.config(summary.best).params["arm"] if summary.best else None
        winner = int(best) if best is not None else None
        out.append(RunScore(run, len(rows), 0, winner, truth.best(windows[:REGULAR]),
                            previous is not None and winner != previous, previous,
                            jumped=truth.jumped(windows[:REGULAR])))
        previous = winner
    return out


def run_recurring(scenario: Scenario, seed: int) -> list[RunScore]:
    """(b): one recurring sweep with warm start and reuse."""
    truth = Truth(scenario, seed)
    sweep = load_sweeps(manifest(scenario, recurring=True), "truth.yaml")[0]
    history: list[HistoryRow] = []
    earlier: list[EarlierRun] = []
    out: list[RunScore] = []
    for k in range(RUNS):
        day = _month(k)
        run = day.isoformat()
        windows = resolve_windows(sweep.spec, day)
        seeds = choose_run_seeds(sweep, run, history, earlier)
        # The simulated data of a month never changes: its fingerprint is its dates.
        prints = {w.id: f"{w.start}..{w.end}" for w in windows}
        start = start_run(sweep, run, windows, history, earlier, seeds, "truth-trainer",
                          prints)
        rows = _drive(start.sweep, windows, truth, run, start)
        row = finish_run(start, rows, windows)
        history.append(row)
        earlier.append(EarlierRun(start.context, tuple(rows)))
        winner = int(row.best_params["arm"]) if row.best is not None else None
        champion = (int(start.champion["arm"]) if start.champion is not None else None)
        best = truth.best(windows[:REGULAR])
        out.append(RunScore(run, row.trained, row.reused, winner, best,
                            row.verdict in ("new", "left"), champion, row.verdict,
                            jumped=truth.jumped(windows[:REGULAR])))
    return out


def _month(k: int) -> dt.date:
    y, m = divmod(FIRST_RUN.month - 1 + k, 12)
    return dt.date(FIRST_RUN.year + y, m + 1, 1)


@dataclass
class Figures:
    """One way's figures over the replicates."""

    trained_first: float
    trained_later: float  # mean trials trained per run from the second run on
    picks_best: float  # share of runs whose winner is the truth's best
    false_changes: float  # share of runs claiming a significant change while the
    # champion is the truth's best
    false_left: float  # share of those runs saying the champion left the race
    runs_champion_best: int  # the runs those shares are of
    delays: dict[int, int]  # runs from the truth's change to its report (negative:
    # reported before it): replicates
    missed_change: int  # replicates that never reported it

    @property
    def reported_by(self) -> dict[int, float]:
        """Share of the replicates that reported the change within k runs of it (or before)."""
        total = sum(self.delays.values()) + self.missed_change
        return {k: sum(n for d, n in self.delays.items() if d <= k) / max(total, 1)
                for k in (0, 1, 2)}


def score(runs_per_replicate: Sequence[Sequence[RunScore]], jump_arm: int) -> Figures:
    """Aggregate the runs of every replicate.

    A significant change claimed while the champion it replaces is the truth's best for
    the run's windows is false (a champion that left the race is counted apart). The real
    change happens at the first run whose truth's best is the arm that jumped; it is
    reported at the first run claiming a change to that arm once the arm has improved in
    one of the run's windows, which may be a run before the truth's best over all the
    windows changes (a delay of -1: the improvement is visible on the newest window
    first, and a winner chosen there is counted as reported early, not as missed).
    """
    later = [r.trained for runs in runs_per_replicate for r in runs[1:]]
    first = [runs[0].trained for runs in runs_per_replicate]
    picks = [r.winner == r.truth_best for runs in runs_per_replicate for r in runs]
    false_claims = false_left = champion_best = missed = 0
    delays: dict[int, int] = {}
    for runs in runs_per_replicate:
        for r in runs[1:]:
            if r.champion_before == r.truth_best:
                champion_best += 1
                false_claims += r.significant_claim
                false_left += r.change_claimed and not r.significant_claim
        change_at = next((k for k, r in enumerate(runs) if r.truth_best == jump_arm), None)
        if change_at is None or change_at == 0:
            continue
        onset = next(k for k, r in enumerate(runs) if r.jumped or k == change_at)
        claimed = next((k for k in range(onset, len(runs))
                        if runs[k].change_claimed and runs[k].winner == jump_arm), None)
        if claimed is None:
            missed += 1
        else:
            delays[claimed - change_at] = delays.get(claimed - change_at, 0) + 1
    return Figures(
        trained_first=statistics.fmean(first), trained_later=statistics.fmean(later),
        picks_best=statistics.fmean(picks),
        false_changes=false_claims / max(champion_best, 1),
        false_left=false_left / max(champion_best, 1),
        runs_champion_best=champion_best, delays=dict(sorted(delays.items())),
        missed_change=missed)


def compare(scenario: Scenario, replicates: int) -> Mapping[str, Figures]:
    """(a) and (b) over ``replicates`` worlds."""
    arm = scenario.jump_arm
    return {"new_each_month": score([run_new_sweeps(scenario, s) for s in range(replicates)],
                                    arm),
            "recurring": score([run_recurring(scenario, s) for s in range(replicates)], arm)}
