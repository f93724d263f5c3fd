"""The few Google Cloud Storage operations the trainer needs, on the official client.

The client comes from the project's one factory (:mod:`tuningsweep.io.gcs_client`:
anonymous against ``STORAGE_EMULATOR_HOST``, else Application Default Credentials), so
the trainer and the operator reach GCS the same way. It is imported lazily: a trial on
local files never pays for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuningsweep.io.errors import StorageError
from tuningsweep.io.gcs_client import make_client

from .errors import BadInputError, TrainingFailedError

GS_PREFIX = "gs://"


def is_gcs_uri(uri: str) -> bool:
    """Return whether ``uri`` names a GCS location."""
    return uri.startswith(GS_PREFIX)


def split_uri(uri: str) -> tuple[str, str]:
    """Split ``gs://bucket/some/prefix`` into ``("bucket", "some/prefix")``.

    Raises:
        BadInputError: the URI has no bucket.
    """
    rest = uri[len(GS_PREFIX):] if is_gcs_uri(uri) else uri
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise BadInputError(f"GCS URI {uri!r} has no bucket name (expected gs://bucket/prefix)")
    return bucket, prefix.strip("/")


def client() -> Any:
    """Return a ``google.cloud.storage.Client``, anonymous when an emulator is configured.

    Raises:
        TrainingFailedError: no credentials (the message says how to provide them).
    """
    try:
        return make_client()
    except StorageError as err:
        raise TrainingFailedError(str(err)) from None


def upload_tree(local_root: Path, uri: str, replace: tuple[str, ...] = ()) -> list[str]:
    """Upload every file under ``local_root`` to ``uri`` (same relative paths).

    For each folder named in ``replace`` (relative to ``uri``), objects already there that
    the tree does not contain are deleted first, so a retried trial does not leave a
    previous attempt's TensorBoard events behind. Nothing else is ever deleted.

    Returns:
        The ``gs://`` URIs written.
    """
    bucket_name, prefix = split_uri(uri)
    bucket = client().bucket(bucket_name)
    files = sorted(p for p in local_root.rglob("*") if p.is_file())
    names = [_join(prefix, p.relative_to(local_root).as_posix()) for p in files]
    keep = set(names)
    for folder in replace:
        for blob in bucket.list_blobs(prefix=_join(prefix, folder.strip("/")) + "/"):
            if blob.name not in keep:
                blob.delete()
    for path, name in zip(files, names, strict=True):
        bucket.blob(name).upload_from_filename(str(path))
    return [f"{GS_PREFIX}{bucket_name}/{name}" for name in names]


def download(uri: str, dest: Path) -> Path:
    """Download the object ``uri`` to ``dest`` and return ``dest``."""
    bucket_name, name = split_uri(uri)
    dest.parent.mkdir(parents=True, exist_ok=True)
    client().bucket(bucket_name).blob(name).download_to_filename(str(dest))
    return dest


def _join(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name
