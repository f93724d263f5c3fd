"""Report defects of issue 22 (part 4): what a window never run, a one-epoch curve and
a baseline look like in each rendering."""

from __future__ import annotations

import dataclasses
import io
import json
import re

import pytest

from tuningsweep.core.stats.curves import normalize_history
from tuningsweep.reports.model import Report, build_report
from tuningsweep.reports.render_html import render_html
from tuningsweep.reports.render_json import render_json
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


def _with_baseline(table: dict[str, list[float]], baselines: list[float]) -> Report:
    rows = rows_from_table(table)
    rows = [dataclasses.replace(r, metrics={**r.metrics,
                                            "baseline_val_mse": baselines[int(r.window[1:])]})
            for r in rows]
    return build_report(rows, "val_mse", "minimize")


def test_every_rendering_shows_the_distance_from_the_baseline() -> None:
    # The baseline grows with each window's difficulty; c01 halves it, c02 is 10% worse.
    report = _with_baseline({"c01": [1.0, 1.5, 2.0], "c02": [2.2, 3.3, 4.4]},
                            [2.0, 3.0, 4.0])
    text = _table(report)
    assert "vs baseline" in text
    assert re.search(r"c01 .*\+50% 3/3", text) and re.search(r"c02 .*-10% 0/3", text)
    sentence = ("c01 is 50% better than the naive baseline (baseline_val_mse, reported by "
                "the trainer: for the reference trainer, predicting the training mean) on "
                "average, and better in all 3 windows; 1 of 2 configurations beat it in "
                "every window.")
    assert sentence in " ".join(text.split())
    data = json.loads(render_json(report))
    assert data["baseline"] == {
        "metric": "baseline_val_mse", "per_window": {"w0": 2.0, "w1": 3.0, "w2": 4.0},
        "configs": {"c01": {"improvement": 0.5, "beaten": 3, "windows": 3},
                    "c02": {"improvement": pytest.approx(-0.1), "beaten": 0, "windows": 3}}}
    assert sentence in data["verdict"]
    page = render_html(report)
    assert "vs baseline (+ better)</th>" in page
    assert "<td>+50% 3/3</td>" in page and '<td class="worse">-10% 0/3</td>' in page
    # Without a baseline nothing changes: no column, no key.
    plain = build_report(rows_from_table({"c01": [1.0, 1.5]}), "val_mse", "minimize")
    assert "baseline" not in json.loads(render_json(plain)) and "baseline" not in _table(plain)


def test_a_best_no_better_than_doing_nothing_is_a_warning() -> None:
    report = _with_baseline({"c01": [2.1, 2.9, 4.2], "c02": [2.5, 3.5, 4.5]},
                            [2.0, 3.0, 4.0])
    assert report.summary.best == "c01"
    lines = json.loads(render_json(report))["verdict"]
    assert any(line.startswith("Warning: the best, c01, is no better than the naive "
                               "baseline (baseline_val_mse") and
               "better in 1 of 3 windows; 0 of 2 configurations beat it" in line
               for line in lines), lines


def test_the_verdict_names_each_failure_by_its_whole_first_line() -> None:
    error = ("bad input: trainer exit status 2: tuningsweep-trainer: error: /home/user/"
             "projects/weather/data/date=2015-01-01/part-0.csv: line 2, column 'weather' "
             "(--numeric): 'sun' is not a number (give it to --categorical instead)")
    rows = [dataclasses.replace(r, error=f"{error} | later output") if r.status == "failed"
            else r for r in rows_from_table({"c01": [1.0, 1.1], "c02": [1.5, FAIL]})]
    lines = json.loads(render_json(build_report(rows, "val_mse", "minimize")))["verdict"]
    assert any(f"c02-w1: {error}." in line for line in lines), lines
