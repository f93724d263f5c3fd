"""The local cluster itself: real admission, RBAC and Job controller; the stand-in nodes.

These pin down what the operator's tests rely on: a GPU Job is scheduled onto a tainted
GPU node by the real scheduler (the toleration comes from ExtendedResourceToleration, as
on GKE), run by the node stand-in and completed by the real Job controller; a pod that
Pod Security ``restricted`` refuses never runs; the operator's identity can do what the
chart grants and nothing else.
"""

from __future__ import annotations

import ssl
import sys
from typing import Any

import pytest
import yaml

from tests.kube.client import ApiError, KubeClient, wait_until
from tests.kube.conftest import OPERATOR_USER, Kube

RESTRICTED_POD: dict[str, Any] = {
    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000,
                        "seccompProfile": {"type": "RuntimeDefault"}},
}
RESTRICTED_CONTAINER: dict[str, Any] = {
    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
}


def job(name: str, command: list[str], *, gpus: int = 1, **spec: Any) -> dict[str, Any]:
    container = {"name": "main", "image": "local/test:1", "command": command,
                 "resources": {"limits": {"nvidia.com/gpu": str(gpus)}} if gpus else {},
                 **RESTRICTED_CONTAINER}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"backoffLimit": 0, **spec, "template": {"spec": {
                "restartPolicy": "Never", **RESTRICTED_POD, "containers": [container]}}}}


def job_condition(client: KubeClient, namespace: str, name: str) -> str | None:
    status = client.get("batch/v1/jobs", name, namespace).get("status") or {}
    for condition in status.get("conditions") or []:
        if condition["type"] in ("Complete", "Failed") and condition["status"] == "True":
            return str(condition["type"])
    return None


def test_nodes_look_like_a_gke_gpu_pool(kube: Kube) -> None:
    nodes = {n["metadata"]["name"]: n for n in kube.client.items("v1/nodes")}
    assert set(nodes) >= {"gpu-1", "gpu-2", "spot-1", "cpu-1"}
    gpu = nodes["gpu-1"]
    assert gpu["status"]["allocatable"]["nvidia.com/gpu"] == "4"
    assert gpu["metadata"]["labels"]["cloud.google.com/gke-accelerator"]
    assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"} in gpu["spec"]["taints"]
    assert "nvidia.com/gpu" not in nodes["cpu-1"]["status"]["allocatable"]
    spot = nodes["spot-1"]
    assert spot["metadata"]["labels"]["cloud.google.com/gke-spot"] == "true"
    assert {"key": "cloud.google.com/gke-spot", "value": "true",
            "effect": "NoSchedule"} in spot["spec"]["taints"]


def test_gpu_job_is_scheduled_run_and_completed(kube: Kube) -> None:
    ns = kube.namespace
    kube.client.create("batch/v1/jobs", job("ok", [sys.executable, "-c", "print('hi')"]), ns)
    kube.client.create("batch/v1/jobs", job("bad", [sys.executable, "-c",
                                                    "import sys; sys.exit(3)"]), ns)
    wait_until(lambda: job_condition(kube.client, ns, "ok") == "Complete", 60, what="ok")
    wait_until(lambda: job_condition(kube.client, ns, "bad") == "Failed", 60, what="bad")
    (pod,) = kube.client.items("v1/pods", ns, label_selector="batch.kubernetes.io/job-name=ok")
    assert pod["spec"]["nodeName"].startswith("gpu-")
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["spec"]["tolerations"]
    (bad,) = kube.client.items("v1/pods", ns, label_selector="batch.kubernetes.io/job-name=bad")
    terminated = bad["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 3 and terminated["reason"] == "Error"


def test_pod_security_restricted_is_enforced(kube: Kube) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "root"},
           "spec": {"containers": [{"name": "c", "image": "local/test:1",
                                    "command": ["true"]}]}}
    with pytest.raises(ApiError) as refused:
        kube.client.create("v1/pods", pod, kube.namespace)
    assert refused.value.status == 403
    assert "restricted" in str(refused.value)


def test_the_operator_identity_has_only_the_charts_permissions(kube: Kube) -> None:
    token = yaml.safe_load(kube.operator_kubeconfig.read_text())["users"][0]["user"]["token"]
    context = ssl.create_default_context(cafile=str(kube.cluster.pki.ca.cert))
    operator = KubeClient(kube.cluster.server, context, token=token)

    def can(verb: str, resource: str, namespace: str = kube.namespace) -> bool:
        group, _, res = resource.rpartition("/")
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                  "spec": {"user": OPERATOR_USER,
                           "groups": ["system:serviceaccounts", "system:authenticated"],
                           "resourceAttributes": {"verb": verb, "resource": res,
                                                  "group": group, "namespace": namespace}}}
        answer = kube.client.create("authorization.k8s.io/v1/subjectaccessreviews", review)
        return bool(answer["status"].get("allowed"))

    assert token
    assert can("create", "batch/jobs") and can("watch", "tuningsweep.io/tuningsweeps")
    assert not can("get", "/secrets") and not can("create", "/pods")
    # And the token really is that identity: the API server refuses it what RBAC refuses.
    status, _, _ = operator.request("GET", f"/api/v1/namespaces/{kube.namespace}/secrets")
    assert status == 403
    status, _, _ = operator.request("GET", f"/apis/batch/v1/namespaces/{kube.namespace}/jobs")
    assert status == 200
