"""Reading trial metrics from Prometheus and cleaning up Pushgateway groups.

Trainers push to the Pushgateway; Prometheus scrapes it (``honor_labels``) and the
operator asks Prometheus, once per collection tick, for every finished-but-uncollected
trial of a sweep in one query. Reading from Prometheus rather than the Pushgateway
means the values a user sees on dashboards are the values recorded in the CSV.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

from prometheus_client import delete_from_gateway

from ..core.kube.packing import TrialRecord, parse_exit_records
from ..core.records.contract import EPOCH_GAUGE, FINISHED_GAUGE, METRIC_GAUGE, PUSH_JOB
from .ports import MetricsUnavailable, TrialMetrics

QUERY_TIMEOUT_S = 10.0


class PrometheusUnavailable(MetricsUnavailable):
    """Prometheus could not be queried; the caller retries later with backoff."""


_SAFE = re.compile(r"^[a-z0-9-]+$")


def _label_regex(values: Iterable[str]) -> str:
    # Trial ids are DNS-1123 labels, which contain no regex or PromQL string
    # metacharacters; refuse anything else rather than escape it (PromQL strings and
    # RE2 escape differently, a classic source of 400s).
    items = list(values)
    bad = [v for v in items if not _SAFE.match(v)]
    if bad:
        raise ValueError(f"unexpected trial ids: {bad[:3]}")
    return "|".join(items)


def trials_query(namespace: str, sweep: str, trials: Iterable[str]) -> str:
    """One PromQL selector for the metric and finished series of many trials."""
    return (f'{{__name__=~"{METRIC_GAUGE}|{FINISHED_GAUGE}",'
            f'namespace="{namespace}",sweep="{sweep}",trial=~"{_label_regex(trials)}"}}')


def _query_sync(url: str, expr: str, path: str = "query",
                extra: dict[str, str] | None = None) -> list[dict[str, object]]:
    data = urllib.parse.urlencode({"query": expr, **(extra or {})}).encode()
    request = urllib.request.Request(f"{url.rstrip('/')}/api/v1/{path}", data=data)
    try:
        with urllib.request.urlopen(request, timeout=QUERY_TIMEOUT_S) as response:
            payload = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise PrometheusUnavailable(f"{url}: {exc}") from exc
    if payload.get("status") != "success":
        raise PrometheusUnavailable(f"{url}: {payload.get('error', 'query failed')}")
    result = payload["data"]["result"]
    return result if isinstance(result, list) else []


async def query_trials(
    url: str, namespace: str, sweep: str, trials: list[str]
) -> dict[str, TrialMetrics]:
    """The latest metrics and finished flag of each trial that Prometheus has seen."""
    out: dict[str, TrialMetrics] = {}
    if not trials:
        return out
    series = await asyncio.to_thread(_query_sync, url, trials_query(namespace, sweep, trials))
    for item in series:
        labels = item.get("metric") or {}
        value = item.get("value") or [0, "nan"]
        assert isinstance(labels, dict) and isinstance(value, list)
        trial = str(labels.get("trial", ""))
        entry = out.setdefault(trial, TrialMetrics())
        number = float(value[1])
        if labels.get("__name__") == FINISHED_GAUGE:
            entry.finished = number >= 1
        elif "metric" in labels:
            entry.metrics[str(labels["metric"])] = number
    return out


def curves_query(namespace: str, sweep: str, trials: Iterable[str], metric: str) -> str:
    """One PromQL selector for the objective and epoch series of many trials."""
    return (f'{{__name__=~"{METRIC_GAUGE}|{EPOCH_GAUGE}",metric=~"{metric}|",'
            f'namespace="{namespace}",sweep="{sweep}",trial=~"{_label_regex(trials)}"}}')


MAX_POINTS = 10_000  # Prometheus refuses range queries of more than 11,000 points a series


async def query_curves(url: str, namespace: str, sweep: str, trials: list[str], metric: str,
                       since: float, until: float) -> dict[str, dict[int, float]]:
    """Each trial's objective per epoch, from the series Prometheus keeps.

    The trainer pushes the objective and the epoch together (one PUT per epoch), so the
    scrapes pair them: at each sample time, the epoch gauge says which epoch the metric's
    value belongs to. Epochs a scrape missed (two epochs within one scrape interval) are
    absent, which the early-stopping rules tolerate (they compare best-so-far values).
    """
    if not trials or until <= since:
        return {}
    step = max(1.0, (until - since) / MAX_POINTS)
    series = await asyncio.to_thread(
        _query_sync, url, curves_query(namespace, sweep, trials, metric), "query_range",
        {"start": f"{since:.3f}", "end": f"{until:.3f}", "step": f"{step:g}"})
    epochs: dict[str, dict[float, int]] = {}
    values: dict[str, dict[float, float]] = {}
    for item in series:
        labels = item.get("metric") or {}
        points = item.get("values") or []
        assert isinstance(labels, dict) and isinstance(points, list)
        trial = str(labels.get("trial", ""))
        if labels.get("__name__") == EPOCH_GAUGE:
            epochs.setdefault(trial, {}).update({float(t): int(float(v)) for t, v in points})
        else:
            values.setdefault(trial, {}).update({float(t): float(v) for t, v in points})
    out: dict[str, dict[int, float]] = {}
    for trial, at in values.items():
        curve = out.setdefault(trial, {})
        for t, value in sorted(at.items()):
            epoch = epochs.get(trial, {}).get(t, 0)
            if epoch > 0:
                curve[epoch] = value
    return out


def _delete_group(url: str, namespace: str, sweep: str, trial: str) -> None:
    delete_from_gateway(url, job=PUSH_JOB,
                        grouping_key={"namespace": namespace, "sweep": sweep, "trial": trial})


async def delete_groups(url: str, namespace: str, sweep: str, trials: Iterable[str]) -> None:
    """Delete the Pushgateway groups of collected trials (idempotent)."""
    for trial in trials:
        await asyncio.to_thread(_delete_group, url, namespace, sweep, trial)


def _metrics_sync(url: str) -> Any:
    with urllib.request.urlopen(f"{url.rstrip('/')}/api/v1/metrics",
                                timeout=QUERY_TIMEOUT_S) as response:
        return json.loads(response.read())


def _groups_sync(url: str) -> list[dict[str, str]]:
    payload = _metrics_sync(url)
    return [g.get("labels", {}) for g in payload.get("data", [])]


async def exit_records(url: str, namespace: str, sweep: str) -> dict[str, TrialRecord]:
    """The exit records packed pods pushed for this sweep's trials (core/kube/packing.py).

    Raises:
        OSError: the Pushgateway did not answer or answered nonsense (a transient outage
            for the reconciler).
    """
    try:
        return parse_exit_records(await asyncio.to_thread(_metrics_sync, url), namespace,
                                  sweep)
    except ValueError as exc:
        raise OSError(f"Pushgateway {url}: {exc}") from exc


async def leftover_groups(url: str, namespace: str, sweep: str) -> list[str]:
    """Trials of this sweep that still have a Pushgateway group."""
    groups = await asyncio.to_thread(_groups_sync, url)
    return sorted(g["trial"] for g in groups
                  if g.get("job") == PUSH_JOB and g.get("namespace") == namespace
                  and g.get("sweep") == sweep and "trial" in g)


class PrometheusMetrics:
    """The reconciler's :class:`.ports.MetricsSource`: Prometheus's HTTP API."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def query_trials(self, namespace: str, sweep: str,
                           trials: list[str]) -> dict[str, TrialMetrics]:
        """See :func:`query_trials`."""
        return await query_trials(self.url, namespace, sweep, trials)

    async def query_curves(self, namespace: str, sweep: str, trials: list[str], metric: str,
                           since: float, until: float) -> dict[str, dict[int, float]]:
        """See :func:`query_curves`."""
        return await query_curves(self.url, namespace, sweep, trials, metric, since, until)


class PushgatewayCleaner:
    """The reconciler's :class:`.ports.GroupCleaner`: the Pushgateway's HTTP API."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def delete_groups(self, namespace: str, sweep: str, trials: Iterable[str]) -> None:
        """See :func:`delete_groups`."""
        await delete_groups(self.url, namespace, sweep, trials)

    async def leftover_groups(self, namespace: str, sweep: str) -> list[str]:
        """See :func:`leftover_groups`."""
        return await leftover_groups(self.url, namespace, sweep)

    async def exit_records(self, namespace: str, sweep: str) -> dict[str, TrialRecord]:
        """See :func:`exit_records`."""
        return await exit_records(self.url, namespace, sweep)
