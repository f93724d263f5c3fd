"""When the operator starts a recurring sweep's runs (core/recurring/slots.py), and
``spec.historyLimit``: plain tests of the pure decision."""

from __future__ import annotations

import datetime as dt

import pytest

from tuningsweep.core.recurring.slots import ChildRun, decide_runs
from tuningsweep.core.spec.errors import InvalidSpec
from tuningsweep.core.spec.manifest import load_sweeps
from tuningsweep.core.spec.schedule import parse_schedule

MONTHLY = parse_schedule("0 6 1 * *")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def child(run: str, phase: str = "Succeeded") -> ChildRun:
    return ChildRun(run, f"s-{run}", phase)


def test_a_new_recurring_sweep_starts_the_current_slots_run_at_once() -> None:
    decision = decide_runs(MONTHLY, at("2026-07-15T00:00"), [], set(), None, 3)
    assert decision.start == "2026-07-01"
    assert decision.next_slot == at("2026-08-01T06:00")


def test_a_slot_starts_at_its_minute_not_before() -> None:
    done = [child("2026-07-01")]
    assert decide_runs(MONTHLY, at("2026-08-01T05:59"), done, {"2026-07-01"}, "2026-07-01",
                       3).start is None
    assert decide_runs(MONTHLY, at("2026-08-01T06:00"), done, {"2026-07-01"}, "2026-07-01",
                       3).start == "2026-08-01"


def test_missed_slots_start_only_the_latest_once() -> None:
    decision = decide_runs(MONTHLY, at("2026-11-20T00:00"), [child("2026-07-01")],
                           {"2026-07-01"}, "2026-07-01", 3)
    assert decision.start == "2026-11-01"
    started = [child("2026-07-01"), child("2026-11-01", "Running")]
    assert decide_runs(MONTHLY, at("2026-11-20T00:00"), started, {"2026-07-01"},
                       "2026-11-01", 3).start is None


def test_a_run_never_overlaps_the_one_before_it() -> None:
    decision = decide_runs(MONTHLY, at("2026-08-02T00:00"), [child("2026-07-01", "Running")],
                           set(), "2026-07-01", 3)
    assert (decision.start, decision.waiting, decision.blocked_by) == (
        None, "2026-08-01", "2026-07-01")
    # A failed run writes no history and does not block the next.
    decision = decide_runs(MONTHLY, at("2026-08-02T00:00"), [child("2026-07-01", "Failed")],
                           set(), "2026-07-01", 3)
    assert decision.start == "2026-08-01" and decision.waiting is None


def test_a_run_started_once_is_not_started_again_without_its_child() -> None:
    # Pruned, or deleted by hand: the history or the status still knows it.
    assert decide_runs(MONTHLY, at("2026-07-20T00:00"), [], {"2026-07-01"}, None,
                       3).start is None
    assert decide_runs(MONTHLY, at("2026-07-20T00:00"), [], set(), "2026-07-01",
                       3).start is None


def test_history_limit_prunes_the_oldest_finished_runs_once_recorded() -> None:
    children = [child("2026-06-01"), child("2026-07-01", "Failed"), child("2026-08-01"),
                child("2026-09-01"), child("2026-10-01", "Running")]
    recorded = {"2026-08-01", "2026-09-01"}  # June's row is not written yet
    decision = decide_runs(MONTHLY, at("2026-10-02T00:00"), children, recorded,
                           "2026-10-01", 1)
    # September is kept; August (recorded) and July (failed: nothing to record) go; June
    # stays until its history row is written.
    assert sorted(decision.prune) == ["s-2026-07-01", "s-2026-08-01"]
    decision = decide_runs(MONTHLY, at("2026-10-02T00:00"), children, recorded | {"2026-06-01"},
                           "2026-10-01", 0)
    assert sorted(decision.prune) == ["s-2026-06-01", "s-2026-07-01", "s-2026-08-01",
                                      "s-2026-09-01"]  # never the running one


def test_history_limit_defaults_to_3_and_needs_a_schedule() -> None:
    (sweep,) = load_sweeps("""\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {name: rec}
spec: {architecture: mlp, schedule: '0 6 1 * *'}
""", "rec.yaml")
    assert sweep.spec.history_limit == 3
    with pytest.raises(InvalidSpec, match=r"spec.historyLimit.*add spec.schedule"):
        load_sweeps("""\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {name: once}
spec: {architecture: mlp, historyLimit: 2}
""", "once.yaml")
    with pytest.raises(InvalidSpec, match="historyLimit"):
        load_sweeps("""\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {name: rec}
spec: {architecture: mlp, schedule: '0 6 1 * *', historyLimit: -1}
""", "rec.yaml")
