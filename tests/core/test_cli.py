"""`tuningsweep validate` and `plan` as a user runs them: output, formats, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tuningsweep.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_validate_ok_and_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "examples" / "grid.yaml"), "--today", "2026-11-27"]) == 0
    assert capsys.readouterr().out == "ok: ctr-mlp-grid: 12 configurations x 3 windows = 36 trials\n"


def test_validate_names_a_pod_field_the_cluster_would_refuse(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "gpu.yaml"
    bad.write_text((ROOT / "examples" / "gpu.yaml").read_text().replace(
        "limits: {nvidia.com/gpu: 1, memory: 16Gi}", "limits: {nvidia.com/gpu: 1, memory: 16 GB}"))
    assert main(["validate", str(bad)]) == 2
    line = bad.read_text().splitlines().index("      limits: {nvidia.com/gpu: 1, memory: 16 GB}") + 1
    assert (f"{bad}:{line}: spec.trainer.resources.limits.memory: '16 GB' is not a Kubernetes "
            "quantity; write a number or a string such as 2, 500m or 16Gi") in capsys.readouterr().err


def test_validate_errors_exit_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("architecture: mlp\nsearch: {algorithm: grdi}\n")
    proc = subprocess.run([sys.executable, "-m", "tuningsweep.cli", "validate", str(bad),
                           str(tmp_path / "missing.yaml")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{bad}:2: spec.search.algorithm: 'grdi' is not one of grid | random | auto | tpe; " \
           "did you mean 'grid'?" in proc.stderr
    assert "missing.yaml: file not found" in proc.stderr


def test_plan_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(ROOT / "examples" / "grid.yaml"), "--today", "2026-11-27",
                 "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"sweep", "windows", "trials", "stage"}
    assert out["sweep"] == "ctr-mlp-grid" and out["stage"] == 0
    assert out["windows"][0] == {"id": "w0", "start": "2026-08-01", "end": "2026-10-31"}
    assert len(out["trials"]) == 36
    first = out["trials"][0]
    assert set(first) == {"trial", "config", "window", "params"}
    assert first["trial"] == "c0000-w0" and set(first["params"]) == {
        "learning_rate", "hidden_units", "batch_size"}


def test_plan_csv_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(ROOT / "examples" / "auto.yaml"), "--today", "2026-11-27",
                 "-o", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("trial,config,window,window_start,window_end,learning_rate")
    assert len(lines) == 1 + 8 * 3  # auto plans its first stage: 8 configurations
    assert main(["plan", str(ROOT / "examples" / "auto.yaml"), "--today", "2026-11-27"]) == 0
    table = capsys.readouterr().out
    assert "auto mode: the second stage follows the first stage's results" in " ".join(table.split()) and "48 trials" in table
