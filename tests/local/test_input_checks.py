"""What ``validate`` and ``run`` catch before training, as the user of issue 22 met it.

A small daily table in the reference trainer's layout (a derived sample of the Seattle
weather table: numbers, and a ``weather`` column of text), a manifest beside it for the
reference trainer with its columns in ``spec.trainer.args``. A misspelled hyperparameter,
a misspelled column and a text column given to ``--numeric`` are errors (exit 2) before
any trial starts; days missing inside a window are a warning with their count.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.local.conftest import FAKE_TRAINER

MANIFEST = """\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {{name: weather, namespace: team}}
spec:
  architecture: mlp
  windows:
    ranges:
      - {{start: 2015-01-01, end: 2015-03-31}}
  search: {{algorithm: grid, seed: 1}}
  parameters:
    {param}: {{values: [0.01]}}
  trainer:
    args: [--target, temp_max, --numeric, "{numeric}", --categorical=weather]
  data: data
"""
WEATHER = ("drizzle", "rain", "sun", "snow", "fog")


def write_weather(folder: Path, skip: frozenset[dt.date] = frozenset()) -> None:
    """Daily partitions for 2015-01-01..2015-03-31 (90 days), two rows a day."""
    for i in range(90):
        day = dt.date(2015, 1, 1) + dt.timedelta(days=i)
        if day in skip:
            continue
        part = folder / f"date={day}"
        part.mkdir(parents=True)
        lines = ["precipitation,temp_max,temp_min,wind,weather"]
        for j in range(2):
            lines.append(f"{(i * 7 + j) % 5 * 0.3:.1f},{8 + i % 9 + j},{2 + i % 5},"
                         f"{3 + (i + j) % 4 * 0.7:.1f},{WEATHER[(i + j) % 5]}")
        (part / "part-0.csv").write_text("\n".join(lines) + "\n")


def write_manifest(folder: Path, param: str = "learning_rate",
                   numeric: str = "precipitation,temp_min,wind") -> Path:
    path = folder / "sweep.yaml"
    path.write_text(MANIFEST.format(param=param, numeric=numeric))
    return path


def cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tuningsweep.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env={**os.environ})


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_weather(tmp_path / "data")
    return tmp_path


def run_args(manifest: Path, tmp_path: Path) -> list[str]:
    # The fake trainer would succeed: any failure here is the checks', before training.
    return ["run", str(manifest), "--results", str(tmp_path / "out"), "-q"]


def test_a_clean_manifest_validates(project: Path) -> None:
    done = cli(["validate", str(write_manifest(project))], project)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok: weather: 1 configurations x 1 window = 1 trials\n"
    assert done.stderr == ""


def test_a_misspelled_hyperparameter_is_an_error_naming_the_closest(project: Path) -> None:
    manifest = write_manifest(project, param="learning_rat")
    for command in (["validate", str(manifest)], run_args(manifest, project)):
        done = cli(command, project)
        assert done.returncode == 2, done.stderr
        assert ("error: spec.parameters.learning_rat: unknown hyperparameter 'learning_rat' "
                "for 'mlp' (did you mean 'learning_rate'?); known: ") in done.stderr
        assert "Traceback" not in done.stderr
    assert not (project / "out" / "team" / "weather" / "results.csv").exists()
    assert not (project / "out" / "team" / "weather" / "trials").exists()


def test_a_text_column_given_to_numeric_is_an_error_before_training(project: Path) -> None:
    manifest = write_manifest(project, numeric="precipitation,weather_x,wind")
    done = cli(["validate", str(manifest)], project)
    assert done.returncode == 2
    assert ("spec.trainer.args: --numeric names column 'weather_x', which "
            f"{project / 'data' / 'date=2015-01-01' / 'part-0.csv'} does not have (its header "
            "has: precipitation, temp_max, temp_min, wind, weather); check the column's "
            "name") in done.stderr
    manifest = write_manifest(project, numeric="precipitation,weather,wind")
    for command in (["validate", str(manifest)], run_args(manifest, project)):
        done = cli(command, project)
        assert done.returncode == 2, done.stderr
        assert ("sweep.yaml: spec.trainer.args: --numeric names column 'weather', which is not "
                "numeric in ") in done.stderr
        assert ": line 2 has 'drizzle'; give it to --categorical instead" in done.stderr
    assert not (project / "out" / "team" / "weather" / "results.csv").exists()
    assert not (project / "out" / "team" / "weather" / "trials").exists()


def test_columns_are_not_checked_for_a_trainer_of_your_own(project: Path) -> None:
    manifest = write_manifest(project, param="alpha", numeric="weather")
    text = manifest.read_text().replace(
        "  trainer:\n", f"  trainer:\n    command: [{sys.executable}, {FAKE_TRAINER}]\n")
    manifest.write_text(text)
    done = cli(["validate", str(manifest)], project)
    assert done.returncode == 0, done.stderr


def test_days_missing_inside_a_window_are_a_warning_in_validate_and_run(
        tmp_path: Path) -> None:
    lost = frozenset(dt.date(2015, 2, 1) + dt.timedelta(d) for d in range(25))
    write_weather(tmp_path / "data", skip=lost)
    manifest = write_manifest(tmp_path)
    warning = (f"warning: spec.data: window w0 (2015-01-01..2015-03-31): 25 of 90 days "
               f"missing in {tmp_path / 'data'} (missing: 2015-02-01..2015-02-25): its "
               "trials train on 65 days")
    validated = cli(["validate", str(manifest)], tmp_path)
    assert validated.returncode == 0 and warning in validated.stderr
    ran = cli(["run", str(manifest), "--results", str(tmp_path / "out"),
               "--trainer-command", f"{sys.executable} {FAKE_TRAINER}"], tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert warning in ran.stderr
