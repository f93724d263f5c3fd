"""A sweep's status, conditions and Events: what the user sees with kubectl.

The status is small whatever the number of trials (counters, best, windows,
conditions) and patched only when it changed, at most once per ``status_interval``
(terminal phases wait out the interval rather than being skipped). Events are posted on
transitions only, so a sweep of thousands of trials posts a handful of them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Mapping
from typing import Any

from ..core.planning.decisions import REASON_BUDGET
from ..core.planning.status import (
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    SUSPENDED,
    build_status,
    set_condition,
)
from ..core.stats.summary import Summary
from . import metrics
from .ports import Emit, JobsApi

log = logging.getLogger(__name__)

BACKOFF_MAX_S = 60.0


def now_iso() -> str:
    """The current time as Kubernetes writes it (whole seconds, ``Z``)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class StatusWriter:
    """One sweep's conditions, phase and status patches.

    Attributes:
        phase: the phase last reported.
        conditions: the conditions as last set (patched with the next status).
    """

    def __init__(self, api: JobsApi, emit: Emit, namespace: str, name: str,
                 interval: float) -> None:
        self.api = api
        self.emit = emit
        self.namespace = namespace
        self.name = name
        self.interval = interval
        self.phase = PENDING
        self.conditions: list[dict[str, Any]] = []
        self.backoff = 1.0
        self._last_patch = -1e9
        self._last_status: dict[str, Any] | None = None
        self._refused_change = False

    def condition(self, type_: str, status: bool, reason: str, message: str) -> None:
        """Set one condition (its transition time moves only when its status changes)."""
        self.conditions = set_condition(self.conditions, type_, status, reason, message,
                                        now_iso())

    def has_condition(self, type_: str) -> bool:
        """Whether a condition of this type is True."""
        return any(c.get("type") == type_ and c.get("status") == "True"
                   for c in self.conditions)

    async def fail(self, reason: str, message: str, generation: int | None) -> None:
        """Phase Failed with a condition and a Warning Event, patched at once."""
        self.phase = FAILED
        self.condition("Failed", True, reason, message)
        self.condition("Ready", False, reason, message)
        self.emit("Warning", reason, message)
        await self.patch({"phase": FAILED, "conditions": self.conditions,
                          "observedGeneration": generation}, force=True)

    def refuse_spec_change(self, fields: list[str]) -> None:
        """Say once that immutable fields were edited (the edit is not applied)."""
        if self._refused_change:
            return
        listed = ", ".join(f"spec.{f}" for f in fields)
        message = (f"{listed} cannot change while the sweep exists; only parallelism, "
                   "suspend and maxFailedTrials can. Create a new sweep for a new search.")
        self.condition("SpecChangeRefused", True, "ImmutableField", message)
        self.emit("Warning", "SpecChangeRefused", message)
        self._refused_change = True

    async def degraded(self, reason: str, detail: str) -> float:
        """Record a Degraded condition; return the next wait (backing off, 2 s to 60 s)."""
        self.backoff = min(self.backoff * 2, BACKOFF_MAX_S)
        message = f"{reason}: {detail[:500]}; retrying in {self.backoff:.0f}s"
        log.warning("%s/%s: %s", self.namespace, self.name, message)
        self.condition("Degraded", True, reason.replace(" ", ""), message)
        try:
            await self.patch({"conditions": self.conditions}, force=False)
        except Exception as exc:  # the API may be what is down
            log.warning("%s/%s: could not patch status: %s", self.namespace, self.name, exc)
        return self.backoff

    def recovered(self) -> None:
        """A step went through after Degraded ones: clear the condition, reset backoff."""
        if self.backoff > 1.0:
            self.backoff = 1.0
            self.condition("Degraded", False, "Recovered", "")

    async def update(self, *, phase: str, total: int, succeeded: int, failed: int,
                     running: int, windows: Any, summary: Summary | None, results_uri: str,
                     generation: int | None, parallelism: int, stopped: int = 0,
                     queued: int = 0, gpu_hours: float | None = None,
                     racing: Mapping[str, int] | None = None, reason: str = "",
                     message: str = "") -> None:
        """Report the step's phase and counters (Events on transitions)."""
        if reason == REASON_BUDGET and not self.has_condition("BudgetSpent"):
            # The budget ends the sweep, not a failure: Succeeded, with the reason said.
            self.condition("BudgetSpent", True, reason, message)
            self.emit("Normal", reason, message)
        if phase != self.phase:
            self._transition(phase, f"{succeeded + failed + stopped}/{total} trials done",
                             total, summary, results_uri, parallelism)
        status = build_status(
            phase=phase, total=total, succeeded=succeeded, failed=failed, running=running,
            windows=windows, summary=summary, results_uri=results_uri,
            conditions=self.conditions, observed_generation=generation, queued=queued,
            stopped=stopped, gpu_hours=gpu_hours, racing=racing)
        labels = (self.namespace, self.name)
        metrics.TRIALS.labels(*labels, "succeeded").set(succeeded)
        metrics.TRIALS.labels(*labels, "failed").set(failed)
        metrics.TRIALS.labels(*labels, "running").set(running)
        metrics.TRIALS.labels(*labels, "queued").set(queued)
        metrics.TRIALS.labels(*labels, "stopped").set(stopped)
        metrics.TRIALS.labels(*labels, "pending").set(
            max(0, total - succeeded - failed - stopped - running - queued))
        best = status.get("best")
        if best and summary is not None:
            metrics.BEST.labels(*labels, summary.metric).set(float(best["objective"]))
        await self.patch(status, force=phase in (SUCCEEDED, FAILED))

    def _transition(self, phase: str, progress: str, total: int, summary: Summary | None,
                    results_uri: str, parallelism: int) -> None:
        self.condition("Ready", phase in (RUNNING, SUCCEEDED, PENDING), phase, progress)
        self.condition("Failed", False, phase, "")
        if phase == SUCCEEDED:
            best = f"; best {summary.best}" if summary and summary.best else ""
            self.emit("Normal", "Succeeded", f"{total} trials done{best}; results in "
                      f"{results_uri}")
        elif phase == SUSPENDED:
            self.emit("Normal", "Suspended", "no new trials start until spec.suspend is false")
        elif phase == RUNNING and self.phase in (PENDING, SUSPENDED):
            self.emit("Normal", "Running", f"{total} trials, {parallelism} at a time")
        self.phase = phase

    async def patch(self, status: dict[str, Any], force: bool) -> None:
        """Patch the status when it changed, at most once per ``interval``.

        ``force`` is for terminal phases: they are never skipped, but still wait out the
        interval, so a sweep's status is patched at most once per interval, ever.
        """
        if status == self._last_status:
            return
        gap = self.interval - (time.monotonic() - self._last_patch)
        if gap > 0:
            if not force:
                return  # the next step patches the newer status
            await asyncio.sleep(gap)
        await self.api.patch_status(self.namespace, self.name, status)
        self._last_patch = time.monotonic()
        self._last_status = status
