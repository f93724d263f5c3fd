"""Extra stand-in node pools for one test, and the administrator's node operations.

The session's nodes (``gpu-1``, ``gpu-2``, ``cpu-1``) are one GKE GPU pool and a CPU pool.
Some examples select a pool of their own (``examples/gpu.yaml`` asks for L4 GPUs,
``examples/kueue.yaml`` for spot nodes), so a test that applies them adds the pool they
name, shaped as GKE registers it (the accelerator label, and for spot the
``cloud.google.com/gke-spot=true`` label and taint), and removes it afterwards: other tests
count on the session's three nodes. Each node is the same stand-in process as the
session's, with its own ``system:node:<name>`` certificate.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cluster.kubeconfig import write_kubeconfig
from cluster.up import REPO, LocalCluster, versions

from tests.kube.client import ApiError, KubeClient, wait_until

NODES = "v1/nodes"
SPOT_LABEL = "cloud.google.com/gke-spot"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
SPOT_TAINT = {"key": SPOT_LABEL, "value": "true", "effect": "NoSchedule"}


def node_ready(client: KubeClient, name: str) -> bool:
    """Ready, and the node-lifecycle controller has lifted its ``not-ready`` taint."""
    node = client.get_or_none(NODES, name)
    if node is None:
        return False
    ready = any(c["type"] == "Ready" and c["status"] == "True"
                for c in (node.get("status") or {}).get("conditions") or [])
    taints = {t["key"] for t in (node.get("spec") or {}).get("taints") or []}
    return ready and "node.kubernetes.io/not-ready" not in taints


@contextlib.contextmanager
def node_pool(cluster: LocalCluster, client: KubeClient, pool: str, *, count: int = 1,
              gpus: int = 4, accelerator: str = "nvidia-l4", spot: bool = False,
              cpu: str = "16", memory: str = "64Gi") -> Iterator[list[str]]:
    """Add GKE-shaped GPU nodes ``<pool>-1``..``<pool>-<count>`` for the ``with`` block.

    On leaving, the node processes are stopped and the Nodes deleted (the pod garbage
    collector then removes the pods that were bound to them).
    """
    names = [f"{pool}-{i}" for i in range(1, count + 1)]
    procs: list[subprocess.Popen[bytes]] = []
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    try:
        for name in names:
            cert = cluster.pki.client(f"node-{name}", f"system:node:{name}", ("system:nodes",))
            kubeconfig = write_kubeconfig(cluster.state / f"node-{name}.kubeconfig",
                                          cluster.server, cluster.pki.ca.cert, cert=cert)
            argv = [sys.executable, "-m", "cluster.node", f"--kubeconfig={kubeconfig}",
                    f"--name={name}", f"--workdir={cluster.state / 'nodes' / name}",
                    f"--gpus={gpus}", f"--pool={pool}", f"--accelerator={accelerator}",
                    f"--cpu={cpu}", f"--memory={memory}",
                    f"--version=v{versions()['KUBERNETES_VERSION']}",
                    *(f"--image-command={image}={command}"
                      for image, command in cluster.image_commands.items()),
                    *(f"--env={k}={v}" for k, v in cluster.node_env.items())]
            log = cluster.state / "logs" / f"node-{name}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("ab") as out:
                procs.append(subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    env={**os.environ, "PATH": path, "PYTHONPATH": str(REPO)}, cwd=REPO,
                    start_new_session=True))
        for name in names:
            wait_until(lambda n=name: node_ready(client, n), 60, what=f"node {name} Ready")
            if spot:
                client.patch(NODES, name, {"metadata": {"labels": {SPOT_LABEL: "true"}},
                                           "spec": {"taints": [GPU_TAINT, SPOT_TAINT]}})
        yield names
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        for name in names:
            with contextlib.suppress(ApiError):
                client.delete(NODES, name)


def node_of_pods(client: KubeClient, namespace: str, selector: str) -> dict[str, str]:
    """``pod name -> node name`` for the pods matching ``selector`` (unbound ones left out)."""
    return {p["metadata"]["name"]: p["spec"]["nodeName"]
            for p in client.items("v1/pods", namespace, label_selector=selector)
            if (p.get("spec") or {}).get("nodeName")}


def core_api(cluster: LocalCluster) -> Any:
    """A ``kubernetes.client.CoreV1Api`` as the administrator, for :func:`cluster.node.evict`,
    :func:`cluster.node.drain` and :func:`cluster.node.uncordon`."""
    import kubernetes

    return kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(
        config_file=str(cluster.admin_kubeconfig)))
