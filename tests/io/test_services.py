"""Smoke tests for the service fixtures themselves (tests/services.py)."""

from __future__ import annotations

import urllib.request

from google.cloud import storage
from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

from tests.services import FakeGcsServer, Prometheus, Pushgateway, http_get


def test_prometheus_scrapes_pushgateway_with_honor_labels(
    prometheus: Prometheus, pushgateway: Pushgateway
) -> None:
    registry = CollectorRegistry()
    gauge = Gauge("svc_smoke_value", "smoke", ["metric"], registry=registry)
    gauge.labels(metric="val_mse").set(0.25)
    push_to_gateway(pushgateway.url, job="smoke-job", registry=registry)

    result = prometheus.wait_for('svc_smoke_value{job="smoke-job"}')

    assert result[0]["metric"]["metric"] == "val_mse"
    assert float(result[0]["value"][1]) == 0.25
    pushgateway.wipe()


def test_prometheus_scrapes_added_target(prometheus: Prometheus, pushgateway: Pushgateway) -> None:
    prometheus.add_target(pushgateway.address, job="extra-target")
    try:
        prometheus.wait_for_target(pushgateway.address)
        assert prometheus.wait_for('up{job="extra-target"} == 1')
    finally:
        prometheus.clear_targets()


def test_gcs_emulator_env_and_bucket(
    gcs_emulator: FakeGcsServer, gcs_client: storage.Client, gcs_bucket: str
) -> None:
    gcs_client.bucket(gcs_bucket).blob("a/b.txt").upload_from_string("hello")

    status, body = http_get(f"{gcs_emulator.url}/storage/v1/b/{gcs_bucket}/o")

    assert status == 200
    assert b"a/b.txt" in body
    with urllib.request.urlopen(f"{gcs_emulator.url}/storage/v1/b", timeout=5) as resp:
        assert gcs_bucket.encode() in resp.read()
