"""Collecting finished trials: from a Job's end and its metrics to a result row.

For every finished Job without a row, one batched query asks the metrics source
(Prometheus) for the trials' final values. A trial whose final report has not been
scraped yet waits (Prometheus scrapes the Pushgateway every few seconds), up to
``collect_timeout``; past it the trial is recorded as failed with a condition saying
where the metrics were expected. What a finished trial becomes is decided by
:func:`tuningsweep.core.planning.outcomes.trial_row`, the rule the local executor uses too.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kubernetes.client.exceptions import ApiException

from ..core.kube.jobs import JobState, gpus_requested
from ..core.planning.outcomes import TrialEnd, mark_bad_input, trial_row
from ..core.planning.planner import Trial
from ..core.records import naming
from ..core.records.contract import ENV_PUSHGATEWAY, trial_model_uri
from ..core.records.results import ResultRow
from ..core.spec.parse import Sweep
from . import metrics
from .ports import JobsApi, MetricsSource, MetricsUnavailable
from .status_writer import StatusWriter


@dataclass
class Collected:
    """What one collection produced.

    Attributes:
        rows: rows of the trials collected now.
        ended: collected trial -> when its Job ended (epoch seconds; 0.0 when unknown).
        waited: how long the longest-waiting trial has waited for its final metrics
            (None when none waits).
    """

    rows: list[ResultRow] = field(default_factory=list)
    ended: dict[str, float] = field(default_factory=dict)
    waited: float | None = None


def job_failure(job: JobState) -> str:
    """How a failed Job failed, in the words of its condition (marked as bad input when
    the trainer's exit status 2 failed it: the decision core stops the sweep then)."""
    text = f"Job failed: {job.reason or 'Failed'}: {job.message}".strip()
    return mark_bad_input(text) if job.bad_input else text


class Collector:
    """Turns one sweep's finished Jobs into rows."""

    def __init__(self, source: MetricsSource, api: JobsApi, status: StatusWriter,
                 namespace: str, name: str, collect_timeout: float) -> None:
        self.source = source
        self.api = api
        self.status = status
        self.namespace = namespace
        self.name = name
        self.collect_timeout = collect_timeout
        self._first_seen: dict[str, float] = {}  # trial -> when seen finished, unreported

    async def collect(self, sweep: Sweep, finished: Sequence[JobState],
                      trials: Mapping[str, Trial], models_uri: str) -> Collected:
        """Rows for the finished Jobs whose final metrics are in (or will never be)."""
        ours = [j for j in finished if j.trial in trials]  # a stray Job with our label: skip
        out = Collected()
        if not ours:
            return out
        try:
            found = await self.source.query_trials(self.namespace, self.name,
                                                   [j.trial for j in ours])
        except MetricsUnavailable:
            metrics.PROMETHEUS_ERRORS.inc()
            raise
        now = time.monotonic()
        gpus = gpus_requested(sweep)
        for job in ours:
            reported = found.get(job.trial)
            final = reported.metrics if reported is not None and reported.finished else None
            no_final = ""
            if job.phase == "succeeded" and final is None:
                first = self._first_seen.setdefault(job.trial, now)
                if now - first < self.collect_timeout:
                    out.waited = max(out.waited or 0.0, now - first)
                    continue
                no_final = self._metrics_missing(job.trial)
            duration = job.duration_seconds()
            failure = ""
            if job.phase == "failed":
                failure = f"Job failed: {job.reason or 'Failed'}: {job.message}".strip()
                line = await self._trainer_error(job)
                failure = f"{line}; {failure}" if line else failure
            end = TrialEnd(
                trial=trials[job.trial], exited_ok=job.phase == "succeeded",
                failure=failure, final=final, no_final=no_final, bad_input=job.bad_input,
                started_at=job.started_at, finished_at=job.finished_at,
                duration_seconds=duration, gpus=gpus,
                model_uri=trial_model_uri(models_uri, job.trial),
                job=naming.job_name(self.name, job.pack or job.trial))
            out.rows.append(trial_row(sweep, end))
            out.ended[job.trial] = job.end
            if duration:
                metrics.TRIAL_DURATION.observe(duration)
            self._first_seen.pop(job.trial, None)
        return out

    async def _trainer_error(self, job: JobState) -> str:
        """The trainer's last error line from the failed Job's pods ("" when unreadable).

        One list call per failed trial, when its row is written; a refusal (RBAC, an API
        hiccup) only costs the detail, the Job's own condition is still recorded.
        """
        try:
            return await self.api.failure_message(self.namespace,
                                                  naming.job_name(self.name,
                                                                  job.pack or job.trial))
        except (ApiException, OSError, ValueError):
            return ""

    def _metrics_missing(self, trial: str) -> str:
        error = (f"final metrics did not reach Prometheus within {self.collect_timeout:.0f}s: "
                 f"is the trainer pushing to {ENV_PUSHGATEWAY}, and is Prometheus scraping "
                 "the Pushgateway?")
        self.status.condition("MetricsMissing", True, "FinalMetricsNotScraped",
                              f"{trial}: {error}")
        self.status.emit("Warning", "MetricsMissing", f"{trial}: {error}")
        return error
