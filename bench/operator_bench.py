"""Operator benchmark against the Kubernetes API emulator, Jobs completed by the node agent.

Figures (each is also a target from the operator issue):

* time from creating a TuningSweep to its first Job, for 10 and 10,000 trials (< 1 s);
* a 1,000-trial sweep of 1 s trials at parallelism 16: wall time against the ideal
  1000 x 1 s / 16 (<= 1.2x), API write calls per trial from the emulator's request log
  (<= 1.5), status patches in any 5 s (<= 1), the status size (< 16 KiB), and the
  operator's memory growth per tracked trial (< 2 KiB: its RSS after a first 1,000-trial
  sweep, which warms up, and after two more, whose 2,000 finished Jobs it then also
  tracks).

Real Prometheus, Pushgateway and fake-gcs-server run on loopback (tests/services.py);
the trainer is a one-second sleep that pushes its final metrics to the Pushgateway.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from common import write  # noqa: E402
from tests.operator.emulator import EmulatorProcess  # noqa: E402
from tests.operator.node_agent import NodeAgent  # noqa: E402
from tests.operator.operator_process import OperatorProcess, wait_until  # noqa: E402
from tests.services import FakeGcsServer, Prometheus, Pushgateway  # noqa: E402

SWEEPS = "tuningsweep.io/v1alpha1/tuningsweeps"
JOBS = "batch/v1/jobs"
NS = "bench"
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")  # API writes

# A trial: sleep 1 s, then PUT the final metrics to the Pushgateway over a plain socket
# (urllib.request alone takes tens of milliseconds to import on these machines, which
# would be measured as scheduling overhead).
TRAINER = """\
import os, socket, time
time.sleep(1.0)
e = os.environ
host, port = e['TUNINGSWEEP_PUSHGATEWAY'].split('//')[1].rstrip('/').split(':')
path = (f"/metrics/job/tuningsweep/namespace/{e['TUNINGSWEEP_NAMESPACE']}"
        f"/sweep/{e['TUNINGSWEEP_SWEEP']}/trial/{e['TUNINGSWEEP_TRIAL']}")
body = (b'# TYPE tuningsweep_trial_metric gauge\\ntuningsweep_trial_metric{metric="val_mse"} 0.5\\n'
        b'# TYPE tuningsweep_trial_finished gauge\\ntuningsweep_trial_finished 1\\n')
with socket.create_connection((host, int(port)), timeout=10) as conn:
    conn.sendall(f"PUT {path} HTTP/1.0\\r\\nHost: {host}\\r\\nContent-Length: {len(body)}\\r\\n\\r\\n"
                 .encode() + body)
    status = conn.recv(64).split()[1]
if status not in (b"200", b"202"):
    raise SystemExit(f"push failed: {status!r}")
"""


def manifest(name: str, bucket: str, configs: int, parallelism: int) -> dict[str, Any]:
    return {
        "apiVersion": "tuningsweep.io/v1alpha1", "kind": "TuningSweep",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "architecture": "custom",
            "windows": {"ranges": [{"start": "2026-01-01", "end": "2026-01-31"}]},
            "search": {"algorithm": "grid"},
            "parameters": {"x": {"values": list(range(configs))}},
            "parallelism": parallelism,
            # The trainer's resources stay the default (a GPU each), as users get them.
            "trainer": {"image": "bench/trainer", "command": [sys.executable, "-S", "-c", TRAINER]},
            "output": {"results": f"gs://{bucket}/tuning"},
        },
    }


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_job_latency(k8s: EmulatorProcess, bucket: str, name: str, configs: int) -> float:
    started = time.monotonic()
    k8s.client.create(SWEEPS, manifest(name, bucket, configs, parallelism=4))
    wait_until(lambda: any(j["metadata"]["name"].startswith(name + "-")
                           for j in k8s.client.list(JOBS, NS)["items"]),
               timeout=30, interval=0.01, what=f"first Job of {name}")
    return time.monotonic() - started


@contextlib.contextmanager
def running_operator(work: Path, *extra_args: str
                     ) -> Iterator[tuple[EmulatorProcess, OperatorProcess, str]]:
    """Pushgateway, Prometheus, fake GCS with a new bucket, the API emulator, and the
    operator started against them, its initial listing done: (emulator, operator,
    bucket). Everything stops on leaving."""
    with (Pushgateway(work / "pgw") as pgw, Prometheus(work / "prom", pgw) as prom,
          FakeGcsServer(work / "gcs") as gcs):
        os.environ["STORAGE_EMULATOR_HOST"] = gcs.url
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        bucket = f"bench-{uuid.uuid4().hex[:12]}"
        storage.Client(project="bench", credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                       client_options={"api_endpoint": gcs.url}).create_bucket(bucket)
        with EmulatorProcess(workdir=work / "k8s", crd_files=[REPO / "crds" / "tuningsweep.yaml"]) as k8s:
            os.environ["KUBECONFIG"] = str(k8s.kubeconfig)
            operator = OperatorProcess(k8s.kubeconfig, prom.url, pgw.url, work / "operator",
                                       namespace=NS, extra_args=("--status-interval", "5",
                                                                 *extra_args))
            operator.start()
            try:
                time.sleep(3)  # kopf's initial listing, before anything is timed
                yield k8s, operator, bucket
            finally:
                operator.stop()


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="operator-bench-"))
    with running_operator(work) as (k8s, operator, bucket):
        latency_10 = first_job_latency(k8s, bucket, "lat-10", 10)
        latency_10k = first_job_latency(k8s, bucket, "lat-10k", 10_000)
        k8s.client.delete(SWEEPS, "lat-10", NS)
        k8s.client.delete(SWEEPS, "lat-10k", NS)
        wait_until(lambda: k8s.client.list(JOBS, NS)["items"] == [], timeout=60)

        with NodeAgent(k8s.url, namespace=NS, max_concurrency=16,
                       workdir=work / "agent") as agent:
            assert operator.process is not None
            # A first sweep of the same size warms caches and allocator pools, so
            # the growth measured over the second one is what each tracked trial
            # keeps (its Job in the index, its row), not one-off start-up costs.
            k8s.client.create(SWEEPS, manifest("warm", bucket, 1000, parallelism=16))
            wait_until(lambda: (k8s.client.get(SWEEPS, "warm", NS).get("status") or {})
                       .get("phase") == "Succeeded", timeout=600, interval=0.2)
            rss_small = rss_kib(operator.process.pid)

            mark = k8s.log_mark()
            cpu_before = cpu_seconds(operator.process.pid)
            started = time.monotonic()
            k8s.client.create(SWEEPS, manifest("big", bucket, 1000, parallelism=16))
            status = wait_until(
                lambda: (s := k8s.client.get(SWEEPS, "big", NS).get("status") or {})
                .get("phase") == "Succeeded" and s, timeout=600, interval=0.2)
            wall = time.monotonic() - started
            succeeded_seen = time.monotonic()
            operator_cpu = cpu_seconds(operator.process.pid) - cpu_before
            rss_big = rss_kib(operator.process.pid)
            full_log = k8s.request_log(since=mark)
            log = [r for r in full_log
                   if r["user_agent"] != "tuningsweep-test-node-agent"
                   and r["user_agent"] != "tuningsweep-tests"]
            runs = [r for r in agent.runs() if r.name.startswith("big-")
                    and r.started_at is not None and r.finished_at is not None]
            # A third sweep: growth from the second to the third is what each
            # tracked trial keeps once allocator pools have settled.
            k8s.client.create(SWEEPS, manifest("third", bucket, 1000, parallelism=16))
            wait_until(lambda: (k8s.client.get(SWEEPS, "third", NS).get("status")
                                or {}).get("phase") == "Succeeded",
                       timeout=600, interval=0.2)
            rss_third = rss_kib(operator.process.pid)
    writes = [r for r in log if r["verb"] in WRITE_VERBS]
    status_patches = [r for r in writes if r["resource"] == "tuningsweeps/status"
                      and r["name"] == "big"]
    by_resource: dict[str, int] = {}
    for r in writes:
        key = f"{r['verb']} {r['resource']}"
        by_resource[key] = by_resource.get(key, 0) + 1
    # The operator's reaction time: from the node agent's last Job status write (a trial
    # finishing) to the operator's next Job create (the freed slot refilled).
    reactions = []
    last_agent_write = None
    for r in full_log:
        if r["user_agent"] == "tuningsweep-test-node-agent" and r["verb"] == "patch":
            last_agent_write = r["ts"]
        elif (r["verb"] == "create" and r["resource"] == "jobs"
              and last_agent_write is not None):
            reactions.append(r["ts"] - last_agent_write)
            last_agent_write = None
    reactions.sort()
    # Each trial process takes more than its 1 s sleep (interpreter start, the push); the
    # ideal computed from the measured process times isolates scheduling overhead.
    process_seconds = [r.finished_at - r.started_at for r in runs]  # type: ignore[operator]
    measured_ideal = sum(process_seconds) / 16
    # Where the wall time goes besides the trials: until the first trial process starts,
    # and from the last one's exit until the sweep was seen Succeeded (its last metrics
    # scraped and collected, the CSV made durable, the final status patch, which waits
    # out the 5 s status interval; the bench polls every 0.2 s).
    head = min(r.started_at for r in runs) - started  # type: ignore[type-var,operator]
    tail = succeeded_seen - max(r.finished_at for r in runs)  # type: ignore[type-var,operator]
    patch_times = [r["ts"] for r in status_patches]
    most_in_5s = max((sum(1 for t in patch_times if a <= t < a + 5.0) for a in patch_times),
                     default=0)
    write("operator", {
        "first_job_seconds_10_trials": round(latency_10, 3),
        "first_job_seconds_10000_trials": round(latency_10k, 3),
        "target_first_job_seconds": 1.0,
        "sweep_1000_trials_1s_parallel_16": {
            "wall_seconds": round(wall, 1), "ideal_seconds": 1000 / 16,
            "ratio_to_ideal": round(wall / (1000 / 16), 3), "target_ratio": 1.2,
            "trial_process_seconds_mean": round(sum(process_seconds) / len(process_seconds), 3),
            "seconds_to_first_trial": round(head, 2),
            "seconds_from_last_trial_to_succeeded": round(tail, 2),
            "ratio_to_ideal_from_measured_trial_times": round(wall / measured_ideal, 3),
            "operator_reaction_ms_median": round(1000 * reactions[len(reactions) // 2], 1)
            if reactions else None,
            "operator_reaction_ms_p90": round(1000 * reactions[int(len(reactions) * 0.9)], 1)
            if reactions else None,
            "operator_cpu_ms_per_trial": round(1000 * operator_cpu / 1000, 2),
            "api_writes_per_trial": round(len(writes) / 1000, 3), "target_writes_per_trial": 1.5,
            "api_writes_by_kind": by_resource,
            "status_patches": len(status_patches),
            "most_status_patches_in_any_5s": most_in_5s,
            "min_seconds_between_status_patches": round(min(
                (b["ts"] - a["ts"] for a, b in itertools.pairwise(status_patches)),
                default=0.0), 2),
            "status_bytes": len(json.dumps(status)), "target_status_bytes": 16384,
            "operator_rss_kib_after_first_1000_trials": rss_small,
            "operator_rss_kib_after_second_1000_trials": rss_big,
            "operator_rss_kib_after_third_1000_trials": rss_third,
            "memory_growth_bytes_per_trial_first_to_second": round(
                (rss_big - rss_small) * 1024 / 1000, 1),
            "memory_growth_bytes_per_trial_second_to_third": round(
                (rss_third - rss_big) * 1024 / 1000, 1),
            # Over both sweeps (2,000 trials): allocator slack comes and goes by the
            # megabyte, so one 1,000-trial difference alone swings by +-0.5 KB per trial.
            "memory_growth_bytes_per_trial": round((rss_third - rss_small) * 1024 / 2000, 1),
            "target_memory_growth_bytes_per_trial": 2048,
        },
    })


if __name__ == "__main__":
    main()
