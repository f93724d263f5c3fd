"""The TuningSweep CustomResourceDefinition, generated from the API schema.

``make crds`` writes this to ``crds/tuningsweep.yaml`` and a test fails when the committed
file differs, so the CRD can never drift from the validation the CLI applies. Printer
columns show what ``kubectl get sweeps`` users want at a glance: phase, progress
(``done/total``), trials waiting in a Kueue queue, the best configuration with its
objective, and age.
"""

from __future__ import annotations

from typing import Any

import yaml

from ..spec import api
from ..spec.schema import rule_openapi, to_openapi

_STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Observed state, written by the operator. Small whatever the number of "
                   "trials: counters, the best configuration, pinned windows, conditions.",
    "x-kubernetes-preserve-unknown-fields": True,
    "properties": {
        "phase": {"type": "string",
                  "enum": ["Pending", "Running", "Succeeded", "Failed", "Suspended"]},
        "progress": {"type": "string", "description": "finished/total trials"},
        "windows": {
            "type": "array",
            "description": "the windows pinned at creation; never re-resolved",
            "items": {"type": "object", "properties": {
                "id": {"type": "string"},
                "start": {"type": "string", "format": "date"},
                "end": {"type": "string", "format": "date"}}},
        },
        "trials": {"type": "object", "properties": {
            k: {"type": "integer"} for k in ("total", "pending", "queued", "running",
                                             "succeeded", "failed", "stopped")
        }},
        "gpuHours": {"type": "number", "description": "GPU-hours used by finished and "
                     "running trials (spec.budget.gpuHours stops new trials)"},
        "racing": {"type": "object", "description": "configurations still racing and the "
                   "trials racing saved", "properties": {
                       k: {"type": "integer"} for k in ("configs", "alive", "eliminated",
                                                        "trialsSaved")}},
        "best": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                 "properties": {"config": {"type": "string"},
                                "objective": {"type": "number"},
                                "windowsWon": {"type": "integer"},
                                "display": {"type": "string"}}},
        "resultsURI": {"type": "string"},
        "observedGeneration": {"type": "integer"},
        "conditions": {"type": "array", "items": {
            "type": "object", "x-kubernetes-preserve-unknown-fields": True,
            "properties": {k: {"type": "string"} for k in
                           ("type", "status", "reason", "message", "lastTransitionTime")}}},
    },
}


def build_crd() -> dict[str, Any]:
    """Return the CRD as a plain object."""
    schema = {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            # Declared so that a rule may report at metadata.name (the API server allows
            # a schema for the name and nothing else of metadata).
            "metadata": {"type": "object", "properties": {"name": {"type": "string"}}},
            "spec": to_openapi(api.SPEC),
            "status": _STATUS_SCHEMA,
        },
        "x-kubernetes-validations": [rule_openapi(r) for r in api.MANIFEST_RULES],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{api.PLURAL}.{api.GROUP}"},
        "spec": {
            "group": api.GROUP,
            "names": {"kind": api.KIND, "plural": api.PLURAL, "singular": api.SINGULAR,
                      "shortNames": list(api.SHORT_NAMES), "categories": ["all", "ml"]},
            "scope": "Namespaced",
            "versions": [{
                "name": api.VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                    {"name": "Progress", "type": "string", "jsonPath": ".status.progress"},
                    {"name": "Queued", "type": "integer", "jsonPath": ".status.trials.queued",
                     "description": "trials whose Jobs wait in a Kueue queue"},
                    {"name": "Best", "type": "string", "jsonPath": ".status.best.display"},
                    {"name": "GPU-Hours", "type": "number", "jsonPath": ".status.gpuHours",
                     "description": "GPU-hours used by the sweep's trials"},
                    {"name": "Alive", "type": "integer", "priority": 1,
                     "jsonPath": ".status.racing.alive",
                     "description": "configurations racing has not eliminated"},
                    {"name": "Windows", "type": "integer", "priority": 1,
                     "jsonPath": ".status.best.windowsWon",
                     "description": "windows the best configuration won"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
                "schema": {"openAPIV3Schema": schema},
            }],
        },
    }


def render_crd() -> str:
    """Return the CRD as YAML text, as committed in ``crds/tuningsweep.yaml``."""
    header = ("# Generated by `make crds` from operator/tuningsweep/core/spec/api.py; do not edit.\n")
    return header + yaml.safe_dump(build_crd(), sort_keys=False, width=100)
