"""A recurring TuningSweep (``spec.schedule``) on the cluster: its runs as child sweeps.

The recurring sweep is not run itself. As a CronJob creates Jobs, the operator creates
each run when its slot comes: a child TuningSweep ``<name>-<run>`` (run = the slot's
date) owned by the recurring one (deleting it deletes its runs; their results stay),
labelled with the parent and the run, whose spec is the parent's without ``schedule``,
``historyLimit`` and ``search.warmStart``; the parent's whole spec rides along in an
annotation, from which the child's reconciler takes what the run carries over (seeds,
reuse: :mod:`.recurring_child`). Which run to start, wait for or delete is
:func:`tuningsweep.core.recurring.slots.decide_runs`.

Each step, in an order that makes a crash at any point harmless:

1. the history row of each succeeded child not in ``history.csv`` yet is written (the
   same writer as ``tuningsweep run``: the whole file replaced, the run's row upserted),
   so a restart writes it again at most, never twice;
2. the due run's child is created (a deterministic name: "already exists" is success),
   then the status records it as started, so a pruned or hand-deleted child is not
   created again;
3. children beyond ``historyLimit`` whose row is written are deleted;
4. the status (last run, winner, changed, next slot), the ``WinnerChanged`` Event and
   condition, and the dashboard gauges are updated.

The clock is :func:`operator_now`: the real one, or the time in ``--clock-file`` (a
testing aid, so tests move a recurring sweep from month to month in seconds).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any, Protocol

from ..core.kube.resource import SweepBody, SweepStatus, sweep_body
from ..core.planning.windows import windows_from_data
from ..core.records import layout
from ..core.records.results import parse_csv
from ..core.recurring.history import HistoryRow
from ..core.recurring.runs import HISTORY_CSV
from ..core.recurring.slots import ChildRun, RunsDecision, decide_runs
from ..core.spec import api
from ..core.spec.errors import InvalidSpec, SpecError
from ..core.spec.parse import Sweep, parse_spec
from ..core.spec.schedule import parse_schedule
from ..io.recurring_runs import begin, finish, read_history, recurring_run
from ..io.storage import Store
from . import metrics
from .ports import Emit, OpenStore
from .settings import OperatorSettings

log = logging.getLogger(__name__)

LABEL_PARENT = f"{api.GROUP}/recurring-sweep"
LABEL_RUN = f"{api.GROUP}/run"
ANNOTATION_SPEC = f"{api.GROUP}/recurring-spec"
#: Longest wait between two looks at the clock: a slot is noticed within it (the wait is
#: the time to the next slot when shorter, and the tick interval under a test clock).
MAX_WAIT_S = 300.0
RETRY_S = 30.0


class ClockError(ValueError):
    """The clock file does not hold an ISO-8601 time."""


def operator_now(clock_file: str | None) -> dt.datetime:
    """Now, in UTC: the time written in ``clock_file`` when set (a testing aid), else the
    system clock. A naive time in the file is taken as UTC."""
    if not clock_file:
        return dt.datetime.now(dt.UTC)
    text = Path(clock_file).read_text(encoding="utf-8").strip()
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ClockError(f"{clock_file}: {text!r} is not an ISO-8601 time such as "
                         "2026-07-01T06:00:00Z") from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


class SweepsApi(Protocol):
    """The API calls of a recurring sweep's step."""

    async def list_sweeps(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """TuningSweeps of the namespace matching a label selector."""

    async def create_sweep(self, namespace: str, body: dict[str, Any]) -> bool:
        """Create a TuningSweep; False when one of that name exists already."""

    async def delete_sweep(self, namespace: str, name: str) -> None:
        """Delete a TuningSweep (gone already is fine)."""

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Merge-patch a sweep's status."""


def child_manifest(parent: SweepBody, run: str) -> dict[str, Any]:
    """The child TuningSweep of run ``run``: the parent's spec without the schedule."""
    meta = parent["metadata"]
    spec = json.loads(json.dumps(parent.get("spec") or {}))
    for key in ("schedule", "historyLimit"):
        spec.pop(key, None)
    (spec.get("search") or {}).pop("warmStart", None)
    return {
        "apiVersion": api.API_VERSION, "kind": api.KIND,
        "metadata": {
            "name": f"{meta['name']}-{run}", "namespace": meta["namespace"],
            "labels": {LABEL_PARENT: meta["name"], LABEL_RUN: run},
            "annotations": {ANNOTATION_SPEC: json.dumps(parent.get("spec") or {},
                                                        sort_keys=True)},
            "ownerReferences": [{"apiVersion": api.API_VERSION, "kind": api.KIND,
                                 "name": meta["name"], "uid": meta["uid"],
                                 "controller": True}],
        },
        "spec": spec,
    }


def _child_run(body: SweepBody, parent_uid: str) -> ChildRun | None:
    meta = body.get("metadata") or {}
    owners = meta.get("ownerReferences") or []
    run = (meta.get("labels") or {}).get(LABEL_RUN)
    if not run or not any(o.get("uid") == parent_uid for o in owners):
        return None  # another object's label, not our child
    return ChildRun(run, meta.get("name", ""), str((body.get("status") or {}).get("phase") or ""))


def status_fields(history: list[HistoryRow], decision: RunsDecision, active: str | None,
                  last_started: str | None) -> dict[str, Any]:
    """The recurring sweep's ``status.recurring``: what ``kubectl get`` shows."""
    last = history[-1] if history else None
    out: dict[str, Any] = {
        "lastStarted": last_started,
        "active": active,
        "next": decision.next_slot.strftime("%Y-%m-%dT%H:%MZ") if decision.next_slot else None,
        "waiting": (f"run {decision.waiting} waits for run {decision.blocked_by} to finish "
                    "(runs never overlap)") if decision.waiting else None,
        "runs": len(history),
        "lastRun": last.run if last else None,
        "winner": (", ".join(f"{k}={v}" for k, v in sorted(last.best_params.items()))
                   if last and last.best_params else (last.best if last else None)),
        "objective": last.objective if last else None,
        "changed": last.changed if last else None,
        "verdict": last.verdict_text if last else None,
        "trained": last.trained if last else None,
        "reused": last.reused if last else None,
        # What reuse saved: GPU-hours, or trial-hours when the trials had no GPU.
        "gpuHoursSaved": round(last.gpu_seconds_saved / 3600, 4) if last else None,
        "trialHoursSaved": round(last.trial_seconds_saved / 3600, 4) if last else None,
    }
    return out


class RecurringSweep:
    """The state and the step of one recurring TuningSweep."""

    def __init__(self, settings: OperatorSettings, api_: SweepsApi, emit: Emit,
                 namespace: str, name: str, uid: str, open_store: OpenStore) -> None:
        self.settings = settings
        self.api = api_
        self.emit = emit
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.open_store = open_store
        self.phase = ""
        self._waiting_said: str | None = None

    async def step(self, body: SweepBody) -> float:
        """One look at the clock, the children and the history; the seconds to wait."""
        status = body.get("status") or {}
        try:
            sweep = parse_spec(body.get("spec") or {}, self.name, self.namespace)
        except InvalidSpec as exc:
            await self._fail("InvalidSpec", "; ".join(e.render() for e in exc.errors), status)
            return MAX_WAIT_S
        prefix = sweep.spec.results or self.settings.results_default
        if not prefix:
            await self._fail("InvalidSpec", SpecError(
                "spec.output.results", "is required on a cluster", "set it to "
                "gs://BUCKET/PREFIX (or configure the operator's default results "
                "location)").render(), status)
            return MAX_WAIT_S
        assert sweep.spec.schedule is not None
        schedule = parse_schedule(sweep.spec.schedule)
        store = self.open_store(prefix)
        top = layout.sweep_folder(self.namespace, self.name)
        children = [c for c in (_child_run(sweep_body(b), self.uid) for b in await self.api.list_sweeps(
            self.namespace, f"{LABEL_PARENT}={self.name}")) if c is not None]
        history = await asyncio.to_thread(read_history, store, top)
        recorded = {h.run for h in history}
        for child in sorted(children, key=lambda c: c.run):
            if child.phase == "Succeeded" and child.run not in recorded:
                row = await asyncio.to_thread(self._record, store, sweep, child)
                history = await asyncio.to_thread(read_history, store, top)
                recorded.add(child.run)
                self._announce(row, store.uri_for(layout.join(top, HISTORY_CSV)))
        last_started = (status.get("recurring") or {}).get("lastStarted")
        now = operator_now(self.settings.clock_file)
        decision = decide_runs(schedule, now, children, recorded, last_started,
                               sweep.spec.history_limit)
        active = next((c.name for c in children if not c.finished), None)
        if sweep.spec.suspend and decision.start is not None:
            # As a suspended CronJob: no run starts; the due one starts once resumed.
            decision = dataclasses.replace(decision, start=None)
        if decision.start is not None:
            manifest = child_manifest(body, decision.start)
            created = await self.api.create_sweep(self.namespace, manifest)
            if created:
                self.emit("Normal", "RunStarted", f"run {decision.start}: created "
                          f"TuningSweep {manifest['metadata']['name']}")
            last_started, active = decision.start, manifest["metadata"]["name"]
        if decision.waiting is not None and decision.waiting != self._waiting_said:
            self._waiting_said = decision.waiting
            self.emit("Normal", "RunWaiting", f"the slot of run {decision.waiting} came while "
                      f"run {decision.blocked_by} is still running; it starts when that "
                      "run finishes (runs never overlap)")
        for name in decision.prune:
            await self.api.delete_sweep(self.namespace, name)
            self.emit("Normal", "RunDeleted", f"TuningSweep {name} deleted (historyLimit "
                      f"{sweep.spec.history_limit}); its results stay in "
                      f"{store.uri_for(top)}")
        self.phase = "Running" if active else "Suspended" if sweep.spec.suspend else "Scheduled"
        await self._report(history, decision, active, last_started, status)
        until = ((decision.next_slot - now).total_seconds()
                 if decision.next_slot is not None else MAX_WAIT_S)
        cap = self.settings.tick_interval if self.settings.clock_file else MAX_WAIT_S
        return max(0.5, min(until + 0.5, cap))

    def _record(self, store: Store, sweep: Sweep, child: ChildRun) -> HistoryRow:
        """Write the history row of a succeeded run (the same writer as ``tuningsweep run``)."""
        picked = recurring_run(sweep, child.run)
        windows = windows_from_data(json.loads(
            store.read_text(layout.join(picked.folder, "windows.json")) or "{}")["windows"])
        # The run's start was pinned (seeds, reuse.json) by the child before its first
        # trial: read back, nothing is chosen or fingerprinted again.
        start = begin(picked, store, windows, [], sweep.spec.data, reuse=True)
        rows = parse_csv(store.read_text(layout.join(picked.folder, layout.RESULTS_CSV)) or "")
        return finish(picked, store, start, rows, windows)

    def _announce(self, row: HistoryRow, history_uri: str) -> None:
        self.emit("Normal", "RunFinished", f"run {row.run}: {row.verdict_text}; "
                  f"{row.trained} trials trained, {row.reused} reused; history: {history_uri}")
        if row.verdict == "new":
            self.emit("Normal", "WinnerChanged", f"run {row.run}: {row.verdict_text}")

    async def _report(self, history: list[HistoryRow], decision: RunsDecision,
                      active: str | None, last_started: str | None,
                      status: SweepStatus) -> None:
        fields = status_fields(history, decision, active, last_started)
        last = history[-1] if history else None
        conditions = [c for c in status.get("conditions") or []
                      if c.get("type") not in ("WinnerChanged", "Failed")]
        if last is not None:
            conditions.append({
                "type": "WinnerChanged", "status": "True" if last.verdict == "new" else "False",
                "reason": {"new": "NewWinner", "keep": "ChampionKept", "left": "ChampionLeft",
                           "first": "FirstRun"}.get(last.verdict, "NoWinner"),
                "message": f"run {last.run}: {last.verdict_text}",
                "lastTransitionTime": _transition(status, "WinnerChanged", last.run)})
        patch = {"phase": self.phase, "recurring": fields, "conditions": conditions}
        if patch != {k: status.get(k) for k in patch}:
            await self.api.patch_status(self.namespace, self.name, patch)
        metrics.RECURRING_CHANGED.labels(self.namespace, self.name).set(
            1 if last is not None and last.verdict == "new" else 0)
        if last is not None:
            finished = dt.datetime.fromisoformat(last.run).replace(tzinfo=dt.UTC)
            metrics.RECURRING_LAST_RUN.labels(self.namespace, self.name).set(
                finished.timestamp())

    async def _fail(self, reason: str, message: str, status: SweepStatus) -> None:
        self.phase = "Failed"
        if status.get("phase") == "Failed":
            return
        self.emit("Warning", reason, message)
        await self.api.patch_status(self.namespace, self.name, {
            "phase": "Failed", "conditions": [{"type": "Failed", "status": "True",
                                               "reason": reason, "message": message}]})


def _transition(status: SweepStatus, type_: str, run: str) -> str:
    """The condition's transition time: kept while it describes the same run."""
    for condition in status.get("conditions") or []:
        if condition.get("type") == type_ and str(condition.get("message", "")).startswith(
                f"run {run}:"):
            return str(condition.get("lastTransitionTime"))
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
