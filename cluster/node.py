"""The node stand-in: GPU Nodes whose pods run as local processes, reported like a kubelet.

This is the one part of the local cluster that is not the real component: a kubelet needs
a container runtime, and these machines have none. Everything above the node (the API
server, the scheduler binding pods, the Job controller counting them, Kueue admitting
them) is real, so the stand-in does only what a kubelet does, through the same API calls
and with a node's own identity (``system:node:<name>``, so the Node authorizer and
NodeRestriction limit it to its own Node and the pods bound to it):

* registers a Node shaped like a GKE GPU node pool: the pool and accelerator labels, the
  ``nvidia.com/gpu=present:NoSchedule`` taint GKE puts on GPU nodes, and
  ``nvidia.com/gpu`` capacity; renews its Lease every 10 s so the node-lifecycle
  controller keeps it Ready;
* for each pod bound to it, runs the first container's ``command`` + ``args`` (``$(VAR)``
  expanded) with the container's environment, in a fresh folder, output to a log file. An
  image without a ``command`` runs the command ``--image-command`` maps it to (the
  reference trainer image runs ``tuningsweep-trainer``), as its entrypoint would;
* reports the pod's phase, conditions and container state (running, then terminated with
  exit code, reason and the termination message, falling back to the log's tail under
  ``FallbackToLogsOnError``);
* on deletion (a Job deleted or suspended, an eviction, a preemption): SIGTERM to the
  process group, the pod's grace period, SIGKILL; then the terminal phase and the final
  delete, as a kubelet does.

What differs from a container, and is documented in docs/local-cluster.md: there is no
image and no isolation; the process sees the environment the pod asks for plus the node's
(``PATH``, ``HOME``, and what ``--env`` adds, e.g. the GCS emulator's address in place of
a node's workload identity); an ``emptyDir`` at ``/tmp`` becomes ``TMPDIR``; other volumes
are not mounted; ``kubectl logs`` is not served (the log files are under the node's work
folder).

Also here, for the tests: :func:`evict` (the Eviction API) and :func:`drain` (cordon, then
evict every pod on the node), both done with an administrator's client.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

LEASE_NAMESPACE = "kube-node-lease"
LEASE_SECONDS = 40
RENEW_EVERY_S = 10.0
STATUS_EVERY_S = 60.0
TERMINATION_MESSAGE_BYTES = 4096
FALLBACK_LOG_LINES = 80
GPU = "nvidia.com/gpu"
SPOT = "cloud.google.com/gke-spot"
NODE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "PYTHONDONTWRITEBYTECODE")
_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$")


def _kubernetes() -> Any:
    """The kubernetes client package, imported when a node starts (typed loosely: its
    generated models are walked by attribute here, as the kubelet's JSON would be)."""
    import kubernetes

    return kubernetes


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Expand ``$(VAR)`` as Kubernetes does: unknown names stay as written, ``$$`` is ``$``."""
    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))
    return _VAR.sub(sub, text)


def node_manifest(name: str, *, gpus: int, pool: str, accelerator: str, cpu: str,
                  memory: str, pods: int = 110, spot: bool = False) -> dict[str, Any]:
    """A Node as a GKE GPU pool registers it (a pool without GPUs has no GPU taint; a
    spot pool has GKE's spot label and taint)."""
    labels = {
        "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64", "cloud.google.com/gke-nodepool": pool,
    }
    capacity = {"cpu": cpu, "memory": memory, "pods": str(pods),
                "ephemeral-storage": "100Gi"}
    taints = []
    if gpus:
        labels["cloud.google.com/gke-accelerator"] = accelerator
        labels["cloud.google.com/gke-gpu"] = "true"
        capacity[GPU] = str(gpus)
        taints.append({"key": GPU, "value": "present", "effect": "NoSchedule"})
    if spot:
        labels[SPOT] = "true"
        taints.append({"key": SPOT, "value": "true", "effect": "NoSchedule"})
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"taints": taints},
        "status": {"capacity": capacity, "allocatable": dict(capacity)},
    }


class _Container:
    """One pod's process and what is known of it."""

    def __init__(self, pod: Any, popen: subprocess.Popen[bytes], log: Path,
                 message_file: Path, started: str) -> None:
        self.namespace: str = pod.metadata.namespace
        self.name: str = pod.metadata.name
        self.uid: str = pod.metadata.uid
        self.container: str = pod.spec.containers[0].name
        self.policy: str = pod.spec.containers[0].termination_message_policy or "File"
        self.popen = popen
        self.log = log
        self.message_file = message_file
        self.started = started
        self.stopping = threading.Event()


class NodeStandIn:
    """One stand-in node: registers it, runs its pods, keeps it Ready."""

    def __init__(self, kubeconfig: Path, name: str, *, workdir: Path, gpus: int = 4,
                 pool: str = "gpu-pool", accelerator: str = "nvidia-l4",
                 spot: bool = False, cpu: str = "16", memory: str = "64Gi",
                 image_commands: Mapping[str, Sequence[str]] | None = None,
                 env: Mapping[str, str] | None = None, version: str = "v0.0.0") -> None:
        kubernetes = _kubernetes()

        self.name = name
        self.version = version
        self.workdir = workdir
        self.manifest = node_manifest(name, gpus=gpus, pool=pool, accelerator=accelerator,
                                      cpu=cpu, memory=memory, spot=spot)
        self.image_commands = {k: list(v) for k, v in (image_commands or {}).items()}
        self.node_env = {k: os.environ[k] for k in NODE_ENV if k in os.environ}
        self.node_env.update(env or {})
        self.api_client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
        self.api_client.user_agent = f"tuningsweep-node-stand-in/{name}"
        self.core = kubernetes.client.CoreV1Api(self.api_client)
        self.coordination = kubernetes.client.CoordinationV1Api(self.api_client)
        self.containers: dict[str, _Container] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()

    # -- the node -------------------------------------------------------------------------

    def register(self) -> None:
        """Create the Node (or take over an existing one of this name) and mark it Ready."""
        kubernetes = _kubernetes()

        try:
            self.core.create_node(self.manifest)
        except kubernetes.client.ApiException as exc:
            if exc.status != 409:
                raise
        self._report_node()
        self._renew_lease()

    def _report_node(self) -> None:
        now = _now()
        status = {
            **self.manifest["status"],
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady",
                 "message": "node stand-in is posting ready status",
                 "lastHeartbeatTime": now, "lastTransitionTime": now},
                *({"type": t, "status": "False", "reason": f"KubeletHas{r}",
                   "lastHeartbeatTime": now, "lastTransitionTime": now}
                  for t, r in (("MemoryPressure", "SufficientMemory"),
                               ("DiskPressure", "NoDiskPressure"),
                               ("PIDPressure", "SufficientPID"))),
            ],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                          {"type": "Hostname", "address": self.name}],
            "nodeInfo": {"kubeletVersion": self.version, "operatingSystem": "linux",
                         "architecture": "amd64", "containerRuntimeVersion": "process://",
                         "kernelVersion": os.uname().release, "osImage": "node stand-in",
                         "kubeProxyVersion": "", "machineID": "", "systemUUID": "",
                         "bootID": ""},
        }
        self.core.patch_node_status(self.name, {"status": status})

    def _renew_lease(self) -> None:
        kubernetes = _kubernetes()

        body = {"metadata": {"name": self.name, "namespace": LEASE_NAMESPACE},
                "spec": {"holderIdentity": self.name, "leaseDurationSeconds": LEASE_SECONDS,
                         "renewTime": _micro_now()}}
        try:
            self.coordination.patch_namespaced_lease(self.name, LEASE_NAMESPACE,
                                                     {"spec": body["spec"]})
        except kubernetes.client.ApiException as exc:
            if exc.status != 404:
                raise
            self.coordination.create_namespaced_lease(LEASE_NAMESPACE, body)

    def _heartbeat(self) -> None:
        last_status = time.monotonic()
        while not self.stop.wait(RENEW_EVERY_S):
            try:
                self._renew_lease()
                if time.monotonic() - last_status > STATUS_EVERY_S:
                    self._report_node()
                    last_status = time.monotonic()
            except Exception as exc:
                print(f"{self.name}: heartbeat failed: {exc}", file=sys.stderr, flush=True)

    # -- pods -----------------------------------------------------------------------------

    def run(self) -> None:
        """Register, then run the pods bound to this node until :meth:`shutdown`."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.register()
        threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True).start()
        self._fail_orphans()
        while not self.stop.is_set():
            try:
                self._watch_pods()
            except Exception as exc:
                if not self.stop.is_set():
                    print(f"{self.name}: pod watch failed, reconnecting: {exc}",
                          file=sys.stderr, flush=True)
                    time.sleep(1)

    def shutdown(self) -> None:
        """Stop watching and kill every running pod's processes."""
        self.stop.set()
        with self.lock:
            running = list(self.containers.values())
        for container in running:
            _signal_group(container.popen.pid, signal.SIGKILL)

    def _fail_orphans(self) -> None:
        """Pods this node ran before it restarted have lost their process: they failed."""
        pods = self.core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={self.name}")
        for pod in pods.items:
            if pod.status.phase == "Running" and pod.metadata.uid not in self.containers:
                now = _now()
                self._patch_status(pod, "Failed", {
                    "exitCode": 137, "reason": "ContainerStatusUnknown",
                    "message": "the node stand-in restarted; the container's process is gone",
                    "startedAt": now, "finishedAt": now})

    def _watch_pods(self) -> None:
        kubernetes = _kubernetes()

        listing = self.core.list_pod_for_all_namespaces(
            field_selector=f"spec.nodeName={self.name}")
        for pod in listing.items:
            self._handle(pod)
        listed = {pod.metadata.uid for pod in listing.items}
        with self.lock:
            vanished = [c for uid, c in self.containers.items() if uid not in listed]
        for container in vanished:
            self._kill_vanished(container)
        watch = kubernetes.watch.Watch()
        for event in watch.stream(self.core.list_pod_for_all_namespaces,
                                  field_selector=f"spec.nodeName={self.name}",
                                  resource_version=listing.metadata.resource_version,
                                  timeout_seconds=60, allow_watch_bookmarks=True):
            if self.stop.is_set():
                watch.stop()
                return
            if event["type"] in ("ADDED", "MODIFIED"):
                self._handle(event["object"])
            elif event["type"] == "DELETED":
                with self.lock:
                    gone = self.containers.get(event["object"].metadata.uid)
                if gone is not None:
                    self._kill_vanished(gone)

    def _handle(self, pod: Any) -> None:
        uid = pod.metadata.uid
        with self.lock:
            container = self.containers.get(uid)
        if pod.metadata.deletion_timestamp is not None:
            if container is not None:
                if not container.stopping.is_set():
                    container.stopping.set()
                    grace = pod.metadata.deletion_grace_period_seconds
                    threading.Thread(target=self._terminate, args=(container, grace),
                                     daemon=True).start()
            elif pod.status.phase in ("Succeeded", "Failed", "Pending", None):
                self._final_delete(pod)
            return
        if container is None and pod.status.phase in ("Pending", None):
            self._start(pod)

    def _kill_vanished(self, container: _Container) -> None:
        """A pod removed from the API at once (force-deleted, garbage-collected with no
        grace) has nobody left to report to: kill its process, as a kubelet does."""
        container.stopping.set()
        _signal_group(container.popen.pid, signal.SIGKILL)
        with self.lock:
            self.containers.pop(container.uid, None)

    def _start(self, pod: Any) -> None:
        spec = pod.spec.containers[0]
        folder = self.workdir / "pods" / f"{pod.metadata.namespace}_{pod.metadata.name}_{pod.metadata.uid[:8]}"
        tmp = folder / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        log = folder / f"{spec.name}.log"
        message_file = folder / "termination-log"
        env = dict(self.node_env)
        env["HOSTNAME"] = pod.metadata.name
        try:
            env.update(self._container_env(pod, spec))
            argv = self._argv(spec, env)
        except ValueError as exc:
            now = _now()
            self._patch_status(pod, "Failed", {
                "exitCode": 128, "reason": "CreateContainerConfigError", "message": str(exc),
                "startedAt": now, "finishedAt": now})
            return
        if any(m.mount_path == "/tmp" for m in spec.volume_mounts or []):
            env["TMPDIR"] = str(tmp)
        workdir = Path(spec.working_dir) if spec.working_dir else folder
        started = _now()
        try:
            with log.open("wb") as out:
                popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, env=env, cwd=workdir,
                                         start_new_session=True, preexec_fn=_die_with_node)
        except OSError as exc:
            self._patch_status(pod, "Failed", {
                "exitCode": 128, "reason": "StartError",
                "message": f"cannot run {shlex.join(argv)}: {exc}",
                "startedAt": started, "finishedAt": _now()})
            return
        container = _Container(pod, popen, log, message_file, started)
        with self.lock:
            self.containers[pod.metadata.uid] = container
        # Waiting first: the exit is reported even if reporting the start failed.
        threading.Thread(target=self._wait, args=(container,), daemon=True).start()
        self._patch_running(pod, container)

    def _container_env(self, pod: Any, spec: Any) -> dict[str, str]:
        env: dict[str, str] = {}
        for var in spec.env or []:
            if var.value_from is None:
                env[var.name] = expand(var.value or "", env)
            elif var.value_from.field_ref is not None:
                path = var.value_from.field_ref.field_path
                fields = {"metadata.name": pod.metadata.name,
                          "metadata.namespace": pod.metadata.namespace,
                          "metadata.uid": pod.metadata.uid, "spec.nodeName": self.name,
                          "spec.serviceAccountName": pod.spec.service_account_name or "",
                          "status.hostIP": "127.0.0.1", "status.podIP": "127.0.0.1"}
                if path not in fields:
                    raise ValueError(f"env {var.name}: fieldRef {path} is not supported by "
                                     "the node stand-in")
                env[var.name] = fields[path]
            else:
                raise ValueError(f"env {var.name}: only value and fieldRef are supported by "
                                 "the node stand-in")
        return env

    def _argv(self, spec: Any, env: Mapping[str, str]) -> list[str]:
        command = list(spec.command or [])
        if not command:
            repository = spec.image.split("@", 1)[0].rsplit(":", 1)[0] if spec.image else ""
            if ":" in (spec.image or "") and "/" in spec.image.rsplit(":", 1)[1]:
                repository = spec.image  # a registry port, not a tag
            if repository not in self.image_commands:
                raise ValueError(f"image {spec.image!r} has no command and the node stand-in "
                                 "has no entrypoint for it: set the container's command, or "
                                 "start the node with --image-command "
                                 f"{repository}=ENTRYPOINT")
            command = list(self.image_commands[repository])
        return [expand(part, env) for part in [*command, *(spec.args or [])]]

    def _wait(self, container: _Container) -> None:
        code = container.popen.wait()
        if container.stopping.is_set():
            return  # _terminate reports and deletes
        self._report_exit(container, code)
        with self.lock:
            self.containers.pop(container.uid, None)

    def _terminate(self, container: _Container, grace: int | None) -> None:
        _signal_group(container.popen.pid, signal.SIGTERM)
        try:
            code = container.popen.wait(timeout=max(0, grace if grace is not None else 30))
        except subprocess.TimeoutExpired:
            _signal_group(container.popen.pid, signal.SIGKILL)
            code = container.popen.wait()
        self._report_exit(container, code)
        with self.lock:
            self.containers.pop(container.uid, None)
        self._delete_now(container.namespace, container.name, container.uid)

    def _report_exit(self, container: _Container, code: int) -> None:
        exit_code = code if code >= 0 else 128 - code  # killed by signal N: 128 + N
        message = self._termination_message(container, exit_code)
        state = {"exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error",
                 "startedAt": container.started, "finishedAt": _now()}
        if message:
            state["message"] = message
        pod = _retrying(f"reading {container.name}", self.core.read_namespaced_pod,
                        container.name, container.namespace)
        if pod is None or pod.metadata.uid != container.uid:
            return
        self._patch_status(pod, "Succeeded" if exit_code == 0 else "Failed", state)

    def _termination_message(self, container: _Container, exit_code: int) -> str:
        try:
            message = container.message_file.read_bytes()[:TERMINATION_MESSAGE_BYTES]
        except OSError:
            message = b""
        if not message.strip() and exit_code != 0 and container.policy == "FallbackToLogsOnError":
            lines = container.log.read_bytes().splitlines()[-FALLBACK_LOG_LINES:]
            message = b"\n".join(lines)[-TERMINATION_MESSAGE_BYTES:]
        return message.decode("utf-8", errors="replace")

    # -- status ---------------------------------------------------------------------------

    def _conditions(self, ready: bool) -> list[dict[str, Any]]:
        now = _now()
        value = "True" if ready else "False"
        return [
            {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": now},
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "Ready", "status": value, "lastTransitionTime": now},
            {"type": "ContainersReady", "status": value, "lastTransitionTime": now},
        ]

    def _patch_running(self, pod: Any, container: _Container) -> None:
        spec = pod.spec.containers[0]
        _retrying(f"reporting {pod.metadata.name} running", self.core.patch_namespaced_pod_status,
                  pod.metadata.name, pod.metadata.namespace, {
            "status": {
                "phase": "Running", "hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}],
                "podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}],
                "startTime": container.started, "conditions": self._conditions(True),
                "containerStatuses": [{
                    "name": spec.name, "image": spec.image, "imageID": "",
                    "containerID": f"process://{container.popen.pid}",
                    "ready": True, "started": True, "restartCount": 0,
                    "state": {"running": {"startedAt": container.started}}}],
            }})

    def _patch_status(self, pod: Any, phase: str, terminated: dict[str, Any]) -> None:
        spec = pod.spec.containers[0]
        body = {"metadata": {"uid": pod.metadata.uid}, "status": {
            "phase": phase, "hostIP": "127.0.0.1", "podIP": "127.0.0.1",
            "startTime": terminated["startedAt"], "conditions": self._conditions(False),
            "containerStatuses": [{
                "name": spec.name, "image": spec.image, "imageID": "", "ready": False,
                "started": False, "restartCount": 0, "state": {"terminated": terminated}}],
        }}
        _retrying(f"reporting {pod.metadata.name} {phase}", self.core.patch_namespaced_pod_status,
                  pod.metadata.name, pod.metadata.namespace, body)

    def _final_delete(self, pod: Any) -> None:
        if pod.status.phase not in ("Succeeded", "Failed"):
            now = _now()
            self._patch_status(pod, "Failed", {"exitCode": 137, "reason": "Error",
                                               "message": "deleted before it ran",
                                               "startedAt": now, "finishedAt": now})
        self._delete_now(pod.metadata.namespace, pod.metadata.name, pod.metadata.uid)

    def _delete_now(self, namespace: str, name: str, uid: str) -> None:
        """The kubelet's last word on a terminated pod: delete it with no grace left."""
        # Grace and precondition both in the body: with a body, the API server does not
        # read gracePeriodSeconds from the query, and the pod would wait out its old grace
        # period forever (nothing else deletes it).
        _retrying(f"deleting {name}", self.core.delete_namespaced_pod, name, namespace,
                  body={"gracePeriodSeconds": 0, "preconditions": {"uid": uid}})


def _die_with_node() -> None:
    """``preexec_fn``: a pod's process dies with its node, even a node SIGKILLed."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _retrying(what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``call`` until it succeeds, as a kubelet retries its status writes: a pod whose
    exit is never reported would hold its Job forever. 404 and 409 (the pod is gone or
    replaced) end the retries; so does a minute of failures, with a message."""
    kubernetes = _kubernetes()
    delay = 0.2
    deadline = time.monotonic() + 60
    while True:
        try:
            return call(*args, **kwargs)
        except kubernetes.client.ApiException as exc:
            if exc.status in (404, 409):
                return None
            error: Exception = exc
        except Exception as exc:
            error = exc
        if time.monotonic() > deadline:
            print(f"node stand-in: giving up on {what}: {error}", file=sys.stderr, flush=True)
            return None
        time.sleep(delay)
        delay = min(delay * 2, 5.0)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


# -- administrator's operations, for the tests ---------------------------------------------


def evict(core: Any, namespace: str, name: str) -> None:
    """Evict a pod through the Eviction API, as ``kubectl drain`` and the autoscaler do."""
    core.create_namespaced_pod_eviction(name, namespace, {
        "apiVersion": "policy/v1", "kind": "Eviction",
        "metadata": {"name": name, "namespace": namespace}})


def drain(core: Any, node: str) -> list[str]:
    """Cordon ``node`` and evict every pod on it; return the evicted pods' ``ns/name``."""
    core.patch_node(node, {"spec": {"unschedulable": True}})
    pods = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
    evicted = []
    for pod in pods:
        if pod.metadata.deletion_timestamp is None and pod.status.phase in ("Pending", "Running"):
            evict(core, pod.metadata.namespace, pod.metadata.name)
            evicted.append(f"{pod.metadata.namespace}/{pod.metadata.name}")
    return evicted


def uncordon(core: Any, node: str) -> None:
    """Make ``node`` schedulable again."""
    core.patch_node(node, {"spec": {"unschedulable": False}})


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cluster.node --kubeconfig F --name N``: run one stand-in node."""
    parser = argparse.ArgumentParser(prog="python -m cluster.node", description=__doc__.split("\n")[0])
    parser.add_argument("--kubeconfig", required=True, type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--gpus", type=int, default=4)
    parser.add_argument("--pool", default="gpu-pool")
    parser.add_argument("--accelerator", default="nvidia-l4")
    parser.add_argument("--spot", action="store_true", help="a spot pool's node (label, taint)")
    parser.add_argument("--cpu", default="16")
    parser.add_argument("--memory", default="64Gi")
    parser.add_argument("--version", default="v0.0.0",
                        help="the kubelet version the Node reports (the control plane's)")
    parser.add_argument("--image-command", action="append", default=[], metavar="IMAGE=CMD",
                        help="entrypoint of an image whose pods name no command")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="node environment every container sees")
    args = parser.parse_args(argv)
    images = {}
    for item in args.image_command:
        image, _, command = item.partition("=")
        images[image] = shlex.split(command)
    env = dict(item.partition("=")[::2] for item in args.env)
    node = NodeStandIn(args.kubeconfig, args.name, workdir=args.workdir, gpus=args.gpus,
                       pool=args.pool, accelerator=args.accelerator, spot=args.spot,
                       cpu=args.cpu,
                       memory=args.memory, image_commands=images, env=env,
                       version=args.version)
    def stop(*_: object) -> None:
        node.shutdown()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    node.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
