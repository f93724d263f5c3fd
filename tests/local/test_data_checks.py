"""Windows checked against the data before any training, as a user meets it.

A data folder of daily CSV partitions (the reference trainer's layout), a manifest
beside it with ``data:`` relative to the manifest, and the commands run from another
folder: ``validate``, ``plan`` and ``run`` see a window without data (an error) or
half outside the data (a warning) before a single trial starts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from google.cloud import storage

from tests.local.conftest import FAKE_TRAINER

MANIFEST = """\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {{name: own, namespace: team}}
spec:
  architecture: mlp
  windows:
    ranges:
{ranges}
  search: {{algorithm: grid, seed: 1}}
  parameters:
    learning_rate: {{values: [0.01]}}
{trainer}  data: {data}
"""
OWN_TRAINER = "  trainer:\n    command: [{python}, {script}]\n"


def write_data(folder: Path, first: dt.date, days: int, rows: int = 3) -> None:
    """``days`` daily partitions from ``first``, ``rows`` rows each (and a header)."""
    for i in range(days):
        day = first + dt.timedelta(days=i)
        part = folder / f"date={day}"
        part.mkdir(parents=True)
        lines = ["x,target", *(f"{j},{j * 2}" for j in range(rows))]
        (part / "part-0.csv").write_text("\n".join(lines) + "\n")
    (folder / "_SUCCESS").write_text("")  # other entries are ignored


def write_manifest(folder: Path, ranges: list[tuple[str, str]], data: str = "data",
                   own_trainer: bool = True) -> Path:
    """The manifest; ``own_trainer``: the fake trainer as spec.trainer.command, else the
    reference trainer (which reads only the partition layout, so it is always checked)."""
    text = "\n".join(f"      - {{start: {a}, end: {b}}}" for a, b in ranges)
    trainer = OWN_TRAINER.format(python=sys.executable, script=FAKE_TRAINER) if own_trainer else ""
    path = folder / "sweep.yaml"
    path.write_text(MANIFEST.format(ranges=text, data=data, trainer=trainer))
    return path


def cli(args: list[str], cwd: Path, env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[2]
    path = os.pathsep.join([str(root), str(root / "operator"), os.environ.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "tuningsweep.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": path, **(env or {})})


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """``project/data`` holds January and February 2026; the caller writes the manifest."""
    folder = tmp_path / "project"
    write_data(folder / "data", dt.date(2026, 1, 1), 59)
    (tmp_path / "elsewhere").mkdir()
    return folder


def test_plan_shows_days_and_rows_per_window(project: Path) -> None:
    manifest = write_manifest(project, [("2026-01-01", "2026-01-31"),
                                        ("2026-02-01", "2026-03-31")])
    done = cli(["plan", str(manifest)], project.parent / "elsewhere", {"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert "days with data" in done.stdout and "rows" in done.stdout
    w0 = next(line for line in done.stdout.splitlines() if "2026-01-31" in line)
    assert "31/31" in w0 and "93" in w0  # 31 days x 3 rows
    assert ("warning: spec.data: window w1 (2026-02-01..2026-03-31) is only partly covered "
            f"by {project / 'data'} (its data spans 2026-01-01..2026-02-28): its trials train "
            "on 28 of its 59 days") in done.stderr
    as_json = json.loads(cli(["plan", str(manifest), "-o", "json"], project).stdout)
    assert as_json["windows"][1] == {"id": "w1", "start": "2026-02-01", "end": "2026-03-31",
                                     "days": 28, "calendarDays": 59, "rows": 84}


@pytest.mark.parametrize("command", ["validate", "plan", "run"])
def test_a_window_without_data_is_an_error_before_training(project: Path, command: str) -> None:
    manifest = write_manifest(project, [("2026-01-01", "2026-01-31"),
                                        ("2026-06-01", "2026-06-30")])
    started = project / "started"
    started.mkdir()
    extra = ["--results", str(project / "out")] if command == "run" else []
    done = cli([command, str(manifest), *extra], project.parent / "elsewhere",
               {"FAKE_STARTED_DIR": str(started)})
    assert done.returncode == 2, done.stdout + done.stderr
    assert (f"error: {manifest}: spec.data: {project / 'data'} has no data for window w1 "
            "(2026-06-01..2026-06-30) (its data spans 2026-01-01..2026-02-28); choose windows "
            "the data covers") in done.stderr
    assert "Traceback" not in done.stderr
    assert list(started.iterdir()) == []


def test_relative_data_resolves_against_the_manifest_folder(project: Path) -> None:
    manifest = write_manifest(project, [("2026-01-01", "2026-01-31")])
    elsewhere = project.parent / "elsewhere"
    ok = cli(["validate", str(manifest)], elsewhere)
    assert ok.returncode == 0 and ok.stderr == "", ok.stderr
    assert ok.stdout == "ok: own: 1 configurations x 1 window = 1 trials\n"
    # The trials get it resolved, and spec.trainer.command's relative path (check.sh,
    # beside the manifest) works from another folder too.
    (project / "check.sh").write_text(
        '#!/bin/sh\n[ -d "$TUNINGSWEEP_DATA/date=2026-01-01" ] || '
        '{ echo "error: no data in $TUNINGSWEEP_DATA"; exit 2; }\n'
        f'exec {sys.executable} {FAKE_TRAINER}\n')
    manifest.write_text(manifest.read_text().replace(
        f"command: [{sys.executable}, {FAKE_TRAINER}]", "command: [sh, check.sh]"))
    run = cli(["run", str(manifest), "--results", str(project / "out"), "-q"], elsewhere)
    assert run.returncode == 0, run.stderr


def test_a_missing_data_folder_names_spec_data_and_the_resolved_path(project: Path) -> None:
    manifest = write_manifest(project, [("2026-01-01", "2026-01-31")], data="../no-such-data",
                              own_trainer=False)
    for command in ("validate", "run"):
        done = cli([command, str(manifest)], project / "data")
        assert done.returncode == 2
        resolved = project.parent / "no-such-data"
        assert (f"spec.data: {resolved} does not exist or is not a folder; give an existing "
                "folder; a relative spec.data is relative to the manifest's folder") in done.stderr


def test_data_override_is_relative_to_the_current_folder(project: Path) -> None:
    manifest = write_manifest(project, [("2026-01-01", "2026-01-31")], data="/nowhere")
    done = cli(["run", str(manifest), "--data", "data", "--results", str(project / "out"),
                "-q"], project)
    assert done.returncode == 0, done.stderr


def test_synthetic_data_is_not_listed(project: Path) -> None:
    manifest = write_manifest(project, [("2030-01-01", "2030-01-31")],
                              data="synthetic://ctr?seed=1")
    done = cli(["validate", str(manifest)], project)
    assert done.returncode == 0 and done.stderr == ""


def test_gcs_data_is_checked_too(project: Path, gcs_bucket: str,
                                 gcs_client: storage.Client) -> None:
    bucket = gcs_client.bucket(gcs_bucket)
    for day in range(1, 32):
        bucket.blob(f"flights/date=2026-01-{day:02d}/part-0.csv").upload_from_string("x\n1\n")
    manifest = write_manifest(project, [("2026-01-01", "2026-01-31"),
                                        ("2026-06-01", "2026-06-30")],
                              data=f"gs://{gcs_bucket}/flights")
    planned = cli(["plan", str(manifest), "-o", "json"], project)
    assert planned.returncode == 2
    assert f"gs://{gcs_bucket}/flights has no data for window w1" in planned.stderr
    manifest = write_manifest(project, [("2026-01-01", "2026-01-31")],
                              data=f"gs://{gcs_bucket}/flights")
    windows = json.loads(cli(["plan", str(manifest), "-o", "json"], project).stdout)["windows"]
    assert windows[0]["days"] == 31 and windows[0]["rows"] is None  # not downloaded to count
    # A bucket this machine cannot list may be the cluster's: validate only warns...
    manifest = write_manifest(project, [("2026-01-01", "2026-01-31")],
                              data="gs://no-such-bucket-here/flights", own_trainer=False)
    validated = cli(["validate", str(manifest)], project)
    assert validated.returncode == 0
    assert validated.stderr.startswith("warning: spec.data: not checked against the windows: "
                                       "GCS bucket 'no-such-bucket-here' does not exist")
    # ...run needs the data, so there it is an error, before any trial.
    ran = cli(["run", str(manifest), "--results", str(project / "out")], project)
    assert ran.returncode == 2 and "spec.data: GCS bucket 'no-such-bucket-here'" in ran.stderr


def test_own_trainer_data_that_is_not_a_partition_folder_is_passed_on(project: Path) -> None:
    # A trainer of your own may read a table name or a file from spec.data.
    manifest = write_manifest(project, [("2026-01-01", "2026-01-31")],
                              data="analytics.flights_daily")
    (project / "check.sh").write_text(
        '#!/bin/sh\n[ "$TUNINGSWEEP_DATA" = analytics.flights_daily ] || exit 2\n'
        f'exec {sys.executable} {FAKE_TRAINER}\n')
    manifest.write_text(manifest.read_text().replace(
        f"command: [{sys.executable}, {FAKE_TRAINER}]", "command: [sh, check.sh]"))
    assert cli(["validate", str(manifest)], project).stderr == ""
    ran = cli(["run", str(manifest), "--results", str(project / "out"), "-q"], project)
    assert ran.returncode == 0, ran.stderr


def test_the_reference_trainer_needs_the_partition_layout(project: Path) -> None:
    (project / "flat").mkdir()
    (project / "flat" / "flights.csv").write_text("x,target\n1,2\n")
    manifest = write_manifest(project, [("2026-01-01", "2026-01-31")], data="flat",
                              own_trainer=False)
    done = cli(["validate", str(manifest)], project)
    assert done.returncode == 2
    assert (f"spec.data: {project / 'flat'} has no data for window w0 (2026-01-01..2026-01-31)"
            " (it has no date=YYYY-MM-DD folders)") in done.stderr
