"""Validation: every user mistake gets the field path, the fix and the line, all at once."""

from __future__ import annotations

import textwrap

import pytest

from tuningsweep.core.spec.errors import InvalidSpec
from tuningsweep.core.spec.manifest import load_sweeps

BASE = """\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {name: ctr-mlp, namespace: ml}
spec:
  architecture: mlp
  search: {algorithm: grid, seed: 7}
  parameters:
    learning_rate: {values: [0.001, 0.01]}
"""


def errors_of(text: str, source: str = "s.yaml") -> list[str]:
    with pytest.raises(InvalidSpec) as info:
        load_sweeps(text, source)
    return [e.render(info.value.source) for e in info.value.errors]


def test_valid_manifest_gets_defaults() -> None:
    sweep = load_sweeps(BASE)[0]
    assert sweep.key == "ml/ctr-mlp"
    spec = sweep.spec
    assert spec.rolling is not None and (spec.rolling.count, spec.rolling.months) == (3, 3)
    assert spec.objective_metric == "val_mse" and spec.objective_goal == "minimize"
    assert spec.trainer.resources == {"limits": {"nvidia.com/gpu": "1"}}  # canonical string
    assert spec.parallelism == 2 and spec.max_failed_trials == 3
    assert spec.recorded_metrics[0] == "val_mse"


def test_all_errors_reported_at_once_with_lines_and_fixes() -> None:
    text = BASE.replace("  search:", "  paralelism: 4\n  mode: fsat\n  search:") + textwrap.dedent("""\
        hidden_units: {values: []}
        dropout: {min: 0.6, max: 0.5}
        decay_factor: {min: 0, max: 1, scale: log}
    """).replace("hidden", "    hidden").replace("dropout", "    dropout").replace("decay_f", "    decay_f")
    messages = errors_of(text)
    joined = "\n".join(messages)
    assert "s.yaml:6: spec.paralelism: unknown field; did you mean 'parallelism'?" in joined
    assert "spec.mode: 'fsat' is not one of full | fast; did you mean 'fast'?" in joined
    assert "spec.parameters.hidden_units.values: must have at least 1 item" in joined
    assert "spec.parameters.dropout.max: max (0.5) is below min (0.6)" in joined
    assert "spec.parameters.decay_factor.min: a log-scale range needs min > 0" in joined
    assert len(messages) == 5


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("parallelism: 2", "parallelism: two"), "spec.parallelism: must be an integer, got string 'two'"),
        (("parallelism: 2", "parallelism: 0"), "spec.parallelism: must be at least 1"),
        (("architecture: mlp", "architecture: mlp\n  windows: {}"), "spec.windows: gives neither of rolling and ranges"),
        (("architecture: mlp", "architecture: mlp\n  windows: {rolling: {}, ranges: [{start: 2026-01-01, end: 2026-02-01}]}"),
         "spec.windows: gives both of rolling and ranges"),
        (("architecture: mlp", "architecture: mlp\n  windows: {ranges: [{start: 2026-03-01, end: 2026-02-01}]}"),
         "spec.windows.ranges[0].end: 2026-02-01 is before start 2026-03-01"),
        (("architecture: mlp", "architecture: mlp\n  windows: {ranges: [{start: 2026-13-01, end: 2026-02-01}]}"),
         "spec.windows.ranges[0].start: '2026-13-01' is not a date; write it as YYYY-MM-DD"),
        (("architecture: mlp", "architecture: mlp\n  windows: {rolling: {count: 0}}"),
         "spec.windows.rolling.count: must be at least 1"),
        (("name: ctr-mlp", "name: CTR_mlp"), "metadata.name: 'CTR_mlp' is not a valid name; use lowercase"),
        (("learning_rate: {values: [0.001, 0.01]}", "learning_rate: {min: 0.001, max: 0.01}"),
         "spec.parameters.learning_rate: is a min/max range, but a grid needs a list of values"),
        (("architecture: mlp", "architecture: mlp\n  architecture: cnn"), "spec.architecture: is given twice"),
        (("learning_rate: {values: [0.001, 0.01]}", "learning_rate: {min: 0.001}"),
         "spec.parameters.learning_rate: needs max"),
        (("parallelism: 2", "parallelism: 2\n  suspend: maybe"), "spec.suspend: must be true or false"),
        (("kind: TuningSweep", "kind: Sweep"), "kind: 'Sweep' is not a sweep; use TuningSweep"),
    ],
)
def test_specific_mistakes(change: tuple[str, str], expected: str) -> None:
    text = BASE + "  parallelism: 2\n"
    assert change[0] in text
    messages = errors_of(text.replace(*change, 1))
    assert any(expected in m for m in messages), messages


def test_auto_mode_unknown_architecture() -> None:
    text = BASE.replace("architecture: mlp", "architecture: transformer").replace(
        "algorithm: grid", "algorithm: auto")
    (message,) = [m for m in errors_of(text) if "architecture" in m]
    assert "auto mode has no built-in ranges for 'transformer'" in message
    assert "mlp, bow, cnn, lstm" in message


def test_yaml_syntax_error_has_line() -> None:
    (message,) = errors_of("spec:\n  architecture: [mlp\n  mode: fast\n")
    assert message.startswith("s.yaml:") and "YAML syntax error" in message


def test_duplicate_keys_are_reported_not_swallowed() -> None:
    (message,) = errors_of(BASE + "  parallelism: 2\n  parallelism: 3\n")
    assert message == ("s.yaml:10: spec.parallelism: is given twice (first on line 9); "
                       "remove one of them")


def test_several_documents_are_several_sweeps_and_errors_of_all_are_reported() -> None:
    two = BASE + "---\n" + BASE.replace("ctr-mlp", "ctr-two")
    assert [s.name for s in load_sweeps(two)] == ["ctr-mlp", "ctr-two"]
    broken = BASE.replace("mlp\n", "mlp\n  mode: x\n", 1) + "---\n" + BASE.replace(
        "ctr-mlp", "Bad Name")
    messages = errors_of(broken)
    assert len(messages) == 2
    assert "spec.mode" in messages[0] and "metadata.name" in messages[1]


def test_bare_spec_and_shorthand_are_named_after_the_file() -> None:
    bare = "architecture: mlp\nparameters:\n  hidden_units: {values: [1, 2]}\n"
    (sweep,) = load_sweeps(bare, "dir/My Sweep.yaml")
    assert sweep.name == "my-sweep" and sweep.namespace == "default"
    shorthand = ('{"architecture": "mlp", "date-range": [["2026-01-01", "2026-03-31"]], '
                 '"parameters": {"learning_rate": [0.001, 0.01], "hidden_units": [64]}}')
    (sweep,) = load_sweeps(shorthand, "orig.json")
    assert sweep.spec.ranges[0][0].isoformat() == "2026-01-01"
    assert [p.values for p in sweep.spec.parameters] == [(0.001, 0.01), (64,)]


def test_shorthand_bad_pair() -> None:
    (message,) = errors_of('{"architecture": "mlp", "date-range": [["2026-01-01"]]}', "o.json")
    assert "date-range[0]" in message and "[start, end] pair" in message


def test_int_type_rejects_fractions_and_casts_whole_floats() -> None:
    sweep = load_sweeps(BASE + "    batch_size: {values: [128.0, 256], type: int}\n")[0]
    assert sweep.spec.parameters[1].values == (128, 256)
    messages = errors_of(BASE + "    batch_size: {values: [1.5], type: int}\n")
    assert "spec.parameters.batch_size.values: has non-integer values" in messages[0]


def test_no_document() -> None:
    assert "holds no document" in errors_of("# nothing\n")[0]


def test_integer_range_without_an_integer() -> None:
    text = BASE.replace("algorithm: grid", "algorithm: random") + \
        "    units: {min: 0.5, max: 0.7, type: int}\n"
    (message,) = errors_of(text)
    assert "spec.parameters.units: the integer range 0.5..0.7 contains no integer" in message


def test_fast_settings_without_fast_mode_are_refused() -> None:
    (message,) = errors_of(BASE + "  fast: {maxEpochs: 8}\n")
    assert message == ("s.yaml:9: spec.fast: fast.maxEpochs is set but spec.mode is 'full', "
                       "so it would be ignored; add mode: fast to train on one window with "
                       "capped epochs, or remove spec.fast")
    # With mode: fast it is what the user meant.
    assert load_sweeps(BASE + "  mode: fast\n  fast: {maxEpochs: 8}\n")[0].spec.max_epochs == 8


def test_default_fast_settings_are_accepted_in_full_mode() -> None:
    # The CRD writes the defaults into every sweep on a cluster: they change nothing.
    assert load_sweeps(BASE + "  fast: {months: 1, maxEpochs: 20}\n")[0].spec.max_epochs is None


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("  trainer: {trialsPerPod: 0}\n", "spec.trainer.trialsPerPod: must be at least 1"),
        ("  trainer: {trialsPerPod: 65}\n", "spec.trainer.trialsPerPod: is more than 64"),
        ("  trainer: {trialsPerPod: 4, command: [python, train.py]}\n",
         "spec.trainer.trialsPerPod: packs trials into one process, and a program cannot be "
         "called twice in one"),
    ],
)
def test_trials_per_pod_mistakes(extra: str, expected: str) -> None:
    messages = errors_of(BASE + extra)
    assert any(expected in m for m in messages), messages


def test_packing_with_early_stopping_is_refused_with_the_fix() -> None:
    text = BASE.replace("seed: 7}", "seed: 7, earlyStopping: {rule: median}}") + (
        "  trainer: {trialsPerPod: 4}\n")
    (message,) = errors_of(text)
    assert "spec.trainer.trialsPerPod: cannot be combined with search.earlyStopping" in message
    assert "remove search.earlyStopping, or set trialsPerPod: 1" in message


def test_trials_per_pod_defaults_to_one_and_packs_a_function_trainer() -> None:
    (sweep,) = load_sweeps(BASE)
    assert sweep.spec.trainer.trials_per_pod == 1
    (sweep,) = load_sweeps(BASE + "  trainer: {trialsPerPod: 4, function: mytrainer:train}\n")
    assert sweep.spec.trainer.trials_per_pod == 4
