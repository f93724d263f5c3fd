"""The columns ``spec.trainer.args`` names, checked against a sample of the data.

The reference trainer reads a user's table through flags (``--target COL``,
``--numeric COL,COL...``, ``--categorical ...``, ``--sequence ...``; see
``tuningsweep-trainer --help``). A misspelled column or a text column given to
``--numeric`` used to be found by every trial in turn (exit status 2, bad input) after
the sweep had started; these pure functions let ``validate`` and ``run`` find it first,
on a few rows read by :mod:`tuningsweep.io.data_sample`:

* :func:`column_flags` reads the flags out of ``spec.trainer.args`` as the trainer's
  argparse would (``--numeric a,b`` or ``--numeric=a,b``; the last one given wins);
* :func:`sample_problems` says which named columns the sample's header lacks, and which
  columns read as numbers (target, numeric, sequence) hold a value that is not one.

The rule for a number is the trainer's (``tuningsweep_trainer.table``): a value
``float()`` accepts, or a missing-value marker. A sample is a sample: a clean one does
not prove the whole window clean, and the trainer still checks every row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..spec.errors import SpecError

#: The trainer's column flags, by role, in the order problems are reported.
COLUMN_FLAGS = {"target": "--target", "numeric": "--numeric",
                "categorical": "--categorical", "sequence": "--sequence"}
#: Roles whose columns the trainer reads as numbers.
NUMBER_ROLES = ("target", "numeric", "sequence")
#: Cell values read as missing (trimmed, lower-cased): ``tuningsweep_trainer.table``'s
#: MISSING_MARKERS (a test keeps the two equal; the operator side cannot import it).
MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "null", "none"})
FIELD = "spec.trainer.args"


def column_flags(args: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The columns each flag names in ``args`` (roles without a flag are left out)."""
    found: dict[str, tuple[str, ...]] = {}
    flags = {flag: role for role, flag in COLUMN_FLAGS.items()}
    items = list(args)
    for i, arg in enumerate(items):
        flag, eq, value = arg.partition("=")
        if flag not in flags:
            continue
        if not eq:
            if i + 1 >= len(items):
                continue  # the trainer's argparse reports a flag without its value
            value = items[i + 1]
        names = tuple(n.strip() for n in value.split(",") if n.strip())
        found[flags[flag]] = names
    return found


@dataclass(frozen=True)
class Sample:
    """A few rows of one data file, as text.

    Attributes:
        where: the file, as the user should see it.
        header: the column names (line 1).
        rows: the first rows after the header, each a list of cells; a row's line number
            is its index + 2 (the header is line 1). None read (Parquet): names only.
    """

    where: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...] = ()


def is_number(cell: str) -> bool:
    """Whether the trainer reads ``cell`` as a number (or as a missing value)."""
    text = cell.strip()
    if text.lower() in MISSING_MARKERS:
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def sample_problems(columns: Mapping[str, Sequence[str]], sample: Sample) -> list[SpecError]:
    """What is wrong with the columns ``columns`` names, as far as ``sample`` shows."""
    errors: list[SpecError] = []
    present = set(sample.header)
    missing = [(role, c) for role in COLUMN_FLAGS for c in columns.get(role, ()) if
               c not in present]
    if missing:
        shown = ", ".join(sample.header[:30]) + (", ..." if len(sample.header) > 30 else "")
        for role, column in missing:
            errors.append(SpecError(
                FIELD, f"{COLUMN_FLAGS[role]} names column {column!r}, which {sample.where} "
                f"does not have (its header has: {shown})",
                "check the column's name (case and spaces count)"))
    index = {name: i for i, name in enumerate(sample.header)}
    for role in NUMBER_ROLES:
        for column in columns.get(role, ()):
            if column not in index:
                continue
            bad = _first_text(sample, column, index[column])
            if bad is None:
                continue
            fix = ("give it to --categorical instead" if role == "numeric" else
                   "name a column of numbers" if role == "target" else
                   "give only numeric columns to --sequence")
            errors.append(SpecError(
                FIELD, f"{COLUMN_FLAGS[role]} names column {column!r}, which is not numeric "
                f"in {sample.where}: {bad}", fix))
    return errors


def _first_text(sample: Sample, column: str, i: int) -> str | None:
    """Where the column holds something that is not a number ("" cells are missing)."""
    for n, row in enumerate(sample.rows):
        if i < len(row) and not is_number(row[i]):
            return f"line {n + 2} has {row[i]!r}"
    return None
