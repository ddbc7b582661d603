"""The provisional calendar (casecraft.timing.provisional), its use by WorkingCalendar, and the notice file.

The rule is checked against the official arrangements in the chinesecalendar
package: an official year is the statutory days, plus a weekday off for each
statutory day on a weekend (补假), plus the 调休 swaps (in-lieu rest days for
make-up working weekends).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar as cc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casecraft.base.duration import Duration
from casecraft.base.errors import CalendarError, InputError
from casecraft.cli.words import cli_template
from casecraft.timing import provisional
from casecraft.timing.calendar import WorkingCalendar, parse_periods, seed_rows
from casecraft.timing.notice import parse_notice, parse_notice_text
from casecraft.timing.provisional import (
    HOLIDAY_ORDER,
    covered_years,
    lunar_dates,
    provisional_rows,
    statutory_holidays,
)

SH = ZoneInfo("Asia/Shanghai")
PERIODS = parse_periods(["09:00-12:00", "13:30-17:30"])
SAMPLE_2026 = Path(__file__).resolve().parents[1] / "samples" / "holidays-2026.yaml"
CC_NAME = {  # chinesecalendar's English names
    "元旦": "New Year's Day", "春节": "Spring Festival", "清明节": "Tomb-sweeping Day", "劳动节": "Labour Day",
    "端午节": "Dragon Boat Festival", "中秋节": "Mid-autumn Festival", "国庆节": "National Day",
}
ONE = dt.timedelta(days=1)


OFFICIAL = {r.day: r.workday for r in seed_rows([2025, 2026])}


def official_calendar() -> WorkingCalendar:
    """A fresh calendar of the official 2025 and 2026 (later years fall back to the rule)."""
    return WorkingCalendar(OFFICIAL, PERIODS)


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=SH)


# --- the rule against the official arrangements ------------------------------------------


@pytest.mark.parametrize("year", [2025, 2026])
def test_statutory_days_are_exactly_those_of_the_official_arrangement(year: int) -> None:
    statutory = statutory_holidays(year)
    assert len(statutory) == 13 and all(d.year == year for d in statutory)
    holidays = {d: n for d, n in cc.holidays.items() if d.year == year}
    in_lieu = {d for d in cc.in_lieu_days if d.year == year}
    # every statutory day is off in the official arrangement, under the same holiday
    for day, name in statutory.items():
        assert holidays.get(day) == CC_NAME[name], (day, name)
    # each statutory day accounts for one weekday off that is not in lieu of a make-up weekend: itself,
    # or the weekday given for it when it falls on a weekend (补假); so per holiday the counts are equal
    for name in HOLIDAY_ORDER:
        official = {d for d, n in holidays.items() if n == CC_NAME[name] and d.weekday() < 5 and d not in in_lieu}
        ours = {d for d, n in statutory.items() if n == name}
        assert len(official) == len(ours), name
        assert {d for d in ours if d.weekday() < 5} <= official, name
    # and no other day is off on a weekday, apart from those in lieu
    weekday_off = {d for d in holidays if d.weekday() < 5 and d not in in_lieu}
    assert len(weekday_off) == len(statutory)


def test_the_2026_arrangement_is_the_rule_plus_bujia_and_tiaoxiu() -> None:
    official = {r.day: r.workday for r in seed_rows([2026])}
    rule = {r.day: r.workday for r in provisional_rows(2026)}
    differ = sorted(d for d in official if official[d] != rule[d])
    in_lieu = sorted(d for d in cc.in_lieu_days if d.year == 2026)
    makeup = [dt.date(2026, 1, 4), dt.date(2026, 2, 14), dt.date(2026, 2, 28), dt.date(2026, 5, 9),
              dt.date(2026, 9, 20), dt.date(2026, 10, 10)]
    bujia = [dt.date(2026, 4, 6), dt.date(2026, 5, 4), dt.date(2026, 10, 5)]  # for Apr 5, May 2, Oct 3
    assert differ == sorted(in_lieu + makeup + bujia)


@pytest.mark.parametrize("year", range(2010, 2025))
def test_lunar_dates_match_the_official_holidays_2010_to_2024(year: int) -> None:
    lunar = lunar_dates(year)
    holidays = {d: n for d, n in cc.holidays.items() if d.year in (year - 1, year, year + 1)}

    def block(day: dt.date) -> set[str]:
        """The names in the run of official rest days around ``day`` (a festival on a weekend goes unnamed)."""
        assert cc.is_holiday(day), day
        names, d = set(), day
        while cc.is_holiday(d - ONE):
            d -= ONE
        while cc.is_holiday(d):
            names.add(holidays.get(d))
            d += ONE
        return names

    # the Eve was not statutory before 2025: compare the first three days of the first month
    for i in range(3):
        assert "Spring Festival" in block(lunar["正月初一"] + i * ONE)
    assert "Tomb-sweeping Day" in block(lunar["清明"])
    assert "Dragon Boat Festival" in block(lunar["端午"])
    assert block(lunar["中秋"]) & {"Mid-autumn Festival", "National Day"}  # 2020: on National Day itself
    assert cc.get_holiday_detail(lunar["清明"]) in ((True, "Tomb-sweeping Day"), (True, None))


def test_lunar_dates_of_some_years() -> None:
    assert lunar_dates(2025) == {"除夕": dt.date(2025, 1, 28), "正月初一": dt.date(2025, 1, 29),
                                 "清明": dt.date(2025, 4, 4), "端午": dt.date(2025, 5, 31),
                                 "中秋": dt.date(2025, 10, 6)}
    assert lunar_dates(2027) == {"除夕": dt.date(2027, 2, 5), "正月初一": dt.date(2027, 2, 6),
                                 "清明": dt.date(2027, 4, 5), "端午": dt.date(2027, 6, 9),
                                 "中秋": dt.date(2027, 9, 15)}
    with pytest.raises(ValueError, match="outside"):
        lunar_dates(10000)


def test_the_eve_is_the_29th_when_the_12th_month_is_short() -> None:
    from tyme4py.lunar import LunarDay, LunarMonth

    assert LunarMonth.from_ym(2024, 12).get_day_count() == 29  # no 腊月三十 before the 2025 new year
    eve = LunarDay.from_ymd(2024, 12, 29).get_solar_day()
    assert dt.date(eve.get_year(), eve.get_month(), eve.get_day()) == lunar_dates(2025)["除夕"]
    assert statutory_holidays(2025)[dt.date(2025, 1, 28)] == "春节"


def test_mid_autumn_on_national_day_is_named_after_both() -> None:
    days = statutory_holidays(2028)
    assert days[dt.date(2028, 10, 3)] == "中秋节、国庆节"
    assert len(days) == 12


def test_provisional_rows_2027() -> None:
    rows = provisional_rows(2027)
    assert [r.day for r in rows] == [dt.date(2027, 1, 1) + i * ONE for i in range(365)]
    assert {r.source for r in rows} == {"provisional"}
    off = {r.day: r.note for r in rows if not r.workday and r.day.weekday() < 5}
    assert off == {dt.date(2027, 1, 1): "元旦", dt.date(2027, 2, 5): "春节", dt.date(2027, 2, 8): "春节",
                   dt.date(2027, 4, 5): "清明节", dt.date(2027, 6, 9): "端午节", dt.date(2027, 9, 15): "中秋节",
                   dt.date(2027, 10, 1): "国庆节"}
    by_day = {r.day: r for r in rows}
    assert by_day[dt.date(2027, 2, 6)].note == "春节" and not by_day[dt.date(2027, 2, 6)].workday  # Saturday
    assert by_day[dt.date(2027, 1, 9)].note == "" and not by_day[dt.date(2027, 1, 9)].workday
    assert sum(r.workday for r in rows) == 261 - 7


@pytest.mark.parametrize("year", [2024, 1, 10000])
def test_years_outside_the_rule_are_refused(year: int) -> None:
    assert covered_years() == range(2025, 10000)
    for f in (statutory_holidays, provisional_rows, provisional.provisional_workdays):
        with pytest.raises(CalendarError, match="apply from 2025") as info:
            f(year)
        assert info.value.details["year"] == year
        assert "import the year's arrangement" in info.value.message and "casecraft" not in info.value.message
        assert "casecraft calendar import" in cli_template(info.value.template)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=2025, max_value=9999))
def test_rule_structure_any_year(year: int) -> None:
    days = statutory_holidays(year)
    assert all(d.year == year for d in days)
    names = [n for ns in days.values() for n in ns.split("、")]
    assert sorted(set(names), key=HOLIDAY_ORDER.index) == list(HOLIDAY_ORDER)
    assert len(names) == 13  # thirteen statutory days, two of which may share a date
    spring = sorted(d for d, n in days.items() if "春节" in n)
    assert spring == [spring[0] + i * ONE for i in range(4)]
    rows = provisional_rows(year)
    assert len(rows) == (dt.date(year, 12, 31) - dt.date(year, 1, 1)).days + 1
    assert all(r.workday == (r.day.weekday() < 5 and r.day not in days) for r in rows)
    assert all(r.note == days.get(r.day, "") for r in rows)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=2025, max_value=2200))
def test_rule_dates_this_side_of_2200(year: int) -> None:
    lunar = lunar_dates(year)
    new_year = lunar["正月初一"]
    assert dt.date(year, 1, 21) <= new_year <= dt.date(year, 2, 20)
    assert lunar["除夕"] == new_year - ONE
    assert lunar["清明"] in (dt.date(year, 4, 4), dt.date(year, 4, 5))
    # lunar months have 29 or 30 days, and a leap month may come before the 5th or the 8th
    after = (lunar["端午"] - new_year).days
    assert 4 * 29 + 4 <= after <= 4 * 30 + 4 or 5 * 29 + 4 <= after <= 5 * 30 + 4
    after = (lunar["中秋"] - new_year).days
    assert 7 * 29 + 14 <= after <= 7 * 30 + 14 or 8 * 29 + 14 <= after <= 8 * 30 + 14


# --- WorkingCalendar over a provisional year ---------------------------------------------


def test_fallback_computes_a_year_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = provisional.provisional_workdays

    def counting(year: int) -> object:
        calls.append(year)
        return real(year)

    monkeypatch.setattr(provisional, "provisional_workdays", counting)
    cal = official_calendar()
    for start in (at(2026, 12, 20, 10), at(2027, 3, 1, 10), at(2027, 12, 20, 16)):
        cal.add(start, Duration(20, "day", True))
        cal.add(start, Duration(40, "hour", True))
        assert cal.crosses_provisional(start, start + dt.timedelta(days=40))
    assert calls == [2027, 2028]
    assert len(cal.days) == 730  # the table is not changed by the fallback


def test_is_provisional() -> None:
    cal = WorkingCalendar({dt.date(2026, 12, 31): True, dt.date(2027, 1, 4): False, dt.date(2027, 1, 5): True},
                          PERIODS, provisional_days=[dt.date(2027, 1, 5), dt.date(2030, 1, 1)])
    assert not cal.is_provisional(dt.date(2026, 12, 31))
    assert not cal.is_provisional(dt.date(2027, 1, 4))  # a stored row not from the rule (say, set by hand)
    assert cal.is_provisional(dt.date(2027, 1, 5))  # stored as provisional
    assert cal.is_provisional(dt.date(2027, 1, 6))  # computed
    assert not cal.is_workday(dt.date(2027, 1, 4))  # the stored row wins over the rule
    assert cal.is_provisional(dt.date(2030, 1, 1)) and not cal.is_workday(dt.date(2030, 1, 1))
    with pytest.raises(CalendarError, match="2024"):
        cal.is_provisional(dt.date(2024, 6, 3))


def test_crosses_provisional() -> None:
    cal = official_calendar()
    dec = at(2026, 12, 31, 10)
    assert not cal.crosses_provisional(at(2026, 12, 1, 10), dec)
    assert cal.crosses_provisional(dec, at(2027, 1, 4, 10))
    assert cal.crosses_provisional(at(2027, 1, 4, 10), dec)  # either order
    # local dates: 16:30 UTC on Dec 31 is already 2027 in Shanghai
    late = dt.datetime(2026, 12, 31, 16, 30, tzinfo=dt.UTC)
    assert cal.crosses_provisional(late, late)
    assert not cal.crosses_provisional(late - dt.timedelta(hours=1), late - dt.timedelta(hours=1))
    assert cal.crosses_provisional(dt.date(2027, 2, 1), dt.date(2027, 2, 1))
    assert not cal.crosses_provisional(dt.date(2026, 2, 1), dt.date(2026, 3, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.crosses_provisional(dt.datetime(2026, 1, 1), dec)


def test_deadlines_across_new_year_2027() -> None:
    cal = official_calendar()
    # 20 working days (私搭乱建) from 10 December: 2026 has no holidays left, 2027 starts with 元旦
    assert cal.add(at(2026, 12, 10, 10), Duration(20, "day", True)) == at(2027, 1, 8, 10)
    # 4 working hours from 30 December 16:00 (the report): 1.5 h on Dec 30, then Dec 31, done
    assert cal.add(at(2026, 12, 30, 16), Duration(4, "hour", True)) == at(2026, 12, 31, 11, 30)
    assert cal.add(at(2026, 12, 31, 16), Duration(4, "hour", True)) == at(2027, 1, 4, 11, 30)
    # the Spring Festival 2027: Eve Friday Feb 5 to Monday Feb 8 off
    assert cal.add(at(2027, 2, 4, 10), Duration(1, "day", True)) == at(2027, 2, 9, 10)
    assert cal.next_working_moment(at(2027, 2, 5, 9)) == at(2027, 2, 9, 9)
    assert cal.working_seconds_between(at(2027, 2, 1, 0), at(2027, 2, 15, 0)) == 8 * 7 * 3600  # Feb 1-4, 9-12


starts_2027 = st.datetimes(min_value=dt.datetime(2027, 1, 1), max_value=dt.datetime(2027, 11, 30),
                           timezones=st.just(SH))


@settings(max_examples=150, deadline=None)
@given(starts_2027, st.integers(min_value=1, max_value=8000).map(lambda k: k / 100),
       st.integers(min_value=1, max_value=20))
def test_provisional_deadlines_are_in_working_time_and_marked(start: dt.datetime, h: float, d: int) -> None:
    cal = official_calendar()
    for due in (cal.add(start, Duration(h, "hour", True)), cal.add(start, Duration(d, "day", True))):
        local = due.astimezone(SH)
        assert cal.is_workday(local.date()) and cal.is_provisional(local.date())
        assert any(s <= local.time() <= e for s, e in PERIODS)
        assert cal.crosses_provisional(start, due)
    assert cal.working_seconds_between(cal.next_working_moment(start),
                                       cal.add(start, Duration(h, "hour", True))) == pytest.approx(h * 3600)


# --- the notice file -------------------------------------------------------------------------


def test_the_2026_sample_is_chinesecalendars_2026() -> None:
    notice = parse_notice(SAMPLE_2026)
    assert notice.year == 2026 and notice.warnings == ()
    assert notice.title == "国务院办公厅关于2026年部分节假日安排的通知"
    assert notice.days == {r.day: r.workday for r in seed_rows([2026])}
    assert {r.source for r in notice.rows} == {"notice"}
    off = {r.day: r.note for r in notice.rows if not r.workday and r.note}
    assert {d: CC_NAME[n] for d, n in off.items()} == {d: n for d, n in cc.holidays.items() if d.year == 2026}
    makeup = sorted(r.day for r in notice.rows if r.note == "调休")
    assert makeup == sorted(d for d in cc.workdays if d.year == 2026 and d.weekday() >= 5)
    assert all(r.workday for r in notice.rows if r.note == "调休")
    assert [h.name for h in notice.holidays] == list(HOLIDAY_ORDER)


def test_single_dates_and_a_single_makeup_day() -> None:
    notice = parse_notice_text(
        "year: 2027\nholidays:\n  - name: 端午节\n    date: '2027-06-09'\n"
        "  - name: 国庆节\n    from: 2027-10-01\n    to: 2027-10-07\n    makeup_workdays: 2027-10-09\n")
    days = notice.days
    assert not days[dt.date(2027, 6, 9)] and days[dt.date(2027, 10, 9)] and not days[dt.date(2027, 10, 7)]
    assert notice.holidays[1].makeup_workdays == (dt.date(2027, 10, 9),)
    # the other statutory days are not in this notice: each is named in a warning
    assert len(notice.warnings) == 9 and any("2027-02-05" in w and "春节" in w for w in notice.warnings)


BAD = """\
year: 2027
titel: 国务院办公厅关于2027年部分节假日安排的通知
holidays:
  - name: 元旦
    from: 2026-12-31
    to: 2027-01-01
  - name: 春节
    from: 2027-02-05
    to: 2027-02-11
    makeup_workdays: [2027-02-12, 2027-02-13, 2027-02-13, 2027-02-06]
  - name: 清明节
    dates: 2027-04-05
  - name: 劳动节
    from: 2027-05-05
    to: 2027-05-01
  - name: 端午节
    date: 2027-06-31
  - name: 中秋节
    date: 2027-09-15
    from: 2027-09-15
  - name: 国庆节
    from: 2027-10-01
    to: 2027-11-07
  - name: 元旦
    date: 2027-02-06
  - makeup_workdays: [2027-03-06]
    date: 2027-03-08
"""


def test_every_problem_at_once_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    with pytest.raises(InputError) as info:
        parse_notice(path)
    err = info.value
    assert err.exit_code == 2 and err.code == "notice_invalid"
    problems = err.details["problems"]
    lines = [int(p.split(":")[1]) for p in problems]
    expected = {
        2: "unknown key 'titel'",
        5: "2026-12-31 is not in 2027",
        10: ("2027-02-12 is a Fri", "2027-02-13 is listed twice", "2027-02-06 is both a holiday (春节)"),
        11: "date (or from/to) is missing",
        12: "unknown key 'dates'",
        15: "to 2027-05-01 is before from 2027-05-05",
        17: "'2027-06-31' is not a date",
        19: "either date or from/to",
        23: "38 days",
        24: "元旦 is listed twice",
        25: "2027-02-06 is a holiday twice",
        26: "give its name",
    }
    for line, fragments in expected.items():
        got = " ".join(p for p in problems if int(p.split(":")[1]) == line)
        for fragment in (fragments if isinstance(fragments, tuple) else (fragments,)):
            assert fragment in got, (line, fragment, problems)
    assert sorted(set(lines)) == sorted(expected) and lines == sorted(lines), problems
    assert len(problems) == 14
    assert "did you mean 'title'?" in err.message
    assert str(path) in err.message and "nothing imported" in err.message and "docs/calendar.md" in err.message
    assert err.template != err.message  # a template, formatted with its details


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "must be a mapping"),
    ("- 2027\n", "must be a mapping"),
    ("holidays:\n  - name: 元旦\n    date: 2027-01-01\n", "'year' is missing"),
    ("year: 2027\n", "'holidays' is missing"),
    ("year: 2027\nholidays: []\n", "give a list"),
    ("year: twenty\nholidays: [{name: a, date: 2027-01-01}]\n", "is not a year"),
    ("year: true\nholidays: [{name: a, date: 2027-01-01}]\n", "is not a year"),
    ("year: 2027\nholidays:\n  - 元旦\n", "each holiday is a mapping"),
    ("year: 2027\nholidays:\n  - name: 元旦\n", "date (or from/to) is missing"),
    ("year: 2027\nholidays:\n  - name: 元旦\n    from: 2027-01-01\n", "to is missing"),
    ("year: 2027\nholidays:\n  - name: 元旦\n    date: 2027-01-01 10:00:00\n", "is not a date"),
    ("year: 2027\nholidays:\n  - name: x\n    date: 2027-01-01\n    makeup_workdays: {a: 1}\n", "is not a date"),
    ("year: 2027\nholidays:\n  - name: " + "节" * 101 + "\n    date: 2027-01-01\n", "at most 100"),
    ("year: 2027\nholidays:\n  - name: \"春\\e[31m节\"\n    date: 2027-01-01\n", "invisible or control"),
    ("year: 2027\nholidays:\n  - name: \"春\\u202e节\"\n    date: 2027-01-01\n", "invisible or control"),
    ("year: 2027\nholidays:\n  - name: \"春\\u200b\"\n    date: 2027-01-01\n", "invisible or control"),
    ("? [[x]]\n: y\n", "YAML"),
    ("year: 2027\nyear: 2028\nholidays: []\n", "a key appears twice"),
    ("year: 2027\nholidays: [\n", "YAML"),
    ("year: 2027\nholidays: " + "[" * 5000 + "]" * 5000 + "\n", "nested 5000 deep"),
])
def test_refusals(text: str, fragment: str) -> None:
    with pytest.raises(InputError) as info:
        parse_notice_text(text, "n.yaml")
    assert fragment in info.value.message, info.value.message
    assert info.value.message.startswith("n.yaml: ")


def test_alias_bomb_is_refused() -> None:
    lines = ["year: 2027", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 8)]
    lines.append("holidays: [{name: a, date: 2027-01-01}]")
    with pytest.raises(InputError, match="more than 5000 values"):
        parse_notice_text("\n".join(lines))


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        parse_notice(tmp_path / "absent.yaml")
    with pytest.raises(InputError, match="is a folder"):
        parse_notice(tmp_path)
    bad = tmp_path / "gbk.yaml"
    bad.write_bytes("year: 2027\n# 元旦\n".encode("gbk"))
    with pytest.raises(InputError, match="gbk.yaml:2:1: the file is not UTF-8"):
        parse_notice(bad)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (64 * 1024 + 1))
    with pytest.raises(InputError, match="at most 65536"):
        parse_notice(big)


def test_a_bom_and_comments_with_brackets_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(("\ufeffyear: 2027  # [[[[[[[[[[\ntitle: '[[[[[[[[[[[['\n"
                      "holidays: [{name: 元旦, date: 2027-01-01}]\n").encode())
    assert parse_notice(path).days[dt.date(2027, 1, 1)] is False
