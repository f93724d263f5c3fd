"""Objects under ``gs://bucket/prefix/`` through google-cloud-storage.

Imported only when a ``gs://`` location is opened (:func:`tuningsweep.io.storage.open_store`).

* **Atomic by construction:** an object upload is a single request; the object changes
  when it completes, so a reader sees the old or the new CSV, never a mix.
* **Retries belong here.** Every call goes through one ``google.api_core`` retry policy:
  429, 408, 5xx and connection errors are retried with truncated exponential backoff
  and full jitter, bounded by ``retry_timeout``. Rewriting a whole object is idempotent,
  so retrying an upload is safe.
* **The client is created lazily**, on first use, because it reads
  ``STORAGE_EMULATOR_HOST`` when constructed (:mod:`tuningsweep.io.gcs_client`): opening
  a store never touches the network or credentials, and tests can point the environment
  at an emulator first.
* Client exceptions become one-line :class:`StorageError` messages that say what to do.
"""

from __future__ import annotations

import contextlib
import mimetypes
import re
import threading
import uuid
from collections.abc import Callable, Iterator

from google.api_core import exceptions as gexc
from google.api_core.retry import Retry
from google.auth import exceptions as auth_exc
from google.cloud.storage import Bucket, Client
from google.cloud.storage.retry import DEFAULT_RETRY
from requests import RequestException

from .errors import StorageError
from .gcs_client import make_client
from .object_paths import DEFAULT_RETRY_TIMEOUT_S, clean_prefix, clean_relpath

DEFAULT_REQUEST_TIMEOUT_S = 60.0
_PROBE_NAME = ".tuningsweep-write-check"
# Bucket names: 3-222 characters of lowercase letters, digits, "-", "_" and ".",
# starting and ending with a letter or digit (dotted names have 63-char components).
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")


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
        client_factory: Callable[[], Client] = make_client,
        retry_timeout: float = DEFAULT_RETRY_TIMEOUT_S,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S,
    ) -> None:
        if not _BUCKET_RE.match(bucket):
            raise StorageError(
                f"invalid GCS bucket name {bucket!r} in gs://{bucket}/{prefix}: bucket names "
                "are 3-63 lowercase letters, digits, '-', '_' or '.'"
            )
        self.bucket_name = bucket
        self.prefix = clean_prefix(prefix.rstrip("/") + "/")
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
        key_prefix = self.prefix + clean_prefix(prefix)
        with self._errors("list", f"gs://{self.bucket_name}/{key_prefix}"):
            bucket = self._bucket()
            blobs = bucket.client.list_blobs(
                bucket, prefix=key_prefix, retry=self._retry, timeout=self.request_timeout
            )
            return sorted(blob.name[len(self.prefix) :] for blob in blobs)

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
