"""Fixtures for the operator tests: a Kubernetes API emulator and a node agent.

* ``k8s_emulator`` (function): an :class:`~tests.operator.emulator.EmulatorProcess`, reset
  before the test (no objects but the initial namespaces and the CRDs, an empty request log,
  no faults, no open watches). ``.url``, ``.kubeconfig``, ``.client`` (a small synchronous
  client), ``.request_log(since=0)``, ``.log_mark()``, ``.reset()``, ``.close_watches()``,
  ``.inject_fault(...)``, ``.stats()``. One emulator process serves the whole session
  (start-up costs ~0.3 s); the per-test reset keeps tests independent.
* ``k8s_emulator_process`` (session): the process itself, without the reset. It serves the
  project's CRDs from ``crds/*.yaml`` (schema defaulting, pruning and validation as an API
  server would apply them), or a permissive built-in TuningSweep declaration if there are none.
* ``k8s_api_client`` (function): a ``kubernetes.client.ApiClient`` for the emulator.
* ``node_agent`` (function): a started :class:`~tests.operator.node_agent.NodeAgent` on the
  emulator (4 slots, logs under the test's ``tmp_path``); ``node_agent_factory(**options)``
  starts more or differently configured ones (e.g. ``image_commands``). Both are stopped,
  their processes killed, at teardown.
* ``kopf_settings`` (function): ``kopf.OperatorSettings`` tuned for tests against the
  emulator (see the fixture's docstring).

``KUBECONFIG`` is set when this module is imported, before any test module imports
``kubernetes``: the kubernetes client reads the variable into a module constant at import
time. The file it names is written once the emulator listens. Operator tests must never talk
to a real cluster, so the variable is overridden whatever it was.
"""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.operator.emulator import EmulatorProcess
from tests.operator.node_agent import NodeAgent

REPO_ROOT = Path(__file__).resolve().parents[2]
_KUBE_DIR = Path(tempfile.mkdtemp(prefix='tuningsweep-k8s-emulator-'))
KUBECONFIG_PATH = _KUBE_DIR / 'kubeconfig'
os.environ['KUBECONFIG'] = str(KUBECONFIG_PATH)
atexit.register(shutil.rmtree, _KUBE_DIR, ignore_errors=True)


def _point_kubernetes_client_at(kubeconfig: Path) -> None:
    """If ``kubernetes`` was imported before this conftest, fix its default path too."""
    module = sys.modules.get('kubernetes.config.kube_config')
    if module is not None:
        module.KUBE_CONFIG_DEFAULT_LOCATION = str(kubeconfig)  # type: ignore[attr-defined]


@pytest.fixture(scope='session')
def k8s_emulator_process() -> Iterator[EmulatorProcess]:
    """The emulator process for the whole session (see the module docstring)."""
    crds = sorted((REPO_ROOT / 'crds').glob('*.yaml'))
    with EmulatorProcess(workdir=_KUBE_DIR, crd_files=crds) as emulator:
        assert emulator.kubeconfig == KUBECONFIG_PATH
        os.environ['KUBECONFIG'] = str(emulator.kubeconfig)
        _point_kubernetes_client_at(emulator.kubeconfig)
        yield emulator


@pytest.fixture
def k8s_emulator(k8s_emulator_process: EmulatorProcess) -> EmulatorProcess:
    """The session's emulator, reset to an empty cluster for this test."""
    k8s_emulator_process.reset()
    return k8s_emulator_process


@pytest.fixture
def k8s_api_client(k8s_emulator: EmulatorProcess) -> Iterator[Any]:
    """A ``kubernetes.client.ApiClient`` configured from the emulator's kubeconfig."""
    import kubernetes

    client = kubernetes.config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(k8s_emulator.kubeconfig))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def node_agent_factory(k8s_emulator: EmulatorProcess,
                       tmp_path: Path) -> Iterator[Callable[..., NodeAgent]]:
    """Start node agents with custom options; all are stopped at teardown."""
    agents: list[NodeAgent] = []

    def start(**options: Any) -> NodeAgent:
        options.setdefault('workdir', tmp_path / f'node-{len(agents)}')
        agent = NodeAgent(k8s_emulator.url, **options)
        agents.append(agent)
        return agent.start()

    yield start
    for agent in reversed(agents):
        agent.stop()


@pytest.fixture
def node_agent(node_agent_factory: Callable[..., NodeAgent]) -> NodeAgent:
    """A node agent with 4 slots watching Jobs in all namespaces."""
    return node_agent_factory(max_concurrency=4)


@pytest.fixture
def kopf_settings() -> Any:
    """kopf settings for tests against the emulator.

    * ``watching.server_timeout``/``client_timeout``: watch requests end after 10 s (the
      emulator honours ``timeoutSeconds``) and reconnect from the last resourceVersion, so a
      stuck stream can never stall a test for kopf's default inactivity timeout (70 s).
    * ``watching.connect_timeout``/``networking.request_timeout``: fail fast and retry.
    * ``posting``: left as in production. Note that kopf 1.45 posts Events (``v1/events``,
      ``create``) only for explicit ``kopf.event()``/``info()``/``warn()``/``exception()``
      calls; ``settings.posting.loggers = True`` would also post handler log messages.
    """
    import kopf

    settings = kopf.OperatorSettings()
    settings.watching.server_timeout = 10
    settings.watching.client_timeout = 15
    settings.watching.connect_timeout = 5
    settings.networking.request_timeout = 10
    return settings


# -- the real operator -------------------------------------------------------------------


@pytest.fixture
def agent(node_agent_factory: Callable[..., NodeAgent]) -> NodeAgent:
    """A node agent with 8 slots whose processes can import the tests' fake trainer."""
    return node_agent_factory(max_concurrency=8, extra_env={'PYTHONPATH': str(REPO_ROOT)})


@pytest.fixture
def operator(k8s_emulator: EmulatorProcess, prometheus: Any, pushgateway: Any,
             gcs_emulator: Any, tmp_path: Path) -> Iterator[Any]:
    """The real operator as a process (not started): ``.start()``, ``.kill()``, ``.stop()``."""
    from tests.operator.operator_process import OperatorProcess

    proc = OperatorProcess(k8s_emulator.kubeconfig, prometheus.url, pushgateway.url,
                           tmp_path / 'operator')
    yield proc
    proc.stop()
