"""Opening a sweep's folder (io.opening): the steps both executors take, in their order."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

from tests.core.test_decisions import ANCHOR, row, sweep
from tuningsweep.core.planning.windows import resolve_windows
from tuningsweep.core.recurring.runs import RunStart
from tuningsweep.core.spec.parse import DateWindow, Sweep
from tuningsweep.io.local_store import LocalStore
from tuningsweep.io.opening import open_results
from tuningsweep.io.results_store import ResultsConflict, ResultsStore

LATER = dt.date(2027, 3, 2)  # another month: rolling windows resolve otherwise


def _results(tmp_path: Path, s: Sweep | None = None, owner: str | None = None) -> ResultsStore:
    return ResultsStore(LocalStore(tmp_path), s or sweep(), min_interval=0.0, owner=owner)


def _edited(s: Sweep, **spec: object) -> Sweep:
    """The same sweep with top-level spec fields changed in its manifest."""
    return dataclasses.replace(s, raw_spec={**s.raw_spec, **spec})


def _first_start(tmp_path: Path, owner: str | None = None) -> ResultsStore:
    results = _results(tmp_path, owner=owner)
    open_results(results, ANCHOR)
    results.add([row("c0000-w0", value=2.0), row("c0001-w0", value=1.0)])
    results.close()
    return results


def test_a_restart_reads_rows_back_and_keeps_the_windows_pinned_at_the_first_start(
    tmp_path: Path,
) -> None:
    _first_start(tmp_path)
    again = _results(tmp_path)
    opened = open_results(again, LATER)
    assert opened.windows == resolve_windows(sweep().spec, ANCHOR)
    assert opened.windows != resolve_windows(sweep().spec, LATER)
    assert not opened.resumed
    assert [r.trial for r in again.rows] == ["c0000-w0", "c0001-w0"]
    # The summary is rewritten from the rows read back (the progress line's best).
    assert again.summary is not None
    assert {c.config for c in again.summary.configs} == {"c0000", "c0001"}


def test_fresh_forgets_rows_and_windows(tmp_path: Path) -> None:
    _first_start(tmp_path)
    again = _results(tmp_path)
    opened = open_results(again, LATER, fresh=True)
    assert again.rows == []
    assert opened.windows == resolve_windows(sweep().spec, LATER)


def test_a_different_search_in_the_folder_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    _first_start(tmp_path)
    windows_json = tmp_path / "t" / "d" / "windows.json"
    before = windows_json.read_text()
    other = _results(tmp_path, _edited(sweep(), architecture="dcn"))
    with pytest.raises(ResultsConflict, match=r"spec\.architecture"):
        open_results(other, LATER)
    assert windows_json.read_text() == before


def test_locally_the_ignored_fields_may_differ(tmp_path: Path) -> None:
    _first_start(tmp_path)
    fixed = _results(tmp_path, _edited(sweep(), trainer={"command": ["python", "t.py"]}))
    with pytest.raises(ResultsConflict, match=r"spec\.trainer"):
        open_results(fixed, ANCHOR)
    opened = open_results(fixed, ANCHOR, ignore=("output", "trainer"))
    # Locally the spec run is the one given (a fixed trainer command is the point).
    assert opened.sweep.raw_spec["trainer"] == {"command": ["python", "t.py"]}


def test_the_same_object_resumes_on_the_spec_it_started_with(tmp_path: Path) -> None:
    _first_start(tmp_path, owner="uid-1")
    edited = _results(tmp_path, _edited(sweep(), architecture="dcn"), owner="uid-1")
    opened = open_results(edited, LATER)
    # Not replanned from the edit: the caller refuses the edit with a condition.
    assert opened.sweep.raw_spec["architecture"] == "mlp"
    assert not opened.resumed


def test_a_new_object_with_the_same_search_takes_the_folder_over(tmp_path: Path) -> None:
    _first_start(tmp_path, owner="uid-1")
    again = _results(tmp_path, owner="uid-2")
    opened = open_results(again, LATER)
    assert opened.resumed
    recorded = yaml.safe_load((tmp_path / "t" / "d" / "resolved-spec.yaml").read_text())
    assert recorded["metadata"]["uid"] == "uid-2"
    assert len(again.rows) == 2


def test_vet_sees_pinned_windows_and_stops_the_opening(tmp_path: Path) -> None:
    seen: list[tuple[tuple[DateWindow, ...], tuple[DateWindow, ...]]] = []
    begun: list[object] = []

    def vet(s: Sweep, resolved: tuple[DateWindow, ...], windows: tuple[DateWindow, ...]) -> None:
        # Pinned (durable) before any check can stop the sweep or anything can train.
        pinned = json.loads((tmp_path / "t" / "d" / "windows.json").read_text())
        assert len(pinned["windows"]) == len(windows)
        seen.append((resolved, windows))
        raise RuntimeError("no data")

    def begin(windows: tuple[DateWindow, ...]) -> RunStart:
        begun.append(windows)
        raise AssertionError("a refused sweep starts no run")

    _first_start(tmp_path)
    with pytest.raises(RuntimeError, match="no data"):
        open_results(_results(tmp_path), LATER, vet=vet, begin=begin)
    resolved, windows = seen[0]
    assert resolved == resolve_windows(sweep().spec, LATER)
    assert windows == resolve_windows(sweep().spec, ANCHOR)
    assert begun == []


def test_windows_the_caller_holds_are_used_unchecked(tmp_path: Path) -> None:
    held = resolve_windows(sweep().spec, LATER)

    def vet(s: Sweep, resolved: tuple[DateWindow, ...], windows: tuple[DateWindow, ...]) -> None:
        raise AssertionError("checked when they were pinned")

    results = _results(tmp_path)
    opened = open_results(results, ANCHOR, pinned=held, vet=vet)
    assert opened.windows == held and results.windows == held


def test_a_recurring_run_plans_with_its_seeds_and_keeps_the_spec_it_opened(
    tmp_path: Path,
) -> None:
    results = _results(tmp_path)
    seeded = dataclasses.replace(sweep(), name="d-2026-12-01",
                                 raw_spec={"architecture": "seeded"})

    def begin(windows: tuple[DateWindow, ...]) -> RunStart:
        assert (tmp_path / "t" / "d" / "windows.json").exists()
        return RunStart("2026-12-01", seeded, context=None,  # type: ignore[arg-type]
                        champion=None, index=None)

    opened = open_results(results, ANCHOR, begin=begin)
    assert opened.start is not None and opened.start.lookup is None  # reuse off
    assert opened.sweep.name == "d-2026-12-01" and results.sweep is opened.sweep
    assert opened.sweep.raw_spec == sweep().raw_spec
