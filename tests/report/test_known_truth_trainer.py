"""The known-truth trainer follows the trainer contract and reports the documented value."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "known_truth_trainer.py"
sys.path.insert(0, str(SCRIPT.parent))

from known_truth_trainer import trial_noise, true_mean, window_shift  # noqa: E402


def _run(tmp_path: Path, params: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TUNINGSWEEP_PARAMS": params,
        "TUNINGSWEEP_TRIAL": "c0003-w1",
        "TUNINGSWEEP_WINDOW_START": "2026-01-01",
        "TUNINGSWEEP_METRICS_FILE": str(tmp_path / "metrics.jsonl"),
        "KNOWN_TRUTH_SEED": "7",
        **extra,
    }
    return subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True,
                          text=True, timeout=30, check=False)


def test_reports_true_mean_plus_shift_plus_noise(tmp_path: Path) -> None:
    assert _run(tmp_path, '{"arm": 3, "lr": 0.1}').returncode == 0
    record = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    expected = true_mean(3, 7) + window_shift("2026-01-01", 7) + trial_noise("c0003-w1", 7)
    assert record["type"] == "final" and record["metrics"]["val_mse"] == pytest.approx(expected)
    assert _run(tmp_path, '{"arm": 3}', KNOWN_TRUTH_NOISE="0").returncode == 0
    again = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert again["metrics"]["val_mse"] == pytest.approx(expected - trial_noise("c0003-w1", 7))


def test_truth_is_deterministic_and_independent_of_the_number_of_arms() -> None:
    means = [true_mean(arm, 1) for arm in range(2000)]
    assert means[:5] == [true_mean(arm, 1) for arm in range(5)]
    assert abs(sum(means) / len(means) - 0.10) < 0.001
    assert 0.009 < (sum((m - 0.10) ** 2 for m in means) / len(means)) ** 0.5 < 0.011
    assert true_mean(0, 1) != true_mean(0, 2)


def test_a_missing_arm_is_refused(tmp_path: Path) -> None:
    result = _run(tmp_path, '{"lr": 0.1}')
    assert result.returncode == 2 and "integer 'arm'" in result.stderr
