"""What ``validate`` and ``run`` catch before training, as the user of issue 22 met it.

The user's table, in the reference trainer's layout: ``data/seattle-weather-2015q1.csv``
is the first quarter of 2015 of the Seattle weather table (``seattle-weather.csv`` of the
PyPI package vega_datasets 0.9.0, MIT licensed; one row a day: precipitation, temp_max,
temp_min, wind and a ``weather`` column of text), written here as one ``date=`` partition
per day. A manifest beside it runs the reference trainer with its columns in
``spec.trainer.args``. A misspelled hyperparameter,
a misspelled column and a text column given to ``--numeric`` are errors (exit 2) before
any trial starts; days missing inside a window are a warning with their count.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
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
SAMPLE = Path(__file__).with_name("data") / "seattle-weather-2015q1.csv"


def write_weather(folder: Path, skip: frozenset[dt.date] = frozenset()) -> None:
    """One partition per day of the sample (2015-01-01..2015-03-31, 90 days), but ``skip``."""
    header, *lines = SAMPLE.read_text().splitlines()
    for line in lines:
        day = dt.datetime.strptime(line.split(",", 1)[0], "%Y/%m/%d").date()
        if day in skip:
            continue
        part = folder / f"date={day}"
        part.mkdir(parents=True)
        (part / "part-0.csv").write_text(f"{header}\n{line}\n")


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
            "has: date, precipitation, temp_max, temp_min, wind, weather); check the column's "
            "name") in done.stderr
    manifest = write_manifest(project, numeric="precipitation,weather,wind")
    for command in (["validate", str(manifest)], run_args(manifest, project)):
        done = cli(command, project)
        assert done.returncode == 2, done.stderr
        assert ("sweep.yaml: spec.trainer.args: --numeric names column 'weather', which is not "
                "numeric in ") in done.stderr
        assert ": line 2 has 'sun'; give it to --categorical instead" in done.stderr
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


def test_the_real_trainer_on_the_sample_reports_its_baseline_to_the_report(
        project: Path) -> None:
    # The day's maximum temperature from its other measurements, with the reference
    # trainer: the baseline (the training mean's error) is recorded beside the objective
    # and the report measures each configuration from it.
    manifest = write_manifest(project, numeric="precipitation,temp_min,wind")
    text = manifest.read_text().replace("    learning_rate: {values: [0.01]}\n",
                                        "    learning_rate: {values: [0.01, 0.03]}\n"
                                        "    hidden_units: {values: [16]}\n"
                                        "    epochs: {values: [20]}\n")
    manifest.write_text(text)
    ran = cli(["run", str(manifest), "--results", str(project / "out"), "--parallel", "2",
               "-q"], project)
    assert ran.returncode == 0, ran.stderr
    folder = project / "out" / "team" / "weather"
    rows = list(csv.DictReader(io.StringIO((folder / "results.csv").read_text())))
    assert len(rows) == 2 and all(r["status"] == "succeeded" for r in rows)
    assert all(float(r["metric.baseline_val_mse"]) > 0 for r in rows)
    # Both trials saw the same validation rows, hence the same baseline.
    assert rows[0]["metric.baseline_val_mse"] == rows[1]["metric.baseline_val_mse"]
    report = cli(["report", str(folder), "--format", "json"], project)
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    assert data["baseline"]["metric"] == "baseline_val_mse"
    for config in ("c0000", "c0001"):
        versus = data["baseline"]["configs"][config]
        value = next(float(r["metric.val_mse"]) for r in rows if r["config"] == config)
        base = float(rows[0]["metric.baseline_val_mse"])
        assert versus["improvement"] == pytest.approx((base - value) / base)
    assert any("the naive baseline (baseline_val_mse" in line for line in data["verdict"])
