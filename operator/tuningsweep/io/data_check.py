"""The data check ``validate``, ``plan``, ``run`` and the operator share: windows
against partitions.

The data folder is listed (:mod:`tuningsweep.io.partitions`) and each window's coverage
judged by the pure :mod:`tuningsweep.core.planning.coverage`: a missing folder or a window
without data is an error (exit 2, nothing trains), a window reaching outside the data a
warning. ``synthetic://`` data has no folder and is not checked, nor is the data of a trainer of
your own unless it is a folder of ``date=`` partitions (such a trainer may read a file
or a table name from ``spec.data``).

For the reference trainer, the columns ``spec.trainer.args`` names (``--target``,
``--numeric``...) are checked against a sample of the data too
(:mod:`tuningsweep.io.data_sample`, judged by :mod:`tuningsweep.core.planning.column_sample`):
a column missing from the sample's header, or text in a column read as numbers, is an
error, which every trial would otherwise meet in turn. A sample that cannot be read is a
warning (the trainer still checks every row).

``validate`` and ``plan`` may run where ``gs://`` is out of reach (no credentials on a
laptop, a CI job without network, a bucket only the cluster's service account may read):
there a bucket that cannot be listed is a warning saying the data was not checked. ``run``
needs the data anyway, so there it is an error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..core.planning.column_sample import column_flags, sample_problems
from ..core.planning.coverage import WindowCoverage, coverage_problems, window_coverage
from ..core.spec.errors import InvalidSpec, SpecError
from ..core.spec.parse import DateWindow, Sweep
from .data_sample import read_sample, sample_files
from .errors import StorageError
from .partitions import DataFolderMissing, is_data_folder, list_partitions, rows_per_day


@dataclass
class DataCheck:
    """What the check found: per-window coverage (empty when not checked) and warnings."""

    coverage: list[WindowCoverage] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_data(sweep: Sweep, windows: Sequence[DateWindow], *, data: str | None = None,
               rows: bool = False, remote_required: bool = True, source: str = "",
               layout_required: bool | None = None) -> DataCheck:
    """Check the sweep's data against ``windows``.

    Args:
        sweep: the sweep (its ``spec.data`` already resolved against the manifest).
        windows: the windows that will run.
        data: a ``--data`` override, checked instead of ``spec.data``.
        rows: count rows per window where that is cheap (``plan`` shows them).
        remote_required: an unreachable ``gs://`` is an error (``run``) rather than a
            warning (``validate``, ``plan``).
        source: the manifest's file name, for the error messages.
        layout_required: the trainer reads the partition layout (the reference trainer,
            the default when ``spec.trainer.command`` is not set). A trainer of your own
            may read anything from ``spec.data`` (a file, a table name): its data is
            checked only when it is a folder of ``date=`` partitions.

    Raises:
        InvalidSpec: the folder is missing, a window has no data, or (reference trainer)
            a column named in ``spec.trainer.args`` is missing or not numeric.
    """
    uri = data or sweep.spec.data
    name = "--data" if data else "spec.data"
    if not is_data_folder(uri):
        return DataCheck()
    if layout_required is None:
        layout_required = sweep.spec.trainer.reference
    try:
        days = list_partitions(uri)
    except StorageError as exc:
        if not layout_required:
            return DataCheck()
        remote = uri.startswith("gs://")
        if remote and not remote_required:
            # The bucket may be readable by the cluster's credentials and not by yours.
            return DataCheck(warnings=[f"{name}: not checked against the windows: {exc}"])
        if isinstance(exc, DataFolderMissing):
            raise InvalidSpec([SpecError(name, str(exc), _missing_fix(uri, data))],
                              source) from None
        raise
    if not days and not layout_required:
        return DataCheck()
    # Every day with data counts for the data's span; rows only inside the windows.
    counted: dict[dt.date, int | None] = dict.fromkeys(days)
    if rows and windows:
        counted.update(rows_per_day(days, min(w.start for w in windows),
                                    max(w.end for w in windows)))
    coverage = window_coverage(windows, counted)
    errors, warnings = coverage_problems(coverage, name, uri, _optional_windows(sweep, windows))
    if layout_required and sweep.spec.trainer.reference:
        errors += _column_problems(sweep, days, windows, warnings)
    if errors:
        raise InvalidSpec(errors, source)
    return DataCheck(coverage, warnings)


def _column_problems(sweep: Sweep, days: dict[dt.date, tuple[str, ...]],
                     windows: Sequence[DateWindow], warnings: list[str]) -> list[SpecError]:
    """The reference trainer's named columns against a sample (see the module docstring)."""
    columns = column_flags(sweep.spec.trainer.args)
    if not columns:
        return []
    errors: list[SpecError] = []
    for location in sample_files(days, windows):
        try:
            sample = read_sample(location)
        except StorageError as exc:
            warnings.append(f"spec.trainer.args: the columns were not checked: {exc}")
            return []
        if sample is not None:
            found = sample_problems(columns, sample)
            errors += [e for e in found if e not in errors]
        if errors:
            break  # one file's problems are enough to act on
    return errors


def _missing_fix(uri: str, override: str | None) -> str:
    if uri.startswith("gs://"):
        return "check the bucket name and that your credentials may read it"
    if override:
        return "give an existing folder (relative paths are relative to the current folder)"
    return ("give an existing folder; a relative spec.data is relative to the manifest's "
            "folder, not the current one")


def _optional_windows(sweep: Sweep, windows: Sequence[DateWindow]) -> frozenset[str]:
    """Racing's extra windows: pinned up front, run only if a contender needs them."""
    spec = sweep.spec
    if spec.racing is None or spec.rolling is None:
        return frozenset()
    return frozenset(w.id for w in windows[spec.rolling.count:])
