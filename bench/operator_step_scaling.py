"""The operator's bookkeeping as a sweep grows: reconcile steps at 1,000 and 10,000 trials.

The reconciler runs against the in-memory fakes of tests/controller (Jobs API,
Prometheus, Pushgateway) with a local results folder, and every step the test plays the
cluster: each running Job succeeds at once, with its metrics reported. So the CPU
measured is the operator's own per-trial work (deciding, collecting, merging rows,
flushing them, status), without an API server, Prometheus' scrape interval or trial
processes; bench/operator_bench.py measures the whole operator against the emulator.
Figures per size: the operator's CPU per trial (the process, background flush threads
included) and its wall time per trial. Target: flat, 10,000 within 1.1x of 1,000.

``python bench/operator_step_scaling.py [SIZE ...]`` measures other sizes.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from common import ratio, write  # noqa: E402
from tests.controller.test_step import UID, Api, World  # noqa: E402

from tuningsweep.core.kube.jobs import LABEL_TRIAL, JobState  # noqa: E402

SIZES = (1000, 10000)
PARALLELISM = 16


class FastApi(Api):
    """tests/controller's fake Jobs API, remembering created Jobs in a set too."""

    def __init__(self) -> None:
        super().__init__()
        self.known: set[str] = set()

    async def create_job(self, namespace: str, body: dict[str, Any]) -> bool:
        trial = body["metadata"]["labels"][LABEL_TRIAL]
        if trial in self.known:
            return False
        self.known.add(trial)
        self.created.append(trial)
        return True


class FastWorld(World):
    """tests/controller's World, with the test side's own work kept flat per step.

    The Jobs passed to a step are all of the sweep's Jobs, as the Job watch passes them.
    """

    def __init__(self, folder: Path, **spec: Any) -> None:
        self.seen = 0  # Jobs created that the "watch" already shows
        self.active: list[str] = []
        super().__init__(folder, **spec)
        self.api = FastApi()
        self.restart()

    def step(self) -> Any:
        self.body["status"] = dict(self.api.status)
        result = self.run(self.reconciler.step(self.body, self.jobs.values()))
        for trial in self.api.created[self.seen:]:
            self.jobs[trial] = JobState(trial, "active", start=1.0, owner=UID)
            self.active.append(trial)
        self.seen = len(self.api.created)
        return result


def measure(folder: Path, trials: int) -> dict[str, float]:
    """Run one sweep of ``trials`` instantly finishing Jobs; per-trial figures."""
    world = FastWorld(folder, parameters={"x": {"values": list(range(trials))}},
                  windows={"ranges": [{"start": "2026-01-01", "end": "2026-01-31"}]},
                  parallelism=PARALLELISM, architecture="custom")
    cpu, wall = time.process_time(), time.perf_counter()
    steps = 0
    while True:
        result = world.step()
        steps += 1
        if result.done:
            break
        for trial in world.active:
            world.finish(trial)
        world.active = []
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert world.api.status["trials"]["succeeded"] == trials, world.api.status
    world.run(world.reconciler.close())
    return {"trials": trials, "steps": steps,
            "operator_cpu_ms_per_trial": round(1000 * cpu / trials, 3),
            "wall_ms_per_trial": round(1000 * wall / trials, 3)}


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or list(SIZES)
    figures = []
    for trials in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            figures.append(measure(Path(tmp), trials))
        print(figures[-1], flush=True)
    write("operator_step_scaling", {
        "parallelism": PARALLELISM, "sizes": figures,
        "cpu_ratio_largest_to_smallest": ratio(figures, "operator_cpu_ms_per_trial"),
        "target_ratio": 1.1,
        "note": "reconcile steps against in-memory fakes (tests/controller), local results "
                "folder; every running Job succeeds before the next step",
    })


if __name__ == "__main__":
    main(sys.argv[1:])
