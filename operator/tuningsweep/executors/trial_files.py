"""What a local trial leaves behind, read back: its metrics file and its log.

The trainer writes the metrics file through :class:`tuningsweep.reporting.Reporter` (the
record format is :mod:`tuningsweep.core.contract`'s); its output goes to a log of which
the informative end becomes a failed trial's ``error``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from ..core.contract import MetricsLog, parse_metrics_log

ERROR_TAIL_LINES = 40
ERROR_TAIL_CHARS = 1500


def read_metrics_log(path: Path) -> MetricsLog:
    """What a trial's metrics file says so far (nothing when it does not exist)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return MetricsLog()
    return parse_metrics_log(text)


def read_final_metrics(path: Path) -> dict[str, float] | None:
    """The metrics of the last ``final`` record of a metrics file (None: none yet)."""
    return read_metrics_log(path).final


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
