"""The runner learns which trial process ended first, with pidfds and without them."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tuningsweep.executors import process_exits
from tuningsweep.executors.process_exits import ProcessExits


@pytest.fixture(params=["pidfd", "threads"])
def exits(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> ProcessExits:
    if request.param == "threads":
        monkeypatch.setattr(process_exits, "_pidfds_work", lambda: False)
    elif not process_exits._pidfds_work():
        pytest.fail("this Linux has no pidfds: the runner would fall back to threads")
    return ProcessExits()


def _sleep(seconds: float, code: int = 0) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sh", "-c", f"sleep {seconds}; exit {code}"])


def test_exits_come_in_the_order_the_processes_end(exits: ProcessExits) -> None:
    slow, fast = _sleep(0.6, 3), _sleep(0.1)
    exits.watch("slow", slow)
    exits.watch("fast", fast)
    assert exits.next(timeout=None) == "fast"
    assert fast.returncode == 0  # collected: the caller reads it without waiting
    assert exits.next(timeout=None) == "slow"
    assert slow.returncode == 3
    exits.close()


def test_a_timeout_returns_none_and_the_exit_comes_later(exits: ProcessExits) -> None:
    process = _sleep(0.4)
    exits.watch("t", process)
    started = time.monotonic()
    assert exits.next(timeout=0.05) is None
    assert time.monotonic() - started < 0.35
    assert exits.next(timeout=5) == "t"
    exits.close()


def test_exits_that_happen_together_are_all_reported(exits: ProcessExits) -> None:
    processes = {f"t{i}": _sleep(0) for i in range(4)}
    for trial, process in processes.items():
        process.wait()  # ended (and reaped) before it is even watched
        exits.watch(trial, process)
    assert sorted(exits.next(timeout=5) or "" for _ in processes) == sorted(processes)
    exits.close()


def test_reply_pipes_and_processes_are_waited_on_together(exits: ProcessExits) -> None:
    # A warm worker's trial ends when its reply pipe becomes readable (an answer, or end
    # of file when the worker dies); the caller reads it.
    read_fd, write_fd = os.pipe()
    try:
        process = _sleep(0.5)
        exits.watch("process", process)
        exits.watch_reply("warm", read_fd)
        assert exits.next(timeout=0.05) is None
        os.write(write_fd, b'{"exit": 0}\n')
        assert exits.next(timeout=5) == "warm"
        assert os.read(read_fd, 100) == b'{"exit": 0}\n'  # left for the caller
        assert exits.next(timeout=5) == "process"
        exits.close()
    finally:
        os.close(read_fd)
        os.close(write_fd)
