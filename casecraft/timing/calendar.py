"""Working calendar: workdays, daily working periods and deadline arithmetic.

Workdays come from a table of dates (seeded from the ``chinesecalendar``
package, which knows the State Council's holidays and 调休 make-up working
weekends); working hours are the office's daily periods, e.g. 09:00-12:00 and
13:30-17:30, in the calendar's timezone. A date missing from the table is an
error, never a guess: there is no Monday-Friday fallback.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from zoneinfo import ZoneInfo

from casecraft.base.duration import Duration
from casecraft.base.errors import CalendarError

WorkingPeriod = tuple[dt.time, dt.time]

MAX_IDLE_DAYS = 400
"""Give up after this many consecutive non-working days (bad calendar data)."""

_PERIOD = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-\u2013~]\s*(\d{1,2}):(\d{2})\s*$")
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_UTC = dt.UTC


def _check_periods(periods: Sequence[WorkingPeriod], labels: Sequence[str]) -> None:
    if not periods:
        raise ValueError("at least one working period is needed, e.g. '09:00-12:00'")
    for i, (start, end) in enumerate(periods):
        if start >= end:
            raise ValueError(f"working period {labels[i]!r} must end after it starts")
        if i and start < periods[i - 1][1]:
            what = "must come before" if start < periods[i - 1][0] else "overlaps with"
            raise ValueError(
                f"working period {labels[i]!r} {what} {labels[i - 1]!r}; "
                "list periods in time order without overlaps"
            )


def _utc(t: dt.datetime) -> dt.datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"datetime {t.isoformat()} must be timezone-aware")
    return t.astimezone(_UTC)


def parse_periods(specs: list[str]) -> list[WorkingPeriod]:
    """Parse daily working periods such as ``["09:00-12:00", "13:30-17:30"]``.

    Args:
        specs: one ``HH:MM-HH:MM`` text per period, in time order.

    Returns:
        The periods as ``(start, end)`` times.

    Raises:
        ValueError: if a period is malformed, empty, unsorted or overlapping.
    """
    periods: list[WorkingPeriod] = []
    for spec in specs:
        m = _PERIOD.match(spec) if isinstance(spec, str) else None
        try:
            if not m:
                raise ValueError
            h1, m1, h2, m2 = (int(g) for g in m.groups())
            periods.append((dt.time(h1, m1), dt.time(h2, m2)))
        except ValueError:
            raise ValueError(
                f"bad working period {spec!r}: write it as HH:MM-HH:MM, e.g. '09:00-12:00'"
            ) from None
    _check_periods(periods, [str(s).strip() for s in specs])
    return periods


@dataclass(frozen=True)
class DayRow:
    """One calendar date: whether it is a workday, where that came from, and why."""

    day: dt.date
    workday: bool
    source: str
    note: str = ""


def seed_rows(years: Iterable[int] | None = None) -> list[DayRow]:
    """Every date of the given years, as published in the ``chinesecalendar`` package.

    Args:
        years: the years wanted; ``None`` means every year the package covers.
            Years the package does not cover are skipped.

    Returns:
        One row per date; ``note`` is the holiday name, or ``"调休"`` for a
        make-up working weekend.
    """
    import chinese_calendar as cc  # type: ignore[import-untyped]

    if years is None:
        years = range(min(cc.holidays).year, max(cc.holidays).year + 1)
    rows: list[DayRow] = []
    for year in years:
        try:
            cc.is_workday(dt.date(year, 1, 1))
        except NotImplementedError:
            continue
        day = dt.date(year, 1, 1)
        while day.year == year:
            workday = cc.is_workday(day)
            _, name = cc.get_holiday_detail(day)
            note = "调休" if workday and day.weekday() >= 5 else ""  # a make-up working weekend
            if not workday and name:
                note = str(name)
            rows.append(DayRow(day, workday, "chinesecalendar", note))
            day += dt.timedelta(days=1)
    return rows


class WorkingCalendar:
    """Workdays plus daily working periods in one timezone.

    Args:
        days: whether each date is a workday; dates absent are unknown.
        periods: the daily working periods, in time order, not overlapping.
        tz: the IANA timezone the periods are expressed in.
    """

    def __init__(
        self, days: Mapping[dt.date, bool], periods: Sequence[WorkingPeriod], tz: str = "Asia/Shanghai"
    ) -> None:
        self.days = dict(days)
        self.periods = list(periods)
        _check_periods(self.periods, [f"{s:%H:%M}-{e:%H:%M}" for s, e in self.periods])
        self.tz = ZoneInfo(tz)

    def is_workday(self, d: dt.date) -> bool:
        """Whether ``d`` is a workday.

        Raises:
            CalendarError: if the calendar has no entry for ``d``.
        """
        try:
            return self.days[d]
        except KeyError:
            raise CalendarError(
                f"the working calendar has no data for {d.isoformat()}: year {d.year} is missing; "
                "add it: run `casecraft calendar import FILE` or "
                "`casecraft calendar set DATE workday|holiday`",
                year=d.year,
                date=d.isoformat(),
            ) from None

    def _at(self, d: dt.date, t: dt.time) -> dt.datetime:
        return dt.datetime.combine(d, t, tzinfo=self.tz).astimezone(_UTC)

    def _date(self, t: dt.datetime) -> dt.date:
        return t.astimezone(self.tz).date()

    def _spans(self, d: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The working periods of date ``d`` as UTC intervals (none on a non-workday)."""
        return [(self._at(d, s), self._at(d, e)) for s, e in self.periods] if self.is_workday(d) else []

    def _workdays_from(self, d: dt.date) -> Iterator[dt.date]:
        """Workdays from ``d`` on (inclusive), bounded against runaway searches."""
        idle = 0
        while True:
            if self.is_workday(d):
                idle = 0
                yield d
            else:
                idle += 1
                if idle > MAX_IDLE_DAYS:
                    raise CalendarError(
                        f"no workday in the {MAX_IDLE_DAYS} days before {d.isoformat()}; "
                        "check the working calendar (`casecraft calendar set DATE workday`)",
                        year=d.year,
                    )
            d += dt.timedelta(days=1)

    def next_working_moment(self, t: dt.datetime) -> dt.datetime:
        """``t`` if it lies inside a working period, else the next period start (UTC)."""
        t = _utc(t)
        for d in self._workdays_from(self._date(t)):
            for ps, pe in self._spans(d):
                if pe > t:
                    return max(ps, t)
        raise AssertionError("unreachable")  # pragma: no cover

    def working_seconds_between(self, a: dt.datetime, b: dt.datetime) -> float:
        """Working seconds in ``[a, b)``; 0 if ``b <= a``."""
        a, b = _utc(a), _utc(b)
        total, d = 0.0, self._date(a)
        while a < b and d <= self._date(b):
            for ps, pe in self._spans(d):
                total += max((min(pe, b) - max(ps, a)).total_seconds(), 0.0)
            d += dt.timedelta(days=1)
        return total

    def add(self, start: dt.datetime, limit: Duration) -> dt.datetime:
        """The deadline ``limit`` after ``start``, as a UTC-aware datetime.

        Natural limits add plain elapsed time. Working hours count only time
        inside working periods of workdays; a deadline landing on a period end
        stays there. ``N`` working days move ``start`` to the next working moment,
        then keep its time of day on the ``N``-th following workday.

        Raises:
            CalendarError: if a date the computation needs is not in the calendar.
        """
        begin = _utc(start)
        remaining = dt.timedelta(seconds=limit.amount * _SECONDS[limit.unit])
        if not limit.working:
            return begin + remaining
        if limit.amount <= 0:
            return begin
        if limit.unit == "day":
            moment = self.next_working_moment(begin).astimezone(self.tz)
            following = self._workdays_from(moment.date() + dt.timedelta(days=1))
            return self._at(next(islice(following, int(limit.amount) - 1, None)), moment.time())
        for d in self._workdays_from(self._date(begin)):
            for ps, pe in self._spans(d):
                lo = max(ps, begin)
                if pe <= lo:
                    continue
                if remaining <= pe - lo:
                    return lo + remaining
                remaining -= pe - lo
        raise AssertionError("unreachable")  # pragma: no cover
