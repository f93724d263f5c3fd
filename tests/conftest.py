"""Session fixtures for the real test services (logic lives in ``tests/services.py``).

``tests`` is a package (every test folder has an ``__init__.py``), so pytest puts the
repository root on ``sys.path`` and tests import helpers as ``from tests.services import
...``. Fixtures:

* ``pushgateway`` (session): :class:`tests.services.Pushgateway`, ``.url``.
* ``prometheus`` (session): :class:`tests.services.Prometheus` scraping ``pushgateway``
  every second (``honor_labels``); ``.url``, ``.add_target(host_port)``, ``.query()``.
* ``gcs_emulator`` (session): :class:`tests.services.FakeGcsServer`; sets
  ``STORAGE_EMULATOR_HOST`` to its ``.url`` for the whole session.
* ``gcs_client`` (function): a ``google.cloud.storage.Client`` on the emulator.
* ``gcs_bucket`` (function): name of a fresh, uniquely named, empty bucket.
* ``kube_cluster`` (session): the real control plane on loopback
  (:class:`cluster.up.LocalCluster`: etcd, kube-apiserver, kube-controller-manager,
  kube-scheduler, Kueue, four stand-in nodes, the chart's CRD and RBAC), started on first
  use and stopped at the end of the session; its nodes run the reference trainer's image
  as the fake trainer (``tests/operator/fake_trainer.py``). Used by tests/kube (see its
  conftest for the per-test fixtures) and by the chart's operator runs (tests/chart).
* ``gcs_fault_proxy`` (function): a :class:`tests.faultproxy.FaultProxy` in front of the
  emulator, with ``STORAGE_EMULATOR_HOST`` pointing at it for the test (and for processes
  the test starts): GCS clients created in the test go through it.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster.up import TRAINER_IMAGES, LocalCluster
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from tests.faultproxy import FaultProxy
from tests.services import FakeGcsServer, Prometheus, Pushgateway


@pytest.fixture(scope="session")
def pushgateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushgateway]:
    """A Pushgateway on a loopback port for the whole session."""
    with Pushgateway(tmp_path_factory.mktemp("pushgateway")) as service:
        yield service


@pytest.fixture(scope="session")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory, pushgateway: Pushgateway
) -> Iterator[Prometheus]:
    """A Prometheus scraping ``pushgateway`` every second, for the whole session."""
    with Prometheus(tmp_path_factory.mktemp("prometheus"), pushgateway) as service:
        yield service


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGcsServer]:
    """fake-gcs-server for the session, with ``STORAGE_EMULATOR_HOST`` pointing at it."""
    with (
        FakeGcsServer(tmp_path_factory.mktemp("fake-gcs")) as service,
        pytest.MonkeyPatch.context() as env,
    ):
        env.setenv("STORAGE_EMULATOR_HOST", service.url)
        yield service


REPO = Path(__file__).resolve().parents[1]
FAKE_TRAINER = f"{sys.executable} -m tests.operator.fake_trainer"


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory: pytest.TempPathFactory,
                 gcs_emulator: FakeGcsServer) -> Iterator[LocalCluster]:
    """The real control plane, Kueue and stand-in nodes, for the whole session."""
    cluster = LocalCluster(
        tmp_path_factory.mktemp("kube"), tie_to_parent=True,
        node_env={"PYTHONPATH": str(REPO), "STORAGE_EMULATOR_HOST": gcs_emulator.url,
                  "FAKE_SLEEP": "0"},
        image_commands=dict.fromkeys(TRAINER_IMAGES, FAKE_TRAINER))
    try:
        cluster.start_kubernetes()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def gcs_client(gcs_emulator: FakeGcsServer) -> storage.Client:
    """A storage client talking to the emulator with anonymous credentials."""
    return storage.Client(
        project="test",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": gcs_emulator.url},
    )


@pytest.fixture
def gcs_bucket(gcs_client: storage.Client) -> str:
    """Create a new empty bucket on the emulator and return its name."""
    name = f"test-{uuid.uuid4().hex[:20]}"
    gcs_client.create_bucket(name)
    return name


@pytest.fixture
def gcs_fault_proxy(
    gcs_emulator: FakeGcsServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the emulator, used by everything the test opens."""
    with FaultProxy(gcs_emulator.url) as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
        yield proxy
