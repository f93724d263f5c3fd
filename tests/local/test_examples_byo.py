"""The bring-your-own examples, run as a user runs them: ``tuningsweep run`` on the
manifests as committed, from their own folder or another one (their ``data:`` and trainer
paths are relative to the manifest), with the results in a temporary folder.

* ``examples/own-data/sweep.yaml``: the reference TensorFlow trainer on the committed
  flights table, columns named by ``spec.trainer.args`` (text columns in the files,
  missing values in inputs and target);
* ``examples/own-trainer/sweep.yaml``: a scikit-learn trainer of its own
  (``spec.trainer.command``) on the same table; ``sweep-warm.yaml``: the same trainer
  named as a function (``spec.trainer.function``), run in warm workers.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tuningsweep.core.spec.manifest import load_sweeps

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = pytest.mark.slow


def _run(manifest: Path, results: Path, *, ok: bool = True,
         cwd: Path | None = None) -> list[dict[str, str]]:
    """Run the manifest from its folder (or ``cwd``); return its result rows."""
    # `python` in spec.trainer.command is looked up on PATH: this interpreter's, as in
    # an activated virtual environment.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    path = manifest.name if cwd is None else str(manifest)
    proc = subprocess.run([sys.executable, "-m", "tuningsweep.cli", "run", path,
                           "--results", str(results)], cwd=cwd or manifest.parent, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    if ok:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    sweep = load_sweeps(manifest.read_text(), str(manifest))[0]
    text = (results / sweep.namespace / sweep.name / "results.csv").read_text()
    return list(csv.DictReader(io.StringIO(text)))


def _check_rows(rows: list[dict[str, str]], trials: int, objective: str) -> None:
    assert len(rows) == trials
    for row in rows:
        assert row["status"] == "succeeded", row["error"]
        assert float(row[f"metric.{objective}"]) > 0
        # The report's learning curves read history.json under the model URI.
        history = json.loads((Path(row["model_uri"]) / "history.json").read_text())
        assert history and all(objective in epoch for epoch in history)


def test_reference_trainer_on_the_committed_table(tmp_path: Path) -> None:
    rows = _run(EXAMPLES / "own-data" / "sweep.yaml", tmp_path)
    _check_rows(rows, trials=4, objective="val_mse")
    for row in rows:
        # The table has missing inputs: imputed, counted, and in the results.
        assert float(row["metric.missing_values"]) > 0
        preprocessing = json.loads((Path(row["model_uri"]) / "preprocessing.json").read_text())
        assert set(preprocessing["categorical"]) == {"carrier", "origin", "dest"}
        assert set(preprocessing["numeric"]) == {"dep_delay", "distance"}


def test_a_bad_cell_fails_the_trial_with_its_line_and_column(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(EXAMPLES / "own-data" / "data", data)
    part = data / "date=2026-02-10" / "part-0.csv"
    lines = part.read_text().splitlines()
    fields = lines[2].split(",")
    fields[4] = "late"  # dep_delay, a --numeric column, on line 3
    lines[2] = ",".join(fields)
    part.write_text("\n".join(lines) + "\n")
    manifest = tmp_path / "sweep.yaml"
    text = (EXAMPLES / "own-data" / "sweep.yaml").read_text()
    manifest.write_text(text.replace("  data: data\n", f"  data: {data}\n"))

    rows = _run(manifest, tmp_path / "results", ok=False)
    failed = [r for r in rows if r["status"] == "failed"]
    assert failed and len(failed) == len(rows)
    expected = (f"{part}: line 3, column 'dep_delay' (--numeric): 'late' is not a number "
                "(give it to --categorical instead)")
    assert len(expected) > 160  # whole, not cut to a progress line's width
    for row in failed:
        assert "exit status 2" in row["error"] and expected in row["error"], row["error"]
        assert "Traceback" not in row["error"]


def test_the_committed_table_is_what_its_script_writes(tmp_path: Path) -> None:
    script = EXAMPLES / "own-data" / "make_data.py"
    subprocess.run([sys.executable, "-c", "import sys, pathlib, runpy; "
                    "runpy.run_path(sys.argv[1])['main'](pathlib.Path(sys.argv[2]))",
                    str(script), str(tmp_path)], check=True, timeout=60)
    committed = EXAMPLES / "own-data" / "data"
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.csv"))
    assert written == sorted(p.relative_to(committed) for p in committed.rglob("*.csv"))
    assert len(written) == 90
    for rel in written:
        assert (tmp_path / rel).read_bytes() == (committed / rel).read_bytes(), rel


def test_own_scikit_learn_trainer_from_another_folder(tmp_path: Path) -> None:
    # Its data (../own-data/data) and command ([python, train.py]) are relative to the
    # manifest's folder, and mean the same from anywhere.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    rows = _run(EXAMPLES / "own-trainer" / "sweep.yaml", tmp_path / "out", cwd=elsewhere)
    _check_rows(rows, trials=8, objective="val_mse")
    assert {r["param.alpha"] for r in rows} == {"0.0001", "0.1"}
    for row in rows:
        assert (Path(row["model_uri"]) / "model.pkl").is_file()


def test_own_trainer_as_a_function_gives_the_commands_results(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    warm = _run(EXAMPLES / "own-trainer" / "sweep-warm.yaml", tmp_path / "warm", cwd=elsewhere)
    _check_rows(warm, trials=8, objective="val_mse")
    command = _run(EXAMPLES / "own-trainer" / "sweep.yaml", tmp_path / "command")
    assert ([(r["trial"], r["metric.val_mse"], r["metric.loss"]) for r in warm]
            == [(r["trial"], r["metric.val_mse"], r["metric.loss"]) for r in command])
    # The example reports where its time went; results.csv keeps it.
    assert all(float(r["train_seconds"]) > 0 and float(r["data_seconds"]) > 0 for r in warm)
    # Two slots: two worker processes ran the eight trials (their logs are per worker).
    workers = tmp_path / "warm" / "default" / "flights-sgd-warm" / "trials" / "workers"
    assert len(list(workers.glob("worker-*.log"))) == 2
