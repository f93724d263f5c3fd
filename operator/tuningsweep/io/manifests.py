"""Reading sweep manifests from files: the I/O edge in front of the pure parser."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import InvalidSpec, SpecError
from ..core.manifest import load_sweeps
from ..core.spec import Sweep


def read_sweeps(path: str) -> list[Sweep]:
    """Read and validate every sweep in the file at ``path`` (``-`` for standard input).

    Raises:
        InvalidSpec: the file is missing, unreadable, or invalid (all problems at once).
    """
    if path == "-":
        import sys

        return load_sweeps(sys.stdin.read(), "<stdin>")
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidSpec([SpecError("", "file not found",
                                     "check the path; examples/ has manifests to copy")],
                          path) from None
    except IsADirectoryError:
        raise InvalidSpec([SpecError("", "is a directory, not a manifest file",
                                     "name a .yaml or .json file")], path) from None
    except PermissionError:
        raise InvalidSpec([SpecError("", "cannot be read (permission denied)",
                                     "check the file's permissions")], path) from None
    except UnicodeDecodeError:
        raise InvalidSpec([SpecError("", "is not UTF-8 text",
                                     "save the manifest as UTF-8 YAML or JSON")], path) from None
    return load_sweeps(text, path)
