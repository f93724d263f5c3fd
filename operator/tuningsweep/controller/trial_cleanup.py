"""Ending trials early and removing the Jobs of recorded ones.

* **Early stopping** on a cluster reads each trial's objective per epoch from the series
  Prometheus keeps (:meth:`.ports.MetricsSource.query_curves`), hands the curves to the
  decision core, and carries its decision out: the Job is deleted (no retry) and the
  trial recorded as ``stopped`` with the last value it reported. Finished trials' curves
  do not change, so each is read once per operator start and kept in an
  :class:`~tuningsweep.core.search.early_stopping.EpochCurves`: a step queries only the running
  trials and those finished since the last step, whatever the sweep's size.
* **Retention**: the row in results.csv is the record of a collected trial; its Job and
  pods are deleted ``job_retention`` seconds after the row is durable, so a sweep of
  10,000 trials does not leave 10,000 Jobs in etcd. A trial with a row is never started
  again, so a deleted Job is not re-created, by this operator or a restarted one.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping

from ..core.kube.jobs import JobState, format_timestamp, gpus_requested
from ..core.planning.outcomes import TrialEnd, trial_row
from ..core.planning.planner import Trial
from ..core.records import naming
from ..core.records.results import ResultRow
from ..core.search.early_stopping import CurveBook, EpochCurves
from ..core.spec.parse import Sweep
from .ports import JobsApi, MetricsSource


class TrialCleanup:
    """One sweep's early stops and Job retention."""

    def __init__(self, api: JobsApi, source: MetricsSource, namespace: str, name: str,
                 since: float, retention: float) -> None:
        self.api = api
        self.source = source
        self.namespace = namespace
        self.name = name
        self.since = since  # when the sweep was created: curves start there
        self.retention = retention
        self._book: CurveBook | None = None  # created at the first poll (early stopping)
        self._durable_at: dict[str, float] = {}
        self._deleted: set[str] = set()

    async def curves(self, sweep: Sweep, jobs: Collection[JobState],
                     recorded: Iterable[str]) -> EpochCurves | None:
        """Per-epoch objective values of running trials and of finished ones.

        ``jobs`` are the unrecorded Jobs (every trial is among them when it finishes);
        ``recorded`` is read once, at the first call: rows of an earlier operator life.
        """
        spec = sweep.spec
        if spec.early_stopping is None:
            return None
        if self._book is None:
            self._book = CurveBook(maximize=spec.objective_goal == "maximize")
        book = self._book
        book.open(recorded)
        book.ended(j.trial for j in jobs if j.finished)
        running = {j.trial: naming.window_of(j.trial) for j in jobs if j.running}
        if not running:
            book.curves.set_running({})
            return book.curves  # nobody to judge: finished curves wait for the next query
        found = await self.source.query_curves(
            self.namespace, self.name, sorted({*running, *book.to_read()}),
            spec.objective_metric, self.since, time.time())
        return book.update(found, running)

    async def stop(self, sweep: Sweep, stops: Mapping[str, str], jobs: Mapping[str, JobState],
                   trials: Mapping[str, Trial], curves: EpochCurves | None) -> list[ResultRow]:
        """Delete the Jobs of the trials to stop; their ``stopped`` rows.

        A stopped row is the same as the local runner's: the GPUs the trial held (its
        GPU time counts in ``budget.gpuHours`` like any other trial's) and every metric of
        the last epoch it reported, read before the Pushgateway group can go.
        """
        rows = []
        # Every metric of each trial's latest epoch push, read before the Jobs go (their
        # groups are removed once the rows are durable).
        latest = await self.source.query_trials(self.namespace, self.name, sorted(stops))
        await self.api.delete_jobs(self.namespace, self.name, sorted(stops))
        if self._book is not None:
            self._book.ended(stops)  # their curves are kept at the next query
        now = time.time()
        metric = sweep.spec.objective_metric
        gpus = gpus_requested(sweep)
        for trial_id, reason in sorted(stops.items()):
            curve = curves.curve(trial_id) if curves is not None else {}
            final: dict[str, float] = {}
            if trial_id in latest:
                final.update(latest[trial_id].metrics)
            if curve:
                # The curve is what the stopping rule judged: its last value is the
                # objective the row keeps, whatever a later scrape holds.
                final[metric] = curve[max(curve)]
            job = jobs.get(trial_id)
            start = job.start if job is not None and job.start else now
            rows.append(trial_row(sweep, TrialEnd(
                trial=trials[trial_id], exited_ok=True,
                final=final or None, stopped=reason,
                started_at=job.started_at if job is not None else "",
                finished_at=format_timestamp(now),
                duration_seconds=max(0.0, now - start), gpus=gpus,
                job=naming.job_name(self.name, trial_id))))
        return rows

    def durable(self, trials: Iterable[str]) -> None:
        """These trials' rows are durable from now on."""
        now = time.monotonic()
        for trial in trials:
            self._durable_at.setdefault(trial, now)

    def is_durable(self, trial: str) -> bool:
        """Whether the trial's row is durable (a packed Job waits for all of its trials)."""
        return trial in self._durable_at

    async def remove_recorded_jobs(self, jobs: Iterable[JobState]) -> None:
        """Delete Jobs whose rows have been durable for ``retention`` seconds (in one
        call for all of them, as a rule)."""
        horizon = time.monotonic() - self.retention
        due = []
        for job in jobs:
            at = self._durable_at.get(job.trial)
            if at is None or at > horizon or job.trial in self._deleted or not job.finished:
                continue
            due.append(job.trial)
        if due:
            await self.api.delete_jobs(self.namespace, self.name, sorted(due))
            self._deleted.update(due)

    def next_removal(self, jobs: Iterable[JobState]) -> float | None:
        """Seconds until the next recorded Job is due for removal (None: none left)."""
        now = time.monotonic()
        due = [self._durable_at[j.trial] + self.retention - now for j in jobs
               if j.trial in self._durable_at and j.trial not in self._deleted]
        return max(0.0, min(due)) if due else None
