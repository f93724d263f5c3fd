"""`tuningsweep run` on a recurring sweep, month after month with --today (fake trainer)."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tuningsweep.cli import main
from tuningsweep.core.records.results import parse_csv
from tuningsweep.core.recurring.history import parse_history

RECURRING = """\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {{name: rec, namespace: team}}
spec:
  architecture: mlp
  schedule: '0 6 1 * *'
  windows: {{rolling: {{count: 3, months: 1}}}}
  search: {{algorithm: grid, seed: 3, warmStart: {warm}}}
  parameters:
    learning_rate: {{values: [0.001, 0.01, 0.1]}}
    hidden_units: {{values: [16, 64]}}
"""


def write(folder: Path, warm: str = "{}") -> Path:
    path = folder / "rec.yaml"
    path.write_text(RECURRING.format(warm=warm))
    return path


def rows_of(results: Path, run: str) -> list[dict[str, str]]:
    text = (results / "team" / "rec" / "runs" / run / "results.csv").read_text()
    return list(csv.DictReader(io.StringIO(text)))


def history_of(results: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((results / "team" / "rec" / "history.csv").read_text())))


def test_next_month_reuses_the_shared_windows_and_says_so(
    tmp_path: Path, fake_command: str, capsys: pytest.CaptureFixture[str],
) -> None:
    manifest, results = write(tmp_path), tmp_path / "out"
    args = ["run", str(manifest), "--results", str(results), "--trainer-command", fake_command,
            "--parallel", "3"]
    assert main([*args, "--today", "2026-07-20", "-q"]) == 0
    july = rows_of(results, "2026-07-01")
    assert len(july) == 18 and not any(r["reused_from"] for r in july)
    assert main([*args, "--today", "2026-08-01"]) == 0
    shown = capsys.readouterr().out
    august = rows_of(results, "2026-08-01")
    reused = [r for r in august if r["reused_from"]]
    # June and May are August's w1 and w2, July's w0 and w1: 6 configurations x 2 windows.
    assert len(august) == 18 and len(reused) == 12
    assert {r["reused_from"] for r in reused} == {"2026-07-01"}
    assert {r["window_start"] for r in reused} == {"2026-06-01", "2026-05-01"}
    trained_again = {(r["param.learning_rate"], r["param.hidden_units"], r["window_start"]):
                     r["metric.val_mse"] for r in july}
    for r in reused:  # the very rows July trained
        key = (r["param.learning_rate"], r["param.hidden_units"], r["window_start"])
        assert r["metric.val_mse"] == trained_again[key]
    assert "reused from run 2026-07-01" in shown
    assert "trials: 6 trained, 12 reused" in shown and "verdict: keep the champion" in shown
    history = history_of(results)
    assert [h["run"] for h in history] == ["2026-07-01", "2026-08-01"]
    assert [(h["trained"], h["reused"]) for h in history] == [("18", "0"), ("6", "12")]
    assert [h["verdict"] for h in history] == ["first", "keep"]
    # warm start: the champion is the August plan's first configuration
    champion = json.loads(history[0]["champion_params"])
    first = next(r for r in august if r["config"] == "c0000")
    assert {"learning_rate": float(first["param.learning_rate"]),
            "hidden_units": int(first["param.hidden_units"])} == champion


def test_report_on_the_sweep_folder_gives_the_history(
    tmp_path: Path, fake_command: str, capsys: pytest.CaptureFixture[str],
) -> None:
    manifest, results = write(tmp_path), tmp_path / "out"
    for today in ("2026-07-01", "2026-08-01"):
        assert main(["run", str(manifest), "--results", str(results), "--trainer-command",
                     fake_command, "--today", today, "-q"]) == 0
    capsys.readouterr()
    folder = str(results / "team" / "rec")
    assert main(["report", folder, "--format", "json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [r["run"] for r in runs] == ["2026-07-01", "2026-08-01"]
    for key in ("run", "windows", "best", "best_params", "objective", "changed",
                "significant", "p_value", "trained", "reused"):
        assert all(key in r for r in runs), key
    assert runs[1]["reused"] == 12 and runs[1]["changed"] is False
    assert main(["report", folder]) == 0
    table = capsys.readouterr().out
    assert "2026-08-01" in table and "keep the champion" in table
    page = tmp_path / "history.html"
    assert main(["report", folder, "--format", "html", "--out", str(page)]) == 0
    assert 'id="winner-over-runs"' in page.read_text()
    # a run's own folder still gives its leaderboard
    assert main(["report", f"{folder}/runs/2026-08-01", "--format", "json"]) == 0
    leaderboard = json.loads(capsys.readouterr().out)
    assert leaderboard["best"] == runs[1]["best"] and len(leaderboard["configs"]) == 6


@pytest.mark.parametrize("how", ["--no-reuse", "warmStart"])
def test_reuse_can_be_turned_off(tmp_path: Path, fake_command: str, how: str) -> None:
    manifest = write(tmp_path, "{reuse: false}" if how == "warmStart" else "{}")
    results = tmp_path / "out"
    extra = ["--no-reuse"] if how == "--no-reuse" else []
    for today in ("2026-07-01", "2026-08-01"):
        assert main(["run", str(manifest), "--results", str(results), "--trainer-command",
                     fake_command, "--today", today, "-q", *extra]) == 0
    assert not any(r["reused_from"] for r in rows_of(results, "2026-08-01"))
    assert [h["reused"] for h in history_of(results)] == ["0", "0"]


def test_a_rerun_of_the_same_month_trains_nothing_and_adds_no_history_row(
    tmp_path: Path, fake_command: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifest, results = write(tmp_path), tmp_path / "out"
    args = ["run", str(manifest), "--results", str(results), "--trainer-command", fake_command,
            "-q"]
    assert main([*args, "--today", "2026-07-01"]) == 0
    started = tmp_path / "started"
    started.mkdir()
    monkeypatch.setenv("FAKE_STARTED_DIR", str(started))
    # any day before the next slot is the same run
    assert main([*args, "--today", "2026-07-31"]) == 0
    assert not list(started.iterdir())
    assert [h["run"] for h in history_of(results)] == ["2026-07-01"]


def test_killed_mid_run_then_rerun_loses_and_duplicates_nothing(
    tmp_path: Path, fake_command: str,
) -> None:
    manifest, results = write(tmp_path), tmp_path / "out"
    base = ["run", str(manifest), "--results", str(results), "--trainer-command", fake_command,
            "--parallel", "2", "-q"]
    assert main([*base, "--today", "2026-07-01"]) == 0
    august = [*base, "--today", "2026-08-01"]
    proc = subprocess.Popen([sys.executable, "-m", "tuningsweep.cli", *august],
                            env={**os.environ, "FAKE_SLEEP": "0.5"})
    csv_path = results / "team" / "rec" / "runs" / "2026-08-01" / "results.csv"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if csv_path.exists() and len(parse_csv(csv_path.read_text())) >= 13:
            break  # the 12 reused rows and at least one trained one
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(parse_csv(csv_path.read_text())) < 18
    assert len(parse_history((results / "team" / "rec" / "history.csv").read_text())) == 1
    done = subprocess.run([sys.executable, "-m", "tuningsweep.cli", *august],
                          env={**os.environ, "FAKE_SLEEP": "0.05"}, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = rows_of(results, "2026-08-01")
    assert len(rows) == 18 and len({r["trial"] for r in rows}) == 18
    assert sum(1 for r in rows if r["reused_from"]) == 12
    history = history_of(results)
    assert [(h["run"], h["trained"], h["reused"]) for h in history] == [
        ("2026-07-01", "18", "0"), ("2026-08-01", "6", "12")]


def test_changed_data_is_trained_again(tmp_path: Path, fake_command: str) -> None:
    """A window whose partition listing changed is not reused (a late partition)."""
    data = tmp_path / "data"
    for day in ("2026-04-10", "2026-05-10", "2026-06-10", "2026-07-10"):
        (data / f"date={day}").mkdir(parents=True)
        (data / f"date={day}" / "part.csv").write_text("x\n1\n")
    manifest, results = write(tmp_path), tmp_path / "out"
    args = ["run", str(manifest), "--results", str(results), "--trainer-command", fake_command,
            "--data", str(data), "-q"]
    assert main([*args, "--today", "2026-07-01"]) == 0
    (data / "date=2026-05-20").mkdir()
    (data / "date=2026-05-20" / "part.csv").write_text("x\n2\n")  # May got a late day
    assert main([*args, "--today", "2026-08-01"]) == 0
    reused = {r["window_start"] for r in rows_of(results, "2026-08-01") if r["reused_from"]}
    assert reused == {"2026-06-01"}


def test_plan_previews_the_run_of_the_latest_slot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = tmp_path / "mid.yaml"
    manifest.write_text(RECURRING.format(warm="{}").replace("'0 6 1 * *'", "'0 6 15 * *'"))
    # 10 July is before July's slot: the run is 2026-06-15, whose last complete month is May
    assert main(["plan", str(manifest), "--today", "2026-07-10", "--format", "json"]) == 0
    windows = json.loads(capsys.readouterr().out)["windows"]
    assert [w["start"] for w in windows] == ["2026-05-01", "2026-04-01", "2026-03-01"]
    assert main(["plan", str(manifest), "--today", "2026-07-15", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["windows"][0]["start"] == "2026-06-01"
