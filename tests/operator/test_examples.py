"""The manifests users write, applied unchanged, run to ``Succeeded`` on the operator.

Every TuningSweep in ``examples/`` (the GPU one included) and a sweep with no ``trainer``
section at all are created exactly as ``kubectl apply -f`` would create them: defaults,
GPU requests, tolerations, node selectors, service accounts and all. The only stand-in is
the node: the agent maps the default trainer image to the fake trainer, as a kubelet
would pull and run the image (and, for the queued example, the test admits Jobs as Kueue
would). These tests failed before quantities were normalised: the
kubernetes client refused every Job that requested ``nvidia.com/gpu: 1``.

Each example runs its full plan (up to 48 trials), so the fake trainer does not sleep.
``examples/shorthand.json`` is the CLI's shorthand (``tuningsweep run``), not a resource
``kubectl`` can apply, and ``examples/own-trainer/`` runs a script beside the manifest
(``python train.py``), which only ``tuningsweep run`` can do: on a cluster the trainer is
an image. tests/local/test_examples_byo.py runs that one as written.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.cloud import storage

from tests.core.test_crd import _json_ready  # YAML dates as JSON strings
from tests.operator.emulator import EmulatorProcess
from tests.operator.node_agent import NodeAgent
from tests.operator.operator_process import OperatorProcess, wait_until
from tests.operator.sweeps import JOBS, SWEEPS, admit_queued, status_of, wait_phase
from tuningsweep.core import api
from tuningsweep.core.manifest import load_sweeps
from tuningsweep.core.planner import count_trials
from tuningsweep.core.windows import resolve_windows

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples"
FAKE_TRAINER = [sys.executable, "-m", "tests.operator.fake_trainer"]
NO_TRAINER = {"apiVersion": api.API_VERSION, "kind": api.KIND,
              "metadata": {"name": "defaults", "namespace": "team"},
              "spec": {"architecture": "mlp", "mode": "fast",
                       "parameters": {"learning_rate": {"values": [0.01, 0.001]}}}}


def _examples() -> list[Any]:
    cases = [pytest.param(NO_TRAINER, id="no-trainer-section")]
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            command = (((doc or {}).get("spec") or {}).get("trainer") or {}).get("command")
            if command and not Path(command[-1]).is_absolute() and command[-1].endswith(".py"):
                continue  # a script beside the manifest: a local-only example
            if (doc or {}).get("kind") == api.KIND:
                cases.append(pytest.param(_json_ready(doc), id=path.relative_to(
                    EXAMPLES).as_posix(), marks=pytest.mark.slow))
    return cases


@pytest.mark.timeout(300)
@pytest.mark.parametrize("manifest", _examples())
def test_example_runs_unchanged_to_success(
    manifest: dict[str, Any], k8s_emulator: EmulatorProcess,
    node_agent_factory: Callable[..., NodeAgent], prometheus: Any, pushgateway: Any,
    gcs_emulator: Any, gcs_client: storage.Client, gcs_bucket: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_SLEEP", "0")
    (sweep,) = load_sweeps(yaml.safe_dump(manifest))
    total = count_trials(sweep.spec, resolve_windows(sweep.spec, dt.date.today()))[1]
    results = sweep.spec.results or f"gs://{gcs_bucket}/tuning/"
    _empty_results(gcs_client, results, sweep.namespace, sweep.name)
    _data_for_the_windows(gcs_client, sweep)
    agent = node_agent_factory(
        max_concurrency=8, extra_env={"PYTHONPATH": str(REPO_ROOT)},
        image_commands={api.DEFAULT_TRAINER_IMAGE.rsplit(":", 1)[0]: FAKE_TRAINER})
    operator = OperatorProcess(k8s_emulator.kubeconfig, prometheus.url, pushgateway.url,
                               tmp_path / "operator", namespace=sweep.namespace,
                               extra_args=("--results-default", f"gs://{gcs_bucket}/tuning"))
    with operator:
        # As `kubectl apply -f` does: the file's namespace, else the context's ("default").
        k8s_emulator.client.create(SWEEPS, manifest, sweep.namespace)
        if sweep.spec.trainer.queue_name:  # queued Jobs wait for Kueue: admit them as it would
            wait_until(lambda: admit_queued(k8s_emulator, sweep.namespace) == [] and status_of(
                k8s_emulator, sweep.name, sweep.namespace).get("phase") == "Succeeded",
                timeout=240, interval=0.3, what=f"{sweep.name} to succeed")
        status = wait_phase(k8s_emulator, sweep.name, "Succeeded", timeout=240,
                            operator=operator, namespace=sweep.namespace)
    if sweep.spec.racing is None:
        assert status["trials"]["succeeded"] == status["trials"]["total"] == total
    else:  # racing ran fewer: the clearly-behind stopped early, contenders went on
        assert status["trials"]["succeeded"] == status["trials"]["total"] < total
        assert status["racing"]["eliminated"] > 0 and status["racing"]["trialsSaved"] > 0
        total = status["trials"]["total"]
    assert status["best"]["config"]
    jobs = k8s_emulator.client.list(JOBS, sweep.namespace)["items"]
    assert len(jobs) == total
    container = jobs[0]["spec"]["template"]["spec"]["containers"][0]
    # What the user asked for reached the Job; a GPU unless the example says otherwise.
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["image"] == sweep.spec.trainer.image
    assert agent.max_running <= sweep.spec.parallelism


def _data_for_the_windows(client: storage.Client, sweep: Any) -> None:
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
    """A fresh results folder: examples share names, and a CSV left over would be resumed."""
    bucket_name, _, prefix = results.removeprefix("gs://").partition("/")
    bucket = client.bucket(bucket_name)
    if not bucket.exists():
        client.create_bucket(bucket_name)
    folder = f"{prefix.strip('/')}/{namespace}/{name}/".lstrip("/")
    for blob in list(client.list_blobs(bucket_name, prefix=folder)):
        blob.delete()
