"""The manifests users write, applied unchanged with kubectl, run to ``Succeeded`` on the
real control plane.

Every TuningSweep file in ``examples/`` is applied with the cluster's own ``kubectl apply
-f FILE`` (``examples/gitops/sweeps`` with ``kubectl apply -k``, as its kustomization
says), so the API server validates it strictly against the CRD, defaults it and stores it
in the namespace the file names: ``ml``, or ``default`` for files that name none, exactly
where a user's sweep lands. Nothing in the files is rewritten; the cluster is set up the
way docs/install.md tells users to:

* the operator watches the example's namespace with the chart's RBAC for it (a Role there,
  as ``helm upgrade --set operator.watchNamespaces={ml}`` renders it);
* the trial pods' ServiceAccount (``tuningsweep-trainer``) exists where an example names it;
* the node pools the examples select are the cluster's own (cluster/up.py
  ``DEFAULT_NODES``, shaped as GKE registers them): L4 GPUs for the
  ``cloud.google.com/gke-accelerator: nvidia-l4`` selector, spot L4 nodes (label and taint
  ``cloud.google.com/gke-spot=true``) for ``examples/kueue.yaml``;
* ``examples/kueue.yaml`` runs through the real Kueue with the ResourceFlavor,
  ClusterQueue, LocalQueue and PriorityClass of docs/install.md ("Queues with Kueue"),
  applied from the docs' own YAML block: Kueue, not the test, unsuspends every Job.

The stand-ins: the node runs the reference trainer's image as the fake trainer (with
``FAKE_SLEEP=0``, so each example runs its whole plan in seconds), the data bucket
(``gs://my-bucket``) is the GCS emulator with one day of data per window, and results go
to the emulator. ``examples/shorthand.json`` is the CLI's shorthand, not a resource, and
``examples/own-trainer/`` runs a script beside the manifest, which only ``tuningsweep run``
can do (tests/local/test_examples_byo.py runs it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.cloud import storage

from tests.kube.client import ApiError, KubeClient, wait_until
from tests.kube.conftest import Kube
from tests.kube.sweeps import JOBS, SWEEPS, max_concurrent_pods, wait_phase
from tests.operator.operator_process import OperatorProcess
from tuningsweep.core.planning.planner import count_trials
from tuningsweep.core.planning.windows import resolve_windows
from tuningsweep.core.spec import api
from tuningsweep.core.spec.manifest import load_sweeps
from tuningsweep.core.spec.parse import Sweep

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
KUSTOMIZED = EXAMPLES / "gitops" / "sweeps"
INSTALL_DOCS = REPO / "docs" / "install.md"
KUEUE_USER = "kueue"  # the identity cluster/kueue.py gives Kueue's manager
NO_TRAINER = {"apiVersion": api.API_VERSION, "kind": api.KIND,
              "metadata": {"name": "defaults"},
              "spec": {"architecture": "mlp", "mode": "fast",
                       "parameters": {"learning_rate": {"values": [0.01, 0.001]}}}}


def _is_local_only(doc: dict[str, Any]) -> bool:
    """A sweep whose trainer is a script beside the manifest (``python train.py``, or its
    function, ``train:trial``), which no trainer image holds."""
    trainer = (doc.get("spec") or {}).get("trainer") or {}
    command = trainer.get("command") or []
    if trainer.get("function"):
        return True
    return bool(command) and not Path(command[-1]).is_absolute() and command[-1].endswith(".py")


def _cases() -> list[Any]:
    cases = [pytest.param(None, id="no-trainer-section")]
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        if path.parent == KUSTOMIZED:
            continue
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        if any(d.get("kind") == api.KIND and not _is_local_only(d) for d in docs):
            cases.append(pytest.param(path, id=path.relative_to(EXAMPLES).as_posix(),
                                      marks=pytest.mark.slow))
    cases.append(pytest.param(KUSTOMIZED, id="gitops/sweeps (apply -k)", marks=pytest.mark.slow))
    return cases


def _apply(kube: Kube, source: Path | None) -> list[dict[str, Any]]:
    """``kubectl apply`` the example; return the sweeps as the API server stored them."""
    if source is None:  # no file: applied into the test's namespace, as `-n NS` would
        out = kube.cluster.kubectl("apply", "-n", kube.namespace, "-o", "json", "-f", "-",
                                   stdin=yaml.safe_dump(NO_TRAINER))
    elif source.is_dir():
        out = kube.cluster.kubectl("apply", "-o", "json", "-k", str(source))
    else:
        out = kube.cluster.kubectl("apply", "-o", "json", "-f", str(source))
    applied = yaml.safe_load(out)
    items = applied.get("items", [applied]) if applied.get("kind") == "List" else [applied]
    return [i for i in items if i.get("kind") == api.KIND]


def _namespace_of(source: Path | None, kube: Kube) -> str:
    """Where ``kubectl apply`` puts the example (the file's namespace, else ``default``)."""
    if source is None:
        return kube.namespace
    if source.is_dir():
        return str(yaml.safe_load((source / "kustomization.yaml").read_text())["namespace"])
    namespaces = {(d.get("metadata") or {}).get("namespace") or "default"
                  for d in yaml.safe_load_all(source.read_text()) if d}
    (namespace,) = namespaces
    return str(namespace)


def _docs_yaml(section: str) -> list[dict[str, Any]]:
    """The first YAML block under a ``### section`` heading of docs/install.md."""
    text = INSTALL_DOCS.read_text()
    body = text[text.index(f"### {section}"):]
    block = re.search(r"```yaml\n(.*?)```", body, re.S)
    assert block is not None, f"no YAML block under {section!r} in {INSTALL_DOCS}"
    return [d for d in yaml.safe_load_all(block.group(1)) if d]


@contextlib.contextmanager
def _kueue_as_documented(kube: Kube) -> Iterator[list[dict[str, Any]]]:
    """docs/install.md's Kueue setup, applied for the test and deleted afterwards."""
    objects = _docs_yaml("Queues with Kueue")
    kube.cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(objects))
    try:
        yield objects
    finally:
        for obj in reversed(objects):
            meta = obj["metadata"]
            args = ["-n", meta["namespace"]] if meta.get("namespace") else []
            kube.cluster.kubectl("delete", obj["kind"].lower(), meta["name"], *args,
                                 "--ignore-not-found", "--wait=false")


def _service_accounts(client: KubeClient, namespace: str, sweeps: list[Sweep]) -> None:
    """The trial pods' ServiceAccount, as docs/install.md has users create it."""
    for name in {s.spec.trainer.service_account_name for s in sweeps} - {None, ""}:
        with contextlib.suppress(ApiError):  # already there from an earlier example
            client.create("v1/serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                                 "metadata": {"name": name}}, namespace)


def _data_for_the_windows(client: storage.Client, sweep: Sweep) -> None:
    """A user's data bucket: one day of data in each window (the operator checks the
    windows against the data before any Job; the fake trainer reads none of it)."""
    if not sweep.spec.data.startswith("gs://"):
        return
    bucket_name, _, prefix = sweep.spec.data.removeprefix("gs://").partition("/")
    bucket = client.bucket(bucket_name)
    if not bucket.exists():
        client.create_bucket(bucket_name)
    for window in resolve_windows(sweep.spec, dt.date.today()):
        path = f"{prefix.strip('/')}/date={window.start.isoformat()}/part.csv".lstrip("/")
        bucket.blob(path).upload_from_string("target\n1\n")


def _empty_results(client: storage.Client, results: str, namespace: str, name: str) -> None:
    """A fresh results folder: a CSV left by an earlier run would be resumed."""
    bucket_name, _, prefix = results.removeprefix("gs://").partition("/")
    bucket = client.bucket(bucket_name)
    if not bucket.exists():
        client.create_bucket(bucket_name)
    folder = f"{prefix.strip('/')}/{namespace}/{name}/".lstrip("/")
    for blob in list(client.list_blobs(bucket_name, prefix=folder)):
        blob.delete()


def _delete_sweeps(client: KubeClient, namespace: str, names: list[str]) -> None:
    """Delete the sweeps (their Jobs go with them) while the operator can still let go."""
    for name in names:
        with contextlib.suppress(ApiError):
            client.delete(SWEEPS, name, namespace)
    wait_until(lambda: all(client.get_or_none(SWEEPS, n, namespace) is None for n in names),
               60, what="the sweeps to be deleted")


def _expected(source: Path | None) -> list[Sweep]:
    if source is None:
        return load_sweeps(yaml.safe_dump(NO_TRAINER))
    if source.is_dir():
        return [s for f in sorted(source.glob("*.yaml")) if f.name != "kustomization.yaml"
                for s in load_sweeps(f.read_text())]
    return load_sweeps(source.read_text())


@pytest.mark.timeout(600)
@pytest.mark.parametrize("source", _cases())
def test_example_runs_unchanged_to_success(
    source: Path | None, kube: Kube, prometheus: Any, pushgateway: Any,
    gcs_client: storage.Client, gcs_bucket: str, tmp_path: Path,
) -> None:
    ns = _namespace_of(source, kube)
    sweeps = _expected(source)
    totals = {s.name: count_trials(s.spec, resolve_windows(s.spec, dt.date.today()))[1]
              for s in sweeps}
    for sweep in sweeps:
        _empty_results(gcs_client, sweep.spec.results or f"gs://{gcs_bucket}/tuning/", ns,
                       sweep.name)
        _data_for_the_windows(gcs_client, sweep)
    kube.cluster.install_chart(tuple(dict.fromkeys((kube.namespace, ns))))
    _service_accounts(kube.client, ns, sweeps)
    queued = any(s.spec.trainer.queue_name for s in sweeps)
    operator = OperatorProcess(kube.operator_kubeconfig, prometheus.url, pushgateway.url,
                               tmp_path / "operator", namespace=ns,
                               extra_args=("--results-default", f"gs://{gcs_bucket}/tuning"))
    with contextlib.ExitStack() as stack:
        if queued:
            stack.enter_context(_kueue_as_documented(kube))
        stack.enter_context(operator)
        stack.callback(_delete_sweeps, kube.client, ns, [s.name for s in sweeps])
        applied = _apply(kube, source)
        assert sorted(a["metadata"]["name"] for a in applied) == sorted(totals)
        assert {a["metadata"]["namespace"] for a in applied} == {ns}
        statuses = {s.name: wait_phase(kube.client, ns, s.name, "Succeeded", timeout=480,
                                       operator=operator) for s in sweeps}
        for sweep in sweeps:
            _check_sweep(kube, ns, sweep, statuses[sweep.name], totals[sweep.name])
        if queued:
            _check_kueue_admitted(kube, ns, sweeps)
        # Everything the operator did, it did with the chart's RBAC, and none was refused.
        calls = kube.audit()
        assert calls and all(c.code < 400 for c in calls), [
            (c.verb, c.resource, c.name, c.code) for c in calls if c.code >= 400]


def _check_sweep(kube: Kube, ns: str, sweep: Sweep, status: dict[str, Any], total: int) -> None:
    if sweep.spec.racing is None:
        assert status["trials"]["succeeded"] == status["trials"]["total"] == total
    else:  # racing ran fewer: the clearly-behind stopped early, contenders went on
        assert status["trials"]["succeeded"] == status["trials"]["total"] < total
        assert status["racing"]["eliminated"] > 0 and status["racing"]["trialsSaved"] > 0
        total = status["trials"]["total"]
    assert status["trials"]["failed"] == 0
    assert status["best"]["config"]
    jobs = kube.client.items(JOBS, ns, label_selector=f"tuningsweep.io/sweep={sweep.name}")
    assert len(jobs) == total
    creates = [c for c in kube.audit() if c.verb == "create" and c.resource == "jobs"
               and c.code == 201 and c.namespace == ns and c.name.startswith(f"{sweep.name}-")]
    assert len(creates) == total, "a Job was created twice"
    pod = jobs[0]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    # What the user asked for reached the Job; a GPU unless the example says otherwise.
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["image"] == sweep.spec.trainer.image
    for key, value in (sweep.spec.trainer.node_selector or {}).items():
        assert pod["nodeSelector"][key] == value
    assert max_concurrent_pods(kube, ns, sweep.name) <= sweep.spec.parallelism


def _check_kueue_admitted(kube: Kube, ns: str, sweeps: list[Sweep]) -> None:
    """Kueue admitted every Job (a Workload each, admitted and finished) and the test
    unsuspended none: the only writes to the Jobs besides the operator's are Kueue's."""
    names = {f"{s.name}-" for s in sweeps}
    workloads = [w for w in kube.client.items("kueue.x-k8s.io/v1beta2/workloads", ns)
                 if any(o["name"].startswith(tuple(names))
                        for o in w["metadata"].get("ownerReferences") or [])]
    jobs = [j for s in sweeps for j in kube.client.items(
        JOBS, ns, label_selector=f"tuningsweep.io/sweep={s.name}")]
    assert len(workloads) == len(jobs)
    for workload in workloads:
        conditions = {c["type"]: c["status"] for c in workload["status"]["conditions"]}
        assert conditions.get("Admitted") == "True" or conditions.get("Finished") == "True"
        assert workload["status"].get("admission"), workload["metadata"]["name"]
    unsuspended_by_kueue = {c.name for c in kube.audit(user=KUEUE_USER)
                            if c.resource == "jobs" and c.verb in ("update", "patch")
                            and c.namespace == ns and c.code < 300}
    assert {j["metadata"]["name"] for j in jobs} <= unsuspended_by_kueue
    test_writes = [c for c in kube.audit(user=None) if c.resource == "jobs" and c.namespace == ns
                   and c.verb in ("update", "patch") and c.user == "admin"]
    assert test_writes == []

