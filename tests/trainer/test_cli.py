"""The command line: validation before training, exit statuses, --describe."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.trainer.helpers import CONSOLE_SCRIPT, RunMain, clean_process_env, run_console, trial_env
from tuningsweep.core.spec import presets

#: Runs main() in a fresh interpreter and reports whether TensorFlow got imported.
_PROBE = """
import sys
from tuningsweep_trainer.cli import main
rc = main(sys.argv[1:])
print("TF_IMPORTED" if "tensorflow" in sys.modules else "TF_NOT_IMPORTED")
sys.exit(rc)
"""


def _probe(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _PROBE, *args], env=clean_process_env(env),
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(("params", "message"), [
    ('{"lerning_rate": 0.01}', "unknown hyperparameter 'lerning_rate' for 'mlp'"),
    ('{"dropout": 1.5}', "hyperparameter 'dropout' must be <= 0.95, got 1.5"),
    ('{"hidden_units": 12.5}', "hyperparameter 'hidden_units' must be an integer"),
    ('{"batch_size": "256"}', "hyperparameter 'batch_size' must be a number"),
    ('{"learning_rate": 0.01', "TUNINGSWEEP_PARAMS is not valid JSON"),
    ('[1, 2]', "TUNINGSWEEP_PARAMS must be a JSON object"),
])
def test_bad_parameters_exit_2_before_tensorflow(
    params: str, message: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    proc = _probe(trial_env(params=params, model_uri=str(tmp_path / "model")))
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("tuningsweep-trainer: error: ")
    assert "Traceback" not in proc.stderr
    assert "TF_NOT_IMPORTED" in proc.stdout
    assert time.monotonic() - started < 20
    assert not (tmp_path / "model").exists()


def test_every_problem_is_reported_at_once(run_main: RunMain) -> None:
    env = {"TUNINGSWEEP_ARCHITECTURE": "mlp", "TUNINGSWEEP_PARAMS": '{"dropuot": 0.1}',
           "TUNINGSWEEP_WINDOW_START": "2025-02-01", "TUNINGSWEEP_WINDOW_END": "2025-01-31",
           "TUNINGSWEEP_MAX_EPOCHS": "0"}
    run = run_main([], env)
    assert run.rc == 2
    error = run.err.strip().splitlines()[-1]
    for fragment in ("'dropuot'", "window start 2025-02-01 is after window end 2025-01-31",
                     "TUNINGSWEEP_MAX_EPOCHS must be >= 1", "no data URI", "no model URI"):
        assert fragment in error


@pytest.mark.parametrize(("overrides", "message"), [
    ({"architecture": "transformer"}, "unknown architecture 'transformer'"),
    ({"window_start": "2025-13-01"}, "TUNINGSWEEP_WINDOW_START must be an ISO date"),
    ({"data": "s3://bucket/prefix/"}, "unsupported data URI"),
    ({"data": "synthetic://ctr?seed=-1"}, "seed"),
    ({"tf_threads": "0"}, "TUNINGSWEEP_TF_THREADS"),
])
def test_bad_input_exits_2(
    run_main: RunMain, tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    run = run_main([], trial_env(model_uri=str(tmp_path / "m"), **overrides))
    assert run.rc == 2
    assert message in run.err
    assert "Traceback" not in run.err


def test_flags_override_the_environment(run_main: RunMain, tmp_path: Path) -> None:
    env = trial_env(params='{"lerning_rate": 1}', model_uri=str(tmp_path / "m"))
    run = run_main(["--params", '{"dropout": 2}', "--architecture", "cnn"], env)
    assert run.rc == 2
    assert "'dropout' must be <= 0.95" in run.err
    assert "lerning_rate" not in run.err


def test_unknown_flag_exits_2(run_main: RunMain) -> None:
    run = run_main(["--learning-rate", "0.1"], {})
    assert run.rc == 2
    assert "unrecognized arguments: --learning-rate" in run.err


def test_describe_prints_the_presets_table(run_main: RunMain) -> None:
    run = run_main(["--describe"], {})
    assert run.rc == 0
    for arch in presets.ARCHITECTURES:
        assert f"{arch}:" in run.out
    assert "early_stopping_patience" in run.out
    assert "lstm_units" in run.out

    run = run_main(["--describe", "--json"], {})
    assert run.rc == 0
    assert json.loads(run.out) == json.loads(json.dumps(presets.describe()))


def test_console_script_is_installed_and_describes() -> None:
    assert CONSOLE_SCRIPT.exists(), "pip install -e . installs the tuningsweep-trainer script"
    run = run_console(["--describe", "--json"], {})
    assert run.rc == 0, run.err
    assert set(json.loads(run.out)) == set(presets.ARCHITECTURES)
