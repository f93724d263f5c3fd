"""Warm trainers: a slot's worker process trains trial after trial (``spec.trainer.function``
and the reference trainer), recorded exactly as a process per trial (``--no-warm``).

The trainer here is a Python function with a known objective that reports its process
id, so a test can tell trials that shared a process from trials that did not.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.local.test_run import run_cli
from tuningsweep.core.records.results import parse_csv
from tuningsweep.executors.warm_pool import WarmSettings, Worker

ANCHOR = "2026-11-27"

TRAINER = '''\
import json
import os
import signal
import sys
import time

from tuningsweep.reporting import Reporter

LEAKED = []


def train(args):
    config = os.environ["TUNINGSWEEP_TRIAL"].split("-")[0]
    params = json.loads(os.environ["TUNINGSWEEP_PARAMS"])
    print(f"training {config} with {args}", flush=True)
    assert sys.argv[1:] == args, sys.argv  # for a main() that reads sys.argv itself
    started = os.environ.get("STARTED_DIR")
    if started:
        with open(os.path.join(started, os.environ["TUNINGSWEEP_TRIAL"]), "w") as f:
            f.write(str(os.getpid()))
    time.sleep(float(os.environ.get("FAKE_SLEEP", "0.05")))
    if config == os.environ.get("KILL_CONFIG"):
        print("about to crash", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    if config == os.environ.get("EXIT_CONFIG"):
        print("leaving abruptly", file=sys.stderr, flush=True)
        os._exit(3)
    if config == os.environ.get("RAISE_CONFIG"):
        raise ValueError(f"bad luck in {config}")
    if config == os.environ.get("BAD_INPUT_CONFIG"):
        print("error: no data", file=sys.stderr)
        sys.exit(2)
    if os.environ.get("LEAK_MB"):  # a trainer that keeps memory across trials
        LEAKED.append(bytearray(int(os.environ["LEAK_MB"]) * 1024 * 1024))
    value = params["learning_rate"] * 10 + 1.0 / params["hidden_units"]
    Reporter.from_env().report_final({"val_mse": value, "pid": float(os.getpid()),
                                      "train_seconds": 0.04})
'''

MANIFEST = """\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {name: warm, namespace: team}
spec:
  architecture: mlp
  windows: {rolling: {count: 2, months: 1}}
  search: {algorithm: grid, seed: 3}
  parameters:
    learning_rate: {values: [0.001, 0.01, 0.1]}
    hidden_units: {values: [16, 64]}
  metrics: [val_mse, pid]
  maxFailedTrials: 10
  trainer: {function: "warm_trainer:train", args: [--flag, x]}
"""


def sweep_folder(tmp_path: Path) -> Path:
    (tmp_path / "warm_trainer.py").write_text(TRAINER)
    (tmp_path / "warm.yaml").write_text(MANIFEST)
    return tmp_path / "warm.yaml"


def rows_of(results: Path) -> list[dict[str, str]]:
    text = (results / "team" / "warm" / "results.csv").read_text()
    return list(csv.DictReader(io.StringIO(text)))


def run(manifest: Path, results: Path, *extra: str, **env: str) -> list[dict[str, str]]:
    done = run_cli(["run", str(manifest), "--results", str(results), "--today", ANCHOR,
                    "--parallel", "2", "-q", *extra], env)
    assert done.returncode in (0, 1), done.stderr
    return rows_of(results)


def test_each_slot_keeps_one_process_for_trial_after_trial(tmp_path: Path) -> None:
    manifest = sweep_folder(tmp_path)
    warm = run(manifest, tmp_path / "warm")
    cold = run(manifest, tmp_path / "cold", "--no-warm")
    assert len(warm) == len(cold) == 12
    assert all(r["status"] == "succeeded" for r in warm + cold), [r["error"] for r in warm]
    assert len({r["metric.pid"] for r in warm}) == 2  # one worker per slot
    assert len({r["metric.pid"] for r in cold}) == 12  # a process per trial
    assert ([(r["trial"], r["metric.val_mse"]) for r in warm]
            == [(r["trial"], r["metric.val_mse"]) for r in cold])
    # A trainer may report where its time went; the row keeps it.
    assert {r["train_seconds"] for r in warm} == {"0.04"}
    log = (tmp_path / "warm" / "team" / "warm" / "trials" / "c0003-w1" / "trainer.log")
    assert log.read_text() == "training c0003 with ['--flag', 'x']\n"  # its own output only


def test_a_trial_that_ends_its_worker_fails_alone_recorded_as_a_process_would_be(
    tmp_path: Path,
) -> None:
    manifest = sweep_folder(tmp_path)
    env = {"KILL_CONFIG": "c0001", "EXIT_CONFIG": "c0002", "RAISE_CONFIG": "c0003",
           "BAD_INPUT_CONFIG": "c0004"}
    warm = run(manifest, tmp_path / "warm", **env)
    cold = run(manifest, tmp_path / "cold", "--no-warm", **env)
    by_trial = {r["trial"]: r for r in warm}
    failed = sorted(t for t, r in by_trial.items() if r["status"] == "failed")
    assert failed == [f"c000{c}-w{w}" for c in (1, 2, 3, 4) for w in (0, 1)]
    said = "training {} with ['--flag', 'x'] | {}"
    assert (by_trial["c0001-w0"]["error"]
            == "trainer killed by signal 9: " + said.format("c0001", "about to crash"))
    assert (by_trial["c0002-w0"]["error"]
            == "trainer exit status 3: " + said.format("c0002", "leaving abruptly"))
    assert by_trial["c0003-w0"]["error"].startswith("trainer exit status 1: ValueError: "
                                                    "bad luck in c0003")
    assert by_trial["c0004-w0"]["error"] == "trainer exit status 2: error: no data"
    # The same rows, the same words, as a process per trial.
    assert ([(r["trial"], r["status"], r["error"]) for r in warm]
            == [(r["trial"], r["status"], r["error"]) for r in cold])


def test_killed_runner_resumes_with_exactly_one_row_per_trial(tmp_path: Path) -> None:
    manifest = sweep_folder(tmp_path)
    results = tmp_path / "out"
    args = ["run", str(manifest), "--results", str(results), "--today", ANCHOR,
            "--parallel", "2", "-q"]
    proc = subprocess.Popen([sys.executable, "-m", "tuningsweep.cli", *args],
                            env={**os.environ, "FAKE_SLEEP": "0.4"})
    csv_path = results / "team" / "warm" / "results.csv"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if csv_path.exists() and len(parse_csv(csv_path.read_text())) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = parse_csv(csv_path.read_text())
    assert 3 <= len(partial) < 12
    done = run_cli(args, {"FAKE_SLEEP": "0.01"})
    assert done.returncode == 0, done.stderr
    rows = rows_of(results)
    assert len(rows) == 12 and len({r["trial"] for r in rows}) == 12
    kept = {r.trial: r.finished_at for r in partial}
    assert all(r["finished_at"] == kept[r["trial"]] for r in rows if r["trial"] in kept)


def test_worker_is_worn_after_its_trials_and_its_death_is_its_trials_exit(
    tmp_path: Path,
) -> None:
    (tmp_path / "warm_trainer.py").write_text(TRAINER)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "EXIT_CONFIG": "c0001",
           "TUNINGSWEEP_PARAMS": '{"learning_rate": 0.1, "hidden_units": 16}',
           "TUNINGSWEEP_METRICS_FILE": str(tmp_path / "metrics.jsonl")}
    worker = Worker([], WarmSettings("warm_trainer:train", recycle_after=1), env,
                    tmp_path / "worker.log", None)
    try:
        codes = []
        for i in range(2):
            log = tmp_path / f"t{i}.log"
            log.write_bytes(b"")
            worker.send({**env, "TUNINGSWEEP_TRIAL": f"c000{i}-w0"}, [], log)
            codes.append(worker.result())
        assert codes[0] == 0 and worker.worn and worker.rss_bytes > 10 * 1024 * 1024
        # The second trial ended the worker: no reply, its exit status instead.
        assert codes[1] is None and worker.died() == 3
        assert (tmp_path / "t1.log").read_text().endswith("leaving abruptly\n")
    finally:
        worker.kill()


def test_a_trainer_module_that_does_not_import_fails_its_trials_with_its_error(
    tmp_path: Path,
) -> None:
    manifest = sweep_folder(tmp_path)
    (tmp_path / "warm_trainer.py").write_text('raise RuntimeError("broken at import")\n')
    done = run_cli(["run", str(manifest), "--results", str(tmp_path / "out"), "--today",
                    ANCHOR, "--parallel", "2", "-q"])
    assert done.returncode == 3, done.stderr  # the failure budget stopped it
    rows = rows_of(tmp_path / "out")
    assert rows and all(r["status"] == "failed" for r in rows)
    assert all(r["error"] == "trainer exit status 2: tuningsweep: error: trainer function "
               "warm_trainer:train: importing it failed: RuntimeError: broken at import"
               for r in rows), rows[0]["error"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead too: it only waits for its parent to read its status
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_a_stopped_or_killed_runner_leaves_no_worker_behind(
    tmp_path: Path, how: signal.Signals,
) -> None:
    manifest = sweep_folder(tmp_path)
    started = tmp_path / "started"
    started.mkdir()
    args = ["run", str(manifest), "--results", str(tmp_path / "out"), "--today", ANCHOR,
            "--parallel", "2", "-q"]
    proc = subprocess.Popen([sys.executable, "-m", "tuningsweep.cli", *args],
                            env={**os.environ, "FAKE_SLEEP": "60", "STARTED_DIR": str(started)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while len(list(started.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = [int(p.read_text()) for p in started.iterdir()]
    assert len(workers) == 2 and all(_alive(pid) for pid in workers)
    proc.send_signal(how)
    out, _ = proc.communicate(timeout=30)
    if how == signal.SIGINT:
        assert proc.returncode == 130 and "run the same command to resume" in out, out
        assert "Traceback" not in out
    deadline = time.monotonic() + 10  # the parent-death signal reaches them at once
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in workers)
    assert not (tmp_path / "out" / "team" / "warm" / "results.csv").exists() or not parse_csv(
        (tmp_path / "out" / "team" / "warm" / "results.csv").read_text())
    done = run_cli(args, {"FAKE_SLEEP": "0.01"})
    assert done.returncode == 0 and len(rows_of(tmp_path / "out")) == 12


def test_a_worker_whose_memory_grows_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "warm_trainer.py").write_text(TRAINER)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "LEAK_MB": "40",
           "TUNINGSWEEP_PARAMS": '{"learning_rate": 0.1, "hidden_units": 16}',
           "TUNINGSWEEP_METRICS_FILE": str(tmp_path / "metrics.jsonl")}
    worker = Worker([], WarmSettings("warm_trainer:train", max_rss_growth_mb=100), env,
                    tmp_path / "worker.log", None)
    try:
        worn = []
        for i in range(4):
            log = tmp_path / f"t{i}.log"
            log.write_bytes(b"")
            worker.send({**env, "TUNINGSWEEP_TRIAL": f"c000{i}-w0"}, [], log)
            assert worker.result() == 0
            worn.append(worker.worn)
        # 40 MiB kept per trial: grown by 80 after the third, by 120 after the fourth
        assert worn == [False, False, False, True]
    finally:
        worker.close()


EARLY_STOPPING = """\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {name: early, namespace: team}
spec:
  architecture: mlp
  windows: {rolling: {count: 1, months: 1}}
  search: {algorithm: grid, seed: 3, maxConfigs: 5,
           earlyStopping: {rule: median, graceEpochs: 2, minTrials: 2}}
  parameters:
    learning_rate: {values: [0.001, 0.01, 0.1]}
    hidden_units: {values: [16, 64]}
  parallelism: 1
  trainer:
    function: "tests.local.fake_trainer:main"
    env: [{name: FAKE_EPOCHS, value: "4"}, {name: FAKE_SLEEP, value: "2"}]
"""


def test_early_stopping_interrupts_a_trial_inside_its_worker_which_stays(
    tmp_path: Path,
) -> None:
    (tmp_path / "early.yaml").write_text(EARLY_STOPPING)
    repo = Path(__file__).resolve().parents[2]
    done = run_cli(["run", str(tmp_path / "early.yaml"), "--results", str(tmp_path / "out"),
                    "--today", ANCHOR, "--parallel", "1", "-q"], {"PYTHONPATH": str(repo)})
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "out" / "team" / "early"
    rows = parse_csv((folder / "results.csv").read_text())
    stopped = [r for r in rows if r.status == "stopped"]
    assert stopped and len(rows) == 5
    for r in stopped:
        log = (folder / "trials" / r.trial / "trainer.log").read_text()
        assert log.endswith("tuningsweep: the trial was stopped (early stopping)\n"), log
    # One slot, one worker: the stopped trials did not cost a new one.
    assert [p.name for p in (folder / "trials" / "workers").iterdir()] == ["worker-1.log"]
