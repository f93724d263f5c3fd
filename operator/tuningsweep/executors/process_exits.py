"""Waiting for whichever trial process ends first, without a thread per process.

On Linux (5.3 and later) each process gets a pidfd, a file descriptor that becomes
readable when the process exits, and the runner's loop waits on all of them at once with
``epoll``. A thread per process (the fallback elsewhere) costs a thread start per trial,
about a millisecond on a busy two-core machine, and a hand-over of the interpreter lock
at every exit; with short trials that is on the critical path between a trial ending
and the next one starting (``bench/optuna_compare.py`` measures it).
"""

from __future__ import annotations

import contextlib
import os
import queue
import select
import selectors
import subprocess
import threading
from collections import deque


def _pidfds_work() -> bool:
    """Whether this system has pidfds (Linux 5.3 and later, with Python's binding)."""
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError):
        return False
    return True


class ProcessExits:
    """The trials whose processes ended, in the order they ended."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector() if _pidfds_work() else None
        self._ready: deque[str] = deque()
        self._queue: queue.Queue[str] = queue.Queue()  # the fallback's waiter threads

    def watch(self, trial_id: str, process: subprocess.Popen[bytes]) -> None:
        """Report ``trial_id`` from :meth:`next` once ``process`` has ended."""
        if self._selector is not None:
            # An unreaped process keeps its pid (a zombie) until it is waited for, so
            # the pidfd is this process's; one already waited for is reported at once.
            try:
                fd = None if process.returncode is not None else os.pidfd_open(process.pid)
            except ProcessLookupError:
                fd = None
            if fd is None:
                process.wait()
                self._ready.append(trial_id)
            else:
                self._selector.register(fd, selectors.EVENT_READ, (trial_id, process))
            return
        threading.Thread(target=self._wait, args=(trial_id, process), daemon=True,
                         name=f"wait-{trial_id}").start()

    def watch_reply(self, trial_id: str, fd: int) -> None:
        """Report ``trial_id`` from :meth:`next` once ``fd`` is readable: a warm worker's
        reply descriptor (:mod:`.warm_pool`), which gets its reply or, should the worker
        die, end of file. The caller reads it."""
        if self._selector is not None:
            self._selector.register(fd, selectors.EVENT_READ, (trial_id, None))
            return
        threading.Thread(target=self._wait_readable, args=(trial_id, fd), daemon=True,
                         name=f"wait-{trial_id}").start()

    def _wait_readable(self, trial_id: str, fd: int) -> None:
        try:
            select.select([fd], [], [])
        except (OSError, ValueError):
            return  # closed under it: the trial was stopped, and is not reported
        self._queue.put(trial_id)

    def forget(self, fd: int) -> None:
        """Stop watching a reply descriptor (its trial was stopped before it replied)."""
        if self._selector is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(fd)

    def _wait(self, trial_id: str, process: subprocess.Popen[bytes]) -> None:
        process.wait()
        self._queue.put(trial_id)

    def next(self, timeout: float | None) -> str | None:
        """The next trial whose process ended (its exit status collected); None when
        ``timeout`` seconds passed first (``None`` waits as long as it takes)."""
        if self._ready:
            return self._ready.popleft()
        if self._selector is not None:
            for key, _ in self._selector.select(timeout):
                trial_id, process = key.data
                self._selector.unregister(key.fd)
                if process is not None:
                    os.close(key.fd)
                    process.wait()  # it has ended: this only collects the exit status
                self._ready.append(trial_id)
            return self._ready.popleft() if self._ready else None
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        """Release the pidfds of processes not reported yet (the runner is done)."""
        if self._selector is not None:
            for key in list(self._selector.get_map().values()):
                if key.data[1] is not None:  # a reply descriptor is its worker's to close
                    os.close(key.fd)
            self._selector.close()
            self._selector = None
