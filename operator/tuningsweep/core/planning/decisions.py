"""The decision core: what happens between two trials, decided once for both executors.

The local executor (processes) and the operator (Jobs) observe the world and carry out
decisions; they decide nothing themselves. Given the plan's inputs, the rows so far and
what is running, :func:`decide` returns a :class:`Decision` (plain data): the trials to
start now, the phase of the sweep and, when it ends, why. A rule written in two
executors is a bug waiting to diverge; here it is written once and tested without a
process or an API server.

Inputs are what both executors know:

* ``rows``: the results that count (a trial with a row is done; the local runner leaves
  out the failures ``--retry-failed`` runs again); a :class:`~tuningsweep.core.planning.ledger.Ledger`
  keeps a call's cost independent of the sweep's size;
* ``running``: trials started and not finished (a process, an active or queued Job, a
  Job just created): they hold a slot of ``parallelism``;
* ``collecting``: trials that finished and whose rows are not written yet (the operator
  waits for their final metrics to reach Prometheus): not started again, no slot held;
* ``failing``: trials known to have failed whose rows are not written yet (the operator
  sees a failed Job before it collects it, and must not start a trial past the budget
  meanwhile).

Racing (in the plan), early stopping (``curves``) and the budget (``usage``) are
decided here too, not in the executors, and so is the end of a sweep whose trial failed
on bad input (the trainer's exit status 2, marked in its error by
:func:`tuningsweep.core.planning.outcomes.trial_row`): it stops at once, whatever
``spec.maxFailedTrials`` allows, since no retry can fix it.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..records.results import ResultRow
from ..search.early_stopping import EpochCurves
from ..spec.parse import Budget, DateWindow, Spec
from .ledger import done_ids, failures, pending_trials, used_seconds
from .outcomes import BAD_INPUT_PREFIX, first_line, is_bad_input
from .planner import Plan, Trial, plan_trials
from .status import FAILED, PENDING, RUNNING, SUCCEEDED, SUSPENDED

#: Reasons a sweep ends or is held, as condition reasons (CamelCase, like Kubernetes').
REASON_COMPLETE = "AllTrialsDone"
REASON_FAILED_TRIALS = "TooManyFailedTrials"
REASON_SUSPENDED = "Suspended"
REASON_BUDGET = "BudgetSpent"
REASON_BAD_INPUT = "BadInput"

FAILURES_LISTED = 5


@dataclass(frozen=True)
class Decision:
    """What the executor does now.

    Attributes:
        plan: the trials known so far (auto mode's later stages appear in later plans).
        start: trials to start now, in order (never more than the free slots).
        phase: the sweep's phase: Pending, Running, Succeeded, Failed or Suspended.
        reason: why the sweep is in a terminal or held phase ("" while it runs).
        message: the same for a person: what happened and what to do.
        failed: every failed trial with its error, rows and ``failing`` together.
        stop: running trials early stopping ends now, with the reason for each.
        gpu_hours, trial_hours: what finished and running trials have used.
    """

    plan: Plan
    start: tuple[Trial, ...]
    phase: str
    reason: str = ""
    message: str = ""
    failed: Mapping[str, str] | None = None
    stop: Mapping[str, str] | None = None
    gpu_hours: float = 0.0
    trial_hours: float = 0.0

    @property
    def ended(self) -> bool:
        """The sweep is over: nothing more starts, whatever finishes later."""
        return self.phase in (SUCCEEDED, FAILED)


def failure_budget_message(failed: Mapping[str, str], limit: int) -> str:
    """The reason text when more than ``limit`` trials failed, naming the first few.

    Each error keeps its whole first line (a cut one used to end at "line 2, column '",
    just before the column a user had to fix); the lines after it are in results.csv.
    """
    listed = "; ".join(f"{trial}: {first_line(error)}"
                       for trial, error in sorted(failed.items())[:FAILURES_LISTED])
    return f"{len(failed)} trials failed, more than spec.maxFailedTrials ({limit}): {listed}"


def bad_input_message(failed: Mapping[str, str]) -> str:
    """The reason text when trials failed on bad input ("" when none did).

    The trainer's exit status 2 says its input is wrong (a column, a parameter, the
    data): every other trial reading the same input would fail the same way, so the
    sweep stops at the first such failure instead of after ``spec.maxFailedTrials``.
    """
    bad = sorted((t, e) for t, e in failed.items() if is_bad_input(e))
    if not bad:
        return ""
    trial, error = bad[0]
    others = f" ({len(bad)} trials failed so)" if len(bad) > 1 else ""
    return (f"trial {trial} failed on bad input (the trainer's exit status 2, which no "
            f"retry fixes){others}: {first_line(error.removeprefix(BAD_INPUT_PREFIX))}")


def failed_trials(rows: Iterable[ResultRow], failing: Mapping[str, str]) -> dict[str, str]:
    """Failed trials with their errors: recorded rows and failures not yet recorded."""
    failed = failures(rows)
    for trial, error in failing.items():
        failed.setdefault(trial, error)
    return failed


@dataclass(frozen=True)
class Usage:
    """What the running trials have used so far, in seconds (finished ones are in rows)."""

    gpu_seconds: float = 0.0
    trial_seconds: float = 0.0


def budget_spent(budget: Budget | None, gpu_hours: float, trial_hours: float) -> str:
    """Why no new trial may start ("" while the budget lasts)."""
    if budget is None:
        return ""
    if budget.gpu_hours is not None and gpu_hours >= budget.gpu_hours:
        return (f"the GPU budget is spent: {gpu_hours:.3g} of {budget.gpu_hours:g} "
                "GPU-hours (spec.budget.gpuHours) used by finished and running trials")
    if budget.trial_hours is not None and trial_hours >= budget.trial_hours:
        return (f"the trial budget is spent: {trial_hours:.3g} of {budget.trial_hours:g} "
                "trial-hours (spec.budget.trialHours) used by finished and running trials")
    return ""


def decide(
    spec: Spec,
    windows: Sequence[DateWindow],
    rows: Sequence[ResultRow],
    *,
    running: Collection[str] = (),
    collecting: Collection[str] = (),
    failing: Mapping[str, str] | None = None,
    parallelism: int | None = None,
    previous: Plan | None = None,
    usage: Usage | None = None,
    curves: EpochCurves | Mapping[str, Mapping[int, float]] | None = None,
) -> Decision:
    """Decide what to start and the sweep's phase (see the module docstring).

    Args:
        spec: the sweep's spec (the live one for the mutable fields).
        windows: the pinned windows.
        rows: the results that count.
        running: ids of trials started and not finished.
        collecting: ids of finished trials whose rows are not written yet.
        failing: failed trials not yet recorded, with their errors.
        parallelism: trials at once (default ``spec.parallelism``; the local runner's
            ``--parallel`` overrides it).
        previous: the last decision's plan; reused when it is final (planning a large
            grid on every step would cost more than the step).
        usage: what the running trials have used (the budget counts them).
        curves: per-epoch objective values of running and finished trials, for early
            stopping: the executors keep an :class:`~.early_stopping.EpochCurves` (each
            finished curve folded in once); a plain ``{trial: {epoch: value}}`` is taken
            too (in the objective's own direction; trials not in ``running`` are
            finished).
    """
    plan = previous if previous is not None and previous.final else plan_trials(
        spec, windows, rows)
    used = usage or Usage()
    finished_gpu, finished_trial = used_seconds(rows)
    gpu_hours = (finished_gpu + used.gpu_seconds) / 3600.0
    trial_hours = (finished_trial + used.trial_seconds) / 3600.0
    failed = failed_trials(rows, failing or {})
    bad_input = bad_input_message(failed)
    if bad_input:
        return Decision(plan, (), FAILED, REASON_BAD_INPUT, bad_input, failed,
                        gpu_hours=gpu_hours, trial_hours=trial_hours)
    if len(failed) > spec.max_failed_trials:
        return Decision(plan, (), FAILED, REASON_FAILED_TRIALS,
                        failure_budget_message(failed, spec.max_failed_trials), failed,
                        gpu_hours=gpu_hours, trial_hours=trial_hours)
    stop = _early_stops(spec, plan, running, curves)
    done = done_ids(rows)
    pending = pending_trials(plan, rows, done)
    busy = set(running)
    if plan.final and not pending and not busy and not collecting:
        return Decision(plan, (), SUCCEEDED, REASON_COMPLETE,
                        f"{len(done)} trials done", failed, gpu_hours=gpu_hours, trial_hours=trial_hours)
    spent = budget_spent(spec.budget, gpu_hours, trial_hours)
    if spent:
        # Running trials finish (their GPU time is paid for); nothing new starts.
        phase = RUNNING if busy or collecting else SUCCEEDED
        return Decision(plan, (), phase, REASON_BUDGET, spent, failed, stop, gpu_hours=gpu_hours, trial_hours=trial_hours)
    if spec.suspend:
        return Decision(plan, (), SUSPENDED, REASON_SUSPENDED,
                        "no new trials start until spec.suspend is false", failed, stop,
                        gpu_hours=gpu_hours, trial_hours=trial_hours)
    room = max(0, (parallelism or spec.parallelism) - len(busy) + len(stop))
    taken = busy.union(collecting)
    start = tuple(itertools.islice((t for t in pending if t.id not in taken), room))
    phase = RUNNING if taken or start or rows else PENDING
    return Decision(plan, start, phase, failed=failed, stop=stop, gpu_hours=gpu_hours, trial_hours=trial_hours)


def _early_stops(spec: Spec, plan: Plan, running: Collection[str],
                 curves: EpochCurves | Mapping[str, Mapping[int, float]] | None,
                 ) -> dict[str, str]:
    """The running trials early stopping ends now (none without the rule or curves)."""
    rule = spec.early_stopping
    if rule is None or curves is None or not running:
        return {}
    if not isinstance(curves, EpochCurves):
        trials = plan.by_id
        curves = EpochCurves.of(curves, {t: trials[t].window.id for t in curves if t in trials},
                                running, maximize=spec.objective_goal == "maximize")
    return curves.stops(rule, running)
