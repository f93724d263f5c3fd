"""Where trial time went: the startup/data/train columns and the sweep's overhead share."""

from __future__ import annotations

import dataclasses
import math

import pytest

from tests.core.test_decisions import ANCHOR, row, sweep
from tuningsweep.core.kube.jobs import FUNCTION_COMMAND, build_job
from tuningsweep.core.planning.outcomes import TrialEnd, trial_row
from tuningsweep.core.planning.planner import plan_trials
from tuningsweep.core.planning.windows import resolve_windows
from tuningsweep.core.records.results import TIME_SPLIT_COLUMNS, parse_csv, render_csv
from tuningsweep.core.spec.errors import InvalidSpec
from tuningsweep.core.spec.manifest import load_sweeps
from tuningsweep.core.stats.time_split import time_split


def test_a_trainers_time_split_becomes_its_rows_columns() -> None:
    s = sweep()
    trial = plan_trials(s.spec, resolve_windows(s.spec, ANCHOR)).trials[0]
    final = {"val_mse": 0.5, "startup_seconds": 4.25, "data_seconds": 0.5,
             "train_seconds": 1.75}
    r = trial_row(s, TrialEnd(trial, True, final=final, duration_seconds=7.0))
    assert (r.startup_seconds, r.data_seconds, r.train_seconds) == (4.25, 0.5, 1.75)
    assert dict(r.metrics) == {"val_mse": 0.5}  # not metric columns unless asked for
    silent = trial_row(s, TrialEnd(trial, True, final={"val_mse": 0.5, "train_seconds": -1}))
    assert all(math.isnan(getattr(silent, c)) for c in TIME_SPLIT_COLUMNS)


def test_columns_survive_the_csv_and_old_files_read_as_not_reported() -> None:
    timed = dataclasses.replace(row("c0000-w0"), duration_seconds=3.0, startup_seconds=0.25,
                                data_seconds=0.0, train_seconds=2.5)
    text = render_csv([timed, row("c0001-w0")])
    header = text.splitlines()[0].split(",")
    assert header[header.index("gpu_seconds") + 1:][:3] == list(TIME_SPLIT_COLUMNS)
    back = parse_csv(text)
    assert (back[0].startup_seconds, back[0].data_seconds, back[0].train_seconds) == (
        0.25, 0.0, 2.5)
    assert math.isnan(back[1].train_seconds)  # an empty cell: the trainer did not say
    old = "\n".join(",".join(c for c in line.split(",")[:11] + line.split(",")[14:])
                    for line in text.splitlines())
    assert "train_seconds" not in old
    assert all(math.isnan(r.train_seconds) for r in parse_csv(old))


def test_overhead_share_is_the_part_of_trial_time_not_training() -> None:
    def timed(trial: str, duration: float, train: float, status: str = "succeeded") -> object:
        return dataclasses.replace(row(trial, status), duration_seconds=duration,
                                   startup_seconds=1.0, data_seconds=0.5, train_seconds=train)

    split = time_split([timed("c0000-w0", 10.0, 6.0), timed("c0001-w0", 10.0, 8.0),
                        timed("c0002-w0", 10.0, 0.0, "failed"), row("c0003-w0")])
    assert split.trials == 2 and split.overhead_share == pytest.approx(0.3)
    assert split.text() == ("overhead share 0.30 (of 20.0 s in 2 trials: 2.0 s starting, "
                            "1.0 s reading data, 14.0 s training)")
    assert time_split([row("c0000-w0")]).overhead_share is None


FUNCTION_SWEEP = """\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {name: f, namespace: t}
spec:
  architecture: custom
  windows: {rolling: {count: 1, months: 1}}
  parameters: {x: {values: [1]}}
  trainer: {function: "my_trainer:train"%s}
"""


def test_a_function_trainer_runs_once_per_pod_on_a_cluster() -> None:
    s = load_sweeps(FUNCTION_SWEEP % "", "f.yaml")[0]
    assert s.spec.trainer.function == "my_trainer:train"
    trial = plan_trials(s.spec, resolve_windows(s.spec, ANCHOR)).trials[0]
    job = build_job(s, trial, model_uri="m", owner_uid=None, pushgateway=None)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == [*FUNCTION_COMMAND, "my_trainer:train"]


def test_function_and_command_together_is_an_error_naming_the_field() -> None:
    with pytest.raises(InvalidSpec) as err:
        load_sweeps(FUNCTION_SWEEP % ", command: [python, t.py]", "f.yaml")
    assert "spec.trainer.function" in str(err.value)
    with pytest.raises(InvalidSpec) as err:
        load_sweeps((FUNCTION_SWEEP % "").replace("my_trainer:train", "my trainer"), "f.yaml")
    assert "spec.trainer.function" in str(err.value)
