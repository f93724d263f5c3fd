"""``tuningsweep report`` end to end: inputs, objective resolution, errors, gs://."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from google.cloud import storage

from tuningsweep.core.records.layout import SPEC_YAML
from tuningsweep.reports import add_report_parser, report_command
from tuningsweep.reports.objective import ObjectiveError, infer_goal, resolve_objective

from .conftest import PARAMS, TABLE
from .synthetic import history, rows_from_table, write_results


def run_json(capsys: pytest.CaptureFixture[str], *args: str | None, **options: object) -> dict[str, object]:
    code = report_command(str(args[0]), "json", *args[1:], **options)  # type: ignore[arg-type]
    captured = capsys.readouterr()
    assert code == 0, captured.err
    data: dict[str, object] = json.loads(captured.out)
    return data


def test_folder_file_and_curves(results_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from_folder = run_json(capsys, str(results_dir))
    from_file = run_json(capsys, str(results_dir / "results.csv"))
    assert from_folder["best"] == from_file["best"] == "c0001"
    curves = from_folder["curves"]
    assert isinstance(curves, dict) and curves["trials"] == 13


def test_writes_out_file(results_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for fmt in ("table", "json", "html"):
        out = tmp_path / f"report.{fmt}"
        assert report_command(str(results_dir), fmt, str(out), None, None) == 0
        assert "c0001" in out.read_text()
    assert capsys.readouterr().out == ""
    assert "\x1b[" not in (tmp_path / "report.table").read_text()  # no colour codes in files


def test_missing_histories_are_fine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_results(tmp_path, rows_from_table(TABLE, PARAMS, model_root=str(tmp_path / "gone")))
    data = run_json(capsys, str(tmp_path))
    assert data["curves"] is None
    assert any("No learning curves" in line for line in data["verdict"])  # type: ignore[attr-defined]
    no_curves = run_json(capsys, str(tmp_path), curves=False)
    assert no_curves["curves"] is None


def test_history_sample_is_capped(results_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, str(results_dir), max_curves=4)
    curves = data["curves"]
    # The best configuration's 3 trials are always read, plus a sample up to the cap.
    assert isinstance(curves, dict) and curves["trials"] == 4


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "nope.csv", "no such file"),
    (lambda d: d / "nope", "no such file or folder"),
    (lambda d: d, "no results.csv there"),
])
def test_missing_inputs_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               make: object, message: str) -> None:
    target = make(tmp_path)  # type: ignore[operator]
    assert report_command(str(target), "table", None, None, None) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_not_a_results_csv_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "results.csv"
    bad.write_text("a,b\n1,2\n")
    assert report_command(str(bad), "json", None, None, None) == 2
    assert "is not a results CSV" in capsys.readouterr().err
    bad.write_bytes(b"\xff\xfe\x00garbage")
    assert report_command(str(bad), "json", None, None, None) == 2
    assert "not UTF-8" in capsys.readouterr().err



def test_an_emptied_results_csv_is_a_sweep_without_trials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "results.csv").write_text("")  # what `run --fresh` leaves behind
    data = run_json(capsys, str(tmp_path))
    assert data["configs"] == [] and data["best"] is None


def test_unknown_metric_exits_2(results_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert report_command(str(results_dir), "json", None, "auc", "maximize") == 2
    err = capsys.readouterr().err
    assert "metric 'auc' is not in the results" in err and "val_mse" in err


def test_options_override_the_spec(results_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, str(results_dir), None, "val_mse", "maximize")
    assert data["objective"] == {"metric": "val_mse", "goal": "maximize"}
    assert data["best"] == "c0003"
    loss = run_json(capsys, str(results_dir), None, "loss", None)
    assert loss["objective"] == {"metric": "loss", "goal": "minimize"}


def test_spec_objective_is_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = rows_from_table(TABLE, PARAMS)
    write_results(tmp_path, rows, spec="spec:\n  objective: {metric: loss, goal: maximize}\n")
    data = run_json(capsys, str(tmp_path))
    assert data["objective"] == {"metric": "loss", "goal": "maximize"}
    assert data["best"] == "c0003"


def test_pinned_windows_in_the_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = rows_from_table({"c01": [1.0, 2.0], "c02": [2.0, 3.0]})
    spec = "status:\n  windows: [{start: 2026-03-01}, {start: 2026-02-01}, {start: 2026-01-01}]\n"
    write_results(tmp_path, rows, spec=spec)
    data = run_json(capsys, str(tmp_path))
    assert data["windows"] == ["w0", "w1", "w2"] and data["best"] is None


def test_pinned_windows_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = rows_from_table({"c01": [1.0, 2.0], "c02": [2.0, 3.0]})
    write_results(tmp_path, rows)
    (tmp_path / "windows.json").write_text(json.dumps({"windows": [
        {"id": "w0", "start": "2026-01-01", "end": "2026-03-31"},
        {"id": "w1", "start": "2025-12-01", "end": "2026-02-28"},
        {"id": "w2", "start": "2025-11-01", "end": "2026-01-31"}]}))
    data = run_json(capsys, str(tmp_path))
    assert data["windows"] == ["w0", "w1", "w2"] and data["best"] is None


def test_resolved_spec_filename() -> None:
    assert SPEC_YAML == "resolved-spec.yaml"


def test_objective_resolution_rules() -> None:
    assert resolve_objective({"val_mse", "loss"}) == ("val_mse", "minimize")
    assert resolve_objective({"auc"}) == ("auc", "maximize")
    assert resolve_objective({"auc", "loss"}, spec_metric="auc", spec_goal="maximize") == (
        "auc", "maximize")
    assert resolve_objective(set()) == ("val_mse", "minimize")
    with pytest.raises(ObjectiveError, match="which metric"):
        resolve_objective({"auc", "loss"})
    with pytest.raises(ObjectiveError, match="--goal"):
        resolve_objective({"widgets"}, metric="widgets")
    with pytest.raises(ObjectiveError, match="not one of"):
        resolve_objective({"loss"}, spec_metric="loss", spec_goal="down")
    assert infer_goal("val_loss") == "minimize" and infer_goal("val_accuracy") == "maximize"
    assert infer_goal("ndcg_at_10") == "maximize" and infer_goal("mape") == "minimize"
    assert infer_goal("widgets") is None


def test_argparse_registration(results_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="tuningsweep")
    add_report_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", str(results_dir), "-o", "json", "--top", "3",
                              "--max-curves", "5"])
    assert args.handler(args) == 0
    assert json.loads(capsys.readouterr().out)["best"] == "c0001"
    with pytest.raises(SystemExit):
        parser.parse_args(["report", str(results_dir), "--format", "pdf"])


def test_gcs_results_through_the_emulator(
    gcs_client: storage.Client, gcs_bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = gcs_client.bucket(gcs_bucket)
    model_root = f"gs://{gcs_bucket}/models"
    rows = rows_from_table(TABLE, PARAMS, model_root=model_root)
    from tuningsweep.core.records.results import render_csv

    bucket.blob("tuning/ml/demo/results.csv").upload_from_string(render_csv(rows))
    bucket.blob(f"tuning/ml/demo/{SPEC_YAML}").upload_from_string(
        "spec:\n  objective: {metric: val_mse, goal: minimize}\n")
    for r in rows:
        if r.status == "succeeded" and r.config == "c0001":
            bucket.blob(f"models/{r.trial}/history.json").upload_from_string(
                json.dumps(history(r.metrics["val_mse"])))
    folder = run_json(capsys, f"gs://{gcs_bucket}/tuning/ml/demo")
    single = run_json(capsys, f"gs://{gcs_bucket}/tuning/ml/demo/results.csv")
    assert folder["best"] == single["best"] == "c0001"
    curves = folder["curves"]
    assert isinstance(curves, dict) and curves["trials"] == 3
    assert report_command(f"gs://{gcs_bucket}/elsewhere", "json", None, None, None) == 2
    assert "no results.csv there" in capsys.readouterr().err
