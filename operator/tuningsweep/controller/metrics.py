"""The operator's own metrics on /metrics (prometheus-client), for dashboards and alerts."""

from __future__ import annotations

import contextlib

from prometheus_client import Counter, Gauge, Histogram, start_http_server

SWEEPS = Gauge("tuningsweep_operator_sweeps", "Sweeps by phase", ["phase"])
TRIALS = Gauge("tuningsweep_operator_trials", "Trials by phase, per sweep",
               ["namespace", "sweep", "phase"])
BEST = Gauge("tuningsweep_operator_best_objective", "Best configuration's mean objective",
             ["namespace", "sweep", "metric"])
TRIAL_DURATION = Histogram(
    "tuningsweep_operator_trial_duration_seconds", "Trial durations (Job start to finish)",
    buckets=(10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400))
API_CALLS = Counter("tuningsweep_operator_api_calls_total", "Kubernetes API calls",
                    ["verb", "resource", "result"])
COLLECTION_LAG = Histogram(
    "tuningsweep_operator_collection_lag_seconds",
    "Time from a Job finishing to its row being durable in the results CSV",
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300))
FLUSH_LATENCY = Histogram("tuningsweep_operator_csv_flush_seconds",
                          "Time to make results.csv and summary.csv durable",
                          buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30))
PROMETHEUS_ERRORS = Counter("tuningsweep_operator_prometheus_errors_total",
                            "Failed Prometheus queries")
RECURRING_CHANGED = Gauge(
    "tuningsweep_recurring_winner_changed",
    "1 when a recurring sweep's last run found a new winner (significantly better than "
    "the champion), else 0", ["namespace", "sweep"])
RECURRING_LAST_RUN = Gauge(
    "tuningsweep_recurring_last_run_timestamp_seconds",
    "The date (Unix time, 00:00 UTC) of a recurring sweep's last finished run",
    ["namespace", "sweep"])


def forget_sweep(namespace: str, sweep: str) -> None:
    """Drop a deleted sweep's per-sweep series."""
    for phase in ("pending", "queued", "running", "succeeded", "failed", "stopped"):
        with contextlib.suppress(KeyError):
            TRIALS.remove(namespace, sweep, phase)
    for gauge in (RECURRING_CHANGED, RECURRING_LAST_RUN):
        with contextlib.suppress(KeyError):
            gauge.remove(namespace, sweep)
    for labels in list(BEST._metrics):  # prometheus-client offers no label query
        if labels[:2] == (namespace, sweep):
            BEST.remove(*labels)


def serve(port: int) -> None:
    """Serve /metrics on ``port`` (0 disables it)."""
    if port:
        start_http_server(port)
