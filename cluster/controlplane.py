"""etcd, kube-apiserver, kube-controller-manager and kube-scheduler as local processes.

Each is configured as a kubeadm control plane would be, with what a loopback cluster
without a kubelet or a network needs changed, and each change says why:

* The API server authorises with ``Node,RBAC``; admission adds ``NodeRestriction`` (the
  stand-in nodes may touch only their own Node and pods) and ``ExtendedResourceToleration``
  (a pod asking for ``nvidia.com/gpu`` tolerates the GPU taint, as on GKE) to the default
  plugins, PodSecurity among them, which enforces ``restricted`` in every namespace but
  ``kube-system`` (an AdmissionConfiguration), so a pod the operator renders that a locked
  down cluster would refuse is refused here. An audit log records every request with its
  user, verb and resource: the tests read it to check what the operator's identity did.
* ``--endpoint-reconciler-type=none``: the ``kubernetes`` Service's endpoints cannot be a
  loopback address, and nothing here reaches the API server through the Service.
* The controller manager runs every default controller, each with its own ServiceAccount
  (``--use-service-account-credentials``), and signs ServiceAccount tokens with the
  cluster's key.
* No leader election: one replica of each.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from pathlib import Path

from .kubeconfig import write_kubeconfig
from .pki import Pki
from .processes import Process, ProcessTable, https_ok, wait_until

SERVICE_CIDR = "10.96.0.0/16"
ISSUER = "https://kubernetes.default.svc.cluster.local"
READY_TIMEOUT_S = 90.0

ADMISSION_PLUGINS = "NodeRestriction,ExtendedResourceToleration"
EXEMPT_NAMESPACES = ["kube-system"]


@dataclass(frozen=True)
class Ports:
    """The loopback ports of the control plane."""

    etcd: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int


def _admission_config(folder: Path) -> Path:
    path = folder / "admission.yaml"
    levels = {f"{mode}{suffix}": value for mode in ("enforce", "audit", "warn")
              for suffix, value in (("", "restricted"), ("-version", "latest"))}
    path.write_text(json.dumps({
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "AdmissionConfiguration",
        "plugins": [{"name": "PodSecurity", "configuration": {
            "apiVersion": "pod-security.admission.config.k8s.io/v1",
            "kind": "PodSecurityConfiguration",
            "defaults": levels,
            "exemptions": {"usernames": [], "runtimeClasses": [],
                           "namespaces": EXEMPT_NAMESPACES},
        }}],
    }, indent=2))
    return path


def _audit_policy(folder: Path) -> Path:
    # Metadata for every request but the noisiest reads of the control plane's own loops
    # (leases, node status): who did what to which object, never the bodies.
    path = folder / "audit-policy.yaml"
    path.write_text(json.dumps({
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": [
            {"level": "None", "resources": [{"group": "coordination.k8s.io",
                                             "resources": ["leases"]}]},
            {"level": "None", "nonResourceURLs": ["/healthz*", "/readyz*", "/livez*",
                                                  "/version", "/openapi/*"]},
            {"level": "Metadata"},
        ],
    }, indent=2))
    return path


class ControlPlane:
    """Starts the four control-plane processes and writes their kubeconfigs."""

    def __init__(self, state: Path, bin_dir: Path, pki: Pki, ports: Ports,
                 processes: ProcessTable) -> None:
        self.state = state
        self.bin = bin_dir
        self.pki = pki
        self.ports = ports
        self.processes = processes
        self.server = f"https://127.0.0.1:{ports.apiserver}"
        self.admin = pki.client("admin", "admin", ("system:masters",))
        self.admin_kubeconfig = state / "admin.kubeconfig"
        self.audit_log = state / "logs" / "audit.log"

    def tls_context(self) -> ssl.SSLContext:
        """Trusts the cluster's CA and presents the admin certificate."""
        context = ssl.create_default_context(cafile=str(self.pki.ca.cert))
        context.load_cert_chain(str(self.admin.cert), str(self.admin.key))
        return context

    def start(self) -> None:
        """Start etcd, the API server, the controller manager and the scheduler; wait for each."""
        write_kubeconfig(self.admin_kubeconfig, self.server, self.pki.ca.cert, cert=self.admin)
        self._etcd()
        self._apiserver()
        self._controller_manager()
        self._scheduler()

    def _etcd(self) -> None:
        p = self.ports
        url, peer = f"http://127.0.0.1:{p.etcd}", f"http://127.0.0.1:{p.etcd_peer}"
        proc = self.processes.start("etcd", [
            str(self.bin / "etcd"), "--name=local", f"--data-dir={self.state / 'etcd'}",
            f"--listen-client-urls={url}", f"--advertise-client-urls={url}",
            f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=local={peer}", "--log-level=warn",
            # A throwaway cluster: losing the last writes in a power cut costs nothing, and
            # fsync per write would make every API call wait on this machine's disk.
            "--unsafe-no-fsync",
        ])
        wait_until("etcd", lambda: _http_ok(f"{url}/health"), proc, READY_TIMEOUT_S)

    def _apiserver(self) -> Process:
        sa = self.pki.service_account_key()
        serving = self.pki.serving("apiserver", ips=("127.0.0.1", "10.96.0.1"),
                                   dns=("localhost", "kubernetes", "kubernetes.default",
                                        "kubernetes.default.svc",
                                        "kubernetes.default.svc.cluster.local"))
        folder = self.state / "config"
        folder.mkdir(parents=True, exist_ok=True)
        proc = self.processes.start("kube-apiserver", [
            str(self.bin / "kube-apiserver"),
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={self.ports.apiserver}",
            f"--etcd-servers=http://127.0.0.1:{self.ports.etcd}",
            f"--tls-cert-file={serving.cert}", f"--tls-private-key-file={serving.key}",
            f"--client-ca-file={self.pki.ca.cert}",
            "--authorization-mode=Node,RBAC",
            f"--enable-admission-plugins={ADMISSION_PLUGINS}",
            f"--admission-control-config-file={_admission_config(folder)}",
            f"--service-account-issuer={ISSUER}",
            f"--service-account-key-file={sa.cert}",
            f"--service-account-signing-key-file={sa.key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--endpoint-reconciler-type=none",
            "--allow-privileged=false",
            "--profiling=false",
            f"--audit-policy-file={_audit_policy(folder)}",
            f"--audit-log-path={self.audit_log}", "--audit-log-format=json",
            "--audit-log-maxsize=200", "--audit-log-maxbackup=2",
        ])
        context = self.tls_context()
        wait_until("kube-apiserver", lambda: https_ok(f"{self.server}/readyz", context), proc,
                   READY_TIMEOUT_S)
        return proc

    def _component(self, name: str, user: str, port: int, extra: list[str]) -> None:
        cert = self.pki.client(name, user)
        kubeconfig = write_kubeconfig(self.state / f"{name}.kubeconfig", self.server,
                                      self.pki.ca.cert, cert=cert)
        proc = self.processes.start(name, [
            str(self.bin / name), f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1", f"--secure-port={port}", "--leader-elect=false",
            *extra,
        ])
        insecure = ssl.create_default_context()
        # The component serves /healthz with a certificate it made for itself in memory.
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE
        wait_until(name, lambda: https_ok(f"https://127.0.0.1:{port}/healthz", insecure),
                   proc, READY_TIMEOUT_S)

    def _controller_manager(self) -> None:
        sa = self.pki.service_account_key()
        self._component("kube-controller-manager", "system:kube-controller-manager",
                        self.ports.controller_manager, [
                            f"--service-account-private-key-file={sa.key}",
                            f"--root-ca-file={self.pki.ca.cert}",
                            "--use-service-account-credentials=true",
                            f"--cluster-signing-cert-file={self.pki.ca.cert}",
                            f"--cluster-signing-key-file={self.pki.ca.key}",
                        ])

    def _scheduler(self) -> None:
        self._component("kube-scheduler", "system:kube-scheduler", self.ports.scheduler, [])


def _http_ok(url: str) -> bool:
    import urllib.request

    with urllib.request.urlopen(url, timeout=2) as resp:
        return int(resp.status) == 200
