"""A test-side node and Job controller: runs the Jobs in the API emulator as local processes.

There is no kubelet and no kube-controller-manager next to the API emulator, so Jobs created
by the operator would stay pending forever. :class:`NodeAgent` plays both parts for tests:

* It lists and watches ``batch/v1`` Jobs (one namespace or all, optionally by label selector),
  resuming watches from the last ``resourceVersion`` and re-listing after ``410 Gone``.
* For each new Job that is not suspended and not finished, it writes ``startTime``,
  ``active: 1``, ``ready: 0`` at once (the pod exists but may be pending), waits for one of
  ``max_concurrency`` slots (the node's capacity, e.g. its GPUs), then runs the pod template's
  first container as a local subprocess and sets ``ready: 1``.
* The process is the container's ``command`` + ``args`` (or, for an image without a command,
  the entrypoint given in ``image_commands``), with ``$(VAR)`` references expanded as the
  kubelet does, in a fresh working directory, with the container's ``env`` entries that have a
  plain ``value`` (``valueFrom`` is ignored, except ``fieldRef`` to ``metadata.name`` /
  ``metadata.namespace``) merged over this process's environment and ``extra_env``. So a test
  can point a Job at the local ``tuningsweep-trainer`` or at a Python one-liner.
* On exit it writes the status the Job controller (Kubernetes 1.31+) writes: ``succeeded: 1``,
  ``completionTime`` and the conditions ``SuccessCriteriaMet`` and ``Complete``; or, once more
  pods failed than ``spec.backoffLimit`` allows (failed attempts are retried at once, without
  the real exponential back-off), ``failed: N`` and the conditions ``FailureTarget`` and
  ``Failed`` with reason ``BackoffLimitExceeded``. A ``spec.podFailurePolicy`` is applied to
  each failed pod as the Job controller applies it: rules in order, ``onExitCodes`` (container
  0's exit code) and ``onPodConditions`` (``DisruptionTarget`` on an evicted pod); ``Ignore``
  starts the pod again without counting it, ``FailJob`` fails the Job at once with reason
  ``PodFailurePolicy`` and the controller's message, ``Count`` counts it as usual.
* With ``create_pods=True`` each attempt is also a Pod object, as the Job controller and the
  kubelet would write it: the template's labels plus ``batch.kubernetes.io/job-name`` and
  ``controller-uid``, an ownerReference to the Job, phase ``Running`` then ``Succeeded`` or
  ``Failed`` with container 0's ``state.terminated`` (exit code, reason, and, under
  ``terminationMessagePolicy: FallbackToLogsOnError``, a failed attempt's last log lines,
  at most 80 lines or 2048 bytes, as the kubelet takes them), and ``DisruptionTarget``
  when evicted. Off by default: it costs API writes that request-counting tests would see.
* :meth:`NodeAgent.evict` evicts a Job's running pod, as a drained node, a preempting
  higher-priority pod or a reclaimed spot VM would: the pod gets ``DisruptionTarget`` and
  is terminated (SIGTERM, then SIGKILL), and the Job's pod failure policy decides what
  follows; without one the failure counts against ``backoffLimit``, as on a cluster.
  ``spec.activeDeadlineSeconds`` kills the
  process and fails the Job with reason ``DeadlineExceeded``. As on a real cluster, a failed
  Job has no ``completionTime``: use the ``Failed`` condition's ``lastTransitionTime``.
* A Job that is deleted (or gets a ``deletionTimestamp``) has its process group terminated
  (SIGTERM, then SIGKILL after ``kill_grace_seconds``), like pods garbage-collected with it.
* Each Job's stdout and stderr go to ``<workdir>/logs/<namespace>/<job>.log`` (all attempts);
  :meth:`NodeAgent.log_tail` reads the end of it for assertion messages.
* Nothing outlives the agent: :meth:`NodeAgent.stop` kills every process group, and the
  kernel kills the processes if the agent's thread (or the whole test process) dies first.

The agent runs its own asyncio loop in a daemon thread (aiohttp for the API, asyncio
subprocesses for the pods), so it never blocks the test and the test never blocks it; the
public methods are synchronous and thread-safe. It identifies itself with the User-Agent
``tuningsweep-test-node-agent`` so request-log assertions can tell its calls from the
operator's.
"""
from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import datetime
import functools
import json
import logging
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import aiohttp

logger = logging.getLogger('tuningsweep.tests.node_agent')

USER_AGENT = 'tuningsweep-test-node-agent'
JobPhase = Literal['pending', 'running', 'succeeded', 'failed', 'killed']
TERMINAL_PHASES: frozenset[str] = frozenset({'succeeded', 'failed', 'killed'})
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == 'linux' else None


def _die_with_the_agent() -> None:
    """``preexec_fn``: have the kernel SIGKILL the pod process if the agent's thread dies.

    ``PR_SET_PDEATHSIG`` fires when the thread that forked the child ends, i.e. when the agent's
    loop thread ends, including when the whole test process is killed: no orphan trainers.
    """
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


@dataclasses.dataclass
class JobRun:
    """What the agent did with one Job (one object uid). Snapshots are copies."""

    namespace: str
    name: str
    uid: str
    log_path: Path
    workdir: Path
    argv: list[str] = dataclasses.field(default_factory=list)
    env: dict[str, str] = dataclasses.field(default_factory=dict)  # the container's env only
    phase: JobPhase = 'pending'
    attempts: int = 0
    exit_codes: list[int] = dataclasses.field(default_factory=list)
    disruptions: int = 0  # pods evicted (DisruptionTarget) by evict()
    reason: str | None = None  # Complete/BackoffLimitExceeded/DeadlineExceeded/deleted/...
    message: str | None = None
    observed_at: float = 0.0  # time.monotonic() when the Job was first seen
    started_at: float | None = None  # when the first process started
    finished_at: float | None = None


class JobGone(Exception):
    """The Job was deleted while the agent was working on it."""


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


_VAR_REF = re.compile(r'\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)')


def expand_var_refs(text: str, env: Mapping[str, str]) -> str:
    """The kubelet's ``$(VAR)`` expansion: known names expand, ``$$`` escapes, others stay."""
    def sub(m: re.Match[str]) -> str:
        if m[0] == '$$':
            return '$'
        return env.get(m[1], m[0])
    return _VAR_REF.sub(sub, text)


def _image_key(image: str) -> str:
    """The image reference without tag or digest: ``repo/name:tag`` -> ``repo/name``."""
    image = image.split('@', 1)[0]
    head, _, tail = image.rpartition('/')
    return f'{head}/{tail.split(":", 1)[0]}' if head else tail.split(':', 1)[0]


def _is_finished(job: Mapping[str, Any]) -> bool:
    return any(c.get('type') in ('Complete', 'Failed') and c.get('status') == 'True'
               for c in (job.get('status') or {}).get('conditions') or [])


def container_name(job: Mapping[str, Any]) -> str:
    """The name of the pod template's first container (the one the agent runs)."""
    containers = (((job.get('spec') or {}).get('template') or {}).get('spec') or {}).get(
        'containers') or [{}]
    return str(containers[0].get('name', ''))


def pod_failure_rule(policy: Mapping[str, Any] | None, container: str, exit_code: int,
                     disrupted: bool) -> tuple[str, int, bool] | None:
    """The first rule of a Job's ``podFailurePolicy`` that matches a failed pod.

    Returns (action, rule index, whether it matched on the exit code), or None when no
    rule matches (the failure counts, as without a policy).
    """
    for index, rule in enumerate((policy or {}).get('rules') or []):
        codes = rule.get('onExitCodes')
        if codes is not None and codes.get('containerName') in (None, container):
            inside = exit_code in (codes.get('values') or [])
            if inside == (codes.get('operator') == 'In'):
                return str(rule['action']), index, True
        for pattern in rule.get('onPodConditions') or []:
            if (disrupted and pattern.get('type') == 'DisruptionTarget'
                    and pattern.get('status', 'True') == 'True'):
                return str(rule['action']), index, False
    return None


class NodeAgent:
    """Runs the Jobs of an API emulator as local processes and reports their status.

    Usage::

        with NodeAgent(emulator.url, max_concurrency=4, workdir=tmp_path) as agent:
            ...  # create Jobs (or let the operator create them)
            run = agent.wait_for_job('ml', 'sweep-c0001-w0', timeout=30)
            assert run.phase == 'succeeded', agent.log_tail('ml', 'sweep-c0001-w0')
    """

    def __init__(self, api_url: str, *, namespace: str | None = None,
                 max_concurrency: int = 4, workdir: str | Path | None = None,
                 image_commands: Mapping[str, Sequence[str]] | None = None,
                 extra_env: Mapping[str, str] | None = None, label_selector: str | None = None,
                 kill_grace_seconds: float = 2.0, pass_environment: bool = True,
                 watch_timeout_seconds: int = 30, user_agent: str = USER_AGENT,
                 create_pods: bool = False) -> None:
        self.api_url = api_url.rstrip('/')
        self.namespace = namespace
        self.max_concurrency = max_concurrency
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix='node-agent-'))
        self.image_commands = {k: list(v) for k, v in (image_commands or {}).items()}
        self.extra_env = dict(extra_env or {})
        self.label_selector = label_selector
        self.kill_grace_seconds = kill_grace_seconds
        self.pass_environment = pass_environment
        self.watch_timeout_seconds = watch_timeout_seconds
        self.user_agent = user_agent
        self.create_pods = create_pods

        self._lock = threading.Lock()
        self._runs: dict[str, JobRun] = {}  # by uid
        self._running = 0
        self._max_running = 0
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}  # loop thread only
        self._procs: dict[str, asyncio.subprocess.Process] = {}  # running pods; loop thread only
        self._evicting: set[str] = set()  # uids whose pod is being evicted; loop thread only
        self._evictions: set[asyncio.Task[None]] = set()  # loop thread only
        self._error: BaseException | None = None
        self._slots = asyncio.Semaphore(max_concurrency)  # bound to the agent's loop on first use
        self._session: aiohttp.ClientSession | None = None

    # -- public, synchronous API -------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> NodeAgent:
        """Start the thread; return once the initial list of Jobs is processed."""
        if self._thread is not None:
            raise RuntimeError('the agent is already started')
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._ready.clear()
        self._error = None
        self._slots = asyncio.Semaphore(self.max_concurrency)  # a fresh one per loop
        self._thread = threading.Thread(target=self._thread_main, name='node-agent', daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise TimeoutError(f'the node agent did not connect within {timeout}s: {self._error!r}')
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Kill the running processes, stop watching, join the thread."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f'the node agent did not stop within {timeout}s')
        self._thread = None

    def __enter__(self) -> NodeAgent:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def runs(self) -> list[JobRun]:
        """Snapshots of every Job the agent has seen, in the order it saw them."""
        with self._lock:
            return [dataclasses.replace(run, argv=list(run.argv), env=dict(run.env),
                                        exit_codes=list(run.exit_codes))
                    for run in self._runs.values()]

    def run_for(self, namespace: str, name: str) -> JobRun | None:
        """The latest run of the Job with this name (a re-created Job is a new run)."""
        matches = [r for r in self.runs() if (r.namespace, r.name) == (namespace, name)]
        return matches[-1] if matches else None

    def wait_for_job(self, namespace: str, name: str, timeout: float = 30.0) -> JobRun:
        """Wait until the Job's run is succeeded, failed or killed; return it."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run_for(namespace, name)
            if run is not None and run.phase in TERMINAL_PHASES:
                return run
            self._raise_if_crashed()
            if time.monotonic() > deadline:
                raise TimeoutError(f'job {namespace}/{name} did not finish within {timeout}s; '
                                   f'run: {run}')
            time.sleep(0.02)

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until no Job is pending or running."""
        deadline = time.monotonic() + timeout
        while any(r.phase not in TERMINAL_PHASES for r in self.runs()):
            self._raise_if_crashed()
            if time.monotonic() > deadline:
                raise TimeoutError(f'the node agent was not idle within {timeout}s')
            time.sleep(0.02)

    def evict(self, namespace: str, name: str, timeout: float = 30.0) -> JobRun:
        """Evict the Job's running pod (``DisruptionTarget``); return the run once it is handled.

        Waits until the pod runs, then until the agent has applied the Job's pod failure
        policy to the evicted pod (its ``disruptions`` count is one more).
        """
        deadline = time.monotonic() + timeout
        while (run := self.run_for(namespace, name)) is None or run.phase != 'running':
            self._raise_if_crashed()
            if time.monotonic() > deadline or (run is not None and run.phase in TERMINAL_PHASES):
                raise TimeoutError(f'job {namespace}/{name} has no running pod to evict: {run}')
            time.sleep(0.02)
        before = run.disruptions
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._evict, run.uid)
        while (now := self.run_for(namespace, name)) is not None and now.disruptions == before:
            self._raise_if_crashed()
            if time.monotonic() > deadline or now.phase in TERMINAL_PHASES:
                raise TimeoutError(f'the eviction of {namespace}/{name} was not handled: {now}')
            time.sleep(0.02)
        assert now is not None
        return now

    def _evict(self, uid: str) -> None:
        proc = self._procs.get(uid)
        if proc is None and uid in self._tasks:
            assert self._loop is not None  # the pod is starting: evict it once it runs
            self._loop.call_later(0.02, self._evict, uid)
            return
        if proc is None or proc.returncode is not None:
            return  # the pod ended meanwhile: nothing to evict
        self._evicting.add(uid)
        task = asyncio.create_task(self._kill(proc))  # SIGTERM, then SIGKILL: the kubelet's way
        self._evictions.add(task)  # a reference, or the task may be collected mid-way
        task.add_done_callback(self._evictions.discard)

    @property
    def max_running(self) -> int:
        """The most processes that ran at the same time (to check the concurrency cap)."""
        with self._lock:
            return self._max_running

    def log_tail(self, namespace: str, name: str, lines: int = 40) -> str:
        run = self.run_for(namespace, name)
        if run is None or not run.log_path.exists():
            return ''
        return '\n'.join(run.log_path.read_text(errors='replace').splitlines()[-lines:])

    def _raise_if_crashed(self) -> None:
        if self._error is not None:
            raise RuntimeError('the node agent crashed') from self._error

    # -- the loop thread -----------------------------------------------------------------------

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test through _raise_if_crashed
            self._error = exc
            logger.exception('node agent crashed')

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=None)
        async with aiohttp.ClientSession(self.api_url, timeout=timeout,
                                         headers={'User-Agent': self.user_agent}) as session:
            self._session = session
            watcher = asyncio.create_task(self._watch_jobs())
            stopper = asyncio.create_task(self._stopping.wait())
            await asyncio.wait({watcher, stopper}, return_when=asyncio.FIRST_COMPLETED)
            watcher.cancel()
            stopper.cancel()
            tasks = list(self._tasks.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(watcher, *tasks, return_exceptions=True)
            if not watcher.cancelled() and (exc := watcher.exception()) is not None:
                raise exc

    def _jobs_path(self) -> str:
        if self.namespace:
            return f'/apis/batch/v1/namespaces/{self.namespace}/jobs'
        return '/apis/batch/v1/jobs'

    async def _watch_jobs(self) -> None:
        resource_version: str | None = None
        failures = 0
        while True:
            try:
                if resource_version is None:
                    params = {'labelSelector': self.label_selector} if self.label_selector else {}
                    assert self._session is not None
                    async with self._session.get(self._jobs_path(), params=params) as rsp:
                        rsp.raise_for_status()
                        listing = await rsp.json()
                    for job in listing.get('items') or []:
                        self._observe('ADDED', job)
                    resource_version = listing['metadata']['resourceVersion']
                    self._ready.set()
                resource_version = await self._stream(resource_version)
                failures = 0
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                failures += 1
                logger.warning('node agent: watching jobs failed (%r); retrying', exc)
                if failures > 50:
                    raise
                await asyncio.sleep(min(0.05 * failures, 1.0))

    async def _stream(self, resource_version: str) -> str | None:
        """One watch request; returns the resourceVersion to resume from (None: re-list)."""
        params = {'watch': 'true', 'resourceVersion': resource_version,
                  'allowWatchBookmarks': 'true',
                  'timeoutSeconds': str(self.watch_timeout_seconds)}
        if self.label_selector:
            params['labelSelector'] = self.label_selector
        assert self._session is not None
        async with self._session.get(self._jobs_path(), params=params) as rsp:
            rsp.raise_for_status()
            buffer = b''
            async for chunk in rsp.content.iter_any():
                buffer += chunk
                while b'\n' in buffer:
                    line, buffer = buffer.split(b'\n', 1)
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    obj = event.get('object') or {}
                    if event.get('type') == 'ERROR':
                        if obj.get('code') == 410:
                            return None
                        raise ValueError(f'watch error: {obj}')
                    resource_version = (obj.get('metadata') or {}).get('resourceVersion',
                                                                        resource_version)
                    if event.get('type') != 'BOOKMARK':
                        self._observe(event['type'], obj)
        return resource_version

    def _observe(self, etype: str, job: Mapping[str, Any]) -> None:
        meta = job.get('metadata') or {}
        uid = meta.get('uid', '')
        task = self._tasks.get(uid)
        if etype == 'DELETED' or meta.get('deletionTimestamp'):
            if task is not None:
                task.cancel()  # the pod goes with its Job
            return
        with self._lock:
            known = uid in self._runs
        if task is not None or known:
            return  # running, or done with
        if _is_finished(job) or (job.get('spec') or {}).get('suspend'):
            return  # finished before we saw it; or suspended: a later MODIFIED may start it
        namespace, name = meta.get('namespace', ''), meta.get('name', '')
        run = JobRun(namespace=namespace, name=name, uid=uid,
                     log_path=self.workdir / 'logs' / namespace / f'{name}.log',
                     workdir=self.workdir / 'jobs' / namespace / f'{name}-{uid[:8]}',
                     observed_at=time.monotonic())
        with self._lock:
            self._runs[uid] = run
        task = asyncio.create_task(self._run_job(run, dict(job)))
        self._tasks[uid] = task
        task.add_done_callback(functools.partial(self._forget_task, uid))

    def _forget_task(self, uid: str, _task: asyncio.Task[None]) -> None:
        self._tasks.pop(uid, None)

    # -- one Job -------------------------------------------------------------------------------

    def _update(self, run: JobRun, **changes: Any) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(run, key, value)

    async def _patch_status(self, run: JobRun, status: Mapping[str, Any]) -> None:
        path = f'/apis/batch/v1/namespaces/{run.namespace}/jobs/{run.name}/status'
        assert self._session is not None
        for attempt in range(20):
            try:
                async with self._session.patch(
                        path, data=json.dumps({'status': status}),
                        headers={'Content-Type': 'application/merge-patch+json'}) as rsp:
                    if rsp.status == 404:
                        raise JobGone(run.name)
                    if rsp.status < 300:
                        body = await rsp.json()
                        if (body.get('metadata') or {}).get('uid') != run.uid:
                            raise JobGone(run.name)  # same name, another Job
                        return
                    text = await rsp.text()
                    logger.warning('node agent: status patch of %s/%s: %s %s', run.namespace,
                                   run.name, rsp.status, text[:300])
            except aiohttp.ClientError as exc:
                logger.warning('node agent: status patch of %s/%s failed: %r', run.namespace,
                               run.name, exc)
            await asyncio.sleep(min(0.05 * (attempt + 1), 0.5))
        raise RuntimeError(f'could not patch the status of job {run.namespace}/{run.name}')

    def _build_process(self, run: JobRun, job: Mapping[str, Any]
                       ) -> tuple[list[str], dict[str, str], dict[str, str]]:
        """argv, the full environment, and the container's own env entries."""
        pod_spec = ((job.get('spec') or {}).get('template') or {}).get('spec') or {}
        containers = pod_spec.get('containers') or []
        if not containers:
            raise ValueError('the pod template has no containers')
        container = containers[0]
        pod_name = f'{run.name[:57]}-{"".join(random.choices("bcdfghjklmnpqrstvwxz2456789", k=5))}'
        container_env: dict[str, str] = {}
        for entry in container.get('env') or []:
            if 'value' in entry:
                container_env[entry['name']] = expand_var_refs(str(entry['value']), container_env)
            elif 'valueFrom' in entry:
                field = ((entry['valueFrom'] or {}).get('fieldRef') or {}).get('fieldPath')
                if field == 'metadata.name':
                    container_env[entry['name']] = pod_name
                elif field == 'metadata.namespace':
                    container_env[entry['name']] = run.namespace
            else:
                container_env[entry['name']] = ''
        command = list(container.get('command') or [])
        if not command:
            image = str(container.get('image', ''))
            command = list(self.image_commands.get(image)
                           or self.image_commands.get(_image_key(image)) or [])
            if not command:
                raise ValueError(f'container {container.get("name")!r} has no command and the '
                                 f'agent knows no entrypoint for image {image!r} '
                                 '(pass image_commands=...)')
        argv = [expand_var_refs(str(a), container_env)
                for a in command + list(container.get('args') or [])]
        env = dict(os.environ) if self.pass_environment else {}
        env.update(self.extra_env)
        env['HOSTNAME'] = pod_name
        env.update(container_env)
        return argv, env, container_env

    async def _run_job(self, run: JobRun, job: dict[str, Any]) -> None:
        spec = job.get('spec') or {}
        backoff_limit = int(spec.get('backoffLimit', 6))
        deadline_s = spec.get('activeDeadlineSeconds')
        started = time.monotonic()
        try:
            status = job.get('status') or {}
            await self._patch_status(run, {'startTime': status.get('startTime') or _now(),
                                           'active': 1, 'ready': 0, 'terminating': 0,
                                           'uncountedTerminatedPods': {}})
            try:
                argv, env, container_env = self._build_process(run, job)
            except ValueError as exc:
                self._update(run, phase='failed', reason='BackoffLimitExceeded', message=str(exc),
                             finished_at=time.monotonic())
                run.log_path.parent.mkdir(parents=True, exist_ok=True)
                run.log_path.write_text(f'node agent: cannot start: {exc}\n')
                await self._patch_status(run, self._failed_status(
                    1, 'BackoffLimitExceeded', f'Job has reached the specified backoff limit: {exc}'))
                return
            self._update(run, argv=argv, env=container_env)
            async with self._slots:
                failed = 0
                while True:
                    remaining = None
                    if deadline_s is not None:
                        remaining = float(deadline_s) - (time.monotonic() - started)
                        if remaining <= 0:
                            await self._fail(run, failed, 'DeadlineExceeded',
                                             'Job was active longer than specified deadline')
                            return
                    with self._lock:
                        run.attempts += 1
                        run.phase = 'running'
                        run.started_at = run.started_at or time.monotonic()
                    await self._patch_status(run, {'active': 1, 'ready': 1})
                    pod = await self._start_pod(run, job) if self.create_pods else None
                    log_offset = run.log_path.stat().st_size if run.log_path.exists() else 0
                    code = await self._exec(run, argv, env, remaining)
                    if pod is not None:
                        await self._end_pod(run, job, pod, code, run.uid in self._evicting,
                                            log_offset)
                    if code is None:
                        await self._fail(run, failed + 1, 'DeadlineExceeded',
                                         'Job was active longer than specified deadline')
                        return
                    evicted = run.uid in self._evicting
                    self._evicting.discard(run.uid)
                    with self._lock:
                        run.exit_codes.append(code)
                        run.disruptions += evicted
                    if code == 0:
                        now = _now()
                        self._update(run, phase='succeeded', reason='Complete',
                                     finished_at=time.monotonic())
                        await self._patch_status(run, {
                            'active': None, 'ready': 0, 'terminating': 0, 'succeeded': 1,
                            'failed': failed or None, 'completionTime': now,
                            'uncountedTerminatedPods': {},
                            'conditions': [self._condition(t, 'CompletionsReached',
                                                           'Reached expected number of '
                                                           'succeeded pods', now)
                                           for t in ('SuccessCriteriaMet', 'Complete')]})
                        return
                    rule = pod_failure_rule(spec.get('podFailurePolicy'),
                                            container_name(job), code, evicted)
                    if rule is not None and rule[0] == 'Ignore':
                        await self._patch_status(run, {'active': 1, 'ready': 0})
                        continue  # not counted: the controller starts a new pod
                    if rule is not None and rule[0] == 'FailJob':
                        what = (f'Pod {run.namespace}/{env["HOSTNAME"]} has condition '
                                'DisruptionTarget' if evicted and not rule[2] else
                                f'Container {container_name(job)} for pod {run.namespace}/'
                                f'{env["HOSTNAME"]} failed with exit code {code}')
                        await self._fail(run, failed + 1, 'PodFailurePolicy',
                                         f'{what} matching FailJob rule at index {rule[1]}')
                        return
                    failed += 1
                    if failed > backoff_limit:
                        await self._fail(run, failed, 'BackoffLimitExceeded',
                                         'Job has reached the specified backoff limit')
                        return
                    await self._patch_status(run, {'failed': failed, 'active': 1, 'ready': 0})
        except JobGone:
            self._update(run, phase='killed', reason='deleted', finished_at=time.monotonic())
        except asyncio.CancelledError:
            self._update(run, phase='killed', reason='deleted', finished_at=time.monotonic())
            raise
        except Exception as exc:
            logger.exception('node agent: job %s/%s', run.namespace, run.name)
            self._update(run, phase='failed', reason='AgentError', message=repr(exc),
                         finished_at=time.monotonic())

    async def _start_pod(self, run: JobRun, job: Mapping[str, Any]) -> str:
        """Create the attempt's Pod object (phase Running); return its name."""
        template = (job.get('spec') or {}).get('template') or {}
        name = f'{run.name[:57]}-{"".join(random.choices("bcdfghjklmnpqrstvwxz2456789", k=5))}'
        labels = {**((template.get('metadata') or {}).get('labels') or {}),
                  'batch.kubernetes.io/job-name': run.name, 'job-name': run.name,
                  'batch.kubernetes.io/controller-uid': run.uid, 'controller-uid': run.uid}
        pod = {'apiVersion': 'v1', 'kind': 'Pod',
               'metadata': {'name': name, 'namespace': run.namespace, 'labels': labels,
                            'ownerReferences': [{'apiVersion': 'batch/v1', 'kind': 'Job',
                                                 'name': run.name, 'uid': run.uid,
                                                 'controller': True,
                                                 'blockOwnerDeletion': True}]},
               'spec': {**(template.get('spec') or {}), 'nodeName': 'node-agent'}}
        await self._request('POST', f'/api/v1/namespaces/{run.namespace}/pods', pod)
        await self._request('PATCH', f'/api/v1/namespaces/{run.namespace}/pods/{name}/status',
                            {'status': {'phase': 'Running', 'startTime': _now()}})
        return name

    async def _end_pod(self, run: JobRun, job: Mapping[str, Any], name: str,
                       code: int | None, evicted: bool, log_offset: int) -> None:
        """Write the attempt's end into its Pod: phase, exit code, termination message."""
        container = ((((job.get('spec') or {}).get('template') or {}).get('spec') or {})
                     .get('containers') or [{}])[0]
        exit_code = 137 if code is None else code  # killed at the deadline: SIGKILL
        terminated: dict[str, Any] = {'exitCode': exit_code, 'finishedAt': _now(),
                                      'reason': 'Completed' if exit_code == 0 else 'Error'}
        if exit_code != 0 and container.get('terminationMessagePolicy') == 'FallbackToLogsOnError':
            with open(run.log_path, 'rb') as log:
                log.seek(log_offset)
                tail = log.read().decode(errors='replace').splitlines()[1:]  # not our header
            terminated['message'] = '\n'.join(tail[-80:])[-2048:]
        status: dict[str, Any] = {
            'phase': 'Succeeded' if exit_code == 0 else 'Failed',
            'containerStatuses': [{'name': container.get('name', ''), 'ready': False,
                                   'restartCount': 0, 'image': container.get('image', ''),
                                   'imageID': '', 'started': False,
                                   'state': {'terminated': terminated}}]}
        if evicted:
            status['conditions'] = [{'type': 'DisruptionTarget', 'status': 'True',
                                     'reason': 'EvictionByEvictionAPI',
                                     'message': 'Eviction API: evicting',
                                     'lastTransitionTime': _now()}]
        await self._request('PATCH', f'/api/v1/namespaces/{run.namespace}/pods/{name}/status',
                            {'status': status})

    async def _request(self, method: str, path: str, body: Mapping[str, Any]) -> None:
        assert self._session is not None
        content_type = ('application/merge-patch+json' if method == 'PATCH'
                        else 'application/json')
        async with self._session.request(method, path, data=json.dumps(body),
                                         headers={'Content-Type': content_type}) as rsp:
            if rsp.status >= 300:
                raise RuntimeError(f'{method} {path}: {rsp.status} {await rsp.text()}')

    async def _fail(self, run: JobRun, failed: int, reason: str, message: str) -> None:
        self._update(run, phase='failed', reason=reason, message=message,
                     finished_at=time.monotonic())
        await self._patch_status(run, self._failed_status(failed, reason, message))

    def _failed_status(self, failed: int, reason: str, message: str) -> dict[str, Any]:
        now = _now()
        return {'active': None, 'ready': 0, 'terminating': 0, 'failed': max(failed, 1),
                'uncountedTerminatedPods': {},
                'conditions': [self._condition(t, reason, message, now)
                               for t in ('FailureTarget', 'Failed')]}

    @staticmethod
    def _condition(ctype: str, reason: str, message: str, now: str) -> dict[str, str]:
        return {'type': ctype, 'status': 'True', 'reason': reason, 'message': message,
                'lastProbeTime': now, 'lastTransitionTime': now}

    async def _exec(self, run: JobRun, argv: list[str], env: dict[str, str],
                    timeout: float | None) -> int | None:
        """Run one attempt; its exit code, or None when the deadline killed it."""
        run.workdir.mkdir(parents=True, exist_ok=True)
        run.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(run.log_path, 'ab') as log:
            log.write(f'=== attempt {run.attempts}: {argv}\n'.encode())
            log.flush()
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv, cwd=run.workdir, env=env, stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, start_new_session=True,
                    preexec_fn=_die_with_the_agent)
            except OSError as exc:  # like a container's StartError: counts as a failed pod
                log.write(f'node agent: cannot execute {argv[0]!r}: {exc}\n'.encode())
                return 127 if isinstance(exc, FileNotFoundError) else 126
        with self._lock:
            self._running += 1
            self._max_running = max(self._max_running, self._running)
        self._procs[run.uid] = proc
        try:
            return await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            await self._kill(proc)
            return None
        except asyncio.CancelledError:
            await asyncio.shield(self._kill(proc))
            raise
        finally:
            self._procs.pop(run.uid, None)
            with self._lock:
                self._running -= 1

    async def _kill(self, proc: asyncio.subprocess.Process) -> None:
        """Terminate the process group (the trainer's children too), then kill it."""
        if proc.returncode is not None:
            return
        for sig, wait in ((signal.SIGTERM, self.kill_grace_seconds), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)
            try:
                await asyncio.wait_for(proc.wait(), wait)
                return
            except TimeoutError:
                continue
