"""Status: small, with conditions whose transition time moves only on change."""

from __future__ import annotations

import json

from tuningsweep.core.planning.status import build_status, set_condition
from tuningsweep.core.planning.windows import windows_from_data
from tuningsweep.core.records.results import ResultRow
from tuningsweep.core.stats.summary import summarize


def test_condition_transition_time_moves_only_on_change() -> None:
    c1 = set_condition([], "Ready", True, "Running", "0/4", "t1")
    c2 = set_condition(c1, "Ready", True, "Running", "1/4", "t2")
    assert c2[0]["lastTransitionTime"] == "t1" and c2[0]["message"] == "1/4"
    c3 = set_condition(c2, "Ready", False, "Failed", "x", "t3")
    assert c3[0]["lastTransitionTime"] == "t3" and c3[0]["status"] == "False"


def test_status_size_does_not_grow_with_trials() -> None:
    windows = windows_from_data([{"start": "2026-09-01", "end": "2026-09-30"},
                                 {"start": "2026-08-01", "end": "2026-08-31"}])

    def status_for(configs: int) -> str:
        rows = [ResultRow("s", f"c{c:04d}-w{w}", f"c{c:04d}", f"w{w}", "", "", "succeeded",
                          {"lr": c / 1000}, {"val_mse": (c * 7919 % 1000) / 1000 + w})
                for c in range(configs) for w in range(2)]
        summary = summarize(rows, "val_mse", "minimize", ["w0", "w1"])
        return json.dumps(build_status(
            phase="Running", total=configs * 2, succeeded=len(rows), failed=0, running=0,
            windows=windows, summary=summary, results_uri="gs://b/r/results.csv",
            conditions=[], observed_generation=1))

    small, large = status_for(10), status_for(5000)
    assert len(large) < 16 * 1024
    assert len(large) - len(small) < 64  # only the counters' digits grow
    status = json.loads(large)
    assert status["progress"] == "10000/10000"
    assert status["best"]["display"].startswith(status["best"]["config"] + " val_mse=")


def test_queued_trials_are_counted_apart_from_running_and_pending_ones() -> None:
    status = build_status(phase="Running", total=10, succeeded=2, failed=1, running=3,
                          queued=2, windows=(), summary=None, results_uri="gs://b/r",
                          conditions=[], observed_generation=None)
    assert status["trials"] == {"total": 10, "pending": 2, "queued": 2, "running": 3,
                                "succeeded": 2, "failed": 1, "stopped": 0}
    assert status["progress"] == "3/10"
