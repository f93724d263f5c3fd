"""A window's raw rows: the columns a trial reads, as read, before any preprocessing.

Data sources return a :class:`Table`: number columns as ``float64`` with ``NaN`` for a
missing value, categorical columns as text with ``None`` for a missing value, and each
row's day. Missing values are kept here and handled by :mod:`.preprocess`, which needs
the time-ordered split first (imputation and vocabularies come from the training rows).

Parsing CSV and Parquet lives here too, so every error names the place a user can find
in the file: the line number as an editor shows it (the header is line 1) and the
column by name. Text in a column that is not read is never looked at.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import schema
from .columns import FIXED_DESCRIPTION, ColumnSpec
from .errors import BadInputError
from .examples import Examples

#: Cell values read as a missing value (compared trimmed and lower-cased).
MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "null", "none"})


@dataclass(frozen=True)
class Table:
    """Rows of one or more partitions, in time order.

    Attributes:
        columns: column name -> ``float64`` array (numbers) or object array of
            ``str | None`` (categorical).
        day: ``(n,)`` int32 proleptic Gregorian ordinal of each row's date.
    """

    columns: dict[str, np.ndarray]
    day: np.ndarray

    def __len__(self) -> int:
        return int(self.day.shape[0])

    def rows(self, keep: Any) -> Table:
        """The rows selected by ``keep`` (a slice, an index array or a boolean mask)."""
        return Table({k: v[keep] for k, v in self.columns.items()}, self.day[keep])

    @staticmethod
    def concat(parts: Sequence[Table]) -> Table:
        """Concatenate blocks with the same columns, already in time order."""
        if not parts:
            return Table({}, np.zeros((0,), np.int32))
        names = parts[0].columns
        return Table({n: np.concatenate([p.columns[n] for p in parts]) for n in names},
                     np.concatenate([p.day for p in parts]))


def from_examples(examples: Examples, spec: ColumnSpec) -> Table:
    """The fixed-schema columns of ``examples`` (synthetic data) that ``spec`` reads.

    Categorical columns chosen among them are read as text, as they would be from a file.
    """
    features = {**dict(zip(schema.NUMERIC_COLUMNS, examples.numeric.T, strict=True)),
                **dict(zip(schema.TOKEN_COLUMNS, examples.tokens.T, strict=True)),
                **dict(zip(schema.HISTORY_COLUMNS, examples.history.T, strict=True)),
                schema.TARGET_COLUMN: examples.target}
    _column_index(list(features), spec)
    columns = {name: np.asarray(features[name], np.float64) for name in spec.number_columns}
    for name in spec.categorical:
        columns[name] = _categories([f"{v:g}" for v in features[name]])
    return Table(columns, examples.day.copy())


def read_csv(payload: bytes, spec: ColumnSpec, day: int) -> Table:
    """Parse one CSV file (header first) into the columns ``spec`` reads.

    Raises:
        BadInputError: no header, a column ``spec`` needs is absent, a row with the wrong
            number of fields, or a value that is not what its column needs.
    """
    reader = csv.reader(io.StringIO(payload.decode("utf-8-sig")))
    header = next(reader, None)
    if not header:
        raise BadInputError("the file is empty; line 1 must be a header naming the columns")
    names = [n.strip() for n in header]
    index = _column_index(names, spec)
    rows: list[list[str]] = []
    lines: list[int] = []
    for row in reader:
        if not row:
            continue  # a blank line
        if len(row) != len(names):
            raise BadInputError(f"line {reader.line_num} has {len(row)} field(s), the header "
                                f"(line 1) names {len(names)}")
        rows.append(row)
        lines.append(reader.line_num)
    cells = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    where = [f"line {n}" for n in lines]
    return _table({name: cells[index[name]] for name in spec.all_columns}, spec, day, where)


def read_parquet(table: Any, spec: ColumnSpec, day: int) -> Table:
    """Convert a ``pyarrow.Table`` into the columns ``spec`` reads (rows counted from 1)."""
    index = _column_index(list(table.column_names), spec)
    values = {name: table.column(index[name]).to_pylist() for name in spec.all_columns}
    where = [f"row {i + 1}" for i in range(table.num_rows)]
    return _table(values, spec, day, where)


def _column_index(names: list[str], spec: ColumnSpec) -> dict[str, int]:
    index = {name: i for i, name in enumerate(names)}
    missing = [c for c in spec.all_columns if c not in index]
    if missing:
        fix = (FIXED_DESCRIPTION if spec.fixed else
               "check the names given to --target, --numeric, --categorical and --sequence")
        shown = ", ".join(names[:30]) + (", ..." if len(names) > 30 else "")
        raise BadInputError(f"missing column(s) {', '.join(missing)} ({fix}); the header has: "
                            f"{shown}")
    return index


def _table(values: dict[str, Sequence[Any]], spec: ColumnSpec, day: int,
           where: list[str]) -> Table:
    columns: dict[str, np.ndarray] = {}
    for name in spec.number_columns:
        columns[name] = _numbers(values[name], name, spec, where)
    for name in spec.token_ids:
        _check_token_ids(columns[name], name, where)
    for name in spec.categorical:
        columns[name] = _categories(values[name])
    return Table(columns, np.full(len(where), day, np.int32))


def _numbers(cells: Sequence[Any], name: str, spec: ColumnSpec, where: list[str]) -> np.ndarray:
    """Convert a column to float64, missing values as NaN; name the first bad cell."""
    try:
        out = np.array(cells, dtype=np.float64)
    except (ValueError, TypeError):
        out = np.empty(len(cells), np.float64)
        for i, cell in enumerate(cells):
            out[i] = _number(cell, name, spec, where[i])
    bad = np.isinf(out)
    if bad.any():
        i = int(np.argmax(bad))
        raise BadInputError(f"{where[i]}, column {name!r} ({spec.role(name)}): {cells[i]!r} is "
                            "not a finite number")
    return out


def _number(cell: Any, name: str, spec: ColumnSpec, where: str) -> float:
    if cell is None or (isinstance(cell, str) and cell.strip().lower() in MISSING_MARKERS):
        return math.nan
    try:
        return float(cell)
    except (ValueError, TypeError):
        fix = ("give it to --categorical instead" if not spec.fixed and name in spec.numeric
               else "fix the value, or leave the cell empty for a missing value")
        raise BadInputError(f"{where}, column {name!r} ({spec.role(name)}): {cell!r} is not a "
                            f"number ({fix})") from None


def _check_token_ids(ids: np.ndarray, name: str, where: list[str]) -> None:
    present = ~np.isnan(ids)
    bad = present & ((ids != np.round(ids)) | (ids < 0) | (ids >= schema.VOCAB_SIZE))
    if bad.any():
        i = int(np.argmax(bad))
        raise BadInputError(f"{where[i]}, column {name!r}: token ids must be integers in "
                            f"[0, {schema.VOCAB_SIZE}) with 0 as padding, got {ids[i]:g}")


def _categories(cells: Sequence[Any]) -> np.ndarray:
    out = np.empty(len(cells), object)
    for i, cell in enumerate(cells):
        text = None if cell is None else str(cell).strip()
        out[i] = None if text is None or text.lower() in MISSING_MARKERS else text
    return out
