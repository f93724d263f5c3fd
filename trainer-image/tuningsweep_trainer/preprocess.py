"""From a window's raw rows to model inputs: split, missing values, scaling, vocabularies.

Everything learnt from the data is learnt from the *training* rows only, as it would be
in production, where the validation days are the future:

1. Rows without a target value are dropped (nothing to learn from) and counted.
2. The rows are split in time (:meth:`Examples.split_time_ordered`'s rule).
3. Numeric columns are standardised with the training rows' mean and standard deviation
   (a constant column is only centred); a missing value becomes the training mean, so
   ``0`` after scaling. The sequence columns share one mean and deviation, which keeps
   the series' shape.
4. Each categorical column gets a vocabulary of the values seen in the training rows
   (the :data:`MAX_VOCABULARY` most frequent). Ids are laid out column after column in
   one id space: per column an out-of-vocabulary id (values first seen in validation,
   or too rare), a missing-value id, then its vocabulary; ``0`` stays padding. The
   fixed schema's ``tok_*`` are already ids and are kept (a missing one is padding).

Counts of everything imputed, dropped or unknown make up :class:`DataReport`, which the
trainer logs, adds to ``result.json`` and reports as the ``missing_values`` metric. The
statistics and vocabularies are written to ``preprocessing.json`` next to the model, so
the saved model can be fed the same way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import schema
from .columns import ColumnSpec
from .errors import BadInputError
from .examples import Examples, time_ordered_cut
from .table import Table

#: Most values kept per categorical column; rarer ones share the out-of-vocabulary id.
MAX_VOCABULARY = 10_000
#: Fewest rows a window needs: one to train on and one to validate.
MIN_EXAMPLES = 2
_OOV, _MISSING, _FIRST_VALUE = 0, 1, 2


@dataclass
class DataReport:
    """What preprocessing did to a window's rows, for the trial's log and result."""

    rows: int = 0
    rows_without_target: int = 0
    missing: dict[str, int] = field(default_factory=dict)
    unknown_in_validation: dict[str, int] = field(default_factory=dict)
    imputed_as: dict[str, str] = field(default_factory=dict)

    @property
    def missing_values(self) -> int:
        """Input values imputed (numbers) or marked missing (categories)."""
        return sum(self.missing.values())

    def lines(self) -> list[str]:
        """One human-readable line per kind of event; none when the data was complete."""
        out = []
        if self.rows_without_target:
            out.append(f"{self.rows_without_target} of {self.rows} row(s) have no target "
                       "value and were dropped")
        if self.missing:
            counts = ", ".join(f"{n} in {c} ({self.imputed_as[c]})"
                               for c, n in self.missing.items())
            out.append(f"{self.missing_values} missing value(s) imputed: {counts}")
        if self.unknown_in_validation:
            counts = ", ".join(f"{n} in {c}" for c, n in self.unknown_in_validation.items())
            out.append(f"validation values not seen in training, mapped to the "
                       f"out-of-vocabulary id: {counts}")
        return out

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (``result.json``'s ``data``)."""
        return {"rows": self.rows, "rows_without_target": self.rows_without_target,
                "missing_values": self.missing_values, "missing_by_column": self.missing,
                "unknown_in_validation": self.unknown_in_validation}


@dataclass(frozen=True)
class Prepared:
    """A window ready to train on."""

    train: Examples
    validation: Examples
    layout: schema.Layout
    report: DataReport
    preprocessing: dict[str, Any]


def prepare(table: Table, spec: ColumnSpec) -> Prepared:
    """Drop rows without a target, split in time, fit on the training rows, encode both.

    Raises:
        BadInputError: fewer than :data:`MIN_EXAMPLES` rows with a target, or an input
            column with no value at all in the training rows.
    """
    report = DataReport(rows=len(table))
    has_target = ~np.isnan(table.columns[spec.target])
    report.rows_without_target = int((~has_target).sum())
    table = table.rows(has_target)
    if len(table) < MIN_EXAMPLES:
        raise BadInputError(f"the window has {len(table)} row(s) with a value in column "
                            f"{spec.target!r} (the target); at least {MIN_EXAMPLES} are needed")
    cut = time_ordered_cut(table.day)
    train, validation = table.rows(slice(0, cut)), table.rows(slice(cut, None))
    for name in spec.all_columns:
        values = table.columns[name]
        missing = int(np.isnan(values).sum()) if values.dtype != object else int(
            sum(v is None for v in values))
        if missing and name != spec.target:
            report.missing[name] = missing
            report.imputed_as[name] = ("a 'missing' category" if name in spec.categorical
                                       else "padding" if name in spec.token_ids
                                       else "the training mean")

    numeric = _Scaler.fit(train, spec.numeric, shared=False)
    sequence = _Scaler.fit(train, spec.sequence, shared=True)
    vocabularies = {name: _vocabulary(train.columns[name]) for name in spec.categorical}
    offsets: dict[str, int] = {}
    size = 1  # id 0 is padding
    for name in spec.categorical:
        offsets[name] = size
        size += _FIRST_VALUE + len(vocabularies[name])
    for name in spec.categorical:
        seen = set(vocabularies[name])
        unknown = sum(v is not None and v not in seen for v in validation.columns[name])
        if unknown:
            report.unknown_in_validation[name] = unknown

    def encode(part: Table) -> Examples:
        tokens = [_ids(part.columns[n], vocabularies[n], offsets[n]) for n in spec.categorical]
        tokens += [np.nan_to_num(part.columns[n], nan=schema.PAD_TOKEN) for n in spec.token_ids]
        return Examples(
            numeric=numeric.transform(part),
            tokens=_stack(tokens, len(part)).astype(np.int32),
            history=sequence.transform(part),
            target=part.columns[spec.target].astype(np.float32),
            day=part.day.astype(np.int32),
        )

    layout = schema.Layout(
        numeric=len(spec.numeric), tokens=len(spec.categorical) + len(spec.token_ids),
        history=len(spec.sequence),
        vocab_size=schema.VOCAB_SIZE if spec.token_ids else size,
    )
    preprocessing = {
        "target": spec.target, "numeric": numeric.as_dict(), "sequence": sequence.as_dict(),
        "categorical": {n: {"first_id": offsets[n], "out_of_vocabulary_id": offsets[n] + _OOV,
                            "missing_id": offsets[n] + _MISSING, "values": vocabularies[n]}
                        for n in spec.categorical},
        "token_ids": list(spec.token_ids),
    }
    return Prepared(encode(train), encode(validation), layout, report, preprocessing)


@dataclass(frozen=True)
class _Scaler:
    columns: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, train: Table, columns: tuple[str, ...], *, shared: bool) -> _Scaler:
        if not columns:
            return cls(columns, np.zeros(0), np.ones(0))
        block = _stack([train.columns[n] for n in columns], len(train))
        empty = [n for i, n in enumerate(columns) if np.isnan(block[:, i]).all()]
        if empty:
            raise BadInputError(f"column(s) {', '.join(empty)} have no value in the training "
                                "part of the window (every value is missing); drop them from "
                                "the column flags or fill them in")
        axis = None if shared else 0
        mean = np.broadcast_to(np.nanmean(block, axis=axis), (len(columns),))
        std = np.broadcast_to(np.nanstd(block, axis=axis), (len(columns),))
        return cls(columns, mean.copy(), np.where(std > 0, std, 1.0))

    def transform(self, part: Table) -> np.ndarray:
        block = _stack([part.columns[n] for n in self.columns], len(part))
        scaled: np.ndarray = np.nan_to_num((block - self.mean) / self.std, nan=0.0)
        return scaled.astype(np.float32)

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {n: {"mean": float(m), "std": float(s)}
                for n, m, s in zip(self.columns, self.mean, self.std, strict=True)}


def _stack(columns: list[np.ndarray], rows: int) -> np.ndarray:
    if not columns:
        return np.zeros((rows, 0), np.float64)
    return np.stack([np.asarray(c, np.float64) for c in columns], axis=1)


def _vocabulary(values: np.ndarray) -> list[str]:
    counts = Counter(v for v in values if v is not None)
    # Most frequent first, ties by value, so the ids do not depend on row order.
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [value for value, _ in ranked[:MAX_VOCABULARY]]


def _ids(values: np.ndarray, vocabulary: list[str], offset: int) -> np.ndarray:
    index = {v: offset + _FIRST_VALUE + i for i, v in enumerate(vocabulary)}
    return np.array([offset + _MISSING if v is None else index.get(v, offset + _OOV)
                     for v in values], np.int64)
