"""`tuningsweep run` with results in GCS: the real client against fake-gcs-server."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

from google.cloud import storage

from tests.faultproxy import DROP, FaultProxy
from tests.local.conftest import write_grid
from tests.services import FakeGcsServer
from tuningsweep.core.records.results import parse_csv

ANCHOR = "2026-11-27"


def read_rows(client: storage.Client, bucket: str, name: str = "grid") -> list[str]:
    blob = client.bucket(bucket).blob(f"tuning/team/{name}/results.csv")
    if not blob.exists():
        return []
    return [r.trial for r in parse_csv(blob.download_as_text())]


def test_rows_appear_in_the_bucket_while_the_sweep_runs(
    tmp_path: Path, fake_command: str, gcs_bucket: str, gcs_client: storage.Client,
) -> None:
    manifest = write_grid(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuningsweep.cli", "run", str(manifest), "--results",
         f"gs://{gcs_bucket}/tuning", "--today", ANCHOR, "--trainer-command", fake_command,
         "--parallel", "2", "-q"],
        env={**os.environ, "FAKE_SLEEP": "0.6"})
    seen_partial = 0
    while proc.poll() is None:
        n = len(read_rows(gcs_client, gcs_bucket))
        if 0 < n < 12:
            seen_partial = n
        time.sleep(0.3)
    assert proc.returncode == 0
    assert seen_partial > 0, "no partial results were visible while the sweep ran"
    rows = read_rows(gcs_client, gcs_bucket)
    assert len(rows) == 12 and len(set(rows)) == 12
    bucket = gcs_client.bucket(gcs_bucket)
    for name in ("summary.csv", "windows.json", "resolved-spec.yaml"):
        assert bucket.blob(f"tuning/team/grid/{name}").exists()


def test_429_and_503_from_gcs_lose_nothing(
    tmp_path: Path, fake_command: str, gcs_bucket: str, gcs_client: storage.Client,
    gcs_fault_proxy: FaultProxy,
) -> None:
    manifest = write_grid(tmp_path)
    gcs_fault_proxy.inject(fail_rate=0.3, statuses=(429, 503, 500, DROP), seed=5)
    done = subprocess.run(
        [sys.executable, "-m", "tuningsweep.cli", "run", str(manifest), "--results",
         f"gs://{gcs_bucket}/tuning", "--today", ANCHOR, "--trainer-command", fake_command,
         "--parallel", "3", "-q"],
        env={**os.environ, "FAKE_SLEEP": "0.1"}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    faults = [e for e in gcs_fault_proxy.exchanges() if e.faulted]
    assert len(faults) >= 3, "the proxy injected too few faults for the test to mean much"
    rows = read_rows(gcs_client, gcs_bucket)  # read directly from the emulator
    assert sorted(rows) == sorted(f"c{c:04d}-w{w}" for c in range(6) for w in range(2))
    # GCS allows about one write per object per second: successful rewrites of the CSV
    # are at least 2 s apart (a little slack for the proxy's clock).
    marker = b'"name": "tuning/team/grid/results.csv"'
    writes = [e.at for e in gcs_fault_proxy.exchanges()
              if e.method == "POST" and not e.faulted and marker in e.body]
    assert len(writes) >= 2
    assert min(b - a for a, b in itertools.pairwise(writes)) >= 1.9


def test_missing_bucket_fails_before_training(tmp_path: Path, fake_command: str,
                                              gcs_emulator: FakeGcsServer) -> None:
    manifest = write_grid(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "tuningsweep.cli", "run", str(manifest), "--results",
         "gs://no-such-bucket-xyz/tuning", "--trainer-command", fake_command],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "no-such-bucket-xyz" in done.stderr and "Traceback" not in done.stderr
