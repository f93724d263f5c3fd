"""The Grafana dashboard: the panels the platform team needs, built on the operator's real
series. Static checks run from the JSON; the live ones use the series Prometheus scraped
from the operator during a chart-configured run on a real API server
(tests/chart/operator_run.py).
"""

from __future__ import annotations

import re

import pytest
from prometheus_client import REGISTRY

from tests.chart import dashboard
from tests.chart.operator_run import OperatorRun
from tuningsweep.controller import metrics

REQUIRED_PANELS = ("Sweeps by phase", "Trials by phase", "Progress per sweep",
                   "Best objective per sweep", "Trial durations", "Collection lag",
                   "API errors")
# Panels with one series per sweep of the run.
PER_SWEEP_PANELS = ("Progress per sweep", "Best objective per sweep")
# Panels that show only failures: empty in a run without any.
FAILURES_ONLY_PANELS = ("API errors",)


def _operator_sample_names() -> set[str]:
    """Every sample name the operator's metrics module can export."""
    assert metrics.SWEEPS is not None  # the module registers its metrics on import
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
                "gauge": ("",)}
    return {family.name + suffix for family in REGISTRY.collect()
            if family.name.startswith("tuningsweep_operator_")
            for suffix in suffixes.get(family.type, ("",))}


def test_dashboard_has_the_required_panels_each_described() -> None:
    titles = [p["title"] for p in dashboard.panels()]
    assert set(REQUIRED_PANELS) <= set(titles), titles
    assert all(p.get("description") for p in dashboard.panels())
    assert len(titles) == len(set(titles))


def test_dashboard_is_importable_grafana_json() -> None:
    data = dashboard.load()
    assert data["uid"] and data["title"] and data["schemaVersion"] >= 36
    variables = {v["name"]: v for v in data["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert {"namespace", "sweep"} <= set(variables)
    ids = [p["id"] for p in data["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard.panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_panels_do_not_overlap() -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard.load()["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_queries_use_only_the_operators_metrics() -> None:
    known = _operator_sample_names()
    for query in dashboard.queries():
        names = set(re.findall(r"\btuningsweep_[a-z_]+", query.expr))
        assert names and names <= known, f"{query.panel}: unknown {names - known}"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_every_query_returns_the_runs_series(operator_run: OperatorRun) -> None:
    sweeps = len(operator_run.final_status)
    for query in dashboard.queries():
        series = operator_run.dashboard_series[query.expr]
        if query.panel in FAILURES_ONLY_PANELS:
            continue
        assert series >= 1, f"{query.panel}: no data for {query.runnable()}"
        if query.panel in PER_SWEEP_PANELS:
            assert series == sweeps, f"{query.panel}: {series} series for {sweeps} sweeps"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_failure_panels_read_labels_the_operator_exports(operator_run: OperatorRun) -> None:
    """A panel that is empty in a good run still has to match the operator's labels."""
    page = operator_run.metrics_text
    assert re.search(r'^tuningsweep_operator_api_calls_total\{[^}]*result="ok"', page, re.M)
    for label in ("verb", "resource"):
        assert re.search(rf'^tuningsweep_operator_api_calls_total\{{[^}}]*{label}="', page,
                         re.M)
