"""One set of in-memory fakes for the reconciler's ports (``controller/ports.py``).

* :class:`FakeJobs` is the Jobs API: it records what the reconciler creates, deletes and
  writes to the status. The test plays the cluster (it sets each Job's state).
* :class:`ProcessJobs` is the same API with a node behind it: a created Job's container
  command runs at once as a local process (the contract tests compare the operator with
  the local runner this way), and :meth:`ProcessJobs.poll` writes Job status as the Job
  controller would.
* :class:`FakeMetrics` is Prometheus: what trials reported, as the test sets it or, with
  a folder, as the trainers wrote it through the real ``Reporter`` into metrics files.
* :class:`FakeGroups` is the Pushgateway cleaner.

The end-to-end tests (tests/kube) run the same reconciler against a real API server,
Prometheus and Pushgateway.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from kubernetes.client.exceptions import ApiException

from tuningsweep.controller.ports import TrialMetrics
from tuningsweep.core.kube.jobs import (
    EXIT_BAD_INPUT,
    LABEL_TRIAL,
    REASON_POD_FAILURE_POLICY,
    JobState,
)
from tuningsweep.core.kube.packing import TrialRecord
from tuningsweep.core.records.contract import ENV_METRICS_FILE, ENV_PUSHGATEWAY, parse_metrics_log
from tuningsweep.core.records.naming import job_name

UID = "uid-1"


class FakeJobs:
    """The Jobs API and the sweep's status, recorded."""

    def __init__(self, uid: str = UID) -> None:
        self.uid = uid
        self.created: list[str] = []  # trials, in creation order
        self.deleted: list[str] = []  # Job names
        self.creates = 0  # calls, refused ones (already exists) included
        self.delete_calls = 0
        self.status: dict[str, Any] = {}
        self.events: list[tuple[str, str, str]] = []
        self.refuse: ApiException | None = None  # raised by every create when set

    async def create_job(self, namespace: str, body: dict[str, Any]) -> bool:
        self.creates += 1
        if self.refuse is not None:
            raise self.refuse
        trial = body["metadata"]["labels"][LABEL_TRIAL]
        if trial in self.created:
            return False
        self.created.append(trial)
        self.started(trial, body)
        return True

    def started(self, trial: str, body: dict[str, Any]) -> None:
        """A Job was created (the test plays the cluster: nothing runs)."""

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.status.update(status)

    async def delete_jobs(self, namespace: str, sweep: str, trials: Sequence[str]) -> None:
        self.delete_calls += 1
        self.deleted.extend(job_name(sweep, t) for t in trials)

    async def failure_message(self, namespace: str, job: str) -> str:
        return f"RuntimeError: out of memory in {job}"

    def emit(self, type_: str, reason: str, message: str) -> None:
        """The reconciler's Event sink."""
        self.events.append((type_, reason, message))


class ProcessJobs(FakeJobs):
    """The Jobs API with a node: each created Job's container runs as a local process.

    The trainer writes its metrics to ``folder/<trial>.jsonl`` (read by a
    :class:`FakeMetrics` on the same folder) instead of pushing them.
    """

    def __init__(self, folder: Path, uid: str = UID) -> None:
        super().__init__(uid)
        self.folder = folder
        self.jobs: dict[str, JobState] = {}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.finished = 0  # Jobs seen finished, deleted ones included

    def started(self, trial: str, body: dict[str, Any]) -> None:
        container = body["spec"]["template"]["spec"]["containers"][0]
        env = dict(os.environ)
        env.update({e["name"]: e["value"] for e in container["env"]})
        env.pop(ENV_PUSHGATEWAY, None)  # "Prometheus" here is the metrics file
        env[ENV_METRICS_FILE] = str(self.folder / f"{trial}.jsonl")
        self.processes[trial] = subprocess.Popen(
            [*container["command"], *container.get("args", [])], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.jobs[trial] = JobState(trial, "active", start=time.time(), owner=self.uid)

    async def delete_jobs(self, namespace: str, sweep: str, trials: Sequence[str]) -> None:
        await super().delete_jobs(namespace, sweep, trials)
        for trial in trials:
            if trial not in self.jobs:
                continue
            process = self.processes.pop(trial)
            if process.poll() is None:
                process.kill()
                process.wait()
            del self.jobs[trial]
            self.created.remove(trial)  # gone: a new Job of this trial may be created

    async def failure_message(self, namespace: str, job: str) -> str:
        return ""

    def poll(self) -> None:
        """Write the Job status of finished processes, as the Job controller would."""
        for trial, process in self.processes.items():
            job = self.jobs[trial]
            if job.finished or process.poll() is None:
                continue
            self.finished += 1
            if process.returncode == 0:
                self.jobs[trial] = job._replace(phase="succeeded", end=time.time())
            elif process.returncode == EXIT_BAD_INPUT:
                # The Job's podFailurePolicy: exit code 2 fails the Job at once.
                self.jobs[trial] = job._replace(
                    phase="failed", end=time.time(), reason=REASON_POD_FAILURE_POLICY,
                    message=f"Container trainer for pod {trial} failed "
                            "with exit code 2 matching FailJob rule at index 0")
            else:
                self.jobs[trial] = job._replace(
                    phase="failed", end=time.time(), reason="BackoffLimitExceeded",
                    message="Job has reached the specified backoff limit")

    @property
    def running(self) -> int:
        return sum(1 for j in self.jobs.values() if not j.finished)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


class FakeMetrics:
    """Prometheus: each trial's latest metrics and its objective per epoch.

    Without a folder the test sets ``reported`` and ``curves``. With one, they are read
    from the trainers' metrics files as Prometheus would hold them: the trainer reports
    every metric at each epoch and once more at the end, and the latest report counts
    (finished once the final one is there).
    """

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self.reported: dict[str, TrialMetrics] = {}
        self.curves: dict[str, dict[str, dict[int, float]]] = {}  # trial -> metric -> curve

    def _read(self, trials: Iterable[str]) -> None:
        if self.folder is None:
            return
        for trial in trials:
            path = self.folder / f"{trial}.jsonl"
            if not path.exists():
                continue
            log = parse_metrics_log(path.read_text())
            if log.final is not None:
                self.reported[trial] = TrialMetrics(dict(log.final), finished=True)
            elif log.epochs:
                self.reported[trial] = TrialMetrics(dict(log.epochs[log.last_epoch]),
                                                    finished=False)
            metrics = {m for values in log.epochs.values() for m in values}
            self.curves[trial] = {m: {e: v[m] for e, v in log.epochs.items() if m in v}
                                  for m in metrics}

    async def query_trials(self, namespace: str, sweep: str,
                           trials: list[str]) -> dict[str, TrialMetrics]:
        self._read(trials)
        return {t: self.reported[t] for t in trials if t in self.reported}

    async def query_curves(self, namespace: str, sweep: str, trials: list[str], metric: str,
                           since: float, until: float) -> dict[str, dict[int, float]]:
        self._read(trials)
        return {t: self.curves[t].get(metric, {}) for t in trials if t in self.curves}


class FakeGroups:
    """The Pushgateway cleaner: the groups the test says were pushed."""

    def __init__(self) -> None:
        self.groups: set[str] = set()
        self.records: dict[str, TrialRecord] = {}  # exit records packed pods pushed

    async def delete_groups(self, namespace: str, sweep: str, trials: Iterable[str]) -> None:
        self.groups.difference_update(trials)

    async def leftover_groups(self, namespace: str, sweep: str) -> list[str]:
        return sorted(self.groups)

    async def exit_records(self, namespace: str, sweep: str) -> dict[str, TrialRecord]:
        return {t: r for t, r in self.records.items() if t in self.groups}


class FakeSweeps:
    """The TuningSweeps API of a recurring sweep (``controller/recurring.py``): the
    objects by name, with their status; creates, deletes and status patches recorded."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.creates: list[str] = []  # names, refused ones (already exists) included
        self.deleted: list[str] = []
        self.events: list[tuple[str, str, str]] = []
        self._uids = 0

    async def list_sweeps(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        key, _, value = selector.partition("=")
        return [dict(b) for b in self.objects.values()
                if (b["metadata"].get("labels") or {}).get(key) == value]

    async def create_sweep(self, namespace: str, body: dict[str, Any]) -> bool:
        name = body["metadata"]["name"]
        self.creates.append(name)
        if name in self.objects:
            return False
        self._uids += 1
        self.objects[name] = {**body, "metadata": {**body["metadata"],
                                                   "uid": f"child-{self._uids}"},
                              "status": {}}
        return True

    async def delete_sweep(self, namespace: str, name: str) -> None:
        if self.objects.pop(name, None) is not None:
            self.deleted.append(name)

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.objects[name].setdefault("status", {}).update(status)

    def emit(self, type_: str, reason: str, message: str) -> None:
        """The recurring sweep's Event sink."""
        self.events.append((type_, reason, message))
