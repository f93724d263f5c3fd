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
* ``gcs_fault_proxy`` (function): a :class:`tests.faultproxy.FaultProxy` in front of the
  emulator, with ``STORAGE_EMULATOR_HOST`` pointing at it for the test (and for processes
  the test starts): GCS clients created in the test go through it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
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
