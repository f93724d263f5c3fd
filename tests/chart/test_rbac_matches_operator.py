"""Least privilege, proven on a real API server: the RBAC the chart grants is exactly what
the operator calls.

For each install mode (all namespaces or listed ones, standalone or with kopf peering) the
real operator, configured by the rendered chart and holding a token for the chart's
ServiceAccount, runs a sweep lifecycle on the session's control plane, where that RBAC is
installed and enforced (tests/chart/operator_run.py). The API server's audit log is the
record of every request the ServiceAccount made: none was refused (nothing missing), every
one is granted by the rules bound to the ServiceAccount, and every granted rule was used
(nothing extra, which a real server cannot show).
"""

from __future__ import annotations

import pytest

from tests.chart.operator_run import OperatorRun
from tests.chart.rbac import compare, describe, grants_for
from tests.chart.render import NAMESPACE

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_no_request_of_the_operator_was_refused(operator_run: OperatorRun) -> None:
    assert operator_run.calls, "the audit log has no request of the ServiceAccount"
    assert operator_run.refused == []


def test_granted_rules_are_exactly_the_calls_the_operator_made(
        operator_run: OperatorRun) -> None:
    grants = grants_for(operator_run.manifests, operator_run.service_account, NAMESPACE)
    missing, extra = compare(grants, operator_run.calls)
    assert not missing and not extra, describe(missing, extra)


def test_the_run_went_through_the_whole_lifecycle(operator_run: OperatorRun) -> None:
    """Guards the comparison against a vacuous pass: the operator did all it can do."""
    calls = {(c.resource, c.verb) for c in operator_run.calls}
    assert {("jobs", "create"), ("tuningsweeps/status", "patch"), ("events", "create"),
            ("tuningsweeps", "patch"), ("jobs", "watch"), ("tuningsweeps", "watch"),
            ("jobs", "deletecollection"), ("pods", "list"),
            ("tuningsweeps", "create"), ("tuningsweeps", "delete")} <= calls
    mode = operator_run.mode
    assert set(operator_run.final_status) == {f"{ns}/sweep-{mode.name}"
                                              for ns in mode.sweep_namespaces}
    for status in operator_run.final_status.values():
        assert status["phase"] == "Succeeded"
        assert (status["trials"]["succeeded"], status["trials"]["failed"],
                status["trials"]["total"]) == (2, 1, 3)
    assert operator_run.jobs_removed_after_collection
    assert operator_run.jobs_left_after_delete == 0
    if mode.peering:
        assert any(r.endswith("kopfpeerings") for r, _ in calls)


def test_the_probe_endpoint_answers(operator_run: OperatorRun) -> None:
    status, body = operator_run.health
    assert status == 200, body
