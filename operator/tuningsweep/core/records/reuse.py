"""Reusing a trial an earlier run of a recurring sweep trained, instead of training it again.

Rolling windows overlap from one month to the next (three windows stepping one month
share two), so a recurring sweep's new run would mostly retrain (configuration, window)
pairs it already has. A trial is reused only when everything that determines its result
is the same:

* the window's dates (not its id: ``w0`` of July is ``w1`` of August);
* the data: a fingerprint of the window's partition listing (names, sizes, modification
  times or checksums), so a late-arriving or rewritten partition means retraining;
* the trainer: the command line or image, its arguments and environment, and the fixed
  settings every trial gets (architecture, mode and epoch cap, data URI, metrics);
* the configuration's parameters (as results.csv reads them back).

A reused row is the earlier row under the new run's trial id, with ``reused_from`` set
to the run that trained it (the original run, also when that row was itself reused), and
it counts in the statistics like any other. Only succeeded trials are reused: a failure
may be transient, and a trial early stopping ended was judged against other trials.
Pure: the fingerprints are computed at the edge (io/data_fingerprint.py) and passed in.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..spec.parse import DateWindow, Spec
from .results import ParamValue, ResultRow, format_value, parse_value


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:32]


def read_back(value: ParamValue) -> str:
    """A parameter value as results.csv writes it and reads it back (so keys match)."""
    return format_value(parse_value(format_value(value)))


def params_key(params: Mapping[str, ParamValue]) -> str:
    """A configuration's identity across runs (its parameters as results.csv has them)."""
    return json.dumps({k: read_back(v) for k, v in sorted(params.items())}, sort_keys=True)


def data_fingerprint(entries: Iterable[Sequence[object]]) -> str:
    """The fingerprint of a window's data: a digest of its listing entries.

    Args:
        entries: one ``(name, size, time or checksum)`` per data file of the window's
            days (any order).
    """
    return _digest(sorted([str(x) for x in e] for e in entries))


def trainer_identity(spec: Spec, runner: Sequence[str]) -> str:
    """A digest of what trains a trial besides its parameters and data.

    Args:
        runner: the command line run per trial (local), or ``[image, *command]``.
    """
    return _digest({
        "runner": list(runner), "args": list(spec.trainer.args),
        "env": [list(e) for e in spec.trainer.env], "architecture": spec.architecture,
        "mode": spec.mode, "max_epochs": spec.max_epochs, "data": spec.data,
        "metrics": list(spec.recorded_metrics),
    })


@dataclass(frozen=True)
class ReuseContext:
    """What a run's trials were trained with, recorded in its folder (``reuse.json``).

    Attributes:
        run: the run's id (its slot date).
        trainer: :func:`trainer_identity` of the run.
        data: the data fingerprint of each window, by window id.
        windows: the run's windows.
    """

    run: str
    trainer: str
    data: Mapping[str, str]
    windows: tuple[DateWindow, ...]

    def key(self, window_id: str, params: Mapping[str, ParamValue]) -> str | None:
        """The reuse key of a (window, configuration) of this run; None: window unknown."""
        window = next((w for w in self.windows if w.id == window_id), None)
        if window is None or window_id not in self.data:
            return None
        return _digest([window.start.isoformat(), window.end.isoformat(),
                        self.data[window_id], self.trainer, params_key(params)])

    def to_data(self) -> dict[str, object]:
        """The ``reuse.json`` document."""
        return {"run": self.run, "trainer": self.trainer, "data": dict(self.data),
                "windows": [{"id": w.id, "start": w.start.isoformat(),
                             "end": w.end.isoformat()} for w in self.windows]}

    @staticmethod
    def from_data(data: Mapping[str, object]) -> ReuseContext:
        """Read a ``reuse.json`` document back.

        Raises:
            ValueError, KeyError, TypeError: not such a document.
        """
        import datetime as dt

        windows = data["windows"]
        fingerprints = data["data"]
        if not isinstance(windows, list) or not isinstance(fingerprints, dict):
            raise ValueError("windows must be a list and data a mapping")
        return ReuseContext(
            run=str(data["run"]), trainer=str(data["trainer"]),
            data={str(k): str(v) for k, v in fingerprints.items()},
            windows=tuple(DateWindow(str(w["id"]), dt.date.fromisoformat(w["start"]),
                                     dt.date.fromisoformat(w["end"])) for w in windows))


class ReuseIndex:
    """The succeeded trials of earlier runs, by reuse key (the newest run wins)."""

    def __init__(self, earlier: Iterable[tuple[ReuseContext, Sequence[ResultRow]]]) -> None:
        """Index earlier runs, given as (context, rows) in any order."""
        self._by_key: dict[str, tuple[str, ResultRow]] = {}
        for context, rows in sorted(earlier, key=lambda e: e[0].run):
            for row in rows:
                if row.status != "succeeded":
                    continue
                key = context.key(row.window, row.params)
                if key is not None:
                    self._by_key[key] = (row.reused_from or context.run, row)

    def __len__(self) -> int:
        return len(self._by_key)

    def find(self, context: ReuseContext, sweep_key: str, trial_id: str, config: str,
             window: DateWindow, params: Mapping[str, ParamValue]) -> ResultRow | None:
        """The earlier row of this trial as a row of the new run, or None to train it."""
        key = context.key(window.id, params)
        found = self._by_key.get(key) if key is not None else None
        if found is None:
            return None
        run, row = found
        return dataclasses.replace(
            row, sweep=sweep_key, trial=trial_id, config=config, window=window.id,
            window_start=window.start.isoformat(), window_end=window.end.isoformat(),
            params=dict(params), reused_from=run)


@dataclass(frozen=True)
class ReuseCounts:
    """What reuse did in a run: trials trained and reused, and the time it saved."""

    trained: int
    reused: int
    gpu_seconds_saved: float  # the reused trials' GPU time when they were trained
    trial_seconds_saved: float  # their wall time (CPU-only trainers have no GPU time)


def reuse_counts(rows: Iterable[ResultRow]) -> ReuseCounts:
    """What reuse did in a run's rows."""
    trained = reused = 0
    gpu = wall = 0.0
    for row in rows:
        if row.reused_from:
            reused += 1
            gpu += row.gpu_seconds
            wall += row.duration_seconds
        else:
            trained += 1
    return ReuseCounts(trained, reused, gpu, wall)
