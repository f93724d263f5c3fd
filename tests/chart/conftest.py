"""Fixtures for the chart tests.

* ``operator_run`` (session, one per :data:`~tests.chart.operator_run.MODES` entry): the real
  operator configured by the rendered chart, run through a sweep lifecycle on the session's
  real control plane (``kube_cluster``, tests/conftest.py) with the chart's RBAC installed
  and the session's real Prometheus and Pushgateway
  (:func:`~tests.chart.operator_run.run_lifecycle`). Session-scoped so that the RBAC and
  the dashboard tests share one run per mode.
"""

from __future__ import annotations

import pytest
from cluster.up import LocalCluster

from tests.chart.operator_run import MODES, Mode, OperatorRun, run_lifecycle
from tests.services import Prometheus, Pushgateway


@pytest.fixture(scope="session", params=MODES, ids=lambda mode: mode.name)
def operator_run(request: pytest.FixtureRequest, kube_cluster: LocalCluster,
                 prometheus: Prometheus, pushgateway: Pushgateway,
                 tmp_path_factory: pytest.TempPathFactory) -> OperatorRun:
    """One recorded operator run per install mode."""
    mode: Mode = request.param
    return run_lifecycle(mode, kube_cluster, tmp_path_factory.mktemp(mode.name), prometheus,
                         pushgateway)
