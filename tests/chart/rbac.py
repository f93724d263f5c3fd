"""Granted RBAC rules versus the API calls an operator made: what is missing, what is extra.

The chart's promise is least privilege: the operator's ServiceAccount may do exactly what
the operator does. A real API server would only show what is *missing* (as 403s), never
what is *extra*, so the comparison is done here, as a pure function, between

* the **grants**: the rules of the Roles and ClusterRoles that the rendered bindings give
  one ServiceAccount, expanded to one ``Grant`` per (group, resource, verb, scope), where the
  scope is a namespace for a RoleBinding and everywhere (``None``) for a ClusterRoleBinding;
* the **calls**: the API requests the operator made, as RBAC sees them (``Call``), taken
  from the API server's audit log (``calls_from_audit``): every request of the
  ServiceAccount's user, with its verb, resource, subresource and namespace.

A call is covered by a grant when group, resource (with subresource: ``tuningsweeps/status``
is not ``tuningsweeps``) and verb match, and the grant's scope is everywhere or the call's
namespace. A cluster-scoped request or one across all namespaces (``namespace is None``)
needs a cluster-wide grant, as on a real API server. Wildcards cover anything and are
always reported as extra: least privilege lists what it grants.

Rules with ``resourceNames`` or ``nonResourceURLs``, and aggregated ClusterRoles, are
rejected rather than half-supported (the chart uses none for the operator). Non-resource
requests (discovery, ``/version``) are left out of the calls: every authenticated user may
make them (the ``system:discovery`` ClusterRole).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.kube.client import AuditEvent

WILDCARD = "*"


@dataclass(frozen=True, order=True)
class Call:
    """One API request as RBAC authorizes it."""

    api_group: str
    resource: str  # plural, with "/subresource" when there is one
    verb: str  # get list watch create update patch delete deletecollection
    namespace: str | None  # None: a cluster-scoped resource, or all namespaces

    def __str__(self) -> str:
        where = f"namespace {self.namespace}" if self.namespace else "cluster-wide"
        return f"{self.verb} {_qualified(self.api_group, self.resource)} ({where})"


@dataclass(frozen=True, order=True)
class Grant:
    """One (group, resource, verb) a role allows, in one namespace or everywhere."""

    api_group: str
    resource: str
    verb: str
    namespace: str | None  # None: every namespace and the cluster scope
    source: str = field(default="", compare=False)  # "ClusterRole/x via ClusterRoleBinding/y"

    def covers(self, call: Call) -> bool:
        """Whether this grant authorizes ``call``."""
        return (self.api_group in (WILDCARD, call.api_group)
                and self.resource in (WILDCARD, call.resource)
                and self.verb in (WILDCARD, call.verb)
                and (self.namespace is None or self.namespace == call.namespace))

    @property
    def is_wildcard(self) -> bool:
        return WILDCARD in (self.api_group, self.resource, self.verb)

    def __str__(self) -> str:
        where = f"namespace {self.namespace}" if self.namespace else "cluster-wide"
        return f"{self.verb} {_qualified(self.api_group, self.resource)} ({where}) from {self.source}"


def _qualified(api_group: str, resource: str) -> str:
    return f"{resource}.{api_group}" if api_group else resource


def _binds(binding: Mapping[str, Any], service_account: str, namespace: str) -> bool:
    return any(s.get("kind") == "ServiceAccount" and s.get("name") == service_account
               and s.get("namespace", binding["metadata"].get("namespace")) == namespace
               for s in binding.get("subjects") or [])


def _expand(rules: Sequence[Mapping[str, Any]], scope: str | None, source: str) -> list[Grant]:
    grants = []
    for rule in rules:
        if rule.get("resourceNames") or rule.get("nonResourceURLs"):
            raise ValueError(f"{source}: rules with resourceNames or nonResourceURLs are not "
                             f"supported by this comparison: {dict(rule)}")
        grants += [Grant(group, resource, verb, scope, source)
                   for group in rule.get("apiGroups") or []
                   for resource in rule.get("resources") or []
                   for verb in rule.get("verbs") or []]
    return grants


def grants_for(manifests: Iterable[Mapping[str, Any]], service_account: str,
               namespace: str) -> list[Grant]:
    """Every grant the bindings among ``manifests`` give ``namespace/service_account``.

    Raises:
        ValueError: a binding refers to a role that is not among the manifests, or a bound
            role uses a feature this comparison does not model (see the module docstring).
    """
    docs = [d for d in manifests if d]
    roles = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d
             for d in docs if d.get("kind") in ("Role", "ClusterRole")}
    grants: list[Grant] = []
    for binding in docs:
        kind = binding.get("kind")
        if kind not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if not _binds(binding, service_account, namespace):
            continue
        ref = binding["roleRef"]
        scope = binding["metadata"].get("namespace") if kind == "RoleBinding" else None
        role_ns = scope if ref["kind"] == "Role" else None
        role = roles.get((ref["kind"], role_ns, ref["name"]))
        source = f"{ref['kind']}/{ref['name']} via {kind}/{binding['metadata']['name']}"
        if role is None:
            raise ValueError(f"{source}: the role is not among the manifests")
        if role.get("aggregationRule"):
            raise ValueError(f"{source}: aggregated ClusterRoles are not supported here")
        grants += _expand(role.get("rules") or [], scope, source)
    return sorted(set(grants))


def compare(grants: Iterable[Grant], calls: Iterable[Call]) -> tuple[list[Call], list[Grant]]:
    """Return ``(missing, extra)``: calls no grant covers, and grants no call used.

    Each distinct call and grant is listed once, sorted. Wildcard grants are always extra.
    """
    grants = sorted(set(grants))
    calls = sorted(set(calls), key=_call_order)
    missing = [c for c in calls if not any(g.covers(c) for g in grants)]
    extra = [g for g in grants if g.is_wildcard or not any(g.covers(c) for c in calls)]
    return missing, extra


def calls_from_audit(events: Iterable[AuditEvent]) -> list[Call]:
    """The distinct resource requests among API server audit events, as ``Call`` values.

    The caller selects the identity's events (:func:`tests.kube.client.audit_events` with
    ``user=``); non-resource requests (discovery, ``/version``) are left out.
    """
    # The same request may be made across all namespaces (None) and in one (kopf lists
    # sweeps everywhere, a recurring sweep its runs in its namespace): None sorts first.
    return sorted({Call(e.group, e.resource, e.verb, e.namespace or None)
                   for e in events if e.resource}, key=_call_order)


def _call_order(call: Call) -> tuple[str, str, str, str]:
    return (call.api_group, call.resource, call.verb, call.namespace or "")


def describe(missing: Sequence[Call], extra: Sequence[Grant]) -> str:
    """A message listing the differences, for assertion failures."""
    lines = []
    if missing:
        lines.append("called but not granted (the operator would get 403):")
        lines += [f"  - {call}" for call in missing]
    if extra:
        lines.append("granted but never called (least privilege: remove them):")
        lines += [f"  - {grant}" for grant in extra]
    return "\n".join(lines) or "granted rules match the calls"
