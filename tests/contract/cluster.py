"""The operator's reconciler driven against in-memory fakes of its ports.

No API server, Prometheus or Pushgateway here: :class:`FakeCluster` is the Jobs API and
the node in one (a created Job runs its container command as a local process at once,
with the Job's environment), and :class:`FileMetrics` plays Prometheus by reading what
the trainer reported through the real :class:`tuningsweep.reporting.Reporter` into a
metrics file. The reconciler itself, its decision core and its results store are the
real ones. The end-to-end tests in tests/operator run the same reconciler against the
API emulator and real Prometheus and Pushgateway servers; these run in milliseconds per
step and let the contract tests compare the operator with the local executor.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tuningsweep.controller.ports import TrialMetrics
from tuningsweep.controller.reconciler import SweepReconciler
from tuningsweep.controller.settings import OperatorSettings
from tuningsweep.core.contract import ENV_METRICS_FILE, ENV_PUSHGATEWAY, parse_metrics_log
from tuningsweep.core.jobs import EXIT_BAD_INPUT, LABEL_TRIAL, REASON_POD_FAILURE_POLICY, JobState
from tuningsweep.io.storage import open_store

UID = "uid-contract"


class FakeCluster:
    """Jobs API (create, status) and a node that runs each Job's container at once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.jobs: dict[str, JobState] = {}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.status: dict[str, Any] = {}
        self.creates = 0
        self.finished = 0  # Jobs seen finished, deleted ones included
        self.events: list[tuple[str, str, str]] = []

    async def create_job(self, namespace: str, body: dict[str, Any]) -> bool:
        self.creates += 1
        trial = body["metadata"]["labels"][LABEL_TRIAL]
        if trial in self.jobs:
            return False
        container = body["spec"]["template"]["spec"]["containers"][0]
        env = dict(os.environ)
        env.update({e["name"]: e["value"] for e in container["env"]})
        env.pop(ENV_PUSHGATEWAY, None)  # "Prometheus" here is the metrics file
        env[ENV_METRICS_FILE] = str(self.folder / f"{trial}.jsonl")
        self.processes[trial] = subprocess.Popen(
            [*container["command"], *container.get("args", [])], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.jobs[trial] = JobState(trial, "active", start=time.time(), owner=UID)
        return True

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.status.update(status)

    async def delete_jobs(self, namespace: str, sweep: str, trials: Sequence[str]) -> None:
        for trial in trials:
            if trial not in self.jobs:
                continue
            process = self.processes.pop(trial)
            if process.poll() is None:
                process.kill()
                process.wait()
            del self.jobs[trial]

    async def failure_message(self, namespace: str, job: str) -> str:
        return ""

    def emit(self, type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason, message))

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


class FileMetrics:
    """The metrics source: the final record of each trial's metrics file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def query_trials(self, namespace: str, sweep: str,
                           trials: list[str]) -> dict[str, TrialMetrics]:
        out = {}
        for trial in trials:
            path = self.folder / f"{trial}.jsonl"
            if path.exists():
                log = parse_metrics_log(path.read_text())
                if log.final is not None:
                    out[trial] = TrialMetrics(dict(log.final), finished=True)
        return out

    async def query_curves(self, namespace: str, sweep: str, trials: list[str], metric: str,
                           since: float, until: float) -> dict[str, dict[int, float]]:
        out = {}
        for trial in trials:
            path = self.folder / f"{trial}.jsonl"
            if path.exists():
                log = parse_metrics_log(path.read_text())
                out[trial] = {e: m[metric] for e, m in log.epochs.items() if metric in m}
        return out


class NoGroups:
    """The Pushgateway cleaner: nothing was pushed."""

    async def delete_groups(self, namespace: str, sweep: str, trials: Iterable[str]) -> None:
        return None

    async def leftover_groups(self, namespace: str, sweep: str) -> list[str]:
        return []


def reconciler(cluster: FakeCluster, name: str, namespace: str,
               results: str) -> SweepReconciler:
    """A reconciler over the fakes, with the status patched as often as it changes."""
    settings = OperatorSettings(status_interval=0.0, tick_interval=0.05,
                                results_default=results, job_retention=0.0)
    return SweepReconciler(settings, cluster, cluster.emit, namespace, name, UID,
                           metrics_source=FileMetrics(cluster.folder), cleaner=NoGroups(),
                           open_store=open_store)


async def reconcile(cluster: FakeCluster, rec: SweepReconciler, body: dict[str, Any],
                    until_finished: int | None = None, timeout: float = 60.0) -> None:
    """Step until the sweep is done (or failed, or held, with nothing left running).

    ``until_finished`` stops earlier, once that many Jobs have finished: a test then
    drops the reconciler without closing it, as a killed operator would.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cluster.poll()
        body["status"] = dict(cluster.status)
        result = await rec.step(body, list(cluster.jobs.values()))
        if result.done:
            return
        if rec.phase in ("Failed", "Suspended") and cluster.running == 0 and all(
                j.finished for j in cluster.jobs.values()):
            await rec.close()
            return
        if until_finished is not None and cluster.finished >= until_finished:
            return
        await asyncio.sleep(0.02)
    raise TimeoutError("the sweep did not finish")

