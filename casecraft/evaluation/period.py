"""Evaluation periods: a calendar month in the workflow's timezone, cut off at "now"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from casecraft.base.errors import InputError

_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")


def parse_month(text: str) -> tuple[int, int]:
    """``"2026-11"`` → ``(2026, 11)``.

    Raises:
        InputError: not a ``YYYY-MM`` month.
    """
    m = _MONTH.match(text or "")
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1900:
        raise InputError(f"bad month {text!r}: use YYYY-MM, e.g. 2026-11")
    return int(m.group(1)), int(m.group(2))


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
    def key(self) -> str:
        """The unique key of this month's recorded run."""
        return f"monthly:{self.month}"

    def previous(self) -> Period:
        """The month before (always complete)."""
        y, m = parse_month(self.month)
        py, pm = _shift(y, m, -1)
        return month_period(f"{py:04d}-{pm:02d}", self.timezone, self.start)


def month_period(month: str, tz: str, now: datetime) -> Period:
    """The period of ``month`` as seen at ``now``.

    Raises:
        InputError: a bad month, or one that has not started yet.
    """
    y, m = parse_month(month)
    zone = ZoneInfo(tz)
    ny, nm = _shift(y, m, 1)
    first = date(y, m, 1)
    start = datetime.combine(first, time(0), zone).astimezone(UTC)
    month_end = datetime.combine(date(ny, nm, 1), time(0), zone).astimezone(UTC)
    if now <= start:
        raise InputError(f"month {y:04d}-{m:02d} has not started yet (now is "
                         f"{now.astimezone(zone):%Y-%m-%d %H:%M} {tz})")
    end = min(month_end, now)
    # days wholly inside the window: before the local date of ``end`` (a running day does not count yet)
    day_end = max(end.astimezone(zone).date(), first)
    return Period(month=f"{y:04d}-{m:02d}", timezone=tz, start=start, month_end=month_end, end=end,
                  first_day=first, day_end=day_end)


def previous_month(now: datetime, tz: str) -> str:
    """The month before the one containing ``now`` (local time), as ``YYYY-MM``."""
    local = now.astimezone(ZoneInfo(tz))
    y, m = _shift(local.year, local.month, -1)
    return f"{y:04d}-{m:02d}"


def current_month(now: datetime, tz: str) -> str:
    local = now.astimezone(ZoneInfo(tz))
    return f"{local.year:04d}-{local.month:02d}"


def days_between(first: date, end: date) -> int:
    """How many dates lie in ``[first, end)``."""
    return max((end - first) // timedelta(days=1), 0)
