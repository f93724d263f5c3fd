"""Object storage for results and models: a local folder or a GCS prefix, one interface.

The local runner and the operator both keep their durable state in a results folder
(``results.csv``, ``summary.csv``, the pinned windows) and save trial models under a
models prefix. Both locations are URIs in the manifest, so storage is chosen by URI:

* ``gs://bucket/prefix`` -> :class:`GcsStore` (google-cloud-storage), and
* anything else without a scheme, or ``file://...`` -> :class:`LocalStore`.

Design reasoning:

* **Whole-object writes only.** Results are small CSVs rewritten in full, so the store
  offers ``write_text`` (replace the object) and ``read_text`` rather than appends.
  A reader therefore sees either the old or the new file, never a mix: locally through
  a temp file in the same folder + fsync + ``os.replace``; on GCS because an object
  upload is atomic (a single multipart upload; the object changes when it completes).
* **Retries belong to the GCS backend.** Every GCS call goes through one
  ``google.api_core`` retry policy: 429, 408, 5xx and connection errors are retried
  with truncated exponential backoff and full jitter, bounded by ``retry_timeout``.
  Rewriting a whole object is idempotent, so retrying an upload is safe.
* **The GCS client is created lazily**, on first use, because the client reads
  ``STORAGE_EMULATOR_HOST`` when it is constructed: opening a store never touches the
  network or credentials, and tests can point the environment at an emulator first.
  With ``STORAGE_EMULATOR_HOST`` set it uses anonymous credentials and the project from
  ``GOOGLE_CLOUD_PROJECT`` (default ``tuningsweep``); otherwise Application Default
  Credentials.
* **User mistakes are :class:`StorageError` with a sentence, not a traceback:** a
  missing bucket, a folder that is not writable, missing credentials. Call
  :meth:`Store.check_writable` before a sweep starts so these surface before any trial
  runs.
* **Rate limit per object.** GCS allows about one write per second to one object name
  and answers 429 beyond that; the results CSV changes whenever a trial finishes.
  :class:`ThrottledWriter` coalesces rewrites: only the latest text of each object is
  kept, and it is written at most once per ``min_interval`` (2 s by default).

Relative paths (``relpath``) use ``/`` separators; ``..`` and empty paths are refused.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import math
import mimetypes
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol, Self

from google.api_core import exceptions as gexc
from google.api_core.retry import Retry
from google.auth import exceptions as auth_exc
from google.auth.credentials import AnonymousCredentials
from google.cloud.storage import Bucket, Client
from google.cloud.storage.retry import DEFAULT_RETRY
from requests import RequestException

from .errors import StorageError as StorageError  # re-exported: the public name

log = logging.getLogger(__name__)

DEFAULT_MIN_INTERVAL_S = 2.0
FAILED_WRITE_MAX_BACKOFF_S = 30.0
DEFAULT_RETRY_TIMEOUT_S = 60.0
DEFAULT_REQUEST_TIMEOUT_S = 60.0
EMULATOR_ENV = "STORAGE_EMULATOR_HOST"
EMULATOR_DEFAULT_PROJECT = "tuningsweep"

_TEMP_SUFFIX = ".tuningsweep-tmp"
_PROBE_NAME = ".tuningsweep-write-check"
# Bucket names: 3-222 characters of lowercase letters, digits, "-", "_" and ".",
# starting and ending with a letter or digit (dotted names have 63-char components).
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")


class Store(Protocol):
    """A results/models location: a local folder or a ``gs://bucket/prefix``."""

    @property
    def uri(self) -> str:
        """The location this store was opened on, normalised."""
        ...

    def read_text(self, relpath: str) -> str | None:
        """Return the object's UTF-8 text, or None when it does not exist."""
        ...

    def write_text(self, relpath: str, text: str) -> None:
        """Replace the object atomically with ``text`` (UTF-8)."""
        ...

    def exists(self, relpath: str) -> bool:
        """Whether the object exists."""
        ...

    def list(self, prefix: str = "") -> list[str]:
        """Sorted relative paths of the objects whose path starts with ``prefix``."""
        ...

    def uri_for(self, relpath: str) -> str:
        """The full URI (``gs://...`` or an absolute path) of ``relpath``."""
        ...

    def upload_dir(self, local_dir: str | os.PathLike[str], relprefix: str) -> builtins.list[str]:
        """Copy every file under ``local_dir`` to ``relprefix/``; return the relpaths."""
        ...

    def check_writable(self) -> None:
        """Raise :class:`StorageError` unless objects can be created and replaced here."""
        ...


def open_store(
    uri: str,
    *,
    retry_timeout: float = DEFAULT_RETRY_TIMEOUT_S,
) -> Store:
    """Open the store for ``uri``: ``gs://bucket[/prefix]``, ``file://path`` or a path.

    Nothing is contacted yet; ``retry_timeout`` bounds the retries of one GCS call.
    Raises :class:`StorageError` for malformed or unsupported URIs.
    """
    text = uri.strip()
    if not text:
        raise StorageError("storage location is empty: give a folder or gs://bucket/prefix")
    if text.startswith("gs://"):
        bucket, _, prefix = text[len("gs://") :].partition("/")
        return GcsStore(bucket, prefix, retry_timeout=retry_timeout)
    if text.startswith("file://"):
        return LocalStore(text[len("file://") :])
    scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", text)
    if scheme:
        raise StorageError(
            f"unsupported storage location {uri!r}: use a local folder or gs://bucket/prefix"
        )
    return LocalStore(text)


def clean_relpath(relpath: str) -> str:
    """Normalise a relative object path (``/`` separators, no ``.``); refuse ``..``."""
    parts = [p for p in relpath.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise StorageError(f"invalid object path {relpath!r}: '..' is not allowed")
    if not parts:
        raise StorageError(f"invalid object path {relpath!r}: empty")
    return "/".join(parts)


def _clean_prefix(prefix: str) -> str:
    """Like :func:`clean_relpath` but empty is allowed and a trailing ``/`` is kept."""
    if not prefix.strip("/"):
        return ""
    cleaned = clean_relpath(prefix)
    return cleaned + "/" if prefix.endswith("/") else cleaned


def _describe_os_error(err: OSError) -> str:
    if isinstance(err, PermissionError):
        return "permission denied"
    return err.strerror or str(err)


def _files_under(root: Path) -> Iterator[Path]:
    """Regular files below ``root``, recursively, in sorted order."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(dirpath) / name


class LocalStore:
    """A folder on the local file system; writes are atomic (temp file + rename)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().absolute()

    @property
    def uri(self) -> str:
        """The absolute folder path."""
        return str(self.root)

    def _path(self, relpath: str) -> Path:
        return self.root / clean_relpath(relpath)

    def read_text(self, relpath: str) -> str | None:
        """Return the file's text, or None when it does not exist."""
        path = self._path(relpath)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as err:
            raise StorageError(f"cannot read {path}: {_describe_os_error(err)}") from err

    def write_text(self, relpath: str, text: str) -> None:
        """Write ``text`` to a temp file beside the target, fsync it, then rename."""
        self._atomic_write(self._path(relpath), lambda out: out.write(text.encode("utf-8")))

    def _atomic_write(self, path: Path, fill: Callable[[IO[bytes]], object]) -> None:
        tmp_name: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(
                dir=path.parent, prefix=f".{path.name}.", suffix=_TEMP_SUFFIX
            )
            with os.fdopen(fd, "wb") as out:
                fill(out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, path)
            tmp_name = None
            self._fsync_dir(path.parent)
        except OSError as err:
            raise StorageError(f"cannot write {path}: {_describe_os_error(err)}") from err
        finally:
            if tmp_name is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)

    @staticmethod
    def _fsync_dir(directory: Path) -> None:
        """Persist the rename itself; not every file system supports this, so best effort."""
        try:
            fd = os.open(directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def exists(self, relpath: str) -> bool:
        """Whether the file exists."""
        return self._path(relpath).is_file()

    def list(self, prefix: str = "") -> list[str]:
        """Sorted relpaths of files starting with ``prefix``; in-flight temp files excluded."""
        cleaned = _clean_prefix(prefix)
        start = self.root / cleaned.rpartition("/")[0]
        found = []
        for path in _files_under(start):
            rel = path.relative_to(self.root).as_posix()
            if rel.startswith(cleaned) and not path.name.endswith(_TEMP_SUFFIX):
                found.append(rel)
        return found

    def uri_for(self, relpath: str) -> str:
        """The absolute path of ``relpath``."""
        return str(self._path(relpath))

    def upload_dir(self, local_dir: str | os.PathLike[str], relprefix: str) -> builtins.list[str]:
        """Copy the files under ``local_dir`` (each atomically); return their relpaths.

        When ``local_dir`` already is the destination folder nothing is copied.
        """
        source = Path(local_dir).absolute()
        if not source.is_dir():
            raise StorageError(f"cannot upload {source}: not a folder")
        dest_prefix = clean_relpath(relprefix)
        same_place = source.resolve() == (self.root / dest_prefix).resolve()
        written = []
        for path in _files_under(source):
            rel = f"{dest_prefix}/{path.relative_to(source).as_posix()}"
            if not same_place:
                self._copy_file(path, self.root / rel)
            written.append(rel)
        return written

    def _copy_file(self, source: Path, dest: Path) -> None:
        try:
            with source.open("rb") as src:
                self._atomic_write(dest, lambda out: shutil.copyfileobj(src, out))
        except OSError as err:
            raise StorageError(f"cannot read {source}: {_describe_os_error(err)}") from err

    def check_writable(self) -> None:
        """Create the folder if needed and write, then remove, a probe file."""
        if self.root.exists() and not self.root.is_dir():
            raise StorageError(f"results location {self.root} exists and is not a folder")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StorageError(
                f"cannot create folder {self.root}: {_describe_os_error(err)}"
            ) from err
        probe = self.root / f"{_PROBE_NAME}-{uuid.uuid4().hex}"
        try:
            self._atomic_write(probe, lambda out: out.write(b"ok\n"))
        except StorageError as err:
            raise StorageError(f"folder {self.root} is not writable: {err}") from err
        with contextlib.suppress(OSError):
            probe.unlink()


def default_gcs_client() -> Client:
    """A storage client: anonymous against ``STORAGE_EMULATOR_HOST``, else ADC.

    No project is required for object operations, so ``GOOGLE_CLOUD_PROJECT`` is
    passed through when set and otherwise left out.
    """
    if os.environ.get(EMULATOR_ENV):
        return Client(
            project=os.environ.get("GOOGLE_CLOUD_PROJECT", EMULATOR_DEFAULT_PROJECT),
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        )
    try:
        return Client(project=os.environ.get("GOOGLE_CLOUD_PROJECT"))
    except auth_exc.DefaultCredentialsError as err:
        raise StorageError(
            "no Google Cloud credentials found for gs:// storage: run "
            "`gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS, "
            "or use a workload identity"
        ) from err


def gcs_retry(timeout: float = DEFAULT_RETRY_TIMEOUT_S) -> Retry:
    """The retry policy for GCS calls: 429/408/5xx/connection errors, jittered backoff.

    Delays are drawn uniformly from [0, d] with d = 0.5 s doubling to at most 8 s
    (truncated exponential backoff with full jitter); retrying stops after ``timeout``.
    """
    retry: Retry = DEFAULT_RETRY.with_delay(initial=0.5, maximum=8.0, multiplier=2.0)
    return retry.with_timeout(timeout)


class GcsStore:
    """Objects under ``gs://bucket/prefix/``, through google-cloud-storage."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client_factory: Callable[[], Client] = default_gcs_client,
        retry_timeout: float = DEFAULT_RETRY_TIMEOUT_S,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S,
    ) -> None:
        if not _BUCKET_RE.match(bucket):
            raise StorageError(
                f"invalid GCS bucket name {bucket!r} in gs://{bucket}/{prefix}: bucket names "
                "are 3-63 lowercase letters, digits, '-', '_' or '.'"
            )
        self.bucket_name = bucket
        self.prefix = _clean_prefix(prefix.rstrip("/") + "/")
        self.retry_timeout = retry_timeout
        self.request_timeout = request_timeout
        self._client_factory = client_factory
        self._client: Client | None = None
        self._lock = threading.Lock()

    @property
    def uri(self) -> str:
        """``gs://bucket/prefix/`` (or ``gs://bucket/``)."""
        return f"gs://{self.bucket_name}/{self.prefix}"

    @property
    def _retry(self) -> Retry:
        return gcs_retry(self.retry_timeout)

    def _bucket(self) -> Bucket:
        with self._lock:
            if self._client is None:
                self._client = self._client_factory()
            return self._client.bucket(self.bucket_name)

    def _key(self, relpath: str) -> str:
        return self.prefix + clean_relpath(relpath)

    def uri_for(self, relpath: str) -> str:
        """``gs://bucket/prefix/relpath``."""
        return f"gs://{self.bucket_name}/{self._key(relpath)}"

    @contextlib.contextmanager
    def _errors(self, action: str, uri: str) -> Iterator[None]:
        """Translate client exceptions into one-line :class:`StorageError` messages."""
        try:
            yield
        except StorageError:
            raise
        except gexc.NotFound as err:
            raise StorageError(
                f"cannot {action} {uri}: GCS bucket '{self.bucket_name}' does not exist"
            ) from err
        except (gexc.Forbidden, gexc.Unauthorized) as err:
            raise StorageError(
                f"cannot {action} {uri}: permission denied ({err.message}); the account "
                "needs roles/storage.objectUser on the bucket"
            ) from err
        except gexc.RetryError as err:
            raise StorageError(
                f"cannot {action} {uri}: still failing after retrying for "
                f"{self.retry_timeout:g}s (last error: {_describe_gcs_error(err.cause)})"
            ) from err
        except gexc.GoogleAPICallError as err:
            raise StorageError(f"cannot {action} {uri}: {_describe_gcs_error(err)}") from err
        except auth_exc.DefaultCredentialsError as err:
            raise StorageError(f"cannot {action} {uri}: no Google Cloud credentials") from err
        except (auth_exc.GoogleAuthError, RequestException, OSError) as err:
            raise StorageError(f"cannot {action} {uri}: {err}") from err

    def read_text(self, relpath: str) -> str | None:
        """Download the object as UTF-8 text; None when it (or its bucket) is absent."""
        uri = self.uri_for(relpath)
        with self._errors("read", uri):
            blob = self._bucket().blob(self._key(relpath))
            try:
                data = blob.download_as_bytes(retry=self._retry, timeout=self.request_timeout)
            except gexc.NotFound:
                return None
        text: str = data.decode("utf-8")
        return text

    def write_text(self, relpath: str, text: str) -> None:
        """Upload ``text`` as the whole object in one request (atomic on GCS), retried."""
        uri = self.uri_for(relpath)
        with self._errors("write", uri):
            blob = self._bucket().blob(self._key(relpath))
            blob.cache_control = "no-store"
            blob.upload_from_string(
                text.encode("utf-8"),
                content_type=_content_type(relpath),
                retry=self._retry,
                timeout=self.request_timeout,
            )

    def exists(self, relpath: str) -> bool:
        """Whether the object exists (False also when the bucket does not)."""
        with self._errors("check", self.uri_for(relpath)):
            blob = self._bucket().blob(self._key(relpath))
            return bool(blob.exists(retry=self._retry, timeout=self.request_timeout))

    def list(self, prefix: str = "") -> list[str]:
        """Sorted relpaths of the objects under this store starting with ``prefix``."""
        key_prefix = self.prefix + _clean_prefix(prefix)
        with self._errors("list", f"gs://{self.bucket_name}/{key_prefix}"):
            bucket = self._bucket()
            blobs = bucket.client.list_blobs(
                bucket, prefix=key_prefix, retry=self._retry, timeout=self.request_timeout
            )
            return sorted(blob.name[len(self.prefix) :] for blob in blobs)

    def upload_dir(self, local_dir: str | os.PathLike[str], relprefix: str) -> builtins.list[str]:
        """Upload every file under ``local_dir`` to ``relprefix/``; return the relpaths."""
        source = Path(local_dir)
        if not source.is_dir():
            raise StorageError(f"cannot upload {source}: not a folder")
        dest_prefix = clean_relpath(relprefix)
        written = []
        for path in _files_under(source):
            rel = f"{dest_prefix}/{path.relative_to(source).as_posix()}"
            with self._errors("upload", self.uri_for(rel)):
                blob = self._bucket().blob(self._key(rel))
                blob.upload_from_filename(
                    str(path),
                    content_type=_content_type(path.name),
                    retry=self._retry,
                    timeout=self.request_timeout,
                )
            written.append(rel)
        return written

    def check_writable(self) -> None:
        """Create and delete a probe object: proves the bucket exists and we may replace.

        Replacing an object (the results CSV is rewritten) needs delete permission as
        well as create, so both are checked.
        """
        rel = f"{_PROBE_NAME}-{uuid.uuid4().hex}"
        uri = self.uri_for(rel)
        with self._errors("write", uri):
            blob = self._bucket().blob(self._key(rel))
            blob.upload_from_string(b"ok\n", retry=self._retry, timeout=self.request_timeout)
        with self._errors("delete", uri):
            blob.delete(retry=self._retry, timeout=self.request_timeout)


def _describe_gcs_error(err: BaseException | None) -> str:
    """A short description: ``HTTP 503: message`` for HTTP errors, else the text."""
    if isinstance(err, gexc.GoogleAPICallError):
        return f"HTTP {err.code}: {err.message}"
    # Upload/download failures inside a retry are the media layer's InvalidResponse,
    # which carries the requests response rather than a readable message.
    status = getattr(getattr(err, "response", None), "status_code", None)
    if isinstance(status, int):
        return f"HTTP {status}"
    return str(err) or type(err).__name__


def _content_type(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name)
    if guessed is None:
        return "application/octet-stream"
    if guessed.startswith("text/"):
        return f"{guessed}; charset=utf-8"
    return guessed


@dataclass
class _Pending:
    """Write state of one object inside :class:`ThrottledWriter`."""

    text: str | None = None  # latest text not yet handed to the store
    submitted: int = 0  # sequence number of the latest submit
    written: int = 0  # sequence number of the latest text durably written
    not_before: float = -math.inf  # time.monotonic() before which no write may start
    failures: int = 0  # consecutive failed attempts
    in_flight: bool = False


class ThrottledWriter:
    """Coalesces rewrites of the same objects to at most one write per ``min_interval``.

    ``submit(relpath, text)`` only records the text (latest wins) and returns at once;
    a background thread writes each object when its interval since the previous write
    has passed, so the first submit is written immediately and a burst becomes one more
    write at the end of the interval. Different objects do not wait for each other.

    ``flush()`` blocks until every text submitted before the call is written (waiting
    out intervals as needed) and raises :class:`StorageError` if a write failed in the
    meantime; the failed text stays queued and is retried by the thread (after at
    least ``min_interval``, backing off up to 30 s while failures persist). ``close()``
    flushes, then stops the thread. Nothing submitted is dropped silently: it is written
    or ``flush``/``close`` raise. Call ``close()`` (or use ``with``) before exiting;
    the thread is a daemon and dies with the interpreter.

    A thread, not a ``tick()`` the caller drives, so one implementation serves both
    callers: the synchronous local runner calls the methods directly, and the asyncio
    operator calls ``submit`` from the event loop (it never blocks on I/O) and runs
    ``await asyncio.to_thread(writer.flush)``. All methods are thread-safe.
    """

    def __init__(self, store: Store, min_interval: float = DEFAULT_MIN_INTERVAL_S) -> None:
        if min_interval < 0:
            raise ValueError("min_interval must be >= 0")
        self.store = store
        self.min_interval = min_interval
        self._cond = threading.Condition()
        self._objects: dict[str, _Pending] = {}
        self._attempts = 0  # write attempts started so far; the latest one's id
        self._failed_attempt = 0  # id of the latest attempt that failed
        self._last_error: Exception | None = None
        self._closed = False
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, name="tuningsweep-throttled-writer", daemon=True
        )
        self._thread.start()

    def submit(self, relpath: str, text: str) -> None:
        """Make ``text`` the next content of ``relpath``; replaces any unwritten text."""
        key = clean_relpath(relpath)
        with self._cond:
            if self._closed:
                raise RuntimeError("ThrottledWriter is closed")
            state = self._objects.setdefault(key, _Pending())
            state.text = text
            state.submitted += 1
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything submitted so far is written.

        Raises :class:`StorageError` when a write attempt started after this call
        fails (earlier attempts are the background retries' business), or when
        ``timeout`` seconds pass first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            targets = {key: st.submitted for key, st in self._objects.items()}
            attempts_before = self._attempts
            while True:
                behind = sorted(k for k, n in targets.items() if self._objects[k].written < n)
                if not behind:
                    return
                if self._failed_attempt > attempts_before:
                    raise StorageError(
                        f"could not write {self.store.uri_for(behind[0])}: {self._last_error}"
                    )
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise StorageError(
                        f"timed out after {timeout:g}s writing {self.store.uri_for(behind[0])}"
                    )
                self._cond.wait(remaining)

    def close(self, timeout: float | None = None) -> None:
        """Flush, then stop the background thread; idempotent."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
        try:
            self.flush(timeout)
        finally:
            with self._cond:
                self._stopping = True
                self._cond.notify_all()
            self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _next_due(self) -> tuple[str | None, float | None]:
        """(object to write now, None) or (None, seconds until one is due / None)."""
        now = time.monotonic()
        wait: float | None = None
        for key, state in self._objects.items():
            if state.text is None or state.in_flight:
                continue
            if state.not_before <= now:
                return key, None
            due_in = state.not_before - now
            wait = due_in if wait is None else min(wait, due_in)
        return None, wait

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    key, wait = self._next_due()
                    if key is not None:
                        break
                    self._cond.wait(wait)
                state = self._objects[key]
                text, seq = state.text, state.submitted
                assert text is not None
                state.text = None
                state.in_flight = True
                self._attempts += 1
                attempt = self._attempts
            error: Exception | None = None
            try:
                self.store.write_text(key, text)
            except Exception as err:  # any failure must reach flush(), not kill the thread
                error = err
            with self._cond:
                state.in_flight = False
                if error is None:
                    state.written = max(state.written, seq)
                    state.failures = 0
                    state.not_before = time.monotonic() + self.min_interval
                else:
                    # The store already retried transient errors; back off further so a
                    # persistent failure (disk full, bucket gone) does not spin.
                    state.failures += 1
                    backoff = min(FAILED_WRITE_MAX_BACKOFF_S, 0.5 * 2**state.failures)
                    state.not_before = time.monotonic() + max(self.min_interval, backoff)
                    self._failed_attempt = attempt
                    self._last_error = error
                    if state.text is None:  # nothing newer: keep this text for a retry
                        state.text = text
                    log.warning("writing %s failed: %s", self.store.uri_for(key), error)
                self._cond.notify_all()
