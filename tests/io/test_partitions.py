"""Listing a data folder's daily partitions: local folders and a real fake-gcs-server."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from google.cloud import storage

from tuningsweep.io.partitions import DataFolderMissing, count_rows, list_partitions


def test_local_layout(tmp_path: Path) -> None:
    (tmp_path / "date=2026-01-02").mkdir()
    (tmp_path / "date=2026-01-02" / "part-1.csv").write_text("a,b\n1,2\n3,4")  # no last \n
    (tmp_path / "date=2026-01-02" / "part-0.csv").write_text("a,b\n5,6\n")
    (tmp_path / "date=2026-01-02" / "notes.txt").write_text("ignored")
    (tmp_path / "date=2026-01-01").mkdir()  # a day folder without data files
    (tmp_path / "date=2026-13-01").mkdir()  # not a date
    (tmp_path / "other").mkdir()
    days = list_partitions(str(tmp_path))
    assert list(days) == [dt.date(2026, 1, 2)]
    files = days[dt.date(2026, 1, 2)]
    assert [Path(f).name for f in files] == ["part-0.csv", "part-1.csv"]
    assert count_rows(files) == 3
    assert list_partitions(f"file://{tmp_path}") == days


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataFolderMissing, match="does not exist or is not a folder"):
        list_partitions(str(tmp_path / "nope"))


def test_gcs_layout(gcs_bucket: str, gcs_client: storage.Client) -> None:
    bucket = gcs_client.bucket(gcs_bucket)
    for name in ("flights/date=2026-01-01/part-0.csv", "flights/date=2026-01-03/part-0.parquet",
                 "flights/date=2026-01-03/nested/x.csv", "flights/_SUCCESS",
                 "other/date=2026-01-02/part-0.csv"):
        bucket.blob(name).upload_from_string("a\n1\n")
    days = list_partitions(f"gs://{gcs_bucket}/flights/")
    assert days == {
        dt.date(2026, 1, 1): (f"gs://{gcs_bucket}/flights/date=2026-01-01/part-0.csv",),
        dt.date(2026, 1, 3): (f"gs://{gcs_bucket}/flights/date=2026-01-03/part-0.parquet",),
    }
    assert count_rows(days[dt.date(2026, 1, 1)]) is None  # not downloaded to count
    with pytest.raises(DataFolderMissing, match="bucket 'no-such-bucket-x' does not exist"):
        list_partitions("gs://no-such-bucket-x/flights")
