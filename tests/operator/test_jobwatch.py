"""The operator's own Job watch against the API emulator: list, watch, resume, re-list.

The emulator stands in for the API server (no real one can run here); the watch uses the
real ``kubernetes`` client and the same list/watch protocol it would use on a cluster.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from kubernetes import config

from tests.operator.emulator import EmulatorProcess
from tests.operator.sweeps import SWEEPS, sweep_manifest
from tuningsweep.controller import jobwatch
from tuningsweep.controller.jobwatch import JobWatch, Key
from tuningsweep.core.jobs import JobState

JOBS = "batch/v1/jobs"
pytestmark = pytest.mark.asyncio


def job(name: str, trial: str, *, sweep: str = "s", namespace: str = "default",
        owner: str | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name, "namespace": namespace,
        "labels": labels if labels is not None else {
            "tuningsweep.io/sweep": sweep, "tuningsweep.io/trial": trial}}
    if owner:
        metadata["ownerReferences"] = [{"apiVersion": "tuningsweep.io/v1alpha1",
                                        "kind": "TuningSweep", "name": sweep, "uid": owner}]
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata,
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "t", "image": "x"}]}}}}


def create_sweep(k8s: EmulatorProcess, name: str, namespace: str = "default") -> str:
    """A TuningSweep object (no operator runs here) to own Jobs; returns its uid."""
    body = sweep_manifest(name, "bucket")
    body["metadata"]["namespace"] = namespace
    return str(k8s.client.create(SWEEPS, body, namespace)["metadata"]["uid"])


class Woken:
    """Records the sweeps the watch wakes."""

    def __init__(self) -> None:
        self.keys: list[Key] = []

    def __call__(self, key: Key) -> None:
        self.keys.append(key)


async def until(predicate: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


@pytest_asyncio.fixture
async def watch_factory(k8s_emulator: EmulatorProcess) -> AsyncIterator[
        Callable[..., tuple[JobWatch, Woken]]]:
    config.load_kube_config(config_file=str(k8s_emulator.kubeconfig))  # type: ignore[no-untyped-call]
    started: list[JobWatch] = []

    def make(namespaces: list[str] | None = None) -> tuple[JobWatch, Woken]:
        woken = Woken()
        watch = JobWatch(namespaces or [], woken)
        watch.start()
        started.append(watch)
        return watch, woken

    yield make
    for watch in started:
        watch.stop()


def finish(k8s: EmulatorProcess, name: str, condition: str = "Complete",
           namespace: str = "default") -> None:
    status: dict[str, Any] = {
        "startTime": "2026-11-27T01:00:00Z",
        "conditions": [{"type": condition, "status": "True", "reason": "BackoffLimitExceeded",
                        "message": "boom", "lastTransitionTime": "2026-11-27T01:00:42Z"}]}
    if condition == "Complete":
        status["completionTime"] = "2026-11-27T01:00:30Z"
    k8s.client.patch(JOBS, name, {"status": status}, namespace, subresource="status")


async def test_lists_existing_jobs_before_it_is_ready(
        k8s_emulator: EmulatorProcess, watch_factory: Callable[..., tuple[JobWatch, Woken]],
) -> None:
    uid = create_sweep(k8s_emulator, "s")
    k8s_emulator.client.create(JOBS, job("s-c0000-w0", "c0000-w0", owner=uid), "default")
    finish(k8s_emulator, "s-c0000-w0")
    k8s_emulator.client.create(JOBS, job("unlabelled", "", labels={}), "default")
    watch, _ = watch_factory()
    assert not watch.ready_for("default").is_set()
    await asyncio.wait_for(watch.ready_for("default").wait(), 10)
    [state] = watch.jobs(("default", "s"))
    assert state == JobState(trial="c0000-w0", phase="succeeded", start=state.start,
                             end=state.start + 30, owner=uid)
    assert state.started_at == "2026-11-27T01:00:00Z"
    assert state.finished_at == "2026-11-27T01:00:30Z"
    assert len(watch) == 1  # the Job without the sweep label is not watched


async def test_wakes_a_sweep_only_when_what_the_reconciler_reads_changes(
        k8s_emulator: EmulatorProcess, watch_factory: Callable[..., tuple[JobWatch, Woken]],
) -> None:
    watch, woken = watch_factory()
    await asyncio.wait_for(watch.ready_for("default").wait(), 10)
    woken.keys.clear()
    k8s = k8s_emulator
    k8s.client.create(JOBS, job("s-c0000-w0", "c0000-w0"), "default")
    k8s.client.create(JOBS, job("t-c0000-w0", "c0000-w0", sweep="t"), "default")
    await until(lambda: len(watch) == 2)
    assert sorted(woken.keys) == [("default", "s"), ("default", "t")]

    # The Job controller counting pods is a status change the reconciler does not read.
    woken.keys.clear()
    k8s.client.patch(JOBS, "s-c0000-w0", {"status": {"active": 1, "ready": 0}}, "default",
                     subresource="status")
    k8s.client.patch(JOBS, "s-c0000-w0", {"metadata": {"annotations": {"a": "b"}}}, "default")
    k8s.client.patch(JOBS, "t-c0000-w0", {"metadata": {"annotations": {"a": "b"}}}, "default")
    finish(k8s, "t-c0000-w0", "Failed")  # a marker: this one does wake its sweep
    await until(lambda: woken.keys)
    await asyncio.sleep(0.2)
    assert woken.keys == [("default", "t")]
    [failed] = watch.jobs(("default", "t"))
    assert (failed.phase, failed.reason, failed.message) == ("failed", "BackoffLimitExceeded",
                                                            "boom")
    assert failed.duration_seconds() == 42.0

    # Kueue admitting a queued Job (unsuspending it) is a change the reconciler reads.
    k8s.client.patch(JOBS, "s-c0000-w0", {"spec": {"suspend": True}}, "default")
    await until(lambda: watch.jobs(("default", "s"))[0].suspended)
    woken.keys.clear()
    k8s.client.patch(JOBS, "s-c0000-w0", {"spec": {"suspend": False}}, "default")
    await until(lambda: woken.keys)
    assert woken.keys == [("default", "s")] and watch.jobs(("default", "s"))[0].running

    woken.keys.clear()
    k8s.client.delete(JOBS, "s-c0000-w0", "default")
    await until(lambda: woken.keys)
    assert woken.keys == [("default", "s")] and watch.jobs(("default", "s")) == []


async def test_resumes_after_a_dropped_connection_and_relists_after_410(
        k8s_emulator: EmulatorProcess, watch_factory: Callable[..., tuple[JobWatch, Woken]],
) -> None:
    watch, woken = watch_factory()
    await asyncio.wait_for(watch.ready_for("default").wait(), 10)
    k8s = k8s_emulator
    k8s.client.create(JOBS, job("s-c0000-w0", "c0000-w0"), "default")
    await until(lambda: len(watch) == 1)

    # A dropped connection: the watch resumes from its last version and misses nothing.
    k8s.close_watches()
    k8s.client.create(JOBS, job("s-c0001-w0", "c0001-w0"), "default")
    await until(lambda: len(watch) == 2)

    # An API server that compacted its history: 410 Gone, so the watch lists again; the
    # Jobs that vanished meanwhile are forgotten and their sweep woken.
    mark = k8s.log_mark()
    woken.keys.clear()
    create_sweep(k8s, "other")  # history moves past the watch's last version
    k8s.reset()  # deletes everything, compacts the history, ends the watches
    k8s.client.create(JOBS, job("s-c0002-w0", "c0002-w0"), "default")
    await until(lambda: [j.trial for j in watch.jobs(("default", "s"))] == ["c0002-w0"])
    assert ("default", "s") in woken.keys
    lists = [r for r in k8s.request_log(since=mark)
             if r["verb"] == "list" and r["resource"] == "jobs"]
    assert lists, "expected a fresh list after 410"

    # A 410 answered up front (not as a watch event) also leads to a fresh list.
    k8s.inject_fault(status=410, verb="watch", resource="jobs")
    k8s.close_watches()
    k8s.client.create(JOBS, job("s-c0003-w0", "c0003-w0"), "default")
    await until(lambda: len(watch) == 2)


async def test_watches_only_the_given_namespaces(
        k8s_emulator: EmulatorProcess, watch_factory: Callable[..., tuple[JobWatch, Woken]],
) -> None:
    k8s = k8s_emulator
    k8s.client.create(JOBS, job("s-c0000-w0", "c0000-w0", namespace="kube-public"),
                      "kube-public")
    only_default, _ = watch_factory(["default"])
    patterned, _ = watch_factory(["kube-pub*"])
    everywhere, _ = watch_factory()
    both, _ = watch_factory(["default", "kube-public"])
    for watch in (only_default, patterned, everywhere, both):
        await asyncio.wait_for(watch.ready_for("default").wait(), 10)
    k8s.client.create(JOBS, job("s-c0000-w0", "c0000-w0"), "default")
    await until(lambda: len(everywhere) == 2 and len(only_default) == 1 and len(both) == 2)
    assert only_default.jobs(("kube-public", "s")) == []
    assert [j.trial for j in patterned.jobs(("kube-public", "s"))] == ["c0000-w0"]
    assert patterned.jobs(("default", "s")) == []


async def test_namespace_patterns_follow_kopf(
        k8s_emulator: EmulatorProcess, watch_factory: Callable[..., tuple[JobWatch, Woken]],
) -> None:
    """Names and globs mixed, and exclusions, select namespaces as kopf does for sweeps."""
    k8s = k8s_emulator
    mixed, _ = watch_factory(["default", "kube-pub*"])
    excluding, _ = watch_factory(["!kube-public"])
    for watch in (mixed, excluding):
        await asyncio.wait_for(watch.ready_for("default").wait(), 10)
    k8s.client.create(JOBS, job("s-c0000-w0", "c0000-w0"), "default")
    k8s.client.create(JOBS, job("s-c0000-w0", "c0000-w0", namespace="kube-public"),
                      "kube-public")
    await until(lambda: len(mixed) == 2 and len(excluding) == 1)
    assert [j.trial for j in excluding.jobs(("default", "s"))] == ["c0000-w0"]


async def test_only_jobs_named_as_the_operator_names_them_count(
        k8s_emulator: EmulatorProcess, watch_factory: Callable[..., tuple[JobWatch, Woken]],
) -> None:
    k8s = k8s_emulator
    watch, woken = watch_factory()
    await asyncio.wait_for(watch.ready_for("default").wait(), 10)
    k8s.client.create(JOBS, job("s-c0000-w0", "c0000-w0"), "default")
    # A copy of it under another name, labels and all (kubectl get -o yaml, edited).
    k8s.client.create(JOBS, job("copy-of-s-c0000-w0", "c0000-w0"), "default")
    await until(lambda: len(watch) == 1)
    finish(k8s, "copy-of-s-c0000-w0")
    k8s.client.delete(JOBS, "copy-of-s-c0000-w0", "default")
    await asyncio.sleep(0.3)
    [state] = watch.jobs(("default", "s"))
    assert state.phase == "active"  # the copy neither finished nor removed ours

    # A Job whose sweep label is removed leaves the selector: it is forgotten.
    woken.keys.clear()
    k8s.client.patch(JOBS, "s-c0000-w0",
                     {"metadata": {"labels": {"tuningsweep.io/sweep": None}}}, "default")
    await until(lambda: len(watch) == 0)
    assert woken.keys == [("default", "s")]


async def test_lists_page_by_page(
        k8s_emulator: EmulatorProcess, watch_factory: Callable[..., tuple[JobWatch, Woken]],
        monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jobwatch, "PAGE_SIZE", 2)
    for i in range(5):
        k8s_emulator.client.create(JOBS, job(f"s-c000{i}-w0", f"c000{i}-w0"), "default")
    mark = k8s_emulator.log_mark()
    watch, _ = watch_factory(["default"])
    await asyncio.wait_for(watch.ready_for("default").wait(), 10)
    assert len(watch) == 5
    lists = [r for r in k8s_emulator.request_log(since=mark)
             if r["verb"] == "list" and r["resource"] == "jobs"]
    assert len(lists) == 3


async def test_a_scope_that_cannot_list_reports_why_and_holds_back_only_its_sweeps(
        k8s_emulator: EmulatorProcess, watch_factory: Callable[..., tuple[JobWatch, Woken]],
) -> None:
    k8s = k8s_emulator
    k8s.inject_fault(status=403, count=10_000, verb="list", resource="jobs",
                     namespace="kube-public")
    watch, _ = watch_factory(["default", "kube-public"])
    await asyncio.wait_for(watch.ready_for("default").wait(), 10)
    await until(lambda: watch.error_for("kube-public"))
    assert "403" in (watch.error_for("kube-public") or "")
    assert not watch.ready_for("kube-public").is_set()
    assert watch.error_for("default") is None
    k8s.clear_faults()
    await asyncio.wait_for(watch.ready_for("kube-public").wait(), 10)
    assert watch.error_for("kube-public") is None


async def test_stop_ends_the_threads(
        k8s_emulator: EmulatorProcess, watch_factory: Callable[..., tuple[JobWatch, Woken]],
) -> None:
    watch, _ = watch_factory(["default", "kube-public"])
    await asyncio.wait_for(watch.ready_for("kube-public").wait(), 10)
    await asyncio.sleep(0.2)  # both watches open and waiting for events
    watch.stop()
    await until(lambda: not any(t.is_alive() for t in watch.threads), timeout=5)
