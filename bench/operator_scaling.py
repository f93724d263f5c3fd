"""The operator against the API emulator as sweeps grow: instant trials, 1,000 and 10,000.

The whole operator runs (kopf, the Job watch, real Prometheus and Pushgateway, GCS
through fake-gcs-server) and the node agent plays the kubelet; each trial process only
pushes its final metric (bench/operator_bench.py's trainer without the sleep). Figures
per size: wall seconds per trial from creating the sweep to Succeeded (throughput at
``PARALLELISM``), and the operator process's CPU per trial. The target is flat: the
larger size within 1.1x of the smaller, per trial.

10,000 trials take about nine minutes on the 2 shared cores of the development machine
(Prometheus' 1 s scrape paces collection); ``python bench/operator_scaling.py 1000 3000``
measures other sizes. The operator runs with
``--job-retention 0`` (recorded trials' Jobs are deleted once their rows are durable), and
each size also reports the Jobs left when the sweep succeeded and a few seconds later,
the API writes per trial (from the emulator's request log) and the operator's RSS.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from common import ratio, write  # noqa: E402
from operator_bench import (  # noqa: E402
    JOBS,
    NS,
    SWEEPS,
    TRAINER,
    WRITE_VERBS,
    cpu_seconds,
    manifest,
    rss_kib,
    running_operator,
)
from tests.operator.emulator import EmulatorProcess  # noqa: E402
from tests.operator.node_agent import NodeAgent  # noqa: E402
from tests.operator.operator_process import OperatorProcess, wait_until  # noqa: E402

SIZES = (1000, 10000)
OTHERS = ("tuningsweep-test",)  # the node agent and the test client: not the operator
PARALLELISM = 32
INSTANT = TRAINER.replace("time.sleep(1.0)\n", "")


def sweep(k8s: EmulatorProcess, operator: OperatorProcess, bucket: str, name: str,
          trials: int) -> dict[str, float]:
    """One sweep of ``trials`` instant trials; its per-trial figures."""
    assert operator.process is not None
    body = manifest(name, bucket, trials, parallelism=PARALLELISM)
    body["spec"]["trainer"]["command"] = [sys.executable, "-S", "-c", INSTANT]
    cpu = cpu_seconds(operator.process.pid)
    started = time.monotonic()
    mark = k8s.log_mark()
    k8s.client.create(SWEEPS, body)
    status = wait_until(
        lambda: (s := k8s.client.get(SWEEPS, name, NS).get("status") or {})
        .get("phase") == "Succeeded" and s, timeout=3600, interval=0.5)
    wall = time.monotonic() - started
    cpu = cpu_seconds(operator.process.pid) - cpu
    assert status["trials"]["succeeded"] == trials, status
    jobs_at_success = len(k8s.client.list(JOBS, NS)["items"])
    time.sleep(5)  # the last rows' flush, then their Jobs' removal
    jobs_after = len(k8s.client.list(JOBS, NS)["items"])
    writes = [r for r in k8s.request_log(since=mark)
              if r["verb"] in WRITE_VERBS
              and not r["user_agent"].startswith(OTHERS)]
    rss = rss_kib(operator.process.pid)
    k8s.client.delete(SWEEPS, name, NS)
    wait_until(lambda: k8s.client.list(JOBS, NS)["items"] == [], timeout=300)
    return {"trials": trials, "wall_seconds": round(wall, 1),
            "wall_ms_per_trial": round(1000 * wall / trials, 2),
            "operator_cpu_ms_per_trial": round(1000 * cpu / trials, 2),
            "jobs_left_at_success": jobs_at_success, "jobs_left_5s_later": jobs_after,
            "api_writes_per_trial": round(len(writes) / trials, 3),
            "operator_rss_kib": rss}


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or list(SIZES)
    work = Path(tempfile.mkdtemp(prefix="operator-scaling-"))
    figures = []
    with (running_operator(work, "--job-retention", "0") as (k8s, operator, bucket),
          NodeAgent(k8s.url, namespace=NS, max_concurrency=PARALLELISM, workdir=work / "agent")):
        for i, trials in enumerate(sizes):
            figures.append(sweep(k8s, operator, bucket, f"scale-{i}", trials))
            print(figures[-1], flush=True)
    write("operator_scaling", {
        "parallelism": PARALLELISM, "sizes": figures,
        "wall_ratio_largest_to_smallest": ratio(figures, "wall_ms_per_trial"),
        "cpu_ratio_largest_to_smallest": ratio(figures, "operator_cpu_ms_per_trial"),
        "target_ratio": 1.1,
        "note": "instant trials through the whole operator, API emulator and node agent, "
                "real Prometheus (1 s scrape) and Pushgateway, GCS emulator",
    })


if __name__ == "__main__":
    main(sys.argv[1:])
