"""Creating a sweep's Jobs: deterministic names, "already exists" is success.

A Job created by an earlier step may not have reached the Job watch yet; creating it
again would only cost a 409, but a 409 costs an API write, so created Jobs are
remembered until the watch shows them. A Job deleted by hand before the watch saw it
must be created again, so the memory lasts :data:`CREATED_MEMORY_S`. A 409 for a Job
that never reaches the watch means someone else's Job has the name (our own reach it in
milliseconds): that is a ``JobConflict`` condition and Event, not a silent stall.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Sequence

from ..core.kube.jobs import build_job
from ..core.kube.packing import build_pack_job
from ..core.planning.planner import Trial
from ..core.records import naming
from ..core.records.contract import trial_model_uri
from ..core.spec.parse import Sweep
from .ports import JobsApi
from .status_writer import StatusWriter

CREATED_MEMORY_S = 30.0


class JobCreator:
    """Creates one sweep's Jobs and remembers those the watch has not shown yet."""

    def __init__(self, api: JobsApi, status: StatusWriter, namespace: str, owner_uid: str,
                 pushgateway: str) -> None:
        self.api = api
        self.status = status
        self.namespace = namespace
        self.owner_uid = owner_uid
        self.pushgateway = pushgateway
        # trial -> (when created, answered 409); created but not yet seen by the watch
        self._created: dict[str, tuple[float, bool]] = {}
        self._lead: dict[str, str] = {}  # a packed trial created -> its Job's lead trial

    @property
    def in_flight(self) -> Collection[str]:
        """Trials created and not yet seen by the watch (they hold a slot)."""
        return self._created.keys()

    @property
    def in_flight_pods(self) -> int:
        """Jobs created and not yet seen by the watch (a pack is one)."""
        return len({self._lead.get(t, t) for t in self._created})

    def forget_seen(self, observed: Collection[str], sweep_name: str) -> None:
        """Forget Jobs the watch shows, and those it never showed within the memory."""
        horizon = time.monotonic() - CREATED_MEMORY_S
        # A pack is seen once any of its trials is (a failed pack's unstarted trials are
        # never observed: they go back to the plan).
        packs_seen = {self._lead[t] for t in observed if t in self._lead}
        for trial_id, (at, conflicted) in list(self._created.items()):
            if trial_id in observed or self._lead.get(trial_id) in packs_seen:
                del self._created[trial_id]
            elif at <= horizon:
                del self._created[trial_id]
                if conflicted:
                    self._report_conflict(naming.job_name(
                        sweep_name, self._lead.get(trial_id, trial_id)))
            else:
                continue
            self._lead.pop(trial_id, None)

    async def create(self, sweep: Sweep, trials: Iterable[Trial], models_uri: str) -> None:
        """Create the trials' Jobs, in order."""
        for trial in trials:
            job = build_job(sweep, trial, owner_uid=self.owner_uid,
                            pushgateway=self.pushgateway,
                            model_uri=trial_model_uri(models_uri, trial.id))
            exists = not await self.api.create_job(self.namespace, job)
            self._created[trial.id] = (time.monotonic(), exists)

    async def create_packs(self, sweep: Sweep, packs: Iterable[Sequence[Trial]],
                           models_uri: str) -> None:
        """Create one Job per pack (``spec.trainer.trialsPerPod``), named after its lead."""
        for pack in packs:
            job = build_pack_job(sweep, pack, models_uri=models_uri,
                                 owner_uid=self.owner_uid, pushgateway=self.pushgateway)
            exists = not await self.api.create_job(self.namespace, job)
            for trial in pack:
                self._created[trial.id] = (time.monotonic(), exists)
                self._lead[trial.id] = pack[0].id

    def _report_conflict(self, job_name: str) -> None:
        message = (f"Job {job_name} exists and is not owned by this sweep; delete it "
                   "(kubectl delete job ...) or rename the sweep")
        if not self.status.has_condition("JobConflict"):
            self.status.emit("Warning", "JobConflict", message)
        self.status.condition("JobConflict", True, "ForeignJob", message)
