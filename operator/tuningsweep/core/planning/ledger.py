"""The rows that count, kept so that a decision costs the same at any sweep size.

:func:`tuningsweep.core.planning.decisions.decide` asks a few things of the rows on every call:
which trials are done, which failed, which planned trials are still pending (and, for
budgets, the GPU and trial seconds used). Asked
of a plain list, each answer scans every row (and the pending list every planned
trial), so a sweep of n trials did O(n^2) work for decisions alone: at 10,000 trials
more than the trials themselves when they are short. A :class:`Ledger` keeps the first
answers up to date as rows arrive, and a cursor into the plan (every trial before it
has a row) answers the third from where the previous call stopped. Rows only arrive or
replace a row of the same trial, never leave, so the cursor stays valid.

Executors keep one Ledger per sweep and pass it as ``rows``; any other sequence of rows
still works, at the old cost. The functions below answer for both kinds.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, KeysView, Sequence
from typing import overload

from ..records.results import ResultRow
from .planner import Plan, Trial


class Ledger(Sequence[ResultRow]):
    """Rows keyed by trial id and sorted by it, with the done ids and failures kept.

    Sorted like :attr:`tuningsweep.io.results_store.ResultsStore.rows`, so the planner
    sees the same sequence whichever it is given. Trial ids mostly arrive in order, so
    keeping them sorted costs an append, rarely a short move.
    """

    def __init__(self, rows: Iterable[ResultRow] = ()) -> None:
        self._by_trial: dict[str, ResultRow] = {}
        self._ids: list[str] = []  # sorted
        self.failed: dict[str, str] = {}  # failed trial -> its error
        self._statuses: Counter[str] = Counter()
        self.gpu_seconds = 0.0  # over every trained row (not reused ones), for budgets
        self.duration_seconds = 0.0
        self._trials: tuple[Trial, ...] | None = None  # the plan the cursor points into
        self._cursor = 0
        for row in rows:
            self.add(row)

    def add(self, row: ResultRow) -> None:
        """Record ``row``, replacing an earlier row of the same trial."""
        earlier = self._by_trial.get(row.trial)
        if earlier is None:
            if self._ids and row.trial < self._ids[-1]:
                bisect.insort(self._ids, row.trial)
            else:
                self._ids.append(row.trial)
        else:
            self._statuses[earlier.status] -= 1
            if not earlier.reused_from:
                self.gpu_seconds -= earlier.gpu_seconds
                self.duration_seconds -= earlier.duration_seconds
        self._by_trial[row.trial] = row
        self._statuses[row.status] += 1
        if not row.reused_from:  # a reused trial cost this run nothing
            self.gpu_seconds += row.gpu_seconds
            self.duration_seconds += row.duration_seconds
        if row.status == "failed":
            self.failed[row.trial] = row.error
        else:
            self.failed.pop(row.trial, None)

    @property
    def done(self) -> KeysView[str]:
        """The trials with a row (a live view, no copy)."""
        return self._by_trial.keys()

    def count(self, status: str) -> int:
        """How many rows have ``status``."""
        return self._statuses[status]

    def pending(self, trials: tuple[Trial, ...]) -> Iterator[Trial]:
        """The trials without a row, in order, resuming from the previous call's cursor."""
        if trials is not self._trials:
            self._trials, self._cursor = trials, 0
        while self._cursor < len(trials) and trials[self._cursor].id in self._by_trial:
            self._cursor += 1
        done = self._by_trial
        return (trials[i] for i in range(self._cursor, len(trials))
                if trials[i].id not in done)

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, item: int) -> ResultRow: ...

    @overload
    def __getitem__(self, item: slice) -> Sequence[ResultRow]: ...

    def __getitem__(self, item: int | slice) -> ResultRow | Sequence[ResultRow]:
        if isinstance(item, slice):
            return [self._by_trial[t] for t in self._ids[item]]
        return self._by_trial[self._ids[item]]

    def __iter__(self) -> Iterator[ResultRow]:
        by_trial = self._by_trial
        return (by_trial[t] for t in self._ids)


class PendingTrials:
    """Pending trials produced lazily; true while there is at least one."""

    def __init__(self, trials: Iterator[Trial]) -> None:
        self._head = next(trials, None)
        self._rest = trials

    def __bool__(self) -> bool:
        return self._head is not None

    def __iter__(self) -> Iterator[Trial]:
        if self._head is not None:
            yield self._head
        yield from self._rest


def done_ids(rows: Sequence[ResultRow]) -> Collection[str]:
    """The ids of the trials with a row."""
    return rows.done if isinstance(rows, Ledger) else {r.trial for r in rows}


def failures(rows: Iterable[ResultRow]) -> dict[str, str]:
    """Failed trials with their errors (a new dict the caller may extend)."""
    if isinstance(rows, Ledger):
        return dict(rows.failed)
    return {r.trial: r.error for r in rows if r.status == "failed"}


def used_seconds(rows: Sequence[ResultRow]) -> tuple[float, float]:
    """GPU seconds and trial seconds over the rows (kept as totals by a Ledger)."""
    if isinstance(rows, Ledger):
        return rows.gpu_seconds, rows.duration_seconds
    trained = [r for r in rows if not r.reused_from]  # reused: cost this run nothing
    return sum(r.gpu_seconds for r in trained), sum(r.duration_seconds for r in trained)


def pending_trials(plan: Plan, rows: Sequence[ResultRow], done: Collection[str]) -> PendingTrials:
    """The plan's trials not in ``done``, in plan order (``done`` is ``done_ids(rows)``)."""
    if isinstance(rows, Ledger):
        return PendingTrials(rows.pending(plan.trials))
    return PendingTrials(iter(plan.pending(done)))
