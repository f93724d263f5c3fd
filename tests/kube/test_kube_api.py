"""The operator's API adapter (controller/kube.py) against the real API server, with the
chart's ServiceAccount token: the Jobs it sends, what it does with a body the kubernetes
client refuses, and a failed trial's error line read back from the pods the real Job
controller made."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from typing import Any

import kubernetes
import pytest

from tests.kube.client import wait_until
from tests.kube.conftest import Kube
from tests.kube.sweeps import JOBS, PODS
from tuningsweep.controller.kube import JobRefused, KubeApi, load_credentials
from tuningsweep.controller.ratelimit import TokenBucket
from tuningsweep.core.kube.jobs import build_job
from tuningsweep.core.planning.planner import plan_trials
from tuningsweep.core.planning.windows import resolve_windows
from tuningsweep.core.spec.manifest import load_sweeps


def default_job(namespace: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The first trial's Job of a sweep that overrides nothing but the trainer's command."""
    trainer_env = ", ".join(f"{{name: {k}, value: '{v}'}}" for k, v in (env or {}).items())
    (sweep,) = load_sweeps(f"""\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {{name: plain, namespace: {namespace}}}
spec:
  architecture: mlp
  parameters:
    learning_rate: {{values: [0.01]}}
  trainer:
    command: [{sys.executable}, -m, tests.operator.fake_trainer]
    env: [{trainer_env}]
""")
    trial = plan_trials(sweep.spec, resolve_windows(sweep.spec, dt.date(2026, 11, 27))).trials[0]
    return build_job(sweep, trial, model_uri="gs://b/m", owner_uid=None,
                     pushgateway="http://127.0.0.1:9")


@pytest.fixture
def kube_api(kube: Kube, monkeypatch: pytest.MonkeyPatch) -> KubeApi:
    """The adapter as the operator makes it: credentials from the kubeconfig (the
    ServiceAccount's token), restored to the test session's afterwards."""
    monkeypatch.setenv("KUBECONFIG", str(kube.operator_kubeconfig))
    monkeypatch.setattr(kubernetes.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION",
                        str(kube.operator_kubeconfig))
    monkeypatch.setattr(kubernetes.client.Configuration, "_default", None)
    load_credentials()
    return KubeApi(TokenBucket(100.0, 100))


def job_failed(kube: Kube, name: str) -> dict[str, Any] | None:
    """The Job's Failed condition, once it has one."""
    status = kube.client.get(JOBS, name, kube.namespace).get("status") or {}
    return next((c for c in status.get("conditions") or []
                 if c["type"] == "Failed" and c["status"] == "True"), None)


def test_the_default_gpu_job_is_created(kube: Kube, kube_api: KubeApi) -> None:
    ns = kube.namespace
    job = default_job(ns)
    assert asyncio.run(kube_api.create_job(ns, job)) is True
    stored = kube.client.get(JOBS, job["metadata"]["name"], ns)
    limits = stored["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {"nvidia.com/gpu": "1"}
    assert asyncio.run(kube_api.create_job(ns, job)) is False  # a second create is a no-op


def test_a_body_the_client_refuses_is_a_422_naming_the_field(
        kube: Kube, kube_api: KubeApi) -> None:
    ns = kube.namespace
    job = default_job(ns)
    job["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "limits": {"nvidia.com/gpu": 1}}  # what the builder sent before quantities were strings
    with pytest.raises(JobRefused) as info:
        asyncio.run(kube_api.create_job(ns, job))
    assert info.value.status == 422  # the reconciler ends the sweep on 422: no retry loop
    assert ("spec.template.spec.containers[0].resources.limits.nvidia.com/gpu: Input should "
            "be a valid string") in str(info.value.body)
    assert kube.client.items(JOBS, ns) == []


def test_a_failed_trials_error_line_is_read_from_its_pods(kube: Kube, kube_api: KubeApi) -> None:
    ns = kube.namespace
    job = default_job(ns, env={"FAKE_BAD_INPUT_CONFIGS": "c0000"})  # exits 2: bad input
    name = job["metadata"]["name"]
    asyncio.run(kube_api.create_job(ns, job))
    failed = wait_until(lambda: job_failed(kube, name), 60, what=f"Job {name} to fail")
    assert failed["reason"] == "PodFailurePolicy"  # failed at once, not retried
    (pod,) = kube.client.items(PODS, ns)
    assert pod["metadata"]["labels"]["batch.kubernetes.io/job-name"] == name
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 2
    assert asyncio.run(kube_api.failure_message(ns, name)) == (
        "BadInputError: no data for the window of c0000-w0")
    assert asyncio.run(kube_api.failure_message(ns, "another-job")) == ""
