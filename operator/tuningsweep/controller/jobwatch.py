"""The sweeps' Jobs, kept compactly from a list-then-watch of our own.

Why not kopf's index: kopf keeps per watched object its own bookkeeping (a
``ResourceMemory`` and the index's reverse map), about 0.7 KB of Python objects per Job
before any state of ours, and it runs every Job event through its handler machinery.
The operator tracks every Job of every sweep it watches, finished ones included (they
stay until their sweep is deleted), so that cost is per tracked trial. Here each Job is
one :class:`~tuningsweep.core.kube.jobs.JobState` tuple in a dict per sweep, and a sweep is
woken only when the state of one of its Jobs changed: a status write that the reconciler
would not read (``active``, ``ready``, ``uncountedTerminatedPods``) wakes nobody.

Protocol, as client-go's reflector does it: list (paginated) with the label selector
``tuningsweep.io/sweep``, then watch from the list's ``resourceVersion`` with bookmarks;
resume from the last seen version after a dropped or timed-out connection; list again
after ``410 Gone``; back off while requests fail. Each scope (a namespace, or the whole
cluster) is one daemon thread using the synchronous ``kubernetes`` client; events are
applied on the event loop, so the reconciler reads the dicts without locks.

:meth:`JobWatch.ready_for` a namespace is set once its scope has been listed: no sweep
reconciles (and creates Jobs) before it has seen the Jobs that already exist, which is
what makes a restarted operator create no duplicates. A scope that cannot list (RBAC)
says so through :meth:`JobWatch.error_for`, and holds back only its own sweeps.

Only Jobs named as the operator names them (``naming.job_name``) are kept: a copied Job
carrying our labels under another name cannot shadow the real one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .. import __version__
from ..core.kube.jobs import LABEL_SWEEP, JobState, job_state
from ..core.records import naming
from . import metrics
from .namespaces import matches_any

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (namespace, sweep name)
Entries = dict[Key, dict[str, JobState]]

PAGE_SIZE = 500
# Watches end server-side after this and are resumed from the last version; a connection
# silent for longer than the read timeout (no event, no bookmark) is presumed dead.
WATCH_TIMEOUT_S = 60
READ_TIMEOUT_S = WATCH_TIMEOUT_S + 30
CONNECT_TIMEOUT_S = 10
SHORT_WATCH_S = 1.0  # a watch that ends sooner, with no event, counts as a failure
RETRY_MIN_S, RETRY_MAX_S = 0.5, 30.0
_PLAIN_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class _Gone(Exception):
    """The resourceVersion or continue token is too old (410): list again."""


def _entry(obj: dict[str, Any]) -> tuple[Key, JobState] | None:
    """(sweep key, state) of a Job of ours; None for any other Job."""
    metadata = obj.get("metadata") or {}
    sweep = (metadata.get("labels") or {}).get(LABEL_SWEEP)
    if not sweep:
        return None
    state = job_state(obj)
    if not state.trial or metadata.get("name") != naming.job_name(sweep, state.trial):
        return None  # not a trial's Job as the operator names them
    return (metadata.get("namespace", ""), sweep), state


def _lines(response: Any) -> Iterator[bytes]:
    """The newline-separated JSON documents of a watch response, as they arrive."""
    pending = b""
    for chunk in response.stream(amt=None, decode_content=False):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from (line for line in complete if line.strip())


def _close(response: Any) -> None:
    """Close a watch response for good (never back into the pool half-read)."""
    with contextlib.suppress(Exception):
        response.close()
    with contextlib.suppress(Exception):
        response.release_conn()


class JobWatch:
    """Jobs labelled ``tuningsweep.io/sweep`` in the watched namespaces, per sweep.

    ``namespaces`` takes what ``tuningsweep operator --namespace`` takes, as kopf reads
    it: plain names are watched one by one; with any pattern (``*``, ``?``, ``!``
    exclusions, comma lists) the whole cluster is watched and filtered with kopf's rules.
    Empty means the whole cluster. ``wake`` is called on the event loop with the key of
    each sweep whose Jobs changed.
    """

    def __init__(self, namespaces: list[str], wake: Callable[[Key], None]) -> None:
        plain = all(_PLAIN_NAMESPACE.match(n) for n in namespaces)
        self._patterns = [] if plain else list(namespaces)
        self._scopes: list[str | None] = (
            list(dict.fromkeys(namespaces)) if namespaces and plain else [None])
        self._wake = wake
        self._jobs: Entries = {}
        self._ready = {scope: asyncio.Event() for scope in self._scopes}
        self._errors: dict[str | None, str] = {}
        self._stopping = threading.Event()
        self._responses: set[Any] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.threads: list[threading.Thread] = []

    # -- reading (event loop) ----------------------------------------------------------

    def jobs(self, key: Key) -> list[JobState]:
        """The Jobs of one sweep as last seen (owned by it or not: the caller checks)."""
        return list(self._jobs.get(key, {}).values())

    def __len__(self) -> int:
        return sum(len(trials) for trials in self._jobs.values())

    def _scope_of(self, namespace: str) -> str | None:
        return namespace if namespace in self._ready else None

    def ready_for(self, namespace: str) -> asyncio.Event:
        """Set once the Jobs of ``namespace`` have been listed."""
        return self._ready.get(self._scope_of(namespace)) or asyncio.Event()

    def error_for(self, namespace: str) -> str | None:
        """Why the Jobs of ``namespace`` cannot be listed or watched now (None: fine)."""
        return self._errors.get(self._scope_of(namespace))

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start one thread per scope; see :meth:`ready_for`."""
        self._loop = asyncio.get_running_loop()
        for scope in self._scopes:
            thread = threading.Thread(target=self._run, args=(scope,), daemon=True,
                                      name=f"jobwatch-{scope or 'cluster'}")
            self.threads.append(thread)
            thread.start()

    def stop(self) -> None:
        """Stop the threads (their open watch connections are closed)."""
        self._stopping.set()
        for response in list(self._responses):
            # shutdown() (urllib3 >= 2.3) unblocks a read in another thread; close() may not.
            getattr(response, "shutdown", response.close)()

    # -- the watch (one thread per scope) ----------------------------------------------

    def _run(self, scope: str | None) -> None:
        api_client = client.ApiClient()
        api_client.user_agent = f"tuningsweep-operator/{__version__}"
        batch = client.BatchV1Api(api_client)
        version: str | None = None
        delay = RETRY_MIN_S
        where = f"namespace {scope}" if scope else "the cluster"
        while not self._stopping.is_set():
            failed = False
            try:
                if version is None:
                    version = self._list(batch, scope)
                began = time.monotonic()
                version, events = self._watch(batch, scope, version)
                # An empty watch that ends at once (a proxy closing it) must not spin.
                failed = not events and time.monotonic() - began < SHORT_WATCH_S
            except _Gone:
                log.info("Job watch of %s expired; listing again", where)
                failed, version = version is None, None  # a list that 410s: back off
            except Exception as exc:
                if self._stopping.is_set():
                    break
                failed = True
                message = (f"{exc.status} {exc.reason}" if isinstance(exc, ApiException)
                           else str(exc))
                # The API server restarting, a network blip, or missing RBAC: resume
                # where we were (version kept), and tell the sweeps waiting on it.
                log.warning("Job watch of %s failed (retrying in %.1fs): %s",
                            where, delay, message)
                self._post(self._set_error, scope, f"cannot list or watch Jobs in {where}: "
                           f"{message}")
            if failed:
                self._stopping.wait(delay)
                delay = min(delay * 2, RETRY_MAX_S)
            else:
                delay = RETRY_MIN_S
        api_client.close()  # type: ignore[no-untyped-call]

    def _call(self, batch: client.BatchV1Api, scope: str | None, **kwargs: Any) -> Any:
        kwargs.update(label_selector=LABEL_SWEEP, _preload_content=False)
        verb = "watch" if kwargs.get("watch") else "list"
        try:
            if scope is None:
                response = batch.list_job_for_all_namespaces(**kwargs)
            else:
                response = batch.list_namespaced_job(scope, **kwargs)
        except ApiException as exc:
            metrics.API_CALLS.labels(verb, "jobs", str(exc.status)).inc()
            if exc.status == 410:  # an expired continue token, or a watch refused up front
                raise _Gone() from exc
            raise
        except Exception:
            metrics.API_CALLS.labels(verb, "jobs", "error").inc()
            raise
        metrics.API_CALLS.labels(verb, "jobs", "ok").inc()
        return response

    def _list(self, batch: client.BatchV1Api, scope: str | None) -> str:
        entries: Entries = {}
        token: str | None = None
        while True:
            response = self._call(batch, scope, limit=PAGE_SIZE, _continue=token,
                                  _request_timeout=(CONNECT_TIMEOUT_S, 60))
            page = json.loads(response.data)
            for obj in page.get("items") or []:
                if self._matches(obj) and (found := _entry(obj)) is not None:
                    key, state = found
                    entries.setdefault(key, {})[state.trial] = state
            token = (page.get("metadata") or {}).get("continue") or None
            if token is None:
                version = str(page["metadata"]["resourceVersion"])
                break
        self._post(self._replace, scope, entries)
        return version

    def _watch(self, batch: client.BatchV1Api, scope: str | None,
               version: str) -> tuple[str, int]:
        """Follow one watch request; the last version seen and how many events came."""
        response = self._call(batch, scope, watch=True, resource_version=version,
                              allow_watch_bookmarks=True, timeout_seconds=WATCH_TIMEOUT_S,
                              _request_timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
        self._responses.add(response)
        events = 0
        try:
            if self._stopping.is_set():  # stop() came while this request was on its way
                return version, events
            for line in _lines(response):
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise _Gone()
                    raise ApiException(status=obj.get("code"), reason=obj.get("message"))
                events += 1
                version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                if kind in ("ADDED", "MODIFIED", "DELETED") and self._matches(obj):
                    self._post(self._apply, kind, obj)
        except urllib3.exceptions.ReadTimeoutError:
            # A connection that went quiet past the read timeout is a normal end here:
            # resume from the last version, as after the server's own timeout.
            if self._stopping.is_set():
                raise
        finally:
            self._responses.discard(response)
            _close(response)
        return version, events

    def _matches(self, obj: dict[str, Any]) -> bool:
        if not self._patterns:
            return True
        namespace = (obj.get("metadata") or {}).get("namespace", "")
        return matches_any(namespace, self._patterns)

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop closed: the operator is exiting
            self._loop.call_soon_threadsafe(fn, *args)

    # -- applying (event loop) ---------------------------------------------------------

    def _set_error(self, scope: str | None, message: str) -> None:
        self._errors[scope] = message

    def _replace(self, scope: str | None, entries: Entries) -> None:
        """Take a fresh listing of one scope; wake the sweeps whose Jobs differ."""
        old = {k: v for k, v in self._jobs.items() if scope is None or k[0] == scope}
        for key in old:
            del self._jobs[key]
        self._jobs.update(entries)
        for key in old.keys() | entries.keys():
            if old.get(key) != entries.get(key):
                self._wake(key)
        self._errors.pop(scope, None)
        self._ready[scope].set()

    def _apply(self, kind: str, obj: dict[str, Any]) -> None:
        found = _entry(obj)
        if found is None:
            labels = (obj.get("metadata") or {}).get("labels") or {}
            if kind == "DELETED" and LABEL_SWEEP not in labels:
                self._forget_by_name(obj)  # our label was removed: it left the selector
            return
        key, state = found
        if kind == "DELETED":
            trials = self._jobs.get(key, {})
            old = trials.get(state.trial)
            if old is None or old.owner != state.owner:
                return
            del trials[state.trial]
            if not trials:
                del self._jobs[key]
            self._wake(key)
            return
        trials = self._jobs.setdefault(key, {})
        old = trials.get(state.trial)
        if old == state:
            return  # nothing the reconciler reads changed
        if old is not None:
            # The dict keeps its first key string; the state shares it, not a copy.
            state = state._replace(trial=old.trial)
        trials[state.trial] = state
        self._wake(key)

    def _forget_by_name(self, obj: dict[str, Any]) -> None:
        """Drop a Job known by its name only (a DELETED event without our labels).

        Rare (someone relabelled a Job), so a scan of the namespace's sweeps is fine.
        """
        metadata = obj.get("metadata") or {}
        namespace, name = metadata.get("namespace", ""), metadata.get("name", "")
        for key, trials in list(self._jobs.items()):
            if key[0] != namespace:
                continue
            # Most names are "<sweep>-<trial>"; shortened ones need the full check.
            prefix = key[1] + "-"
            guess = name[len(prefix):]
            candidates = [guess] if name.startswith(prefix) and guess in trials else list(trials)
            for trial in candidates:
                if naming.job_name(key[1], trial) == name:
                    del trials[trial]
                    if not trials:
                        del self._jobs[key]
                    self._wake(key)
                    return
