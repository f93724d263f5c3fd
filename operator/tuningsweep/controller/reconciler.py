"""One sweep's reconcile step: observe, ask the decision core, carry out.

Each :meth:`SweepReconciler.step` works from state, never from remembered events
(Katib's lesson): the Jobs the cluster has (from the Job watch), the rows the results
CSV has, and the spec. It

1. opens the sweep once (:mod:`.opening`: validation, results, pinned windows);
2. asks :func:`tuningsweep.core.planning.decisions.decide` what to start and the sweep's phase,
   and creates those Jobs (:mod:`.job_creation`);
3. collects finished, uncollected trials (:mod:`.collection`), makes their rows durable
   in the background and only then deletes their Pushgateway groups (:mod:`.flushing`);
4. asks the core again when rows arrived (a free slot, auto mode's next stage, the end),
   and reports status, conditions and Events (:mod:`.status_writer`).

The outside world comes in through the Protocols of :mod:`.ports`, so a step runs in a
unit test against in-memory fakes. The results CSV is the record of what was collected:
a trial with a row is collected, whatever happened to the operator in between. Killing
the operator at any point and starting it again re-creates nothing (Job names are
deterministic; 409 is success) and collects each trial exactly once (rows merge by id).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from kubernetes.client.exceptions import ApiException

from ..core.kube.jobs import JobState, gpus_requested, parse_timestamp
from ..core.kube.resource import SweepBody
from ..core.planning.decisions import Decision, Usage, decide
from ..core.planning.ledger import pending_trials
from ..core.planning.planner import Plan, Trial, count_trials
from ..core.planning.racing_summary import racing_status
from ..core.planning.status import FAILED, SUCCEEDED
from ..core.records.contract import sweep_models_uri
from ..core.search.early_stopping import EpochCurves
from ..core.spec.errors import InvalidSpec
from ..core.spec.parse import Sweep, parse_spec, with_live_fields
from ..io.storage import StorageError
from .collection import Collector, job_failure
from .flushing import Flusher
from .job_creation import JobCreator
from .opening import OpenedSweep, Refused, changed_fields, close_quietly, open_sweep
from .packs import (
    PackedJobs,
    busy_pods,
    offer_size,
    packs_to_start,
    pod_slots,
    removable_packs,
)
from .ports import Emit, GroupCleaner, JobsApi, MetricsSource, MetricsUnavailable, OpenStore
from .settings import OperatorSettings
from .status_writer import StatusWriter
from .trial_cleanup import TrialCleanup

log = logging.getLogger(__name__)

METRICS_RETRY_MIN_S, METRICS_RETRY_MAX_S = 0.25, 2.0
FAILED_RECHECK_S = 30.0


@dataclass
class StepResult:
    """What the daemon should do next."""

    done: bool = False  # terminal for good: stop the daemon
    wait: float = 2.0  # seconds until the next step unless woken earlier


@dataclass
class _Running:
    """The state of an opened sweep between steps."""

    opened: OpenedSweep
    collector: Collector
    flusher: Flusher
    cleanup: TrialCleanup
    models_uri: str
    packs: PackedJobs
    plan: Plan | None = None
    to_create: list[tuple[Trial, ...]] | None = None  # the last decision's packs (packing)
    total: int | None = None
    checked_generation: int | None = None  # the spec generation last checked for edits
    live: Sweep | None = None  # the live spec of that generation (None: invalid)


#: Refusals the spec's author must fix (the spec cannot change): no retry.
FINAL_REFUSALS = ("InvalidSpec", "Recurring")


def _api_message(exc: ApiException) -> str:
    """The message of a Kubernetes Status error body, else the exception text."""
    try:
        body = json.loads(exc.body or "{}")
    except ValueError:
        body = {}
    return str(body.get("message") or exc.reason or exc)


def _generation(body: SweepBody) -> int | None:
    generation = (body.get("metadata") or {}).get("generation")
    return generation if isinstance(generation, int) else None


class SweepReconciler:
    """The state and the reconcile step of one TuningSweep."""

    def __init__(self, settings: OperatorSettings, api: JobsApi, emit: Emit, namespace: str,
                 name: str, uid: str, *, metrics_source: MetricsSource,
                 cleaner: GroupCleaner, open_store: OpenStore) -> None:
        self.settings = settings
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.emit = emit
        self.metrics_source = metrics_source
        self.cleaner = cleaner
        self.open_store = open_store
        self.api = api
        self.status = StatusWriter(api, emit, namespace, name, settings.status_interval)
        self.jobs = JobCreator(api, self.status, namespace, uid, settings.pushgateway_url)
        self._state: _Running | None = None

    @property
    def phase(self) -> str:
        """The sweep's phase as last reported."""
        return self.status.phase

    async def close(self) -> None:
        """Finish the pending flush and stop the results writer (its thread and client)."""
        state, self._state = self._state, None
        if state is None:
            return
        try:
            await state.flusher.finish()
        except BaseException as exc:
            # The sweep is going away or the operator stopping: rows not yet durable are
            # collected again on the next start (their Pushgateway groups were kept).
            log.warning("%s/%s: last flush failed: %r", self.namespace, self.name, exc)
        finally:
            await asyncio.to_thread(close_quietly, state.opened.results)

    # -- the step ----------------------------------------------------------------------

    async def step(self, body: SweepBody, jobs: Iterable[JobState]) -> StepResult:
        """Reconcile once; see the module docstring for the order of things."""
        status = body.get("status") or {}
        if self._state is None:
            if status.get("phase") == SUCCEEDED:
                self.status.phase = SUCCEEDED  # as reported before this operator started
                return StepResult(done=True)
            if status.get("phase") == FAILED and any(
                    c.get("reason") in FINAL_REFUSALS for c in status.get("conditions") or []):
                self.status.phase = FAILED
                return StepResult(done=True)  # already reported; the spec cannot change
        try:
            if self._state is None:
                early = await self._open(body)
                if early is not None:
                    return early
            assert self._state is not None
            # Only the Jobs without a row matter to a step (running, or finished and not
            # collected yet): one pass here keeps the rest of the step independent of the
            # sweep's size.
            done = self._state.opened.results.done_ids
            unrecorded: list[JobState] = []
            recorded: list[JobState] = []  # kept until job_retention removes them
            # A packed Job is read as its trials (spec.trainer.trialsPerPod; .packs).
            ours = await self._state.packs.as_trials(
                [j for j in jobs if j.owner == self.uid], done,
                self._state.opened.results.ledger.failed)
            for j in ours:
                (recorded if j.trial in done else unrecorded).append(j)
            result = await self._step(self._state, body, unrecorded, recorded)
            self.status.recovered()
            return result
        except ApiException as exc:
            if exc.status == 422:
                # The API server refused a Job built from the spec (a bad resource quantity,
                # volume or toleration): the user's to fix, retrying cannot help.
                await self.status.fail("InvalidJob", "the API server refused a trial's Job: "
                                       f"{_api_message(exc)}; check spec.trainer (resources, "
                                       "volumes, tolerations, nodeSelector)", _generation(body))
                return StepResult(wait=60.0)
            return await self._degraded(f"Kubernetes API {exc.status}", _api_message(exc))
        except (StorageError, MetricsUnavailable, OSError) as exc:
            # Transient: GCS, Prometheus or the API are down. Say so, retry with backoff.
            return await self._degraded(type(exc).__name__, str(exc))
        except Exception as exc:
            # Anything else must not crash-loop the daemon with no word to the user.
            log.exception("%s/%s: reconcile failed", self.namespace, self.name)
            return await self._degraded(type(exc).__name__, str(exc))

    async def report_degraded(self, body: SweepBody, reason: str, detail: str) -> None:
        """Say in a Degraded condition why the sweep cannot proceed (cleared by a good step)."""
        if self._state is None:  # not opened yet: keep the conditions the status has
            self.status.conditions = [dict(c) for c in body.get("status", {}).get("conditions", [])]
        await self._degraded(reason, detail)

    async def _degraded(self, reason: str, detail: str) -> StepResult:
        return StepResult(wait=await self.status.degraded(reason, detail))

    async def _open(self, body: SweepBody) -> StepResult | None:
        self.status.conditions = [dict(c) for c in body.get("status", {}).get("conditions", [])]
        opened = await open_sweep(body, self.name, self.namespace, self.uid, self.open_store,
                                  self.settings.results_default, self.emit)
        if isinstance(opened, Refused):
            await self.status.fail(opened.reason, opened.message, _generation(body))
            return StepResult(done=opened.reason in FINAL_REFUSALS, wait=60.0)
        results = opened.results
        cleanup = TrialCleanup(self.api, self.metrics_source, self.namespace, self.name,
                               parse_timestamp((body.get("metadata") or {}).get(
                                   "creationTimestamp")) or time.time() - 86400.0,
                               self.settings.job_retention)
        cleanup.durable(results.done_ids)  # read back from results.csv: durable
        packs = PackedJobs(self.cleaner, self.namespace, self.name)
        state = _Running(
            opened=opened,
            collector=Collector(self.metrics_source, self.api, self.status, self.namespace,
                                self.name, self.settings.collect_timeout),
            flusher=Flusher(results, self.cleaner, self.namespace, self.name,
                            on_durable=cleanup.durable, held=packs.running_trials),
            cleanup=cleanup,
            packs=packs,
            models_uri=sweep_models_uri(opened.sweep, results.store.uri, opened.sweep.spec.models))
        self._state = state
        # Only durable rows exist at this point, so groups of collected trials that a crash
        # left behind (between flush and delete) can go now, and only now.
        await state.flusher.clean_leftovers()
        if opened.pinned_now:
            windows = opened.windows
            self.emit("Normal", "WindowsPinned", ", ".join(
                f"{w.id} {w.start}..{w.end}" for w in windows))
            await self.status.patch({"windows": [{"id": w.id, "start": w.start.isoformat(),
                                                  "end": w.end.isoformat()} for w in windows],
                                     "resultsURI": results.results_uri, "phase": "Pending"},
                                    force=True)
        return None

    def _live_sweep(self, state: _Running, body: SweepBody) -> Sweep:
        """The pinned sweep with the mutable fields taken from the live object."""
        # Only a spec edit bumps the generation: the live spec is parsed once per edit,
        # not on every step (each time a Job finishes).
        generation = _generation(body)
        if generation is None or generation != state.checked_generation:
            state.checked_generation = generation
            opened = state.opened
            if generation is not None and generation == opened.live_generation:
                state.live = opened.live  # parsed when the sweep was opened, this generation
            else:
                try:
                    state.live = parse_spec(body.get("spec") or {}, self.name, self.namespace)
                except InvalidSpec:
                    state.live = None  # an invalid edit changes nothing; the CRD refuses it
            if state.live is not None:
                changed = changed_fields(state.opened.sweep, state.live)
                if changed:
                    self.status.refuse_spec_change(changed)
        return with_live_fields(state.opened.sweep, state.live)

    async def _decide(self, state: _Running, sweep: Sweep, jobs: list[JobState],
                      curves: EpochCurves | None = None) -> Decision:
        results = state.opened.results
        done = results.done_ids
        unrecorded = [j for j in jobs if j.trial not in done]
        now = time.time()
        gpus = gpus_requested(sweep)
        usage = Usage.of((now - j.start, gpus) for j in unrecorded if j.running and j.start)
        running = [j.trial for j in unrecorded if not j.finished] + list(self.jobs.in_flight)
        size = sweep.spec.trainer.trials_per_pod
        spec = sweep.spec
        free_pods = None
        if size > 1:
            # parallelism counts trials training at once, one per pod: ask the core for
            # enough trials to fill the free pods' packs (see .packs), through the spec
            # as every parallelism reaches the decisions.
            free_pods = pod_slots(sweep.spec.parallelism,
                                  busy_pods(unrecorded, self.jobs.in_flight_pods))
            spec = dataclasses.replace(spec, parallelism=offer_size(
                len(set(running)), free_pods, size, len(state.opened.windows)))
        # Planning is pure but not always quick (a model-based search asks the batch still
        # running again after an operator restart: a replay of every earlier result), so
        # it runs in a worker thread: other sweeps' steps and kopf's handlers go on
        # meanwhile. The ledger is only read there, and rows are added only by this
        # (awaiting) step.
        decision = await asyncio.to_thread(
            decide, spec, state.opened.windows, results.ledger,
            running=running,
            collecting=[j.trial for j in unrecorded if j.finished],
            failing={j.trial: job_failure(j) for j in unrecorded if j.phase == "failed"},
            previous=state.plan, curves=curves,
            usage=usage)
        if free_pods is not None:
            state.to_create = packs_to_start(decision.start, size, free_pods)
            decision = dataclasses.replace(
                decision, start=tuple(t for pack in state.to_create for t in pack))
        previous, state.plan = state.plan, decision.plan
        if previous is not None and decision.plan.stage != previous.stage:
            self.emit("Normal", "StageStarted",
                      f"auto mode stage {decision.plan.stage + 1}: "
                      f"{decision.plan.configs - previous.configs} configurations with the "
                      "best learning-rate values fixed")
        return decision

    async def _step(self, state: _Running, body: SweepBody, jobs: list[JobState],
                    recorded: list[JobState]) -> StepResult:
        sweep = self._live_sweep(state, body)
        results = state.opened.results
        results.sweep = sweep
        self.jobs.forget_seen({j.trial for j in jobs}, self.name)

        # Start the next trials first: a free slot should not wait for collection.
        curves = await state.cleanup.curves(sweep, jobs, results.done_ids)
        decision = await self._decide(state, sweep, jobs, curves)
        if decision.stop:
            ended = await state.cleanup.stop(
                sweep, decision.stop, {j.trial: j for j in jobs},
                decision.plan.by_id, curves)
            state.flusher.collected(ended, {})
            decision = await self._decide(state, sweep, jobs)
        decision = await self._create(state, sweep, jobs, decision)

        wait = self.settings.tick_interval
        done = results.done_ids
        finished = [j for j in jobs if j.finished and j.trial not in done]
        if finished:
            assert decision.plan is not None
            trials = decision.plan.by_id
            collected = await state.collector.collect(sweep, finished, trials, state.models_uri)
            if collected.rows:
                state.flusher.collected(collected.rows, collected.ended)
                # Rows free slots and may complete a stage or the sweep: decide again.
                decision = await self._decide(state, sweep, jobs)
                decision = await self._create(state, sweep, jobs, decision)
            if collected.waited is not None:
                # Final values reach Prometheus at its next scrape of the Pushgateway (a
                # second in the tests, 15-30 s on a typical cluster): ask again soon at
                # first, then less often, so a slow scrape costs few queries.
                wait = min(wait, METRICS_RETRY_MAX_S,
                           max(METRICS_RETRY_MIN_S, collected.waited / 2))
        state.flusher.start()
        if state.flusher.deletes_pending:
            await state.flusher.retry_deletes()
        await state.cleanup.remove_recorded_jobs(self._removable(state, recorded, jobs))

        if decision.phase == FAILED:
            if self.status.phase != FAILED:
                await self.status.fail(decision.reason, decision.message, _generation(body))
            return StepResult(wait=min(wait, FAILED_RECHECK_S) if finished else FAILED_RECHECK_S)
        if decision.phase == SUCCEEDED:
            # Succeeded only once every row is durable and every group is gone (a packed
            # pod may still be exiting: its trials are recorded, its groups go now too).
            state.flusher.held = None
            await state.flusher.finish()
            await state.flusher.clean_leftovers()
        ledger = results.ledger
        # Jobs just created are queued when a Kueue queue holds them, else about to run.
        queued_created = len(self.jobs.in_flight) if sweep.spec.trainer.queue_name else 0
        live = [j for j in jobs if j.trial not in results.done_ids]
        await self.status.update(
            phase=decision.phase, total=self._total(state, sweep),
            succeeded=ledger.count("succeeded"), failed=ledger.count("failed"),
            stopped=ledger.count("stopped"),
            running=sum(1 for j in live if j.running)
            + (0 if queued_created else self.jobs.in_flight_pods),
            queued=sum(1 for j in live if j.suspended) + queued_created,
            windows=state.opened.windows, summary=results.summary,
            results_uri=results.results_uri, generation=_generation(body),
            parallelism=sweep.spec.parallelism, gpu_hours=decision.gpu_hours,
            reason=decision.reason, message=decision.message,
            racing=racing_status(sweep.spec, state.opened.windows, decision.plan))
        if decision.phase == SUCCEEDED:
            # Done once the recorded trials' Jobs are removed (after job_retention).
            removable = self._removable(state, recorded, jobs)
            await state.cleanup.remove_recorded_jobs(removable)
            left = state.cleanup.next_removal(removable)
            return StepResult(done=left is None, wait=left or 0.0)
        observed = {j.trial for j in jobs}
        pending = pending_trials(decision.plan, results.ledger, results.done_ids)
        if decision.plan.final and all(t.id in observed for t in pending):
            wait = min(wait, 1.0)  # only collection is left
        return StepResult(wait=wait)

    async def _create(self, state: _Running, sweep: Sweep, jobs: list[JobState],
                      decision: Decision) -> Decision:
        """Create the Jobs of the trials to start: one per trial, or one per pack
        (trialsPerPod). A recurring run first copies the rows of those an earlier run
        trained (no Job), and asks the core again for the slots they leave free."""
        reuse = state.opened.reuse
        while reuse is not None:
            reused = [row for row in map(reuse, decision.start) if row is not None]
            if not reused:
                break
            state.flusher.collected(reused, {})
            decision = await self._decide(state, sweep, jobs)
        if sweep.spec.trainer.trials_per_pod > 1:
            packs, state.to_create = state.to_create or [], None
            await self.jobs.create_packs(sweep, packs, state.models_uri)
        else:
            await self.jobs.create(sweep, decision.start, state.models_uri)
        return decision

    @staticmethod
    def _removable(state: _Running, recorded: list[JobState],
                   jobs: list[JobState]) -> list[JobState]:
        """Jobs that retention may remove: a packed Job once every trial it lists is
        durable (its trials' states are not Jobs)."""
        single = [j for j in (*recorded, *jobs) if not j.pack]
        return single + removable_packs(state.packs.packs, state.cleanup.is_durable)

    def _total(self, state: _Running, sweep: Sweep) -> int:
        # Once the plan is final it is exact (a small discrete auto stage may hold fewer
        # configurations than its share); before that, the planned share of each stage.
        if state.plan is not None and state.plan.final:
            return len(state.plan.trials)
        if state.total is None:
            state.total = count_trials(sweep.spec, state.opened.windows)[1]
        return state.total
