"""Start the whole local cluster, or stop it: what ``make cluster-up``/``cluster-down`` run.

Order matters and each step waits for the one before: the control plane; the
cluster-wide objects (namespaces, the chart's CRD and RBAC); Kueue (its CRDs, webhooks
and manager); the stand-in nodes, Ready; Prometheus, the Pushgateway and the GCS
emulator with the results bucket; then the operator, which authenticates with a token
the API server issues for the chart's ServiceAccount, so everything it does is checked
against the chart's RBAC exactly as in a real install. ``.cluster/env`` is written last:
its presence means the cluster was ready.

The tests start the same :class:`LocalCluster` in a temporary folder, without the
operator (each test runs its own, with the same kind of token) and with their own
services.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .controlplane import ControlPlane, Ports
from .kubeconfig import write_kubeconfig
from .kueue import Kueue
from .pki import Pki
from .processes import ClusterError, ProcessTable, wait_until
from .services import FakeGcsServer, Prometheus, Pushgateway, free_port, http_get

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "helm" / "tuningsweep"
RELEASE = "tuningsweep"
OPERATOR_NAMESPACE = "tuningsweep-system"
OPERATOR_SERVICE_ACCOUNT = "tuningsweep"  # the chart's full name for release "tuningsweep"
BUCKET = "tuningsweep-local"
# The bucket the examples name, so that they run as written against the GCS emulator.
EXAMPLES_BUCKET = "my-bucket"
# The namespaces the examples use; PodSecurity enforces ``restricted`` in each.
USER_NAMESPACES = ("ml", "default")
TOKEN_SECONDS = 7 * 24 * 3600
# The reference trainer's image runs its console script, as the image's entrypoint does.
TRAINER_IMAGES = ("ghcr.io/tuningsweep/trainer", "example.org/tuningsweep-trainer")
STOP_ORDER = ("operator", "kueue", "node-gpu-1", "node-gpu-2", "node-spot-1", "node-cpu-1",
              "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd")
_CHART_KINDS = {"ServiceAccount", "CustomResourceDefinition", "ClusterRole",
                "ClusterRoleBinding", "Role", "RoleBinding"}


@dataclass(frozen=True)
class NodeSpec:
    """One stand-in node: a GKE-shaped GPU node (on spot VMs or not), or a CPU node."""

    name: str
    gpus: int
    pool: str
    spot: bool = False


# The pools the examples select: L4 GPUs (examples/gpu.yaml), L4 GPUs on spot VMs
# (examples/kueue.yaml, 8 trials at once), and a CPU pool without taints.
DEFAULT_NODES = (NodeSpec("gpu-1", 4, "gpu-pool"), NodeSpec("gpu-2", 4, "gpu-pool"),
                 NodeSpec("spot-1", 8, "spot-pool", spot=True),
                 NodeSpec("cpu-1", 0, "default-pool"))


@dataclass
class LocalCluster:
    """A control plane, Kueue and stand-in nodes under ``state`` (plus, for users, services
    and the operator)."""

    state: Path
    nodes: tuple[NodeSpec, ...] = DEFAULT_NODES
    tie_to_parent: bool = False
    node_env: dict[str, str] = field(default_factory=dict)
    # What each image runs when its pods name no command (an image's entrypoint).
    image_commands: dict[str, str] = field(
        default_factory=lambda: dict.fromkeys(TRAINER_IMAGES, "tuningsweep-trainer"))
    bin_dir: Path | None = None
    with_kueue: bool = True
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.processes = ProcessTable(self.state, tie_to_parent=self.tie_to_parent)
        self.pki = Pki(self.state / "pki")
        self.control_plane: ControlPlane | None = None
        self.kueue: Kueue | None = None

    # -- building blocks -------------------------------------------------------------------

    def build(self) -> Path:
        """The cached binaries' folder, building them first if needed (``build.sh``)."""
        if self.bin_dir is None:
            started = time.monotonic()
            result = subprocess.run(["bash", str(REPO / "cluster" / "build.sh")],
                                    stdout=subprocess.PIPE, text=True, check=False)
            if result.returncode != 0:
                raise ClusterError("building the control plane failed (see the output above)")
            self.bin_dir = Path(result.stdout.strip().splitlines()[-1])
            self.timings["build"] = time.monotonic() - started
        return self.bin_dir

    @property
    def admin_kubeconfig(self) -> Path:
        """A kubeconfig with the cluster administrator's certificate."""
        return self.state / "admin.kubeconfig"

    @property
    def server(self) -> str:
        """The API server's URL."""
        assert self.control_plane is not None
        return self.control_plane.server

    @property
    def audit_log(self) -> Path:
        """The API server's audit log (JSON lines, one per request)."""
        return self.state / "logs" / "audit.log"

    def kubectl(self, *args: str, stdin: str | None = None,
                kubeconfig: Path | None = None) -> str:
        """Run the built kubectl as the administrator (or ``kubeconfig``); return stdout."""
        result = subprocess.run(
            [str(self.build() / "kubectl"), f"--kubeconfig={kubeconfig or self.admin_kubeconfig}",
             "--request-timeout=60s", *args], input=stdin, capture_output=True, text=True,
            check=False)
        if result.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def start_kubernetes(self) -> None:
        """Control plane, namespaces, the chart's CRD and RBAC, Kueue and the nodes."""
        bin_dir = self.build()
        if (self.state / "etcd").exists():
            shutil.rmtree(self.state / "etcd")
        ports = Ports(*(free_port() for _ in range(5)))
        self.control_plane = ControlPlane(self.state, bin_dir, self.pki, ports, self.processes)
        self._timed("control plane", self.control_plane.start)
        self._timed("objects", self._install_objects)
        steps = [("nodes", self._start_nodes)]
        if self.with_kueue:
            self.kueue = Kueue(self.state, bin_dir, self.pki, self.processes, self.server,
                               self.kubectl)
            steps.append(("kueue", self.kueue.start))
        if self.tie_to_parent:
            # A parent-death signal fires when the *thread* that started the child ends,
            # so processes tied to this one must be started from this thread.
            for what, step in steps:
                self._timed(what, step)
            return
        # Kueue and the nodes need only the API server, not each other: start both at once
        # (most of either is waiting for a process to answer).
        with ThreadPoolExecutor(max_workers=len(steps)) as pool:
            for wait in [pool.submit(self._timed, what, step) for what, step in steps]:
                wait.result()

    def _timed(self, what: str, step: Any) -> None:
        started = time.monotonic()
        step()
        self.timings[what] = time.monotonic() - started

    def _install_objects(self) -> None:
        namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}
                      for n in (OPERATOR_NAMESPACE, *USER_NAMESPACES)]
        self.kubectl("apply", "--server-side", "-f", "-",
                     stdin=yaml.safe_dump_all(namespaces))
        self.install_chart()
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                     "crd/tuningsweeps.tuningsweep.io")

    def install_chart(self, watch_namespaces: tuple[str, ...] = ()) -> None:
        """Apply the chart's CRD, ServiceAccount and RBAC, as ``helm install`` would.

        With ``watch_namespaces`` the RBAC is the chart's for an operator watching only
        those (a Role in each and a small ClusterRole), as ``helm upgrade --set
        operator.watchNamespaces=...`` leaves it; objects no longer rendered stay, as
        nothing here prunes.
        """
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-",
                     stdin=render_chart_access(watch_namespaces))

    def _start_nodes(self) -> None:
        images = [f"--image-command={image}={command}"
                  for image, command in self.image_commands.items()]
        env = [f"--env={k}={v}" for k, v in self.node_env.items()]
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        for node in self.nodes:
            cert = self.pki.client(f"node-{node.name}", f"system:node:{node.name}",
                                   ("system:nodes",))
            kubeconfig = write_kubeconfig(self.state / f"node-{node.name}.kubeconfig",
                                          self.server, self.pki.ca.cert, cert=cert)
            self.processes.start(f"node-{node.name}", [
                sys.executable, "-m", "cluster.node", f"--kubeconfig={kubeconfig}",
                f"--name={node.name}", f"--workdir={self.state / 'nodes' / node.name}",
                f"--gpus={node.gpus}", f"--pool={node.pool}",
                *(["--spot"] if node.spot else []),
                f"--version=v{versions()['KUBERNETES_VERSION']}", *images, *env,
            ], env={**os.environ, "PATH": path, "PYTHONPATH": str(REPO)}, cwd=REPO)
        for node in self.nodes:
            wait_until(f"node {node.name}", functools.partial(self._node_ready, node.name),
                       self.processes.started[f"node-{node.name}"], 60)

    def _node_ready(self, name: str) -> bool:
        out = self.kubectl("get", "node", name, "--ignore-not-found", "-o",
                           "jsonpath={.status.conditions[?(@.type=='Ready')].status}"
                           "{' '}{.spec.taints[*].key}")
        ready, _, taints = out.partition(" ")
        # Ready, and the node-lifecycle controller has lifted its not-ready taint.
        return ready == "True" and "node.kubernetes.io/not-ready" not in taints

    def service_account_token(self, namespace: str, name: str,
                              seconds: int = TOKEN_SECONDS) -> str:
        """A token the API server issues for a ServiceAccount (the TokenRequest API)."""
        return self.kubectl("create", "token", name, "-n", namespace,
                            f"--duration={seconds}s").strip()

    def service_account_kubeconfig(self, path: Path, namespace: str, name: str) -> Path:
        """A kubeconfig that authenticates as the ServiceAccount ``namespace/name``."""
        return write_kubeconfig(path, self.server, self.pki.ca.cert,
                                token=self.service_account_token(namespace, name))

    def stop(self) -> list[str]:
        """Stop every process this cluster started, by pid; return their names."""
        return self.processes.stop_all(STOP_ORDER)


def versions() -> dict[str, str]:
    """The pins of ``cluster/versions.env``."""
    lines = (REPO / "cluster" / "versions.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def render_chart_access(watch_namespaces: tuple[str, ...] = ()) -> str:
    """The chart's CRD, ServiceAccount and RBAC (``helm template``), without the Deployment."""
    helm_home = REPO / ".tools" / "helm-home"
    env = {**os.environ, "HELM_CACHE_HOME": str(helm_home / "cache"),
           "HELM_CONFIG_HOME": str(helm_home / "config"),
           "HELM_DATA_HOME": str(helm_home / "data")}
    helm = shutil.which("helm", path=f"{REPO / '.tools' / 'bin'}{os.pathsep}{env['PATH']}")
    if helm is None:
        raise ClusterError("helm is not installed: run `make system-deps`")
    values = ["--set-json", f"operator.watchNamespaces={json.dumps(list(watch_namespaces))}"]
    rendered = subprocess.run([helm, "template", RELEASE, str(CHART), "--namespace",
                               OPERATOR_NAMESPACE, *values], capture_output=True, text=True,
                              env=env, check=False)
    if rendered.returncode != 0:
        raise ClusterError(f"helm template failed: {rendered.stderr.strip()}")
    docs = [d for d in yaml.safe_load_all(rendered.stdout) if d and d.get("kind") in _CHART_KINDS]
    return yaml.safe_dump_all(docs, sort_keys=False)


# -- make cluster-up / cluster-down ---------------------------------------------------------


class UserCluster:
    """The cluster ``make cluster-up`` starts under ``.cluster/``, services and operator too."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.env_file = state / "env"

    def running(self) -> bool:
        """True when an earlier ``up`` finished and its processes still run."""
        if not self.env_file.exists():
            return False
        names = {p.name for p in ProcessTable(self.state, tie_to_parent=False).recorded()}
        return {"kube-apiserver", "etcd", "operator"} <= names

    def up(self) -> dict[str, str]:
        """Start everything; return the variables written to ``.cluster/env``."""
        started = time.monotonic()
        if self.running():
            print(f"cluster-up: already running; `source {self.env_file}`", file=sys.stderr)
            return read_env(self.env_file)
        self.down(quiet=True)
        cluster = LocalCluster(self.state)
        services = self.state / "services"
        gcs = FakeGcsServer(services / "gcs", tie_to_parent=False).start()
        cluster.processes.record("fake-gcs-server", gcs.pid, gcs.log_path)
        cluster.node_env = {"STORAGE_EMULATOR_HOST": gcs.url}
        try:
            # Prometheus waits for its first scrape (seconds): let it while Kubernetes starts.
            with ThreadPoolExecutor(max_workers=1) as pool:
                metrics = pool.submit(_start_metrics, services, cluster)
                cluster.start_kubernetes()
                pushgateway, prometheus = metrics.result()
            for bucket in (BUCKET, EXAMPLES_BUCKET):
                _create_bucket(gcs.url, bucket)
            env = {
                "KUBECONFIG": str(cluster.admin_kubeconfig),
                "STORAGE_EMULATOR_HOST": gcs.url,
                "TUNINGSWEEP_BUCKET": BUCKET,
                "PROMETHEUS_URL": prometheus.url,
                "PUSHGATEWAY_URL": pushgateway.url,
                "OPERATOR_SERVICE_ACCOUNT": f"{OPERATOR_NAMESPACE}/{OPERATOR_SERVICE_ACCOUNT}",
                "PATH": f"{cluster.build()}{os.pathsep}$PATH",
            }
            self._start_operator(cluster, env, prometheus)
        except BaseException:
            cluster.stop()
            raise
        cluster.timings["total"] = time.monotonic() - started
        write_env(self.env_file, env)
        (self.state / "timings.json").write_text(json.dumps(cluster.timings, indent=2))
        return env

    def _start_operator(self, cluster: LocalCluster, env: dict[str, str],
                        prometheus: Prometheus) -> None:
        kubeconfig = cluster.service_account_kubeconfig(
            self.state / "operator.kubeconfig", OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT)
        tuningsweep = Path(sys.executable).parent / "tuningsweep"
        health, metrics = free_port(), free_port()
        proc = cluster.processes.start("operator", [
            str(tuningsweep), "operator", "--all-namespaces",
            f"--prometheus-url={env['PROMETHEUS_URL']}",
            f"--pushgateway-url={env['PUSHGATEWAY_URL']}",
            f"--results-default=gs://{BUCKET}/tuning/",
            f"--metrics-port={metrics}", f"--liveness=http://127.0.0.1:{health}/healthz",
        ], env={**os.environ, "KUBECONFIG": str(kubeconfig),
                "STORAGE_EMULATOR_HOST": env["STORAGE_EMULATOR_HOST"]}, cwd=self.state)
        prometheus.add_target(f"127.0.0.1:{metrics}", job="tuningsweep-operator")
        # kopf answers /healthz once its watches and probes run.
        wait_until("the operator", lambda: http_get(f"http://127.0.0.1:{health}/healthz")[0]
                   == 200, proc, 60)

    def down(self, *, quiet: bool = False) -> list[str]:
        """Stop what ``up`` started, by pid, and remove ``.cluster/env``."""
        stopped = ProcessTable(self.state, tie_to_parent=False).stop_all(STOP_ORDER)
        self.env_file.unlink(missing_ok=True)
        if not quiet:
            print(f"cluster-down: stopped {', '.join(stopped) or 'nothing (not running)'}",
                  file=sys.stderr)
        return stopped


def _start_metrics(services: Path, cluster: LocalCluster) -> tuple[Pushgateway, Prometheus]:
    """The Pushgateway and Prometheus scraping it, recorded for ``down``."""
    pushgateway = Pushgateway(services / "pushgateway", tie_to_parent=False).start()
    cluster.processes.record("pushgateway", pushgateway.pid, pushgateway.log_path)
    prometheus = Prometheus(services / "prometheus", pushgateway, tie_to_parent=False).start()
    cluster.processes.record("prometheus", prometheus.pid, prometheus.log_path)
    return pushgateway, prometheus


def _create_bucket(url: str, bucket: str) -> None:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"{url}/storage/v1/b?project=local", method="POST",
                                     data=json.dumps({"name": bucket}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=10).close()
    except urllib.error.HTTPError as exc:
        if exc.code != 409:
            raise


def write_env(path: Path, env: dict[str, str]) -> None:
    """``export NAME="value"`` lines a shell can ``source`` (``$PATH`` is expanded there)."""
    lines = [f'export {k}="{v}"' for k, v in env.items()]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("# written by `make cluster-up`; `source` it to use the cluster\n"
                   + "\n".join(lines) + "\n")
    tmp.replace(path)


def read_env(path: Path) -> dict[str, str]:
    """The variables of an env file written by :func:`write_env`."""
    env = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            env[name] = value.strip('"')
    return env
