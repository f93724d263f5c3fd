"""The windows against the data's days: an empty window is an error, one reaching
outside the data or with days missing inside it a warning (a table of weekdays only
is not a gap)."""

from __future__ import annotations

import datetime as dt

from tuningsweep.core.planning.coverage import coverage_problems, window_coverage
from tuningsweep.core.spec.parse import DateWindow

JAN = DateWindow("w1", dt.date(2026, 1, 1), dt.date(2026, 1, 31))
FEB = DateWindow("w0", dt.date(2026, 2, 1), dt.date(2026, 2, 28))


def days(first: dt.date, last: dt.date, rows: int | None = 2) -> dict[dt.date, int | None]:
    return {first + dt.timedelta(d): rows for d in range((last - first).days + 1)}


def test_full_partial_and_empty_windows() -> None:
    data = days(dt.date(2026, 1, 10), dt.date(2026, 1, 31))
    full, partial = window_coverage([DateWindow("w2", dt.date(2026, 1, 10),
                                                dt.date(2026, 1, 20)), JAN], data)
    (empty,) = window_coverage([FEB], data)
    assert (full.days, full.rows, full.partial, full.empty) == (11, 22, False, False)
    assert (partial.days, partial.calendar_days, partial.partial) == (22, 31, True)
    assert empty.empty and not empty.partial
    errors, warnings = coverage_problems([full, partial, empty], "spec.data", "/d")
    assert [e.render() for e in errors] == [
        "spec.data: /d has no data for window w0 (2026-02-01..2026-02-28) (its data spans "
        "2026-01-10..2026-01-31); choose windows the data covers (windows.ranges, or --today "
        "for rolling windows), or add the missing date=YYYY-MM-DD folders"]
    assert warnings == [
        "spec.data: window w1 (2026-01-01..2026-01-31) is only partly covered by /d (its "
        "data spans 2026-01-10..2026-01-31): its trials train on 22 of its 31 days"]


def test_a_table_of_weekdays_only_is_not_flagged() -> None:
    data = {d: r for d, r in days(dt.date(2025, 12, 1), dt.date(2026, 3, 1)).items()
            if d.weekday() < 5}  # no weekends
    (jan,) = window_coverage([JAN], data)
    assert jan.days == 22 and not jan.partial
    assert coverage_problems([jan], "spec.data", "/d") == ([], [])


def test_days_missing_inside_a_window_are_a_warning_with_their_count() -> None:
    q1 = DateWindow("w1", dt.date(2025, 1, 1), dt.date(2025, 3, 31))
    data = days(dt.date(2024, 12, 1), dt.date(2025, 6, 30))
    lost = {dt.date(2025, 2, 3) + dt.timedelta(d) for d in range(20)}  # a 20-day outage
    lost |= {dt.date(2025, 3, d) for d in (3, 10, 17, 24, 31)}  # and five Mondays
    (c,) = window_coverage([q1], {d: r for d, r in data.items() if d not in lost})
    assert (c.days, len(c.gaps), c.partial) == (65, 25, False)
    errors, warnings = coverage_problems([c], "spec.data", "/d")
    assert errors == [] and warnings == [
        "spec.data: window w1 (2025-01-01..2025-03-31): 25 of 90 days missing in /d "
        "(missing: 2025-02-03..2025-02-22, 2025-03-03, 2025-03-10 and 3 more gaps): its "
        "trials train on 65 days, and its validation split (the last rows) starts later "
        "than the calendar suggests"]
    # Weekends missing from a table that has weekend data elsewhere in the window are gaps.
    weekend = {d: r for d, r in data.items() if not (d.weekday() == 6 and d.month == 2)}
    (w,) = window_coverage([q1], weekend)
    assert len(w.gaps) == 4 and len(coverage_problems([w], "spec.data", "/d")[1]) == 1


def test_unknown_rows_and_no_data_at_all() -> None:
    (jan,) = window_coverage([JAN], days(dt.date(2026, 1, 1), dt.date(2026, 1, 31), None))
    assert jan.rows is None and jan.days == 31
    (nothing,) = window_coverage([JAN], {})
    errors, _ = coverage_problems([nothing], "--data", "gs://b/p")
    assert errors[0].render().startswith("--data: gs://b/p has no data for window w1 "
                                         "(2026-01-01..2026-01-31) (it has no date=YYYY-MM-DD")


def test_racing_extra_windows_without_data_are_a_warning() -> None:
    data = days(dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    errors, warnings = coverage_problems(window_coverage([FEB, JAN], data), "spec.data", "/d",
                                         optional=frozenset({"w1"}))
    assert errors == [] and warnings[0].startswith(
        "spec.data: /d has no data for racing's extra window w1")
