"""Evaluation periods: a calendar month in the workflow's timezone, cut off at "now"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from casecraft.base.errors import InputError

_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")
FIRST = (1900, 1)
"""The earliest month accepted (no working calendar reaches further back)."""
LAST = (9999, 11)
"""The latest month whose end (the next month's first day) a date can hold."""


def month_parts(text: object, example: str) -> tuple[int, int]:
    """``"2026-11"`` → ``(2026, 11)``: the format, a month 01-12, and not before FIRST.

    Callers check the upper end (LAST, or "not started yet") themselves, so that a month in the
    future is refused as such.

    Raises:
        InputError: not ``YYYY-MM``, or before 1900-01; the message shows ``example``.
    """
    m = _MONTH.match(text) if isinstance(text, str) else None
    if not m:
        raise InputError("bad month {month!r}: type it as YYYY-MM, e.g. {example}", month=text, example=example)
    year, month = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12:
        raise InputError("bad month {month!r}: type it as YYYY-MM with a month from 01 to 12, e.g. {example}",
                         month=text, example=example)
    if (year, month) < FIRST:
        raise InputError("month {month!r} is too early: give a month from {first} on, as YYYY-MM, e.g. {example}",
                         month=text, first=_fmt(FIRST), example=example)
    return year, month


def _fmt(ym: tuple[int, int]) -> str:
    return f"{ym[0]:04d}-{ym[1]:02d}"


def parse_month(text: str, example: str = "2026-11") -> tuple[int, int]:
    """``"2026-11"`` → ``(2026, 11)``.

    Args:
        text: the month as typed.
        example: a month to show in the error message (the current one, where known).

    Raises:
        InputError: not a ``YYYY-MM`` month from 1900-01 to 9999-11.
    """
    year, month = month_parts(text, example)
    if (year, month) > LAST:
        raise InputError("month {month!r} is too late: give a month up to {last}, as YYYY-MM, e.g. {example}",
                         month=text, last=_fmt(LAST), example=example)
    return year, month


def _shift(year: int, month: int, by: int) -> tuple[int, int]:
    i = year * 12 + (month - 1) + by
    return i // 12, i % 12 + 1


@dataclass(frozen=True)
class Period:
    """One month in the workflow's timezone, as UTC bounds for the queries.

    Attributes:
        month: ``YYYY-MM``.
        start: local midnight of the month's first day (UTC).
        month_end: local midnight of the next month's first day (UTC).
        end: the end of the evaluated window: ``month_end``, or "now" for the running month.
        first_day: the month's first local date.
        day_end: the first local date not counted by day-based indicators (exclusive):
            only days wholly inside the window count.
    """

    month: str
    timezone: str
    start: datetime
    month_end: datetime
    end: datetime
    first_day: date
    day_end: date

    @property
    def complete(self) -> bool:
        """Whether the whole month has passed."""
        return self.end >= self.month_end

    @property
    def until(self) -> datetime:
        """The exclusive upper bound of the events counted: the month's end, or, for a running month,
        just after now (what happened at this very moment has happened)."""
        return self.month_end if self.complete else self.end + timedelta(microseconds=1)

    @property
    def key(self) -> str:
        """The unique key of this month's recorded run."""
        return f"monthly:{self.month}"

    def previous(self) -> Period:
        """The month before (always complete)."""
        y, m = (int(part) for part in self.month.split("-"))
        return _period(*_shift(y, m, -1), self.timezone, self.start)


def month_period(month: str, tz: str, now: datetime) -> Period:
    """The period of ``month`` as seen at ``now``.

    Raises:
        InputError: a bad month, or one that has not started yet.
    """
    current = current_month(now, tz)
    y, m = month_parts(month, current)
    if now < datetime.combine(date(y, m, 1), time(0), ZoneInfo(tz)):  # at 00:00 on the 1st: begun, still empty
        local = now.astimezone(ZoneInfo(tz))
        raise InputError("month {month} has not started yet (now is {now} {tz}): give a month up to {current}, "
                         "as YYYY-MM", month=_fmt((y, m)), now=f"{local:%Y-%m-%d %H:%M}", tz=tz, current=current)
    if (y, m) > LAST:  # only with a clock set to December 9999
        raise InputError("month {month!r} is too late: give a month up to {last}, as YYYY-MM", month=month,
                         last=_fmt(LAST))
    return _period(y, m, tz, now)


def _period(y: int, m: int, tz: str, now: datetime) -> Period:
    zone = ZoneInfo(tz)
    ny, nm = _shift(y, m, 1)
    first = date(y, m, 1)
    start = datetime.combine(first, time(0), zone).astimezone(UTC)
    month_end = datetime.combine(date(ny, nm, 1), time(0), zone).astimezone(UTC)
    end = min(month_end, now)
    # days wholly inside the window: before the local date of ``end`` (a running day does not count yet)
    day_end = max(end.astimezone(zone).date(), first)
    return Period(month=_fmt((y, m)), timezone=tz, start=start, month_end=month_end, end=end,
                  first_day=first, day_end=day_end)


def previous_month(now: datetime, tz: str) -> str:
    """The month before the one containing ``now`` (local time), as ``YYYY-MM``."""
    local = now.astimezone(ZoneInfo(tz))
    return _fmt(_shift(local.year, local.month, -1))


def current_month(now: datetime, tz: str) -> str:
    """The month containing ``now`` (local time), as ``YYYY-MM``."""
    local = now.astimezone(ZoneInfo(tz))
    return _fmt((local.year, local.month))


def days_between(first: date, end: date) -> int:
    """How many dates lie in ``[first, end)``."""
    return max((end - first) // timedelta(days=1), 0)
