"""The real operator, configured by the chart, through a sweep's lifecycle on the API emulator.

This is how the chart is checked against the operator rather than against expectations:

1. The chart is rendered for one RBAC mode (all namespaces or listed ones, standalone or
   with peering), with an external Pushgateway and Prometheus: the test's real servers.
2. The Kubernetes API emulator (tests/operator/emulator.py) serves the CRD *as the chart
   renders it*, and holds the namespaces and, with peering, the peering objects the
   chart's hooks would create.
3. ``tuningsweep operator`` runs as a subprocess with exactly the args and env of the
   rendered Deployment (only ``valueFrom`` references are resolved, as the kubelet would),
   next to the test node agent that runs each Job's command as a local process.
4. A sweep in each namespace runs to Succeeded: the operator creates the Jobs, the trials
   (tests/chart/pushing_trainer.py) push their metrics, Prometheus scrapes them, the
   operator collects them and patches the status; then the sweeps are deleted, kopf
   removes its finalizer and the Jobs are garbage-collected.
5. What the chart promises is recorded: the emulator's request log (for the RBAC
   comparison), the probe endpoint's answer, the /metrics page, and the series every
   dashboard query returns while the operator runs.
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

from tests.chart import dashboard
from tests.chart.render import NAMESPACE, Manifest, render
from tests.operator.emulator import EmulatorClient, EmulatorProcess, RequestRecord
from tests.operator.node_agent import USER_AGENT as NODE_AGENT_USER_AGENT
from tests.operator.node_agent import NodeAgent
from tests.services import Prometheus, Pushgateway, free_port, http_get

SWEEPS = "tuningsweep.io/v1alpha1/tuningsweeps"
JOBS = "batch/v1/jobs"
PUSHING_TRAINER = Path(__file__).with_name("pushing_trainer.py")
# The test's own API clients; everything else in the request log is the operator.
TEST_USER_AGENTS = ("tuningsweep-tests", NODE_AGENT_USER_AGENT)
LIFECYCLE_TIMEOUT_S = 90.0

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


MODES = (
    Mode("all-namespaces", (), ("ml",), peering=False),
    Mode("listed-namespaces", ("ml", "team"), ("ml", "team"), peering=False),
    Mode("peering-all-namespaces", (), ("ml",), peering=True),
    Mode("peering-listed-namespaces", ("ml", "team"), ("ml", "team"), peering=True),
)


@dataclass
class OperatorRun:
    """What one run recorded."""

    mode: Mode
    manifests: list[Manifest]
    service_account: str
    request_log: list[RequestRecord] = field(default_factory=list)
    final_status: dict[str, dict[str, Any]] = field(default_factory=dict)  # by "ns/name"
    jobs_removed_after_collection: bool = False
    jobs_left_after_delete: int = -1
    health: tuple[int, str] = (0, "")
    metrics_text: str = ""
    dashboard_series: dict[str, int] = field(default_factory=dict)  # by runnable expr
    operator_log: str = ""


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
        time.sleep(0.1)


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


def _collect_dashboard(run: OperatorRun, prometheus: Prometheus, sweep: str,
                       sweeps: int, log: Path) -> None:
    """Wait until Prometheus has scraped this run's final series twice (a rate needs two
    samples) for every one of the ``sweeps`` sweeps of that name, then run every
    dashboard query."""
    def scraped() -> bool:
        # Each namespace's sweep of that name has its own series: with one of them in
        # Prometheus and the other not yet, a per-sweep panel would count one of two.
        return len(prometheus.query(
            f'tuningsweep_operator_best_objective{{sweep="{sweep}"}}')) == sweeps and bool(
            prometheus.query(f'rate(tuningsweep_operator_api_calls_total[1m]) and on() '
                             f'count_over_time(tuningsweep_operator_best_objective'
                             f'{{sweep="{sweep}"}}[1m]) > 1'))
    _wait(scraped, 30, "Prometheus to scrape the operator's /metrics", log)
    for query in dashboard.queries():
        expr = query.runnable()
        run.dashboard_series[expr] = len(prometheus.query(expr))


def run_lifecycle(mode: Mode, workdir: Path, prometheus: Prometheus,
                  pushgateway: Pushgateway) -> OperatorRun:
    """Run the operator as the chart configures it through a sweep lifecycle; record it."""
    values = chart_values(mode, workdir, prometheus, pushgateway)
    manifests = render(values)
    service_account = next(m["metadata"]["name"] for m in manifests
                           if m["kind"] == "ServiceAccount")
    run = OperatorRun(mode, manifests, service_account)
    crd_file = workdir / "crd.yaml"
    crd_file.write_text(yaml.safe_dump_all(
        [m for m in manifests if m["kind"] == "CustomResourceDefinition"
         and m["spec"]["group"] == "tuningsweep.io"]))
    log = workdir / "operator.log"
    sweep_name = f"sweep-{mode.name}"
    metrics_port = values["operator"]["metricsPort"]
    health_port = values["operator"]["healthPort"]

    with EmulatorProcess(workdir=workdir / "emulator", crd_files=[crd_file],
                         peering=mode.peering, strict_namespaces=True) as emulator:
        client = emulator.client
        assert isinstance(client, EmulatorClient)
        for namespace in sorted(set(mode.watch_namespaces) | set(mode.sweep_namespaces)):
            client.create("v1/namespaces", {"metadata": {"name": namespace}})
        for peering in (m for m in manifests if m["apiVersion"] == "kopf.dev/v1"):
            plural = peering["kind"].lower() + "s"
            client.create(f"kopf.dev/v1/{plural}", peering)

        argv, env = operator_command(manifests, emulator.kubeconfig, "tuningsweep-test-pod")
        agent = NodeAgent(emulator.url, workdir=workdir / "node", max_concurrency=4).start()
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

            def recorded_jobs_removed() -> bool | None:
                return all(not client.list(JOBS, ns)["items"]
                           for ns in mode.sweep_namespaces) or None
            _wait(recorded_jobs_removed, 30, "the recorded trials' Jobs to be removed", log,
                  operator)
            run.jobs_removed_after_collection = True
            _collect_dashboard(run, prometheus, sweep_name, len(mode.sweep_namespaces), log)
            run.metrics_text = http_get(f"http://127.0.0.1:{metrics_port}/metrics")[1].decode()

            for namespace in mode.sweep_namespaces:
                client.delete(SWEEPS, sweep_name, namespace)

            def all_gone() -> bool:
                return all(client.get_or_none(SWEEPS, sweep_name, ns) is None
                           and not client.list(JOBS, ns)["items"]
                           for ns in mode.sweep_namespaces)
            _wait(all_gone, 30, "the sweeps and their Jobs to be deleted", log, operator)
            run.jobs_left_after_delete = 0
        finally:
            operator.send_signal(signal.SIGTERM)
            try:
                operator.wait(30)
            except subprocess.TimeoutExpired:
                operator.kill()
                operator.wait(10)
            agent.stop()
            run.operator_log = _tail(log, 20000)
        run.request_log = emulator.request_log()
    return run
