"""An in-memory, column-oriented block of examples, ordered by day.

Every data source returns :class:`Examples`: one numpy array per model input plus the
target and each row's day. Keeping the day on every row is what makes the validation
split *time ordered* (the last days of the window validate, as they would in
production, where the model always predicts the future) without the sources having to
agree on anything else. Arrays rather than a dataframe: numpy is already a TensorFlow
dependency, and ``tf.data`` slices arrays without copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from . import schema

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]

#: Share of the window's rows that validates (taken from the end of the window).
VALIDATION_FRACTION = 0.2


@dataclass(frozen=True)
class Examples:
    """Rows of examples in time order.

    The widths are the fixed schema's for synthetic data and :mod:`.schema`'s
    :class:`~.schema.Layout` in general (a user table may have no history: width 0).

    Attributes:
        numeric: ``(n, NUM_NUMERIC)`` float32 features.
        tokens: ``(n, NUM_TOKENS)`` int32 token (categorical) ids, ``0``-padded.
        history: ``(n, HISTORY_LENGTH)`` float32 sequence, oldest first.
        target: ``(n,)`` float32 regression target.
        day: ``(n,)`` int32 proleptic Gregorian ordinal of each row's date.
    """

    numeric: FloatArray
    tokens: IntArray
    history: FloatArray
    target: FloatArray
    day: IntArray

    def __len__(self) -> int:
        return int(self.target.shape[0])

    def features(self) -> dict[str, np.ndarray]:
        """Return the model inputs keyed by the names in :mod:`.schema`."""
        return {
            schema.INPUT_NUMERIC: self.numeric,
            schema.INPUT_TOKENS: self.tokens,
            schema.INPUT_HISTORY: self.history,
        }

    def rows(self, start: int, stop: int) -> Examples:
        """Return rows ``[start, stop)`` (views, no copy)."""
        return Examples(
            numeric=self.numeric[start:stop],
            tokens=self.tokens[start:stop],
            history=self.history[start:stop],
            target=self.target[start:stop],
            day=self.day[start:stop],
        )

    def split_time_ordered(
        self, validation_fraction: float = VALIDATION_FRACTION
    ) -> tuple[Examples, Examples]:
        """Split into (train, validation), validation being the *last* rows.

        The cut is moved forward to the next day boundary, so no day is in both parts;
        when the window has a single day (no boundary to move to) it cuts inside it.

        Raises:
            ValueError: fewer than two rows, so one part would be empty.
        """
        cut = time_ordered_cut(self.day, validation_fraction)
        n = len(self)
        return self.rows(0, cut), self.rows(cut, n)

    @staticmethod
    def concat(parts: Sequence[Examples]) -> Examples:
        """Concatenate blocks (already in time order) into one."""
        if not parts:
            return Examples.empty()
        return Examples(
            numeric=np.concatenate([p.numeric for p in parts]),
            tokens=np.concatenate([p.tokens for p in parts]),
            history=np.concatenate([p.history for p in parts]),
            target=np.concatenate([p.target for p in parts]),
            day=np.concatenate([p.day for p in parts]),
        )

    @staticmethod
    def empty() -> Examples:
        """Return a block with no rows."""
        return Examples(
            numeric=np.zeros((0, schema.NUM_NUMERIC), np.float32),
            tokens=np.zeros((0, schema.NUM_TOKENS), np.int32),
            history=np.zeros((0, schema.HISTORY_LENGTH), np.float32),
            target=np.zeros((0,), np.float32),
            day=np.zeros((0,), np.int32),
        )


def time_ordered_cut(day: np.ndarray, validation_fraction: float = VALIDATION_FRACTION) -> int:
    """Index of the first validation row of rows ordered by ``day``.

    About ``validation_fraction`` of the rows, from the end, moved forward to the next
    day boundary so that no day is in both parts; with a single day (no boundary to move
    to) the cut falls inside it.

    Raises:
        ValueError: fewer than two rows, so one part would be empty.
    """
    n = int(day.shape[0])
    if n < 2:
        raise ValueError(f"need at least 2 examples to split, got {n}")
    cut = min(max(round(n * (1.0 - validation_fraction)), 1), n - 1)
    boundary = int(np.searchsorted(day, day[cut - 1], side="right"))
    return boundary if boundary < n else cut
