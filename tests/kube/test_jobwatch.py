"""The operator's own Job watch (controller/jobwatch.py) on the real API server: list, watch,
resume, re-list, with the chart's ServiceAccount token (the cluster-wide scopes watch as
the administrator, since each test's chart grants Jobs in its own namespace only).

The faults are real too:

* a dropped connection: the watch reaches the API server through :class:`TcpProxy`, a TCP
  relay the test cuts (TLS passes through it untouched);
* ``410 Gone`` on a watch: the API server answers a watch from its watch cache, which
  keeps minutes of history, so the watch resumes, after the cut, on :func:`spare_apiserver`:
  a second kube-apiserver on the same etcd, as an HA control plane behind a load balancer
  runs several, started after the watch's last version (its cache begins there);
* ``410`` on a list (an expired continue token): the second page of a list goes to that
  second API server after etcd compacted the list's revision (kube-apiserver compacts
  every 5 minutes; here etcd is asked directly);
* ``403`` on list: the ServiceAccount's Role in a namespace lacks the verb.

The test's Jobs are run by nobody: ``spec.managedBy`` names another controller, so the Job
controller leaves them (and their status) alone; the test writes their status as the Job
controller would, through ``/status`` and by its validation rules.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import socket
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import pytest_asyncio
import yaml
from cluster.processes import ProcessTable, https_ok, wait_until
from cluster.services import free_port
from cluster.up import LocalCluster
from kubernetes import config

from tests.kube.client import audit_events
from tests.kube.conftest import OPERATOR_USER, Kube
from tests.kube.sweeps import JOBS, SWEEPS, sweep_manifest
from tests.kube.test_cluster import RESTRICTED_CONTAINER, RESTRICTED_POD
from tuningsweep.controller import jobwatch
from tuningsweep.controller.jobwatch import JobWatch, Key
from tuningsweep.core.kube.jobs import JobState

pytestmark = pytest.mark.asyncio

ROLES = "rbac.authorization.k8s.io/v1/roles"
ROLE_BINDINGS = "rbac.authorization.k8s.io/v1/rolebindings"
NAMESPACES = "v1/namespaces"
MANAGED_BY = "tuningsweep.io/tests"  # not the Job controller: it leaves these Jobs alone
TIMEOUT = 30.0


# -- the Jobs ------------------------------------------------------------------------------


def job(name: str, trial: str, namespace: str, *, sweep: str = "s", owner: str | None = None,
        labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A Job labelled as the operator labels a trial's; Pod Security ``restricted``."""
    metadata: dict[str, Any] = {
        "name": name, "namespace": namespace,
        "labels": labels if labels is not None else {
            "tuningsweep.io/sweep": sweep, "tuningsweep.io/trial": trial}}
    if owner:
        metadata["ownerReferences"] = [{"apiVersion": "tuningsweep.io/v1alpha1",
                                        "kind": "TuningSweep", "name": sweep, "uid": owner}]
    container = {"name": "t", "image": "local/test:1", **RESTRICTED_CONTAINER}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata,
            "spec": {"managedBy": MANAGED_BY, "template": {"spec": {
                "restartPolicy": "Never", **RESTRICTED_POD, "containers": [container]}}}}


def create_sweep(kube: Kube, name: str) -> str:
    """A TuningSweep (no operator runs here) to own Jobs; returns its uid."""
    created = kube.client.create(SWEEPS, sweep_manifest(name, kube.namespace, "bucket"))
    return str(created["metadata"]["uid"])


def finish(kube: Kube, name: str, condition: str = "Complete",
           namespace: str | None = None) -> None:
    """Write the status the Job controller writes when a Job completes or fails."""
    status: dict[str, Any] = {"startTime": "2026-11-27T01:00:00Z"}
    first = "SuccessCriteriaMet" if condition == "Complete" else "FailureTarget"
    status["conditions"] = [
        {"type": type_, "status": "True", "reason": "BackoffLimitExceeded", "message": "boom",
         "lastTransitionTime": "2026-11-27T01:00:42Z"} for type_ in (first, condition)]
    if condition == "Complete":
        status.update(completionTime="2026-11-27T01:00:30Z", succeeded=1)
    else:
        status["failed"] = 1
    kube.client.patch(JOBS, name, {"status": status}, namespace or kube.namespace,
                      subresource="status")


def second_namespace(kube: Kube, *, list_jobs: bool = True) -> str:
    """Another namespace for the test; with the operator's Role copied from the test's
    namespace (without ``list`` on Jobs if ``list_jobs`` is false)."""
    name = f"{kube.namespace}-b"
    kube.client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                    "metadata": {"name": name}})
    role = kube.client.get(ROLES, "tuningsweep", kube.namespace)
    rules = [{**r, "verbs": [v for v in r["verbs"] if list_jobs or v != "list"]}
             if "jobs" in r["resources"] else r for r in role["rules"]]
    kube.client.create(ROLES, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                               "metadata": {"name": "tuningsweep", "namespace": name},
                               "rules": rules})
    binding = kube.client.get(ROLE_BINDINGS, "tuningsweep", kube.namespace)
    kube.client.create(ROLE_BINDINGS, {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "tuningsweep", "namespace": name},
        "roleRef": binding["roleRef"], "subjects": binding["subjects"]})
    return name


def job_lists(events: Any, namespace: str) -> list[int]:
    """The status codes of the Job lists in ``namespace`` among audit ``events``."""
    return [e.code for e in events
            if e.verb == "list" and e.resource == "jobs" and e.namespace == namespace]


# -- the watch -----------------------------------------------------------------------------


class Woken:
    """Records the sweeps the watch wakes."""

    def __init__(self) -> None:
        self.keys: list[Key] = []

    def __call__(self, key: Key) -> None:
        self.keys.append(key)


WatchFactory = Callable[..., tuple[JobWatch, Woken]]


async def until(predicate: Callable[[], Any], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def ready(watch: JobWatch, namespace: str) -> None:
    await asyncio.wait_for(watch.ready_for(namespace).wait(), TIMEOUT)


@pytest_asyncio.fixture
async def watch_factory(kube: Kube, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[
        WatchFactory]:
    """``make(namespaces, kubeconfig=None)`` starts a JobWatch with the operator's
    ServiceAccount token (or ``kubeconfig``); one kubeconfig per test, since the
    kubernetes client's default configuration is process-wide (restored afterwards)."""
    monkeypatch.setattr(kubernetes.client.Configuration, "_default", None)
    started: list[JobWatch] = []

    def make(namespaces: list[str] | None = None, *,
             kubeconfig: Path | None = None) -> tuple[JobWatch, Woken]:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig or kube.operator_kubeconfig))
        woken = Woken()
        watch = JobWatch(namespaces or [], woken)
        watch.start()
        started.append(watch)
        return watch, woken

    yield make
    for watch in started:
        watch.stop()
    for thread in (t for watch in started for t in watch.threads):
        thread.join(5)


# -- faults: a TCP relay to cut, a second API server, etcd compaction ---------------------


class TcpProxy:
    """A TCP relay on a loopback port in front of an API server.

    TLS passes through, so the client still checks the server's certificate (it names
    127.0.0.1) and the server the client's credentials. ``cut()`` drops every open
    connection, as a network blip or a restarted load balancer does; ``hold()`` keeps new
    connections waiting (accepted, nothing relayed) until ``release(port)``, which may send
    them to another API server.
    """

    def __init__(self, port: int) -> None:
        self.upstream = port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._open = threading.Event()
        self._open.set()
        self._closed = False
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True, name="tcp-proxy").start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.add(client)
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        self._open.wait()
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream), timeout=10)
            upstream.settimeout(None)
        except OSError:
            self._drop(client)
            return
        with self._lock:
            self._sockets.add(upstream)
        if self._closed or client not in self._sockets:  # cut meanwhile
            self._drop(client, upstream)
            return
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
        self._pump(client, upstream)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        self._drop(source, sink)

    def _drop(self, *sockets: socket.socket) -> None:
        for sock in sockets:
            with self._lock:
                self._sockets.discard(sock)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes a recv() in another thread
            sock.close()

    def cut(self) -> None:
        """Drop every connection open now."""
        with self._lock:
            sockets = list(self._sockets)
        self._drop(*sockets)

    def hold(self) -> None:
        """Keep new connections waiting until :meth:`release`."""
        self._open.clear()

    def release(self, port: int | None = None) -> None:
        """Relay again, to ``port`` from now on if given."""
        if port is not None:
            self.upstream = port
        self._open.set()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._open.set()
        self.cut()


def kubeconfig_via(source: Path, server: str, dest: Path) -> Path:
    """A copy of kubeconfig ``source`` that reaches the API server at ``server``."""
    doc = yaml.safe_load(source.read_text())
    for cluster in doc["clusters"]:
        cluster["cluster"]["server"] = server
    dest.write_text(yaml.safe_dump(doc))
    return dest


@pytest.fixture
def api_proxy(kube: Kube) -> Iterator[TcpProxy]:
    """A :class:`TcpProxy` in front of the session's API server."""
    proxy = TcpProxy(int(kube.cluster.server.rsplit(":", 1)[1]))
    yield proxy
    proxy.close()


@pytest.fixture
def proxied_kubeconfig(kube: Kube, api_proxy: TcpProxy, tmp_path: Path) -> Path:
    """The operator's kubeconfig (its ServiceAccount token), through ``api_proxy``."""
    return kubeconfig_via(kube.operator_kubeconfig, f"https://127.0.0.1:{api_proxy.port}",
                          tmp_path / "proxied.kubeconfig")


@dataclass
class SpareApiServer:
    port: int
    audit_log: Path


@pytest.fixture
def spare_apiserver(kube: Kube, tmp_path: Path) -> Iterator[Callable[[], SpareApiServer]]:
    """``start()`` runs a second kube-apiserver on the session's etcd (the first one's
    flags, its own port and audit log; about 2 s), stopped after the test.

    Its watch cache begins at etcd's revision when it starts: a watch resuming from an
    older version gets ``410 Gone``, and a continue token older than that is read from
    etcd, which answers 410 once it has compacted that revision.
    """
    table = ProcessTable(tmp_path / "spare-apiserver", tie_to_parent=True)
    cluster: LocalCluster = kube.cluster
    assert cluster.control_plane is not None
    context = cluster.control_plane.tls_context()

    def start() -> SpareApiServer:
        first = cluster.processes.started["kube-apiserver"]
        argv = Path(f"/proc/{first.pid}/cmdline").read_bytes().decode().split("\0")[:-1]
        port, audit = free_port(), table.logs / "audit.log"
        argv = [f"--secure-port={port}" if a.startswith("--secure-port=")
                else f"--audit-log-path={audit}" if a.startswith("--audit-log-path=")
                else a for a in argv]
        proc = table.start("kube-apiserver", argv)
        wait_until("the second kube-apiserver",
                   lambda: https_ok(f"https://127.0.0.1:{port}/readyz", context), proc, 60)
        return SpareApiServer(port, audit)

    yield start
    table.stop_all()


def compact_etcd(kube: Kube) -> None:
    """Compact etcd's history up to its current revision (as kube-apiserver does every
    5 minutes): older versions can no longer be read."""
    assert kube.cluster.control_plane is not None
    url = f"http://127.0.0.1:{kube.cluster.control_plane.ports.etcd}/v3/kv"

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(f"{url}/{path}", data=json.dumps(body).encode(),
                                         method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return dict(json.loads(response.read()))

    revision = post("range", {"key": base64.b64encode(b"compact_rev_key").decode()})[
        "header"]["revision"]
    post("compaction", {"revision": revision})


# -- tests ---------------------------------------------------------------------------------


async def test_lists_existing_jobs_before_it_is_ready(
        kube: Kube, watch_factory: WatchFactory) -> None:
    ns = kube.namespace
    uid = create_sweep(kube, "s")
    kube.client.create(JOBS, job("s-c0000-w0", "c0000-w0", ns, owner=uid))
    finish(kube, "s-c0000-w0")
    kube.client.create(JOBS, job("unlabelled", "", ns, labels={}))
    watch, _ = watch_factory([ns])
    assert not watch.ready_for(ns).is_set()
    await ready(watch, ns)
    [state] = watch.jobs((ns, "s"))
    assert state == JobState(trial="c0000-w0", phase="succeeded", start=state.start,
                             end=state.start + 30, owner=uid)
    assert state.started_at == "2026-11-27T01:00:00Z"
    assert state.finished_at == "2026-11-27T01:00:30Z"
    assert len(watch) == 1  # the Job without the sweep label is not watched


async def test_wakes_a_sweep_only_when_what_the_reconciler_reads_changes(
        kube: Kube, watch_factory: WatchFactory) -> None:
    ns, client = kube.namespace, kube.client
    watch, woken = watch_factory([ns])
    await ready(watch, ns)
    woken.keys.clear()
    client.create(JOBS, job("s-c0000-w0", "c0000-w0", ns))
    client.create(JOBS, job("t-c0000-w0", "c0000-w0", ns, sweep="t"))
    await until(lambda: len(watch) == 2)
    assert sorted(woken.keys) == [(ns, "s"), (ns, "t")]

    # The Job controller counting pods is a status change the reconciler does not read.
    woken.keys.clear()
    client.patch(JOBS, "s-c0000-w0", {"status": {"active": 1, "ready": 0}}, ns,
                 subresource="status")
    client.patch(JOBS, "s-c0000-w0", {"metadata": {"annotations": {"a": "b"}}}, ns)
    client.patch(JOBS, "t-c0000-w0", {"metadata": {"annotations": {"a": "b"}}}, ns)
    finish(kube, "t-c0000-w0", "Failed")  # a marker: this one does wake its sweep
    await until(lambda: woken.keys)
    await asyncio.sleep(0.2)
    assert woken.keys == [(ns, "t")]
    [failed] = watch.jobs((ns, "t"))
    assert (failed.phase, failed.reason, failed.message) == ("failed", "BackoffLimitExceeded",
                                                            "boom")
    assert failed.duration_seconds() == 42.0

    # Kueue admitting a queued Job (unsuspending it) is a change the reconciler reads.
    client.patch(JOBS, "s-c0000-w0", {"spec": {"suspend": True}}, ns)
    await until(lambda: watch.jobs((ns, "s"))[0].suspended)
    woken.keys.clear()
    client.patch(JOBS, "s-c0000-w0", {"spec": {"suspend": False}}, ns)
    await until(lambda: woken.keys)
    assert woken.keys == [(ns, "s")] and watch.jobs((ns, "s"))[0].running

    woken.keys.clear()
    client.delete(JOBS, "s-c0000-w0", ns, propagation_policy="Background")
    await until(lambda: woken.keys)
    assert woken.keys == [(ns, "s")] and watch.jobs((ns, "s")) == []


async def test_resumes_after_a_dropped_connection_and_relists_after_410(
        kube: Kube, api_proxy: TcpProxy, proxied_kubeconfig: Path,
        spare_apiserver: Callable[[], SpareApiServer], watch_factory: WatchFactory,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=jobwatch.__name__)
    ns, client = kube.namespace, kube.client
    watch, woken = watch_factory([ns], kubeconfig=proxied_kubeconfig)
    await ready(watch, ns)
    client.create(JOBS, job("s-c0000-w0", "c0000-w0", ns))
    await until(lambda: len(watch) == 1)
    assert job_lists(kube.audit(), ns) == [200]

    # A dropped connection: the watch resumes from its last version and misses nothing.
    api_proxy.cut()
    client.create(JOBS, job("s-c0001-w0", "c0001-w0", ns))
    await until(lambda: len(watch) == 2)
    assert job_lists(kube.audit(), ns) == [200], "resumed, not listed again"
    assert "expired" not in caplog.text

    # The connection drops again and the watch resumes on another API server, which
    # started after the watch's last version: 410 Gone, so the watch lists again there;
    # the Jobs that vanished meanwhile are forgotten and their sweep woken.
    api_proxy.hold()
    api_proxy.cut()
    woken.keys.clear()
    for name in ("s-c0000-w0", "s-c0001-w0"):
        client.delete(JOBS, name, ns, propagation_policy="Background")
    client.create(JOBS, job("s-c0002-w0", "c0002-w0", ns))
    spare = spare_apiserver()
    api_proxy.release(spare.port)
    await until(lambda: [j.trial for j in watch.jobs((ns, "s"))] == ["c0002-w0"])
    assert (ns, "s") in woken.keys
    assert f"Job watch of namespace {ns} expired; listing again" in caplog.text
    assert job_lists(audit_events(spare.audit_log, user=OPERATOR_USER), ns) == [200]


async def test_a_list_whose_continue_token_expired_starts_over(
        kube: Kube, api_proxy: TcpProxy, proxied_kubeconfig: Path,
        spare_apiserver: Callable[[], SpareApiServer], watch_factory: WatchFactory,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A 410 answered up front (not as a watch event) also leads to a fresh list."""
    caplog.set_level(logging.INFO, logger=jobwatch.__name__)
    ns = kube.namespace
    monkeypatch.setattr(jobwatch, "PAGE_SIZE", 2)
    for i in range(5):
        kube.client.create(JOBS, job(f"s-c000{i}-w0", f"c000{i}-w0", ns))
    first_page = threading.Event()
    call = JobWatch._call

    def hold_after_the_first_page(self: JobWatch, *args: Any, **kwargs: Any) -> Any:
        # The test's hook between the first two pages of the watch's list: the next
        # request waits at the proxy (the pooled connection is cut).
        response = call(self, *args, **kwargs)
        if not first_page.is_set() and "limit" in kwargs and kwargs.get("_continue") is None:
            assert json.loads(response.data)["metadata"]["continue"]  # read before the cut
            api_proxy.hold()
            api_proxy.cut()
            first_page.set()
        return response

    monkeypatch.setattr(JobWatch, "_call", hold_after_the_first_page)
    watch, _ = watch_factory([ns], kubeconfig=proxied_kubeconfig)
    await until(first_page.is_set)
    kube.client.create("v1/configmaps", {"metadata": {"generateName": "later-"}}, ns)
    spare = spare_apiserver()  # its watch cache begins after the list's version
    compact_etcd(kube)  # and etcd no longer has that version
    api_proxy.release(spare.port)
    await ready(watch, ns)
    assert len(watch) == 5
    assert job_lists(kube.audit(), ns) == [200]  # the first page
    # The second page: 410 up front; then the whole list again, page by page.
    assert job_lists(audit_events(spare.audit_log, user=OPERATOR_USER), ns) == [
        410, 200, 200, 200]
    assert f"Job watch of namespace {ns} expired; listing again" in caplog.text


async def test_watches_only_the_given_namespaces(
        kube: Kube, watch_factory: WatchFactory) -> None:
    ns, other = kube.namespace, second_namespace(kube)
    admin = kube.cluster.admin_kubeconfig  # the cluster-wide scopes list every namespace
    kube.client.create(JOBS, job("s-c0000-w0", "c0000-w0", other))
    only_first, _ = watch_factory([ns], kubeconfig=admin)
    patterned, _ = watch_factory([f"{ns}-*"], kubeconfig=admin)
    everywhere, _ = watch_factory(kubeconfig=admin)
    both, _ = watch_factory([ns, other], kubeconfig=admin)
    for watch in (only_first, patterned, everywhere, both):
        await ready(watch, ns)
    kube.client.create(JOBS, job("s-c0000-w0", "c0000-w0", ns))

    def trials(watch: JobWatch, namespace: str) -> list[str]:
        return [j.trial for j in watch.jobs((namespace, "s"))]

    await until(lambda: all(trials(w, n) for w in (everywhere, both) for n in (ns, other))
                and trials(only_first, ns))
    assert trials(only_first, other) == []
    assert trials(patterned, other) == ["c0000-w0"]
    assert trials(patterned, ns) == []


async def test_namespace_patterns_follow_kopf(
        kube: Kube, watch_factory: WatchFactory) -> None:
    """Names and globs mixed, and exclusions, select namespaces as kopf does for sweeps."""
    ns, other = kube.namespace, second_namespace(kube)
    admin = kube.cluster.admin_kubeconfig
    mixed, _ = watch_factory([ns, f"{ns}-*"], kubeconfig=admin)
    excluding, _ = watch_factory([f"!{other}"], kubeconfig=admin)
    for watch in (mixed, excluding):
        await ready(watch, ns)
    kube.client.create(JOBS, job("s-c0000-w0", "c0000-w0", ns))
    kube.client.create(JOBS, job("s-c0000-w0", "c0000-w0", other))
    await until(lambda: mixed.jobs((ns, "s")) and mixed.jobs((other, "s"))
                and excluding.jobs((ns, "s")))
    await asyncio.sleep(0.2)
    assert excluding.jobs((other, "s")) == []


async def test_only_jobs_named_as_the_operator_names_them_count(
        kube: Kube, watch_factory: WatchFactory) -> None:
    ns, client = kube.namespace, kube.client
    watch, woken = watch_factory([ns])
    await ready(watch, ns)
    client.create(JOBS, job("s-c0000-w0", "c0000-w0", ns))
    # A copy of it under another name, labels and all (kubectl get -o yaml, edited).
    client.create(JOBS, job("copy-of-s-c0000-w0", "c0000-w0", ns))
    await until(lambda: len(watch) == 1)
    finish(kube, "copy-of-s-c0000-w0")
    client.delete(JOBS, "copy-of-s-c0000-w0", ns, propagation_policy="Background")
    await until(lambda: client.get_or_none(JOBS, "copy-of-s-c0000-w0", ns) is None)
    await asyncio.sleep(0.3)
    [state] = watch.jobs((ns, "s"))
    assert state.phase == "active"  # the copy neither finished nor removed ours

    # A Job whose sweep label is removed leaves the selector: it is forgotten.
    woken.keys.clear()
    client.patch(JOBS, "s-c0000-w0", {"metadata": {"labels": {"tuningsweep.io/sweep": None}}},
                 ns)
    await until(lambda: len(watch) == 0)
    assert woken.keys == [(ns, "s")]


async def test_lists_page_by_page(
        kube: Kube, watch_factory: WatchFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    ns = kube.namespace
    monkeypatch.setattr(jobwatch, "PAGE_SIZE", 2)
    for i in range(5):
        kube.client.create(JOBS, job(f"s-c000{i}-w0", f"c000{i}-w0", ns))
    watch, _ = watch_factory([ns])
    await ready(watch, ns)
    assert len(watch) == 5
    assert job_lists(kube.audit(), ns) == [200, 200, 200]


async def test_a_scope_that_cannot_list_reports_why_and_holds_back_only_its_sweeps(
        kube: Kube, watch_factory: WatchFactory) -> None:
    ns, refused = kube.namespace, second_namespace(kube, list_jobs=False)
    watch, _ = watch_factory([ns, refused])
    await ready(watch, ns)
    await until(lambda: watch.error_for(refused))
    assert "403" in (watch.error_for(refused) or "")
    assert not watch.ready_for(refused).is_set()
    assert watch.error_for(ns) is None
    assert 403 in job_lists(kube.audit(), refused)
    role = kube.client.get(ROLES, "tuningsweep", ns)
    kube.client.patch(ROLES, "tuningsweep", {"rules": role["rules"]}, refused)
    await ready(watch, refused)
    assert watch.error_for(refused) is None


async def test_stop_ends_the_threads(kube: Kube, watch_factory: WatchFactory) -> None:
    ns, other = kube.namespace, second_namespace(kube)
    watch, _ = watch_factory([ns, other])
    await ready(watch, other)
    await asyncio.sleep(0.2)  # both watches open and waiting for events
    watch.stop()
    await until(lambda: not any(t.is_alive() for t in watch.threads), timeout=5)

    # Stopped as soon as it is ready: the watch requests may still be on their way.
    watch, _ = watch_factory([ns, other])
    await ready(watch, ns)
    await ready(watch, other)
    watch.stop()
    await until(lambda: not any(t.is_alive() for t in watch.threads), timeout=5)
