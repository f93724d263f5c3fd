"""What a local trial leaves behind, read back: its metrics file and its log.

The trainer writes the metrics file through :class:`tuningsweep.reporting.Reporter` (the
record format is :mod:`tuningsweep.core.records.contract`'s); its output goes to a log of which
the informative end becomes a failed trial's ``error``. With early stopping, the
metrics files' per-epoch records are the curves (:class:`TrialCurves`).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..core.records.contract import MetricsLog, parse_metrics_log
from ..core.records.results import ResultRow
from ..core.search.early_stopping import EpochCurves

ERROR_TAIL_LINES = 40
ERROR_TAIL_CHARS = 1500


def read_metrics_log(path: Path) -> MetricsLog:
    """What a trial's metrics file says so far (nothing when it does not exist)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return MetricsLog()
    return parse_metrics_log(text)


_ERROR_WORDS = re.compile(r"error|exception|traceback|killed|fatal", re.IGNORECASE)


def error_tail(log_file: Path) -> str:
    """The informative end of a trial's output, for the ``error`` column.

    The last line that mentions an error and what follows it; without one, the last
    few lines. Progress lines before the error would only bury it.
    """
    try:
        lines = log_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    tail = [line.strip() for line in lines[-ERROR_TAIL_LINES:] if line.strip()]
    marked = [i for i, line in enumerate(tail) if _ERROR_WORDS.search(line)]
    keep = tail[marked[-1]:][:3] if marked else tail[-3:]
    return " | ".join(keep)[-ERROR_TAIL_CHARS:]


def pdeathsig_prefix() -> list[str]:
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "SIGKILL", "--"] if setpriv else []


class TrialCurves:
    """The objective per epoch of a local sweep's trials, as early stopping reads them.

    A finished trial's metrics file is read once (:meth:`finished`; those of an earlier
    run at the first :meth:`now`) and kept in an :class:`EpochCurves`; each poll then
    reads only the running trials' files, whatever the number of rows.
    """

    def __init__(self, workdir: Path, metrics_file: str, metric: str, maximize: bool) -> None:
        self.workdir = workdir
        self.metrics_file = metrics_file
        self.metric = metric
        self._kept: EpochCurves | None = None
        self._maximize = maximize

    def _read(self, trial_id: str, log: MetricsLog | None = None) -> dict[int, float]:
        if log is None:
            log = read_metrics_log(self.workdir / trial_id / self.metrics_file)
        return {e: m[self.metric] for e, m in log.epochs.items() if self.metric in m}

    def finished(self, row: ResultRow, log: MetricsLog | None = None) -> None:
        """A trial has its row: keep its curve (it will not change any more), from
        ``log`` when the caller has just read its metrics file."""
        if self._kept is not None:
            self._kept.finish(row.trial, row.window, self._read(row.trial, log))

    def now(self, rows: Iterable[ResultRow], running: Mapping[str, str]) -> EpochCurves:
        """Every curve, the running trials' (trial -> window) read afresh; ``rows`` (the
        rows that count) are folded in at the first call only."""
        if self._kept is None:
            self._kept = EpochCurves(maximize=self._maximize)
            for row in rows:
                self.finished(row)
        self._kept.set_running({t: (w, self._read(t)) for t, w in running.items()})
        return self._kept
