"""The three renderings of one report: exact JSON schema, table text, self-contained HTML."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from pathlib import Path

import pytest

from tuningsweep.core.stats.curves import normalize_history
from tuningsweep.core.stats.summary import summarize
from tuningsweep.core.stats.trends import compute_trends
from tuningsweep.reports.model import Report, build_report
from tuningsweep.reports.plots import trend_plot
from tuningsweep.reports.render_html import render_html
from tuningsweep.reports.render_json import render_json
from tuningsweep.reports.render_table import render_table

from .conftest import PARAMS, TABLE
from .synthetic import FAIL, history, rows_from_table

SCHEMA_TOP = {"objective", "best", "configs", "trends", "importance"}
EXTRA_TOP = {"windows", "runner_up", "counts", "importance_basis", "interactions", "curves",
             "verdict", "notes", "source", "significance", "failures", "time"}
SCHEMA_CONFIG = {"config", "params", "per_window", "mean", "std", "ranks", "windows_won",
                 "wins_all_windows", "complete", "p_value_vs_best"}
EXTRA_CONFIG = {"comparison", "n_failed", "windows_run", "status", "eliminated_at",
                "elimination_reason"}


@pytest.fixture
def report() -> Report:
    rows = rows_from_table(TABLE, PARAMS, model_root="/m")
    histories = {r.trial: normalize_history(history(r.metrics["val_mse"]))
                 for r in rows if r.status == "succeeded"}
    return build_report(rows, "val_mse", "minimize", source="results.csv", histories=histories)


def test_json_has_exactly_the_documented_keys(report: Report) -> None:
    data = json.loads(render_json(report))
    assert set(data) == SCHEMA_TOP | EXTRA_TOP
    assert data["objective"] == {"metric": "val_mse", "goal": "minimize"}
    assert data["best"] == "c0001"
    for config in data["configs"]:
        assert set(config) == SCHEMA_CONFIG | EXTRA_CONFIG
    assert set(data["trends"]) == set(data["importance"]) == {
        "learning_rate", "hidden_units", "optimizer"}
    for levels in data["trends"].values():
        for level in levels:
            assert {"value", "mean", "count"} <= set(level)


def test_json_values(report: Report) -> None:
    data = json.loads(render_json(report))
    by_id = {c["config"]: c for c in data["configs"]}
    best = by_id["c0001"]
    assert best["per_window"] == {"w0": 0.020, "w1": 0.022, "w2": 0.021}
    assert best["ranks"] == {"w0": 1, "w1": 1, "w2": 1}
    assert best["windows_won"] == 3 and best["wins_all_windows"] is True
    # c0004's erratic w0 (0.010, best of all, where the others predict 0.030) would raise
    # the sweep's noise ten-fold and hide every difference: it is flagged and left out.
    assert data["significance"]["outliers"] == [{
        "config": "c0004", "window": "w0", "value": 0.010,
        "expected": pytest.approx(0.03025), "studentized_residual": pytest.approx(-22.8, abs=0.1),
        "p_value": pytest.approx(3.9e-5, rel=0.01), "window_median_ratio": None}]
    assert data["significance"]["scale"] == "linear" and data["significance"]["warnings"] == []
    # c0001 wins every window but cannot be called better than c0005, which has only 2.
    assert best["complete"] is True and best["p_value_vs_best"] == 1.0
    assert best["comparison"]["against"] == "c0005" and best["comparison"]["low_power"]
    runner_up = by_id["c0002"]["comparison"]
    assert runner_up["adjusted"] is True and runner_up["p_value"] == by_id["c0002"]["p_value_vs_best"]
    assert runner_up["p_value"] == min(1.0, runner_up["p_value_unadjusted"] * 10)
    low, high = runner_up["mean_difference_ci95"]
    assert 0 < low < runner_up["mean_difference"] < high and runner_up["windows"] == 3
    assert runner_up["significant"] is True and runner_up["p_value"] < 0.05
    assert by_id["c0004"]["comparison"]["windows"] == 1  # w1 failed, w0 left out
    assert data["significance"]["hypotheses"] == 10 and data["significance"]["alpha"] == 0.05
    assert by_id["c0004"]["windows_run"] == 3 and by_id["c0004"]["status"] == "alive"
    assert by_id["c0004"]["complete"] is False and by_id["c0004"]["std"] == pytest.approx(0.01414, abs=1e-5)
    assert by_id["c0005"]["ranks"] == {"w0": 2, "w1": 2}
    assert [c["config"] for c in data["configs"]][:3] == ["c0001", "c0002", "c0003"]
    trend = {lv["value"]: lv for lv in data["trends"]["optimizer"]}
    # Every configuration with a result, incomplete ones by means adjusted for their windows.
    assert trend["adam"]["count"] == 3 and trend["sgd"]["count"] == 2
    assert data["importance_basis"] == "adjusted"
    assert 0.0 <= data["importance"]["learning_rate"] <= 1.0
    assert data["curves"]["metric"] == "val_mse" and data["curves"]["converged_epoch"] >= 1
    assert data["counts"] == {"trials": 14, "failed": 1, "stopped": 0, "missing_objective": 0, "configs": 5,
                              "complete": 3, "alive": 5}


def test_json_has_no_nan(report: Report) -> None:
    text = render_json(report)
    assert "NaN" not in text and "Infinity" not in text


def _table(report: Report, top: int = 20) -> str:
    out = io.StringIO()
    render_table(report, out, top=top, color=False)
    return out.getvalue()


def test_table_shows_leaderboard_and_plain_verdict(report: Report) -> None:
    text = _table(report)
    assert "Leaderboard: val_mse (minimize)" in text
    assert "c0001 wins every window (3/3)" in text
    assert "It is not significantly better than c0005 at the 5% level" in text
    assert "3 of 4 other configurations are significantly worse than it" in " ".join(text.split())
    assert ("1 trial diverged or broke: c0004 on w0 (val_mse 0.01, where the others predict "
            "0.03025). It is left out of the noise estimate") in " ".join(text.split())
    assert "Δ vs best" in text
    assert "c0004 (incomplete)" in text and "failed" in text
    assert "2 configurations are incomplete" in text
    assert "1 trial failed" in text
    assert "Learning curve: median val_mse" in text and "converged" in text
    assert "Interaction" in text


def test_table_top_limits_rows(report: Report) -> None:
    text = _table(report, top=2)
    assert "c0003" not in text.split("Verdict")[0].split("Parameters of")[0]
    assert "3 more configurations" in text


def test_verdict_for_an_outlier_best_mean() -> None:
    rows = rows_from_table({"c01": [1.0, 1.0, 1.0], "c02": [1.1, 1.1, 0.5]})
    text = _table(build_report(rows, "val_mse", "minimize"))
    assert "c02 has the best mean val_mse" in text and "wins 1 of 3 windows" in text
    assert "c01 wins the most windows (2/3)" in text
    assert "No learning curves" in text


def test_verdict_with_enough_windows() -> None:
    rows = rows_from_table({"c01": [1.0 + w for w in range(7)], "c02": [1.5 + w for w in range(7)]})
    text = _table(build_report(rows, "val_mse", "minimize"))
    assert "It is significantly better than every other configuration" in text


def test_eliminated_configurations_are_shown_everywhere() -> None:
    rows = rows_from_table({"c01": [1.0, 1.1, 1.2], "c02": [1.5, 1.7, 1.6], "c03": [2.0]})
    report = build_report(rows, "val_mse", "minimize")
    summary = summarize(rows, "val_mse", "minimize", eliminated={"c03": ("w0", "behind")})
    report = dataclasses.replace(report, summary=summary)
    assert "c03 (eliminated at w0)" in _table(report)
    assert "(1 window)" in _table(report)  # one common window: no interval, said so
    assert "2 of 3 configurations are alive; racing eliminated 1" in _table(report)
    c03 = {c["config"]: c for c in json.loads(render_json(report))["configs"]}["c03"]
    assert (c03["status"], c03["eliminated_at"], c03["elimination_reason"]) == (
        "eliminated", "w0", "behind")
    assert c03["comparison"]["p_value"] is not None  # one window, still tested
    assert "eliminated at w0" in render_html(report)
    assert "1 window: no interval" in render_html(report)


def test_verdict_when_nothing_is_complete() -> None:
    rows = rows_from_table({"c01": [1.0, None], "c02": [None, 2.0]})
    text = _table(build_report(rows, "val_mse", "minimize"))
    assert "no winner can be declared" in text


def test_html_is_self_contained(report: Report) -> None:
    page = render_html(report)
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", page, re.I)
    assert not re.search(r"https?://", page)
    assert "<script" not in page and "<link" not in page and "@import" not in page


def test_html_contains_every_plot(report: Report) -> None:
    page = render_html(report)
    for element_id in ("leaderboard-table", "window-heatmap", "importance", "parallel-coordinates",
                       "learning-curves", "interaction", "trend-learning_rate",
                       "trend-hidden_units", "trend-optimizer"):
        assert f'id="{element_id}"' in page, element_id
    heatmap = re.search(r'<svg id="window-heatmap".*?</svg>', page, re.S)
    assert heatmap is not None
    # 15 trials: 1 failed and 1 not run leave 13 values; the 2 holes are marked missing.
    assert heatmap.group(0).count('class="heat-cell"') == 13
    assert heatmap.group(0).count('class="heat-missing"') == 2
    assert page.count('class="pc-line') == 5  # every configuration with a result, as the trends


def test_html_escapes_user_text() -> None:
    rows = rows_from_table({"c01": [1.0]}, {"c01": {"<b>": "<script>alert(1)</script>"}})
    page = render_html(build_report(rows, "val_mse", "minimize"))
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_summary_with_no_rows_renders_everywhere(tmp_path: Path) -> None:
    empty = build_report([], "val_mse", "minimize")
    assert json.loads(render_json(empty))["configs"] == []
    assert "No trials have finished yet." in _table(empty)
    assert "No trials have finished yet." in render_html(empty)


def test_tied_winners_are_named_together() -> None:
    # Three configurations each win one window: naming one of them would be arbitrary.
    rows = rows_from_table({"c01": [1.0, 3.0, 3.0], "c02": [3.0, 1.0, 3.0],
                            "c03": [3.0, 3.0, 1.05]})
    report = build_report(rows, "val_mse", "minimize")
    text = " ".join(json.loads(render_json(report))["verdict"])
    assert ("c01, c02 and c03 tie for the most windows won (1 of 3 each): no configuration "
            "wins consistently.") in text
    assert "wins the most windows" not in text


def test_tied_means_are_named_together() -> None:
    rows = rows_from_table({"c01": [1.0, 2.0, 3.0], "c02": [2.0, 1.0, 3.0], "c03": [4.0, 4.0, 4.0]})
    text = " ".join(json.loads(render_json(build_report(rows, "val_mse", "minimize")))["verdict"])
    best = "c01" if "c02 has the same mean" in text else "c02"
    other = "c02" if best == "c01" else "c01"
    assert f"{other} has the same mean val_mse as {best}: they tie" in text


def test_failure_reasons_in_table_json_and_html() -> None:
    rows = rows_from_table({"c01": [1.0, 1.1, FAIL], "c02": [1.5, FAIL, 1.6]})
    rows = [dataclasses.replace(r, error=f"trainer exit status 2: bad cell in {r.trial}")
            if r.status == "failed" else r for r in rows]
    report = build_report(rows, "val_mse", "minimize")
    as_json = json.loads(render_json(report))
    assert as_json["failures"] == [
        {"trial": "c01-w2", "config": "c01", "window": "w2",
         "error": "trainer exit status 2: bad cell in c01-w2"},
        {"trial": "c02-w1", "config": "c02", "window": "w1",
         "error": "trainer exit status 2: bad cell in c02-w1"}]
    assert ("2 trials failed and are excluded from the statistics: c01-w2: trainer exit "
            "status 2: bad cell in c01-w2; c02-w1: trainer exit status 2: bad cell in c02-w1."
            ) in as_json["verdict"]
    table = _table(report)
    assert "Failed trials (2)" in table and "bad cell in c02-w1" in table
    page = render_html(report)
    failures = re.search(r'<table class="leaderboard" id="failures-table">.*?</table>', page, re.S)
    assert failures is not None and failures.group(0).count("<tr>") == 3
    assert "bad cell in c01-w2" in failures.group(0)
    # ...and on hover over the failed cell of the window heatmap.
    assert "<title>c02 w1: failed: trainer exit status 2: bad cell in c02-w1</title>" in page


def test_every_trial_failed_shows_the_errors_not_only_no_result() -> None:
    rows = rows_from_table({"c01": [FAIL, FAIL], "c02": [FAIL, FAIL]})
    rows = [dataclasses.replace(r, error="tuningsweep-trainer: error: no data for window")
            for r in rows]
    report = build_report(rows, "val_mse", "minimize")
    lines = json.loads(render_json(report))["verdict"]
    assert lines[0] == ("All 4 trials failed, so there is no result to compare: c01-w0: "
                        "tuningsweep-trainer: error: no data for window; c01-w1: "
                        "tuningsweep-trainer: error: no data for window; c02-w0: "
                        "tuningsweep-trainer: error: no data for window; and 1 more.")
    assert not any("No configuration has a result" in line for line in lines)
    page = render_html(report)
    assert page.count("no data for window") >= 4 and 'id="failures-table"' in page


def test_axis_ticks_are_distinct_on_a_narrow_range() -> None:
    # Issue 14: means of about 2180 drew "2.18e+03" three times on one axis.
    trends = compute_trends([({"lr": 0.1}, 2180.1), ({"lr": 0.2}, 2180.4),
                             ({"lr": 0.3}, 2181.0)], "minimize")
    plot = trend_plot(trends.parameters[0], "val_mse")
    ticks = re.findall(r'<g id="ytick_\d+">.*?<text[^>]*>([^<]*)</text>', plot, re.S)
    assert len(ticks) >= 3 and len(set(ticks)) == len(ticks), ticks
    assert all("e+" not in t for t in ticks), ticks
    assert plot.startswith('<svg id="trend-lr" class="plot trend-plot"')
    assert ("<title>lr=0.1: median val_mse 2180.1, mean 2180.1 over 1 configurations</title>"
            in plot)


def test_where_the_time_went_is_shown_when_trainers_reported_it(report: Report) -> None:
    rows = [dataclasses.replace(r, duration_seconds=10.0, startup_seconds=1.0,
                                data_seconds=0.5, train_seconds=7.5)
            for r in rows_from_table(TABLE, PARAMS, model_root="/m")]
    timed = build_report(rows, "val_mse", "minimize", source="results.csv")
    time = json.loads(render_json(timed))["time"]
    assert time["overhead_share"] == 0.25 and time["trials"] == timed.summary.n_trials - (
        timed.summary.n_failed)
    out = io.StringIO()
    render_table(timed, out, color=False)
    assert "time: overhead share 0.25 (of " in out.getvalue()
    assert "overhead share 0.25" in render_html(timed)
    # Trainers that do not say: nothing to show, and JSON says null.
    assert json.loads(render_json(report))["time"]["overhead_share"] is None
    plain = io.StringIO()
    render_table(report, plain, color=False)
    assert "overhead share" not in plain.getvalue()
