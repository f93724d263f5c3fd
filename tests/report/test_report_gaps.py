"""Report defects of issue 22 (part 4): what a window never run, a one-epoch curve and
a baseline look like in each rendering."""

from __future__ import annotations

import io
import re

from tuningsweep.core.curves import normalize_history
from tuningsweep.reports.model import Report, build_report
from tuningsweep.reports.render_html import render_html
from tuningsweep.reports.render_table import render_table

from .synthetic import FAIL, history, rows_from_table


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


def test_learning_curves_of_one_epoch_get_one_integer_tick() -> None:
    rows = rows_from_table({"c01": [1.0, 1.1], "c02": [1.5, 1.4]}, model_root="/m")
    histories = {r.trial: normalize_history(history(r.metrics["val_mse"], epochs=1))
                 for r in rows}
    page = render_html(build_report(rows, "val_mse", "minimize", histories=histories))
    plot = re.search(r'<svg id="learning-curves".*?</svg>', page, re.S)
    assert plot is not None
    ticks = re.findall(r'<g id="xtick_\d+">.*?<text[^>]*>([^<]*)</text>', plot.group(0), re.S)
    assert ticks and set(ticks) == {"1"}, ticks  # one panel per window, each tick "1"
