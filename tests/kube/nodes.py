"""The administrator's node operations for the tests (evict, drain, uncordon)."""

from __future__ import annotations

from typing import Any

from cluster.up import LocalCluster


def core_api(cluster: LocalCluster) -> Any:
    """A ``kubernetes.client.CoreV1Api`` as the administrator, for :func:`cluster.node.evict`,
    :func:`cluster.node.drain` and :func:`cluster.node.uncordon`."""
    import kubernetes

    return kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(
        config_file=str(cluster.admin_kubeconfig)))
