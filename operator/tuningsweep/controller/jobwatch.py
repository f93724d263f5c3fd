"""The sweeps' Jobs, kept compactly from a list-then-watch of our own.

Why not kopf's index: kopf keeps per watched object its own bookkeeping (a
``ResourceMemory`` and the index's reverse map), about 0.7 KB of Python objects per Job
before any state of ours, and it runs every Job event through its handler machinery.
The operator tracks every Job of every sweep it watches, finished ones included (they
stay until their sweep is deleted), so that cost is per tracked trial. Here each Job is
one :class:`~tuningsweep.core.jobs.JobState` tuple in a dict per sweep, and a sweep is
woken only when the state of one of its Jobs changed: a status write that the reconciler
would not read (``active``, ``ready``, ``uncountedTerminatedPods``) wakes nobody.

Protocol, as client-go's reflector does it: list (paginated) with the label selector
``tuningsweep.io/sweep``, then watch from the list's ``resourceVersion`` with bookmarks;
resume from the last seen version after a dropped connection; list again after a
``410 Gone``. Each scope (a namespace, or the whole cluster) is one daemon thread using
the synchronous ``kubernetes`` client; events are applied on the event loop, so the
reconciler reads the dicts without locks. :attr:`JobWatch.ready` is set once every scope
has been listed: no sweep reconciles (and creates Jobs) before it has seen the Jobs that
already exist, which is what makes a restarted operator create no duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .. import __version__
from ..core.jobs import LABEL_SWEEP, JobState, job_state

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (namespace, sweep name)
Entries = dict[Key, dict[str, JobState]]

PAGE_SIZE = 500
WATCH_TIMEOUT_S = 300  # server-side; the watch is then resumed from the last version
READ_TIMEOUT_S = WATCH_TIMEOUT_S + 60  # a silent connection (no bookmark either) is dead
RETRY_MIN_S, RETRY_MAX_S = 0.5, 30.0


class _Gone(Exception):
    """The watch's resourceVersion is too old (410): list again."""


def _entry(obj: dict[str, Any]) -> tuple[Key, JobState] | None:
    metadata = obj.get("metadata") or {}
    sweep = (metadata.get("labels") or {}).get(LABEL_SWEEP)
    if not sweep:
        return None
    state = job_state(obj)
    if not state.trial:
        return None  # not a trial's Job (no trial label): nothing to reconcile
    return (metadata.get("namespace", ""), sweep), state


def _lines(response: Any) -> Iterator[bytes]:
    """The newline-separated JSON documents of a watch response, as they arrive."""
    pending = b""
    for chunk in response.stream(amt=None, decode_content=False):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from (line for line in complete if line.strip())


class JobWatch:
    """Jobs labelled ``tuningsweep.io/sweep`` in the watched namespaces, per sweep.

    ``namespaces`` empty means the whole cluster; names with ``*``/``?`` are patterns
    (as kopf allows), watched cluster-wide and filtered here. ``wake`` is called on the
    event loop with the key of each sweep whose Jobs changed.
    """

    def __init__(self, namespaces: list[str], wake: Callable[[Key], None]) -> None:
        patterns = [n for n in namespaces if any(c in n for c in "*?[")]
        self._patterns = patterns
        # One cluster-wide scope when asked for, or when patterns need it; else one each.
        self._scopes: list[str | None] = (
            [None] if not namespaces or patterns else list(dict.fromkeys(namespaces)))
        self._wake = wake
        self._jobs: Entries = {}
        self._unlisted: set[str | None] = set(self._scopes)
        self._stopping = threading.Event()
        self._responses: set[Any] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.ready = asyncio.Event()

    # -- reading (event loop) ----------------------------------------------------------

    def jobs(self, key: Key) -> list[JobState]:
        """The Jobs of one sweep as last seen (owned by it or not: the caller checks)."""
        return list(self._jobs.get(key, {}).values())

    def __len__(self) -> int:
        return sum(len(trials) for trials in self._jobs.values())

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start one thread per scope; :attr:`ready` is set once each has listed."""
        self._loop = asyncio.get_running_loop()
        for scope in self._scopes:
            threading.Thread(target=self._run, args=(scope,), daemon=True,
                             name=f"jobwatch-{scope or 'cluster'}").start()

    def stop(self) -> None:
        """Stop the threads (their open watch connections are closed)."""
        self._stopping.set()
        for response in list(self._responses):
            with contextlib.suppress(Exception):  # already closed
                response.shutdown()

    # -- the watch (one thread per scope) ----------------------------------------------

    def _run(self, scope: str | None) -> None:
        api_client = client.ApiClient()
        api_client.user_agent = f"tuningsweep-operator/{__version__}"
        batch = client.BatchV1Api(api_client)
        version: str | None = None
        delay = RETRY_MIN_S
        while not self._stopping.is_set():
            try:
                if version is None:
                    version = self._list(batch, scope)
                version = self._watch(batch, scope, version)
                delay = RETRY_MIN_S
            except _Gone:
                log.info("Job watch of %s expired; listing again", scope or "the cluster")
                version = None
            except Exception as exc:
                if self._stopping.is_set():
                    break
                # The API server restarting or a network blip: resume where we were.
                log.warning("Job watch of %s failed (retrying in %.1fs): %s",
                            scope or "the cluster", delay, exc)
                self._stopping.wait(delay)
                delay = min(delay * 2, RETRY_MAX_S)
        api_client.close()  # type: ignore[no-untyped-call]

    def _call(self, batch: client.BatchV1Api, scope: str | None, **kwargs: Any) -> Any:
        kwargs.update(label_selector=LABEL_SWEEP, _preload_content=False)
        if scope is None:
            return batch.list_job_for_all_namespaces(**kwargs)
        return batch.list_namespaced_job(scope, **kwargs)

    def _list(self, batch: client.BatchV1Api, scope: str | None) -> str:
        entries: Entries = {}
        token: str | None = None
        while True:
            response = self._call(batch, scope, limit=PAGE_SIZE, _continue=token,
                                  _request_timeout=(10, 60))
            page = json.loads(response.data)
            for obj in page.get("items") or []:
                self._add(entries, obj)
            token = (page.get("metadata") or {}).get("continue") or None
            if token is None:
                version = str(page["metadata"]["resourceVersion"])
                break
        self._post(self._replace, scope, entries)
        return version

    def _watch(self, batch: client.BatchV1Api, scope: str | None, version: str) -> str:
        try:
            response = self._call(batch, scope, watch=True, resource_version=version,
                                  allow_watch_bookmarks=True, timeout_seconds=WATCH_TIMEOUT_S,
                                  _request_timeout=(10, READ_TIMEOUT_S))
        except ApiException as exc:
            if exc.status == 410:  # some servers refuse an expired version up front
                raise _Gone() from exc
            raise
        self._responses.add(response)
        try:
            for line in _lines(response):
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise _Gone()
                    raise ApiException(status=obj.get("code"), reason=obj.get("message"))
                version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                if kind in ("ADDED", "MODIFIED", "DELETED") and self._matches(obj):
                    self._post(self._apply, kind, obj)
        finally:
            self._responses.discard(response)
            response.release_conn()
        return version

    def _matches(self, obj: dict[str, Any]) -> bool:
        if not self._patterns:
            return True
        namespace = (obj.get("metadata") or {}).get("namespace", "")
        return any(fnmatch.fnmatchcase(namespace, p) for p in self._patterns)

    def _add(self, entries: Entries, obj: dict[str, Any]) -> None:
        if not self._matches(obj):
            return
        found = _entry(obj)
        if found is not None:
            key, state = found
            entries.setdefault(key, {})[state.trial] = state

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop closed: the operator is exiting
            self._loop.call_soon_threadsafe(fn, *args)

    # -- applying (event loop) ---------------------------------------------------------

    def _replace(self, scope: str | None, entries: Entries) -> None:
        """Take a fresh listing of one scope; wake the sweeps whose Jobs differ."""
        old = {k: v for k, v in self._jobs.items() if scope is None or k[0] == scope}
        for key in old:
            del self._jobs[key]
        self._jobs.update(entries)
        for key in old.keys() | entries.keys():
            if old.get(key) != entries.get(key):
                self._wake(key)
        if self._unlisted:
            self._unlisted.discard(scope)
            if not self._unlisted:
                self.ready.set()

    def _apply(self, kind: str, obj: dict[str, Any]) -> None:
        found = _entry(obj)
        if found is None:
            return
        key, state = found
        trials = self._jobs.setdefault(key, {})
        if kind == "DELETED":
            if trials.pop(state.trial, None) is None:
                return
            if not trials:
                del self._jobs[key]
        else:
            old = trials.get(state.trial)
            if old == state:
                return  # nothing the reconciler reads changed
            if old is not None:
                # The dict keeps its first key string; the state shares it, not a copy.
                state = state._replace(trial=old.trial)
            trials[state.trial] = state
        self._wake(key)
