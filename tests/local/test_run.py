"""`tuningsweep run` end to end with a contract-following fake trainer (fast).

The real TensorFlow trainer runs in test_run_real_trainer.py; here the trainer is a tiny
script with a known objective, so rows, summaries, resumes and failures can be checked
exactly and quickly.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.local.conftest import write_grid
from tests.local.fake_trainer import objective
from tuningsweep.cli import main
from tuningsweep.commands import run as run_command_module
from tuningsweep.commands.common import EXIT_FAILED, EXIT_FAILURE_BUDGET, EXIT_SUSPENDED
from tuningsweep.core.records.results import parse_csv

ANCHOR = "2026-11-27"


def rows_of(results: Path, name: str = "grid") -> list[dict[str, str]]:
    text = (results / "team" / name / "results.csv").read_text()
    return list(csv.DictReader(io.StringIO(text)))


def run_cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tuningsweep.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=300)


def test_grid_sweep_one_row_per_trial_and_summary(tmp_path: Path, fake_command: str) -> None:
    manifest = write_grid(tmp_path)
    code = main(["run", str(manifest), "--results", str(tmp_path / "out"), "--today", ANCHOR,
                 "--trainer-command", fake_command, "--parallel", "3", "-q"])
    assert code == 0
    rows = rows_of(tmp_path / "out")
    assert sorted(r["trial"] for r in rows) == sorted(
        f"c{c:04d}-w{w}" for c in range(6) for w in range(2))
    for r in rows:
        assert r["status"] == "succeeded" and r["job"] == "local"
        params = {"learning_rate": float(r["param.learning_rate"]),
                  "hidden_units": int(r["param.hidden_units"])}
        assert float(r["metric.val_mse"]) == pytest.approx(objective(params, r["window_start"]))
        assert r["window_start"] in ("2026-10-01", "2026-09-01")
        assert r["model_uri"].endswith(f"/team/grid/models/{r['trial']}")
        assert float(r["duration_seconds"]) > 0
    folder = tmp_path / "out" / "team" / "grid"
    summary = list(csv.DictReader(io.StringIO((folder / "summary.csv").read_text())))
    assert len(summary) == 6
    best = summary[0]
    # Lowest learning rate with most units wins every window in the fake objective.
    assert best["param.learning_rate"] == "0.001" and best["param.hidden_units"] == "64"
    assert best["wins_all_windows"] == "true"
    assert (folder / "windows.json").exists() and (folder / "resolved-spec.yaml").exists()
    assert not list(folder.glob("*.tmp*")), "no temp files left behind"


def test_rerun_runs_nothing_and_later_month_keeps_windows(
    tmp_path: Path, fake_command: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifest = write_grid(tmp_path, max_configs=2)
    args = ["run", str(manifest), "--results", str(tmp_path / "out"), "--trainer-command",
            fake_command, "-q"]
    assert main([*args, "--today", ANCHOR]) == 0
    before = (tmp_path / "out" / "team" / "grid" / "results.csv").read_text()
    started = tmp_path / "started"
    started.mkdir()
    monkeypatch.setenv("FAKE_STARTED_DIR", str(started))
    # Months later, without --today: the pinned windows stay, nothing runs again.
    monkeypatch.setattr(run_command_module, "today", lambda: dt.date(2027, 3, 1))
    assert main(args) == 0
    # The same --today as the first run is no contradiction.
    assert main([*args, "--today", ANCHOR]) == 0
    assert list(started.iterdir()) == []
    assert (tmp_path / "out" / "team" / "grid" / "results.csv").read_text() == before


def test_today_contradicting_the_pinned_windows_is_an_error(
    tmp_path: Path, fake_command: str, capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = write_grid(tmp_path, max_configs=1)
    args = ["run", str(manifest), "--results", str(tmp_path / "out"), "--trainer-command",
            fake_command, "-q"]
    assert main([*args, "--today", ANCHOR]) == 0
    capsys.readouterr()
    before = (tmp_path / "out" / "team" / "grid" / "results.csv").read_text()
    assert main([*args, "--today", "2027-03-01"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --today: 2027-03-01 gives the windows w0 2027-02-01..2027-02-28")
    assert "pinned w0 2026-10-01..2026-10-31, w1 2026-09-01..2026-09-30" in err
    assert "--fresh" in err and "drop --today" in err
    assert (tmp_path / "out" / "team" / "grid" / "results.csv").read_text() == before


def test_fresh_starts_over_with_new_windows(tmp_path: Path, fake_command: str) -> None:
    manifest = write_grid(tmp_path, max_configs=1)
    args = ["run", str(manifest), "--results", str(tmp_path / "out"), "--trainer-command",
            fake_command, "-q"]
    assert main([*args, "--today", ANCHOR]) == 0
    assert main([*args, "--today", "2027-03-01", "--fresh"]) == 0
    assert {r["window_start"] for r in rows_of(tmp_path / "out")} == {"2027-02-01", "2027-01-01"}


def test_killed_runner_resumes_with_exactly_one_row_per_trial(
    tmp_path: Path, fake_command: str,
) -> None:
    manifest = write_grid(tmp_path)
    results = tmp_path / "out"
    args = ["run", str(manifest), "--results", str(results), "--today", ANCHOR,
            "--trainer-command", fake_command, "--parallel", "2", "-q"]
    proc = subprocess.Popen([sys.executable, "-m", "tuningsweep.cli", *args],
                            env={**os.environ, "FAKE_SLEEP": "0.5"})
    csv_path = results / "team" / "grid" / "results.csv"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if csv_path.exists() and len(parse_csv(csv_path.read_text())) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = parse_csv(csv_path.read_text())
    assert 3 <= len(partial) < 12
    done = run_cli(args, {"FAKE_SLEEP": "0.05"})
    assert done.returncode == 0, done.stderr
    rows = rows_of(results)
    assert len(rows) == 12 and len({r["trial"] for r in rows}) == 12
    # Rows recorded before the kill are kept as they were, not re-run.
    kept = {r.trial: r.finished_at for r in partial}
    assert all(r["finished_at"] == kept[r["trial"]] for r in rows if r["trial"] in kept)


def test_ctrl_c_stops_trials_writes_what_finished_and_exits_130(
    tmp_path: Path, fake_command: str,
) -> None:
    manifest = write_grid(tmp_path)
    results = tmp_path / "out"
    started = tmp_path / "started"
    started.mkdir()
    args = ["run", str(manifest), "--results", str(results), "--today", ANCHOR,
            "--trainer-command", fake_command, "--parallel", "2"]
    proc = subprocess.Popen([sys.executable, "-m", "tuningsweep.cli", *args],
                            env={**os.environ, "FAKE_SLEEP": "30", "FAKE_STARTED_DIR": str(started)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while len(list(started.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, out
    assert "run the same command to resume" in out
    assert "Traceback" not in out
    csv_path = results / "team" / "grid" / "results.csv"
    assert not csv_path.exists() or parse_csv(csv_path.read_text()) == []
    # The trainers were stopped, not orphaned: none of them finishes later.
    time.sleep(0.5)
    assert not any((results / "team" / "grid" / "trials").glob("*/metrics.jsonl"))
    done = run_cli([*args, "-q"], {"FAKE_SLEEP": "0.05"})
    assert done.returncode == 0 and len(rows_of(results)) == 12


def test_failed_trials_recorded_then_budget_stops_the_run(tmp_path: Path, fake_command: str) -> None:
    manifest = write_grid(tmp_path, max_failed=1)
    results = tmp_path / "out"
    args = ["run", str(manifest), "--results", str(results), "--today", ANCHOR,
            "--trainer-command", fake_command, "--parallel", "1", "-q"]
    first = run_cli(args, {"FAKE_FAIL_CONFIGS": "c0001"})
    assert first.returncode == EXIT_FAILURE_BUDGET == 3  # distinct: the budget stopped it
    assert "2 trials failed, more than spec.maxFailedTrials (1): c0001-w0: " in first.stderr
    assert "; c0001-w1: trainer exit status 1" in first.stderr
    rows = {r["trial"]: r for r in rows_of(results)}
    assert rows["c0001-w0"]["status"] == "failed"
    assert "exit status 1" in rows["c0001-w0"]["error"]
    assert "simulated failure in c0001" in rows["c0001-w0"]["error"]
    assert rows["c0001-w0"]["metric.val_mse"] == ""
    assert "c0002-w0" not in rows
    # Fixed: run again retrying the failures; everything completes.
    second = run_cli([*args, "--retry-failed"])
    assert second.returncode == 0, second.stderr
    rows = {r["trial"]: r for r in rows_of(results)}
    assert len(rows) == 12 and all(r["status"] == "succeeded" for r in rows.values())


def test_a_trial_failing_on_bad_input_stops_the_run_at_once(
    tmp_path: Path, fake_command: str,
) -> None:
    manifest = write_grid(tmp_path, max_failed=5)
    results = tmp_path / "out"
    args = ["run", str(manifest), "--results", str(results), "--today", ANCHOR,
            "--trainer-command", fake_command, "--parallel", "1", "-q"]
    done = run_cli(args, {"FAKE_BAD_INPUT_CONFIGS": "c0001"})
    # Exit status 2 is bad input: no retry fixes it, so maxFailedTrials (5) is not waited for.
    assert done.returncode == 2
    assert ("error: sweep team/grid stopped: trial c0001-w0 failed on bad input (the "
            "trainer's exit status 2, which no retry fixes): trainer exit status 2: "
            "BadInputError: no data for the window of c0001-w0\n") in done.stderr
    assert "--retry-failed" in done.stderr
    rows = {r["trial"]: r for r in rows_of(results)}
    assert sorted(rows) == ["c0000-w0", "c0000-w1", "c0001-w0"]
    assert rows["c0001-w0"]["error"].startswith("bad input: trainer exit status 2: ")
    # Resumed without a fix and without --retry-failed: it stops again, as it should.
    again = run_cli(args)
    assert again.returncode == 2 and "failed on bad input" in again.stderr
    # Fixed, the failure is retried and the sweep completes.
    fixed = run_cli([*args, "--retry-failed"])
    assert fixed.returncode == 0, fixed.stderr
    assert len(rows_of(results)) == 12


def test_failures_within_budget_complete_the_sweep_and_exit_1(
    tmp_path: Path, fake_command: str,
) -> None:
    manifest = write_grid(tmp_path, max_configs=2, max_failed=3)
    done = run_cli(["run", str(manifest), "--results", str(tmp_path / "o"), "--today", ANCHOR,
                    "--trainer-command", fake_command, "-q"], {"FAKE_FAIL_CONFIGS": "c0000"})
    # pytest's habit: 0 only when every trial succeeded; a script must not read success.
    assert done.returncode == EXIT_FAILED == 1
    summary = done.stderr.splitlines()[0]
    assert summary.startswith("error: 2 of 4 trials failed: c0000-w0: trainer exit status 1")
    assert "simulated failure in c0000" in summary and summary.endswith("(also failed: c0000-w1)")
    statuses = sorted((r["trial"], r["status"]) for r in rows_of(tmp_path / "o"))
    assert statuses == [("c0000-w0", "failed"), ("c0000-w1", "failed"),
                        ("c0001-w0", "succeeded"), ("c0001-w1", "succeeded")]


def test_auto_mode_runs_its_second_stage(tmp_path: Path, fake_command: str) -> None:
    manifest = tmp_path / "auto.yaml"
    manifest.write_text("""\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {name: auto, namespace: team}
spec:
  architecture: mlp
  windows: {rolling: {count: 1, months: 1}}
  search: {algorithm: auto, maxConfigs: 4, seed: 1}
""")
    code = main(["run", str(manifest), "--results", str(tmp_path / "o"), "--today", ANCHOR,
                 "--trainer-command", fake_command, "-q"])
    assert code == 0
    rows = sorted(rows_of(tmp_path / "o", "auto"), key=lambda r: r["trial"])
    assert [r["trial"] for r in rows] == ["c0000-w0", "c0001-w0", "c0002-w0", "c0003-w0"]
    stage1 = rows[:2]
    best = min(stage1, key=lambda r: float(r["metric.val_mse"]))
    for r in rows[2:]:
        assert r["param.learning_rate"] == best["param.learning_rate"]
        assert r["param.hidden_units"] != ""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--results", "/proc/not-writable"], "--results"),
        (["--trainer-command", "no-such-trainer-xyz"], "command 'no-such-trainer-xyz' not found"),
    ],
)
def test_bad_input_fails_before_training(
    tmp_path: Path, fake_command: str, extra: list[str], message: str,
) -> None:
    manifest = write_grid(tmp_path)
    base = ["run", str(manifest), "--today", ANCHOR, "--trainer-command", fake_command,
            "--results", str(tmp_path / "out")]
    # Later options win in argparse, so `extra` overrides the defaults above.
    done = run_cli([*base, *extra])
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out" / "team").exists()


def test_invalid_manifest_same_messages_as_validate(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("architecture: mlp\nparameters:\n  dropout: {min: 0.5, max: 0.1}\n")
    ran = run_cli(["run", str(bad), "--results", str(tmp_path / "o")])
    validated = run_cli(["validate", str(bad)])
    assert ran.returncode == validated.returncode == 2
    assert ran.stderr == validated.stderr


def test_reference_trainer_parameters_checked_before_training(tmp_path: Path) -> None:
    bad = tmp_path / "typo.yaml"
    bad.write_text("architecture: mlp\nparameters:\n  learnin_rate: {values: [0.1]}\n"
                   "  dropout: {values: [0.99]}\n")
    done = run_cli(["run", str(bad), "--results", str(tmp_path / "o")])
    assert done.returncode == 2
    assert "spec.parameters.learnin_rate: unknown hyperparameter 'learnin_rate'" in done.stderr
    assert "spec.parameters.dropout: hyperparameter 'dropout' must be <= 0.95" in done.stderr


def test_results_folder_of_a_different_sweep_is_refused(tmp_path: Path, fake_command: str) -> None:
    manifest = write_grid(tmp_path, max_configs=1)
    args = ["run", str(manifest), "--results", str(tmp_path / "o"), "--today", ANCHOR,
            "--trainer-command", fake_command, "-q"]
    assert main(args) == 0
    manifest.write_text(manifest.read_text().replace("seed: 3", "seed: 4"))
    done = run_cli(args)
    assert done.returncode == 2 and "spec.search: differs from the sweep" in done.stderr
    # Mutable fields may change between runs.
    manifest.write_text(manifest.read_text().replace("seed: 4", "seed: 3").replace(
        "maxFailedTrials: 3", "maxFailedTrials: 5"))
    assert run_cli(args).returncode == 0


def test_results_override_keeps_models_beside_results(tmp_path: Path, fake_command: str) -> None:
    manifest = write_grid(tmp_path, max_configs=1)
    manifest.write_text(manifest.read_text() + "  output: {models: gs://somebody-elses-bucket/m}\n")
    done = run_cli(["run", str(manifest), "--results", str(tmp_path / "o"), "--today", ANCHOR,
                    "--trainer-command", fake_command, "-q"])
    assert done.returncode == 0, done.stderr
    assert all(r["model_uri"].startswith(str(tmp_path / "o" / "team" / "grid" / "models"))
               for r in rows_of(tmp_path / "o"))


def test_unwritable_models_location_fails_before_training(
    tmp_path: Path, fake_command: str,
) -> None:
    manifest = write_grid(tmp_path, max_configs=1)
    started = tmp_path / "started"
    started.mkdir()
    done = run_cli(["run", str(manifest), "--results", str(tmp_path / "o"), "--models",
                    "/proc/no-models-here", "--trainer-command", fake_command],
                   {"FAKE_STARTED_DIR": str(started)})
    assert done.returncode == 2 and "--models" in done.stderr
    assert list(started.iterdir()) == []


def test_error_column_shows_the_error_not_the_progress(tmp_path: Path) -> None:
    trainer = tmp_path / "noisy.sh"
    trainer.write_text("#!/bin/sh\nfor i in $(seq 1 30); do echo \"epoch $i loss=0.1\"; done\n"
                       "echo 'trainer: error: could not save the model to gs://x: denied'\n"
                       "exit 1\n")
    trainer.chmod(0o755)
    manifest = write_grid(tmp_path, max_configs=1)
    run_cli(["run", str(manifest), "--results", str(tmp_path / "o"), "--trainer-command",
             str(trainer), "-q"])
    (row, *_) = rows_of(tmp_path / "o")
    assert row["error"] == ("trainer exit status 1: trainer: error: could not save the model "
                            "to gs://x: denied")


def test_retry_failed_runs_each_earlier_failure_once(tmp_path: Path, fake_command: str) -> None:
    manifest = write_grid(tmp_path, max_configs=2, max_failed=5)
    args = ["run", str(manifest), "--results", str(tmp_path / "o"), "--today", ANCHOR,
            "--trainer-command", fake_command, "-q"]
    started = tmp_path / "started"
    started.mkdir()
    env = {"FAKE_FAIL_CONFIGS": "c0000", "FAKE_STARTED_DIR": str(started)}
    first = run_cli(args, env)
    assert first.returncode == 1
    assert "failed again" not in first.stderr
    for marker in started.iterdir():
        marker.unlink()
    again = run_cli([*args, "--retry-failed"], env)  # still failing: retried once, not looped
    assert again.returncode == 1, again.stderr
    assert sorted(p.name for p in started.iterdir()) == ["c0000-w0.started", "c0000-w1.started"]
    # The same failure on a resume: the hint names the pinned windows and --fresh.
    assert ("hint: c0000-w0, c0000-w1 failed again with the same error; if the windows "
            "pinned by the first run (w0 2026-10-01..2026-10-31, w1 2026-09-01..2026-09-30) "
            "are the cause, --fresh") in again.stderr


def test_foreign_results_file_is_a_clear_error(tmp_path: Path, fake_command: str) -> None:
    manifest = write_grid(tmp_path, max_configs=1)
    folder = tmp_path / "o" / "team" / "grid"
    folder.mkdir(parents=True)
    (folder / "results.csv").write_text("name,value\nx,1\n")
    done = run_cli(["run", str(manifest), "--results", str(tmp_path / "o"),
                    "--trainer-command", fake_command])
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "not a results CSV" in done.stderr and "--fresh" in done.stderr


def test_all_succeeded_exits_0_with_no_error_lines(tmp_path: Path, fake_command: str) -> None:
    manifest = write_grid(tmp_path, max_configs=1)
    done = run_cli(["run", str(manifest), "--results", str(tmp_path / "o"), "--today", ANCHOR,
                    "--trainer-command", fake_command, "-q"])
    assert done.returncode == 0 and done.stderr == ""


def test_suspended_sweep_starts_nothing_and_says_so(tmp_path: Path, fake_command: str) -> None:
    manifest = write_grid(tmp_path, max_configs=1)
    manifest.write_text(manifest.read_text() + "  suspend: true\n")
    started = tmp_path / "started"
    started.mkdir()
    done = run_cli(["run", str(manifest), "--results", str(tmp_path / "o"), "--today", ANCHOR,
                    "--trainer-command", fake_command], {"FAKE_STARTED_DIR": str(started)})
    assert done.returncode == EXIT_SUSPENDED == 4, done.stderr
    assert "suspended: sweep team/grid has spec.suspend: true, so no trial started" in done.stderr
    assert list(started.iterdir()) == []


RACING = """\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {name: race, namespace: team}
spec:
  architecture: mlp
  windows: {rolling: {count: 3, months: 1}}
  search: {algorithm: grid, seed: 3, racing: {}}
  parameters:
    learning_rate: {values: [0.001, 0.01, 0.1, 0.3]}
    hidden_units: {values: [16, 64]}
"""


def test_the_end_of_a_racing_run_says_what_racing_saved(
    tmp_path: Path, fake_command: str,
) -> None:
    manifest = tmp_path / "race.yaml"
    manifest.write_text(RACING)
    done = run_cli(["run", str(manifest), "--results", str(tmp_path / "o"), "--today", ANCHOR,
                    "--trainer-command", fake_command], {"FAKE_SLEEP": "0"})
    assert done.returncode == 0, done.stderr
    rows = rows_of(tmp_path / "o", "race")
    eliminated = [r for r in csv.DictReader(io.StringIO(
        (tmp_path / "o" / "team" / "race" / "summary.csv").read_text()))
        if r["status"] == "eliminated"]
    # 8 configurations x 3 windows without racing; the clearly-behind stopped early.
    assert eliminated and len(rows) < 24
    assert (f"racing: {len(rows)} of 24 trials trained, {24 - len(rows)} skipped "
            f"({len(eliminated)} of 8 configurations eliminated)") in done.stdout


def test_the_report_reads_racings_eliminations_from_the_run_it_reports(
    tmp_path: Path, fake_command: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from tuningsweep.reports import sources

    manifest = tmp_path / "race.yaml"
    manifest.write_text(RACING)
    done = run_cli(["run", str(manifest), "--results", str(tmp_path / "o"), "--today", ANCHOR,
                    "--trainer-command", fake_command], {"FAKE_SLEEP": "0"})
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "o" / "team" / "race"
    recorded = {r["config"]: (r["eliminated_at"], r["elimination_reason"])
                for r in csv.DictReader(io.StringIO((folder / "summary.csv").read_text()))
                if r["status"] == "eliminated"}
    assert recorded

    def report() -> dict[str, tuple[str, str]]:
        assert main(["report", str(folder), "--format", "json"]) == 0
        configs = json.loads(capsys.readouterr().out)["configs"]
        return {c["config"]: (c["eliminated_at"], c["elimination_reason"]) for c in configs
                if c["status"] == "eliminated"}

    # The race as the runner ran it, from summary.csv: the planner is not replayed.
    def no_replay(*args: object) -> None:
        raise AssertionError("the report replayed the planner")

    with monkeypatch.context() as patched:
        patched.setattr(sources, "eliminations", no_replay)
        assert report() == recorded
    # Results without a summary (an older runner's) have the race replayed from the rows.
    (folder / "summary.csv").unlink()
    assert report() == recorded
