"""Fixtures for tests on the real control plane (``cluster/``): one cluster per session.

* ``kube_cluster`` (session, in tests/conftest.py since the chart tests use it too): a
  :class:`cluster.up.LocalCluster` in a temporary folder: etcd, kube-apiserver,
  kube-controller-manager, kube-scheduler, Kueue and four stand-in nodes (``gpu-1`` and
  ``gpu-2`` with 4 L4 GPUs each, ``spot-1`` with 8 on spot VMs, ``cpu-1`` without), the
  chart's CRD and RBAC installed.
  Started once (about 15-25 s warm), stopped at the end; its processes die with the test
  run.
* ``kube`` (function): a :class:`Kube` for one test: ``.client`` (the administrator),
  ``.namespace`` (a new namespace per test, Pod Security ``restricted`` enforced as
  everywhere but kube-system), ``.audit(...)`` (what an identity did since the test began),
  ``.operator_kubeconfig`` (the chart's ServiceAccount's token). The chart's RBAC is
  installed as for ``operator.watchNamespaces`` listing the test's namespace (a Role in
  it, and the small ClusterRole kopf needs), since each test's operator watches only its
  own namespace; earlier tests' Roles stay, as nothing prunes them.
* ``kube_operator`` (function): the operator as a process (``tests/operator/operator_process``)
  watching the test's namespace with the ServiceAccount's token, not started.

The stand-in nodes run the reference trainer's image as the tests' fake trainer
(``tests/local/fake_trainer.py``): the examples are applied as written and run their whole
plans in seconds. ``FAKE_SLEEP`` and the other knobs of the fake trainer reach it through
the sweep's ``spec.trainer.env``, as any setting reaches a container.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster.up import OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, LocalCluster

from tests.kube.client import AuditEvent, KubeClient, audit_events

OPERATOR_USER = f"system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_SERVICE_ACCOUNT}"
_names = itertools.count(1)


class Kube:
    """One test's view of the session's cluster."""

    def __init__(self, cluster: LocalCluster, namespace: str, operator_kubeconfig: Path) -> None:
        assert cluster.control_plane is not None
        self.cluster = cluster
        self.client = KubeClient(cluster.server, cluster.control_plane.tls_context())
        self.namespace = namespace
        self.operator_kubeconfig = operator_kubeconfig
        self.audit_offset = cluster.audit_log.stat().st_size

    def audit(self, user: str | None = OPERATOR_USER) -> list[AuditEvent]:
        """Requests of ``user`` (the operator by default) since this test began."""
        return list(audit_events(self.cluster.audit_log, user=user, offset=self.audit_offset))


@pytest.fixture(scope="session")
def operator_kubeconfig(kube_cluster: LocalCluster) -> Path:
    """A kubeconfig holding a token for the chart's ServiceAccount (the operator's identity)."""
    return kube_cluster.service_account_kubeconfig(
        kube_cluster.state / "operator.kubeconfig", OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT)


@pytest.fixture
def kube(kube_cluster: LocalCluster, operator_kubeconfig: Path,
         request: pytest.FixtureRequest) -> Kube:
    """The cluster, with a fresh namespace for this test."""
    stem = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:40].strip("-")
    namespace = f"t{next(_names)}-{stem}".rstrip("-")
    kube = Kube(kube_cluster, namespace, operator_kubeconfig)
    kube.client.create("v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                         "metadata": {"name": namespace}})
    kube_cluster.install_chart((namespace,))
    return kube


@pytest.fixture
def kube_operator(kube: Kube, prometheus: Any, pushgateway: Any, gcs_emulator: Any,
                  tmp_path: Path) -> Iterator[Any]:
    """The real operator as a process on the test's namespace (not started)."""
    from tests.operator.operator_process import OperatorProcess

    proc = OperatorProcess(kube.operator_kubeconfig, prometheus.url, pushgateway.url,
                           tmp_path / "operator", namespace=kube.namespace)
    yield proc
    proc.stop()
