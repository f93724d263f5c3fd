"""The operator on the real control plane (``cluster/``): figures a reader can compare.

* ``make cluster-up`` warm: the binaries cached, everything started and ready (the
  command a user runs, ``python -m cluster up``); ``--cold`` also builds the binaries from
  an empty Go module cache and build cache first (minutes).
* apply -> first Job: from creating a 10-trial TuningSweep to its first Job existing.
* N trials of T seconds (default 1,000 trials of 1 s) at parallelism P (default 8, the
  stand-in nodes' 8 GPUs): wall time against the ideal ``N x T / P``, the operator's API
  writes per trial (from the API server's audit log: every write of its ServiceAccount),
  the objects left in etcd's view of the namespace once the sweep succeeded (Jobs, pods,
  events; the operator runs with ``--job-retention 0`` so it removes its Jobs at once),
  and the operator's peak RSS.

The trainer is the operator benchmark's: sleep T, push the final metrics to the
Pushgateway over a plain socket. Everything else is real: kube-apiserver, the Job
controller, the scheduler, the stand-in nodes starting each pod as a process, Prometheus.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from cluster.up import OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, LocalCluster  # noqa: E402
from common import write  # noqa: E402
from operator_bench import TRAINER, rss_kib  # noqa: E402
from tests.kube.client import KubeClient, audit_events, wait_until  # noqa: E402
from tests.operator.operator_process import OperatorProcess  # noqa: E402
from tests.services import FakeGcsServer, Prometheus, Pushgateway  # noqa: E402

SWEEPS = "tuningsweep.io/v1alpha1/tuningsweeps"
JOBS = "batch/v1/jobs"
NS = "bench"
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
OPERATOR_USER = f"system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_SERVICE_ACCOUNT}"


def manifest(name: str, bucket: str, trials: int, parallelism: int,
             seconds: float) -> dict[str, Any]:
    trainer = TRAINER.replace("time.sleep(1.0)", f"time.sleep({seconds})")
    return {
        "apiVersion": "tuningsweep.io/v1alpha1", "kind": "TuningSweep",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "architecture": "custom",
            "windows": {"ranges": [{"start": "2026-01-01", "end": "2026-01-31"}]},
            "search": {"algorithm": "grid"},
            "parameters": {"x": {"values": list(range(trials))}},
            "parallelism": parallelism,
            # The trainer's resources stay the default (a GPU each), as users get them.
            "trainer": {"image": "bench/trainer",
                        "command": [sys.executable, "-S", "-c", trainer]},
            "output": {"results": f"gs://{bucket}/tuning"},
        },
    }


def cluster_up_seconds(work: Path, *, cold: bool) -> dict[str, float]:
    """``python -m cluster up`` (and down) timed; cold also builds from empty caches."""
    env = dict(os.environ)
    figures: dict[str, float] = {}
    if cold:
        caches = work / "cold"
        env.update(GOCACHE=str(caches / "gocache"), GOMODCACHE=str(caches / "gomod"),
                   TUNINGSWEEP_CACHE=str(caches / "tuningsweep"))
        started = time.monotonic()
        subprocess.run(["bash", str(REPO / "cluster" / "build.sh")], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        figures["cold_build_s"] = round(time.monotonic() - started, 1)
    state = work / "user-cluster"
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "cluster", "up", "--state", str(state)], cwd=REPO,
                   env=env, check=True)
    figures["warm_up_s"] = round(time.monotonic() - started, 1)
    subprocess.run([sys.executable, "-m", "cluster", "down", "--state", str(state)], cwd=REPO,
                   env=env, check=True)
    if cold:
        figures["cold_up_s"] = round(figures["cold_build_s"] + figures["warm_up_s"], 1)
    return figures


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=1.0, help="each trial's sleep")
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--cold", action="store_true",
                        help="also time the build from empty Go caches (minutes)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="cluster-bench-"))
    figures: dict[str, Any] = {"cluster_up": cluster_up_seconds(work, cold=args.cold)}

    with (Pushgateway(work / "pgw") as pgw, Prometheus(work / "prom", pgw) as prom,
          FakeGcsServer(work / "gcs") as gcs):
        os.environ["STORAGE_EMULATOR_HOST"] = gcs.url
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        bucket = f"bench-{uuid.uuid4().hex[:12]}"
        storage.Client(project="bench", credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                       client_options={"api_endpoint": gcs.url}).create_bucket(bucket)
        cluster = LocalCluster(work / "kube", tie_to_parent=True, with_kueue=False,
                               node_env={"STORAGE_EMULATOR_HOST": gcs.url})
        cluster.start_kubernetes()
        try:
            assert cluster.control_plane is not None
            client = KubeClient(cluster.server, cluster.control_plane.tls_context())
            client.create("v1/namespaces", {"metadata": {"name": NS}})
            cluster.install_chart((NS,))
            kubeconfig = cluster.service_account_kubeconfig(
                work / "operator.kubeconfig", OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT)
            operator = OperatorProcess(kubeconfig, prom.url, pgw.url, work / "operator",
                                       namespace=NS, extra_args=("--status-interval", "5",
                                                                 "--job-retention", "0"))
            operator.start()
            time.sleep(3)  # kopf's initial listing, before anything is timed
            try:
                figures.update(run(client, cluster, operator, bucket, args))
            finally:
                operator.stop()
        finally:
            cluster.stop()
    write("cluster_bench", figures)


def run(client: KubeClient, cluster: LocalCluster, operator: OperatorProcess, bucket: str,
        args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    client.create(SWEEPS, manifest("lat", bucket, 10, 4, 0.0))
    wait_until(lambda: client.items(JOBS, NS), timeout=60, interval=0.01, what="first Job")
    first_job = time.monotonic() - started
    wait_until(lambda: (client.get(SWEEPS, "lat", NS).get("status") or {}).get("phase")
               == "Succeeded", timeout=120)

    assert operator.process is not None
    offset = cluster.audit_log.stat().st_size
    peak_rss = 0
    started = time.monotonic()
    client.create(SWEEPS, manifest("big", bucket, args.trials, args.parallelism, args.seconds))
    while (client.get(SWEEPS, "big", NS).get("status") or {}).get("phase") != "Succeeded":
        peak_rss = max(peak_rss, rss_kib(operator.process.pid))
        time.sleep(1)
    wall = time.monotonic() - started
    writes: dict[str, int] = {}
    for event in audit_events(cluster.audit_log, user=OPERATOR_USER, offset=offset):
        if event.verb in WRITE_VERBS:
            key = f"{event.verb} {event.resource}"
            writes[key] = writes.get(key, 0) + 1
    stages = trial_stages(cluster, offset)
    time.sleep(5)  # the last collected Jobs' removal, at the next step
    left = {kind: len(client.items(resource, NS)) for kind, resource in
            (("jobs", JOBS), ("pods", "v1/pods"), ("events", "v1/events"))}
    ideal = args.trials * args.seconds / args.parallelism
    return {
        "apply_to_first_job_s": round(first_job, 3),
        "trials": args.trials, "trial_seconds": args.seconds,
        "parallelism": args.parallelism,
        "wall_s": round(wall, 1), "ideal_s": round(ideal, 1),
        "wall_over_ideal": round(wall / ideal, 2),
        "api_writes_per_trial": round(sum(writes.values()) / args.trials, 3),
        "api_writes": writes,
        "objects_left": left,
        "operator_peak_rss_mib": round(peak_rss / 1024, 1),
        "median_stage_seconds": stages,
    }


def trial_stages(cluster: LocalCluster, offset: int) -> dict[str, float]:
    """Where a trial's time goes, from the audit log's request times (medians over trials).

    job created (operator) -> pod bound (Job controller creates it, the scheduler binds
    it) -> running (the node's first status write) -> exited (its last, before deletion)
    -> Job done (the Job controller's last status write) -> the operator's next Job create.
    """
    import datetime as dt
    import statistics

    def ts(text: str) -> float:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

    created: dict[str, float] = {}
    bound: dict[str, float] = {}
    node_writes: dict[str, list[float]] = {}
    done: dict[str, float] = {}
    creates: list[float] = []
    for event in audit_events(cluster.audit_log, offset=offset):
        if event.namespace != NS or event.code >= 400:
            continue
        t = ts(event.stage_ts)
        job = event.name.rsplit("-", 1)[0]  # a pod's name is its Job's plus a suffix
        if event.user == OPERATOR_USER and event.verb == "create" and event.resource == "jobs":
            created[event.name] = t
            creates.append(t)
        elif event.resource == "pods/binding":
            bound[job] = t
        elif event.resource == "pods/status" and event.user.startswith("system:node:"):
            node_writes.setdefault(job, []).append(t)
        elif event.resource == "jobs/status" and event.user.endswith(":job-controller"):
            done[event.name] = t
    creates.sort()
    steps: dict[str, list[float]] = {k: [] for k in (
        "job_to_bound", "bound_to_running", "running_to_exited", "exited_to_job_done",
        "job_done_to_next_create")}
    for job, t0 in created.items():
        writes = node_writes.get(job, [])
        if job not in bound or len(writes) < 2 or job not in done:
            continue
        steps["job_to_bound"].append(bound[job] - t0)
        steps["bound_to_running"].append(writes[0] - bound[job])
        steps["running_to_exited"].append(writes[1] - writes[0])
        steps["exited_to_job_done"].append(done[job] - writes[1])
        later = [c for c in creates if c > done[job]]
        if later:
            steps["job_done_to_next_create"].append(later[0] - done[job])
    return {k: round(statistics.median(v), 3) for k, v in steps.items() if v}


if __name__ == "__main__":
    main(sys.argv[1:])
