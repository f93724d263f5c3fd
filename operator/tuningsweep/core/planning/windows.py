"""Date windows: whole calendar months relative to an anchor date.

Window ``j`` of a rolling spec covers ``months`` months ending ``j * stepMonths`` months
before the last complete month before the anchor (``w0`` is the most recent). The anchor
is the sweep's creation date on a cluster and ``--today`` locally; because windows roll
forward with it, tuning repeated month after month never settles on one period. Once
resolved, windows are pinned (status or the results folder) and never resolved again, so
a sweep resumed next month still trains on the same data.
"""

from __future__ import annotations

import datetime as dt

from ..spec.parse import DateWindow, Spec


def month_start(year: int, month: int) -> dt.date:
    """First day of a month, with months beyond 1..12 rolling into other years."""
    y, m = divmod(year * 12 + (month - 1), 12)
    return dt.date(y, m + 1, 1)


def month_end(year: int, month: int) -> dt.date:
    """Last day of a month, with months beyond 1..12 rolling into other years."""
    return month_start(year, month + 1) - dt.timedelta(days=1)


def months_window(last_year: int, last_month: int, months: int) -> tuple[dt.date, dt.date]:
    """The ``months`` whole months ending with (last_year, last_month), inclusive."""
    return (month_start(last_year, last_month - months + 1), month_end(last_year, last_month))


def resolve_windows(spec: Spec, anchor: dt.date) -> tuple[DateWindow, ...]:
    """Return the sweep's windows for ``anchor`` (most recent first for rolling).

    Fast mode uses a single window of ``fast.months`` months: ending at the last complete
    month for rolling specs, or at the end of the latest explicit range.
    """
    # The anchor's own month is never complete: it may end today at best.
    last_y, last_m = anchor.year, anchor.month - 1
    if spec.mode == "fast":
        if spec.rolling is not None or not spec.ranges:
            start, end = months_window(last_y, last_m, spec.fast_months)
        else:
            latest_end = max(end for _, end in spec.ranges)
            start = month_start(latest_end.year, latest_end.month - spec.fast_months + 1)
            end = latest_end
        return (DateWindow("w0", start, end),)
    if spec.rolling is not None:
        r = spec.rolling
        # Racing pins its extra windows (older months continuing the sequence) up front
        # with the regular ones, so each is pinned before its first trial.
        count = spec.racing.max_windows if spec.racing is not None else r.count
        return tuple(
            DateWindow(f"w{j}", *months_window(last_y, last_m - j * r.step_months, r.months))
            for j in range(count)
        )
    return tuple(DateWindow(f"w{i}", start, end) for i, (start, end) in enumerate(spec.ranges))


def windows_to_data(windows: tuple[DateWindow, ...]) -> list[dict[str, str]]:
    """Serialise windows for status or the results folder."""
    return [{"id": w.id, "start": w.start.isoformat(), "end": w.end.isoformat()} for w in windows]


def windows_from_data(data: list[dict[str, str]]) -> tuple[DateWindow, ...]:
    """Read pinned windows back (ids default to their position)."""
    return tuple(
        DateWindow(item.get("id") or f"w{i}", dt.date.fromisoformat(item["start"]),
                   dt.date.fromisoformat(item["end"]))
        for i, item in enumerate(data)
    )
