"""The TuningSweep custom resource as the operator reads it: typed, not ``dict[str, Any]``.

kopf hands handlers the object as a mapping; the operator reads only a few fields of it
(identity, generation, creation time, the spec it validates itself, the status it wrote).
These TypedDicts name those fields and their types, so mypy checks every read of the
body (``body["metadata"].get("generation")``) as it checks any other code. The spec
stays a plain mapping here: :func:`tuningsweep.core.spec.parse.parse_spec` validates it
and returns the typed :class:`~tuningsweep.core.spec.model.Spec`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict, cast


class OwnerReference(TypedDict, total=False):
    """``metadata.ownerReferences[]``: a recurring sweep owns its runs."""

    apiVersion: str
    kind: str
    name: str
    uid: str
    controller: bool
    blockOwnerDeletion: bool


class ObjectMeta(TypedDict, total=False):
    """The ``metadata`` fields the operator reads or writes."""

    name: str
    namespace: str
    uid: str
    generation: int
    resourceVersion: str
    creationTimestamp: str
    labels: dict[str, str]
    annotations: dict[str, str]
    ownerReferences: list[OwnerReference]


class WindowStatus(TypedDict):
    """``status.windows[]``: a window pinned when the sweep started."""

    id: str
    start: str
    end: str


class Condition(TypedDict, total=False):
    """``status.conditions[]``, as Kubernetes conditions are."""

    type: str
    status: str
    reason: str
    message: str
    lastTransitionTime: str


class SweepStatus(TypedDict, total=False):
    """The status fields the operator reads back (it writes many more)."""

    phase: str
    windows: list[WindowStatus]
    conditions: list[Condition]
    resultsURI: str
    recurring: dict[str, Any]


class SweepBody(TypedDict, total=False):
    """A TuningSweep object."""

    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: dict[str, Any]
    status: SweepStatus


def sweep_body(obj: Mapping[str, Any]) -> SweepBody:
    """The object kopf (or the API) gave, as a :class:`SweepBody`: a shallow copy whose
    sections are mappings (a missing or null section becomes empty)."""
    return cast(SweepBody, {
        **obj,
        "metadata": dict(obj.get("metadata") or {}),
        "spec": dict(obj.get("spec") or {}),
        "status": dict(obj.get("status") or {}),
    })
