"""Bad manifests meet the real API server: the CRD refuses what a schema can state, the
operator the rest, and both name the field.

* A table of manifests the CRD's schema refuses at ``kubectl apply`` (the client's
  ``create`` sends ``fieldValidation=Strict``, as kubectl does): each is refused, the
  answer names the field, and ``tuningsweep validate``'s checks (:func:`parse_sweep`)
  refuse it at the same field, so the API server is never stricter than the CLI.
* Manifests at the edge of those rules that the CLI accepts are accepted, without a
  warning: a rule that refused them would make the server stricter than the CLI.
* Mistakes a schema cannot state (data that does not cover the windows, a range with no
  integer in it, a request above its limit, ...) are stored by the API server and failed
  by the operator: a ``Failed`` condition naming the field and a Warning Event, no Job.
  (A bad quantity inside ``resources`` and duplicate values are the operator's too;
  tests/kube/test_operator.py has them.)
* What the operator writes draws no warning: every example's Jobs, built by the operator's
  own builder, created with ``dryRun=All`` and ``fieldValidation=Strict``, come back without
  a ``Warning`` header (no unknown or deprecated field, nothing Pod Security ``restricted``
  would refuse); a pod template that lacks the hardening does draw one, so the check sees.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml
from cluster.up import LocalCluster
from google.cloud import storage

from tests.kube.client import ApiError, KubeClient
from tests.kube.conftest import Kube
from tests.kube.sweeps import EVENTS, JOBS, SWEEPS, sweep_manifest, wait_phase
from tests.operator.operator_process import OperatorProcess
from tuningsweep.core.kube.jobs import build_job, model_uri_for
from tuningsweep.core.planning.planner import plan_trials
from tuningsweep.core.planning.windows import resolve_windows
from tuningsweep.core.spec.errors import InvalidSpec
from tuningsweep.core.spec.manifest import load_sweeps
from tuningsweep.core.spec.parse import parse_sweep

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMESPACE = "schema-checks"  # one namespace for the whole table: nothing is stored in it


def changed(body: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``body`` with ``changes`` applied: dotted paths to new values (``DELETE`` removes)."""
    out = copy.deepcopy(body)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = out
        for key in parents:
            node = node.setdefault(key, {})
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    return out


DELETE: Any = object()
RANDOM = {"spec.search": {"algorithm": "random", "maxConfigs": 2, "seed": 1}}
RACING = {"spec.windows": {"rolling": {"count": 3, "months": 1}},
          "spec.search.racing": {}}
VOLUME = [{"name": "data", "emptyDir": {}}]


class Bad(NamedTuple):
    """A manifest the CRD refuses: what to change, the field named, a phrase of the fix."""

    id: str
    changes: dict[str, Any]
    field: str
    says: str = ""
    status: int = 422  # 400: an unknown field under fieldValidation=Strict


BAD = [
    Bad("unknown-field", {"spec.paralelism": 3}, "spec.paralelism", status=400),
    Bad("mode-enum", {"spec.mode": "quick"}, "spec.mode", '"full", "fast"'),
    Bad("parallelism-zero", {"spec.parallelism": 0}, "spec.parallelism", "1"),
    Bad("max-failed-negative", {"spec.maxFailedTrials": -1}, "spec.maxFailedTrials"),
    Bad("goal-enum", {"spec.objective.goal": "min"}, "spec.objective.goal", '"minimize"'),
    Bad("windows-count-zero", {"spec.windows": {"rolling": {"count": 0}}},
        "spec.windows.rolling.count"),
    Bad("windows-both", {"spec.windows.ranges": [{"start": "2026-01-01", "end": "2026-01-31"}]},
        "spec.windows", "exactly one of rolling or ranges"),
    Bad("range-end-before-start", {"spec.windows": {"ranges": [
        {"start": "2026-03-01", "end": "2026-01-31"}]}}, "spec.windows.ranges[0].end",
        "swap start and end"),
    Bad("architecture-empty", {"spec.architecture": ""}, "spec.architecture",
        "name the model family"),
    Bad("values-empty", {"spec.parameters.hidden_units": {"values": []}},
        "spec.parameters.hidden_units.values"),
    Bad("values-and-range", {**RANDOM, "spec.parameters.dropout": {
        "values": [0.1], "min": 0.0, "max": 0.5}}, "spec.parameters.dropout"),
    Bad("min-without-max", {**RANDOM, "spec.parameters.dropout": {"min": 0.1}},
        "spec.parameters.dropout", "give both min and max"),
    Bad("min-above-max", {**RANDOM, "spec.parameters.dropout": {"min": 0.5, "max": 0.1}},
        "spec.parameters.dropout.max", "swap them or raise max"),
    Bad("log-range-from-zero", {**RANDOM, "spec.parameters.decay": {
        "min": 0, "max": 1, "scale": "log"}}, "spec.parameters.decay.min", "min > 0"),
    Bad("string-range", {**RANDOM, "spec.parameters.dropout": {
        "min": 0, "max": 1, "type": "string"}}, "spec.parameters.dropout.type",
        "use values: [...] for strings"),
    Bad("range-in-a-grid", {"spec.parameters.dropout": {"min": 0.0, "max": 0.5}},
        "spec.parameters", "search.algorithm: random"),
    Bad("auto-unknown-architecture", {"spec.architecture": "transformer",
                                      "spec.search": {"algorithm": "auto"},
                                      "spec.parameters": {}},
        "spec.architecture", "mlp, bow, cnn, lstm"),
    Bad("auto-one-config", {"spec.search": {"algorithm": "auto", "maxConfigs": 1},
                            "spec.parameters": {}},
        "spec.search.maxConfigs", "at least 2"),
    Bad("racing-in-fast-mode", {**RACING, "spec.mode": "fast"}, "spec.search.racing",
        "use mode: full"),
    Bad("racing-alpha", {**RACING, "spec.search.racing": {"alpha": 1.5}},
        "spec.search.racing.alpha", "between 0 and 1"),
    Bad("racing-keep-fraction-integer", {**RACING, "spec.search.racing": {"keepFraction": 1}},
        "spec.search.racing.keepFraction", "between 0 and 1"),
    Bad("racing-fewer-windows-than-rolling", {**RACING, "spec.search.racing": {
        "maxWindows": 2}}, "spec.search.racing.maxWindows", "set it to the count or more"),
    Bad("racing-more-windows-than-ranges", {"spec.windows": {"ranges": [
        {"start": "2026-01-01", "end": "2026-01-31"}, {"start": "2026-02-01", "end": "2026-02-28"}]},
        "spec.search.racing": {"maxWindows": 3}}, "spec.search.racing.maxWindows",
        "add ranges or lower maxWindows"),
    Bad("fast-settings-in-full-mode", {"spec.fast": {"maxEpochs": 8}}, "spec.fast",
        "add mode: fast"),
    Bad("early-stopping-rule-enum", {"spec.search.earlyStopping": {"rule": "mean"}},
        "spec.search.earlyStopping.rule", '"median", "asha"'),
    Bad("early-stopping-without-rule", {"spec.search.earlyStopping": {"graceEpochs": 3}},
        "spec.search.earlyStopping.rule"),
    Bad("budget-negative", {"spec.budget": {"gpuHours": -1}}, "spec.budget.gpuHours"),
    Bad("image-with-space", {"spec.trainer.image": "my trainer:1"}, "spec.trainer.image"),
    Bad("env-name", {"spec.trainer.env": [{"name": "1X", "value": "1"}]},
        "spec.trainer.env[0].name"),
    Bad("backoff-negative", {"spec.trainer.backoffLimit": -1}, "spec.trainer.backoffLimit"),
    Bad("service-account-name", {"spec.trainer.serviceAccountName": "Trainer_SA"},
        "spec.trainer.serviceAccountName"),
    Bad("automount-not-a-boolean", {"spec.trainer.automountServiceAccountToken": "yes"},
        "spec.trainer.automountServiceAccountToken", "boolean"),
    Bad("queue-name", {"spec.trainer.queueName": "gpu queue"}, "spec.trainer.queueName"),
    Bad("resources-typo", {"spec.trainer.resources": {"limit": {"nvidia.com/gpu": 1}}},
        "spec.trainer.resources.limit", status=400),
    Bad("node-selector-value", {"spec.trainer.nodeSelector": {"pool": "gpu pool"}},
        "spec.trainer.nodeSelector.pool"),
    Bad("toleration-operator-enum", {"spec.trainer.tolerations": [
        {"key": "nvidia.com/gpu", "operator": "exists"}]},
        "spec.trainer.tolerations[0].operator", '"Exists", "Equal"'),
    Bad("toleration-typo", {"spec.trainer.tolerations": [
        {"key": "nvidia.com/gpu", "operater": "Exists"}]},
        "spec.trainer.tolerations[0].operater", status=400),
    Bad("toleration-empty-key-equal", {"spec.trainer.tolerations": [{"effect": "NoSchedule"}]},
        "spec.trainer.tolerations[0].operator", "operator: Exists to tolerate every taint"),
    Bad("toleration-exists-with-value", {"spec.trainer.tolerations": [
        {"key": "gpu", "operator": "Exists", "value": "yes"}]},
        "spec.trainer.tolerations[0].value", "remove the value"),
    Bad("toleration-seconds-without-noexecute", {"spec.trainer.tolerations": [
        {"key": "gpu", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 60}]},
        "spec.trainer.tolerations[0].tolerationSeconds", "effect: NoExecute"),
    Bad("volume-two-sources", {"spec.trainer.volumes": [
        {"name": "data", "emptyDir": {}, "configMap": {"name": "cm"}}]},
        "spec.trainer.volumes[0]", "exactly one source"),
    Bad("volume-no-source", {"spec.trainer.volumes": [{"name": "data"}]},
        "spec.trainer.volumes[0]", "exactly one source"),
    Bad("volume-unknown-source", {"spec.trainer.volumes": [
        {"name": "data", "gitRepo": {"repository": "x"}}]},
        "spec.trainer.volumes[0].gitRepo", status=400),
    Bad("volume-named-tmp", {"spec.trainer.volumes": [{"name": "tmp", "emptyDir": {}}]},
        "spec.trainer.volumes[0].name", "choose another name"),
    Bad("volume-name", {"spec.trainer.volumes": [{"name": "Data", "emptyDir": {}}]},
        "spec.trainer.volumes[0].name"),
    Bad("mount-without-path", {"spec.trainer.volumes": VOLUME,
                               "spec.trainer.volumeMounts": [{"name": "data"}]},
        "spec.trainer.volumeMounts[0].mountPath"),
    Bad("mount-over-tmp", {"spec.trainer.volumes": VOLUME,
                           "spec.trainer.volumeMounts": [{"name": "data", "mountPath": "/tmp"}]},
        "spec.trainer.volumeMounts[0].mountPath", "choose another path"),
    Bad("name-with-a-dot", {"metadata.name": "ctr.v2"}, "metadata.name",
        "lowercase letters, digits and '-'"),
    Bad("name-too-long", {"metadata.name": "s" * 64}, "metadata.name", "at most 63"),
    Bad("function-not-module-colon-name", {"spec.trainer.function": "train.py"},
        "spec.trainer.function"),
    Bad("function-and-command", {"spec.trainer.function": "train:main",
                                 "spec.trainer.command": ["python", "train.py"]},
        "spec.trainer.function", "not both"),
    Bad("trials-per-pod-zero", {"spec.trainer.trialsPerPod": 0}, "spec.trainer.trialsPerPod"),
    Bad("trials-per-pod-too-many", {"spec.trainer.trialsPerPod": 65},
        "spec.trainer.trialsPerPod", "use 64 or fewer"),
    Bad("trials-per-pod-with-command", {"spec.trainer.trialsPerPod": 4,
                                        "spec.trainer.command": ["python", "train.py"]},
        "spec.trainer.trialsPerPod", "set trainer.function"),
    Bad("trials-per-pod-with-early-stopping", {"spec.trainer.trialsPerPod": 4,
                                               "spec.search.earlyStopping": {"rule": "median"}},
        "spec.trainer.trialsPerPod", "remove search.earlyStopping"),
]


class Edge(NamedTuple):
    """A manifest at the edge of a rule that ``tuningsweep validate`` accepts."""

    id: str
    changes: dict[str, Any]


EDGES = [
    Edge("defaults-only", {"spec": {"architecture": "mlp"}}),
    Edge("trials-per-pod", {"spec.trainer": {"image": "local/fake-trainer:1",
                                             "function": "train:main", "trialsPerPod": 64}}),
    Edge("one-trial-per-pod-with-command-and-early-stopping", {
        "spec.trainer.trialsPerPod": 1, "spec.trainer.command": ["python", "train.py"],
        "spec.search.earlyStopping": {"rule": "median"}}),
    Edge("min-equals-max", {**RANDOM, "spec.parameters.dropout": {"min": 0.2, "max": 0.2}}),
    Edge("log-range-above-zero", {**RANDOM, "spec.parameters.decay": {
        "min": 0.001, "max": 1, "scale": "log"}}),
    Edge("int-range", {**RANDOM, "spec.parameters.units": {"min": 8, "max": 64,
                                                           "type": "int"}}),
    Edge("values-with-log-scale", {"spec.parameters.decay": {"values": [0.1], "scale": "log"}}),
    Edge("auto-known-architecture", {"spec.architecture": "lstm", "spec.parameters": {},
                                     "spec.search": {"algorithm": "auto", "maxConfigs": 2}}),
    Edge("racing-defaults", RACING),
    Edge("racing-max-windows-equal-count", {**RACING, "spec.search.racing": {
        "maxWindows": 3, "alpha": 0.1, "keepFraction": 0.5}}),
    Edge("racing-ranges", {"spec.windows": {"ranges": [
        {"start": "2026-01-01", "end": "2026-01-31"}, {"start": "2026-02-01", "end": "2026-02-28"}]},
        "spec.search.racing": {"maxWindows": 2}}),
    Edge("fast-mode-settings", {"spec.mode": "fast", "spec.fast": {"months": 2, "maxEpochs": 8}}),
    Edge("full-mode-default-fast", {"spec.fast": {"months": 1, "maxEpochs": 20}}),
    Edge("one-day-range", {"spec.windows": {"ranges": [{"start": "2026-01-01",
                                                        "end": "2026-01-01"}]}}),
    Edge("pod-fields", {"spec.trainer.tolerations": [
        {"operator": "Exists"},
        {"key": "gpu", "operator": "Equal", "value": "a100", "effect": "NoSchedule"},
        {"key": "spot", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}],
        "spec.trainer.volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "d"}},
                                 {"name": "cfg", "configMap": {"name": "c", "items": [
                                     {"key": "k", "path": "p"}]}}],
        "spec.trainer.volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True},
                                      {"name": "cfg", "mountPath": "/tmp/cfg"}],
        "spec.trainer.resources": {"requests": {"cpu": 0.5, "memory": "2Gi"},
                                   "limits": {"nvidia.com/gpu": 2, "memory": "2Gi"}},
        "spec.trainer.nodeSelector": {"cloud.google.com/gke-accelerator": "nvidia-l4"},
        "spec.trainer.automountServiceAccountToken": True}),
    Edge("name-of-63", {"metadata.name": "s" * 63}),
    Edge("trainer-function", {"spec.trainer.command": DELETE,
                              "spec.trainer.function": "my_pkg.train:main"}),
]


@pytest.fixture(scope="module")
def admin(kube_cluster: LocalCluster) -> Iterator[KubeClient]:
    """The administrator's client, with one namespace for the whole table."""
    assert kube_cluster.control_plane is not None
    client = KubeClient(kube_cluster.server, kube_cluster.control_plane.tls_context())
    client.create("v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                    "metadata": {"name": NAMESPACE}})
    yield client
    client.delete("v1/namespaces", NAMESPACE)


def base() -> dict[str, Any]:
    return sweep_manifest("checked", NAMESPACE, "bucket")


def causes(error: ApiError) -> list[str]:
    """The fields an Invalid answer names (``details.causes``), map keys written as the
    CLI writes them (``spec.parameters.dropout``, not ``spec.parameters[dropout]``)."""
    details = (error.body or {}).get("details") or {}
    return [re.sub(r"\[([^\]0-9][^\]]*)\]", r".\1", str(c.get("field", "")))
            for c in details.get("causes") or []]


def python_error_paths(body: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidSpec) as refused:
        parse_sweep(body)
    return [e.path for e in refused.value.errors]


@pytest.mark.parametrize("bad", BAD, ids=[b.id for b in BAD])
def test_the_crd_refuses_a_bad_manifest_naming_the_field(admin: KubeClient, bad: Bad) -> None:
    body = changed(base(), bad.changes)
    with pytest.raises(ApiError) as refused:
        admin.create(SWEEPS, body)
    error = refused.value
    assert error.status == bad.status, error
    message = str(error)
    if bad.status == 422:
        # A oneOf names its field only in the message.
        assert bad.field in causes(error) or f'"{bad.field}"' in message, message
    else:
        assert f'unknown field "{bad.field}"' in message
    assert bad.says in message, message
    # The CLI refuses it too, at the same field (or, for a rule over a map, inside it).
    paths = python_error_paths(body)
    assert any(p == bad.field or p.startswith((f"{bad.field}.", f"{bad.field}["))
               for p in paths), paths


@pytest.mark.parametrize("edge", EDGES, ids=[e.id for e in EDGES])
def test_what_the_cli_accepts_the_crd_accepts_without_warnings(admin: KubeClient,
                                                                edge: Edge) -> None:
    body = changed(base(), edge.changes)
    parse_sweep(body)
    status, answer, warnings = admin.dry_run_create(SWEEPS, body)
    assert status == 201, answer
    assert warnings == []


def example_sweeps() -> list[Any]:
    return [s for path in sorted(EXAMPLES.rglob("*.yaml"))
            if "kind: TuningSweep" in (text := path.read_text())
            for s in load_sweeps(text, str(path))]


def test_every_examples_manifest_is_accepted_without_warnings(admin: KubeClient) -> None:
    sweeps = example_sweeps()
    assert len(sweeps) >= 5
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "TuningSweep":
                continue
            doc["metadata"]["namespace"] = NAMESPACE
            # As kubectl sends it: YAML dates as strings.
            status, answer, warnings = admin.dry_run_create(
                SWEEPS, json.loads(json.dumps(doc, default=str)))
            assert status == 201, (path.name, answer)
            assert warnings == [], (path.name, warnings)


def test_the_jobs_the_operator_writes_draw_no_warning(admin: KubeClient) -> None:
    today = dt.date(2026, 6, 15)
    checked = 0
    for sweep in example_sweeps():
        trials = plan_trials(sweep.spec, resolve_windows(sweep.spec, today)).trials
        for trial in trials[:2]:
            job = build_job(sweep, trial, model_uri=model_uri_for(sweep, trial.id, "gs://b/r"),
                            owner_uid=None, pushgateway="http://pushgateway:9091")
            job["metadata"]["namespace"] = NAMESPACE
            status, answer, warnings = admin.dry_run_create(JOBS, job)
            assert status == 201, (sweep.key, answer)
            assert warnings == [], (sweep.key, warnings)
            checked += 1
    assert checked >= 10
    # The control: the same Job without the hardening is warned about.
    job["spec"]["template"]["spec"].pop("securityContext")
    status, _, warnings = admin.dry_run_create(JOBS, job)
    assert status == 201
    assert any("would violate PodSecurity" in w and "restricted" in w for w in warnings), \
        warnings


def _operator_only(ns: str, bucket: str) -> dict[str, tuple[dict[str, Any], str, str]]:
    """Sweeps the API server stores and the operator fails: name -> (manifest, reason,
    the field and problem the Failed condition names)."""
    def sweep(name: str, changes: dict[str, Any]) -> dict[str, Any]:
        return changed(sweep_manifest(name, ns, bucket), changes)
    return {
        "int-range-without-int": (sweep("int-range-without-int", {**RANDOM, (
            "spec.parameters.units"): {"min": 0.2, "max": 0.8, "type": "int"}}),
            "InvalidSpec", "spec.parameters.units: the integer range 0.2..0.8 contains no "
                           "integer"),
        "int-values-with-a-fraction": (sweep("int-values-with-a-fraction", {
            "spec.parameters.hidden_units": {"values": [64, 0.5], "type": "int"}}),
            "InvalidSpec", "spec.parameters.hidden_units.values: has non-integer values but "
                           "type is int"),
        "request-above-limit": (sweep("request-above-limit", {"spec.trainer.resources": {
            "requests": {"memory": "32Gi"}, "limits": {"memory": "16Gi"}}}),
            "InvalidSpec", "spec.trainer.resources.requests.memory: 32Gi is more than the "
                           "limit 16Gi"),
        "mount-of-no-volume": (sweep("mount-of-no-volume", {"spec.trainer.volumeMounts": [
            {"name": "data", "mountPath": "/data"}]}),
            "InvalidSpec", "spec.trainer.volumeMounts[0].name: 'data' is not a volume"),
        # The data folder has days, but none in the sweep's windows (two years ago).
        "no-data": (sweep("no-data", {"spec.data": f"gs://{bucket}/ctr/",
                                      "spec.trainer.command": DELETE}),
                    "NoData", "spec.data"),
    }


def test_what_a_schema_cannot_state_the_operator_fails_naming_the_field(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str, gcs_client: storage.Client,
) -> None:
    ns = kube.namespace
    old_day = dt.date.today().replace(day=1) - dt.timedelta(days=730)
    gcs_client.bucket(gcs_bucket).blob(f"ctr/date={old_day.isoformat()}/part-0.csv") \
        .upload_from_string("a,b\n1,2\n")
    sweeps = _operator_only(ns, gcs_bucket)
    for body, _, _ in sweeps.values():
        stored = kube.client.create(SWEEPS, body)  # the API server has nothing to object to
        assert stored["metadata"]["uid"]
    kube_operator.start()
    for name, (_, reason, names) in sweeps.items():
        status = wait_phase(kube.client, ns, name, "Failed", operator=kube_operator)
        failed = next(c for c in status["conditions"] if c["type"] == "Failed")
        assert failed["status"] == "True" and failed["reason"] == reason, failed
        assert names in failed["message"], failed["message"]
    warnings = {(e["involvedObject"]["name"], e.get("reason"))
                for e in kube.client.items(EVENTS, ns) if e.get("type") == "Warning"}
    assert {(name, reason) for name, (_, reason, _) in sweeps.items()} <= warnings
    assert kube.client.items(JOBS, ns) == []
