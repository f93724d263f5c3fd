"""The sweep's durable record: results.csv, summary.csv, pinned windows, resolved spec.

Both executors keep a sweep's state here and nowhere else (no database). The folder is
``<results>/<namespace>/<name>/`` on a local disk or in GCS (:mod:`tuningsweep.core.layout`):

* ``results.csv``: one row per finished trial (:mod:`tuningsweep.core.results`);
* ``summary.csv``: one row per configuration (:mod:`tuningsweep.core.summary`);
* ``windows.json``: the windows resolved when the sweep first ran, never re-resolved,
  so a sweep resumed next month trains on the same data;
* ``resolved-spec.yaml``: the validated manifest with defaults, so a resume can refuse a
  results folder that belongs to a different search, and ``report`` knows the objective.

Rows are merged by trial id, and the CSVs are rewritten whole (atomically locally; one
upload per write on GCS, throttled to one write per object per 2 s), so a crash at any
point leaves the previous complete file and a restart neither loses nor duplicates rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, KeysView
from typing import Any

import yaml

from ..core import api, layout
from ..core.errors import InvalidSpec, SpecError
from ..core.layout import RESULTS_CSV, SPEC_YAML, SUMMARY_CSV, SWEEP_FILES, WINDOWS_JSON
from ..core.racing_summary import summarize_sweep
from ..core.results import ResultRow, ResultsFormatError, parse_csv, render_csv
from ..core.spec import DateWindow, Sweep
from ..core.summary import Summary, summary_csv
from ..core.windows import windows_from_data, windows_to_data
from .storage import StorageError, Store
from .throttled_writer import ThrottledWriter


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


class ResultsStore:
    """One sweep's results folder: read back on start, merged and rewritten as rows arrive.

    Args:
        store: the results location (local folder or GCS prefix).
        sweep: the sweep whose folder this is.
        min_interval: seconds between rewrites of one object (0 locally, 2 on GCS).
    """

    def __init__(self, store: Store, sweep: Sweep, min_interval: float,
                 owner: str | None = None) -> None:
        self.store = store
        self.sweep = sweep
        self.owner = owner
        self.folder = layout.sweep_folder(sweep.namespace, sweep.name)
        self._by_trial: dict[str, ResultRow] = {}
        self._sorted: list[ResultRow] | None = []
        self.windows: tuple[DateWindow, ...] = ()
        self.summary: Summary | None = None
        self._writer = ThrottledWriter(store, min_interval)

    @property
    def rows(self) -> list[ResultRow]:
        """Every row, sorted by trial id (read-only; use :meth:`add` to change them)."""
        if self._sorted is None:
            self._sorted = [self._by_trial[t] for t in sorted(self._by_trial)]
        return self._sorted

    @property
    def done_ids(self) -> KeysView[str]:
        """The trials that have a row (a live view: no copy per call)."""
        return self._by_trial.keys()

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
        self._by_trial = {r.trial: r for r in rows}
        self._sorted = None
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

    def check_same_sweep(self, ignore: tuple[str, ...] = ("output",)) -> None:
        """Refuse a folder holding results of a different search (same name, new spec).

        Raises:
            ResultsConflict: naming the fields that differ and the way out.
        """
        previous = self.previous_manifest()
        if previous is None:
            return
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
        self._by_trial, self._sorted = {}, []

    def add(self, rows: Iterable[ResultRow], publish: bool = True) -> None:
        """Merge ``rows`` (keyed by trial id) and, unless told not to, publish.

        The operator merges rows as it collects them and publishes once per flush, since
        GCS takes one write per object per 2 s anyway and rendering a large CSV on every
        collected trial would cost more than the collection itself.
        """
        for row in rows:
            self._by_trial[row.trial] = row
        self._sorted = None
        if publish:
            self.publish()

    def publish(self, rows: list[ResultRow] | None = None) -> None:
        """Render results.csv and summary.csv from ``rows`` (default: all) and queue them.

        Safe to call from a worker thread with a snapshot of :attr:`rows`.
        """
        rows = self.rows if rows is None else rows
        spec = self.sweep.spec
        self._writer.submit(self.path(RESULTS_CSV),
                            render_csv(rows, metric_names=spec.recorded_metrics))
        self.summary = summarize_sweep(self.sweep, rows, windows=self.windows)
        self._writer.submit(self.path(SUMMARY_CSV), summary_csv(self.summary))

    def flush(self, timeout: float | None = None) -> None:
        """Block until every queued rewrite is durable."""
        self._writer.flush(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Flush and stop the background writer."""
        self._writer.close(timeout)
