"""Kueue, end to end: a sweep with ``spec.trainer.queueName`` hands its Jobs to a queue.

No Kueue runs next to the emulator, so the test admits Jobs itself the way Kueue does
(``sweeps.admit_queued``): it unsuspends them when it decides the queue has room. Until then
the Jobs exist, suspended and labelled, hold places in ``parallelism``, and run nothing.
"""

from __future__ import annotations

from typing import Any

from google.cloud import storage

from tests.operator.emulator import EmulatorProcess
from tests.operator.node_agent import NodeAgent
from tests.operator.operator_process import OperatorProcess, wait_until
from tests.operator.sweeps import (
    JOBS,
    NS,
    QUEUE_LABEL,
    SWEEPS,
    admit_queued,
    results_rows,
    status_of,
    sweep_manifest,
)


def queued_sweep(name: str, bucket: str) -> dict[str, Any]:
    body = sweep_manifest(name, bucket, configs=2, windows=2, parallelism=2)
    body["spec"]["trainer"].update(queueName="gpu-queue", priorityClassName="tuning-low")
    return body


def suspended_jobs(k8s: EmulatorProcess) -> list[dict[str, Any]]:
    return [j for j in k8s.client.list(JOBS, NS)["items"] if j["spec"].get("suspend")]


def test_queued_jobs_wait_for_admission_within_parallelism_then_run(
    k8s_emulator: EmulatorProcess, agent: NodeAgent, operator: OperatorProcess,
    gcs_bucket: str, gcs_client: storage.Client,
) -> None:
    operator.start()
    k8s_emulator.client.create(SWEEPS, queued_sweep("queued", gcs_bucket))
    first = wait_until(lambda: len(jobs := suspended_jobs(k8s_emulator)) == 2 and jobs,
                       what="two suspended Jobs")
    for job in first:
        assert job["metadata"]["labels"][QUEUE_LABEL] == "gpu-queue"
        assert job["spec"]["template"]["spec"]["priorityClassName"] == "tuning-low"
    # Queued Jobs hold their places in parallelism (2): no third Job, nothing runs.
    wait_until(lambda: status_of(k8s_emulator, "queued").get("phase") == "Running",
               what="phase Running")
    assert len(k8s_emulator.client.list(JOBS, NS)["items"]) == 2
    assert agent.runs() == []
    # Kueue admits them one after another; every Job the sweep creates is queued first.
    admitted: set[str] = set()

    def admit_the_queue() -> bool:
        admitted.update(admit_queued(k8s_emulator))
        return status_of(k8s_emulator, "queued").get("phase") == "Succeeded"
    wait_until(admit_the_queue, timeout=90, interval=0.3, what="the sweep to succeed")
    assert len(admitted) == 4 and agent.max_running <= 2
    rows = results_rows(gcs_client, gcs_bucket, "queued")
    assert sorted(r["status"] for r in rows) == ["succeeded"] * 4


def test_status_counts_queued_trials_apart_from_running_ones(
    k8s_emulator: EmulatorProcess, agent: NodeAgent, operator: OperatorProcess,
    gcs_bucket: str,
) -> None:
    operator.start()
    k8s_emulator.client.create(SWEEPS, queued_sweep("counted", gcs_bucket))
    status = wait_until(lambda: (s := status_of(k8s_emulator, "counted"))
                        .get("trials", {}).get("queued") == 2 and s, timeout=10,
                        what="two queued trials in status")
    assert status["trials"]["running"] == 0 and status["trials"]["pending"] == 2
