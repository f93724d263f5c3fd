"""Packing on the cluster test bed: a Job per trial against several trials per pod.

The fast-mode sweep of :mod:`warm_trainers` (a user's table of daily CSV partitions, 12
small configurations of the reference TensorFlow trainer, ``parallelism: 2``) run by the
real operator on the local control plane (``cluster/``: kube-apiserver, the Job
controller, the scheduler, stand-in nodes that run each pod as a local process,
Prometheus, the GCS emulator for results and models), twice side by side:

* ``trialsPerPod: 1``: a Job per trial, each pod a new ``tuningsweep-trainer`` process
  that imports TensorFlow and reads its window's files again (the behaviour before);
* ``trialsPerPod: 6``: each pod runs six trials of the window one after another in one
  process (``python -m tuningsweep.executors.pack_runner``), the window read once.

On a cluster the time a trial holds its GPU is its pod's, so the overhead share here is
``1 - train_seconds / pod seconds`` (the pods' run time from the Jobs' start to
completion, summed), not the rows' ``duration_seconds`` (a packed trial's own time).
Also: wall time from apply to Succeeded and wall per trial, and each trial's objective in
both runs (the same seed trains the same model).

``python bench/cluster_packing.py [--repeat N]``; writes ``bench/out/cluster_packing.json``.
The stand-in nodes start no container and pull no image: on a real cluster each pod also
pays those, so packing saves more there than here.
"""

from __future__ import annotations

import argparse
import calendar
import csv
import datetime as dt
import io
import math
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from cluster.up import OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, LocalCluster  # noqa: E402
from common import write  # noqa: E402
from tests.kube.client import KubeClient, wait_until  # noqa: E402
from tests.operator.operator_process import OperatorProcess  # noqa: E402
from tests.services import FakeGcsServer, Prometheus, Pushgateway  # noqa: E402
from warm_trainers import USER_TABLE, write_table  # noqa: E402

SWEEPS = "tuningsweep.io/v1alpha1/tuningsweeps"
JOBS = "batch/v1/jobs"
NS = "bench"
PACKED = 6


def last_month(today: dt.date) -> tuple[dt.date, int]:
    """Fast mode's window on a cluster: the last complete month (first day, days)."""
    first = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return first, calendar.monthrange(first.year, first.month)[1]


def manifest(name: str, data: Path, bucket: str, per_pod: int) -> dict[str, Any]:
    """The user-table sweep of warm_trainers, for the operator."""
    body: dict[str, Any] = yaml.safe_load(USER_TABLE)
    body["metadata"] = {"name": name, "namespace": NS}
    spec = body["spec"]
    spec["data"] = str(data)
    spec["parallelism"] = 2
    spec["output"] = {"results": f"gs://{bucket}/tuning"}
    if per_pod > 1:
        spec["trainer"]["trialsPerPod"] = per_pod
    return body


def run(client: KubeClient, gcs: Any, bucket: str, data: Path, name: str,
        per_pod: int) -> dict[str, Any]:
    """One sweep; its figures from results.csv and the Jobs."""
    started = time.monotonic()
    client.create(SWEEPS, manifest(name, data, bucket, per_pod))
    wait_until(lambda: (client.get(SWEEPS, name, NS).get("status") or {}).get("phase")
               in ("Succeeded", "Failed"), timeout=900, interval=0.5, what=name)
    wall = time.monotonic() - started
    status = client.get(SWEEPS, name, NS)["status"]
    assert status["phase"] == "Succeeded", status
    text = gcs.bucket(bucket).blob(f"tuning/{NS}/{name}/results.csv").download_as_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert all(r["status"] == "succeeded" for r in rows), [r["error"] for r in rows]
    pod_seconds = 0.0

    def finished_jobs() -> list[dict[str, Any]]:
        # A packed pod may still be exiting when its last trial's row is in (the sweep
        # has Succeeded): wait for the Job controller's completion time.
        jobs = [j for j in client.items(JOBS, NS)
                if j["metadata"]["labels"].get("tuningsweep.io/sweep") == name]
        return jobs if all((j.get("status") or {}).get("completionTime") for j in jobs) else []

    jobs = wait_until(finished_jobs, timeout=120, interval=0.5, what=f"{name}'s Jobs done")
    for job in jobs:
        st = job.get("status") or {}
        pod_seconds += (dt.datetime.fromisoformat(st["completionTime"].replace("Z", "+00:00"))
                        - dt.datetime.fromisoformat(st["startTime"].replace("Z", "+00:00"))
                        ).total_seconds()
    train = sum(float(r["train_seconds"]) for r in rows)
    return {
        "trials_per_pod": per_pod, "trials": len(rows), "jobs": len(jobs),
        "wall_seconds": round(wall, 1), "wall_per_trial_seconds": round(wall / len(rows), 2),
        "pod_seconds": round(pod_seconds, 1), "train_seconds": round(train, 1),
        "overhead_share": round(1 - train / pod_seconds, 3),
        "mean_startup_seconds": round(
            sum(float(r["startup_seconds"] or 0) for r in rows) / len(rows), 3),
        "mean_data_seconds": round(
            sum(float(r["data_seconds"] or 0) for r in rows) / len(rows), 3),
        "objective": {r["trial"]: float(r["metric.val_mse"]) for r in rows},
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="pairs of runs")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="cluster-packing-"))
    first, days = last_month(dt.date.today())
    write_table(work / "data", start=first, days=days)
    runs: list[dict[str, Any]] = []
    with (Pushgateway(work / "pgw") as pgw, Prometheus(work / "prom", pgw) as prom,
          FakeGcsServer(work / "gcs") as gcs_server):
        os.environ["STORAGE_EMULATOR_HOST"] = gcs_server.url
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        gcs = storage.Client(project="bench", credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                             client_options={"api_endpoint": gcs_server.url})
        bucket = f"bench-{uuid.uuid4().hex[:12]}"
        gcs.create_bucket(bucket)
        cluster = LocalCluster(work / "kube", tie_to_parent=True, with_kueue=False,
                               node_env={"STORAGE_EMULATOR_HOST": gcs_server.url})
        cluster.start_kubernetes()
        try:
            assert cluster.control_plane is not None
            client = KubeClient(cluster.server, cluster.control_plane.tls_context())
            client.create("v1/namespaces", {"metadata": {"name": NS}})
            cluster.install_chart((NS,))
            kubeconfig = cluster.service_account_kubeconfig(
                work / "operator.kubeconfig", OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT)
            operator = OperatorProcess(kubeconfig, prom.url, pgw.url, work / "operator",
                                       namespace=NS)
            operator.start()
            time.sleep(3)  # kopf's initial listing, before anything is timed
            try:
                for i in range(args.repeat):
                    for per_pod in (1, PACKED):
                        runs.append(run(client, gcs, bucket, work / "data",
                                        f"pack{per_pod}-{i}", per_pod))
                        print(f"trialsPerPod {per_pod}: wall {runs[-1]['wall_seconds']} s, "
                              f"overhead share {runs[-1]['overhead_share']}", flush=True)
            finally:
                operator.stop()
        finally:
            cluster.stop()
    single = [r for r in runs if r["trials_per_pod"] == 1]
    packed = [r for r in runs if r["trials_per_pod"] > 1]
    same = all(math.isclose(s["objective"][t], p["objective"][t], rel_tol=1e-6, abs_tol=1e-9)
               for s, p in zip(single, packed, strict=True) for t in s["objective"])
    for r in runs:
        r.pop("objective")

    def median(rs: list[dict[str, Any]], key: str) -> float:
        return float(np.median([r[key] for r in rs]))

    write("cluster_packing", {
        "runs": runs,
        "single_overhead_share": median(single, "overhead_share"),
        "packed_overhead_share": median(packed, "overhead_share"),
        "packed_over_single_wall": round(median(packed, "wall_seconds")
                                         / median(single, "wall_seconds"), 3),
        "identical_objectives": same,
        "targets": {"packed_overhead_share": 0.3, "packed_over_single_wall": 0.5},
        "trainer": "reference TensorFlow trainer (CPU), pods as processes on stand-in nodes",
        "note": "overhead share = 1 - train_seconds / pod seconds (the time pods held "
                "their GPU); side by side on one machine",
    })


if __name__ == "__main__":
    main(sys.argv[1:])
