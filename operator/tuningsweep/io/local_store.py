"""A results/models location on the local file system.

Writes are atomic: a temp file in the same folder, fsync, ``os.replace``, then an fsync
of the folder, so a reader (or a crash) sees either the old or the new file, never a mix.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from .errors import StorageError
from .object_paths import clean_prefix, clean_relpath

TEMP_SUFFIX = ".tuningsweep-tmp"
PROBE_NAME = ".tuningsweep-write-check"


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
                dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX
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
        cleaned = clean_prefix(prefix)
        start = self.root / cleaned.rpartition("/")[0]
        found = []
        for path in _files_under(start):
            rel = path.relative_to(self.root).as_posix()
            if rel.startswith(cleaned) and not path.name.endswith(TEMP_SUFFIX):
                found.append(rel)
        return found

    def uri_for(self, relpath: str) -> str:
        """The absolute path of ``relpath``."""
        return str(self._path(relpath))

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
        probe = self.root / f"{PROBE_NAME}-{uuid.uuid4().hex}"
        try:
            self._atomic_write(probe, lambda out: out.write(b"ok\n"))
        except StorageError as err:
            raise StorageError(f"folder {self.root} is not writable: {err}") from err
        with contextlib.suppress(OSError):
            probe.unlink()
