"""Ending a trial's process group: SIGTERM, a grace period, then SIGKILL.

Every trainer (a process per trial, or a warm worker) runs in a session of its own, so a
signal to its group reaches whatever it started too (data loaders, TensorBoard writers).
The one rule for ending them, used when a trial is stopped early, when a worker is
retired and when the whole run is interrupted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable


def signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    """Send ``sig`` to the process's group; nothing if it has already exited (it may
    exit between a check and the signal)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)


def terminate(processes: Iterable[subprocess.Popen[bytes]], grace: float) -> None:
    """End every process group: SIGTERM to all at once, then SIGKILL to those still
    running ``grace`` seconds later (one deadline for all, so ending N trials takes one
    grace period, not N). Returns once all have exited."""
    group = list(processes)
    for process in group:
        signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in group:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
