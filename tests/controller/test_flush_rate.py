"""The operator's summary: rendered at a bounded rate while trials finish, exact at the end."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.controller.test_step import World
from tuningsweep.io import render_gate
from tuningsweep.io.results_store import ResultsStore

TRIALS = 12


def test_summary_renders_are_rate_bounded_and_the_final_best_is_the_last_trial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    renders: list[int] = []
    original = ResultsStore._write_summary

    def counted(self: ResultsStore, rows: list | None = None) -> None:  # type: ignore[type-arg]
        renders.append(len(rows or []))
        original(self, rows)

    monkeypatch.setattr(ResultsStore, "_write_summary", counted)
    # As if the summary were slow to render (a large sweep): at most one per hour.
    monkeypatch.setattr(render_gate, "RENDER_FLOOR_S", 3600.0)
    world = World(tmp_path, architecture="custom", parallelism=1,
                  windows={"ranges": [{"start": "2026-01-01", "end": "2026-01-31"}]},
                  parameters={"x": {"values": list(range(TRIALS))}})
    result = world.step()
    for i in range(TRIALS):
        trial = world.api.created[-1]
        world.finish(trial, value=1.0 - i / TRIALS)  # each trial better than the last
        result = world.step()
    while not result.done:
        result = world.step()
    assert world.api.status["phase"] == "Succeeded"
    # The last trial finished best; the final summary (and status) must show it.
    assert world.api.status["best"]["config"] == f"c{TRIALS - 1:04d}"
    assert renders[-1] == TRIALS
    # Once with the first flush, then held back by the rate until the end.
    assert renders == [1, TRIALS]
