"""Packed trials (spec.trainer.trialsPerPod) on the real control plane: the Job controller
runs each pack's pod on a stand-in node, the pod runs its trials one after another in one
process (the fake trainer as a trainer function), Prometheus scrapes what each trial
pushed.

What a user relies on: every packed trial gets its own row (and its own model location
and Pushgateway group); a pod that dies fails only the trial it was running, and only the
trials it never reached run again, in a new Job; a killed operator neither loses nor
doubles a row nor creates a Job twice; Kueue admits a pack as one workload.
"""

from __future__ import annotations

import time
from typing import Any

from google.cloud import storage

from tests.kube.client import wait_until
from tests.kube.conftest import Kube
from tests.kube.sweeps import (
    SWEEPS,
    max_concurrent_pods,
    pushgateway_groups,
    results_rows,
    status_of,
    sweep_manifest,
    wait_phase,
)
from tests.kube.test_queues import admitted_workloads, gpu_queue
from tests.operator.operator_process import OperatorProcess
from tests.services import Pushgateway

FUNCTION = "tests.local.fake_trainer:main"


def packed_manifest(name: str, namespace: str, bucket: str, *, env: dict[str, str],
                    configs: int = 3, parallelism: int = 2) -> dict[str, Any]:
    """``configs`` configurations on two windows, three trials of one window per pod."""
    manifest = sweep_manifest(name, namespace, bucket, configs=configs, windows=2,
                              parallelism=parallelism, env=env)
    trainer = manifest["spec"]["trainer"]
    del trainer["command"]
    trainer.update({"function": FUNCTION, "trialsPerPod": 3})
    return manifest


def job_creates(kube: Kube) -> list[str]:
    """Names of the Jobs the operator created (201), from the audit log."""
    return [c.name for c in kube.audit() if c.verb == "create" and c.resource == "jobs"
            and c.code == 201]


def rows_by_trial(gcs: storage.Client, bucket: str, ns: str, name: str
                  ) -> dict[str, dict[str, str]]:
    rows = results_rows(gcs, bucket, ns, name)
    by_trial = {r["trial"]: r for r in rows}
    assert len(by_trial) == len(rows), "a trial has two rows"
    return by_trial


def test_packed_trials_each_get_their_row_from_one_pod_per_window(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str, gcs_client: storage.Client,
    pushgateway: Pushgateway,
) -> None:
    ns = kube.namespace
    kube_operator.start()
    kube.client.create(SWEEPS, packed_manifest("packed", ns, gcs_bucket,
                                               env={"FAKE_SLEEP": "0.3"}))
    wait_phase(kube.client, ns, "packed", "Succeeded", timeout=120, operator=kube_operator)
    rows = rows_by_trial(gcs_client, gcs_bucket, ns, "packed")
    assert sorted(rows) == sorted(f"c000{c}-w{w}" for c in range(3) for w in range(2))
    assert all(r["status"] == "succeeded" for r in rows.values())
    # Two pods, one per window, each named after its first trial; a row names its pod's Job.
    assert sorted(job_creates(kube)) == ["packed-c0000-w0", "packed-c0000-w1"]
    for trial, row in rows.items():
        assert row["job"] == f"packed-c0000-{trial.split('-')[1]}"
        assert row["model_uri"].endswith(f"/{trial}")  # each trial its own model
        assert float(row["duration_seconds"]) < 5  # its own time, not the pod's
    # Each trial's objective is its own (the fake trainer's value depends on its params).
    assert len({r["metric.val_mse"] for r in rows.values() if r["window"] == "w0"}) == 3
    assert pushgateway_groups(pushgateway.url, ns, "packed") == []


def test_a_killed_pod_fails_the_trial_it_ran_and_only_unstarted_trials_run_again(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str, gcs_client: storage.Client,
) -> None:
    ns = kube.namespace
    kube_operator.start()
    # c0001's trials kill their pod's process (as the out-of-memory killer would).
    kube.client.create(SWEEPS, packed_manifest(
        "killed", ns, gcs_bucket, env={"FAKE_SLEEP": "0.3", "FAKE_KILL_CONFIGS": "c0001"}))
    wait_phase(kube.client, ns, "killed", "Succeeded", timeout=120, operator=kube_operator)
    rows = rows_by_trial(gcs_client, gcs_bucket, ns, "killed")
    assert len(rows) == 6
    for window in ("w0", "w1"):
        assert rows[f"c0000-{window}"]["status"] == "succeeded"
        assert rows[f"c0001-{window}"]["status"] == "failed"
        assert rows[f"c0001-{window}"]["job"] == f"killed-c0000-{window}"
        # The trial the pod never reached ran in a new Job of its own, once.
        assert rows[f"c0002-{window}"]["status"] == "succeeded"
        assert rows[f"c0002-{window}"]["job"] == f"killed-c0002-{window}"
    assert sorted(job_creates(kube)) == ["killed-c0000-w0", "killed-c0000-w1",
                                         "killed-c0002-w0", "killed-c0002-w1"]


def test_a_killed_operator_loses_and_doubles_nothing_in_a_packed_sweep(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str, gcs_client: storage.Client,
    pushgateway: Pushgateway,
) -> None:
    ns = kube.namespace
    kube_operator.start()
    kube.client.create(SWEEPS, packed_manifest("crash", ns, gcs_bucket, configs=6,
                                               env={"FAKE_SLEEP": "0.8"}))
    # Die once the first packed trial is recorded while its pod still runs the others,
    # then again right after a restart.
    wait_until(lambda: results_rows(gcs_client, gcs_bucket, ns, "crash"), 90, 0.1,
               what="a first row")
    kube_operator.kill()
    kube_operator.start()
    wait_until(lambda: len(results_rows(gcs_client, gcs_bucket, ns, "crash")) >= 4, 90, 0.1,
               what="four rows")
    kube_operator.kill()
    kube_operator.start()
    wait_phase(kube.client, ns, "crash", "Succeeded", timeout=180, operator=kube_operator)
    rows = rows_by_trial(gcs_client, gcs_bucket, ns, "crash")
    assert sorted(rows) == sorted(f"c000{c}-w{w}" for c in range(6) for w in range(2))
    assert all(r["status"] == "succeeded" for r in rows.values())
    creates = job_creates(kube)
    assert len(creates) == len(set(creates)) == 4, creates  # 12 trials, 3 per pod
    assert pushgateway_groups(pushgateway.url, ns, "crash") == []


def test_kueue_admits_a_pack_as_one_workload_of_one_pods_gpu(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str, gcs_client: storage.Client,
) -> None:
    ns = kube.namespace
    with gpu_queue(kube, gpus=1):
        kube_operator.start()
        body = packed_manifest("queued", ns, gcs_bucket, env={"FAKE_SLEEP": "0.3"},
                               parallelism=2)
        body["spec"]["trainer"]["queueName"] = "gpu-queue"
        kube.client.create(SWEEPS, body)
        most_admitted = 0
        deadline = time.monotonic() + 120
        while status_of(kube.client, ns, "queued").get("phase") != "Succeeded":
            most_admitted = max(most_admitted, len(admitted_workloads(kube.client, ns)))
            assert time.monotonic() < deadline, "the queued packed sweep did not finish"
            time.sleep(0.2)
    # One GPU of quota: one pack at a time, each pack one workload of one GPU.
    assert most_admitted == 1
    assert max_concurrent_pods(kube, ns, "queued") == 1
    assert sorted(job_creates(kube)) == ["queued-c0000-w0", "queued-c0000-w1"]
    rows = rows_by_trial(gcs_client, gcs_bucket, ns, "queued")
    assert len(rows) == 6 and all(r["status"] == "succeeded" for r in rows.values())
