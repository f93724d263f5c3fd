"""The chart's Grafana dashboard as data: its panels, their PromQL, runnable outside Grafana."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.chart.render import CHART

DASHBOARD_PATH = CHART / "dashboards" / "tuningsweep.json"

# Grafana's variables other than the namespace and sweep a viewer picks.
_SUBSTITUTIONS = {"$__rate_interval": "1m"}


@dataclass(frozen=True)
class Query:
    """One PromQL target of one panel."""

    panel: str
    expr: str

    def runnable(self, namespace: str = ".*", sweep: str = ".*") -> str:
        """The expression with Grafana's variables replaced: by default all namespaces and
        sweeps, or the ``namespace`` and ``sweep`` regular expressions a viewer picks."""
        expr = self.expr
        for variable, value in {**_SUBSTITUTIONS, "$namespace": namespace,
                                "$sweep": sweep}.items():
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
