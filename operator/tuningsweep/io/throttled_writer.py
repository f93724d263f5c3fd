"""Rewrites of the same objects coalesced to the rate object storage allows.

GCS allows about one write per second to one object name and answers 429 beyond that;
the results CSV changes whenever a trial finishes. :class:`ThrottledWriter` keeps only
the latest text of each object and writes it at most once per ``min_interval`` (2 s by
default), on a background thread, over any :class:`~tuningsweep.io.storage.Store`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from .errors import StorageError
from .object_paths import clean_relpath
from .storage import Store

log = logging.getLogger(__name__)

DEFAULT_MIN_INTERVAL_S = 2.0
FAILED_WRITE_MAX_BACKOFF_S = 30.0


@dataclass
class _Pending:
    """Write state of one object inside :class:`ThrottledWriter`."""

    text: str | None = None  # latest text not yet handed to the store
    submitted: int = 0  # sequence number of the latest submit
    written: int = 0  # sequence number of the latest text durably written
    not_before: float = -math.inf  # time.monotonic() before which no write may start
    failures: int = 0  # consecutive failed attempts
    in_flight: bool = False


class ThrottledWriter:
    """Coalesces rewrites of the same objects to at most one write per ``min_interval``.

    ``submit(relpath, text)`` only records the text (latest wins) and returns at once;
    a background thread writes each object when its interval since the previous write
    has passed, so the first submit is written immediately and a burst becomes one more
    write at the end of the interval. Different objects do not wait for each other.

    ``flush()`` blocks until every text submitted before the call is written (waiting
    out intervals as needed) and raises :class:`StorageError` if a write failed in the
    meantime; the failed text stays queued and is retried by the thread (after at
    least ``min_interval``, backing off up to 30 s while failures persist). ``close()``
    flushes, then stops the thread. Nothing submitted is dropped silently: it is written
    or ``flush``/``close`` raise. Call ``close()`` (or use ``with``) before exiting;
    the thread is a daemon and dies with the interpreter.

    A thread, not a ``tick()`` the caller drives, so one implementation serves both
    callers: the synchronous local runner calls the methods directly, and the asyncio
    operator calls ``submit`` from the event loop (it never blocks on I/O) and runs
    ``await asyncio.to_thread(writer.flush)``. All methods are thread-safe.
    """

    def __init__(self, store: Store, min_interval: float = DEFAULT_MIN_INTERVAL_S) -> None:
        if min_interval < 0:
            raise ValueError("min_interval must be >= 0")
        self.store = store
        self.min_interval = min_interval
        self._cond = threading.Condition()
        self._objects: dict[str, _Pending] = {}
        self._attempts = 0  # write attempts started so far; the latest one's id
        self._failed_attempt = 0  # id of the latest attempt that failed
        self._last_error: Exception | None = None
        self._closed = False
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, name="tuningsweep-throttled-writer", daemon=True
        )
        self._thread.start()

    def submit(self, relpath: str, text: str) -> None:
        """Make ``text`` the next content of ``relpath``; replaces any unwritten text."""
        key = clean_relpath(relpath)
        with self._cond:
            if self._closed:
                raise RuntimeError("ThrottledWriter is closed")
            state = self._objects.setdefault(key, _Pending())
            state.text = text
            state.submitted += 1
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything submitted so far is written.

        Raises :class:`StorageError` when a write attempt started after this call
        fails (earlier attempts are the background retries' business), or when
        ``timeout`` seconds pass first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            targets = {key: st.submitted for key, st in self._objects.items()}
            attempts_before = self._attempts
            while True:
                behind = sorted(k for k, n in targets.items() if self._objects[k].written < n)
                if not behind:
                    return
                if self._failed_attempt > attempts_before:
                    raise StorageError(
                        f"could not write {self.store.uri_for(behind[0])}: {self._last_error}"
                    )
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise StorageError(
                        f"timed out after {timeout:g}s writing {self.store.uri_for(behind[0])}"
                    )
                self._cond.wait(remaining)

    def close(self, timeout: float | None = None) -> None:
        """Flush, then stop the background thread; idempotent."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
        try:
            self.flush(timeout)
        finally:
            with self._cond:
                self._stopping = True
                self._cond.notify_all()
            self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _next_due(self) -> tuple[str | None, float | None]:
        """(object to write now, None) or (None, seconds until one is due / None)."""
        now = time.monotonic()
        wait: float | None = None
        for key, state in self._objects.items():
            if state.text is None or state.in_flight:
                continue
            if state.not_before <= now:
                return key, None
            due_in = state.not_before - now
            wait = due_in if wait is None else min(wait, due_in)
        return None, wait

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    key, wait = self._next_due()
                    if key is not None:
                        break
                    self._cond.wait(wait)
                state = self._objects[key]
                text, seq = state.text, state.submitted
                assert text is not None
                state.text = None
                state.in_flight = True
                self._attempts += 1
                attempt = self._attempts
            error: Exception | None = None
            try:
                self.store.write_text(key, text)
            except Exception as err:  # any failure must reach flush(), not kill the thread
                error = err
            with self._cond:
                state.in_flight = False
                if error is None:
                    state.written = max(state.written, seq)
                    state.failures = 0
                    state.not_before = time.monotonic() + self.min_interval
                else:
                    # The store already retried transient errors; back off further so a
                    # persistent failure (disk full, bucket gone) does not spin.
                    state.failures += 1
                    backoff = min(FAILED_WRITE_MAX_BACKOFF_S, 0.5 * 2**state.failures)
                    state.not_before = time.monotonic() + max(self.min_interval, backoff)
                    self._failed_attempt = attempt
                    self._last_error = error
                    if state.text is None:  # nothing newer: keep this text for a retry
                        state.text = text
                    log.warning("writing %s failed: %s", self.store.uri_for(key), error)
                self._cond.notify_all()
