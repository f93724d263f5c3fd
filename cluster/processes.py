"""Long-running local processes with pid files, started detached or tied to their parent.

``make cluster-up`` must return while the cluster keeps running, and ``make cluster-down``
must find and stop exactly what it started: each process runs in its own session, its pid
is written to ``<state>/pids/<name>.pid`` together with its start time (so a recycled pid
is never signalled), and its output goes to ``<state>/logs/<name>.log``. The tests start
the same processes tied to the test run (``PR_SET_PDEATHSIG``), so an aborted run leaves
no servers behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

STOP_GRACE_S = 10.0


class ClusterError(RuntimeError):
    """A component could not be built, started or reached; the message says which and why."""


def _die_with_parent() -> None:
    """``preexec_fn``: ask Linux to SIGKILL the child when its parent goes away.

    SIGKILL, not SIGTERM: a kube-apiserver whose etcd went away with the same parent
    hangs in its graceful shutdown for minutes, and nothing is left to send a second
    signal. A test cluster's state is thrown away anyway.
    """
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks (field 22 of /proc/PID/stat), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def log_tail(path: Path, limit: int = 3000) -> str:
    """The last ``limit`` characters of a log file, for error messages."""
    try:
        data = path.read_bytes()
    except OSError:
        return "(no log)"
    return data[-limit:].decode("utf-8", errors="replace")


@dataclass
class Process:
    """One started process: its name, pid and log."""

    name: str
    pid: int
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def alive(self) -> bool:
        """True while the process runs (a reaped or zombie child counts as gone)."""
        if self.popen is not None:
            return self.popen.poll() is None
        try:
            state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        return state != "Z"


class ProcessTable:
    """The processes of one cluster, under ``<state>/pids`` and ``<state>/logs``."""

    def __init__(self, state: Path, *, tie_to_parent: bool) -> None:
        self.pids = state / "pids"
        self.logs = state / "logs"
        self.tie_to_parent = tie_to_parent
        self.started: dict[str, Process] = {}

    def start(self, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
              cwd: Path | None = None) -> Process:
        """Start ``argv`` as ``name``, output to its log, and record its pid."""
        self.pids.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            out.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(argv)}\n".encode())
            out.flush()
            popen = subprocess.Popen(
                list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True,
                preexec_fn=_die_with_parent if self.tie_to_parent else None)
        (self.pids / f"{name}.pid").write_text(f"{popen.pid} {_start_time(popen.pid)}\n")
        proc = Process(name, popen.pid, log, popen)
        self.started[name] = proc
        return proc

    def record(self, name: str, pid: int, log: Path) -> Process:
        """Record a process started elsewhere (a :class:`cluster.services.Service`)."""
        self.pids.mkdir(parents=True, exist_ok=True)
        (self.pids / f"{name}.pid").write_text(f"{pid} {_start_time(pid)}\n")
        proc = Process(name, pid, log)
        self.started[name] = proc
        return proc

    def recorded(self) -> list[Process]:
        """Processes named in the pid files that still run (same pid, same start time)."""
        found = []
        for pidfile in sorted(self.pids.glob("*.pid")) if self.pids.is_dir() else []:
            try:
                pid_text, started = pidfile.read_text().split()
                pid = int(pid_text)
            except ValueError:
                continue
            if _start_time(pid) == started:
                name = pidfile.stem
                found.append(Process(name, pid, self.logs / f"{name}.log"))
        return found

    def stop_all(self, order: Sequence[str] = ()) -> list[str]:
        """SIGTERM every recorded process (``order`` first), SIGKILL after a grace period.

        Returns the names stopped. Pid files are removed, so a second call does nothing.
        """
        running = {p.name: p for p in self.recorded()}
        names = [n for n in order if n in running] + [n for n in running if n not in order]
        for name in names:
            _signal_group(running[name].pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_S
            while running[name].alive() and time.monotonic() < deadline:
                _reap(running[name])
                time.sleep(0.05)
            if running[name].alive():
                _signal_group(running[name].pid, signal.SIGKILL)
                deadline = time.monotonic() + STOP_GRACE_S
                while running[name].alive() and time.monotonic() < deadline:
                    _reap(running[name])
                    time.sleep(0.02)
            _reap(running[name])
        for popen in (p.popen for p in self.started.values() if p.popen is not None):
            popen.poll()
        for pidfile in self.pids.glob("*.pid") if self.pids.is_dir() else []:
            pidfile.unlink()
        return names


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process's group (it leads its own session), or the process alone."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def _reap(proc: Process) -> None:
    if proc.popen is not None:
        proc.popen.poll()
        return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(proc.pid, os.WNOHANG)


def wait_until(what: str, ready: Callable[[], bool], proc: Process | None,
               timeout: float) -> None:
    """Poll ``ready`` until true; fail with the log tail if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return
        except OSError:
            pass
        if proc is not None and not proc.alive():
            raise ClusterError(f"{what} exited while starting; {proc.log}:\n{log_tail(proc.log)}")
        if time.monotonic() > deadline:
            tail = f"; {proc.log}:\n{log_tail(proc.log)}" if proc is not None else ""
            raise ClusterError(f"{what} was not ready within {timeout:.0f} s{tail}")
        time.sleep(0.1)


def https_ok(url: str, context: ssl.SSLContext, timeout: float = 2.0) -> bool:
    """True if ``url`` answers 200 over TLS with ``context``'s trust and client identity."""
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as resp:
            return int(resp.status) == 200
    except urllib.error.HTTPError:
        return False
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
