"""Result rows and the results CSV: one row per trial, the only state a sweep keeps.

The CSV is the durable record both executors write and every reader (``report``, a
restarted runner, the operator after a crash) reads back, so its format is defined once
here as pure functions between rows and text. Columns are fixed first (identity, window,
status, timing), then one ``param.<name>`` column per hyperparameter and one
``metric.<name>`` column per recorded metric, then where the model went and why a trial
failed. Rows are keyed by trial id: merging re-read rows with new ones never duplicates a
trial, which is what makes restarts safe.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

ParamValue = float | int | str
TrialStatus = Literal["succeeded", "failed", "stopped"]
STATUSES: tuple[TrialStatus, ...] = ("succeeded", "failed", "stopped")

#: Where a trial's time went, as its trainer reported it (empty when it did not):
#: starting (process, imports), reading and preparing data, training.
TIME_SPLIT_COLUMNS: tuple[str, ...] = ("startup_seconds", "data_seconds", "train_seconds")
IDENTITY_COLUMNS: tuple[str, ...] = (
    "sweep", "trial", "config", "window", "window_start", "window_end", "status",
    "started_at", "finished_at", "duration_seconds", "gpu_seconds", *TIME_SPLIT_COLUMNS,
)
TRAILING_COLUMNS: tuple[str, ...] = ("model_uri", "job", "error", "reused_from")
PARAM_PREFIX = "param."
METRIC_PREFIX = "metric."


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One finished trial (a configuration trained on one window)."""

    sweep: str
    trial: str
    config: str
    window: str
    window_start: str
    window_end: str
    status: TrialStatus
    params: Mapping[str, ParamValue] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    started_at: str = ""
    finished_at: str = ""
    duration_seconds: float = 0.0
    gpu_seconds: float = 0.0
    startup_seconds: float = math.nan  # NaN (an empty cell): not reported
    data_seconds: float = math.nan
    train_seconds: float = math.nan
    model_uri: str = ""
    job: str = ""
    error: str = ""
    # A recurring sweep's run: the earlier run that trained this trial (core/records/reuse.py);
    # empty for a trial this run trained.
    reused_from: str = ""


def result_columns(param_names: Iterable[str], metric_names: Iterable[str]) -> list[str]:
    """Return the CSV header for the given parameter and metric names, in order."""
    return [
        *IDENTITY_COLUMNS,
        *(PARAM_PREFIX + p for p in param_names),
        *(METRIC_PREFIX + m for m in metric_names),
        *TRAILING_COLUMNS,
    ]


def _format_number(value: float) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return ""
    # repr keeps full precision and a trailing ".0", so 1.0 reads back as a float.
    return repr(float(value))


def _text(value: str) -> str:
    # A lone carriage return is not quoted by the csv module (our line terminator is
    # "\n") and would be lost on reading; newlines inside quoted cells survive.
    return value.replace("\r\n", "\n").replace("\r", "\n")


def format_value(value: ParamValue) -> str:
    """A parameter value as results.csv writes it (what :func:`parse_value` reads)."""
    if isinstance(value, str):
        return _text(value)
    return _format_number(value)


def parse_value(text: str) -> ParamValue:
    """Read a parameter value back from its CSV text: int, then float, else string."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _row_cells(r: ResultRow, param_names: Sequence[str],
               metric_names: Sequence[str]) -> list[str]:
    return [
        r.sweep, r.trial, r.config, r.window, r.window_start, r.window_end, r.status,
        r.started_at, r.finished_at, _format_number(r.duration_seconds),
        _format_number(r.gpu_seconds), _format_number(r.startup_seconds),
        _format_number(r.data_seconds), _format_number(r.train_seconds),
        *(format_value(r.params[p]) if p in r.params else "" for p in param_names),
        *(_format_number(r.metrics[m]) if m in r.metrics else "" for m in metric_names),
        r.model_uri, r.job, _text(r.error), r.reused_from,
    ]


class _LastLine:
    """A file-like sink that keeps the one line ``csv.writer.writerow`` wrote."""

    text = ""

    def write(self, text: str) -> int:
        self.text = text
        return len(text)


class CsvLines:
    """Rows rendered as CSV lines, kept while the columns stay the same.

    Publishing results.csv rewrites the whole file (GCS objects cannot be appended to);
    with the lines kept, that costs a join per flush instead of formatting every row
    again, so an operator's flush at 10,000 rows costs little more than at 1,000.
    A row is rendered again only when it is replaced (a new object for its trial).
    Safe to use from one thread at a time per instance.
    """

    def __init__(self) -> None:
        self._columns: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
        self._lines: dict[str, tuple[ResultRow, str]] = {}
        self._sink = _LastLine()
        self._writer = csv.writer(self._sink, lineterminator="\n")

    def render(self, ordered: Iterable[ResultRow], param_names: Sequence[str],
               metric_names: Sequence[str]) -> str:
        """The CSV text of ``ordered`` (already sorted by trial id), header first."""
        columns = (tuple(param_names), tuple(metric_names))
        if columns != self._columns:
            self._columns, self._lines = columns, {}
        lines, sink, writer = self._lines, self._sink, self._writer
        writer.writerow(result_columns(param_names, metric_names))
        out = [sink.text]
        for r in ordered:
            kept = lines.get(r.trial)
            if kept is None or kept[0] is not r:
                writer.writerow(_row_cells(r, param_names, metric_names))
                kept = lines[r.trial] = (r, sink.text)
            out.append(kept[1])
        return "".join(out)


def render_csv(
    rows: Iterable[ResultRow],
    param_names: Sequence[str] | None = None,
    metric_names: Sequence[str] | None = None,
) -> str:
    """Render rows as CSV text, sorted by trial id.

    Parameter and metric columns default to the union over the rows (sorted), so a row
    missing a metric (a failed trial) leaves that cell empty rather than shifting columns.
    """
    ordered = sorted(rows, key=lambda r: r.trial)
    if param_names is None:
        param_names = sorted({p for r in ordered for p in r.params})
    if metric_names is None:
        metric_names = sorted({m for r in ordered for m in r.metrics})
    return CsvLines().render(ordered, param_names, metric_names)


class ResultsFormatError(ValueError):
    """The text is not a results CSV this version can read."""


def _float_or_zero(text: str) -> float:
    return float(text) if text else 0.0


def _float_or_nan(text: str) -> float:
    return float(text) if text else math.nan


def parse_csv(text: str) -> list[ResultRow]:
    """Parse results CSV text (as written by :func:`render_csv`) back into rows.

    Raises:
        ResultsFormatError: a required column is missing or a number does not parse.
    """
    # csv.reader with column indexes rather than DictReader: reports read CSVs of
    # 100,000 rows, and building a dict per line doubled the parse time.
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    missing = [c for c in ("trial", "config", "status") if c not in header]
    if missing:
        raise ResultsFormatError(f"not a results CSV: missing column(s) {', '.join(missing)}")
    index = {name: i for i, name in enumerate(header)}
    params = [(c[len(PARAM_PREFIX):], i) for c, i in index.items() if c.startswith(PARAM_PREFIX)]
    metrics = [(c[len(METRIC_PREFIX):], i) for c, i in index.items()
               if c.startswith(METRIC_PREFIX)]
    plain = {c: index.get(c) for c in (*IDENTITY_COLUMNS, *TRAILING_COLUMNS)}
    width = len(header)
    rows: list[ResultRow] = []
    for line_no, cells in enumerate(reader, start=2):
        if not cells:
            continue
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))

        def get(name: str, cells: list[str] = cells) -> str:
            i = plain[name]
            return cells[i] if i is not None else ""

        try:
            status = get("status")
            if status not in STATUSES:
                raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
            rows.append(ResultRow(
                sweep=get("sweep"), trial=get("trial"), config=get("config"),
                window=get("window"), window_start=get("window_start"),
                window_end=get("window_end"),
                status=STATUSES[STATUSES.index(status)],  # type: ignore[arg-type]
                params={name: parse_value(cells[i]) for name, i in params if cells[i] != ""},
                metrics={name: float(cells[i]) for name, i in metrics if cells[i] != ""},
                started_at=get("started_at"), finished_at=get("finished_at"),
                duration_seconds=_float_or_zero(get("duration_seconds")),
                gpu_seconds=_float_or_zero(get("gpu_seconds")),
                startup_seconds=_float_or_nan(get("startup_seconds")),
                data_seconds=_float_or_nan(get("data_seconds")),
                train_seconds=_float_or_nan(get("train_seconds")),
                model_uri=get("model_uri"), job=get("job"), error=get("error"),
                reused_from=get("reused_from"),
            ))
        except (ValueError, TypeError) as exc:
            raise ResultsFormatError(f"results CSV line {line_no}: {exc}") from exc
    return rows


def merge_rows(existing: Iterable[ResultRow], new: Iterable[ResultRow]) -> list[ResultRow]:
    """Merge rows keyed by trial id; a new row for a known trial replaces the old one.

    The result is sorted by trial id, so merging is idempotent and order-independent for
    distinct trials: re-adding rows after a restart cannot duplicate them.
    """
    by_trial = {r.trial: r for r in existing}
    for r in new:
        by_trial[r.trial] = r
    return [by_trial[t] for t in sorted(by_trial)]
