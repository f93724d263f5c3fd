"""The operator's API adapter (controller/kube.py) against the emulator: the Jobs it sends,
what it does with a body the kubernetes client refuses, and a failed trial's error line
read back from its pods."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.operator.emulator import EmulatorProcess
from tests.operator.node_agent import NodeAgent
from tuningsweep.controller.kube import JobRefused, KubeApi, load_credentials
from tuningsweep.controller.ratelimit import TokenBucket
from tuningsweep.core.jobs import build_job
from tuningsweep.core.manifest import load_sweeps
from tuningsweep.core.planner import plan_trials
from tuningsweep.core.windows import resolve_windows

REPO_ROOT = Path(__file__).resolve().parents[2]
NS = "team"
DEFAULT_SWEEP = f"""\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {{name: plain, namespace: {NS}}}
spec:
  architecture: mlp
  parameters:
    learning_rate: {{values: [0.01]}}
  trainer:
    command: [{sys.executable}, -m, tests.operator.fake_trainer]
"""


def default_job() -> dict[str, Any]:
    (sweep,) = load_sweeps(DEFAULT_SWEEP)
    trial = plan_trials(sweep.spec, resolve_windows(sweep.spec, dt.date(2026, 11, 27))).trials[0]
    return build_job(sweep, trial, model_uri="gs://b/m", owner_uid=None,
                     pushgateway="http://127.0.0.1:9")


def kube_api() -> KubeApi:
    load_credentials()
    return KubeApi(TokenBucket(100.0, 100))


def test_the_default_gpu_job_is_created(k8s_emulator: EmulatorProcess) -> None:
    job = default_job()
    assert asyncio.run(kube_api().create_job(NS, job)) is True
    stored = k8s_emulator.client.get("batch/v1/jobs", job["metadata"]["name"], NS)
    limits = stored["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {"nvidia.com/gpu": "1"}
    assert asyncio.run(kube_api().create_job(NS, job)) is False  # a second create is a no-op


def test_a_body_the_client_refuses_is_a_422_naming_the_field(
        k8s_emulator: EmulatorProcess) -> None:
    job = default_job()
    job["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "limits": {"nvidia.com/gpu": 1}}  # what the builder sent before quantities were strings
    with pytest.raises(JobRefused) as info:
        asyncio.run(kube_api().create_job(NS, job))
    assert info.value.status == 422  # the reconciler ends the sweep on 422: no retry loop
    assert ("spec.template.spec.containers[0].resources.limits.nvidia.com/gpu: Input should "
            "be a valid string") in str(info.value.body)
    assert k8s_emulator.client.list("batch/v1/jobs", NS)["items"] == []


def test_a_failed_trials_error_line_is_read_from_its_pods(
    k8s_emulator: EmulatorProcess, node_agent_factory: Callable[..., NodeAgent],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_BAD_INPUT_CONFIGS", "c0000")
    agent = node_agent_factory(create_pods=True, extra_env={"PYTHONPATH": str(REPO_ROOT)})
    job = default_job()
    name = job["metadata"]["name"]
    api = kube_api()
    asyncio.run(api.create_job(NS, job))
    run = agent.wait_for_job(NS, name)
    assert run.exit_codes == [2] and run.reason == "PodFailurePolicy"
    (pod,) = k8s_emulator.client.list("v1/pods", NS)["items"]
    assert pod["metadata"]["labels"]["batch.kubernetes.io/job-name"] == name
    assert asyncio.run(api.failure_message(NS, name)) == (
        "BadInputError: no data for the window of c0000-w0")
    assert asyncio.run(api.failure_message(NS, "another-job")) == ""
