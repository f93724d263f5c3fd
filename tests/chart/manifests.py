"""Validating rendered manifests: built-in kinds by Kubernetes' schemas, the rest by ours.

Built-in kinds go through ``kubernetes-validate`` in strict mode (unknown fields are
errors) for each Kubernetes version the chart supports. It has no schemas for custom
resources, so the few the chart renders (ServiceMonitor, kopf's peering objects) are
checked against the minimal schemas below: only the fields the chart writes, each typed,
and no others, so a misspelt field fails here rather than being dropped by the server.
A kind that is in neither set fails: nothing rendered goes unchecked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema
import kubernetes_validate

KUBERNETES_VERSIONS = ("1.29.0", "1.33.0")

_STRING_MAP: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}
_METADATA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["name"],
    "properties": {"name": {"type": "string", "pattern": "^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$",
                            "maxLength": 253},
                   "namespace": {"type": "string"},
                   "labels": _STRING_MAP, "annotations": _STRING_MAP},
}


def _kind(api_version: str, kind: str, spec: dict[str, Any] | None) -> dict[str, Any]:
    properties: dict[str, Any] = {"apiVersion": {"const": api_version}, "kind": {"const": kind},
                                  "metadata": _METADATA}
    if spec is not None:
        properties["spec"] = spec
    return {"type": "object", "additionalProperties": False,
            "required": ["apiVersion", "kind", "metadata", *(["spec"] if spec else [])],
            "properties": properties}


_DURATION: dict[str, Any] = {"type": "string", "pattern": "^([0-9]+(ms|s|m|h))+$"}
SERVICE_MONITOR = _kind("monitoring.coreos.com/v1", "ServiceMonitor", {
    "type": "object", "additionalProperties": False, "required": ["selector", "endpoints"],
    "properties": {
        "selector": {"type": "object", "additionalProperties": False,
                     "required": ["matchLabels"], "properties": {"matchLabels": _STRING_MAP}},
        "namespaceSelector": {"type": "object", "additionalProperties": False,
                              "properties": {"matchNames": {"type": "array",
                                                            "items": {"type": "string"}}}},
        "endpoints": {"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": False, "required": ["port"],
            "properties": {"port": {"type": "string"}, "path": {"type": "string"},
                           "interval": _DURATION, "scrapeTimeout": _DURATION,
                           "honorLabels": {"type": "boolean"}}}},
    },
})

CUSTOM_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR,
    ("kopf.dev/v1", "KopfPeering"): _kind("kopf.dev/v1", "KopfPeering", None),
    ("kopf.dev/v1", "ClusterKopfPeering"): _kind("kopf.dev/v1", "ClusterKopfPeering", None),
}


def validate_manifest(manifest: Mapping[str, Any]) -> list[str]:
    """Problems of one rendered manifest (empty when valid), for every supported version."""
    key = (str(manifest.get("apiVersion")), str(manifest.get("kind")))
    where = f"{key[1]}/{(manifest.get('metadata') or {}).get('name')}"
    if key in CUSTOM_SCHEMAS:
        validator = jsonschema.Draft202012Validator(CUSTOM_SCHEMAS[key])
        return [f"{where}: {'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                for e in validator.iter_errors(manifest)]
    problems = []
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(dict(manifest), version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{where}: no Kubernetes {version} schema for {key}: add a "
                            "minimal schema to tests/chart/manifests.py if it is a custom kind")
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{where}: Kubernetes {version}: {exc}")
    return problems
