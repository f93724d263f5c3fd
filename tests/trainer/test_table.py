"""A user's own table: columns chosen by flags, CSV errors a user can find, preprocessing.

Reading and preprocessing are numpy only; the tests that train are in
test_own_table_training.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from tests.trainer.helpers import RunMain, trial_env, write_partition
from tuningsweep_trainer import schema
from tuningsweep_trainer.columns import FIXED, ColumnSpec, parse_columns
from tuningsweep_trainer.data_source import load_window
from tuningsweep_trainer.errors import BadInputError
from tuningsweep_trainer.preprocess import prepare

D = dt.date
FLIGHTS = ColumnSpec(target="arr_delay", numeric=("dep_delay", "distance"),
                     categorical=("carrier", "origin"))
HEADER = "carrier,origin,note,dep_delay,distance,arr_delay\n"


def _fixed_header() -> str:
    return ",".join(schema.ALL_COLUMNS)


def _fixed_row(target: str = "0.5") -> str:
    return ",".join(["1"] * 8 + ["3"] * 8 + ["0.1"] * 10 + [target])


def test_text_columns_outside_the_fixed_schema_are_ignored(tmp_path: Path) -> None:
    # The failure: a text column next to the fixed schema failed the trial.
    write_partition(tmp_path, "2025-01-01", f"carrier,{_fixed_header()},note\n"
                    f'UA,{_fixed_row()},"late, again"\nAA,{_fixed_row("0.7")},x\n')
    table = load_window(str(tmp_path), D(2025, 1, 1), D(2025, 1, 1))
    assert list(table.columns["target"]) == [0.5, 0.7]
    assert "carrier" not in table.columns and "note" not in table.columns


def test_csv_errors_name_the_line_and_the_column(tmp_path: Path) -> None:
    rows = [_fixed_row()] * 4 + [_fixed_row("abc")]
    path = write_partition(tmp_path, "2025-01-01", "\n".join([_fixed_header(), *rows]) + "\n")
    with pytest.raises(BadInputError) as err:
        load_window(str(tmp_path), D(2025, 1, 1), D(2025, 1, 1))
    # Line 6 as an editor counts it: the header is line 1, the fifth row line 6.
    assert str(err.value) == (f"{path}: line 6, column 'target' (the fixed schema): 'abc' is "
                              "not a number (fix the value, or leave the cell empty for a "
                              "missing value)")


def test_a_row_with_too_few_fields_names_its_line(tmp_path: Path) -> None:
    write_partition(tmp_path, "2025-01-01", f"{HEADER}UA,SFO,,5,300,7\n\nAA,JFK\n")
    with pytest.raises(BadInputError, match=r"line 4 has 2 field\(s\), the header \(line 1\) "
                                            r"names 6"):
        load_window(str(tmp_path), D(2025, 1, 1), D(2025, 1, 1), FLIGHTS)


def test_text_in_a_numeric_column_suggests_categorical(tmp_path: Path) -> None:
    write_partition(tmp_path, "2025-01-01", f"{HEADER}UA,SFO,,5,300,7\nAA,JFK,,late,20,1\n")
    with pytest.raises(BadInputError, match=r"line 3, column 'dep_delay' \(--numeric\): 'late' "
                                            r"is not a number \(give it to --categorical"):
        load_window(str(tmp_path), D(2025, 1, 1), D(2025, 1, 1), FLIGHTS)


def test_missing_columns_are_named_with_the_header(tmp_path: Path) -> None:
    write_partition(tmp_path, "2025-01-01", f"{HEADER}UA,SFO,,5,300,7\n")
    spec = ColumnSpec(target="arr_delay", numeric=("dep_delay", "taxi_out"))
    with pytest.raises(BadInputError, match=r"missing column\(s\) taxi_out \(check the names "
                                            r"given to --target.*the header has: carrier, "):
        load_window(str(tmp_path), D(2025, 1, 1), D(2025, 1, 1), spec)
    with pytest.raises(BadInputError, match=r"missing column\(s\) target, num_0, .*the fixed schema "
                                            r"needs .*--target COL"):
        load_window(str(tmp_path), D(2025, 1, 1), D(2025, 1, 1))


def _flights(root: Path) -> None:
    """Ten days; day 9 and 10 validate and bring a carrier never seen in training."""
    for i in range(1, 11):
        carrier = "ZZ" if i >= 9 else ("UA" if i % 2 else "AA")
        write_partition(root, f"2025-03-{i:02d}", HEADER
                        + f"{carrier},SFO,\"a note, with a comma\",{i},{100 * i},{2 * i}\n"
                        + f"DL,,text,,{100 * i + 50},\n"      # no target: dropped
                        + f"DL,JFK,text,NA,{100 * i + 50},{i}\n")  # dep_delay missing


def test_preprocessing_learns_from_the_training_days_only(tmp_path: Path) -> None:
    _flights(tmp_path)
    table = load_window(str(tmp_path), D(2025, 3, 1), D(2025, 3, 10), FLIGHTS)
    prepared = prepare(table, FLIGHTS)
    train, val = prepared.train, prepared.validation
    assert (len(train), len(val)) == (16, 4)
    assert train.day.max() < val.day.min()

    # Numeric inputs are standardised with the training rows' statistics.
    assert np.allclose(train.numeric[:, 1].mean(), 0, atol=1e-6)
    assert np.allclose(train.numeric[:, 1].std(), 1, atol=1e-5)
    assert val.numeric[:, 1].mean() > 1  # later days: further out, not re-centred
    # A missing dep_delay becomes the training mean, i.e. 0 after scaling.
    assert (train.numeric[1::2, 0] == 0).all()

    # One id space: 0 padding, then per column out-of-vocabulary, missing, values.
    pre = prepared.preprocessing["categorical"]
    assert pre["carrier"]["values"] == ["DL", "AA", "UA"]  # most frequent first
    carrier_oov = pre["carrier"]["out_of_vocabulary_id"]
    assert set(val.tokens[:, 0]) == {carrier_oov, pre["carrier"]["first_id"] + 2}  # ZZ, DL
    assert prepared.layout == schema.Layout(numeric=2, tokens=2, history=0,
                                            vocab_size=1 + (2 + 3) + (2 + 2))
    assert (train.tokens > 0).all() and (val.tokens < prepared.layout.vocab_size).all()

    report = prepared.report
    assert report.rows == 30 and report.rows_without_target == 10
    assert report.missing == {"dep_delay": 10}
    assert report.unknown_in_validation == {"carrier": 2}
    lines = " ".join(report.lines())
    assert "10 of 30 row(s) have no target value and were dropped" in lines
    assert "10 missing value(s) imputed: 10 in dep_delay (the training mean)" in lines


def test_a_missing_category_has_its_own_id(tmp_path: Path) -> None:
    for i in range(1, 6):
        write_partition(tmp_path, f"2025-03-{i:02d}",
                        f"{HEADER}UA,SFO,,1,{i},{i}\n,SFO,,1,{i},{i}\nnull,JFK,,2,{i},{i}\n")
    prepared = prepare(load_window(str(tmp_path), D(2025, 3, 1), D(2025, 3, 5), FLIGHTS),
                       FLIGHTS)
    carrier = prepared.preprocessing["categorical"]["carrier"]
    assert carrier["values"] == ["UA"]
    ids = np.concatenate([prepared.train.tokens[:, 0], prepared.validation.tokens[:, 0]])
    assert list(ids[:3]) == [carrier["first_id"] + 2, carrier["missing_id"],
                             carrier["missing_id"]]
    assert prepared.report.missing == {"carrier": 10}
    assert "10 in carrier (a 'missing' category)" in " ".join(prepared.report.lines())


def test_a_column_with_no_training_value_is_bad_input(tmp_path: Path) -> None:
    for i in range(1, 6):
        write_partition(tmp_path, f"2025-03-{i:02d}", f"{HEADER}UA,SFO,,,{i},{i}\n")
    table = load_window(str(tmp_path), D(2025, 3, 1), D(2025, 3, 5), FLIGHTS)
    with pytest.raises(BadInputError, match=r"column\(s\) dep_delay have no value in the "
                                            r"training part"):
        prepare(table, FLIGHTS)


def test_the_fixed_schema_is_normalised_and_keeps_token_ids() -> None:
    table = load_window("synthetic://ctr?seed=1&rows_per_day=30", D(2025, 1, 1), D(2025, 1, 10))
    prepared = prepare(table, FIXED)
    assert prepared.layout == schema.FIXED_LAYOUT
    assert np.allclose(prepared.train.numeric.mean(axis=0), 0, atol=1e-5)
    tokens = np.stack([table.columns[c] for c in schema.TOKEN_COLUMNS], axis=1)
    assert np.array_equal(np.concatenate([prepared.train.tokens, prepared.validation.tokens]),
                          tokens)
    assert prepared.report.lines() == []


@pytest.mark.parametrize(("flags", "architecture", "message"), [
    ({"numeric": "a,b"}, "mlp", "need --target COL"),
    ({"target": "y"}, "mlp", "--target needs input columns"),
    ({"target": "y", "numeric": "a", "categorical": "a"}, "mlp",
     "column 'a' is given to both --numeric and --categorical"),
    ({"target": "y", "numeric": "y"}, "mlp", "column 'y' is given to both --target and --numeric"),
    ({"target": "y", "numeric": "a,,b"}, "mlp", "--numeric 'a,,b' has an empty column name"),
    ({"target": "y", "numeric": "a,a"}, "mlp", "--numeric names 'a' more than once"),
    ({"target": "y", "numeric": "a"}, "lstm", "architecture 'lstm' reads a sequence"),
])
def test_bad_column_flags(flags: dict[str, str], architecture: str, message: str) -> None:
    problems: list[str] = []
    parse_columns(flags.get("target"), flags.get("numeric"), flags.get("categorical"),
                  flags.get("sequence"), architecture, problems)
    assert any(message in p for p in problems), problems


def test_column_flags_are_checked_before_any_data_is_read(run_main: RunMain,
                                                          tmp_path: Path) -> None:
    run = run_main(["--numeric", "dep_delay", "--architecture", "cnn"],
                   trial_env(data=str(tmp_path / "absent"), model_uri=str(tmp_path / "m")))
    assert run.rc == 2
    error = run.err.strip().splitlines()[-1]
    assert "need --target COL" in error and "architecture 'cnn' reads a sequence" in error
    assert "Traceback" not in run.err and "does not exist" not in run.err


def test_parquet_tables_read_named_columns_and_nulls(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "date=2025-03-01" / "part-0.parquet"
    path.parent.mkdir()
    pq.write_table(pa.table({
        "carrier": ["UA", None, "AA"], "origin": ["SFO", "JFK", "SEA"], "note": ["x", "y", "z"],
        "dep_delay": [5.0, None, 7.0], "distance": [300, 400, 500], "arr_delay": [1.0, 2.0, None],
    }), path)
    table = load_window(str(tmp_path), D(2025, 3, 1), D(2025, 3, 1), FLIGHTS)
    assert list(table.columns["carrier"]) == ["UA", None, "AA"]
    assert np.isnan(table.columns["dep_delay"][1]) and np.isnan(table.columns["arr_delay"][2])
    assert list(table.columns["distance"]) == [300.0, 400.0, 500.0]
    assert "note" not in table.columns
