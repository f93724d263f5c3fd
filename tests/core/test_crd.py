"""The CRD is generated from the same schema as validation, and never goes stale."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tuningsweep.core.kube.crd import build_crd, render_crd
from tuningsweep.core.spec.manifest import load_sweeps

ROOT = Path(__file__).resolve().parents[2]


def test_committed_crd_is_current() -> None:
    committed = (ROOT / "crds" / "tuningsweep.yaml").read_text()
    assert committed == render_crd(), "crds/tuningsweep.yaml is stale: run `make crds`"


def _walk(node: dict[str, Any], path: str = "") -> list[str]:
    """Paths of schema nodes that break Kubernetes' structural-schema rules."""
    problems = []
    if "type" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        problems.append(path or "<root>")
    if "$ref" in node:
        problems.append(f"{path}: $ref")
    # Logical junctors are value validations in a structural schema: they may only
    # constrain (required, ...), never declare types or properties. The API server
    # checks the whole CRD when tests/kube installs it; this is the quick check.
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in node.get(key, []):
            if set(branch) - {"required"}:
                problems.append(f"{path}: {key} declares {sorted(set(branch) - {'required'})}")
    for name, sub in node.get("properties", {}).items():
        problems += _walk(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        problems += _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        problems += _walk(node["additionalProperties"], f"{path}.*")
    return problems


def schema() -> dict[str, Any]:
    return build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]


def test_schema_is_structural() -> None:
    assert _walk(schema()) == []


def test_crd_shape_for_kubectl_users() -> None:
    crd = build_crd()
    version = crd["spec"]["versions"][0]
    assert crd["spec"]["names"]["shortNames"][0] == "sweep"
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns[:4] == ["Phase", "Progress", "Queued", "Best"] and "Age" in columns
    spec = schema()["properties"]["spec"]["properties"]
    immutable = {k for k, v in spec.items()
                 if any(r["rule"] == "self == oldSelf" for r in v.get("x-kubernetes-validations", []))}
    assert {"parallelism", "suspend", "maxFailedTrials"}.isdisjoint(immutable)
    assert {"architecture", "search", "parameters", "windows", "objective"} <= immutable


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_examples_match_the_crd_schema_and_validate(example: Path) -> None:
    for doc in yaml.safe_load_all(example.read_text()):
        if doc.get("kind") != "TuningSweep":
            continue
        jsonschema.validate(_json_ready(doc), schema())
    load_sweeps(example.read_text(), str(example))


def test_crd_rejects_what_validation_rejects() -> None:
    bad = {"apiVersion": "tuningsweep.io/v1alpha1", "kind": "TuningSweep",
           "metadata": {"name": "x"}, "spec": {"architecture": "mlp", "parallelism": 0}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema())


def _rules(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, str]]]:
    found = [(path, r) for r in node.get("x-kubernetes-validations", [])]
    for name, sub in node.get("properties", {}).items():
        found += _rules(sub, f"{path}.{name}")
    for key, suffix in (("items", "[]"), ("additionalProperties", ".*")):
        if isinstance(node.get(key), dict):
            found += _rules(node[key], path + suffix)
    return found


def test_every_rule_says_what_to_do_and_where() -> None:
    # Each CEL rule is a twin of a check of the spec model, with the same fix; a rule over
    # several fields reports at the one to change (tests/kube/test_schema.py checks both
    # refuse the same manifests on a real API server).
    rules = _rules(schema())
    assert len(rules) >= 20
    for path, rule in rules:
        if rule["rule"] == "self == oldSelf":
            continue
        assert ":" in rule["message"] or "give" in rule["message"], (path, rule)
        assert not rule.get("fieldPath") or rule["fieldPath"].startswith("."), (path, rule)


def test_the_pod_fields_are_declared_not_passed_through() -> None:
    trainer = schema()["properties"]["spec"]["properties"]["trainer"]["properties"]
    toleration = trainer["tolerations"]["items"]
    assert not toleration.get("x-kubernetes-preserve-unknown-fields")
    assert toleration["properties"]["operator"]["enum"] == ["Exists", "Equal"]
    assert set(trainer["volumes"]["items"]["properties"]) >= {"name", "persistentVolumeClaim",
                                                              "configMap", "secret", "csi"}
    assert trainer["volumeMounts"]["items"]["required"] == ["name", "mountPath"]
    assert set(trainer["resources"]["properties"]) == {"limits", "requests", "claims"}
    # A quantity stays open (2, 0.5 and "16Gi" are all quantities): the operator checks it.
    limits = trainer["resources"]["properties"]["limits"]["additionalProperties"]
    assert limits.get("x-kubernetes-preserve-unknown-fields") is True
    assert trainer["resources"]["default"] == {"limits": {"nvidia.com/gpu": 1}}
    assert trainer["automountServiceAccountToken"]["type"] == "boolean"
    assert "default" not in trainer["automountServiceAccountToken"]


def test_enumerated_strings_carry_the_length_their_enum_implies() -> None:
    spec = schema()["properties"]["spec"]["properties"]
    assert spec["mode"]["maxLength"] == len("full")
    assert spec["parameters"]["additionalProperties"]["properties"]["scale"]["maxLength"] == 6
