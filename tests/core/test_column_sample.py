"""The columns spec.trainer.args names, against a sample: read as the trainer reads them."""

from __future__ import annotations

from tuningsweep.core.planning.column_sample import Sample, column_flags, is_number, sample_problems


def test_flags_are_read_as_argparse_would() -> None:
    args = ["--target", "y", "--numeric=a, b", "--epochs", "3", "--categorical", "c",
            "--numeric", "a,d", "--sequence"]  # the last --numeric wins; no value: ignored
    assert column_flags(args) == {"target": ("y",), "numeric": ("a", "d"),
                                  "categorical": ("c",)}
    assert column_flags(["--max-epochs", "2"]) == {}


def test_numbers_follow_the_trainers_rule() -> None:
    assert all(is_number(c) for c in ("1", " -2.5e3 ", "", "NA", "null", "nan", "None"))
    assert not any(is_number(c) for c in ("drizzle", "1,5", "3 kg"))


def test_the_same_missing_markers_as_the_trainer() -> None:
    from tuningsweep.core.planning.column_sample import MISSING_MARKERS
    from tuningsweep_trainer.table import MISSING_MARKERS as TRAINER_MARKERS
    assert MISSING_MARKERS == TRAINER_MARKERS


def test_missing_and_text_columns_are_named_with_the_fix() -> None:
    sample = Sample("d/part-0.csv", ("y", "a", "w"), (("1", "2", "sun"), ("", "x", "rain")))
    errors = sample_problems({"target": ("y",), "numeric": ("a", "w", "zz"),
                              "categorical": ("w",)}, sample)
    assert [e.render() for e in errors] == [
        "spec.trainer.args: --numeric names column 'zz', which d/part-0.csv does not have "
        "(its header has: y, a, w); check the column's name (case and spaces count)",
        "spec.trainer.args: --numeric names column 'a', which is not numeric in "
        "d/part-0.csv: line 3 has 'x'; give it to --categorical instead",
        "spec.trainer.args: --numeric names column 'w', which is not numeric in "
        "d/part-0.csv: line 2 has 'sun'; give it to --categorical instead"]
    assert sample_problems({"target": ("y",), "categorical": ("w",)}, sample) == []
