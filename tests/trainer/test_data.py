"""Data sources: the synthetic generator, daily partitions on disk and in GCS, make-data."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pytest
from google.cloud import storage

from tests.trainer.helpers import Run, RunMain, trial_env
from tuningsweep_trainer import schema
from tuningsweep_trainer.data_files import PartitionedSource
from tuningsweep_trainer.data_source import load_window
from tuningsweep_trainer.data_synthetic import SyntheticSource
from tuningsweep_trainer.errors import BadInputError
from tuningsweep_trainer.examples import Examples
from tuningsweep_trainer.table import Table

D = dt.date


def _same_table(a: Table, b: Examples, atol: float = 0.0) -> bool:
    """Whether rows read from files hold the fixed-schema values of ``b``."""
    def block(names: tuple[str, ...]) -> np.ndarray:
        return np.stack([a.columns[n] for n in names], axis=1)

    return (np.array_equal(block(schema.TOKEN_COLUMNS), b.tokens)
            and np.array_equal(a.day, b.day)
            and np.allclose(block(schema.NUMERIC_COLUMNS), b.numeric, atol=atol, rtol=1e-6)
            and np.allclose(block(schema.HISTORY_COLUMNS), b.history, atol=atol, rtol=1e-6)
            and np.allclose(a.columns["target"], b.target, atol=atol, rtol=1e-6))


def _same(a: Examples, b: Examples, atol: float = 0.0) -> bool:
    return (np.array_equal(a.tokens, b.tokens) and np.array_equal(a.day, b.day)
            and np.allclose(a.numeric, b.numeric, atol=atol, rtol=1e-6)
            and np.allclose(a.history, b.history, atol=atol, rtol=1e-6)
            and np.allclose(a.target, b.target, atol=atol, rtol=1e-6))


def test_synthetic_days_do_not_depend_on_the_window() -> None:
    source = SyntheticSource.parse("synthetic://ctr?seed=3&rows_per_day=40")
    march = source.window(D(2025, 3, 1), D(2025, 3, 31))
    middle = source.window(D(2025, 3, 10), D(2025, 3, 12))
    assert len(march) == 31 * 40
    assert _same(middle, march.rows(9 * 40, 12 * 40))
    assert _same(source.day(D(2025, 3, 10)), SyntheticSource(seed=3, rows_per_day=40)
                 .day(D(2025, 3, 10)))


def test_synthetic_data_has_the_schema_and_differs_by_seed_and_season() -> None:
    source = SyntheticSource.parse("synthetic://ctr?seed=1&rows_per_day=400")
    day = source.day(D(2025, 1, 15))
    assert day.numeric.shape == (400, schema.NUM_NUMERIC) and day.numeric.dtype == np.float32
    assert day.tokens.shape == (400, schema.NUM_TOKENS) and day.tokens.dtype == np.int32
    assert day.history.shape == (400, schema.HISTORY_LENGTH)
    assert ((day.tokens >= 0) & (day.tokens < schema.VOCAB_SIZE)).all()
    assert (day.tokens[:, 0] > 0).all()  # every row has at least one token
    assert ((day.target >= 0) & (day.target <= 1)).all()
    assert not _same(day, SyntheticSource(seed=2, rows_per_day=400).day(D(2025, 1, 15)))

    # Seasonality and drift: monthly windows really differ.
    means = [source.window(D(2025, m, 1), D(2025, m, 28)).target.mean() for m in (1, 4, 7, 10)]
    assert max(means) - min(means) > 0.03


@pytest.mark.parametrize(("uri", "message"), [
    ("synthetic://clicks?seed=1", "unknown synthetic dataset 'clicks'"),
    ("synthetic://ctr?seed=x", "'seed'"),
    ("synthetic://ctr?sede=1", "unknown query parameter 'sede'"),
    ("synthetic://ctr?rows_per_day=0", "rows_per_day"),
    ("s3://bucket/data/", "unsupported data URI"),
    ("gs:///data", "no bucket"),
    ("", "no data URI"),
])
def test_bad_data_uris_are_bad_input(uri: str, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        load_window(uri, D(2025, 1, 1), D(2025, 1, 1))


def test_split_is_time_ordered_on_day_boundaries() -> None:
    examples = SyntheticSource(rows_per_day=10).window(D(2025, 1, 1), D(2025, 1, 10))
    train, val = examples.split_time_ordered()
    assert (len(train), len(val)) == (80, 20)
    assert train.day.max() < val.day.min()
    assert val.day.max() == D(2025, 1, 10).toordinal()
    one_day = SyntheticSource(rows_per_day=10).window(D(2025, 1, 1), D(2025, 1, 1))
    assert [len(p) for p in one_day.split_time_ordered()] == [8, 2]


def _make_data(run_main: RunMain, out: str, start: str, end: str, seed: int = 1) -> Run:
    return run_main(
        ["make-data", "--data", f"synthetic://ctr?seed={seed}&rows_per_day=20",
         "--start", start, "--end", end, "--out", out], {})


def test_make_data_round_trips_through_the_file_source(run_main: RunMain, tmp_path: Path) -> None:
    run = _make_data(run_main, str(tmp_path), "2025-01-30", "2025-02-02")
    assert run.rc == 0, run.err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "date=2025-01-30", "date=2025-01-31", "date=2025-02-01", "date=2025-02-02"]
    assert (tmp_path / "date=2025-02-01" / "part-0.csv").read_text().startswith("num_0,num_1,")

    from_files = load_window(str(tmp_path), D(2025, 1, 31), D(2025, 2, 1))
    generated = SyntheticSource(seed=1, rows_per_day=20).window(D(2025, 1, 31), D(2025, 2, 1))
    assert _same_table(from_files, generated, atol=1e-5)


def test_file_source_reads_only_the_window(run_main: RunMain, tmp_path: Path) -> None:
    assert _make_data(run_main, str(tmp_path), "2025-01-01", "2025-03-31").rc == 0
    # Unreadable partitions just outside the window: reading either would fail loudly.
    for day in ("2025-01-31", "2025-03-01"):
        (tmp_path / f"date={day}" / "part-0.csv").write_bytes(b"\x00garbage,\xff\n1,2\n")
    (tmp_path / "date=2025-02-30").mkdir()  # not a date: ignored
    (tmp_path / "notes.txt").write_text("not a partition")

    source = PartitionedSource(str(tmp_path))
    listed = source.list_files(D(2025, 2, 1), D(2025, 2, 28))
    assert {f.date for f in listed} == {D(2025, 2, 1) + dt.timedelta(days=i) for i in range(28)}

    february = source.table(D(2025, 2, 1), D(2025, 2, 28))
    assert len(february) == 28 * 20
    assert february.day.min() == D(2025, 2, 1).toordinal()
    assert february.day.max() == D(2025, 2, 28).toordinal()

    with pytest.raises(BadInputError, match=r"date=2025-03-01/part-0\.csv"):
        source.table(D(2025, 2, 1), D(2025, 3, 1))


def test_file_source_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="does not exist"):
        load_window(str(tmp_path / "missing"), D(2025, 1, 1), D(2025, 1, 31))
    with pytest.raises(BadInputError, match=r"no data for window 2025-01-01\.\.2025-01-31"):
        load_window(str(tmp_path), D(2025, 1, 1), D(2025, 1, 31))
    part = tmp_path / "date=2025-01-05" / "part-0.csv"
    part.parent.mkdir()
    part.write_text("num_0,target\n1,2\n")
    with pytest.raises(BadInputError, match="missing column"):
        load_window(str(tmp_path), D(2025, 1, 1), D(2025, 1, 31))


def test_window_without_data_exits_2_before_training(run_main: RunMain, tmp_path: Path) -> None:
    assert _make_data(run_main, str(tmp_path / "data"), "2025-01-01", "2025-01-03").rc == 0
    env = trial_env(data=str(tmp_path / "data"), window_start="2025-06-01",
                    window_end="2025-06-30", model_uri=str(tmp_path / "model"))
    run = run_main([], env)
    assert run.rc == 2
    assert "error: no data for window 2025-06-01..2025-06-30" in run.err
    assert "Traceback" not in run.err
    assert not (tmp_path / "model").exists()


def test_gcs_partitions_read_only_the_window(
    run_main: RunMain, gcs_bucket: str, gcs_client: storage.Client
) -> None:
    root = f"gs://{gcs_bucket}/ctr/daily"
    assert _make_data(run_main, root, "2025-01-30", "2025-02-03").rc == 0
    bucket = gcs_client.bucket(gcs_bucket)
    bucket.blob("ctr/daily/date=2025-02-03/part-1.csv").upload_from_string(b"\xffcorrupt")

    examples = load_window(root + "/", D(2025, 1, 31), D(2025, 2, 2))
    expected = SyntheticSource(seed=1, rows_per_day=20).window(D(2025, 1, 31), D(2025, 2, 2))
    assert _same_table(examples, expected, atol=1e-5)
    with pytest.raises(BadInputError, match="no data for window"):
        load_window(root, D(2024, 1, 1), D(2024, 1, 31))
    with pytest.raises(BadInputError, match="does not exist"):
        load_window(f"gs://{gcs_bucket}-missing/x", D(2025, 1, 1), D(2025, 1, 31))


def test_parquet_partitions_round_trip(run_main: RunMain, tmp_path: Path) -> None:
    run = run_main(["make-data", "--data", "synthetic://ctr?seed=1&rows_per_day=20",
                    "--start", "2025-01-01", "--end", "2025-01-02", "--out", str(tmp_path),
                    "--format", "parquet"], {})
    assert run.rc == 0, run.err
    assert (tmp_path / "date=2025-01-01" / "part-0.parquet").exists()
    examples = load_window(str(tmp_path), D(2025, 1, 1), D(2025, 1, 2))
    assert _same_table(examples, SyntheticSource(seed=1, rows_per_day=20)
                       .window(D(2025, 1, 1), D(2025, 1, 2)))


def test_parquet_without_pyarrow_is_a_clear_error(
    run_main: RunMain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pyarrow is a test dependency; hide it as a trainer image without it would lack it.
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    part = tmp_path / "date=2025-01-01" / "part-0.parquet"
    part.parent.mkdir()
    part.write_bytes(b"PAR1")
    with pytest.raises(BadInputError, match="need pyarrow"):
        load_window(str(tmp_path), D(2025, 1, 1), D(2025, 1, 1))
