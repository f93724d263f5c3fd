"""The local executor's warm trainer workers (:mod:`.warm_worker`), seen from the runner.

A trial slot keeps one worker process that trains trial after trial, so each trial
skips the interpreter's and TensorFlow's start (seconds; a fast-mode trial trains for
about as long). A worker is started when a slot has none idle, and retired (its stdin
closed, so it exits) after :attr:`WarmSettings.recycle_after` trials or once its
resident memory has grown by :attr:`WarmSettings.max_rss_growth_mb` since its first
trial: whatever a trainer leaks between trials is bounded. Growth, not size: what the
first trial leaves (TensorFlow, CUDA's libraries, the window's data) is the worker's
working size, a few hundred MiB on a CPU and gigabytes with a GPU.

A worker runs in its own session (Ctrl-C reaches only the runner) with the
parent-death signal where ``setpriv`` exists, like a trial process; stopping a trial
(Ctrl-C, the failure budget) stops its worker, and the next trial gets a new one; a
trial that early stopping ends is interrupted inside its worker, which stays.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .process_groups import terminate

WORKER_MODULE = "tuningsweep.executors.warm_worker"
CLOSE_GRACE_S = 5.0


@dataclass(frozen=True)
class WarmSettings:
    """How warm workers run: the trainer function and when a worker is replaced."""

    function: str  # MODULE:FUNCTION, called once per trial
    recycle_after: int = 50  # trials per worker
    max_rss_growth_mb: int = 2048  # a worker grown by this since its first trial is replaced


class Worker:
    """One warm worker process and its request and reply channels."""

    def __init__(self, prefix: Sequence[str], settings: WarmSettings, env: Mapping[str, str],
                 log_file: Path, gpu: str | None) -> None:
        self.settings = settings
        self.gpu = gpu
        self.log_file = log_file
        self.trials = 0
        self.rss_bytes = 0
        self.first_rss_bytes = 0  # after its first trial: what later growth is measured from
        read_fd, write_fd = os.pipe()
        try:
            with log_file.open("ab") as log:
                self.process = subprocess.Popen(
                    [*prefix, sys.executable, "-m", WORKER_MODULE, settings.function,
                     "--reply-fd", str(write_fd)],
                    env=dict(env), stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                    pass_fds=(write_fd,), start_new_session=True,
                )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)  # the worker holds the only writer: its death is EOF here
        self.reply_fd = read_fd
        self._pending = b""

    def send(self, env: Mapping[str, str], args: Sequence[str], log_file: Path) -> None:
        """Start a trial in this worker.

        Raises:
            OSError: the worker has died (its stdin is closed).
        """
        assert self.process.stdin is not None
        request = {"env": dict(env), "args": list(args), "log": str(log_file)}
        self.process.stdin.write((json.dumps(request) + "\n").encode())
        self.process.stdin.flush()

    def result(self) -> int | None:
        """The finished trial's exit status, once the reply descriptor is readable; None
        when the worker died instead of replying (its exit status is the trial's)."""
        while b"\n" not in self._pending:
            chunk = os.read(self.reply_fd, 4096)
            if not chunk:
                return None
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        reply = json.loads(line)
        self.trials += 1
        self.rss_bytes = int(reply.get("rss", 0))
        if self.trials == 1:
            self.first_rss_bytes = self.rss_bytes
        return int(reply["exit"])

    @property
    def worn(self) -> bool:
        """Whether the worker has done its share (trials or memory) and is to be replaced."""
        grown = self.rss_bytes - self.first_rss_bytes
        return (self.trials >= self.settings.recycle_after
                or grown > self.settings.max_rss_growth_mb * 1024 * 1024)

    def interrupt(self, timeout: float) -> bool:
        """Stop the running trial (``SIGUSR1``) and wait up to ``timeout`` seconds for the
        worker's reply; True when it replied and can take the next trial."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGUSR1)
        readable, _, _ = select.select([self.reply_fd], [], [], timeout)
        if readable and self.result() is not None:
            return True
        self.kill()
        return False

    def died(self) -> int:
        """The exit status of a worker that stopped replying (negative: a signal)."""
        self.close_fds()
        return self.process.wait()

    def retire(self) -> None:
        """Ask an idle worker to exit: end of its stdin (:meth:`close` waits for it)."""
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()

    def close(self) -> None:
        """Retire an idle worker and wait for it; a worker that lingers is killed."""
        self.retire()
        try:
            self.process.wait(CLOSE_GRACE_S)
        except subprocess.TimeoutExpired:
            self.kill()
        self.close_fds()

    def kill(self) -> None:
        """Stop the worker and whatever it started: SIGTERM, then SIGKILL after a grace."""
        terminate([self.process], CLOSE_GRACE_S)
        self.close_fds()

    def close_fds(self) -> None:
        """Release the channels (idempotent)."""
        if self.reply_fd >= 0:
            os.close(self.reply_fd)
            self.reply_fd = -1
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
