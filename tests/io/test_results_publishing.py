"""ResultsStore publishing: rows durable one by one, every-row renderings at a bounded rate."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from tests.core.test_decisions import row, sweep
from tuningsweep.core.records.results import parse_csv, render_csv
from tuningsweep.io.local_store import LocalStore
from tuningsweep.io.render_gate import RENDER_COST_FACTOR, RENDER_FLOOR_S, RenderGate
from tuningsweep.io.results_store import ResultsStore

TRIALS = [f"c{i:04d}-w{w}" for i in range(40) for w in (0, 1)]


class CountingStore(LocalStore):
    """A local folder that counts whole-file writes per file."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.writes: Counter[str] = Counter()

    def write_text(self, relpath: str, text: str) -> None:
        self.writes[relpath.rsplit("/", 1)[-1]] += 1
        super().write_text(relpath, text)


class MemoryStore:
    """Like GCS: objects that are only ever replaced whole, never appended to."""

    uri = "mem://results"

    def __init__(self) -> None:
        self.writes: Counter[str] = Counter()
        self.objects: dict[str, str] = {}

    def read_text(self, relpath: str) -> str | None:
        return self.objects.get(relpath)

    def write_text(self, relpath: str, text: str) -> None:
        self.writes[relpath.rsplit("/", 1)[-1]] += 1
        self.objects[relpath] = text

    def exists(self, relpath: str) -> bool:
        return relpath in self.objects

    def list(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    def uri_for(self, relpath: str) -> str:
        return f"{self.uri}/{relpath}"

    def check_writable(self) -> None:
        """Always writable."""


def local_results(tmp_path: Path) -> tuple[ResultsStore, CountingStore, Path]:
    store = CountingStore(tmp_path)
    results = ResultsStore(store, sweep(), min_interval=0.0)
    return results, store, tmp_path / results.path("results.csv")


def test_each_row_is_durable_when_add_returns_and_renderings_are_rate_bounded(
    tmp_path: Path,
) -> None:
    results, store, csv_path = local_results(tmp_path)
    for trial in reversed(TRIALS):  # out of order: the file is sorted only when flushed
        results.add([row(trial)])
        # What a killed runner would resume from: every row added so far, once.
        assert {r.trial for r in parse_csv(csv_path.read_text())} == set(results.done_ids)
    # Appended, not rewritten: one whole write (the first); the summary within its rate.
    assert store.writes["results.csv"] == 1
    assert results.summary is not None and store.writes["summary.csv"] <= 2
    results.flush()
    assert csv_path.read_text() == render_csv(
        results.rows, metric_names=results.sweep.spec.recorded_metrics)
    assert [c.config for c in results.summary.configs if c.complete] != []
    assert len(results.summary.configs) == 40
    results.close()


def test_a_retried_trial_has_one_row_after_flush_and_its_last_row_on_resume(
    tmp_path: Path,
) -> None:
    results, _, csv_path = local_results(tmp_path)
    results.add([row("c0000-w0", "failed"), row("c0000-w1")])
    results.add([row("c0000-w0")])  # --retry-failed: the new row follows the old one
    # Killed here: a resume reads the last row of the trial.
    resumed = ResultsStore(LocalStore(tmp_path), sweep(), min_interval=0.0)
    assert [r.status for r in resumed.load()] == ["succeeded", "succeeded"]
    results.flush()
    assert [r.trial for r in parse_csv(csv_path.read_text())] == ["c0000-w0", "c0000-w1"]
    results.close()
    resumed.close()


def test_a_resumed_file_is_rewritten_whole_before_the_first_append(tmp_path: Path) -> None:
    results, _, csv_path = local_results(tmp_path)
    # A file from elsewhere: another column order, and a last line without its newline.
    csv_path.parent.mkdir(parents=True)
    csv_path.write_text(render_csv([row("c0001-w0")], metric_names=["val_mse", "loss"])
                        .rstrip("\n"))
    results.load()
    results.add([row("c0000-w0")])
    assert [r.trial for r in parse_csv(csv_path.read_text())] == ["c0000-w0", "c0001-w0"]
    results.add([row("c0002-w0")])
    assert len(parse_csv(csv_path.read_text())) == 3
    results.close()


def test_without_appends_results_are_rendered_at_a_bounded_rate_and_on_flush() -> None:
    store = MemoryStore()
    results = ResultsStore(store, sweep(), min_interval=0.0)
    for trial in TRIALS:
        results.add([row(trial)])
    results.flush()
    assert 1 <= store.writes["results.csv"] <= 3
    key = results.path("results.csv")
    assert [r.trial for r in parse_csv(store.objects[key])] == TRIALS
    results.close()


def test_the_operator_publishes_itself_and_flush_adds_nothing() -> None:
    store = MemoryStore()
    results = ResultsStore(store, sweep(), min_interval=0.0)
    results.add([row(t) for t in TRIALS[:4]], publish=False)
    results.flush()
    assert store.writes == Counter()
    results.publish(list(results.rows))
    results.flush()
    assert store.writes == Counter({"results.csv": 1, "summary.csv": 1})
    results.close()


def test_a_render_gate_spaces_renderings_by_their_cost() -> None:
    gate = RenderGate()
    assert gate.due()
    started = time.monotonic()
    gate.ran(started)
    assert not gate.due() and gate.next_at >= started + RENDER_FLOOR_S
    gate.ran(started - 0.1)  # a rendering that took 0.1 s
    assert gate.next_at >= started + 0.1 * RENDER_COST_FACTOR - 0.1
