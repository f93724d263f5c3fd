"""Where a sweep's trial time went: starting, reading data, training, and the rest.

Trainers report ``startup_seconds``, ``data_seconds`` and ``train_seconds`` per trial
(results.csv's columns of those names; the reference trainer does, an own trainer may).
The **overhead share** is the part of the trials' time not spent training,
``1 - sum(train_seconds) / sum(duration_seconds)`` over the trials that reported
training time and did not fail: the figure warm trainers bring down (a fast-mode trial
that starts a process and reads its window again spends most of its time not training).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from ..records.results import ResultRow


@dataclass
class TimeSplit:
    """Sums over the trials that reported their training time (seconds)."""

    trials: int = 0
    duration: float = 0.0
    startup: float = 0.0
    data: float = 0.0
    train: float = 0.0

    def add(self, row: ResultRow) -> None:
        """Count a finished trial (ignored when it failed or reported no training time)."""
        if row.status == "failed" or not math.isfinite(row.train_seconds):
            return
        self.trials += 1
        self.duration += row.duration_seconds
        self.train += row.train_seconds
        self.startup += row.startup_seconds if math.isfinite(row.startup_seconds) else 0.0
        self.data += row.data_seconds if math.isfinite(row.data_seconds) else 0.0

    @property
    def overhead_share(self) -> float | None:
        """``1 - train / duration`` (see the module docstring); None without any trial."""
        if self.duration <= 0:
            return None
        return min(1.0, max(0.0, 1.0 - self.train / self.duration))

    def text(self) -> str:
        """One line for people, e.g. ``overhead share 0.21 (of 40.2 s: 1.1 s starting,
        0.3 s reading data, 31.9 s training)``; "" without any trial."""
        share = self.overhead_share
        if share is None:
            return ""
        return (f"overhead share {share:.2f} (of {self.duration:.1f} s in {self.trials} "
                f"trials: {self.startup:.1f} s starting, {self.data:.1f} s reading data, "
                f"{self.train:.1f} s training)")


def time_split(rows: Iterable[ResultRow]) -> TimeSplit:
    """The time split of ``rows`` (see :class:`TimeSplit`)."""
    split = TimeSplit()
    for row in rows:
        split.add(row)
    return split
