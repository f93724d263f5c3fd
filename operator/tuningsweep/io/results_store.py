"""The sweep's durable record: results.csv, summary.csv, pinned windows, resolved spec.

Both executors keep a sweep's state here and nowhere else (no database). The folder is
``<results>/<namespace>/<name>/`` on a local disk or in GCS (:mod:`tuningsweep.core.records.layout`):

* ``results.csv``: one row per finished trial (:mod:`tuningsweep.core.records.results`);
* ``summary.csv``: one row per configuration (:mod:`tuningsweep.core.stats.summary`);
* ``windows.json``: the windows resolved when the sweep first ran, never re-resolved,
  so a sweep resumed next month trains on the same data;
* ``resolved-spec.yaml``: the validated manifest with defaults, so a resume can refuse a
  results folder that belongs to a different search, and ``report`` knows the objective.

Rows are merged by trial id. Whole rewrites are atomic (temp file and rename locally;
one upload per write on GCS, throttled to one write per object per 2 s) and a local
append is one ``write`` then an fsync, so a crash at any point leaves complete rows, and
a restart neither loses nor duplicates them (a trial appended twice, a retried failure,
is read back as its last row). Appending bypasses :class:`~tuningsweep.io.storage.Store`,
whose contract is whole-object writes: only a local file can be appended to.

Bookkeeping per trial must not grow with the sweep (rendering every row after each
trial made the local runner quadratic: 170 ms per trial at 10,000 rows). So the local
runner's rows (``add`` with ``publish=True``) are appended to results.csv and fsynced
before ``add`` returns, on a local folder (the file is rewritten whole and sorted the
first time and by ``flush``); summary.csv, and results.csv on GCS, are rendered at a
rate bounded by their own cost (:class:`~tuningsweep.io.render_gate.RenderGate`), the
in-memory summary (the progress bar's best) with them; ``flush`` publishes whatever is
behind (the runner flushes at the end, on Ctrl-C and on failure). The operator merges
with ``publish=False`` and publishes once per background flush.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, KeysView
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..core.planning.ledger import Ledger
from ..core.planning.racing_summary import summarize_sweep
from ..core.planning.windows import windows_from_data, windows_to_data
from ..core.records import layout
from ..core.records.layout import RESULTS_CSV, SPEC_YAML, SUMMARY_CSV, SWEEP_FILES, WINDOWS_JSON
from ..core.records.results import CsvLines, ResultRow, ResultsFormatError, parse_csv
from ..core.spec import api
from ..core.spec.errors import InvalidSpec, SpecError
from ..core.spec.parse import DateWindow, Sweep
from .local_store import LocalStore
from .render_gate import RenderGate
from .storage import StorageError, Store
from .throttled_writer import ThrottledWriter

if TYPE_CHECKING:
    from ..core.stats.summary import Summary


class ResultsConflict(InvalidSpec):
    """The results folder holds a different search under the same name.

    A spec problem relative to what is stored (it names the spec fields that differ), so
    it stays an :class:`InvalidSpec` for callers that fail the sweep on any spec problem;
    its own class lets them report it apart (the operator's ``ResultsConflict`` reason).
    """


def sweep_manifest(sweep: Sweep, owner: str | None = None) -> dict[str, Any]:
    """The validated manifest with every default, as written to ``resolved-spec.yaml``.

    ``owner`` is the uid of the TuningSweep object on a cluster, so that a re-created sweep
    of the same name can tell its own results from an earlier object's.
    """
    metadata: dict[str, Any] = {"name": sweep.name, "namespace": sweep.namespace}
    if owner:
        metadata["uid"] = owner
    return {"apiVersion": api.API_VERSION, "kind": api.KIND, "metadata": metadata,
            "spec": dict(sweep.raw_spec)}


def immutable_differences(
    old_spec: dict[str, Any], new_spec: dict[str, Any], ignore: tuple[str, ...] = ("output",)
) -> list[str]:
    """The spec fields that differ between two sweeps, ignoring the mutable ones.

    ``output`` is ignored by default: where results go does not change the experiment.
    """
    keys = (set(old_spec) | set(new_spec)) - set(api.MUTABLE_SPEC_FIELDS) - set(ignore)
    return sorted(k for k in keys if old_spec.get(k) != new_spec.get(k))


def _append_durably(path: Path, text: str) -> None:
    """Append ``text`` to ``path`` in one write and fsync it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, text.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as err:
        raise StorageError(f"cannot append to {path}: {err.strerror or err}") from err


class ResultsStore:
    """One sweep's results folder: read back on start, merged and rewritten as rows arrive.

    Args:
        store: the results location (local folder or GCS prefix).
        sweep: the sweep whose folder this is.
        folder: the folder, when it is not the sweep's own (a recurring sweep's run).
        min_interval: seconds between rewrites of one object (0 locally, 2 on GCS).
    """

    def __init__(self, store: Store, sweep: Sweep, min_interval: float,
                 owner: str | None = None, folder: str | None = None) -> None:
        self.store = store
        self.sweep = sweep
        self.owner = owner
        # A recurring sweep's run lives in its sweep's runs/<run>/ (core/recurring/runs.py).
        self.folder = folder or layout.sweep_folder(sweep.namespace, sweep.name)
        self._ledger = Ledger()
        self._sorted: list[ResultRow] | None = []
        self.windows: tuple[DateWindow, ...] = ()
        self.summary: Summary | None = None
        self._writer = ThrottledWriter(store, min_interval)
        # Appending needs a file we can open; GCS objects are only ever replaced.
        self._append_to = (Path(store.uri_for(self.path(RESULTS_CSV)))
                           if isinstance(store, LocalStore) else None)
        self._file_params: list[str] | None = None  # results.csv's columns, once written
        self._unsorted = False  # rows appended since results.csv was last written whole
        self._duplicates = False  # ... one of them for a trial the file already had
        self._results_behind = False  # rows added that results.csv does not show yet
        self._summary_behind = False  # rows added that summary.csv does not show yet
        self._results_gate = RenderGate()
        self._summary_gate = RenderGate()
        # Rendered rows, and the parameter columns of all rows, kept as rows arrive: a
        # whole rewrite of results.csv then costs a join, not a pass formatting every row.
        self._lines = CsvLines()
        self._params: set[str] = set()

    @property
    def rows(self) -> list[ResultRow]:
        """Every row, sorted by trial id (read-only; use :meth:`add` to change them)."""
        if self._sorted is None:
            self._sorted = list(self._ledger)
        return self._sorted

    @property
    def ledger(self) -> Ledger:
        """Every row as a :class:`~tuningsweep.core.planning.ledger.Ledger` (read-only; no copy)."""
        return self._ledger

    @property
    def done_ids(self) -> KeysView[str]:
        """The trials that have a row (a live view: no copy per call)."""
        return self._ledger.done

    def path(self, name: str) -> str:
        """Relative path of a file in the sweep's folder."""
        return layout.join(self.folder, name)

    def _read(self, name: str) -> str | None:
        """A file's text, or None when absent or emptied by ``--fresh``."""
        text = self.store.read_text(self.path(name))
        return text if text and text.strip() else None

    @property
    def results_uri(self) -> str:
        """Where ``results.csv`` lives, for messages and the sweep's status."""
        return self.store.uri_for(self.path(RESULTS_CSV))

    def load(self) -> list[ResultRow]:
        """Read the existing rows back (none for a new sweep).

        Raises:
            StorageError: the file exists but is not a results CSV.
        """
        text = self._read(RESULTS_CSV)
        rows: list[ResultRow] = []
        if text is not None:
            try:
                rows = parse_csv(text)
            except ResultsFormatError as exc:
                raise StorageError(
                    f"{self.results_uri}: {exc}; move it away or use --fresh") from None
        self._ledger = Ledger(rows)
        self._params = {p for r in rows for p in r.params}
        self._sorted = None
        self._file_params = None  # what is there is rewritten before the first append
        self._summary_behind = bool(rows)
        return self.rows

    def previous_manifest(self) -> dict[str, Any] | None:
        """The manifest recorded by an earlier run in this folder, if any.

        Raises:
            StorageError: the file is there but is not YAML.
        """
        text = self._read(SPEC_YAML)
        if text is None:
            return None
        try:
            previous = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise StorageError(f"{self.store.uri_for(self.path(SPEC_YAML))} is not YAML "
                               f"({exc}); move the folder away or use --fresh") from None
        return previous if isinstance(previous, dict) else None

    def check_same_sweep(self, previous: dict[str, Any],
                         ignore: tuple[str, ...] = ("output",)) -> None:
        """Refuse a folder holding results of a different search (same name, new spec).

        ``previous`` is the folder's manifest (:meth:`previous_manifest`).

        Raises:
            ResultsConflict: naming the fields that differ and the way out.
        """
        differences = immutable_differences(previous.get("spec") or {},
                                            dict(self.sweep.raw_spec), ignore)
        if differences:
            fields = ", ".join(f"spec.{d}" for d in differences)
            raise ResultsConflict([SpecError(
                fields, f"differs from the sweep whose results are in {self.store.uri_for(self.folder)}",
                "rename the sweep (metadata.name), choose another --results, or pass --fresh "
                "to discard the earlier results")])

    def pin_windows(self, resolved: tuple[DateWindow, ...]) -> tuple[DateWindow, ...]:
        """Return the pinned windows, pinning ``resolved`` if none are pinned yet.

        Also records the resolved spec. Written synchronously: no trial may start on
        windows that a crash could forget.
        """
        text = self._read(WINDOWS_JSON)
        if text is not None:
            try:
                self.windows = windows_from_data(json.loads(text)["windows"])
            except (ValueError, KeyError, TypeError) as exc:
                raise StorageError(f"{self.store.uri_for(self.path(WINDOWS_JSON))} is not "
                                   f"a windows file ({exc}); move the folder away or use "
                                   "--fresh") from None
            return self.windows
        self.windows = resolved
        self.store.write_text(self.path(SPEC_YAML), yaml.safe_dump(
            sweep_manifest(self.sweep, self.owner), sort_keys=False))
        self.store.write_text(self.path(WINDOWS_JSON),
                              json.dumps({"windows": windows_to_data(resolved)}, indent=2) + "\n")
        return self.windows

    def record_owner(self) -> None:
        """Record this sweep (and its owner uid) as the folder's sweep."""
        self.store.write_text(self.path(SPEC_YAML), yaml.safe_dump(
            sweep_manifest(self.sweep, self.owner), sort_keys=False))

    def discard(self) -> None:
        """Forget earlier results (``--fresh``): emptied files read as absent."""
        for name in SWEEP_FILES:
            if self.store.exists(self.path(name)):
                self.store.write_text(self.path(name), "")
        self._ledger, self._sorted, self._file_params = Ledger(), [], None
        self._params = set()

    def add(self, rows: Iterable[ResultRow], publish: bool = True) -> None:
        """Merge ``rows`` (keyed by trial id) and, unless told not to, record them.

        With ``publish`` (the local runner) see the module docstring. The operator passes
        False: it publishes once per flush (GCS takes one write per object per 2 s).
        """
        new = list(rows)
        replaced = any(r.trial in self._ledger.done for r in new)
        for row in new:
            self._ledger.add(row)
            self._params.update(row.params)
        if new:
            self._sorted = None
        if not publish:
            return
        if new:
            self._summary_behind = True
            if self._append_to is None:
                self._results_behind = True
            else:
                self._append(new, replaced)
        self._publish_due()

    def _columns(self) -> tuple[list[str], list[str]]:
        """The parameter and metric columns of results.csv: those of every row so far."""
        return sorted(self._params), list(self.sweep.spec.recorded_metrics)

    def _append(self, new: list[ResultRow], replaced: bool) -> None:
        """Append ``new`` to results.csv, or rewrite it whole if a column is missing."""
        assert self._append_to is not None
        params = self._file_params
        if params is None or any(p not in params for r in new for p in r.params):
            self._write_results()  # a first write, or a parameter the file has no column for
            return
        text = self._lines.render(sorted(new, key=lambda r: r.trial), params,
                                  self.sweep.spec.recorded_metrics)
        _append_durably(self._append_to, text.partition("\n")[2])
        self._unsorted = True
        self._duplicates = self._duplicates or replaced

    def _write_results(self, rows: list[ResultRow] | None = None) -> None:
        """Render results.csv whole: written now locally, queued for the writer on GCS."""
        rows = self.rows if rows is None else rows
        params, metrics = self._columns()
        text = self._lines.render(rows, params, metrics)
        if self._append_to is None:
            self._writer.submit(self.path(RESULTS_CSV), text)
        else:
            # Written here, not on the writer's thread, so that no append can race it.
            self.store.write_text(self.path(RESULTS_CSV), text)
            self._file_params = params
            self._unsorted = self._duplicates = False
        self._results_behind = False

    def _write_summary(self, rows: list[ResultRow] | None = None) -> None:
        rows = self.rows if rows is None else rows
        self.summary = summarize_sweep(self.sweep, rows, windows=self.windows)
        from ..core.stats.summary import summary_csv  # the statistics load with the first summary

        self._writer.submit(self.path(SUMMARY_CSV), summary_csv(self.summary))
        self._summary_behind = False

    def _publish_due(self) -> None:
        """Render what is behind where its rate allows."""
        if (self._results_behind or self._duplicates) and self._results_gate.due():
            started = time.monotonic()
            self._write_results()
            self._results_gate.ran(started)
        if self._summary_behind and self._summary_gate.due():
            started = time.monotonic()
            self._write_summary()
            self._summary_gate.ran(started)

    def publish(self, rows: list[ResultRow] | None = None, summary: bool = True) -> None:
        """Render results.csv and (unless told not to) summary.csv from ``rows`` now.

        ``rows`` (sorted by trial id) defaults to all. Safe to call from a worker thread
        with a snapshot of :attr:`rows` (the operator does; it never appends).
        """
        self._write_results(rows)
        if summary:
            self._write_summary(rows)

    def _catch_up(self) -> None:
        """Publish what the rate held back, and put results.csv in order."""
        if self._results_behind or self._unsorted:
            self._write_results()
        if self._summary_behind:
            self._write_summary()

    def flush(self, timeout: float | None = None) -> None:
        """Publish what the rate held back, then block until every rewrite is durable."""
        self._catch_up()
        self._writer.flush(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Flush and stop the background writer."""
        try:
            self._catch_up()
        finally:
            self._writer.close(timeout)
