"""Tests for casecraft.timing.calendar: working periods, the seeded calendar, deadline arithmetic."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casecraft.base.duration import Duration
from casecraft.base.errors import CalendarError, InputError
from casecraft.cli.words import cli_template
from casecraft.timing.calendar import DayRow, WorkingCalendar, parse_periods, seed_rows

SH = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
PERIODS = parse_periods(["09:00-12:00", "13:30-17:30"])
ROWS_2026 = seed_rows([2026])
CAL = WorkingCalendar({r.day: r.workday for r in ROWS_2026}, PERIODS)


def at(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> dt.datetime:
    """A Shanghai wall-clock moment."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=SH)


def hours(n: float) -> Duration:
    return Duration(n, "hour", True)


def days(n: int) -> Duration:
    return Duration(n, "day", True)


# --- parse_periods -------------------------------------------------------------


def test_parse_periods() -> None:
    assert PERIODS == [(dt.time(9), dt.time(12)), (dt.time(13, 30), dt.time(17, 30))]
    assert parse_periods([" 8:30 - 11:45 "]) == [(dt.time(8, 30), dt.time(11, 45))]


@pytest.mark.parametrize(
    ("specs", "fragment"),
    [
        (["9-12"], "HH:MM-HH:MM"),
        (["25:00-26:00"], "HH:MM-HH:MM"),
        (["12:00-09:00"], "must end after it starts"),
        (["09:00-12:00", "11:00-17:00"], "overlaps"),
        (["13:30-17:30", "09:00-12:00"], "must come before"),
        ([], "at least one"),
    ],
)
def test_parse_periods_refuses(specs: list[str], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_periods(specs)


def test_calendar_refuses_bad_periods() -> None:
    with pytest.raises(ValueError, match="overlaps"):
        WorkingCalendar({}, [(dt.time(9), dt.time(12)), (dt.time(11), dt.time(13))])


# --- seed rows -----------------------------------------------------------------


def test_seed_rows_2026_holidays_and_makeup_days() -> None:
    rows = {r.day: r for r in ROWS_2026}
    assert len(rows) == 365 and all(r.source == "chinesecalendar" for r in ROWS_2026)
    for d in [dt.date(2026, 9, 25), dt.date(2026, 9, 26), dt.date(2026, 9, 27)]:
        assert not rows[d].workday
    for n in range(1, 8):
        assert not rows[dt.date(2026, 10, n)].workday
    assert rows[dt.date(2026, 10, 1)].note == "National Day"
    assert rows[dt.date(2026, 9, 25)].note == "Mid-autumn Festival"
    for d in [dt.date(2026, 9, 20), dt.date(2026, 10, 10)]:  # Sunday, Saturday: 调休
        assert d.weekday() >= 5
        assert rows[d] == DayRow(d, True, "chinesecalendar", "调休")
    assert rows[dt.date(2026, 3, 7)] == DayRow(dt.date(2026, 3, 7), False, "chinesecalendar", "")
    assert rows[dt.date(2026, 3, 9)].workday and rows[dt.date(2026, 3, 9)].note == ""


def test_seed_rows_skips_uncovered_years() -> None:
    assert seed_rows([2027]) == []
    assert {r.day.year for r in seed_rows([2025, 2027])} == {2025}


def test_seed_rows_default_covers_2004_to_2026() -> None:
    years = {r.day.year for r in seed_rows()}
    assert min(years) == 2004 and max(years) >= 2026


# --- working hours -------------------------------------------------------------


def test_working_hours_across_weekend() -> None:
    assert at(3, 6, 16).weekday() == 4  # Friday
    assert CAL.add(at(3, 6, 16), hours(4)) == at(3, 9, 11, 30)


def test_working_hours_across_lunch_break() -> None:
    assert CAL.add(at(3, 4, 11), hours(2)) == at(3, 4, 14, 30)
    assert CAL.add(at(3, 4, 12, 15), hours(1)) == at(3, 4, 14, 30)  # start in the break


def test_working_hours_night_start() -> None:
    assert CAL.add(at(3, 4, 20), hours(1)) == at(3, 5, 10)
    assert CAL.add(at(3, 5, 6), hours(1)) == at(3, 5, 10)


def test_deadline_at_period_end_stays_there() -> None:
    assert CAL.add(at(3, 4, 15, 30), hours(2)) == at(3, 4, 17, 30)
    assert CAL.add(at(3, 4, 9), hours(3)) == at(3, 4, 12)


def test_result_is_utc_and_any_input_timezone_works() -> None:
    start = dt.datetime(2026, 3, 6, 8, tzinfo=UTC)  # Friday 16:00 in Shanghai
    result = CAL.add(start, hours(4))
    assert result.tzinfo == UTC and result == dt.datetime(2026, 3, 9, 3, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.add(dt.datetime(2026, 3, 6, 8), hours(4))


def test_natural_time_ignores_the_calendar() -> None:
    assert CAL.add(at(3, 6, 16), Duration(3, "day", False)) == at(3, 9, 16)
    assert CAL.add(at(3, 6, 23, 50), Duration(30, "minute", False)) == at(3, 7, 0, 20)
    assert CAL.add(at(3, 6, 16), Duration(2, "hour", False)) == at(3, 6, 18)


# --- working days --------------------------------------------------------------


def test_working_days_keep_the_working_moment() -> None:
    assert at(3, 4, 10).weekday() == 2  # Wednesday
    assert CAL.add(at(3, 4, 10, 15), days(1)) == at(3, 5, 10, 15)
    assert CAL.add(at(3, 6, 10, 15), days(1)) == at(3, 9, 10, 15)  # Friday -> Monday
    assert CAL.add(at(3, 4, 20), days(1)) == at(3, 6, 9)  # night: from Thu 09:00
    assert CAL.add(at(3, 4, 12, 30), days(1)) == at(3, 5, 13, 30)  # lunch: from 13:30
    assert CAL.add(at(3, 4, 10, 15), days(5)) == at(3, 11, 10, 15)


def test_one_working_day_is_not_24_working_hours() -> None:
    start = at(3, 4, 10, 15)  # Wednesday
    # A day has 7 working hours, so from inside working time they can coincide ...
    assert CAL.add(start, days(1)) == CAL.add(start, hours(7)) == at(3, 5, 10, 15)
    # ... but 24 working hours is more than three working days later ...
    assert CAL.add(start, hours(24)) == at(3, 9, 14, 45)
    # ... 24 natural hours from Friday lands on Saturday ...
    assert CAL.add(at(3, 6, 10, 15), Duration(24, "hour", False)) == at(3, 7, 10, 15)
    # ... and from a period end a working day and 7 working hours differ.
    assert CAL.add(at(3, 4, 17, 30), days(1)) == at(3, 6, 9)
    assert CAL.add(at(3, 4, 17, 30), hours(7)) == at(3, 5, 17, 30)
    assert CAL.add(at(3, 4, 12), days(1)) == at(3, 5, 13, 30)
    assert CAL.add(at(3, 4, 12), hours(7)) == at(3, 5, 12)


def test_mid_autumn_and_national_day_2026() -> None:
    assert CAL.add(at(9, 24, 10), days(1)) == at(9, 28, 10)
    assert CAL.add(at(9, 30, 10), days(1)) == at(10, 8, 10)
    assert CAL.add(at(10, 9, 10), days(1)) == at(10, 10, 10)  # Saturday 调休
    assert CAL.add(at(9, 18, 10), days(1)) == at(9, 20, 10)  # Sunday 调休
    assert CAL.add(at(9, 19, 10), hours(2)) == at(9, 20, 11)
    assert CAL.add(at(9, 30, 16, 30), hours(2)) == at(10, 8, 10)
    assert CAL.is_workday(dt.date(2026, 9, 20)) and CAL.is_workday(dt.date(2026, 10, 10))
    assert not CAL.is_workday(dt.date(2026, 10, 1))


# --- missing data --------------------------------------------------------------


def test_missing_year_falls_back_to_the_provisional_calendar() -> None:
    # 2027 is not in the table: the provisional rule answers (Friday Jan 1 is 元旦, Monday Jan 4 works)
    assert CAL.add(at(12, 31, 16, 30), hours(2)) == at(1, 4, 10, year=2027)
    assert CAL.add(at(12, 31, 10), days(1)) == at(1, 4, 10, year=2027)
    assert CAL.is_workday(dt.date(2027, 1, 4)) and not CAL.is_workday(dt.date(2027, 1, 1))
    assert CAL.is_provisional(dt.date(2027, 1, 4)) and not CAL.is_provisional(dt.date(2026, 12, 31))
    assert len(CAL.days) == 365  # the table itself is unchanged


def test_missing_year_outside_the_provisional_calendar_raises_calendar_error() -> None:
    with pytest.raises(CalendarError) as info:
        CAL.add(at(1, 1, 10, year=2024), hours(1))
    err = info.value
    assert isinstance(err, InputError) and err.exit_code == 2
    assert "2024" in err.message and "2025-9999" in err.message
    # the library says what to do; the command line names the commands that do it
    assert "import the year's arrangement or set its dates" in err.message and "casecraft" not in err.message
    cli = cli_template(err.template)
    assert "casecraft calendar import" in cli and "casecraft calendar set" in cli
    assert err.details["year"] == 2024 and err.template != err.message
    with pytest.raises(CalendarError, match="2024"):
        CAL.is_workday(dt.date(2024, 12, 31))


def test_missing_year_without_fallback_raises_calendar_error() -> None:
    strict = WorkingCalendar(CAL.days, PERIODS, fallback=False)
    with pytest.raises(CalendarError) as info:
        strict.add(at(12, 31, 16, 30), hours(2))
    err = info.value
    assert "2027" in err.message and err.details["year"] == 2027
    assert "import the year's arrangement or set its dates" in err.message and "casecraft" not in err.message
    cli = cli_template(err.template)
    assert "casecraft calendar import" in cli and "casecraft calendar set" in cli
    with pytest.raises(CalendarError, match="2027"):
        strict.is_workday(dt.date(2027, 1, 4))
    with pytest.raises(CalendarError, match="2027"):
        strict.add(at(12, 31, 10), days(1))


def test_no_workday_for_too_long_gives_up() -> None:
    start = dt.date(2026, 1, 1)
    idle = WorkingCalendar({start + dt.timedelta(days=i): False for i in range(800)}, PERIODS)
    with pytest.raises(CalendarError, match="no workday"):
        idle.add(at(1, 1, 10), hours(1))
    with pytest.raises(CalendarError, match="no workday"):
        idle.next_working_moment(at(1, 1, 10))


# --- next_working_moment and working_seconds_between -----------------------------


def test_next_working_moment() -> None:
    assert CAL.next_working_moment(at(3, 4, 10, 15)) == at(3, 4, 10, 15)
    assert CAL.next_working_moment(at(3, 4, 12)) == at(3, 4, 13, 30)
    assert CAL.next_working_moment(at(3, 6, 17, 30)) == at(3, 9, 9)
    assert CAL.next_working_moment(at(3, 4, 20)).tzinfo == UTC


def test_working_seconds_between() -> None:
    assert CAL.working_seconds_between(at(3, 6, 16), at(3, 9, 11, 30)) == 4 * 3600
    assert CAL.working_seconds_between(at(3, 4, 0), at(3, 5, 0)) == 7 * 3600
    assert CAL.working_seconds_between(at(3, 5, 0), at(3, 4, 0)) == 0


# --- properties ----------------------------------------------------------------

starts = st.datetimes(
    min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2026, 11, 30), timezones=st.just(SH)
)
hour_amounts = st.integers(min_value=1, max_value=8000).map(lambda k: k / 100)
day_amounts = st.integers(min_value=1, max_value=15)


def in_working_time(t: dt.datetime) -> bool:
    """Inside a working period of a workday, or exactly at a period's end."""
    local = t.astimezone(SH)
    if not CAL.is_workday(local.date()):
        return False
    return any(s <= local.time().replace(tzinfo=None) <= e for s, e in PERIODS)


@settings(max_examples=200, deadline=None)
@given(starts, hour_amounts, day_amounts)
def test_deadline_is_in_working_time(start: dt.datetime, h: float, d: int) -> None:
    assert in_working_time(CAL.add(start, hours(h)))
    assert in_working_time(CAL.add(start, days(d)))


@settings(max_examples=200, deadline=None)
@given(starts, hour_amounts, hour_amounts, day_amounts, day_amounts)
def test_deadline_is_monotonic(start: dt.datetime, h1: float, h2: float, d1: int, d2: int) -> None:
    h1, h2 = sorted((h1, h2))
    d1, d2 = sorted((d1, d2))
    assert CAL.add(start, hours(h1)) <= CAL.add(start, hours(h2))
    assert CAL.add(start, days(d1)) <= CAL.add(start, days(d2))


@settings(max_examples=200, deadline=None)
@given(starts, hour_amounts)
def test_working_seconds_match_working_hours(start: dt.datetime, h: float) -> None:
    begin = CAL.next_working_moment(start)  # inside working time
    assert CAL.working_seconds_between(begin, CAL.add(begin, hours(h))) == pytest.approx(h * 3600, abs=1e-6)
    assert CAL.working_seconds_between(start, CAL.add(start, hours(h))) == pytest.approx(h * 3600, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(starts, hour_amounts)
def test_a_working_hours_plan_warns_where_the_fraction_of_its_working_time_falls(start: dt.datetime, h: float) -> None:
    """The plan counts a working-hours limit's warning from its hours (they all lie between start and due), the
    general way counts the working seconds between: the same moment, to the microsecond."""
    from pathlib import Path

    from casecraft.cases import deadlines as dl
    from casecraft.workflows.loader import load_workflow

    wf = load_workflow(Path(__file__).parent.parent / "workflows.yaml")
    p = dl.plan(wf, CAL, start, hours(h))
    general = dl.fraction_point(CAL, start, p.due_at, hours(h), wf.file.workflow.warn_at)
    assert p.warn_at is not None and abs(p.warn_at - general) <= dt.timedelta(microseconds=1)
