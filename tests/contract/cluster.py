"""The operator's reconciler driven against in-memory fakes of its ports.

No API server, Prometheus or Pushgateway here: :class:`~tests.controller.fakes.ProcessJobs`
is the Jobs API and the node in one (a created Job runs its container command as a local
process at once, with the Job's environment), and
:class:`~tests.controller.fakes.FakeMetrics` plays Prometheus by reading what the trainer
reported through the real :class:`tuningsweep.reporting.Reporter` into a metrics file.
The reconciler itself, its decision core and its results store are the real ones. The
end-to-end tests in tests/kube run the same reconciler against a real API server,
Prometheus and Pushgateway; these run in milliseconds per step and let the contract
tests compare the operator with the local executor.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.controller.fakes import FakeGroups, FakeMetrics, ProcessJobs
from tuningsweep.controller.reconciler import SweepReconciler
from tuningsweep.controller.settings import OperatorSettings
from tuningsweep.io.storage import open_store

UID = "uid-contract"
FakeCluster = ProcessJobs  # the name the contract tests use: the API and its node


def reconciler(cluster: FakeCluster, name: str, namespace: str,
               results: str) -> SweepReconciler:
    """A reconciler over the fakes, with the status patched as often as it changes."""
    settings = OperatorSettings(status_interval=0.0, tick_interval=0.05,
                                results_default=results, job_retention=0.0)
    return SweepReconciler(settings, cluster, cluster.emit, namespace, name, cluster.uid,
                           metrics_source=FakeMetrics(cluster.folder), cleaner=FakeGroups(),
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

