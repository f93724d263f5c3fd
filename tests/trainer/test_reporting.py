"""tuningsweep.reporting against a real Pushgateway (and Prometheus), and the metrics file."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.services import Prometheus, Pushgateway, free_port, http_get
from tuningsweep.reporting import FinalDelivery, Reporter, ReportingError

FINAL = {"loss": 0.02, "mse": 0.02, "val_loss": 0.03, "val_mse": 0.03,
         "training_time_seconds": 1.5, "epochs_run": 3, "best_epoch": 2,
         "samples_per_second": 1000.0}


def _trial_id() -> str:
    return f"c{uuid.uuid4().hex[:6]}-w0"


def _group(gateway: Pushgateway, trial: str) -> dict[str, Any] | None:
    """The Pushgateway group of ``trial`` from /api/v1/metrics, or None."""
    status, body = http_get(f"{gateway.url}/api/v1/metrics")
    assert status == 200
    for group in json.loads(body)["data"]:
        if group["labels"].get("trial") == trial:
            return group  # type: ignore[no-any-return]
    return None


def _values(group: dict[str, Any], name: str) -> dict[str, float]:
    """``{metric label (or ""): value}`` of one metric family in a group."""
    family = group[name]
    return {m["labels"].get("metric", ""): float(m["value"]) for m in family["metrics"]}


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _recorder() -> tuple[list[float], Any]:
    sleeps: list[float] = []
    return sleeps, sleeps.append


def _closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_importing_reporting_does_not_import_tensorflow() -> None:
    code = ("import sys, tuningsweep.reporting as r; "
            "assert r.Reporter; "
            "heavy = [m for m in ('tensorflow', 'keras') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_metrics_file_gets_epoch_and_final_records(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "metrics.jsonl"
    reporter = Reporter(metrics_file=path, trial="t")
    reporter.report_epoch(1, {"loss": 0.5, "val_mse": float("nan"), "note": "not a number"})
    reporter.report_epoch(2, {"loss": 0.4, "val_mse": 0.3})
    delivery = reporter.report_final(FINAL)

    assert delivery == FinalDelivery(written=True, pushed=None)
    records = _records(path)
    assert [r["type"] for r in records] == ["epoch", "epoch", "final"]
    assert records[0]["epoch"] == 1
    assert records[0]["metrics"] == {"loss": 0.5, "val_mse": None}  # NaN -> null, text dropped
    assert records[1]["metrics"] == {"loss": 0.4, "val_mse": 0.3}
    assert records[2]["metrics"] == {k: float(v) for k, v in FINAL.items()}
    assert all(isinstance(r["time"], float) for r in records)


def test_metrics_reach_pushgateway_with_trial_labels(pushgateway: Pushgateway) -> None:
    trial = _trial_id()
    reporter = Reporter(pushgateway_url=pushgateway.url, namespace="ml", sweep="ctr-mlp",
                        trial=trial)

    reporter.report_epoch(1, {"loss": 0.5, "val_mse": 0.4})
    group = _group(pushgateway, trial)
    assert group is not None
    assert group["labels"] == {"job": "tuningsweep", "namespace": "ml", "sweep": "ctr-mlp",
                               "trial": trial}
    assert _values(group, "tuningsweep_trial_metric") == {"loss": 0.5, "val_mse": 0.4}
    assert _values(group, "tuningsweep_trial_epoch") == {"": 1.0}
    assert _values(group, "tuningsweep_trial_finished") == {"": 0.0}

    reporter.report_epoch(2, {"loss": 0.3, "val_mse": 0.2, "mse": 0.3})
    reporter.report_final({"val_mse": 0.2, "epochs_run": 2})
    group = _group(pushgateway, trial)
    assert group is not None
    # The final push replaced the group: the epoch-only series ("loss", "mse") are gone.
    assert _values(group, "tuningsweep_trial_metric") == {"val_mse": 0.2, "epochs_run": 2.0}
    assert _values(group, "tuningsweep_trial_epoch") == {"": 2.0}
    assert _values(group, "tuningsweep_trial_finished") == {"": 1.0}


def test_prometheus_scrapes_final_metrics_with_labels(
    prometheus: Prometheus, pushgateway: Pushgateway
) -> None:
    trial = _trial_id()
    Reporter(pushgateway_url=pushgateway.url, namespace="ml", sweep="ctr-mlp",
             trial=trial).report_final(FINAL)
    result = prometheus.wait_for(
        f'tuningsweep_trial_metric{{metric="val_mse", trial="{trial}"}}', timeout=20)
    labels = result[0]["metric"]
    assert labels["job"] == "tuningsweep"
    assert (labels["namespace"], labels["sweep"], labels["metric"]) == ("ml", "ctr-mlp", "val_mse")
    assert float(result[0]["value"][1]) == pytest.approx(0.03)
    finished = prometheus.wait_for(f'tuningsweep_trial_finished{{trial="{trial}"}} == 1')
    assert finished


def test_unreachable_pushgateway_retries_and_still_writes_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sleeps, sleep = _recorder()
    url = _closed_port_url()
    path = tmp_path / "metrics.jsonl"
    reporter = Reporter(pushgateway_url=url, metrics_file=path, trial="t1",
                        attempts=3, backoff_seconds=0.25, timeout_seconds=1, sleep=sleep)
    with caplog.at_level(logging.WARNING, logger="tuningsweep.reporting"):
        delivery = reporter.report_final(FINAL)

    assert delivery == FinalDelivery(written=True, pushed=False)
    assert sleeps == [0.25, 0.5]  # three attempts, exponential backoff in between
    assert _records(path)[-1]["type"] == "final"
    messages = [r.getMessage() for r in caplog.records]
    assert sum("unreachable (attempt" in m for m in messages) == 2
    final_error = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(final_error) == 1
    assert url in final_error[0].getMessage()
    assert str(path) in final_error[0].getMessage()


def test_final_record_reaching_no_sink_raises(caplog: pytest.LogCaptureFixture) -> None:
    sleeps, sleep = _recorder()
    reporter = Reporter(pushgateway_url=_closed_port_url(), attempts=2, backoff_seconds=0.01,
                        timeout_seconds=1, sleep=sleep)
    with pytest.raises(ReportingError, match="reached no sink"):
        reporter.report_final(FINAL)
    assert len(sleeps) == 1
    assert any("no metrics file has them" in r.getMessage() for r in caplog.records)


def test_epoch_pushes_degrade_to_one_attempt_while_the_gateway_is_down(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sleeps, sleep = _recorder()
    reporter = Reporter(pushgateway_url=_closed_port_url(), metrics_file=tmp_path / "m.jsonl",
                        attempts=3, backoff_seconds=0.01, timeout_seconds=1, sleep=sleep)
    with caplog.at_level(logging.WARNING, logger="tuningsweep.reporting"):
        for epoch in range(1, 5):
            reporter.report_epoch(epoch, {"loss": 1.0 / epoch})
    assert len(sleeps) == 2  # only the first epoch retried
    assert sum("not pushed" in r.getMessage() for r in caplog.records) == 1
    assert len(_records(tmp_path / "m.jsonl")) == 4
    # The final report still gets every attempt.
    reporter.report_final(FINAL)
    assert len(sleeps) == 4


def test_from_env_reads_the_contract() -> None:
    env = {
        "TUNINGSWEEP_PUSHGATEWAY": "http://gw:9091",
        "TUNINGSWEEP_METRICS_FILE": "/tmp/m.jsonl",
        "TUNINGSWEEP_NAMESPACE": "ml",
        "TUNINGSWEEP_SWEEP": "s",
        "TUNINGSWEEP_TRIAL": "c0001-w2",
        "TUNINGSWEEP_PUSH_ATTEMPTS": "5",
        "TUNINGSWEEP_PUSH_BACKOFF_SECONDS": "0.1",
    }
    reporter = Reporter.from_env(env)
    assert reporter.pushgateway_url == "http://gw:9091"
    assert reporter.metrics_file == Path("/tmp/m.jsonl")
    assert reporter.grouping_key == {"namespace": "ml", "sweep": "s", "trial": "c0001-w2"}
    assert (reporter.attempts, reporter.backoff_seconds) == (5, 0.1)
    assert Reporter.from_env(env, trial="other").trial == "other"
    empty = Reporter.from_env({})
    assert (empty.pushgateway_url, empty.metrics_file, empty.namespace) == (None, None, "default")
    with pytest.raises(ValueError, match="TUNINGSWEEP_PUSH_ATTEMPTS"):
        Reporter.from_env({"TUNINGSWEEP_PUSH_ATTEMPTS": "many"})
