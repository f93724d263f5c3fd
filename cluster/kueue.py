"""Kueue on the local cluster: its CRDs, RBAC and webhooks from its own release, its manager
as a process.

Everything Kueue installs is read from the pinned module's ``config/components`` in Go's
module cache (the same module ``build.sh`` builds the manager from), and changed only
where a cluster on loopback needs it, the way the release's kustomization would render it:

* Names get the release's ``kueue-`` prefix and namespaced objects go to ``kueue-system``
  (``config/default``), so the objects are called what they are called in a real install.
* The manager runs as the user ``kueue`` (a client certificate from :mod:`cluster.pki`),
  bound to Kueue's own roles from ``config/components/rbac``: every binding's
  ServiceAccount subject becomes that user. A permission Kueue lacks fails here as it would
  in a cluster, rather than being hidden by ``system:masters``.
* Webhooks, admission and CRD conversion alike, point at the Service in the release. The
  API server here has no Service network, so each ``clientConfig.service`` becomes
  ``url: https://127.0.0.1:<port><path>`` with the cluster CA as ``caBundle``, and the
  manager serves on that loopback port with a certificate for IP 127.0.0.1. The webhook
  kustomization's patches (the pod, Deployment and StatefulSet webhooks skip
  ``kube-system`` and ``kueue-system``) and the CRD kustomization's conversion patches are
  applied, so admission and conversion go through Kueue exactly as in an install.
* Kueue's own certificate management is off (it would issue certificates for the Service's
  DNS name, which nothing here resolves). With it off, v0.17's manager reads the metrics
  server's certificate from the fixed path ``/etc/kueue/metrics/certs`` (cmd/kueue/main.go,
  where the release mounts a Secret) and exits if it is missing. Rather than write into the
  machine's ``/etc``, the manager runs in its own user and mount namespace (``unshare``)
  whose ``/etc`` is a read-only overlay of a folder holding just that pair on top of the
  real ``/etc``: the container mount, made for one process, without privileges. The
  network namespace is the host's, so loopback is shared with the API server.
* Nothing that needs in-cluster networking: leader election off (one replica), the
  visibility API server off (feature gate ``VisibilityOnDemand``; it would need an
  APIService backed by a Service), health and metrics on free loopback ports.
* Only ``batch/job`` is integrated and only Jobs with a queue name are managed: the
  operator creates its Jobs suspended with ``kueue.x-k8s.io/queue-name``. Webhooks for the
  other integrations stay installed, as in a release (Kueue answers them with its no-op
  handler), and with the release's ``failurePolicy: Fail``: while the manager is down, Job
  and Pod creation outside ``kube-system`` fails, as it would in a cluster.
* Needs util-linux's ``unshare`` and ``setpriv`` and a kernel that allows unprivileged
  user namespaces and overlayfs inside them (Linux 5.11 or newer; Debian 12 does).

"Ready" means the manager's ``/readyz`` (its webhook server is listening) and a server-side
dry-run create of a ResourceFlavor, which only passes once the API server got answers from
the mutating and validating webhooks over TLS. Every ``start`` runs against a fresh etcd,
so the objects are applied each time (one kubectl apply); certificates are kept in the
state folder, the manifests are rendered in memory, and the manager itself is the only
wait (a few seconds).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from .kubeconfig import write_kubeconfig
from .pki import Pair, Pki
from .processes import ClusterError, ProcessTable, wait_until
from .services import free_port

MODULE = "sigs.k8s.io/kueue"
BUILD_MODULE = Path(__file__).resolve().parent / "build" / "kueue"
NAMESPACE = "kueue-system"
PREFIX = "kueue-"  # config/default's namePrefix
USER = "kueue"
LABELS = {"app.kubernetes.io/name": "kueue"}  # config/default's label, to select our objects
_SELECTOR = ",".join(f"{k}={v}" for k, v in LABELS.items())
FIELD_MANAGER = "tuningsweep-cluster"
READY_TIMEOUT_S = 90.0
METRICS_CERT_DIR = "/etc/kueue/metrics/certs"  # fixed in v0.17's cmd/kueue/main.go
# Kueue's RBAC files that make no sense here: the manager has no ServiceAccount.
RBAC_SKIPPED = {"service_account.yaml"}
_NAMESPACED = {"Role", "RoleBinding"}

# yaml's C loader reads the 1.6 MB of CRDs in a fraction of the pure-Python loader's time.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_all(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.load_all(path.read_text(), Loader=_Loader) if d]


def module_dir() -> Path:
    """The pinned Kueue module's folder in Go's module cache, downloading it if missing."""
    errors = []
    # `go list` answers from the cache; `go mod download` fetches the module (a cache that
    # was cleaned since build.sh ran) and also prints its folder.
    for command in (["go", "list", "-m", "-json", MODULE],
                    ["go", "mod", "download", "-json", MODULE]):
        result = subprocess.run(command, cwd=BUILD_MODULE, capture_output=True, text=True,
                                check=False)
        folder = json.loads(result.stdout).get("Dir") if result.returncode == 0 else None
        if folder and Path(folder, "config").is_dir():
            return Path(folder)
        errors.append(f"{' '.join(command)}: {result.stderr.strip() or 'no module folder'}")
    raise ClusterError(f"cannot find {MODULE} in Go's module cache: {'; '.join(errors)}")


class Kueue:
    """Installs and starts Kueue against the local API server."""

    def __init__(self, state: Path, bin_dir: Path, pki: Pki, processes: ProcessTable,
                 server: str, kubectl: Callable[..., str]) -> None:
        self.state = state
        self.bin = bin_dir
        self.pki = pki
        self.processes = processes
        self.server = server
        self.kubectl = kubectl
        self.folder = state / "kueue"
        self.webhook_port = 0
        self.health_port = 0
        self.metrics_port = 0

    @property
    def webhook_url(self) -> str:
        """Where the API server reaches Kueue's webhooks."""
        return f"https://127.0.0.1:{self.webhook_port}"

    def start(self) -> None:
        """Install Kueue's CRDs, RBAC and webhooks, start its manager, wait until ready."""
        binary = self.bin / "kueue"
        if not os.access(binary, os.X_OK):
            raise ClusterError(f"{binary} is missing: run cluster/build.sh")
        source = module_dir() / "config" / "components"
        serving = self.pki.serving("kueue-webhook")
        self.webhook_port, self.health_port, self.metrics_port = (free_port() for _ in range(3))
        objects = [{"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": NAMESPACE, "labels": dict(LABELS)}},
                   *self._crds(source), *self._rbac(source), *self._webhooks(source)]
        self.kubectl("apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f", "-",
                     stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
        crds = sum(obj["kind"] == "CustomResourceDefinition" for obj in objects)
        # Polled with `get`: `kubectl wait` costs a second or more even when all are ready.
        wait_until("kueue's CRDs", lambda: self._established() == crds, None, 60)
        self._run_manager(binary, serving)

    def _established(self) -> int:
        """How many of Kueue's CRDs the API server serves (condition Established)."""
        try:
            out = self.kubectl("get", "crd", "-l", _SELECTOR, "-o", "jsonpath={.items[*]"
                               ".status.conditions[?(@.type=='Established')].status}")
        except ClusterError:
            return 0
        return out.split().count("True")

    # -- manifests from the release ------------------------------------------------------

    def _client_config(self, service: dict[str, Any]) -> dict[str, Any]:
        ca = base64.b64encode(self.pki.ca.cert.read_bytes()).decode()
        return {"url": f"{self.webhook_url}{service.get('path', '')}", "caBundle": ca}

    def _crds(self, source: Path) -> list[dict[str, Any]]:
        kustomization = _load_all(source / "crd" / "kustomization.yaml")[0]
        crds = {}
        for resource in kustomization["resources"]:
            for crd in _load_all(source / "crd" / resource):
                crd["metadata"].setdefault("labels", {}).update(LABELS)
                crds[crd["metadata"]["name"]] = crd
        # The conversion patches the release enables (commented-out ones are not listed).
        for patch in kustomization.get("patches", []):
            for doc in _load_all(source / "crd" / patch["path"]):
                conversion = doc.get("spec", {}).get("conversion")
                if conversion is None or doc["metadata"]["name"] not in crds:
                    continue
                webhook = conversion.get("webhook", {})
                if "service" in webhook.get("clientConfig", {}):
                    webhook["clientConfig"] = self._client_config(
                        webhook["clientConfig"]["service"])
                crds[doc["metadata"]["name"]]["spec"]["conversion"] = conversion
        return list(crds.values())

    def _rbac(self, source: Path) -> list[dict[str, Any]]:
        kustomization = _load_all(source / "rbac" / "kustomization.yaml")[0]
        objects = []
        for resource in kustomization["resources"]:
            if resource in RBAC_SKIPPED:
                continue
            for obj in _load_all(source / "rbac" / resource):
                meta = obj["metadata"]
                meta["name"] = PREFIX + meta["name"]
                meta.setdefault("labels", {}).update(LABELS)
                if obj["kind"] in _NAMESPACED:
                    meta["namespace"] = NAMESPACE
                if "roleRef" in obj:
                    obj["roleRef"]["name"] = PREFIX + obj["roleRef"]["name"]
                if "subjects" in obj:
                    obj["subjects"] = [
                        {"kind": "User", "name": USER, "apiGroup": "rbac.authorization.k8s.io"}
                        if s.get("kind") == "ServiceAccount" else s for s in obj["subjects"]]
                objects.append(obj)
        return objects

    def _webhooks(self, source: Path) -> list[dict[str, Any]]:
        kustomization = _load_all(source / "webhook" / "kustomization.yaml")[0]
        patches = [doc for p in kustomization.get("patches", []) if "patch" in p
                   for doc in yaml.load_all(p["patch"], Loader=_Loader) if doc]
        configs = []
        for config in _load_all(source / "webhook" / "manifests.yaml"):
            if not config["kind"].endswith("WebhookConfiguration"):
                continue
            for patch in patches:
                if (patch["kind"], patch["metadata"]["name"]) == (
                        config["kind"], config["metadata"]["name"]):
                    _merge_by_name(config["webhooks"], patch.get("webhooks", []))
            config["metadata"]["name"] = PREFIX + config["metadata"]["name"]
            config["metadata"].setdefault("labels", {}).update(LABELS)
            for webhook in config["webhooks"]:
                webhook["clientConfig"] = self._client_config(webhook["clientConfig"]["service"])
            configs.append(config)
        return configs

    # -- the manager ---------------------------------------------------------------------

    def _configuration(self, cert_dir: Path) -> dict[str, Any]:
        """config.kueue.x-k8s.io/v1beta2, the release's manager config changed for loopback."""
        return {
            "apiVersion": "config.kueue.x-k8s.io/v1beta2",
            "kind": "Configuration",
            "namespace": NAMESPACE,
            "health": {"healthProbeBindAddress": f"127.0.0.1:{self.health_port}"},
            "metrics": {"bindAddress": f"127.0.0.1:{self.metrics_port}"},
            "webhook": {"host": "127.0.0.1", "port": self.webhook_port,
                        "certDir": str(cert_dir)},
            "leaderElection": {"leaderElect": False},
            "internalCertManagement": {"enable": False},
            "manageJobsWithoutQueueName": False,
            # No waitForPodsReady: admission does not wait for a previous Job's pods.
            "integrations": {"frameworks": ["batch/job"]},
            "featureGates": {"VisibilityOnDemand": False},
            "clientConnection": {"qps": 50, "burst": 100},  # as the release's config
        }

    def _run_manager(self, binary: Path, serving: Pair) -> None:
        cert_dir = self.folder / "webhook-certs"
        # The read-only layer put over /etc in the manager's mount namespace.
        etc_layer = self.folder / "etc"
        metrics_dir = etc_layer / METRICS_CERT_DIR.removeprefix("/etc/")
        for folder in (cert_dir, metrics_dir):
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(serving.cert, folder / "tls.crt")
            shutil.copyfile(serving.key, folder / "tls.key")
        if any(c in str(etc_layer) for c in ":,"):
            raise ClusterError(f"the state folder's path cannot contain ':' or ',' "
                               f"(overlayfs options): {etc_layer}")
        config = self.folder / "config.yaml"
        config.write_text(yaml.safe_dump(self._configuration(cert_dir), sort_keys=False))
        client = self.pki.client("kueue", USER)
        kubeconfig = write_kubeconfig(self.state / "kueue.kubeconfig", self.server,
                                      self.pki.ca.cert, cert=client)
        # unshare execs sh, which execs the manager: one pid throughout, so the pid file,
        # the parent-death signal and stopping by process group work as for any process.
        mount_etc = 'mount -t overlay kueue-etc -o "lowerdir=$1:/etc" /etc && shift && exec "$@"'
        # Tied to a test run, the manager is killed, not asked, when the run dies: a SIGTERM
        # that lands while its manager is still starting (caches syncing) makes
        # controller-runtime v0.23.3 spin forever (runnableGroup.Start ignores the cancelled
        # context; controller-runtime PR 3440), so it would outlive the run at 100% CPU.
        # stop_all's SIGKILL after its grace period covers the same case.
        on_parent_death = (["setpriv", "--pdeathsig", "KILL", "--"]
                           if self.processes.tie_to_parent else [])
        proc = self.processes.start("kueue", [
            "unshare", "--user", "--map-root-user", "--mount", "sh", "-c", mount_etc, "kueue",
            str(etc_layer), *on_parent_death, str(binary), f"--config={config}",
            "--zap-log-level=2",
        ], env={**os.environ, "KUBECONFIG": str(kubeconfig)}, cwd=self.folder)
        wait_until("kueue", lambda: _http_ok(f"http://127.0.0.1:{self.health_port}/readyz"),
                   proc, READY_TIMEOUT_S)
        wait_until("kueue's webhooks", self._webhooks_answer, proc, READY_TIMEOUT_S)

    def _webhooks_answer(self) -> bool:
        probe = {"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "ResourceFlavor",
                 "metadata": {"name": "webhook-probe"}}
        try:
            self.kubectl("create", "--dry-run=server", "-o", "name", "-f", "-",
                         stdin=json.dumps(probe))
        except ClusterError:
            return False
        return True


def _merge_by_name(items: list[dict[str, Any]], patches: Iterable[dict[str, Any]]) -> None:
    """A strategic-merge patch of a list keyed by ``name`` (kustomize's, one level deep)."""
    by_name = {item["name"]: item for item in items}
    for patch in patches:
        if patch["name"] in by_name:
            by_name[patch["name"]].update(patch)


def _http_ok(url: str) -> bool:
    # No proxy: a proxy from the environment must not be asked for a loopback address.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as resp:
            return int(resp.status) == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
