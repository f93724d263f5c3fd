"""Operator settings, from command-line flags or the environment (the chart sets env)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

ENV_PREFIX = "TUNINGSWEEP_OPERATOR_"


def _env(name: str, default: str) -> str:
    return os.environ.get(ENV_PREFIX + name, default)


@dataclass
class OperatorSettings:
    """Everything the operator needs besides the cluster's credentials.

    Attributes:
        namespaces: namespaces to watch; empty with ``all_namespaces`` = cluster-wide.
        prometheus_url: where the operator queries trial metrics.
        pushgateway_url: the Pushgateway URL passed to trainers (in-cluster address).
        pushgateway_admin_url: where the operator deletes collected groups (default: the
            same URL).
        results_default: results prefix for sweeps without ``spec.output.results``.
        api_rate_limit / api_burst: client-side token bucket for API writes (kopf has none).
        status_interval: minimum seconds between status patches of one sweep.
        tick_interval: longest wait between two reconciles of a sweep (events wake it
            earlier).
        collect_timeout: how long a finished trial may wait for its final metrics to
            appear in Prometheus before it is recorded as failed.
        metrics_port: port of the operator's own /metrics (0 = off).
    """

    namespaces: list[str] = field(default_factory=list)
    all_namespaces: bool = False
    prometheus_url: str = "http://prometheus-operated.monitoring:9090"
    pushgateway_url: str = "http://tuningsweep-pushgateway:9091"
    pushgateway_admin_url: str | None = None
    results_default: str | None = None
    api_rate_limit: float = 20.0
    api_burst: int = 30
    status_interval: float = 5.0
    tick_interval: float = 2.0
    collect_timeout: float = 120.0
    metrics_port: int = 8000

    @property
    def pushgateway_for_operator(self) -> str:
        """The Pushgateway URL the operator itself talks to."""
        return self.pushgateway_admin_url or self.pushgateway_url

    @classmethod
    def from_env(cls) -> OperatorSettings:
        """Settings from ``TUNINGSWEEP_OPERATOR_*`` variables, defaults otherwise."""
        namespaces = [n for n in _env("NAMESPACES", "").replace(",", " ").split() if n]
        return cls(
            namespaces=namespaces,
            all_namespaces=not namespaces,
            prometheus_url=_env("PROMETHEUS_URL", cls.prometheus_url),
            pushgateway_url=_env("PUSHGATEWAY_URL", cls.pushgateway_url),
            pushgateway_admin_url=_env("PUSHGATEWAY_ADMIN_URL", "") or None,
            results_default=_env("RESULTS_DEFAULT", "") or None,
            api_rate_limit=float(_env("API_RATE_LIMIT", str(cls.api_rate_limit))),
            api_burst=int(_env("API_BURST", str(cls.api_burst))),
            status_interval=float(_env("STATUS_INTERVAL", str(cls.status_interval))),
            tick_interval=float(_env("TICK_INTERVAL", str(cls.tick_interval))),
            collect_timeout=float(_env("COLLECT_TIMEOUT", str(cls.collect_timeout))),
            metrics_port=int(_env("METRICS_PORT", str(cls.metrics_port))),
        )


# The settings of the running operator; set once by the CLI before kopf starts.
current = OperatorSettings()
