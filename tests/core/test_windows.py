"""Windows: whole months, rolling relative to the last complete month before the anchor."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import given
from hypothesis import strategies as st

from tuningsweep.core.planning.windows import resolve_windows, windows_from_data, windows_to_data
from tuningsweep.core.spec.manifest import load_sweeps
from tuningsweep.core.spec.parse import Spec


def spec_with(windows: str, extra: str = "") -> Spec:
    text = f"architecture: mlp\nwindows: {windows}\n{extra}"
    return load_sweeps(text, "w.yaml")[0].spec


def test_rolling_example_from_the_design() -> None:
    spec = spec_with("{rolling: {count: 3, months: 3, stepMonths: 1}}")
    got = [(w.id, str(w.start), str(w.end)) for w in resolve_windows(spec, dt.date(2026, 11, 27))]
    assert got == [("w0", "2026-08-01", "2026-10-31"), ("w1", "2026-07-01", "2026-09-30"),
                   ("w2", "2026-06-01", "2026-08-31")]


def test_rolling_across_the_year_boundary() -> None:
    spec = spec_with("{rolling: {count: 2, months: 2, stepMonths: 3}}")
    got = [(str(w.start), str(w.end)) for w in resolve_windows(spec, dt.date(2027, 1, 1))]
    assert got == [("2026-11-01", "2026-12-31"), ("2026-08-01", "2026-09-30")]


def test_fast_mode_is_one_window_of_fast_months() -> None:
    spec = spec_with("{rolling: {count: 3}}", "mode: fast\nfast: {months: 2}\n")
    (w,) = resolve_windows(spec, dt.date(2026, 3, 15))
    assert (str(w.start), str(w.end)) == ("2026-01-01", "2026-02-28")
    assert spec.max_epochs == 20


def test_fast_mode_with_ranges_uses_the_latest_range_end() -> None:
    spec = spec_with("{ranges: [{start: 2025-01-01, end: 2025-06-30}, "
                     "{start: 2024-01-01, end: 2024-03-31}]}", "mode: fast\n")
    (w,) = resolve_windows(spec, dt.date(2026, 3, 15))
    assert (str(w.start), str(w.end)) == ("2025-06-01", "2025-06-30")


def test_ranges_keep_their_order() -> None:
    spec = spec_with("{ranges: [{start: 2026-01-01, end: 2026-01-31}, "
                     "{start: 2025-01-01, end: 2025-03-31}]}")
    ws = resolve_windows(spec, dt.date(2030, 1, 1))
    assert [(w.id, str(w.start)) for w in ws] == [("w0", "2026-01-01"), ("w1", "2025-01-01")]


def test_pinned_windows_round_trip() -> None:
    ws = resolve_windows(spec_with("{rolling: {count: 4}}"), dt.date(2026, 5, 5))
    assert windows_from_data(windows_to_data(ws)) == ws


@given(
    anchor=st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2200, 12, 31)),
    count=st.integers(1, 12), months=st.integers(1, 24), step=st.integers(1, 12),
)
def test_rolling_windows_properties(anchor: dt.date, count: int, months: int, step: int) -> None:
    spec = spec_with(f"{{rolling: {{count: {count}, months: {months}, stepMonths: {step}}}}}")
    ws = resolve_windows(spec, anchor)
    assert len(ws) == count
    for j, w in enumerate(ws):
        assert w.id == f"w{j}"
        assert w.start.day == 1
        assert (w.end + dt.timedelta(days=1)).day == 1  # ends on a month's last day
        span = (w.end.year - w.start.year) * 12 + w.end.month - w.start.month + 1
        assert span == months
        assert w.end < anchor.replace(day=1)  # only complete months before the anchor
    # w0 ends with the month just before the anchor's month.
    assert ws[0].end == anchor.replace(day=1) - dt.timedelta(days=1)
    for a, b in itertools.pairwise(ws):
        gap = (a.end.year - b.end.year) * 12 + a.end.month - b.end.month
        assert gap == step


@given(anchor=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)))
def test_windows_roll_forward_with_the_anchor(anchor: dt.date) -> None:
    spec = spec_with("{rolling: {count: 2, months: 1}}")
    next_month = (anchor.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    now, later = resolve_windows(spec, anchor), resolve_windows(spec, next_month)
    assert later[1] .start == now[0].start and later[0].start > now[0].start
