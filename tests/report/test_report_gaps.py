"""Report defects of issue 22 (part 4): what a window never run, a one-epoch curve and
a baseline look like in each rendering."""

from __future__ import annotations

import io

from tuningsweep.reports.model import Report, build_report
from tuningsweep.reports.render_table import render_table

from .synthetic import FAIL, rows_from_table


def _table(report: Report) -> str:
    out = io.StringIO()
    render_table(report, out, color=False)
    return out.getvalue()


def test_the_terminal_shows_a_dash_for_windows_never_run_and_failed_for_failures() -> None:
    # c02 failed on w1 and never ran w2 (racing, or not run yet): only w1 is "failed".
    rows = rows_from_table({"c01": [1.0, 1.1, 1.2], "c02": [1.5, FAIL, None]})
    text = _table(build_report(rows, "val_mse", "minimize"))
    line = next(ln for ln in text.splitlines() if "c02" in ln and "incomplete" in ln)
    after = line.split("(incomplete)", 1)[1].split()
    assert after[:4] == ["1.5", "#2", "failed", "\u2013"], line
