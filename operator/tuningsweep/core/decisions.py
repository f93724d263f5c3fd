"""The decision core: what happens between two trials, decided once for both executors.

The local executor (processes) and the operator (Jobs) observe the world and carry out
decisions; they decide nothing themselves. Given the plan's inputs, the rows so far and
what is running, :func:`decide` returns a :class:`Decision` (plain data): the trials to
start now, the phase of the sweep and, when it ends, why. A rule written in two
executors is a bug waiting to diverge; here it is written once and tested without a
process or an API server.

Inputs are what both executors know:

* ``rows``: the results that count (a trial with a row is done; the local runner leaves
  out the failures ``--retry-failed`` runs again); a :class:`~tuningsweep.core.ledger.Ledger`
  keeps a call's cost independent of the sweep's size;
* ``running``: trials started and not finished (a process, an active or queued Job, a
  Job just created): they hold a slot of ``parallelism``;
* ``collecting``: trials that finished and whose rows are not written yet (the operator
  waits for their final metrics to reach Prometheus): not started again, no slot held;
* ``failing``: trials known to have failed whose rows are not written yet (the operator
  sees a failed Job before it collects it, and must not start a trial past the budget
  meanwhile).

Racing, early stopping and budgets extend this one function, not the executors.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from .ledger import done_ids, failures, pending_trials
from .planner import Plan, Trial, plan_trials
from .results import ResultRow
from .spec import DateWindow, Spec
from .status import FAILED, PENDING, RUNNING, SUCCEEDED, SUSPENDED

#: Reasons a sweep ends or is held, as condition reasons (CamelCase, like Kubernetes').
REASON_COMPLETE = "AllTrialsDone"
REASON_FAILED_TRIALS = "TooManyFailedTrials"
REASON_SUSPENDED = "Suspended"

FAILURES_LISTED = 5
FAILURE_CHARS = 120


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
    """

    plan: Plan
    start: tuple[Trial, ...]
    phase: str
    reason: str = ""
    message: str = ""
    failed: Mapping[str, str] | None = None

    @property
    def ended(self) -> bool:
        """The sweep is over: nothing more starts, whatever finishes later."""
        return self.phase in (SUCCEEDED, FAILED)


def failure_budget_message(failed: Mapping[str, str], limit: int) -> str:
    """The reason text when more than ``limit`` trials failed, naming the first few."""
    listed = "; ".join(f"{trial}: {error[:FAILURE_CHARS]}"
                       for trial, error in sorted(failed.items())[:FAILURES_LISTED])
    return f"{len(failed)} trials failed, more than spec.maxFailedTrials ({limit}): {listed}"


def failed_trials(rows: Iterable[ResultRow], failing: Mapping[str, str]) -> dict[str, str]:
    """Failed trials with their errors: recorded rows and failures not yet recorded."""
    failed = failures(rows)
    for trial, error in failing.items():
        failed.setdefault(trial, error)
    return failed


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
    """
    plan = previous if previous is not None and previous.final else plan_trials(
        spec, windows, rows)
    failed = failed_trials(rows, failing or {})
    if len(failed) > spec.max_failed_trials:
        return Decision(plan, (), FAILED, REASON_FAILED_TRIALS,
                        failure_budget_message(failed, spec.max_failed_trials), failed)
    done = done_ids(rows)
    pending = pending_trials(plan, rows, done)
    if plan.final and not pending and not running and not collecting:
        return Decision(plan, (), SUCCEEDED, REASON_COMPLETE,
                        f"{len(done)} trials done", failed)
    if spec.suspend:
        return Decision(plan, (), SUSPENDED, REASON_SUSPENDED,
                        "no new trials start until spec.suspend is false", failed)
    busy = set(running)
    room = max(0, (parallelism or spec.parallelism) - len(busy))
    taken = busy.union(collecting)
    start = tuple(itertools.islice((t for t in pending if t.id not in taken), room))
    phase = RUNNING if taken or start or rows else PENDING
    return Decision(plan, start, phase, failed=failed)
