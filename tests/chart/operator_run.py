"""The real operator, configured by the chart, through a sweep's lifecycle on a real API server.

This is how the chart is checked against the operator rather than against expectations:

1. The chart is rendered for one install mode (all namespaces or listed ones, standalone
   or with peering), with an external Pushgateway and Prometheus: the test's real servers.
2. On the session's control plane (``kube_cluster``, :mod:`cluster.up`) the rendered
   CRDs, ServiceAccount, RBAC and peering objects are applied, as ``helm install`` would
   apply them (the Deployment excepted: its container runs here as a process).
3. ``tuningsweep operator`` runs as a subprocess with exactly the args and env of the
   rendered Deployment (only ``valueFrom`` references are resolved, as the kubelet would)
   and a token the API server issued for the chart's ServiceAccount, so RBAC is enforced
   on every request; the cluster's stand-in nodes run each trial's pod.
4. A sweep in each namespace runs to Succeeded: the operator creates the Jobs, the trials
   (tests/chart/pushing_trainer.py) push their metrics, Prometheus scrapes them, the
   operator collects them and patches the status; then the sweeps are deleted, kopf
   removes its finalizer and the garbage collector deletes the Jobs.
5. What the chart promises is recorded: every request the ServiceAccount made, from the
   API server's audit log (for the RBAC comparison; a refused one is a 403 there), the
   probe endpoint's answer, the /metrics page, and the series every dashboard query
   returns while the operator runs. The applied objects, but the CRDs, are deleted after
   the run, so the next mode starts from its own RBAC alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from cluster.up import LocalCluster

from tests.chart import dashboard
from tests.chart.rbac import Call, calls_from_audit
from tests.chart.render import NAMESPACE, Manifest, render
from tests.kube.client import KubeClient, audit_events
from tests.services import Prometheus, Pushgateway, free_port, http_get

SWEEPS = "tuningsweep.io/v1alpha1/tuningsweeps"
JOBS = "batch/v1/jobs"
PUSHING_TRAINER = Path(__file__).with_name("pushing_trainer.py")
LIFECYCLE_TIMEOUT_S = 120.0
# What `helm install` would create that this run needs (the Deployment runs as a process;
# Services, the ServiceMonitor and the dashboard's ConfigMap are not the operator's).
APPLIED_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
                 "KopfPeering", "ClusterKopfPeering"}

T = TypeVar("T")


@dataclass(frozen=True)
class Mode:
    """One way to install the operator: which namespaces it watches, with peering or not."""

    name: str
    watch_namespaces: tuple[str, ...]  # empty: all namespaces
    sweep_namespaces: tuple[str, ...]
    peering: bool

    def values(self) -> dict[str, Any]:
        return {"operator": {"watchNamespaces": list(self.watch_namespaces),
                             "peering": {"enabled": self.peering}}}


# Namespaces of their own: the session's cluster also holds the other tests' namespaces.
MODES = (
    Mode("all-namespaces", (), ("chart-ml",), peering=False),
    Mode("listed-namespaces", ("chart-ml", "chart-team"), ("chart-ml", "chart-team"),
         peering=False),
    Mode("peering-all-namespaces", (), ("chart-ml",), peering=True),
    Mode("peering-listed-namespaces", ("chart-ml", "chart-team"), ("chart-ml", "chart-team"),
         peering=True),
)


@dataclass
class OperatorRun:
    """What one run recorded."""

    mode: Mode
    manifests: list[Manifest]
    service_account: str
    calls: list[Call] = field(default_factory=list)  # distinct, from the audit log
    refused: list[str] = field(default_factory=list)  # requests answered 401 or 403
    final_status: dict[str, dict[str, Any]] = field(default_factory=dict)  # by "ns/name"
    jobs_removed_after_collection: bool = False
    jobs_left_after_delete: int = -1
    health: tuple[int, str] = (0, "")
    metrics_text: str = ""
    dashboard_series: dict[str, int] = field(default_factory=dict)  # by the query's expr
    operator_log: str = ""

    @property
    def user(self) -> str:
        """The ServiceAccount's user name, as the API server authenticates its token."""
        return f"system:serviceaccount:{NAMESPACE}:{self.service_account}"


class LifecycleError(AssertionError):
    """The lifecycle did not complete; the message has the operator's log tail."""


def _wait(predicate: Callable[[], T | None], timeout: float, what: str,
          log: Path, process: subprocess.Popen[bytes] | None = None) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if process is not None and process.poll() is not None:
            raise LifecycleError(f"the operator exited ({process.returncode}) while waiting "
                                 f"for {what}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise LifecycleError(f"timed out after {timeout}s waiting for {what}:\n{_tail(log)}")
        time.sleep(0.2)


def _tail(path: Path, limit: int = 6000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "(no log)"


def chart_values(mode: Mode, workdir: Path, prometheus: Prometheus,
                 pushgateway: Pushgateway) -> dict[str, Any]:
    """The chart values of a run: the mode, the test's servers, free local ports."""
    values = mode.values()
    values["operator"].update({
        "prometheusURL": prometheus.url,
        "resultsDefault": str(workdir / "results"),
        "metricsPort": free_port(),
        "healthPort": free_port(),
        "tickInterval": 0.5,
        "statusInterval": 1,
        "collectTimeout": 60,
        # Recorded trials' Jobs are deleted at once, so the run uses that permission too.
        "jobRetention": 0,
    })
    values["pushgateway"] = {"enabled": False, "url": pushgateway.url}
    return values


def operator_command(manifests: list[Manifest], kubeconfig: Path,
                     pod_name: str) -> tuple[list[str], dict[str, str]]:
    """argv and environment of the rendered operator Deployment, run as a local process."""
    deployment = next(m for m in manifests if m["kind"] == "Deployment"
                      and m["metadata"]["labels"]["app.kubernetes.io/component"] == "operator")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "PYTHONUNBUFFERED": "1"}
    field_values = {"metadata.name": pod_name, "metadata.namespace": NAMESPACE}
    for item in container.get("env", []):
        if "valueFrom" in item:
            env[item["name"]] = field_values[item["valueFrom"]["fieldRef"]["fieldPath"]]
        else:
            env[item["name"]] = item["value"]
    argv = [sys.executable, "-m", "tuningsweep.cli", "operator", *container.get("args", [])]
    return argv, env


def _sweep(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "tuningsweep.io/v1alpha1", "kind": "TuningSweep",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"architecture": "mlp", "mode": "fast", "fast": {"months": 1, "maxEpochs": 1},
                     "search": {"algorithm": "grid", "seed": 1},
                     # 0.5 fails (see pushing_trainer.py): the operator reads the failed
                     # trial's pods for its error line, a permission the run must use.
                     "parameters": {"learning_rate": {"values": [0.01, 0.02, 0.5]}},
                     "objective": {"metric": "val_mse", "goal": "minimize"},
                     "metrics": ["val_mse", "loss"], "parallelism": 3, "maxFailedTrials": 1,
                     # The node runs this command; the trainer's other defaults stay.
                     "trainer": {"command": [sys.executable, str(PUSHING_TRAINER)]},
                     "data": "synthetic://ctr?seed=1"}}


def _recurring(name: str, namespace: str) -> dict[str, Any]:
    sweep = _sweep(name, namespace)
    sweep["spec"].update({"schedule": "0 6 1 * *", "historyLimit": 0,
                          "parameters": {"learning_rate": {"values": [0.01]}}})
    return sweep


def _collect_dashboard(run: OperatorRun, prometheus: Prometheus, sweep: str,
                       log: Path) -> None:
    """Wait until Prometheus has scraped this run's final series twice (a rate needs two
    samples) for every one of the run's sweeps, then run every dashboard query with the
    run's namespaces and sweep picked, as a viewer of this install would."""
    namespaces = "|".join(run.mode.sweep_namespaces)
    selector = f'namespace=~"{namespaces}", sweep="{sweep}"'

    def scraped() -> bool:
        # Each namespace's sweep of that name has its own series: with one of them in
        # Prometheus and the other not yet, a per-sweep panel would count one of two.
        return len(prometheus.query(
            f"tuningsweep_operator_best_objective{{{selector}}}")) == len(
            run.mode.sweep_namespaces) and bool(
            prometheus.query(f"rate(tuningsweep_operator_api_calls_total[1m]) and on() "
                             f"count_over_time(tuningsweep_operator_best_objective"
                             f"{{{selector}}}[1m]) > 1"))
    _wait(scraped, 30, "Prometheus to scrape the operator's /metrics", log)
    for query in dashboard.queries():
        run.dashboard_series[query.expr] = len(prometheus.query(
            query.runnable(namespace=namespaces, sweep=sweep)))


def _apply(cluster: LocalCluster, manifests: list[Manifest]) -> None:
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-",
                    stdin=yaml.safe_dump_all(manifests, sort_keys=False))


def install(cluster: LocalCluster, client: KubeClient, mode: Mode,
            manifests: list[Manifest]) -> list[Manifest]:
    """Apply the chart's CRDs, then its ServiceAccount, RBAC and peering objects (helm's
    hooks come after the CRDs they need); return what to delete after the run."""
    for namespace in (NAMESPACE, *mode.watch_namespaces, *mode.sweep_namespaces):
        if client.get_or_none("v1/namespaces", namespace) is None:
            client.create("v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": namespace}})
    crds = [m for m in manifests if m["kind"] == "CustomResourceDefinition"]
    _apply(cluster, crds)
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                    *(f"crd/{m['metadata']['name']}" for m in crds))
    installed = [m for m in manifests if m["kind"] in APPLIED_KINDS]
    _apply(cluster, installed)
    return installed


def uninstall(cluster: LocalCluster, installed: list[Manifest]) -> None:
    cluster.kubectl("delete", "--ignore-not-found", "--wait=false", "-f", "-",
                    stdin=yaml.safe_dump_all(installed, sort_keys=False))


def record_calls(run: OperatorRun, log: Path, offset: int) -> None:
    """The ServiceAccount's requests from the audit log: distinct calls, and refusals.

    Watches are counted when they start: one still open is logged as complete only when
    the API server notices it closed.
    """
    events = list(audit_events(log, user=run.user, offset=offset,
                               stages=("ResponseStarted", "ResponseComplete")))
    run.calls = calls_from_audit(events)
    run.refused = [f"{e.verb} {e.resource}.{e.group} {e.namespace}/{e.name}: {e.code}"
                   for e in events if e.code in (401, 403)]


def run_lifecycle(mode: Mode, cluster: LocalCluster, workdir: Path, prometheus: Prometheus,
                  pushgateway: Pushgateway) -> OperatorRun:
    """Run the operator as the chart configures it through a sweep lifecycle; record it."""
    assert cluster.control_plane is not None
    client = KubeClient(cluster.server, cluster.control_plane.tls_context())
    values = chart_values(mode, workdir, prometheus, pushgateway)
    manifests = render(values)
    service_account = next(m["metadata"]["name"] for m in manifests
                           if m["kind"] == "ServiceAccount")
    run = OperatorRun(mode, manifests, service_account)
    log = workdir / "operator.log"
    sweep_name = f"sweep-{mode.name}"
    metrics_port = values["operator"]["metricsPort"]
    health_port = values["operator"]["healthPort"]
    selector = f"tuningsweep.io/sweep={sweep_name}"

    installed = install(cluster, client, mode, manifests)
    offset = cluster.audit_log.stat().st_size
    kubeconfig = cluster.service_account_kubeconfig(workdir / "operator.kubeconfig", NAMESPACE,
                                                    service_account)
    argv, env = operator_command(manifests, kubeconfig, "tuningsweep-test-pod")
    failure: LifecycleError | None = None
    with open(log, "wb") as output:
        operator = subprocess.Popen(argv, env=env, stdout=output, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, cwd=workdir)
    try:
        prometheus.add_target(f"127.0.0.1:{metrics_port}", job=f"operator-{mode.name}")

        def healthy() -> tuple[int, str] | None:
            try:
                status, body = http_get(f"http://127.0.0.1:{health_port}/healthz", 2.0)
            except OSError:
                return None
            return (status, body.decode()) if status == 200 else None
        run.health = _wait(healthy, 30, "the liveness endpoint", log, operator)

        for namespace in mode.sweep_namespaces:
            client.create(SWEEPS, _sweep(sweep_name, namespace))
            # A recurring sweep: the operator creates its run (a child sweep) and, with
            # historyLimit 0, deletes it once its history row is written.
            client.create(SWEEPS, _recurring(f"recurring-{mode.name}", namespace))

        def all_done() -> dict[str, dict[str, Any]] | None:
            statuses = {f"{ns}/{sweep_name}": client.get(SWEEPS, sweep_name, ns).get(
                "status") or {} for ns in mode.sweep_namespaces}
            failed = [k for k, s in statuses.items() if s.get("phase") == "Failed"]
            if failed:
                raise LifecycleError(f"sweeps failed: {statuses}\n{_tail(log)}")
            done = all(s.get("phase") == "Succeeded" for s in statuses.values())
            return statuses if done else None
        run.final_status = _wait(all_done, LIFECYCLE_TIMEOUT_S, "the sweeps to succeed",
                                 log, operator)

        def runs_recorded_and_pruned() -> bool | None:
            parents = [client.get(SWEEPS, f"recurring-{mode.name}", ns)
                       for ns in mode.sweep_namespaces]
            return all((p.get("status") or {}).get("recurring", {}).get("lastRun")
                       and not client.items(SWEEPS, p["metadata"]["namespace"],
                                            label_selector="tuningsweep.io/recurring-sweep="
                                            f"recurring-{mode.name}")
                       for p in parents) or None
        _wait(runs_recorded_and_pruned, LIFECYCLE_TIMEOUT_S,
              "the recurring sweeps' runs to be recorded and pruned", log, operator)

        def recorded_jobs_removed() -> bool | None:
            return all(not client.items(JOBS, ns, label_selector=selector)
                       for ns in mode.sweep_namespaces) or None
        _wait(recorded_jobs_removed, 30, "the recorded trials' Jobs to be removed", log,
              operator)
        run.jobs_removed_after_collection = True
        _collect_dashboard(run, prometheus, sweep_name, log)
        run.metrics_text = http_get(f"http://127.0.0.1:{metrics_port}/metrics")[1].decode()

        for namespace in mode.sweep_namespaces:
            client.delete(SWEEPS, sweep_name, namespace)
            client.delete(SWEEPS, f"recurring-{mode.name}", namespace)

        def all_gone() -> bool:
            return all(client.get_or_none(SWEEPS, sweep_name, ns) is None
                       and not client.items(JOBS, ns, label_selector=selector)
                       for ns in mode.sweep_namespaces)
        _wait(all_gone, 30, "the sweeps and their Jobs to be deleted", log, operator)
        run.jobs_left_after_delete = 0
    except LifecycleError as exc:
        failure = exc
    finally:
        operator.send_signal(signal.SIGTERM)
        try:
            operator.wait(30)
        except subprocess.TimeoutExpired:
            operator.kill()
            operator.wait(10)
        run.operator_log = _tail(log, 20000)
        uninstall(cluster, installed)
    record_calls(run, cluster.audit_log, offset)
    if failure is not None and run.refused:
        # The likeliest cause: a permission the chart does not grant.
        refused = "\n".join(sorted(set(run.refused)))
        raise LifecycleError(f"{failure}\nrequests the API server refused:\n{refused}")
    if failure is not None:
        raise failure
    return run
