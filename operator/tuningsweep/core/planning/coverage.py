"""The windows checked against the data's days, before any trial trains.

Without this check a window with no data failed trial by trial, and a window half
outside the data trained on the half that exists and was compared with the others as
if it were complete. Given the days that have data (listed by
:mod:`tuningsweep.io.partitions`), :func:`window_coverage` says how much of each window
the data covers and :func:`coverage_problems` turns that into messages:

* a window without a single day of data is an **error**: every trial on it would fail;
* a window that reaches **outside the data's dates** (starts before its first day or
  ends after its last) is a **warning**: its trials train on fewer days than the
  window's, which is legitimate (a month of data still arriving) but should be seen.

* days missing **inside** a window (within the data's dates: an outage, a lost export)
  are a **warning** with their count: the window trains on fewer days than it says, and
  its validation split (the last rows) starts later than the calendar suggests (issue
  22: 25 of 92 days missing went unnoticed, and a validation period started 12 days
  late). A table of weekdays only is a pattern, not a gap: when every missing day is a
  Saturday or Sunday and the window has no weekend data at all, nothing is said.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..spec.errors import SpecError
from ..spec.parse import DateWindow


@dataclass(frozen=True)
class WindowCoverage:
    """How much of one window the data covers.

    Attributes:
        window: the window.
        days: days of the window with data.
        rows: rows in those days; None when not cheaply known.
        first, last: the data's first and last day overall (None: no data at all).
        gaps: days of the window inside the data's dates without data, in order
            (none for a table of weekdays only: see the module docstring).
    """

    window: DateWindow
    days: int
    rows: int | None
    first: dt.date | None
    last: dt.date | None
    gaps: tuple[dt.date, ...] = ()

    @property
    def calendar_days(self) -> int:
        """Days in the window, both ends included."""
        return (self.window.end - self.window.start).days + 1

    @property
    def empty(self) -> bool:
        """No day of the window has data."""
        return self.days == 0

    @property
    def partial(self) -> bool:
        """The window has data but reaches outside the data's dates."""
        if self.empty or self.first is None or self.last is None:
            return False
        return self.window.start < self.first or self.window.end > self.last


def window_coverage(windows: Sequence[DateWindow],
                    rows_by_day: Mapping[dt.date, int | None]) -> list[WindowCoverage]:
    """Each window's coverage by ``rows_by_day`` (every day with data -> its rows)."""
    first = min(rows_by_day, default=None)
    last = max(rows_by_day, default=None)
    out = []
    for w in windows:
        inside = [rows for day, rows in rows_by_day.items() if w.start <= day <= w.end]
        known = None if any(r is None for r in inside) else sum(r or 0 for r in inside)
        gaps: tuple[dt.date, ...] = ()
        if first is not None and last is not None:
            lo, hi = max(w.start, first), min(w.end, last)
            gaps = tuple(d for d in (lo + dt.timedelta(i) for i in range((hi - lo).days + 1))
                         if d not in rows_by_day)
            weekend_data = any(d.weekday() >= 5 for d in rows_by_day if w.start <= d <= w.end)
            if not weekend_data and all(d.weekday() >= 5 for d in gaps):
                gaps = ()  # a table of weekdays only
        out.append(WindowCoverage(w, len(inside), known, first, last, gaps))
    return out


def coverage_problems(coverage: Sequence[WindowCoverage], field: str, where: str,
                      optional: frozenset[str] = frozenset()) -> tuple[list[SpecError], list[str]]:
    """(errors, warnings) about the windows' data (see the module docstring).

    Args:
        coverage: from :func:`window_coverage`.
        field: the field that names the data (``spec.data`` or ``--data``).
        where: the data's location as the user should see it (the resolved path).
        optional: ids of windows that may never run (racing's extra windows): no data
            there is a warning, not an error.
    """
    errors: list[SpecError] = []
    warnings: list[str] = []
    span = _span(coverage)
    for c in coverage:
        w = c.window
        label = f"window {w.id} ({w.start}..{w.end})"
        if c.empty and w.id in optional:
            warnings.append(f"{field}: {where} has no data for racing's extra {label}; "
                            "a contender sent there would fail")
        elif c.empty:
            errors.append(SpecError(
                field, f"{where} has no data for {label}{span}",
                "choose windows the data covers (windows.ranges, or --today for rolling "
                "windows), or add the missing date=YYYY-MM-DD folders"))
        elif c.partial:
            warnings.append(
                f"{field}: {label} is only partly covered by {where}{span}: its trials "
                f"train on {c.days} of its {c.calendar_days} days")
        if c.gaps and not c.empty:
            warnings.append(
                f"{field}: {label}: {len(c.gaps)} of {c.calendar_days} days missing in "
                f"{where} ({_days(c.gaps)}): its trials train on {c.days} days, and its "
                "validation split (the last rows) starts later than the calendar suggests")
    return errors, warnings


def _days(gaps: Sequence[dt.date], shown: int = 3) -> str:
    """The first few missing days, as ranges of consecutive days."""
    runs: list[list[dt.date]] = []
    for d in gaps:
        if runs and (d - runs[-1][-1]).days == 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    text = [f"{r[0]}" if len(r) == 1 else f"{r[0]}..{r[-1]}" for r in runs[:shown]]
    more = f" and {len(runs) - shown} more gaps" if len(runs) > shown else ""
    return "missing: " + ", ".join(text) + more


def _span(coverage: Sequence[WindowCoverage]) -> str:
    if not coverage:
        return ""
    first, last = coverage[0].first, coverage[0].last
    return " (it has no date=YYYY-MM-DD folders)" if first is None else (
        f" (its data spans {first}..{last})")
