"""`tuningsweep run` with the reference TensorFlow trainer on tiny synthetic data.

The other runner tests use a contract-following stand-in for speed; this one runs the
real trainer end to end, as `make demo` does: every trial trains, saves its model and
history, and the summary ranks the configurations from what the trainer reported.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tuningsweep.cli import main

MANIFEST = """\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {name: real, namespace: team}
spec:
  architecture: mlp
  windows: {rolling: {count: 2, months: 1}}
  search: {algorithm: grid, seed: 1}
  parameters:
    learning_rate: {values: [0.001, 0.01]}
    hidden_units: {values: [16]}
    epochs: {values: [2]}
  metrics: [val_mse, loss, epochs_run]
  data: synthetic://ctr?seed=3&rows_per_day=40
"""


def test_grid_over_two_windows_with_the_real_trainer(tmp_path: Path) -> None:
    manifest = tmp_path / "real.yaml"
    manifest.write_text(MANIFEST)
    code = main(["run", str(manifest), "--results", str(tmp_path / "out"), "--today",
                 "2026-11-27", "--parallel", "2", "-q"])
    assert code == 0
    folder = tmp_path / "out" / "team" / "real"
    rows = list(csv.DictReader(io.StringIO((folder / "results.csv").read_text())))
    assert sorted(r["trial"] for r in rows) == ["c0000-w0", "c0000-w1", "c0001-w0", "c0001-w1"]
    for r in rows:
        assert r["status"] == "succeeded", r["error"]
        assert float(r["metric.val_mse"]) > 0 and float(r["metric.epochs_run"]) == 2
        model = Path(r["model_uri"])
        assert (model / "model.keras").is_file()
        history = json.loads((model / "history.json").read_text())
        assert len(history) == 2
    summary = list(csv.DictReader(io.StringIO((folder / "summary.csv").read_text())))
    assert len(summary) == 2
    means = {s["config"]: float(s["objective_mean"]) for s in summary}
    for config, mean in means.items():
        values = [float(r["metric.val_mse"]) for r in rows if r["config"] == config]
        assert abs(mean - sum(values) / len(values)) < 1e-9
    assert summary[0]["config"] == min(means, key=lambda c: means[c])  # best first


def test_warm_trainer_gives_the_metrics_of_a_process_per_trial(tmp_path: Path) -> None:
    """Four trials over two windows in one warm worker (--parallel 1: each trial after
    another in the same process, the windows' data kept) against a process per trial."""
    manifest = tmp_path / "real.yaml"
    manifest.write_text(MANIFEST)
    for mode, extra in (("warm", []), ("cold", ["--no-warm"])):
        code = main(["run", str(manifest), "--results", str(tmp_path / mode), "--today",
                     "2026-11-27", "--parallel", "1", "-q", *extra])
        assert code == 0
    rows = {mode: list(csv.DictReader(io.StringIO(
        (tmp_path / mode / "team" / "real" / "results.csv").read_text())))
        for mode in ("warm", "cold")}
    compared = ("trial", "status", "metric.val_mse", "metric.loss", "metric.epochs_run")
    assert ([[r[c] for c in compared] for r in rows["warm"]]
            == [[r[c] for c in compared] for r in rows["cold"]])
    for r in rows["warm"] + rows["cold"]:
        assert float(r["train_seconds"]) > 0 and float(r["startup_seconds"]) >= 0
        assert float(r["duration_seconds"]) >= float(r["train_seconds"])
    # The warm worker started once: later trials did not import TensorFlow again.
    later = [float(r["startup_seconds"]) for r in rows["warm"][1:]]
    assert max(later) < float(rows["warm"][0]["startup_seconds"])
