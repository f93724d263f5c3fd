"""The RBAC comparison itself (tests/chart/rbac.py), on small hand-written manifests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.rbac import Call, Grant, calls_from_audit, compare, describe, grants_for
from tests.kube.client import AuditEvent

SA, NS = "op", "ops"


def role(kind: str, name: str, rules: list[dict[str, Any]], namespace: str | None = None,
         **extra: Any) -> dict[str, Any]:
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"kind": kind, "metadata": metadata, "rules": rules, **extra}


def binding(kind: str, name: str, role_kind: str, role_name: str,
            namespace: str | None = None, sa: str = SA, sa_ns: str = NS) -> dict[str, Any]:
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"kind": kind, "metadata": metadata,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind,
                        "name": role_name},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": sa_ns}]}


JOBS = {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["list", "create"]}
STATUS = {"apiGroups": ["x.io"], "resources": ["things/status"], "verbs": ["patch"]}


def test_cluster_role_binding_grants_everywhere() -> None:
    grants = grants_for([role("ClusterRole", "c", [JOBS]),
                         binding("ClusterRoleBinding", "b", "ClusterRole", "c")], SA, NS)
    assert grants == [Grant("batch", "jobs", "create", None), Grant("batch", "jobs", "list", None)]
    assert grants[0].source == "ClusterRole/c via ClusterRoleBinding/b"
    assert grants[0].covers(Call("batch", "jobs", "create", "any"))
    assert grants[0].covers(Call("batch", "jobs", "create", None))


def test_role_binding_grants_only_in_its_namespace() -> None:
    manifests = [role("Role", "r", [JOBS], "ml"), binding("RoleBinding", "b", "Role", "r", "ml"),
                 role("ClusterRole", "c", [STATUS]),
                 binding("RoleBinding", "b2", "ClusterRole", "c", "team")]
    grants = grants_for(manifests, SA, NS)
    assert {g.namespace for g in grants} == {"ml", "team"}
    (create,) = [g for g in grants if g.verb == "create"]
    assert create.covers(Call("batch", "jobs", "create", "ml"))
    assert not create.covers(Call("batch", "jobs", "create", "team"))
    assert not create.covers(Call("batch", "jobs", "create", None)), \
        "a Role never covers a request across all namespaces"


def test_bindings_of_other_subjects_are_ignored() -> None:
    manifests = [role("ClusterRole", "c", [JOBS]),
                 binding("ClusterRoleBinding", "b", "ClusterRole", "c", sa="someone-else"),
                 binding("ClusterRoleBinding", "b2", "ClusterRole", "c", sa_ns="elsewhere"),
                 role("ClusterRole", "unbound", [STATUS])]
    assert grants_for(manifests, SA, NS) == []


def test_subresources_are_separate_resources() -> None:
    grants = grants_for([role("ClusterRole", "c", [STATUS]),
                         binding("ClusterRoleBinding", "b", "ClusterRole", "c")], SA, NS)
    assert grants[0].covers(Call("x.io", "things/status", "patch", "ml"))
    assert not grants[0].covers(Call("x.io", "things", "patch", "ml"))


def test_compare_reports_missing_calls_and_unused_grants() -> None:
    grants = [Grant("batch", "jobs", "create", None), Grant("batch", "jobs", "delete", None)]
    calls = [Call("batch", "jobs", "create", "ml"), Call("", "events", "create", "ml"),
             Call("batch", "jobs", "create", "ml")]
    missing, extra = compare(grants, calls)
    assert missing == [Call("", "events", "create", "ml")]
    assert extra == [Grant("batch", "jobs", "delete", None)]
    message = describe(missing, extra)
    assert "create events (namespace ml)" in message and "delete jobs.batch" in message


def test_compare_is_silent_when_rules_match() -> None:
    grants = [Grant("batch", "jobs", "list", None)]
    assert compare(grants, [Call("batch", "jobs", "list", None)]) == ([], [])
    assert describe([], []) == "granted rules match the calls"


def test_wildcards_cover_but_are_always_extra() -> None:
    grants = [Grant("*", "*", "*", None)]
    missing, extra = compare(grants, [Call("batch", "jobs", "list", None)])
    assert missing == [] and extra == grants


@pytest.mark.parametrize("rule", [
    {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["x"], "verbs": ["get"]},
    {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
])
def test_unsupported_rules_are_rejected(rule: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not supported"):
        grants_for([role("ClusterRole", "c", [rule]),
                    binding("ClusterRoleBinding", "b", "ClusterRole", "c")], SA, NS)


def test_missing_and_aggregated_roles_are_rejected() -> None:
    with pytest.raises(ValueError, match="not among the manifests"):
        grants_for([binding("ClusterRoleBinding", "b", "ClusterRole", "c")], SA, NS)
    aggregated = role("ClusterRole", "c", [], aggregationRule={"clusterRoleSelectors": []})
    with pytest.raises(ValueError, match="aggregated"):
        grants_for([aggregated, binding("ClusterRoleBinding", "b", "ClusterRole", "c")], SA, NS)


def test_calls_from_audit_keeps_distinct_resource_requests() -> None:
    def event(verb: str, group: str, resource: str, namespace: str = "") -> AuditEvent:
        return AuditEvent(user="system:serviceaccount:ops:op", verb=verb, resource=resource,
                          group=group, namespace=namespace, name="", code=200,
                          annotations={}, stage_ts="")
    events = [
        event("list", "batch", "jobs"),
        event("list", "batch", "jobs"),  # the same call again
        event("patch", "x.io", "things/status", "ml"),
        event("get", "", ""),  # discovery: no resource
    ]
    assert calls_from_audit(events) == [
        Call("batch", "jobs", "list", None), Call("x.io", "things/status", "patch", "ml")]
