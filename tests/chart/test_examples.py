"""The examples in subfolders (tests/core/test_crd.py covers examples/*.yaml): the GitOps
setup's sweeps, as kustomize renders them, match the CRD schema and pass validation; its
kustomization lists every sweep in the folder; the Argo CD Application syncs that folder.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.chart.manifests import validate_manifest
from tests.chart.render import REPO_ROOT, helm_binary
from tests.core.test_crd import _json_ready  # YAML dates as JSON strings
from tuningsweep.core.kube.crd import build_crd
from tuningsweep.core.spec.manifest import load_sweeps

EXAMPLES = REPO_ROOT / "examples"
GITOPS = EXAMPLES / "gitops"
SWEEPS = GITOPS / "sweeps"
CRD_SCHEMA: dict[str, Any] = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]

ARGO_APPLICATION = {
    "type": "object", "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "argoproj.io/v1alpha1"}, "kind": {"const": "Application"},
        "metadata": {"type": "object", "required": ["name", "namespace"]},
        "spec": {"type": "object", "additionalProperties": False,
                 "required": ["project", "source", "destination"],
                 "properties": {
                     "project": {"type": "string"},
                     "source": {"type": "object", "additionalProperties": False,
                                "required": ["repoURL", "path", "targetRevision"],
                                "properties": {k: {"type": "string"}
                                               for k in ("repoURL", "path", "targetRevision")}},
                     "destination": {"type": "object", "additionalProperties": False,
                                     "properties": {"server": {"type": "string"},
                                                    "namespace": {"type": "string"}}},
                     "syncPolicy": {"type": "object", "additionalProperties": False,
                                    "properties": {
                                        "automated": {"type": "object",
                                                      "additionalProperties": False,
                                                      "properties": {
                                                          "prune": {"type": "boolean"},
                                                          "selfHeal": {"type": "boolean"}}},
                                        "syncOptions": {"type": "array",
                                                        "items": {"type": "string",
                                                                  "pattern": "^[A-Za-z]+=.+$"}}}},
                 }},
    },
}


def _kustomize(folder: Path) -> list[dict[str, Any]]:
    kubectl = helm_binary().parent / "kubectl"
    result = subprocess.run([str(kubectl), "kustomize", str(folder)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def _sweep_files() -> list[Path]:
    return sorted(p for p in EXAMPLES.rglob("*.yaml") if p.parent != EXAMPLES
                  and (yaml.safe_load(p.read_text()) or {}).get("kind") == "TuningSweep")


def test_subfolder_examples_exist() -> None:
    assert [p.relative_to(EXAMPLES).as_posix() for p in _sweep_files()] == [
        "gitops/sweeps/ctr-lstm-auto.yaml", "gitops/sweeps/ctr-mlp-rolling.yaml",
        "own-data/sweep.yaml", "own-trainer/sweep-warm.yaml", "own-trainer/sweep.yaml"]


@pytest.mark.parametrize("path", _sweep_files(), ids=lambda p: p.relative_to(EXAMPLES).as_posix())
def test_sweep_matches_the_crd_schema_and_passes_tuningsweep_validate(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        jsonschema.validate(_json_ready(doc), CRD_SCHEMA)
    load_sweeps(path.read_text(), str(path))
    result = subprocess.run([sys.executable, "-m", "tuningsweep.cli", "validate", str(path)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: ")


def test_kustomization_syncs_every_sweep_into_one_namespace() -> None:
    kustomization = yaml.safe_load((SWEEPS / "kustomization.yaml").read_text())
    listed = sorted(kustomization["resources"])
    present = sorted(p.name for p in SWEEPS.glob("*.yaml") if p.name != "kustomization.yaml")
    assert listed == present, "kustomization.yaml must list every sweep in its folder"
    docs = _kustomize(SWEEPS)
    assert sorted(d["metadata"]["name"] for d in docs) == sorted(
        yaml.safe_load(p.read_text())["metadata"]["name"] for p in SWEEPS.glob("ctr-*.yaml"))
    for doc in docs:
        assert doc["kind"] == "TuningSweep"
        assert doc["metadata"]["namespace"] == kustomization["namespace"]
        jsonschema.validate(_json_ready(doc), CRD_SCHEMA)
        load_sweeps(yaml.safe_dump(doc), "kustomize output")


def test_argo_cd_application_syncs_the_sweeps_folder() -> None:
    application = yaml.safe_load((GITOPS / "application.yaml").read_text())
    jsonschema.validate(application, ARGO_APPLICATION)
    assert REPO_ROOT / application["spec"]["source"]["path"] == SWEEPS
    kustomization = yaml.safe_load((SWEEPS / "kustomization.yaml").read_text())
    assert application["spec"]["destination"]["namespace"] == kustomization["namespace"]


def test_gpu_example_requests_a_gpu_on_a_gpu_pool() -> None:
    (sweep,) = load_sweeps((EXAMPLES / "gpu.yaml").read_text(), "gpu.yaml")
    doc = yaml.safe_load((EXAMPLES / "gpu.yaml").read_text())
    trainer = doc["spec"]["trainer"]
    assert trainer["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert trainer["nodeSelector"] and trainer["tolerations"] and trainer["serviceAccountName"]
    assert doc["spec"]["output"]["results"].startswith("gs://")
    assert sweep.spec.parallelism == 4


def _all_sweep_files() -> list[Path]:
    return sorted(p for p in EXAMPLES.rglob("*.yaml")
                  if (yaml.safe_load(p.read_text()) or {}).get("kind") == "TuningSweep")


@pytest.mark.parametrize("path", _all_sweep_files(),
                         ids=lambda p: p.relative_to(EXAMPLES).as_posix())
def test_example_jobs_are_valid_kubernetes_jobs(path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "tuningsweep.cli", "render", str(path)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    jobs = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert jobs and all(j["kind"] == "Job" for j in jobs)
    # Strict: an unknown field is an error, as the API server's strict field validation.
    problems = [p for job in jobs[:2] for p in validate_manifest(job)]
    assert not problems, problems
