"""A trainer of your own: scikit-learn's SGDRegressor, tuned by tuningsweep.

Any program that honours the trainer contract (docs/bring-your-own-trainer.md) can be
tuned. This one

1. reads the trial from the TUNINGSWEEP_* environment: hyperparameters, date window,
   data folder, where to save the model;
2. reads the window's rows from the daily partitions ``<data>/date=YYYY-MM-DD/*.csv``;
3. trains one epoch at a time (``partial_fit``), reporting every epoch's metrics and
   then the final ones through ``tuningsweep.reporting.Reporter``;
4. saves ``model.pkl`` and ``history.json`` (the report's learning curves) under
   TUNINGSWEEP_MODEL_URI.

Bad input (an unknown hyperparameter, no rows in the window) exits with status 2 and
one line on stderr, as the reference trainer does; the run shows that line as the
trial's error. Needs scikit-learn (``pip install scikit-learn``).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import SGDRegressor
from sklearn.metrics import mean_squared_error
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tuningsweep.reporting import Reporter

TARGET = "arr_delay"
NUMERIC = ["dep_delay", "distance"]
CATEGORICAL = ["carrier", "origin", "dest"]
DEFAULTS = {"alpha": 0.0001, "eta0": 0.01, "epochs": 10}


class BadInput(Exception):
    """The trial cannot run as configured; retrying would not help (exit status 2)."""


def read_window(folder: Path, start: dt.date, end: dt.date) -> list[dict[str, str]]:
    """The rows of the partitions dated start..end, in date order."""
    if not folder.is_dir():
        raise BadInput(f"data folder {str(folder)!r} does not exist")
    rows: list[dict[str, str]] = []
    for partition in sorted(folder.glob("date=*")):
        day = dt.date.fromisoformat(partition.name.removeprefix("date="))
        if start <= day <= end:
            for path in sorted(partition.glob("*.csv")):
                with path.open(newline="", encoding="utf-8") as handle:
                    rows.extend(dict(row, day=day.isoformat()) for row in csv.DictReader(handle))
    return [row for row in rows if row[TARGET] not in ("", "NA")]


def features(rows: list[dict[str, str]]) -> np.ndarray:
    """Numbers as floats (missing as NaN) next to the categories as text."""
    def number(text: str) -> float:
        return float(text) if text not in ("", "NA") else np.nan

    return np.array([[number(r[c]) for c in NUMERIC] + [r[c] for c in CATEGORICAL]
                     for r in rows], dtype=object)


def main() -> int:
    """Train one trial; return the exit status."""
    env = os.environ
    params = {**DEFAULTS, **json.loads(env.get("TUNINGSWEEP_PARAMS") or "{}")}
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise BadInput(f"unknown hyperparameter(s) {', '.join(unknown)}; "
                       f"known: {', '.join(DEFAULTS)}")
    epochs = int(params["epochs"])
    if env.get("TUNINGSWEEP_MAX_EPOCHS"):  # fast mode caps the epochs
        epochs = min(epochs, int(env["TUNINGSWEEP_MAX_EPOCHS"]))
    start = dt.date.fromisoformat(env["TUNINGSWEEP_WINDOW_START"])
    end = dt.date.fromisoformat(env["TUNINGSWEEP_WINDOW_END"])
    reading = time.perf_counter()
    rows = read_window(Path(env["TUNINGSWEEP_DATA"]), start, end)
    if len(rows) < 10:
        raise BadInput(f"window {start}..{end} has {len(rows)} row(s) with a target")

    # Time-ordered split: the last fifth of the days validate, as production would.
    days = sorted({r["day"] for r in rows})
    first_validation_day = days[int(len(days) * 0.8)]
    train = [r for r in rows if r["day"] < first_validation_day]
    validation = [r for r in rows if r["day"] >= first_validation_day]
    y_train = np.array([float(r[TARGET]) for r in train])
    y_val = np.array([float(r[TARGET]) for r in validation])

    n = len(NUMERIC)
    prepare = ColumnTransformer([
        ("numeric", make_pipeline(SimpleImputer(), StandardScaler()), list(range(n))),
        ("categorical", OneHotEncoder(handle_unknown="ignore"),
         list(range(n, n + len(CATEGORICAL)))),
    ])
    x_train = prepare.fit_transform(features(train))  # statistics from training days only
    x_val = prepare.transform(features(validation))
    model = SGDRegressor(alpha=float(params["alpha"]), eta0=float(params["eta0"]),
                         learning_rate="constant", random_state=0)

    reporter = Reporter.from_env()
    history: list[dict[str, float]] = []
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.partial_fit(x_train, y_train)
        metrics = {"loss": mean_squared_error(y_train, model.predict(x_train)),
                   "val_mse": mean_squared_error(y_val, model.predict(x_val))}
        history.append({"epoch": epoch, **metrics})
        reporter.report_epoch(epoch, metrics)
    best = min(history, key=lambda h: h["val_mse"])

    out = Path(env["TUNINGSWEEP_MODEL_URI"])  # a local folder under `tuningsweep run`
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.pkl").write_bytes(pickle.dumps({"prepare": prepare, "model": model}))
    (out / "history.json").write_text(json.dumps(history, indent=2) + "\n")
    reporter.report_final({"val_mse": best["val_mse"], "loss": best["loss"],
                           "best_epoch": best["epoch"], "epochs_run": len(history),
                           "training_time_seconds": time.perf_counter() - started,
                           # where the trial's time went (results.csv's columns)
                           "data_seconds": started - reading,
                           "train_seconds": time.perf_counter() - started})
    print(f"trained {len(history)} epoch(s) on {len(train)} rows; best val_mse "
          f"{best['val_mse']:.4g} at epoch {best['epoch']}")
    return 0


def trial(args: list[str]) -> int:
    """One trial as a function, for ``spec.trainer.function: train:trial`` (sweep-warm.yaml):
    a warm worker calls it trial after trial; the exit status is the command's."""
    try:
        return main()
    except BadInput as err:
        print(f"train.py: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(trial(sys.argv[1:]))
