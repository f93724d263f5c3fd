"""Trial pods are locked down, checked by a real API server rather than by reading manifests.

Every namespace enforces Pod Security ``restricted`` (as a locked-down cluster does), so
a trial pod the operator renders is either admitted or never exists: the Job controller
records a ``FailedCreate`` Event on the Job and the sweep would wait for ever. The API
server also audits each Job the operator creates against ``restricted`` and annotates its
audit event with any violation, which a Job (unlike a pod) does not get refused for. And
the ServiceAccount admission plugin mounts an API token into every pod that does not say
otherwise: trial pods say otherwise unless the sweep asks for a token.

Each check has its control beside it (a pod template without the hardening, created by
the administrator), so a check that could no longer see a violation fails instead of
passing quietly.
"""

from __future__ import annotations

import sys
from typing import Any

from tests.kube.client import AuditEvent, KubeClient, wait_until
from tests.kube.conftest import Kube
from tests.kube.sweeps import EVENTS, JOBS, PODS, SWEEPS, sweep_manifest, wait_phase
from tests.operator.operator_process import OperatorProcess

AUDIT_VIOLATIONS = "pod-security.kubernetes.io/audit-violations"
SERVICE_ACCOUNTS = "v1/serviceaccounts"
# The ServiceAccount admission plugin's volume: kube-api-access-<random>.
TOKEN_VOLUME_PREFIX = "kube-api-access-"


def failed_creates(client: KubeClient, namespace: str) -> list[str]:
    """Messages of the Job controller's FailedCreate Events in ``namespace``."""
    return [f"{e['involvedObject'].get('name')}: {e.get('message')}"
            for e in client.items(EVENTS, namespace)
            if e.get("reason") == "FailedCreate" and e["involvedObject"].get("kind") == "Job"]


def token_volumes(pod: dict[str, Any]) -> list[str]:
    """The pod's projected service-account token volumes."""
    return [v["name"] for v in pod["spec"].get("volumes") or []
            if v["name"].startswith(TOKEN_VOLUME_PREFIX) and "projected" in v]


def token_mounts(pod: dict[str, Any]) -> list[str]:
    return [m["mountPath"] for c in pod["spec"]["containers"] for m in c.get("volumeMounts") or []
            if m["name"].startswith(TOKEN_VOLUME_PREFIX)]


def pods_of(client: KubeClient, namespace: str, sweep: str) -> list[dict[str, Any]]:
    return client.items(PODS, namespace, label_selector=f"tuningsweep.io/sweep={sweep}")


def job_creations(events: list[AuditEvent]) -> list[AuditEvent]:
    return [e for e in events if e.resource == "jobs" and e.verb == "create" and e.code < 300]


def test_trial_pods_get_an_api_token_only_when_the_sweep_asks_and_pass_pod_security(
    kube: Kube, kube_operator: OperatorProcess, gcs_bucket: str,
) -> None:
    ns = kube.namespace
    client = kube.client
    # The ServiceAccount admission plugin refuses pods (FailedCreate) until the
    # namespace's default ServiceAccount exists, which its controller creates shortly
    # after the namespace: wait, so that every FailedCreate below is the pod's own fault.
    wait_until(lambda: client.get_or_none(SERVICE_ACCOUNTS, "default", ns), 30,
               what="the namespace's default ServiceAccount")
    client.create(SERVICE_ACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                     "metadata": {"name": "trainer"}}, ns)
    kube_operator.start()
    client.create(SWEEPS, sweep_manifest("no-token", ns, gcs_bucket, configs=1, windows=1))
    asking = sweep_manifest("token", ns, gcs_bucket, configs=1, windows=1)
    asking["spec"]["trainer"].update(serviceAccountName="trainer",
                                     automountServiceAccountToken=True)
    client.create(SWEEPS, asking)
    for name in ("no-token", "token"):
        wait_phase(client, ns, name, "Succeeded", operator=kube_operator)

    (plain,) = pods_of(client, ns, "no-token")
    assert plain["spec"]["automountServiceAccountToken"] is False
    assert plain["spec"]["serviceAccountName"] == "default"
    assert token_volumes(plain) == [] and token_mounts(plain) == []
    (token,) = pods_of(client, ns, "token")
    assert token["spec"]["serviceAccountName"] == "trainer"
    assert len(token_volumes(token)) == 1
    assert token_mounts(token) == ["/var/run/secrets/kubernetes.io/serviceaccount"]
    # The pods were admitted under Pod Security restricted at the first try ...
    assert failed_creates(client, ns) == []
    # ... and the API server's audit of the Jobs' pod templates found nothing either.
    created = job_creations(kube.audit())
    assert len(created) == 2, created
    assert [e.annotations[AUDIT_VIOLATIONS] for e in created if AUDIT_VIOLATIONS in e.annotations] == []


def test_a_pod_template_restricted_refuses_is_seen_by_both_checks(kube: Kube) -> None:
    """The control: a Job whose pod lacks the hardening is audited and its pod refused."""
    ns = kube.namespace
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "unhardened"},
           "spec": {"backoffLimit": 0, "template": {"spec": {
               "restartPolicy": "Never",
               "containers": [{"name": "main", "image": "local/test:1",
                               "command": [sys.executable, "-c", "pass"]}]}}}}
    kube.client.create(JOBS, job, ns)
    refused = wait_until(lambda: failed_creates(kube.client, ns), 60,
                         what="the Job controller's FailedCreate Event")
    assert "violates PodSecurity" in refused[0] and "restricted" in refused[0]

    def audited() -> list[str]:
        return [e.annotations.get(AUDIT_VIOLATIONS, "")
                for e in job_creations(kube.audit(user="admin")) if e.name == "unhardened"]
    (violations,) = wait_until(audited, 10, what="the Job's audit event")
    assert "runAsNonRoot" in violations and "allowPrivilegeEscalation" in violations
