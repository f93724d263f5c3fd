"""Storage adapter against local folders and a real fake-gcs-server (optionally behind a
fault-injecting proxy that answers 429/503 or drops connections)."""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import pytest
from google.cloud import storage

from tests.faultproxy import DROP, Exchange, FaultProxy
from tests.services import FakeGcsServer
from tuningsweep.io.gcs_store import GcsStore
from tuningsweep.io.local_store import LocalStore
from tuningsweep.io.storage import StorageError, open_store
from tuningsweep.io.throttled_writer import ThrottledWriter


def is_upload(method: str, path: str) -> bool:
    """Object uploads (what counts as a write against the per-object rate limit)."""
    return method == "POST" and path.startswith("/upload/storage/v1/")


def is_object_call(method: str, path: str) -> bool:
    """Object uploads, downloads and listings; not the client's background bucket GETs."""
    return re.search(r"/b/[^/?]+/o(/|\?|$)", path) is not None


def uploads_of(proxy: FaultProxy, name: str) -> list[Exchange]:
    """Uploads of object ``name`` that reached the emulator (the name is in the body)."""
    marker = f'"name": "{name}"'.encode()
    return [e for e in proxy.exchanges(is_upload) if not e.faulted and marker in e.body]


# --- URIs and paths ----------------------------------------------------------------


def test_open_store_selects_backend_by_uri(tmp_path: Path) -> None:
    gcs = open_store("gs://my-bucket/tuning/")
    assert isinstance(gcs, GcsStore)
    assert gcs.uri == "gs://my-bucket/tuning/"
    assert gcs.uri_for("ml/sweep/results.csv") == "gs://my-bucket/tuning/ml/sweep/results.csv"
    assert open_store("gs://my-bucket").uri_for("a.csv") == "gs://my-bucket/a.csv"

    local = open_store(str(tmp_path / "out"))
    assert isinstance(local, LocalStore)
    assert local.uri_for("a/b.csv") == str(tmp_path / "out" / "a" / "b.csv")
    assert isinstance(open_store(f"file://{tmp_path}"), LocalStore)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("s3://bucket/x", "unsupported storage location"),
        ("gs://", "invalid GCS bucket name"),
        ("gs://Upper_Case/x", "invalid GCS bucket name"),
        ("  ", "empty"),
    ],
)
def test_open_store_rejects_bad_uris(uri: str, message: str) -> None:
    with pytest.raises(StorageError, match=message):
        open_store(uri)


def test_relpaths_are_normalised_and_cannot_escape(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    store.write_text("./a//b.txt", "x")
    assert store.read_text("a/b.txt") == "x"
    with pytest.raises(StorageError, match=r"'\.\.' is not allowed"):
        store.write_text("../escape.txt", "x")
    with pytest.raises(StorageError, match="empty"):
        store.read_text("/")


# --- local backend -----------------------------------------------------------------


def test_local_round_trip(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "results"))

    assert store.read_text("ml/s/results.csv") is None
    assert not store.exists("ml/s/results.csv")
    store.write_text("ml/s/results.csv", "a,b\n1,2\n")
    store.write_text("ml/s/summary.csv", "x\n")
    store.write_text("ml/t/results.csv", "é\n")

    assert store.read_text("ml/s/results.csv") == "a,b\n1,2\n"
    assert store.read_text("ml/t/results.csv") == "é\n"
    assert store.exists("ml/s/summary.csv")
    assert store.list() == ["ml/s/results.csv", "ml/s/summary.csv", "ml/t/results.csv"]
    assert store.list("ml/s/") == ["ml/s/results.csv", "ml/s/summary.csv"]
    assert store.list("ml/s/r") == ["ml/s/results.csv"]
    assert store.list("nothing/") == []


def test_local_write_is_atomic_for_concurrent_readers(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    versions = [f"{i}\n" * 200_000 for i in range(5)]  # ~400 KB each, not one write(2)
    store.write_text("results.csv", versions[0])
    seen: set[str] = set()
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            text = store.read_text("results.csv")
            assert text is not None
            seen.add(text)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(4):
            for version in versions:
                store.write_text("results.csv", version)
    finally:
        done.set()
        thread.join()

    assert seen <= set(versions), "a reader saw a partially written file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]


def test_local_failed_write_keeps_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(str(tmp_path))
    store.write_text("results.csv", "old\n")

    def failing_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(StorageError, match=r"cannot write .*results.csv: No space left"):
        store.write_text("results.csv", "new\n")
    monkeypatch.undo()

    assert store.read_text("results.csv") == "old\n"
    assert os.listdir(tmp_path) == ["results.csv"]


def test_local_check_writable_names_the_folder(tmp_path: Path) -> None:
    open_store(str(tmp_path / "new" / "folder")).check_writable()
    assert (tmp_path / "new" / "folder").is_dir()
    assert os.listdir(tmp_path / "new" / "folder") == []

    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(StorageError, match=f"{blocker} exists and is not a folder"):
        open_store(str(blocker)).check_writable()
    with pytest.raises(StorageError, match=f"cannot create folder {blocker}/sub"):
        open_store(str(blocker / "sub")).check_writable()


# --- GCS backend -------------------------------------------------------------------


def test_gcs_round_trip(gcs_bucket: str, gcs_client: storage.Client) -> None:
    store = open_store(f"gs://{gcs_bucket}/tuning")

    assert store.read_text("ml/s/results.csv") is None
    assert not store.exists("ml/s/results.csv")
    store.check_writable()
    store.write_text("ml/s/results.csv", "a,b\n1,2\n")
    store.write_text("ml/s/summary.csv", "é\n")

    assert store.read_text("ml/s/results.csv") == "a,b\n1,2\n"
    assert store.read_text("ml/s/summary.csv") == "é\n"
    assert store.exists("ml/s/results.csv")
    assert store.list() == ["ml/s/results.csv", "ml/s/summary.csv"]
    assert store.list("ml/s/r") == ["ml/s/results.csv"]
    blob = gcs_client.bucket(gcs_bucket).get_blob("tuning/ml/s/results.csv")
    assert blob is not None
    assert blob.content_type.startswith("text/csv")
    assert [b.name for b in gcs_client.list_blobs(gcs_bucket)] == [
        "tuning/ml/s/results.csv",
        "tuning/ml/s/summary.csv",
    ]  # the write check left nothing behind


def test_gcs_missing_bucket_is_a_clear_error(gcs_emulator: FakeGcsServer) -> None:
    store = open_store("gs://no-such-bucket-4711/tuning/")

    with pytest.raises(StorageError, match="GCS bucket 'no-such-bucket-4711' does not exist"):
        store.check_writable()
    with pytest.raises(StorageError, match="GCS bucket 'no-such-bucket-4711' does not exist"):
        store.write_text("results.csv", "x")


def test_gcs_client_is_created_lazily(
    gcs_emulator: FakeGcsServer, gcs_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9")  # nothing listens
    store = open_store(f"gs://{gcs_bucket}/lazy")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.url)

    store.write_text("a.txt", "reached the emulator")

    assert store.read_text("a.txt") == "reached the emulator"


# --- retries through the fault gcs_fault_proxy -----------------------------------------------


@pytest.mark.parametrize("statuses", [(429,), (503,), (500, 502, 504), (DROP,)])
def test_gcs_calls_retry_transient_failures(
    gcs_fault_proxy: FaultProxy, gcs_bucket: str, statuses: tuple[int, ...]
) -> None:
    store = open_store(f"gs://{gcs_bucket}/r")
    gcs_fault_proxy.inject(fail_first=2, statuses=statuses, matches=is_object_call)
    store.write_text("results.csv", "v1\n")
    gcs_fault_proxy.inject(fail_first=2, statuses=statuses, matches=is_object_call)
    assert store.read_text("results.csv") == "v1\n"
    gcs_fault_proxy.inject(fail_first=2, statuses=statuses, matches=is_object_call)
    assert store.list() == ["results.csv"]

    assert len([e for e in gcs_fault_proxy.exchanges() if e.faulted]) == 6
    assert len(uploads_of(gcs_fault_proxy, "r/results.csv")) == 1


def test_gcs_write_gives_up_after_retry_timeout(gcs_emulator: FakeGcsServer) -> None:
    with FaultProxy(gcs_emulator.url) as gcs_fault_proxy:
        gcs_fault_proxy.inject(fail_rate=1.0, statuses=(503,))
        store = GcsStore(
            "some-bucket",
            "x",
            client_factory=lambda: storage.Client(
                project="test", client_options={"api_endpoint": gcs_fault_proxy.url}
            ),
            retry_timeout=1.5,
        )
        started = time.monotonic()
        with pytest.raises(
            StorageError, match=r"still failing after retrying for 1.5s \(last error: HTTP 503\)"
        ):
            store.write_text("results.csv", "x")
        assert time.monotonic() - started < 15
        assert len(gcs_fault_proxy.exchanges()) >= 2


def test_gcs_permission_denied_is_not_retried(gcs_fault_proxy: FaultProxy, gcs_bucket: str) -> None:
    store = open_store(f"gs://{gcs_bucket}/denied")
    gcs_fault_proxy.inject(fail_first=1, statuses=(403,), matches=is_upload)

    with pytest.raises(StorageError, match=r"cannot write gs://.*/denied/a.csv: permission denied"):
        store.write_text("a.csv", "x")
    assert len(gcs_fault_proxy.exchanges(is_upload)) == 1


def test_gcs_writes_survive_random_faults(gcs_fault_proxy: FaultProxy, gcs_bucket: str) -> None:
    store = open_store(f"gs://{gcs_bucket}/chaos")
    gcs_fault_proxy.inject(fail_rate=0.4, statuses=(429, 503, DROP), matches=is_object_call, seed=7)

    with ThrottledWriter(store, min_interval=0.1) as writer:
        for i in range(15):
            writer.submit("results.csv", f"rows={i}\n")
            writer.submit(f"part-{i % 3}.csv", f"part {i}\n")
            time.sleep(0.03)

    gcs_fault_proxy.heal()
    assert store.read_text("results.csv") == "rows=14\n"
    assert [store.read_text(f"part-{i}.csv") for i in range(3)] == [
        "part 12\n",
        "part 13\n",
        "part 14\n",
    ]
    assert any(e.faulted for e in gcs_fault_proxy.exchanges())


# --- ThrottledWriter -----------------------------------------------------------------


def test_throttled_writer_coalesces_to_one_write_per_interval(
    gcs_fault_proxy: FaultProxy, gcs_bucket: str
) -> None:
    store = open_store(f"gs://{gcs_bucket}/t")

    writer = ThrottledWriter(store, min_interval=2.0)
    start = time.monotonic()
    for i in range(20):  # 20 submits within ~1 s
        writer.submit("results.csv", f"version {i}\n")
        time.sleep(0.05)
    writer.flush()
    elapsed = time.monotonic() - start
    writer.close()

    writes = uploads_of(gcs_fault_proxy, "t/results.csv")
    assert store.read_text("results.csv") == "version 19\n"
    assert len(writes) == 2, "first submit, then one coalesced write after the interval"
    assert writes[1].at - writes[0].at >= 1.95
    assert 1.95 <= elapsed < 6


def test_throttled_writer_objects_do_not_wait_for_each_other(
    gcs_fault_proxy: FaultProxy, gcs_bucket: str
) -> None:
    store = open_store(f"gs://{gcs_bucket}/t")
    with ThrottledWriter(store, min_interval=2.0) as writer:
        started = time.monotonic()
        writer.submit("results.csv", "r\n")
        writer.submit("summary.csv", "s\n")
        writer.flush()
        assert time.monotonic() - started < 1.5
    assert store.read_text("summary.csv") == "s\n"


def test_throttled_writer_keeps_failed_text_and_flush_raises(
    gcs_fault_proxy: FaultProxy, gcs_bucket: str
) -> None:
    store = GcsStore(gcs_bucket, "f", retry_timeout=1.0)
    writer = ThrottledWriter(store, min_interval=0.2)
    gcs_fault_proxy.inject(fail_rate=1.0, statuses=(503,), matches=is_upload)

    writer.submit("results.csv", "must not be lost\n")
    with pytest.raises(StorageError, match=r"could not write gs://.*/f/results.csv"):
        writer.flush()

    gcs_fault_proxy.heal()
    writer.close()  # retries the kept text
    assert store.read_text("results.csv") == "must not be lost\n"


def test_throttled_writer_local_store(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    with ThrottledWriter(store, min_interval=0) as writer:
        for i in range(50):
            writer.submit("a/results.csv", f"{i}\n")
    assert store.read_text("a/results.csv") == "49\n"
    with pytest.raises(RuntimeError, match="closed"):
        writer.submit("a/results.csv", "late\n")


def test_throttled_writer_flush_timeout(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    with ThrottledWriter(store, min_interval=1.0) as writer:
        writer.submit("x.csv", "1\n")
        writer.flush()
        writer.submit("x.csv", "2\n")
        with pytest.raises(StorageError, match=r"timed out after 0.2s writing .*x.csv"):
            writer.flush(timeout=0.2)
        assert store.read_text("x.csv") == "1\n"
        writer.flush()
    assert store.read_text("x.csv") == "2\n"


def test_gcs_without_credentials_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    store = open_store("gs://some-bucket/tuning/")

    with pytest.raises(StorageError, match="no Google Cloud credentials found"):
        store.check_writable()


def test_throttled_writer_backs_off_while_writes_keep_failing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    writer = ThrottledWriter(open_store(str(blocker / "results")), min_interval=0)

    writer.submit("results.csv", "rows\n")
    with pytest.raises(StorageError, match=r"could not write .*results.csv: cannot write"):
        writer.flush()
    time.sleep(1.2)

    failures = [r for r in caplog.records if "writing" in r.getMessage()]
    assert 1 <= len(failures) <= 3, "failed writes are retried with backoff, not in a loop"
    with pytest.raises(StorageError):
        writer.close(timeout=5)
