"""kopf handlers: thin wiring from cluster events to the per-sweep reconciler.

* A **daemon per TuningSweep** runs its reconciler in a loop: step, then wait until woken
  or until the step's requested delay passes. A daemon (not a timer) so that each sweep
  keeps its in-memory state (rows, plan) between steps and reacts within milliseconds.
* A **watch of Jobs** of our own (:mod:`.jobwatch`, not a kopf index: kopf's per-object
  bookkeeping cost more memory per trial than the operator may grow) gives the
  reconciler each sweep's Jobs without listing them on every step, and wakes a sweep's
  daemon when one of its Jobs changed. Daemons wait for its first listing, so a
  restarted operator sees every existing Job before it creates any.
* An **event handler** on sweeps only wakes the sweep's daemon (parallelism, suspend).
  It persists nothing, so it costs no API writes.

kopf's own event posting is raised to errors only, so the API sees a handful of Events
per sweep (main transitions) rather than one per log line. The handlers take only the
keyword arguments they use, which kopf's strict handler protocols do not express (hence
the ``type: ignore`` on the decorators).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from ..core.spec import api
from ..io.storage import open_store
from . import settings as settings_module
from .jobwatch import JobWatch, Key
from .kube import KubeApi, load_credentials
from .metrics import SWEEPS, forget_sweep, serve
from .prom import PrometheusMetrics, PushgatewayCleaner
from .ratelimit import TokenBucket
from .reconciler import SweepReconciler

_wakeups: dict[Key, asyncio.Event] = {}
_phases: dict[Key, str] = {}
# Events that arrive together (several trials finishing at once) are handled in one step;
# the Job watch already drops events that change nothing, so the window can be short.
DEBOUNCE_S = 0.005
READY_CHECK_S = 5.0  # how often a sweep waiting for the Job watch checks for its errors


def _wake(key: Key) -> None:
    event = _wakeups.get(key)
    if event is not None:
        event.set()


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Operator-wide settings, credentials, the API client and /metrics."""
    ours = settings_module.current
    settings.persistence.finalizer = f"{api.GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=api.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=api.GROUP, key="last-handled-configuration")
    settings.posting.level = logging.ERROR
    settings.watching.server_timeout = 300
    load_credentials()
    memo.kube = KubeApi(TokenBucket(ours.api_rate_limit, ours.api_burst))
    serve(ours.metrics_port)
    if getattr(memo, "jobs", None) is None:  # kopf retries a failed startup handler
        memo.jobs = JobWatch([] if ours.all_namespaces else ours.namespaces, _wake)
        memo.jobs.start()


@kopf.on.cleanup()
async def stop_watch(memo: kopf.Memo, **_: Any) -> None:
    """Close the Job watch's connections."""
    if getattr(memo, "jobs", None) is not None:
        memo.jobs.stop()


@kopf.on.event(api.GROUP, api.VERSION, api.PLURAL)  # type: ignore[arg-type]
def sweep_changed(namespace: str, name: str, **_: Any) -> None:
    """A sweep changed (parallelism, suspend, ...): wake its daemon."""
    _wake((namespace, name))


@kopf.daemon(api.GROUP, api.VERSION, api.PLURAL,  # type: ignore[arg-type]
             initial_delay=0, cancellation_timeout=10)
async def run_sweep(body: kopf.Body, namespace: str, name: str, uid: str,
                    stopped: kopf.DaemonStopped, memo: kopf.Memo, **_: Any) -> None:
    """Reconcile one sweep until it is done or deleted."""
    key = (namespace, name)
    wakeup = _wakeups[key] = asyncio.Event()

    def emit(type_: str, reason: str, message: str) -> None:
        kopf.event(body, type=type_, reason=reason, message=message[:1000])

    ours = settings_module.current
    reconciler = SweepReconciler(
        ours, memo.kube, emit, namespace, name, uid,
        metrics_source=PrometheusMetrics(ours.prometheus_url),
        cleaner=PushgatewayCleaner(ours.pushgateway_for_operator), open_store=open_store)
    jobs: JobWatch = memo.jobs
    try:
        await _wait_ready(jobs, namespace, stopped, reconciler, body)
        while not stopped:
            wakeup.clear()
            result = await reconciler.step(dict(body), jobs.jobs(key))
            _phases[key] = reconciler.phase
            _count_phases()
            if result.done:
                return
            await _wait(wakeup, stopped, result.wait)
    finally:
        if _wakeups.get(key) is wakeup:  # a re-created sweep of the same name has its own
            del _wakeups[key]
        await reconciler.close()
        reason = stopped.reason
        if reason is not None and reason & kopf.DaemonStoppingReason.RESOURCE_DELETED:
            # A deleted sweep leaves the dashboards, not only at the next restart.
            _phases.pop(key, None)
            _count_phases()
            forget_sweep(namespace, name)


async def _wait_ready(jobs: JobWatch, namespace: str, stopped: kopf.DaemonStopped,
                      reconciler: SweepReconciler, body: kopf.Body) -> None:
    """Wait for the first listing of the namespace's Jobs (or the daemon's stop).

    While the watch cannot list them (RBAC, an API outage), the sweep says so in a
    Degraded condition rather than waiting in silence.
    """
    ready = jobs.ready_for(namespace)
    while not ready.is_set() and not stopped:
        await _wait(ready, stopped, READY_CHECK_S, debounce=False)
        error = jobs.error_for(namespace)
        if error and not ready.is_set():
            await reconciler.report_degraded(dict(body), "JobWatchFailed", error)


async def _wait(wakeup: asyncio.Event, stopped: kopf.DaemonStopped, timeout: float,
                debounce: bool = True) -> None:
    """Sleep until woken, stopped, or ``timeout``; then let a burst of events coalesce."""
    waiters = [asyncio.ensure_future(wakeup.wait()), asyncio.ensure_future(stopped.wait())]
    try:
        done, _ = await asyncio.wait(waiters, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    if done and debounce and not stopped:
        await asyncio.sleep(DEBOUNCE_S)


def _count_phases() -> None:
    counts: dict[str, int] = {}
    for phase in _phases.values():
        counts[phase] = counts.get(phase, 0) + 1
    for phase in ("Pending", "Running", "Succeeded", "Failed", "Suspended"):
        SWEEPS.labels(phase).set(counts.get(phase, 0))
