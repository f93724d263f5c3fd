"""Each window's data read once: kept in memory, and on disk for the next processes,
keyed by the data's fingerprint and the columns; what a trial sees is what it would
have read itself."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pytest
from google.cloud import storage

from tests.trainer.helpers import write_partition
from tuningsweep_trainer import window_cache
from tuningsweep_trainer.columns import ColumnSpec
from tuningsweep_trainer.errors import BadInputError
from tuningsweep_trainer.preprocess import prepare
from tuningsweep_trainer.table import Table

START, END = dt.date(2025, 5, 1), dt.date(2025, 5, 20)
COLUMNS = ColumnSpec(target="y", numeric=("x",), categorical=("shop",))


def write_days(root: Path, days: int = 20) -> None:
    rng = np.random.default_rng(1)
    for d in range(1, days + 1):
        lines = ["shop,x,y"]
        for i in range(10):
            shop = "" if i == 3 else f"s{rng.integers(4)}"  # a missing category
            lines.append(f"{shop},{rng.normal():.4f},{rng.normal():.4f}")
        write_partition(root, f"2025-05-{d:02d}", "\n".join(lines) + "\n")


@pytest.fixture(autouse=True)
def empty_memory() -> None:
    window_cache._memory.clear()


def same(a: Table | object, b: Table | object) -> None:
    for part in ("train", "validation"):
        x, y = getattr(a, part), getattr(b, part)
        for field in ("numeric", "tokens", "history", "target", "day"):
            np.testing.assert_array_equal(getattr(x, field), getattr(y, field))


def test_read_once_then_memory_then_disk_gives_what_a_fresh_read_gives(tmp_path: Path) -> None:
    write_days(tmp_path / "data")
    uri, cache = str(tmp_path / "data"), str(tmp_path / "cache")
    first, came = window_cache.prepared_window(uri, START, END, COLUMNS, cache)
    assert came == "read" and len(list((tmp_path / "cache").glob("*.npz"))) == 1
    again, came = window_cache.prepared_window(uri, START, END, COLUMNS, cache)
    assert came == "memory" and again is first
    window_cache._memory.clear()  # a new worker process
    from_disk, came = window_cache.prepared_window(uri, START, END, COLUMNS, cache)
    assert came == "disk"
    same(from_disk, first)
    assert from_disk.preprocessing == first.preprocessing  # vocabulary, scaling: identical
    from tuningsweep_trainer.data_source import load_window
    same(first, prepare(load_window(uri, START, END, COLUMNS), COLUMNS))


def test_a_changed_file_other_columns_or_window_are_read_again(tmp_path: Path) -> None:
    write_days(tmp_path / "data")
    uri, cache = str(tmp_path / "data"), str(tmp_path / "cache")
    window_cache.prepared_window(uri, START, END, COLUMNS, cache)
    other = ColumnSpec(target="y", numeric=("x",))
    assert window_cache.prepared_window(uri, START, END, other, cache)[1] == "read"
    assert window_cache.prepared_window(uri, START, END - dt.timedelta(days=1), COLUMNS,
                                        cache)[1] == "read"
    changed = write_partition(tmp_path / "data", "2025-05-02", "shop,x,y\ns1,1.0,2.0\n")
    os.utime(changed, ns=(1, 1))  # even with an old modification time: the size differs
    window_cache._memory.clear()
    prepared, came = window_cache.prepared_window(uri, START, END, COLUMNS, cache)
    assert came == "read" and len(prepared.train) + len(prepared.validation) == 191


def test_a_window_without_data_is_still_bad_input(tmp_path: Path) -> None:
    write_days(tmp_path / "data")
    with pytest.raises(BadInputError, match="no data for window 2024-01-01"):
        window_cache.prepared_window(str(tmp_path / "data"), dt.date(2024, 1, 1),
                                     dt.date(2024, 1, 31), COLUMNS, str(tmp_path / "cache"))


def test_an_unreadable_cache_file_is_read_again(tmp_path: Path) -> None:
    write_days(tmp_path / "data")
    uri, cache = str(tmp_path / "data"), tmp_path / "cache"
    window_cache.prepared_window(uri, START, END, COLUMNS, str(cache))
    [kept] = cache.glob("*.npz")
    kept.write_bytes(b"not a zip")
    window_cache._memory.clear()
    assert window_cache.prepared_window(uri, START, END, COLUMNS, str(cache))[1] == "read"


def test_gcs_window_downloaded_once_and_again_when_an_object_changes(
    gcs_bucket: str, gcs_client: storage.Client, tmp_path: Path,
) -> None:
    root = f"gs://{gcs_bucket}/cached/"
    bucket = gcs_client.bucket(gcs_bucket)
    for d in range(1, 21):
        rows = "".join(f"s{i % 3},{i * 0.1:.1f},{d + i * 0.01:.2f}\n" for i in range(10))
        bucket.blob(f"cached/date=2025-05-{d:02d}/part-0.csv").upload_from_string(
            "shop,x,y\n" + rows)
    cache = str(tmp_path / "cache")
    assert window_cache.prepared_window(root, START, END, COLUMNS, cache)[1] == "read"
    assert window_cache.prepared_window(root, START, END, COLUMNS, cache)[1] == "memory"
    window_cache._memory.clear()
    assert window_cache.prepared_window(root, START, END, COLUMNS, cache)[1] == "disk"
    # Same size, new content: a new generation of the object is new data.
    blob = bucket.blob("cached/date=2025-05-07/part-0.csv")
    blob.upload_from_string(blob.download_as_bytes().replace(b"s1,", b"s2,"))
    assert window_cache.prepared_window(root, START, END, COLUMNS, cache)[1] == "read"
