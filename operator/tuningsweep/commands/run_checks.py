"""What ``tuningsweep run`` checks before anything trains (besides the manifest and data).

Each check ends in a :class:`~tuningsweep.core.spec.errors.UserError` naming the field or
flag and the fix (exit 2): a trainer command that cannot run, hyperparameters the
reference trainer does not take, a ``--today`` contradicting the windows an earlier run
pinned (issue 14: it used to be ignored silently, and the resume failed as before).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import os
import shlex
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from ..core.spec import presets
from ..core.spec.errors import FieldError, InvalidSpec, SpecError
from ..core.spec.parse import DateWindow, Sweep
from ..executors.warm_pool import WORKER_MODULE, WarmSettings
from .common import MissingDependency


def trainer_command(sweep: Sweep, override: str | None,
                     folder: Path) -> tuple[list[str], bool, Path | None]:
    """(command, is_reference_trainer, folder to run it in); InvalidSpec when it cannot run.

    ``spec.trainer.command`` runs in the manifest's folder, so its relative paths
    (``[python, train.py]``) mean what they meant to whoever wrote the manifest, from any
    current folder; ``--trainer-command`` is typed here and runs here (None: stay).
    """
    if override:
        command = shlex.split(override)
        field, cwd = "--trainer-command", None
    elif sweep.spec.trainer.command:
        command = list(sweep.spec.trainer.command)
        field, cwd = "spec.trainer.command", folder
    elif sweep.spec.trainer.function:
        _check_function(sweep.spec.trainer.function, folder)
        return [sys.executable, "-m", WORKER_MODULE, "--once", sweep.spec.trainer.function], \
            False, folder
    else:
        if importlib.util.find_spec("tensorflow") is None:
            raise MissingDependency(
                "spec.trainer", "the reference trainer needs TensorFlow, which is not installed",
                "pip install 'tuningsweep[trainer]', or give --trainer-command")
        return [sys.executable, "-m", "tuningsweep_trainer"], True, None
    if not command:
        raise InvalidSpec([SpecError(field, "is empty", "give the command to run per trial")])
    exe = command[0]
    local = Path(cwd or Path.cwd()) / exe
    if shutil.which(exe) is None and not (os.sep in exe and os.access(local, os.X_OK)):
        where = f" (relative paths are relative to {cwd})" if cwd else ""
        raise InvalidSpec([SpecError(field, f"command {exe!r} not found{where}",
                                     "check the name, or give an absolute path")])
    return command, False, cwd


#: The reference trainer as a function of a warm worker (:mod:`..executors.warm_worker`).
REFERENCE_FUNCTION = "tuningsweep_trainer.cli:main"


def warm_settings(sweep: Sweep, reference: bool, override: str | None) -> WarmSettings | None:
    """How a slot's warm worker runs the trainer; None for a trainer command (a process
    per trial: a program cannot be called trial after trial)."""
    if override:
        return None
    if reference:
        return WarmSettings(REFERENCE_FUNCTION)
    if sweep.spec.trainer.function:
        return WarmSettings(sweep.spec.trainer.function)
    return None


def _check_function(function: str, folder: Path) -> None:
    """The function's module must be importable from the manifest's folder."""
    module = function.partition(":")[0]
    sys.path.insert(0, str(folder))
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    finally:
        sys.path.remove(str(folder))
    if not found:
        raise InvalidSpec([SpecError(
            "spec.trainer.function", f"module {module!r} not found (modules are found in "
            f"{folder} and the installed packages)",
            "check the name, or install the package that holds it")])


@contextlib.contextmanager
def working_folder(folder: Path | None) -> Iterator[None]:
    """Run the trials in ``folder``: they inherit the runner's current folder."""
    if folder is None:
        yield
        return
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def check_reference_params(sweep: Sweep) -> None:
    """Check the search space against the reference trainer's hyperparameter table.

    A typo or an out-of-range bound would otherwise fail every trial one by one.
    """
    spec = sweep.spec
    if spec.architecture not in presets.ARCHITECTURES:
        raise InvalidSpec([SpecError(
            "spec.architecture", f"the reference trainer does not build {spec.architecture!r}",
            f"use one of {', '.join(presets.ARCHITECTURES)}, or give your own trainer command")])
    errors: list[SpecError] = []
    for p in spec.parameters:
        samples = list(p.values) if p.values is not None else [p.min, p.max]
        for value in samples:
            for problem in presets.check_params(spec.architecture, {p.name: value}):
                errors.append(SpecError(f"spec.parameters.{p.name}", problem,
                                        "see `tuningsweep-trainer --describe`"))
                break
            else:
                continue
            break
    if errors:
        raise InvalidSpec(errors)


def today_conflict(today: dt.date, resolved: tuple[DateWindow, ...],
                   pinned: tuple[DateWindow, ...], folder: str) -> FieldError:
    """``--today`` asks for other windows than an earlier run pinned: say so, not ignore it."""
    def show(windows: tuple[DateWindow, ...]) -> str:
        return ", ".join(f"{w.id} {w.start}..{w.end}" for w in windows)

    return FieldError(
        "--today", f"{today} gives the windows {show(resolved)}, but an earlier run pinned "
        f"{show(pinned)} in {folder} (windows never move under a sweep's results)",
        "pass --fresh to discard those results and start over on the new windows, or drop "
        "--today to resume on the pinned ones")
