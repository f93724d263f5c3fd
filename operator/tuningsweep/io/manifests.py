"""Reading sweep manifests from files: the I/O edge in front of the pure parser.

A relative ``spec.data`` path is relative to the manifest's folder, as paths in a
Compose file or a Kustomization are: the same manifest then works from any current
directory (``tuningsweep run examples/own-data/sweep.yaml`` from the repository root
as well as ``tuningsweep run sweep.yaml`` from its folder). Only the model's
``spec.data`` is made absolute; the raw spec keeps what the user wrote, so results
pinned by an earlier run still match the manifest.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

from ..core.spec.errors import InvalidSpec, SpecError
from ..core.spec.manifest import load_sweeps
from ..core.spec.parse import Sweep


def read_sweeps(path: str) -> list[Sweep]:
    """Read and validate every sweep in the file at ``path`` (``-`` for standard input).

    Raises:
        InvalidSpec: the file is missing, unreadable, or invalid (all problems at once).
    """
    if path == "-":
        return [resolve_data_path(s, Path.cwd()) for s in load_sweeps(sys.stdin.read(),
                                                                     "<stdin>")]
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
    return [resolve_data_path(s, file.absolute().parent) for s in load_sweeps(text, path)]


def resolve_data_path(sweep: Sweep, folder: Path) -> Sweep:
    """The sweep with a relative local ``spec.data`` made absolute against ``folder``.

    URIs (``gs://``, ``file://``, ``synthetic://``) and absolute paths are kept. For the
    reference trainer ``spec.data`` is always a path; a trainer of your own
    (``spec.trainer.command``) may take anything there (a table name), so its value is
    resolved only when it names something that exists beside the manifest.
    """
    data = sweep.spec.data
    if "://" in data:
        return sweep
    absolute = os.path.normpath(folder / os.path.expanduser(data))
    own_trainer = not sweep.spec.trainer.reference
    if absolute == data or (own_trainer and not os.path.exists(absolute)):
        return sweep
    return dataclasses.replace(sweep, spec=dataclasses.replace(sweep.spec, data=absolute))
