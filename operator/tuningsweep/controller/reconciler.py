"""One sweep's reconcile loop: from observed state to Jobs, rows and status.

Each :meth:`SweepReconciler.step` works from state, never from remembered events
(Katib's lesson): the Jobs the cluster has (from the Job watch), the rows the
results CSV has, and the spec. It

1. validates the spec once (invalid -> phase Failed, condition ``InvalidSpec``, an Event,
   and no retries);
2. pins the windows (status and ``windows.json``) before any Job exists;
3. collects finished, uncollected trials with one Prometheus query, merges their rows,
   makes the CSVs durable, and only then deletes their Pushgateway groups;
4. fails the sweep past ``maxFailedTrials``, with the failing trials and reasons;
5. plans (auto mode's next stage appears once the earlier one is collected) and creates
   Jobs up to ``parallelism`` unless suspended;
6. patches the status when it changed, at most once per ``status_interval`` except on
   phase transitions.

The results CSV is the record of what was collected: a trial with a row is collected,
whatever happened to the operator in between, so no Job annotation is needed (it would
double the API writes per trial). Killing the operator at any point and starting it
again re-creates nothing (Job names are deterministic; 409 is success) and collects each
trial exactly once (rows merge by trial id).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client.exceptions import ApiException

from ..core import naming
from ..core.errors import InvalidSpec, SpecError
from ..core.jobs import JobState, build_job, gpus_requested, model_uri_for, parse_timestamp
from ..core.planner import Plan, count_trials, plan_trials
from ..core.results import ResultRow
from ..core.spec import DateWindow, Sweep, parse_spec
from ..core.status import (
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    SUSPENDED,
    build_status,
    set_condition,
)
from ..core.windows import resolve_windows, windows_from_data
from ..io.results_store import ResultsStore, immutable_differences
from ..io.storage import StorageError, open_store
from . import metrics
from .kube import KubeApi
from .prom import PrometheusUnavailable, delete_groups, leftover_groups, query_trials
from .settings import OperatorSettings

log = logging.getLogger(__name__)

Emit = Callable[[str, str, str], None]  # (type, reason, message) -> posts an Event
CREATED_MEMORY_S = 30.0
METRICS_RETRY_MIN_S, METRICS_RETRY_MAX_S = 0.25, 2.0


@dataclass
class StepResult:
    """What the daemon should do next."""

    done: bool = False  # terminal for good: stop the daemon
    wait: float = 2.0  # seconds until the next step unless woken earlier


@dataclass
class _Memory:
    sweep: Sweep | None = None
    results: ResultsStore | None = None
    windows: tuple[DateWindow, ...] = ()
    plan: Plan | None = None
    conditions: list[dict[str, Any]] = field(default_factory=list)
    phase: str = PENDING
    last_patch: float = -1e9
    last_status: dict[str, Any] | None = None
    first_seen_finished: dict[str, float] = field(default_factory=dict)
    uncleaned: set[str] = field(default_factory=set)
    # collected trial -> when its Job ended (epoch seconds); lag not yet measured
    finished_at: dict[str, float] = field(default_factory=dict)
    refused_spec_change: bool = False
    checked_generation: int | None = None  # the spec generation last checked for changes
    backoff: float = 1.0
    to_delete: set[str] = field(default_factory=set)  # durable rows whose groups remain
    total: int | None = None
    # trial -> (when created, answered 409); created but not yet seen by the watch
    created: dict[str, tuple[float, bool]] = field(default_factory=dict)


def _close_quietly(results: ResultsStore) -> None:
    """Stop a results writer whose last texts could not be written (they are re-collected)."""
    try:
        results.close(60.0)
    except Exception as exc:
        log.warning("results writer closed with unwritten data: %s", exc)


def _api_message(exc: ApiException) -> str:
    """The message of a Kubernetes Status error body, else the exception text."""
    try:
        body = json.loads(exc.body or "{}")
    except ValueError:
        body = {}
    return str(body.get("message") or exc.reason or exc)


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace(
        "+00:00", "Z")


def _date_of(timestamp: str | None) -> dt.date:
    seconds = parse_timestamp(timestamp)
    return dt.datetime.fromtimestamp(seconds or time.time(), dt.UTC).date()


class SweepReconciler:
    """The state and the reconcile step of one TuningSweep."""

    def __init__(self, settings: OperatorSettings, kube: KubeApi, emit: Emit,
                 namespace: str, name: str, uid: str) -> None:
        self.settings = settings
        self.kube = kube
        self.emit = emit
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.m = _Memory()
        self._flush_task: asyncio.Task[None] | None = None

    async def close(self) -> None:
        """Finish the pending flush and stop the results writer (its thread and client)."""
        results = self.m.results
        if results is None:
            return
        try:
            await self._finish_flush()
        except BaseException as exc:
            # The sweep is going away or the operator stopping: rows not yet durable are
            # collected again on the next start (their Pushgateway groups were kept).
            log.warning("%s/%s: last flush failed: %r", self.namespace, self.name, exc)
        finally:
            self.m.results = None
            await asyncio.to_thread(_close_quietly, results)

    # -- setup (once) ------------------------------------------------------------------

    async def _fail(self, reason: str, message: str, body: dict[str, Any]) -> StepResult:
        self.m.phase = FAILED
        now = _now_iso()
        self.m.conditions = set_condition(self.m.conditions, "Failed", True, reason, message, now)
        self.m.conditions = set_condition(self.m.conditions, "Ready", False, reason, message, now)
        self.emit("Warning", reason, message)
        status = {"phase": FAILED, "conditions": self.m.conditions,
                  "observedGeneration": body.get("metadata", {}).get("generation")}
        await self._patch(status, force=True)
        return StepResult(done=reason == "InvalidSpec", wait=60.0)

    async def _setup(self, body: dict[str, Any]) -> StepResult | None:
        """Validate, open the results store, pin windows, load rows; None when ready."""
        status = body.get("status") or {}
        self.m.conditions = list(status.get("conditions") or [])
        try:
            sweep = parse_spec(body.get("spec") or {}, self.name, self.namespace)
        except InvalidSpec as exc:
            return await self._fail("InvalidSpec", "; ".join(e.render() for e in exc.errors), body)
        results_prefix = sweep.spec.results or self.settings.results_default
        if not results_prefix:
            error = SpecError("spec.output.results", "is required on a cluster",
                              "set it to gs://BUCKET/PREFIX (or configure the operator's "
                              "default results location)")
            return await self._fail("InvalidSpec", error.render(), body)
        store = open_store(results_prefix)
        await asyncio.to_thread(store.check_writable)
        results = ResultsStore(store, sweep, min_interval=2.0, owner=self.uid)
        try:
            return await self._open_results(body, status, sweep, results)
        except BaseException:
            await asyncio.to_thread(_close_quietly, results)  # no writer thread per retry
            raise

    async def _open_results(self, body: dict[str, Any], status: dict[str, Any], sweep: Sweep,
                            results: ResultsStore) -> StepResult | None:
        previous = await asyncio.to_thread(results.previous_manifest)
        if previous is not None:
            owner = (previous.get("metadata") or {}).get("uid")
            if owner == self.uid:
                sweep = self._original_spec(previous, sweep)
            else:
                # An earlier object of the same name left results here (deleted and
                # applied again, as GitOps does). The same search resumes on its windows
                # and rows; a different one must not be mixed into them.
                try:
                    await asyncio.to_thread(results.check_same_sweep)
                except InvalidSpec as exc:
                    await asyncio.to_thread(_close_quietly, results)
                    return await self._fail("ResultsConflict", "; ".join(
                        e.render() for e in exc.errors), body)
                await asyncio.to_thread(results.record_owner)
                self.emit("Normal", "Resumed", "results of an earlier sweep with the same "
                          f"spec found in {results.store.uri_for(results.folder)}; continuing "
                          "on its windows and rows")
        results.sweep = sweep
        pinned = status.get("windows")
        if pinned:
            windows = windows_from_data(pinned)
            results.windows = windows
        else:
            anchor = _date_of(body.get("metadata", {}).get("creationTimestamp"))
            windows = await asyncio.to_thread(results.pin_windows,
                                              resolve_windows(sweep.spec, anchor))
        await asyncio.to_thread(results.load)
        if results.rows:
            await asyncio.to_thread(results.publish)  # the summary for the status
        self.m.sweep, self.m.results, self.m.windows = sweep, results, windows
        # Only durable rows exist at this point, so groups of collected trials that a crash
        # left behind (between flush and delete) can go now, and only now.
        await self._clean_leftovers()
        if not pinned:
            self.emit("Normal", "WindowsPinned", ", ".join(
                f"{w.id} {w.start}..{w.end}" for w in windows))
            await self._patch({"windows": [{"id": w.id, "start": w.start.isoformat(),
                                            "end": w.end.isoformat()} for w in windows],
                               "resultsURI": results.results_uri, "phase": PENDING}, force=True)
        return None

    def _original_spec(self, previous: dict[str, Any], live: Sweep) -> Sweep:
        """The spec this sweep started with; later changes to immutable fields are refused."""
        try:
            original = parse_spec(previous.get("spec") or {}, self.name, self.namespace)
        except InvalidSpec:
            return live
        self._check_spec_change(original, live)
        return original

    def _check_spec_change(self, original: Sweep, live: Sweep) -> None:
        changed = immutable_differences(dict(original.raw_spec), dict(live.raw_spec))
        if changed and not self.m.refused_spec_change:
            fields = ", ".join(f"spec.{c}" for c in changed)
            message = (f"{fields} cannot change while the sweep exists; only parallelism, "
                       "suspend and maxFailedTrials can. Create a new sweep for a new search.")
            self.m.conditions = set_condition(self.m.conditions, "SpecChangeRefused", True,
                                              "ImmutableField", message, _now_iso())
            self.emit("Warning", "SpecChangeRefused", message)
            self.m.refused_spec_change = True

    def _live_sweep(self, body: dict[str, Any]) -> Sweep:
        """The pinned sweep with the mutable fields taken from the live object."""
        assert self.m.sweep is not None
        live_spec = body.get("spec") or {}
        spec = dataclasses.replace(
            self.m.sweep.spec,
            parallelism=int(live_spec.get("parallelism", self.m.sweep.spec.parallelism)),
            suspend=bool(live_spec.get("suspend", False)),
            max_failed_trials=int(live_spec.get("maxFailedTrials",
                                                self.m.sweep.spec.max_failed_trials)),
        )
        # Only a spec edit bumps the generation; validating on every step would redo the
        # same work each time a Job finishes.
        generation = (body.get("metadata") or {}).get("generation")
        if generation is None or generation != self.m.checked_generation:
            self.m.checked_generation = generation
            try:
                live = parse_spec(live_spec, self.name, self.namespace)
                self._check_spec_change(self.m.sweep, live)
            except InvalidSpec:
                pass  # an invalid edit changes nothing; the CRD should have refused it
        return dataclasses.replace(self.m.sweep, spec=spec)

    # -- the step ----------------------------------------------------------------------

    async def step(self, body: dict[str, Any], jobs: Iterable[JobState]) -> StepResult:
        """Reconcile once; see the module docstring for the order of things."""
        status = body.get("status") or {}
        if self.m.sweep is None and status.get("phase") == SUCCEEDED:
            return StepResult(done=True)
        if self.m.sweep is None and status.get("phase") == FAILED and any(
                c.get("reason") == "InvalidSpec" for c in status.get("conditions") or []):
            return StepResult(done=True)  # already reported; the spec cannot change
        try:
            if self.m.sweep is None:
                early = await self._setup(body)
                if early is not None:
                    return early
            result = await self._step(body, [j for j in jobs if j.owner == self.uid])
            if self.m.backoff > 1.0:
                self.m.backoff = 1.0
                self.m.conditions = set_condition(self.m.conditions, "Degraded", False,
                                                  "Recovered", "", _now_iso())
            return result
        except ApiException as exc:
            if exc.status == 422:
                # The API server refused a Job built from the spec (a bad resource quantity,
                # volume or toleration): the user's to fix, retrying cannot help.
                return await self._fail("InvalidJob", "the API server refused a trial's Job: "
                                        f"{_api_message(exc)}; check spec.trainer (resources, "
                                        "volumes, tolerations, nodeSelector)", body)
            return await self._degraded(f"Kubernetes API {exc.status}", _api_message(exc))
        except (StorageError, PrometheusUnavailable, OSError) as exc:
            # Transient: GCS, Prometheus or the API are down. Say so, retry with backoff.
            return await self._degraded(type(exc).__name__, str(exc))
        except Exception as exc:
            # Anything else must not crash-loop the daemon with no word to the user.
            log.exception("%s/%s: reconcile failed", self.namespace, self.name)
            return await self._degraded(type(exc).__name__, str(exc))

    async def report_degraded(self, body: dict[str, Any], reason: str, detail: str) -> None:
        """Say in a Degraded condition why the sweep cannot proceed (cleared by a good step)."""
        if self.m.sweep is None:  # not set up yet: keep the conditions the status has
            self.m.conditions = list((body.get("status") or {}).get("conditions") or [])
        await self._degraded(reason, detail)

    async def _degraded(self, reason: str, detail: str) -> StepResult:
        """Record a Degraded condition and back off exponentially (1 s to 60 s)."""
        self.m.backoff = min(self.m.backoff * 2, 60.0)
        message = f"{reason}: {detail[:500]}; retrying in {self.m.backoff:.0f}s"
        log.warning("%s/%s: %s", self.namespace, self.name, message)
        self.m.conditions = set_condition(self.m.conditions, "Degraded", True,
                                          reason.replace(" ", ""), message, _now_iso())
        try:
            await self._patch({"conditions": self.m.conditions}, force=False)
        except Exception as exc:  # the API may be what is down
            log.warning("%s/%s: could not patch status: %s", self.namespace, self.name, exc)
        return StepResult(wait=self.m.backoff)

    async def _step(self, body: dict[str, Any], jobs: list[JobState]) -> StepResult:
        assert self.m.results is not None
        sweep = self._live_sweep(body)
        results = self.m.results
        results.sweep = sweep
        wait = self.settings.tick_interval
        by_trial = {j.trial: j for j in jobs}
        done_ids = {r.trial for r in results.rows}

        # Failed Jobs count against the budget as soon as they are seen, before their
        # rows are written, so no trial starts past the budget.
        failed = {r.trial: r.error for r in results.rows if r.status == "failed"}
        for j in jobs:
            if j.phase == "failed" and j.trial not in failed:
                failed[j.trial] = f"Job failed: {j.reason}: {j.message}"
        over_budget = len(failed) > sweep.spec.max_failed_trials

        # Start the next trials first: a free slot should not wait for collection.
        plan = self._plan(sweep)
        active = [j for j in jobs if not j.finished]
        created = 0
        if not sweep.spec.suspend and not over_budget:
            # Jobs created by an earlier step may not have reached the Job watch yet;
            # creating them again would only cost a 409, but it costs a write.
            # Forget them once seen, or after a while (a Job deleted by hand before
            # the watch saw it must be created again).
            horizon = time.monotonic() - CREATED_MEMORY_S
            for trial_id, (at, conflicted) in list(self.m.created.items()):
                if trial_id in by_trial:
                    del self.m.created[trial_id]
                elif at <= horizon:
                    del self.m.created[trial_id]
                    if conflicted:
                        # Our own Jobs reach the watch in milliseconds: a 409 for a Job
                        # that never did means someone else's Job has the name.
                        self._report_conflict(naming.job_name(self.name, trial_id))
            pending = [t for t in plan.pending(done_ids)
                       if t.id not in by_trial and t.id not in self.m.created]
            room = max(0, sweep.spec.parallelism - len(active) - len(self.m.created))
            for trial in pending[:room]:
                job = build_job(sweep, trial, owner_uid=self.uid,
                                pushgateway=self.settings.pushgateway_url,
                                model_uri=model_uri_for(sweep, trial.id, results.store.uri))
                exists = not await self.kube.create_job(self.namespace, job)
                self.m.created[trial.id] = (time.monotonic(), exists)
                created += 1

        finished = [j for j in jobs if j.finished and j.trial not in done_ids]
        if finished:
            waited = await self._collect(sweep, finished)
            if waited is not None:
                # Final values reach Prometheus at its next scrape of the Pushgateway (a
                # second in the tests, 15-30 s on a typical cluster): ask again soon at
                # first, then less often, so a slow scrape costs few queries.
                wait = min(wait, METRICS_RETRY_MAX_S, max(METRICS_RETRY_MIN_S, waited / 2))
        self._start_flush()
        if self.m.to_delete:
            await self._retry_deletes()

        if over_budget:
            if self.m.phase != FAILED:
                listed = "; ".join(f"{t}: {e[:120]}" for t, e in sorted(failed.items())[:5])
                await self._fail("TooManyFailedTrials",
                                 f"{len(failed)} trials failed, more than maxFailedTrials "
                                 f"({sweep.spec.max_failed_trials}): {listed}", body)
            return StepResult(wait=min(wait, 30.0) if finished else 30.0)

        plan = self._plan(sweep)  # auto mode: collection may have completed a stage
        done_ids = {r.trial for r in results.rows}
        total = self._total(sweep)
        complete = plan.final and not plan.pending(done_ids)
        if complete:
            phase = SUCCEEDED
        elif sweep.spec.suspend:
            phase = SUSPENDED
        elif active or self.m.created or results.rows:
            phase = RUNNING
        else:
            phase = PENDING
        if complete:
            # Succeeded only once every row is durable and every group is gone.
            await self._finish_flush()
            await self._clean_leftovers()
        running = len(active) + len(self.m.created)
        await self._update_status(body, sweep, phase, total, running)
        if complete:
            return StepResult(done=True)
        if plan.final and not plan.pending(done_ids | set(by_trial)):
            wait = min(wait, 1.0)  # only collection is left
        return StepResult(wait=wait)

    def _total(self, sweep: Sweep) -> int:
        # Once the plan is final it is exact (a small discrete auto stage may hold fewer
        # configurations than its share); before that, the planned share of each stage.
        if self.m.plan is not None and self.m.plan.final:
            return len(self.m.plan.trials)
        if self.m.total is None:
            self.m.total = count_trials(sweep.spec, self.m.windows)[1]
        return self.m.total

    def _plan(self, sweep: Sweep) -> Plan:
        assert self.m.results is not None
        if self.m.plan is None or not self.m.plan.final:
            previous = self.m.plan
            self.m.plan = plan_trials(sweep.spec, self.m.windows, self.m.results.rows)
            if previous is not None and self.m.plan.stage != previous.stage:
                self.emit("Normal", "StageStarted",
                          f"auto mode stage {self.m.plan.stage + 1}: "
                          f"{self.m.plan.configs - previous.configs} configurations with the "
                          "best learning-rate values fixed")
        return self.m.plan

    # -- collection --------------------------------------------------------------------

    async def _collect(self, sweep: Sweep, finished: list[JobState]) -> float | None:
        """Turn finished Jobs into rows.

        Returns how long the longest-waiting trial has waited for its final metrics, or
        None when none waits.
        """
        assert self.m.results is not None
        try:
            found = await query_trials(self.settings.prometheus_url, self.namespace,
                                       self.name, [j.trial for j in finished])
        except PrometheusUnavailable:
            metrics.PROMETHEUS_ERRORS.inc()
            raise
        now = time.monotonic()
        rows: list[ResultRow] = []
        ended: dict[str, float] = {}
        waited: float | None = None
        plan = self._plan(sweep)
        trials = {t.id: t for t in plan.trials}
        for job in finished:
            trial = trials.get(job.trial)
            if trial is None:
                continue  # not a trial of this plan (a stray Job with our label)
            reported = found.get(job.trial)
            error = ""
            status = "succeeded"
            if job.phase == "failed":
                status = "failed"
                error = f"Job failed: {job.reason or 'Failed'}: {job.message}".strip()
            elif reported is None or not reported.finished:
                first = self.m.first_seen_finished.setdefault(job.trial, now)
                if now - first < self.settings.collect_timeout:
                    waited = max(waited or 0.0, now - first)
                    continue
                status = "failed"
                error = (f"final metrics did not reach Prometheus within "
                         f"{self.settings.collect_timeout:.0f}s: is the trainer pushing to "
                         "TUNINGSWEEP_PUSHGATEWAY, and is Prometheus scraping the Pushgateway?")
                self.m.conditions = set_condition(
                    self.m.conditions, "MetricsMissing", True, "FinalMetricsNotScraped",
                    f"{job.trial}: {error}", _now_iso())
                self.emit("Warning", "MetricsMissing", f"{job.trial}: {error}")
            elif sweep.spec.objective_metric not in reported.metrics:
                status = "failed"
                error = f"trainer did not report the objective metric {sweep.spec.objective_metric!r}"
            elif not math.isfinite(reported.metrics[sweep.spec.objective_metric]):
                status = "failed"
                error = (f"the objective {sweep.spec.objective_metric} is "
                         f"{reported.metrics[sweep.spec.objective_metric]}: training diverged?")
            values = reported.metrics if reported is not None else {}
            duration = job.duration_seconds()
            rows.append(ResultRow(
                sweep=self.name, trial=job.trial, config=trial.config, window=trial.window.id,
                window_start=trial.window.start.isoformat(),
                window_end=trial.window.end.isoformat(),
                status="succeeded" if status == "succeeded" else "failed",
                params=trial.params,  # shared with the plan, not copied per row
                metrics={m: values[m] for m in sweep.spec.recorded_metrics
                         if m in values and math.isfinite(values[m])},
                started_at=job.started_at, finished_at=job.finished_at,
                duration_seconds=duration, gpu_seconds=duration * gpus_requested(sweep),
                model_uri=(model_uri_for(sweep, job.trial, self.m.results.store.uri)
                           if status == "succeeded" else ""),
                job=naming.job_name(self.name, job.trial), error=error,
            ))
            ended[job.trial] = job.end
            if duration:
                metrics.TRIAL_DURATION.observe(duration)
            self.m.first_seen_finished.pop(job.trial, None)
        if rows:
            self.m.results.add(rows, publish=False)  # published by the next flush
            self.m.uncleaned.update(r.trial for r in rows)
            self.m.finished_at.update(ended)
        return waited

    def _start_flush(self) -> None:
        """Make collected rows durable in the background, then delete their groups.

        Flushing waits out GCS's per-object write interval (2 s); doing it inline would
        hold back the next Jobs by that much after every collection. Only the ordering
        matters for safety: groups are deleted after their rows are durable.
        """
        if not self.m.uncleaned or (self._flush_task is not None and not self._flush_task.done()):
            return
        task, self._flush_task = self._flush_task, None
        if task is not None:
            task.result()  # surface a failed earlier flush (StorageError); it is retried
        trials = sorted(self.m.uncleaned)
        finished_at = dict(self.m.finished_at)
        self.m.uncleaned.difference_update(trials)
        for trial in trials:
            self.m.finished_at.pop(trial, None)
        snapshot = list(self.m.results.rows) if self.m.results is not None else []
        self._flush_task = asyncio.create_task(
            self._durable_then_clean(trials, finished_at, snapshot))

    async def _finish_flush(self) -> None:
        """Wait for the background flush, then flush whatever was collected since."""
        task, self._flush_task = self._flush_task, None
        if task is not None:
            await task
        if self.m.uncleaned:
            self._start_flush()
            await self._finish_flush()

    async def _durable_then_clean(self, trials: list[str], finished_at: dict[str, float],
                                  snapshot: list[ResultRow]) -> None:
        assert self.m.results is not None
        started = time.monotonic()
        try:
            await asyncio.to_thread(self.m.results.publish, snapshot)
            await asyncio.to_thread(self.m.results.flush, 60.0)
        except BaseException:
            # Not durable: keep the groups and retry with the next flush.
            self.m.uncleaned.update(trials)
            self.m.finished_at.update(finished_at)
            raise
        metrics.FLUSH_LATENCY.observe(time.monotonic() - started)
        now = time.time()
        for ended in finished_at.values():
            if ended:  # 0.0: the Job did not say when it ended
                metrics.COLLECTION_LAG.observe(max(0.0, now - ended))
        self.m.to_delete.update(trials)
        await self._retry_deletes()

    async def _retry_deletes(self) -> None:
        """Delete the groups of durable rows; what fails is tried again next step."""
        trials = sorted(self.m.to_delete)
        try:
            await delete_groups(self.settings.pushgateway_for_operator, self.namespace,
                                self.name, trials)
        except (OSError, ValueError) as exc:
            log.warning("%s/%s: could not delete Pushgateway groups (will retry): %s",
                        self.namespace, self.name, exc)
            return
        self.m.to_delete.difference_update(trials)

    def _report_conflict(self, job_name: str) -> None:
        message = (f"Job {job_name} exists and is not owned by this sweep; delete it "
                   "(kubectl delete job ...) or rename the sweep")
        if not any(c.get("type") == "JobConflict" and c.get("status") == "True"
                   for c in self.m.conditions):
            self.emit("Warning", "JobConflict", message)
        self.m.conditions = set_condition(self.m.conditions, "JobConflict", True,
                                          "ForeignJob", message, _now_iso())

    async def _clean_leftovers(self) -> None:
        """Delete groups of collected trials left by a crash between flush and delete."""
        assert self.m.results is not None
        collected = {r.trial for r in self.m.results.rows}
        try:
            groups = await leftover_groups(self.settings.pushgateway_for_operator,
                                           self.namespace, self.name)
        except (OSError, ValueError) as exc:
            log.warning("could not list Pushgateway groups: %s", exc)
            return
        self.m.to_delete.update(t for t in groups if t in collected)
        await self._retry_deletes()

    # -- status ------------------------------------------------------------------------

    async def _update_status(self, body: dict[str, Any], sweep: Sweep, phase: str, total: int,
                             running: int) -> None:
        assert self.m.results is not None
        rows = self.m.results.rows
        succeeded = sum(1 for r in rows if r.status == "succeeded")
        failed = len(rows) - succeeded
        transition = phase != self.m.phase
        if transition:
            now = _now_iso()
            self.m.conditions = set_condition(
                self.m.conditions, "Ready", phase in (RUNNING, SUCCEEDED, PENDING),
                phase, f"{succeeded + failed}/{total} trials done", now)
            self.m.conditions = set_condition(
                self.m.conditions, "Failed", False, phase, "", now)
            if phase == SUCCEEDED:
                summary = self.m.results.summary
                best = f"; best {summary.best}" if summary and summary.best else ""
                self.emit("Normal", "Succeeded", f"{total} trials done{best}; results in "
                          f"{self.m.results.results_uri}")
            elif phase == SUSPENDED:
                self.emit("Normal", "Suspended", "no new trials start until spec.suspend is false")
            elif phase == RUNNING and self.m.phase in (PENDING, SUSPENDED):
                self.emit("Normal", "Running", f"{total} trials, {sweep.spec.parallelism} at a time")
            self.m.phase = phase
        status = build_status(
            phase=phase, total=total, succeeded=succeeded, failed=failed, running=running,
            windows=self.m.windows, summary=self.m.results.summary,
            results_uri=self.m.results.results_uri, conditions=self.m.conditions,
            observed_generation=body.get("metadata", {}).get("generation"),
        )
        metrics.TRIALS.labels(self.namespace, self.name, "succeeded").set(succeeded)
        metrics.TRIALS.labels(self.namespace, self.name, "failed").set(failed)
        metrics.TRIALS.labels(self.namespace, self.name, "running").set(running)
        metrics.TRIALS.labels(self.namespace, self.name, "pending").set(
            max(0, total - succeeded - failed - running))
        best_info = status.get("best")
        if best_info:
            metrics.BEST.labels(self.namespace, self.name, sweep.spec.objective_metric).set(
                float(best_info["objective"]))
        await self._patch(status, force=transition and phase in (SUCCEEDED, FAILED))

    async def _patch(self, status: dict[str, Any], force: bool) -> None:
        """Patch the status when it changed, at most once per ``status_interval``.

        ``force`` is for terminal phases: they are never skipped, but still wait out the
        interval, so a sweep's status is patched at most once per interval, ever.
        """
        if status == self.m.last_status:
            return
        gap = self.settings.status_interval - (time.monotonic() - self.m.last_patch)
        if gap > 0:
            if not force:
                return  # the next step patches the newer status
            await asyncio.sleep(gap)
        await self.kube.patch_status(self.namespace, self.name, status)
        self.m.last_patch = time.monotonic()
        self.m.last_status = status

