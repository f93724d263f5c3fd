"""Driving the decision core as an executor does, with known values instead of trainers.

The benchmarks and tests that measure the core's decisions against a known truth (racing,
TPE, replay after a restart) run sweeps this way: every trial the core starts finishes at
once with the value ``value(trial)`` returns, so a sweep of hundreds of trials takes
milliseconds and its rows are those an executor would record with a trainer reporting
the same values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tuningsweep.core.planning.decisions import decide
from tuningsweep.core.planning.outcomes import TrialEnd, trial_row
from tuningsweep.core.planning.planner import Plan, Trial
from tuningsweep.core.records.results import ResultRow
from tuningsweep.core.spec.parse import DateWindow, Sweep


def drive(sweep: Sweep, windows: tuple[DateWindow, ...], value: Callable[[Trial], float],
          metric: str = "val_mse", before_each: Callable[[list[ResultRow]], Any] | None = None,
          ) -> tuple[list[ResultRow], Plan | None]:
    """Run the sweep to its end; returns the rows and the last plan.

    ``before_each`` is called with the rows before each decision; when it returns True the
    previous plan is dropped (as a restarted process would not have it).
    """
    rows: list[ResultRow] = []
    plan: Plan | None = None
    while True:
        if before_each is not None and before_each(rows):
            plan = None
        decision = decide(sweep.spec, windows, rows, previous=plan)
        plan = decision.plan
        if decision.ended or not decision.start:
            return rows, plan
        for trial in decision.start:  # all at once: the finishing order does not matter
            rows.append(trial_row(sweep, TrialEnd(trial, True, final={metric: value(trial)})))
