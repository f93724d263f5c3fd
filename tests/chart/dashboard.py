"""The chart's Grafana dashboard as data: its panels, their PromQL, runnable outside Grafana."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.chart.render import CHART

DASHBOARD_PATH = CHART / "dashboards" / "tuningsweep.json"

# Grafana's variables, as a query that selects everything would see them.
_SUBSTITUTIONS = {"$__rate_interval": "1m", "$namespace": ".*", "$sweep": ".*"}


@dataclass(frozen=True)
class Query:
    """One PromQL target of one panel."""

    panel: str
    expr: str

    def runnable(self) -> str:
        """The expression with Grafana's variables replaced (all namespaces and sweeps)."""
        expr = self.expr
        for variable, value in _SUBSTITUTIONS.items():
            expr = expr.replace(variable, value)
        return expr


def load() -> dict[str, Any]:
    """The dashboard JSON."""
    dashboard: dict[str, Any] = json.loads(DASHBOARD_PATH.read_text())
    return dashboard


def panels(dashboard: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every non-row panel, rows' nested panels included."""
    found = []
    for panel in (dashboard or load())["panels"]:
        if panel["type"] == "row":
            found += panel.get("panels", [])
        else:
            found.append(panel)
    return found


def queries(dashboard: dict[str, Any] | None = None) -> list[Query]:
    """Every panel target's expression."""
    return [Query(p["title"], t["expr"]) for p in panels(dashboard) for t in p["targets"]]
