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
from collections.abc import Collection, Iterable

from ..core.kube.jobs import build_job
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

    @property
    def in_flight(self) -> Collection[str]:
        """Trials created and not yet seen by the watch (they hold a slot)."""
        return self._created.keys()

    def forget_seen(self, observed: Collection[str], sweep_name: str) -> None:
        """Forget Jobs the watch shows, and those it never showed within the memory."""
        horizon = time.monotonic() - CREATED_MEMORY_S
        for trial_id, (at, conflicted) in list(self._created.items()):
            if trial_id in observed:
                del self._created[trial_id]
            elif at <= horizon:
                del self._created[trial_id]
                if conflicted:
                    self._report_conflict(naming.job_name(sweep_name, trial_id))

    async def create(self, sweep: Sweep, trials: Iterable[Trial], models_uri: str) -> None:
        """Create the trials' Jobs, in order."""
        for trial in trials:
            job = build_job(sweep, trial, owner_uid=self.owner_uid,
                            pushgateway=self.pushgateway,
                            model_uri=trial_model_uri(models_uri, trial.id))
            exists = not await self.api.create_job(self.namespace, job)
            self._created[trial.id] = (time.monotonic(), exists)

    def _report_conflict(self, job_name: str) -> None:
        message = (f"Job {job_name} exists and is not owned by this sweep; delete it "
                   "(kubectl delete job ...) or rename the sweep")
        if not self.status.has_condition("JobConflict"):
            self.status.emit("Warning", "JobConflict", message)
        self.status.condition("JobConflict", True, "ForeignJob", message)
