"""Working calendar: workdays, daily working periods and deadline arithmetic.

Workdays come from a table of dates (seeded from the ``chinesecalendar``
package, which knows the State Council's holidays and 调休 make-up working
weekends); working hours are the office's daily periods, e.g. 09:00-12:00 and
13:30-17:30, in the calendar's timezone. A date missing from the table falls
back to the provisional calendar (:mod:`casecraft.timing.provisional`: weekends
and the statutory holidays computed from the rules), computed once per year and
marked provisional, so intake never stops at the end of the official data. A
date outside the rule's years is an error, never a guess.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from zoneinfo import ZoneInfo

from casecraft.base.duration import Duration
from casecraft.base.errors import CalendarError, render

WorkingPeriod = tuple[dt.time, dt.time]

MAX_IDLE_DAYS = 400
"""Give up after this many consecutive non-working days (bad calendar data)."""

_PERIOD = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-\u2013~]\s*(\d{1,2}):(\d{2})\s*$")
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_UTC = dt.UTC
_DAY = dt.timedelta(days=1)


def _check_periods(periods: Sequence[WorkingPeriod], labels: Sequence[str]) -> None:
    if not periods:
        raise ValueError("at least one working period is needed, e.g. '09:00-12:00'")
    for i, (start, end) in enumerate(periods):
        if start >= end:
            raise ValueError(render("working period {period!r} must end after it starts", {"period": labels[i]}))
        if i and start < periods[i - 1][1]:
            pair = {"period": labels[i], "previous": labels[i - 1]}
            if start < periods[i - 1][0]:
                raise ValueError(render("working period {period!r} must come before {previous!r}; list periods in "
                                        "time order without overlaps", pair))
            raise ValueError(render("working period {period!r} overlaps with {previous!r}; list periods in time "
                                    "order without overlaps", pair))


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
            raise ValueError(render("bad working period {spec!r}: write it as HH:MM-HH:MM, e.g. '09:00-12:00'",
                                    {"spec": spec})) from None
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
        days: whether each date is a workday (the calendar table).
        periods: the daily working periods, in time order, not overlapping.
        tz: the IANA timezone the periods are expressed in.
        provisional_days: dates of ``days`` that come from the provisional rule
            (stored rows whose source is ``"provisional"``).
        fallback: whether a date absent from ``days`` falls back to the
            provisional rule; if not (or outside the rule's years) it is an error.
    """

    def __init__(
        self, days: Mapping[dt.date, bool], periods: Sequence[WorkingPeriod], tz: str = "Asia/Shanghai",
        *, provisional_days: Iterable[dt.date] = (), fallback: bool = True,
    ) -> None:
        self.days = dict(days)
        self.periods = list(periods)
        _check_periods(self.periods, [f"{s:%H:%M}-{e:%H:%M}" for s, e in self.periods])
        self.tz = ZoneInfo(tz)
        self.fallback = fallback
        # Lookups go to _known: the table plus the provisional years filled in on first use, so a
        # provisional date costs one dict hit like an official one. _provisional is always updated
        # before _known, so a date found in _known is already marked.
        self._known = dict(self.days)
        self._provisional = {d for d in provisional_days if d in self.days}
        self._filled: set[int] = set()
        self._lock = threading.Lock()
        # each date's working periods as UTC intervals, made once (every deadline computed walks them)
        self._span_cache: dict[dt.date, tuple[tuple[dt.datetime, dt.datetime], ...]] = {}

    def is_workday(self, d: dt.date) -> bool:
        """Whether ``d`` is a workday (from the table, else from the provisional rule).

        Raises:
            CalendarError: if the table has no entry for ``d`` and the provisional rule does not cover it.
        """
        try:
            return self._known[d]
        except KeyError:
            return self._fill(d)

    def _fill(self, d: dt.date) -> bool:
        """Add the provisional rows of ``d``'s year missing from the table, then answer for ``d``."""
        from casecraft.timing import provisional

        year = d.year
        if not self.fallback or year not in provisional.covered_years():
            years = provisional.covered_years()
            if self.fallback:
                raise CalendarError("the working calendar has no data for {date}: year {year} is missing and the "
                                    "provisional calendar covers only {first}-{last}; import the year's "
                                    "arrangement or set its dates", year=year, date=d.isoformat(),
                                    first=years.start, last=years.stop - 1)
            raise CalendarError("the working calendar has no data for {date}: year {year} is missing; import the "
                                "year's arrangement or set its dates", year=year, date=d.isoformat())
        with self._lock:
            if year not in self._filled:
                rule = provisional.provisional_workdays(year)
                missing = {day: work for day, work in rule.items() if day not in self.days}
                self._provisional.update(missing)
                self._known.update(missing)
                self._filled.add(year)
        return self._known[d]

    def is_provisional(self, d: dt.date) -> bool:
        """Whether ``d``'s workday status comes from the provisional rule (computed, or stored as provisional).

        Raises:
            CalendarError: as :meth:`is_workday`.
        """
        self.is_workday(d)
        return d in self._provisional

    def crosses_provisional(self, start: dt.datetime | dt.date, end: dt.datetime | dt.date) -> bool:
        """Whether any date from ``start``'s to ``end``'s local date (both included) is provisional.

        A deadline computed from ``start`` to ``end`` across such a date is
        provisional: an official arrangement may move it. Datetimes are taken
        in the calendar's timezone; the order of the two does not matter.

        Raises:
            CalendarError: as :meth:`is_workday`.
        """
        a, b = self._local_date(start), self._local_date(end)
        if b < a:
            a, b = b, a
        d = a
        while d <= b:
            if d not in self._known:
                self._fill(d)
            if d in self._provisional:
                return True
            d += _DAY
        return False

    def _local_date(self, t: dt.datetime | dt.date) -> dt.date:
        return self._date(_utc(t)) if isinstance(t, dt.datetime) else t

    def _at(self, d: dt.date, t: dt.time) -> dt.datetime:
        return dt.datetime.combine(d, t, tzinfo=self.tz).astimezone(_UTC)

    def _date(self, t: dt.datetime) -> dt.date:
        return t.astimezone(self.tz).date()

    def _spans(self, d: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
        """The working periods of date ``d`` as UTC intervals (none on a non-workday)."""
        got = self._span_cache.get(d)
        if got is None:
            got = tuple((self._at(d, s), self._at(d, e)) for s, e in self.periods) if self.is_workday(d) else ()
            if len(self._span_cache) >= 4096:  # bounded: a few years of dates
                self._span_cache.clear()
            self._span_cache[d] = got
        return got

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
                    raise CalendarError("no workday in the {days} days before {date}; check the working calendar",
                                        days=MAX_IDLE_DAYS, date=d.isoformat(), year=d.year)
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
        total, d, last = 0.0, self._date(a), self._date(b)
        while a < b and d <= last:
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
