"""``spec.schedule``: the cron expression that makes a sweep recurring, and its slots.

A recurring sweep runs once per slot of its schedule; each run is named by the slot's
date (``2026-07-01``), which is also what its rolling windows are resolved against. The
expression is the classic five fields (``minute hour day-of-month month day-of-week``,
UTC), with ``*``, lists, ranges, steps and month/weekday names, and the cron rule that
when both day fields are restricted a day matching either one fires.

Because a run is named by its date, a schedule fires at most once a day: the minute and
the hour must be single values (a tuning sweep that re-runs more often than daily would
train on the same complete months every time anyway).

Why not a cron library: only "the latest slot at or before a moment" and "the slot
after a moment" are needed, at day granularity, and the core stays free of
dependencies beyond numpy. Pure: no clock, no I/O; "now" is always an argument.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
           "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
#: How far back or ahead a slot is looked for: 8 years covers a 29 February schedule
#: across a century year that is not a leap year.
_SEARCH_DAYS = 366 * 8


class ScheduleError(ValueError):
    """The cron expression is not one this module accepts (the message says why)."""


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: the time of day and the days it fires on (UTC)."""

    expression: str
    minute: int
    hour: int
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]  # 0 = Sunday
    any_day_of_month: bool
    any_day_of_week: bool

    def fires_on(self, day: dt.date) -> bool:
        """Whether the schedule has a slot on ``day``."""
        if day.month not in self.months:
            return False
        dom = day.day in self.days_of_month
        dow = (day.isoweekday() % 7) in self.days_of_week
        if self.any_day_of_month and self.any_day_of_week:
            return True
        if self.any_day_of_month:
            return dow
        if self.any_day_of_week:
            return dom
        return dom or dow  # cron: both restricted, either one fires

    def slot_on(self, day: dt.date) -> dt.datetime:
        """The slot's moment on ``day`` (UTC; ``day`` must be one it fires on)."""
        return dt.datetime(day.year, day.month, day.day, self.hour, self.minute,
                           tzinfo=dt.UTC)

    def latest_at_or_before(self, moment: dt.datetime) -> dt.datetime | None:
        """The last slot at or before ``moment`` (naive moments are taken as UTC)."""
        moment = _utc(moment)
        day = moment.date()
        for _ in range(_SEARCH_DAYS):
            if self.fires_on(day) and self.slot_on(day) <= moment:
                return self.slot_on(day)
            day -= dt.timedelta(days=1)
        return None

    def next_after(self, moment: dt.datetime) -> dt.datetime | None:
        """The first slot strictly after ``moment`` (naive moments are taken as UTC)."""
        moment = _utc(moment)
        day = moment.date()
        for _ in range(_SEARCH_DAYS):
            if self.fires_on(day) and self.slot_on(day) > moment:
                return self.slot_on(day)
            day += dt.timedelta(days=1)
        return None

    def slots_between(self, after: dt.datetime, until: dt.datetime) -> list[dt.datetime]:
        """Every slot in ``(after, until]``, oldest first."""
        out: list[dt.datetime] = []
        slot = self.next_after(after)
        while slot is not None and slot <= _utc(until):
            out.append(slot)
            slot = self.next_after(slot)
        return out


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def run_id(slot: dt.datetime) -> str:
    """The run's name: the slot's date, ``2026-07-01``."""
    return slot.date().isoformat()


def end_of_day(day: dt.date) -> dt.datetime:
    """The last moment of ``day`` (UTC): ``--today D`` counts every slot of D as come."""
    return dt.datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=dt.UTC)


def _number(text: str, low: int, high: int, names: tuple[str, ...], field: str) -> int:
    lowered = text.lower()
    if names and lowered in names:
        return names.index(lowered) + (1 if field == "month" else 0)
    if not text.isdigit():
        raise ScheduleError(f"{field} {text!r} is not a number"
                            + (f" or a name ({', '.join(names[:3])}, ...)" if names else ""))
    value = int(text)
    if field == "day-of-week" and value == 7:
        value = 0  # 7 is Sunday too
    if not low <= value <= high:
        raise ScheduleError(f"{field} {value} is outside {low}-{high}")
    return value


def _field(text: str, low: int, high: int, field: str,
           names: tuple[str, ...] = ()) -> tuple[frozenset[int], bool]:
    """The values of one field, and whether it is ``*`` (no restriction)."""
    values: set[int] = set()
    top = 7 if field == "day-of-week" else high
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ScheduleError(f"{field} step {step_text!r} is not a positive number")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            start, end = _number(a, low, top, names, field), _number(b, low, top, names, field)
            if field == "day-of-week" and b == "7":
                end = 7
            if end < start:
                raise ScheduleError(f"{field} range {base!r} runs backwards")
        else:
            start = _number(base, low, top, names, field)
            end = high if step_text else start
        values.update(v % 7 if field == "day-of-week" else v
                      for v in range(start, end + 1, step))
    return frozenset(values), text == "*"


def parse_schedule(expression: str) -> Schedule:
    """Parse a five-field cron expression (UTC).

    Raises:
        ScheduleError: the expression is malformed, fires more than once a day, or never.

    Example:
        >>> run_id(parse_schedule("0 6 1 * *").latest_at_or_before(
        ...     dt.datetime(2026, 7, 15, tzinfo=dt.UTC)))
        '2026-07-01'
    """
    fields = expression.split()
    if len(fields) != 5:
        raise ScheduleError(f"has {len(fields)} field(s); a schedule has 5: minute hour "
                            "day-of-month month day-of-week, e.g. '0 6 1 * *'")
    minute_text, hour_text, dom_text, month_text, dow_text = fields
    minutes, _ = _field(minute_text, 0, 59, "minute")
    hours, _ = _field(hour_text, 0, 23, "hour")
    if len(minutes) != 1 or len(hours) != 1:
        raise ScheduleError("fires more than once a day; runs are named by their date, so "
                            "give a single minute and hour, e.g. '0 6 1 * *'")
    doms, any_dom = _field(dom_text, 1, 31, "day-of-month")
    months, _ = _field(month_text, 1, 12, "month", _MONTHS)
    dows, any_dow = _field(dow_text, 0, 6, "day-of-week", _DAYS)
    schedule = Schedule(expression, next(iter(minutes)), next(iter(hours)), doms, months,
                        dows, any_dom, any_dow)
    if schedule.next_after(dt.datetime(2000, 1, 1, tzinfo=dt.UTC)) is None:
        raise ScheduleError("never fires (no such day in those months)")
    return schedule
