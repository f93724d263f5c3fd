"""The Ledger: decide() gives the same decisions for it as for a plain list of rows."""

from __future__ import annotations

import dataclasses
import random

import pytest

from tests.core.test_decisions import ANCHOR, row, sweep
from tuningsweep.core.planning.decisions import decide
from tuningsweep.core.planning.ledger import Ledger, used_seconds
from tuningsweep.core.planning.planner import Plan
from tuningsweep.core.planning.windows import resolve_windows


def test_rows_sorted_by_trial_and_a_later_row_replaces_an_earlier_one() -> None:
    ledger = Ledger([row("c0002-w0"), row("c0000-w1", "failed")])
    ledger.add(row("c0001-w0"))
    ledger.add(row("c0000-w1"))  # the retry succeeded
    assert [r.trial for r in ledger] == ["c0000-w1", "c0001-w0", "c0002-w0"]
    assert ledger[0].status == "succeeded" and ledger[-1].trial == "c0002-w0"
    assert [r.trial for r in ledger[1:]] == ["c0001-w0", "c0002-w0"]
    assert ledger.failed == {} and ledger.count("succeeded") == 3
    ledger.add(row("c0001-w0", "failed"))
    assert ledger.failed == {"c0001-w0": "boom"} and ledger.count("succeeded") == 2
    assert ledger.count("failed") == 1
    assert set(ledger.done) == {"c0000-w1", "c0001-w0", "c0002-w0"}


def test_used_seconds_are_totals_over_the_current_rows() -> None:
    rows = [dataclasses.replace(row(f"c000{i}-w0"), gpu_seconds=2.0 * i,
                                duration_seconds=1.5 * i) for i in range(4)]
    ledger = Ledger(rows)
    ledger.add(dataclasses.replace(rows[1], gpu_seconds=10.0, duration_seconds=0.5))
    plain = list(ledger)
    assert used_seconds(ledger) == pytest.approx(used_seconds(plain))
    assert used_seconds(plain) == (20.0, 8.0)


def test_decisions_match_a_plain_list_whatever_order_trials_finish_in() -> None:
    s = sweep()
    windows = resolve_windows(s.spec, ANCHOR)
    spec = dataclasses.replace(s.spec, max_failed_trials=3)
    rng = random.Random(5)
    ledger = Ledger()
    plan: Plan | None = None
    running: list[str] = []
    for _ in range(40):
        by_list = decide(spec, windows, list(ledger), running=running, previous=plan)
        by_ledger = decide(spec, windows, ledger, running=running, previous=plan)
        assert by_ledger.start == by_list.start
        assert (by_ledger.phase, by_ledger.message) == (by_list.phase, by_list.message)
        assert by_ledger.failed == by_list.failed
        if by_ledger.ended:
            break
        plan = by_ledger.plan
        running += [t.id for t in by_ledger.start]
        # Trials finish out of plan order, some fail: the cursor must not skip them.
        finished = running.pop(rng.randrange(len(running)))
        ledger.add(row(finished, "failed" if rng.random() < 0.2 else "succeeded"))
    assert by_ledger.ended and len(ledger) <= 6


def test_pending_resumes_from_the_first_trial_without_a_row() -> None:
    s = sweep()
    windows = resolve_windows(s.spec, ANCHOR)
    plan = decide(s.spec, windows, []).plan
    ledger = Ledger([row("c0000-w1"), row("c0001-w0")])
    assert [t.id for t in ledger.pending(plan.trials)][:2] == ["c0000-w0", "c0001-w1"]
    ledger.add(row("c0000-w0"))
    assert next(t.id for t in ledger.pending(plan.trials)) == "c0001-w1"
    # Another plan (a new auto stage) starts from its own beginning.
    other = Plan(plan.trials[::-1], 0, True, plan.configs)
    assert [t.id for t in ledger.pending(other.trials)][-1] == "c0001-w1"
