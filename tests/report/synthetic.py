"""Synthetic results with a known truth, for the report tests and the benchmark.

A table is written as ``{config: [value per window]}`` where a value is a float, ``FAIL``
(a failed trial) or ``None`` (the trial has not run: no row at all). Window ``i`` of the
list is ``w{i}``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path

from tuningsweep.core.records.results import ParamValue, ResultRow, render_csv

FAIL = "fail"
Cell = float | str | None


def rows_from_table(
    table: Mapping[str, Sequence[Cell]] | Mapping[str, Sequence[float]],
    params: Mapping[str, Mapping[str, ParamValue]] | None = None,
    metric: str = "val_mse",
    sweep: str = "demo",
    model_root: str = "",
) -> list[ResultRow]:
    """Result rows for a ``{config: [cell per window]}`` table."""
    rows = []
    for config, cells in table.items():
        for w, cell in enumerate(cells):
            if cell is None:
                continue
            trial = f"{config}-w{w}"
            failed = cell == FAIL
            rows.append(ResultRow(
                sweep=sweep,
                trial=trial,
                config=config,
                window=f"w{w}",
                window_start=f"2026-0{3 - min(w, 2)}-01",
                window_end=f"2026-0{3 - min(w, 2)}-28",
                status="failed" if failed else "succeeded",
                params=(params or {}).get(config, {"x": int(config[1:])}),
                metrics={} if failed else {metric: float(cell), "loss": float(cell) * 2},
                duration_seconds=10.0,
                model_uri=f"{model_root}/{trial}" if model_root else "",
                error="OOMKilled" if failed else "",
            ))
    return rows


def history(final: float, epochs: int = 20, rate: float = 0.7) -> list[dict[str, float]]:
    """A per-epoch history (the trainer's format) decaying geometrically to ``final``."""
    return [
        {"epoch": e, "loss": final * (1 + 3 * rate**e) * 1.1,
         "val_loss": final * (1 + 2 * rate**e), "val_mse": final * (1 + 2 * rate**e)}
        for e in range(1, epochs + 1)
    ]


def write_results(
    folder: Path,
    rows: Sequence[ResultRow],
    *,
    spec: str | None = None,
    histories: Mapping[str, list[dict[str, float]]] | None = None,
) -> Path:
    """Write ``results.csv`` (and a resolved spec and histories) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "results.csv"
    path.write_text(render_csv(rows))
    if spec is not None:
        (folder / "resolved-spec.yaml").write_text(spec)
    for row in rows:
        if histories and row.trial in histories and row.model_uri:
            target = Path(row.model_uri)
            target.mkdir(parents=True, exist_ok=True)
            (target / "history.json").write_text(json.dumps(histories[row.trial]))
    return path


def large_sweep(n_configs: int, n_windows: int, seed: int = 1) -> list[ResultRow]:
    """A big random sweep: 4 parameters (one continuous), ~1% failed trials."""
    rnd = random.Random(seed)
    rows = []
    for c in range(n_configs):
        config = f"c{c:05d}"
        params: dict[str, ParamValue] = {
            "learning_rate": rnd.choice([0.0003, 0.001, 0.003, 0.01]),
            "hidden_units": rnd.choice([64, 128, 256, 512]),
            "dropout": round(rnd.uniform(0.0, 0.5), 4),
            "optimizer": rnd.choice(["adam", "sgd", "rmsprop"]),
        }
        base = 0.02 + abs(float(params["learning_rate"]) - 0.003) * 2 + float(params["dropout"]) * 0.01
        for w in range(n_windows):
            trial = f"{config}-w{w}"
            failed = rnd.random() < 0.01
            rows.append(ResultRow(
                sweep="bench", trial=trial, config=config, window=f"w{w}",
                window_start="2026-01-01", window_end="2026-03-31",
                status="failed" if failed else "succeeded",
                params=params,
                metrics={} if failed else {
                    "val_mse": base + 0.002 * w + rnd.gauss(0.0, 0.002),
                    "loss": base * 1.1,
                    "training_time_seconds": rnd.uniform(50, 500),
                },
                started_at="2026-04-01T00:00:00Z", finished_at="2026-04-01T00:05:00Z",
                duration_seconds=300.0, gpu_seconds=300.0,
                model_uri=f"/nonexistent/models/{trial}", job=f"bench-{trial}",
                error="OOMKilled" if failed else "",
            ))
    return rows
