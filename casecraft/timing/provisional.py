"""The provisional working calendar: a year computed from the national rules on public holidays.

The State Council publishes each year's arrangement (调休 make-up working
weekends, days given in lieu) only late in the year before, so a year without
an official arrangement is computed from the rules themselves: the
全国年节及纪念日放假办法 as revised in 2024 (in force from 2025). Weekends are
rest days and these statutory holidays are rest days:

* 元旦 New Year's Day: 1 January;
* 春节 Spring Festival: Lunar New Year's Eve (the last day of the 12th lunar
  month, the 29th or the 30th) and the 1st to 3rd of the first lunar month;
* 清明节 Qingming: the day of the solar term 清明;
* 劳动节 Labour Day: 1 and 2 May;
* 端午节 Dragon Boat Festival: the 5th of the 5th lunar month;
* 中秋节 Mid-Autumn Festival: the 15th of the 8th lunar month;
* 国庆节 National Day: 1 to 3 October.

Everything else is a workday. What the rule cannot know is the arrangement
around the holidays: the weekday given off when a statutory day falls on a
weekend (补假) and the 调休 swaps. An official arrangement has them; importing
the notice replaces the provisional year.

Lunar dates and solar terms come from ``tyme4py`` (6tail's successor to
``lunar-python``): pure Python, computed from an astronomical algorithm for
years 1-9999, and in agreement with chinesecalendar's official data.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from casecraft.base.errors import CalendarError
from casecraft.timing.calendar import DayRow

PROVISIONAL_SOURCE = "provisional"
"""``DayRow.source`` of a date computed from the rules."""

RULES_FROM = 2025
"""The first year of the rules as revised in 2024 (Lunar New Year's Eve and a second Labour Day)."""

LIBRARY_LAST = 9999
"""The last year ``tyme4py`` computes."""

# The statutory holidays in the order of the rules; a date holding two (Mid-Autumn on 1-3 October)
# is named after both, in this order.
HOLIDAY_ORDER = ("元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节")
_RANK = {name: i for i, name in enumerate(HOLIDAY_ORDER)}
_ONE = dt.timedelta(days=1)


def covered_years() -> range:
    """The years the provisional calendar is computed for: from the rules' first year to the library's last."""
    return range(RULES_FROM, LIBRARY_LAST + 1)


def _solar(day: Any) -> dt.date:
    return dt.date(day.get_year(), day.get_month(), day.get_day())


def lunar_dates(year: int) -> dict[str, dt.date]:
    """The lunar festival days and the Qingming solar term of Gregorian ``year``, from the library.

    Works for any year the library computes (also years before the rules),
    so they can be checked against past official arrangements.

    Args:
        year: a year from 1 to 9999.

    Returns:
        ``{"除夕": Lunar New Year's Eve, "正月初一": 1st of the first month,
        "清明": the solar term's day, "端午": 5th of the 5th month,
        "中秋": 15th of the 8th month}``; every date lies in ``year``.

    Raises:
        ValueError: if the library does not cover ``year``.
    """
    if not 1 <= year <= LIBRARY_LAST:
        raise ValueError(f"year {year} is outside 1-{LIBRARY_LAST}")
    from tyme4py.lunar import LunarDay  # type: ignore[import-untyped]
    from tyme4py.solar import SolarTerm  # type: ignore[import-untyped]

    new_year = _solar(LunarDay.from_ymd(year, 1, 1).get_solar_day())
    return {
        # the Eve is the day before the new year's first day, whether the 12th month has 29 or 30 days
        "除夕": new_year - _ONE,
        "正月初一": new_year,
        "清明": _solar(SolarTerm.from_name(year, "清明").get_solar_day()),
        "端午": _solar(LunarDay.from_ymd(year, 5, 5).get_solar_day()),
        "中秋": _solar(LunarDay.from_ymd(year, 8, 15).get_solar_day()),
    }


def _check_year(year: int) -> None:
    years = covered_years()
    if year not in years:
        raise CalendarError(
            "no provisional calendar for {year}: the rules on public holidays it follows apply from {first} and the "
            "lunar library reaches {last}; import the year's arrangement or set its dates",
            year=year, first=years.start, last=years.stop - 1)


@lru_cache(maxsize=256)
def _holidays(year: int) -> MappingProxyType[dt.date, str]:
    lunar = lunar_dates(year)
    days: dict[dt.date, list[str]] = {}

    def add(name: str, first: dt.date, count: int = 1) -> None:
        for i in range(count):
            days.setdefault(first + dt.timedelta(days=i), []).append(name)

    add("元旦", dt.date(year, 1, 1))
    add("春节", lunar["除夕"], 4)
    add("清明节", lunar["清明"])
    add("劳动节", dt.date(year, 5, 1), 2)
    add("端午节", lunar["端午"])
    add("中秋节", lunar["中秋"])
    add("国庆节", dt.date(year, 10, 1), 3)
    named = {d: "、".join(sorted(names, key=_RANK.__getitem__)) for d, names in sorted(days.items())}
    return MappingProxyType(named)


def statutory_holidays(year: int) -> dict[dt.date, str]:
    """The statutory public holidays of ``year`` under the rules in force from 2025.

    Args:
        year: a year of :func:`covered_years`.

    Returns:
        Each holiday date with its Chinese name (元旦, 春节, 清明节, 劳动节, 端午节,
        中秋节, 国庆节), in date order; a date that is two holidays at once
        (Mid-Autumn on 1-3 October) is named after both, e.g. ``"中秋节、国庆节"``.

    Raises:
        CalendarError: if ``year`` is not covered.
    """
    _check_year(year)
    return dict(_holidays(year))


@lru_cache(maxsize=256)
def _workdays(year: int) -> MappingProxyType[dt.date, bool]:
    holidays = _holidays(year)
    first = dt.date(year, 1, 1)
    out: dict[dt.date, bool] = {}
    for i in range((dt.date(year, 12, 31) - first).days + 1):  # (no date after 9999-12-31 to stop at)
        day = first + dt.timedelta(days=i)
        out[day] = day.weekday() < 5 and day not in holidays
    return MappingProxyType(out)


def provisional_workdays(year: int) -> MappingProxyType[dt.date, bool]:
    """Whether each date of ``year`` is a workday under the provisional rule (computed once per year).

    Raises:
        CalendarError: if ``year`` is not covered.
    """
    _check_year(year)
    return _workdays(year)


def provisional_rows(year: int) -> list[DayRow]:
    """Every date of ``year`` under the provisional rule: weekends and statutory holidays off.

    Args:
        year: a year of :func:`covered_years`.

    Returns:
        One row per date, source ``"provisional"``; ``note`` is the holiday's
        name, empty on other days.

    Raises:
        CalendarError: if ``year`` is not covered.
    """
    _check_year(year)
    holidays = _holidays(year)
    return [DayRow(d, w, PROVISIONAL_SOURCE, holidays.get(d, "")) for d, w in provisional_workdays(year).items()]


__all__ = [
    "HOLIDAY_ORDER", "LIBRARY_LAST", "PROVISIONAL_SOURCE", "RULES_FROM", "covered_years", "lunar_dates",
    "provisional_rows", "provisional_workdays", "statutory_holidays",
]
