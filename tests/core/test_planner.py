"""The planner: (spec, windows, results) -> trials; pure, stable, staged for auto mode."""

from __future__ import annotations

import datetime as dt

from tuningsweep.core.planning.planner import plan_trials
from tuningsweep.core.planning.windows import resolve_windows
from tuningsweep.core.records import naming
from tuningsweep.core.records.results import ResultRow
from tuningsweep.core.spec import presets
from tuningsweep.core.spec.manifest import load_sweeps
from tuningsweep.core.spec.parse import Spec

ANCHOR = dt.date(2026, 11, 27)


def spec_of(text: str) -> Spec:
    return load_sweeps(text, "p.yaml")[0].spec


GRID = """\
architecture: mlp
windows: {rolling: {count: 2, months: 1}}
search: {algorithm: grid, seed: 7, maxConfigs: 5}
parameters:
  learning_rate: {values: [0.001, 0.003, 0.01]}
  hidden_units: {values: [64, 128]}
"""


def test_grid_trials_are_config_major_with_stable_ids() -> None:
    spec = spec_of(GRID)
    windows = resolve_windows(spec, ANCHOR)
    plan = plan_trials(spec, windows)
    assert plan.final and plan.configs == 5
    assert [t.id for t in plan.trials[:4]] == ["c0000-w0", "c0000-w1", "c0001-w0", "c0001-w1"]
    assert plan_trials(spec, windows) == plan
    assert len({tuple(t.params.items()) for t in plan.trials}) == 5


def test_pending_excludes_finished_trials() -> None:
    spec = spec_of(GRID)
    plan = plan_trials(spec, resolve_windows(spec, ANCHOR))
    pending = plan.pending({"c0000-w0", "c0001-w1"})
    assert [t.id for t in pending][:3] == ["c0000-w1", "c0001-w0", "c0002-w0"]
    assert len(pending) == len(plan.trials) - 2


def test_job_names_are_dns1123_and_at_most_63() -> None:
    assert naming.job_name("ctr-mlp", "c0007-w1") == "ctr-mlp-c0007-w1"
    long_a = "a" * 60
    long_b = "a" * 59 + "b"
    name_a, name_b = naming.job_name(long_a, "c0007-w1"), naming.job_name(long_b, "c0007-w1")
    assert len(name_a) <= 63 and len(name_b) <= 63 and name_a != name_b
    assert name_a.endswith("-c0007-w1") and name_a == naming.job_name(long_a, "c0007-w1")
    assert naming.config_id(12345) == "c12345"


AUTO = """\
architecture: mlp
windows: {rolling: {count: 2, months: 1}}
search: {algorithm: auto, maxConfigs: 6, seed: 3}
objective: {metric: val_mse, goal: minimize}
"""


def _rows(trials: list, value_of: dict[str, float]) -> list[ResultRow]:  # type: ignore[type-arg]
    return [ResultRow("s", t.id, t.config, t.window.id, "", "", "succeeded", t.params,
                      {"val_mse": value_of[t.config]}) for t in trials]


def test_auto_tunes_the_learning_rate_group_first_then_the_rest() -> None:
    spec = spec_of(AUTO)
    windows = resolve_windows(spec, ANCHOR)
    first = plan_trials(spec, windows)
    assert first.stage == 0 and not first.final and first.configs == 3
    lr_group = {n for n, p in presets.hyperparameters("mlp").items() if p.group == "learning_rate"}
    assert all(set(t.params) == lr_group for t in first.trials)

    # Partial results: still stage 0.
    assert plan_trials(spec, windows, _rows(list(first.trials[:3]), {
        "c0000": 1.0, "c0001": 0.5})).stage == 0

    scores = {"c0000": 0.9, "c0001": 0.2, "c0002": 0.5}
    second = plan_trials(spec, windows, _rows(list(first.trials), scores))
    assert second.stage == 1 and second.final and second.configs == 6
    assert second.trials[: len(first.trials)] == first.trials
    best = dict(first.trials[2].params)  # c0001's params
    assert first.trials[2].config == "c0001"
    later = second.trials[len(first.trials):]
    assert later[0].config == "c0003"
    for t in later:
        assert {k: t.params[k] for k in lr_group} == best
        assert set(t.params) - lr_group  # model parameters are being tuned now


def test_auto_user_parameters_override_builtin_ranges() -> None:
    spec = spec_of(AUTO + "parameters:\n  learning_rate: {values: [0.5]}\n")
    plan = plan_trials(spec, resolve_windows(spec, ANCHOR))
    assert {t.params["learning_rate"] for t in plan.trials} == {0.5}


def test_auto_stage_with_only_failures_falls_back_to_defaults() -> None:
    spec = spec_of(AUTO)
    windows = resolve_windows(spec, ANCHOR)
    first = plan_trials(spec, windows)
    failed = [ResultRow("s", t.id, t.config, t.window.id, "", "", "failed", t.params, {})
              for t in first.trials]
    second = plan_trials(spec, windows, failed)
    assert second.trials[-1].params["learning_rate"] == presets.defaults("mlp")["learning_rate"]


def test_a_diverged_configuration_is_never_the_best() -> None:
    from tuningsweep.core.planning.planner import best_config_params

    rows = [ResultRow("s", f"c000{i}-w0", f"c000{i}", "w0", "", "", "succeeded",
                      {"lr": i}, {"val_mse": v}) for i, v in enumerate([float("nan"), 0.2, 0.1])]
    assert best_config_params(rows, "val_mse", "minimize") == {"lr": 2}


def test_every_algorithm_and_stopping_rule_the_api_accepts_has_its_class() -> None:
    from tuningsweep.core.planning.planner import ALGORITHMS
    from tuningsweep.core.search.early_stopping import RULES
    from tuningsweep.core.spec import api

    search = api.SPEC.properties["search"]
    assert search.properties is not None
    algorithm = search.properties["algorithm"]
    stopping = search.properties["earlyStopping"].properties
    assert stopping is not None
    assert set(ALGORITHMS) == set(algorithm.enum or ())
    assert set(RULES) == set(stopping["rule"].enum or ())
