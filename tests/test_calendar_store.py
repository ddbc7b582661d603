"""The working calendar in the database (casecraft.store.calendar_repo) and `casecraft calendar`.

Every database test runs on SQLite and PostgreSQL through the ``db_url`` fixture.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from casecraft.base.duration import Duration
from casecraft.base.errors import CalendarError, InputError
from casecraft.store import calendar_repo as cr
from casecraft.store.repo import Store
from casecraft.timing import days
from casecraft.timing.calendar import DayRow, parse_periods
from casecraft.timing.notice import Notice, parse_notice
from tests.conftest import WORKFLOW, migrated, sandbox_db

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 9, 1, 8, 0, tzinfo=dt.UTC)
PERIODS = ["09:00-12:00", "13:30-17:30"]


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    migrated(db_url).close()  # the migrated, empty schema, copied from the session's template
    s = Store(db_url)
    try:
        yield s
    finally:
        s.dispose()


def write(tmp_path: Path, text: str, name: str = "days.csv", encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def all_rows(store: Store) -> dict[dt.date, DayRow]:
    return {r.day: r for y in (2025, 2026, 2027) for r in cr.year_rows(store, y)}


# --- seeding -----------------------------------------------------------------------


def test_seed_2026_knows_national_day_and_makeup_days(store: Store) -> None:
    assert cr.seed_calendar(store, [2026], NOW) == 365
    days = cr.calendar_days(store, dt.date(2026, 9, 1), dt.date(2026, 10, 31))
    assert len(days) == 61
    assert days[dt.date(2026, 9, 20)] is True  # Sunday, 调休
    assert days[dt.date(2026, 10, 10)] is True  # Saturday, 调休
    assert all(days[dt.date(2026, 10, d)] is False for d in range(1, 8))
    assert days[dt.date(2026, 10, 9)] is True
    rows = {r.day: r for r in cr.year_rows(store, 2026)}
    assert len(rows) == 365 and list(rows) == sorted(rows)
    assert rows[dt.date(2026, 10, 1)] == DayRow(dt.date(2026, 10, 1), False, "chinesecalendar", "National Day")
    assert rows[dt.date(2026, 9, 20)].note == "调休"
    assert rows[dt.date(2026, 3, 3)].note == ""


def test_seed_twice_inserts_nothing_the_second_time(store: Store) -> None:
    assert cr.seed_calendar(store, [2025, 2026], NOW) == 365 * 2
    assert cr.seed_calendar(store, [2025, 2026], NOW) == 0
    assert cr.seed_calendar(store, [2025, 2026, 2003], NOW) == 0  # 2003: neither package nor provisional
    # 2027 is not in the package: its provisional calendar is stored
    assert cr.seed_calendar(store, [2026, 2027], NOW) == 365
    assert cr.seed_calendar(store, [2026, 2027], NOW) == 0
    assert len(cr.calendar_days(store, dt.date(2025, 1, 1), dt.date(2027, 12, 31))) == 365 * 3
    assert {r.source for r in cr.year_rows(store, 2027)} == {"provisional"}


def test_seed_every_year(store: Store) -> None:
    # (its speed is a benchmark's business, never a timed unit test)
    inserted = cr.seed_calendar(store, range(2004, 2027), NOW)
    assert inserted == (dt.date(2027, 1, 1) - dt.date(2004, 1, 1)).days
    # None: every year the package covers, then the provisional years up to the year after NOW
    assert cr.provisional_seed_years(NOW) == range(2027, 2028)
    assert cr.seed_calendar(store, None, NOW) == 365
    assert cr.seed_calendar(store, None, NOW) == 0
    assert cr.seed_years().start == 2004


def test_set_day_survives_reseed(store: Store) -> None:
    row = cr.set_day(store, dt.date(2025, 10, 8), True, "  值班  ", NOW)
    assert row == DayRow(dt.date(2025, 10, 8), True, "admin", "值班")
    assert cr.seed_calendar(store, [2025], NOW) == 364
    cr.seed_calendar(store, [2025], NOW)
    rows = all_rows(store)
    assert rows[dt.date(2025, 10, 8)] == DayRow(dt.date(2025, 10, 8), True, "admin", "值班")
    assert rows[dt.date(2025, 10, 7)].workday is False

    # set_day replaces a seeded row, and a later seed keeps the replacement
    cr.set_day(store, dt.date(2025, 12, 31), False, None, NOW)
    cr.seed_calendar(store, [2025], NOW)
    assert all_rows(store)[dt.date(2025, 12, 31)] == DayRow(dt.date(2025, 12, 31), False, "admin", "")


def test_set_day_refuses_an_overlong_note(store: Store) -> None:
    with pytest.raises(InputError, match="at most 100"):
        cr.set_day(store, dt.date(2026, 1, 1), False, "x" * 101, NOW)
    assert all_rows(store) == {}


# --- import --------------------------------------------------------------------------


def test_import_refuses_a_bad_file_whole_and_lists_every_bad_row(store: Store, tmp_path: Path) -> None:
    cr.seed_calendar(store, [2026], NOW)
    before = all_rows(store)
    path = write(tmp_path, (
        "date,status,note\n"
        "2027-01-01,holiday,元旦\n"          # row 2: good
        "2027-02-30,holiday,\n"              # row 3: no such date
        "2027/02/01,workday\n"               # row 4: wrong date format
        "2027-02-06,maybe\n"                 # row 5: bad status
        "2027-01-01,workday\n"               # row 6: duplicate of row 2
        "2027-02-07\n"                       # row 7: no status
        f"2027-02-08,工作日,{'长' * 101}\n"   # row 8: note too long
        "2027-02-09,holiday,a,b\n"           # row 9: too many fields
        "2026-10-01,workday\n"               # row 10: good, would overwrite a seeded row
    ))
    with pytest.raises(InputError) as info:
        cr.import_days(store, path, NOW)
    err = info.value
    assert err.exit_code == 2
    got = [(p["row"], p["field"]) for p in err.details["problems"]]
    assert got == [(3, "date"), (4, "date"), (5, "status"), (6, "date"), (7, "status"), (8, "note"), (9, "row")]
    for row in (3, 4, 5, 6, 7, 8, 9):
        assert f"row {row}, " in err.message
    assert "also on row 2" in err.message
    assert "nothing imported" in err.message
    assert all_rows(store) == before  # nothing written, not even the good rows


@pytest.mark.parametrize(("text", "field", "reason"), [
    ("", "header", "empty"),
    ("day,kind\n2027-01-01,holiday\n", "header", "date,status"),
    ("date,status\n\n", "file", "no dates"),
])
def test_import_refuses_files_without_rows(store: Store, tmp_path: Path, text: str, field: str,
                                           reason: str) -> None:
    with pytest.raises(InputError, match=reason) as info:
        cr.import_days(store, write(tmp_path, text), NOW)
    assert info.value.details["problems"][0]["field"] == field


def test_import_refuses_unreadable_files(store: Store, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        cr.import_days(store, tmp_path / "absent.csv", NOW)
    with pytest.raises(InputError, match="UTF-8"):
        cr.import_days(store, write(tmp_path, "date,status,note\n2027-01-01,节假日,元旦\n", encoding="gbk"), NOW)
    assert all_rows(store) == {}


def test_import_good_file(store: Store, tmp_path: Path) -> None:
    cr.seed_calendar(store, [2026], NOW)
    cr.set_day(store, dt.date(2026, 12, 31), True, None, NOW)
    path = write(tmp_path, (
        "\ufeffDate, Status ,Note\r\n"
        "2027-01-01,holiday,元旦\r\n"
        "2027-01-02, 休息日 ,\r\n"
        "\r\n"
        "2027-01-04,工作日\r\n"
        "2027-01-05,WORKDAY,\"note, with a comma\"\r\n"
        "2027-01-09,节假日,\r\n"
        "2026-10-10,holiday,no make-up day after all\r\n"
        "2026-12-31,holiday,\r\n"
    ))
    assert cr.import_days(store, path, NOW) == 7
    rows = all_rows(store)
    assert rows[dt.date(2027, 1, 1)] == DayRow(dt.date(2027, 1, 1), False, "import", "元旦")
    assert rows[dt.date(2027, 1, 2)] == DayRow(dt.date(2027, 1, 2), False, "import", "")
    assert rows[dt.date(2027, 1, 4)].workday is True
    assert rows[dt.date(2027, 1, 5)] == DayRow(dt.date(2027, 1, 5), True, "import", "note, with a comma")
    assert rows[dt.date(2027, 1, 9)].workday is False
    assert rows[dt.date(2026, 10, 10)] == DayRow(dt.date(2026, 10, 10), False, "import", "no make-up day after all")
    assert rows[dt.date(2026, 12, 31)] == DayRow(dt.date(2026, 12, 31), False, "import", "")
    assert len(cr.year_rows(store, 2027)) == 5
    # seeding again keeps the imported rows
    assert cr.seed_calendar(store, [2026], NOW) == 0
    assert all_rows(store)[dt.date(2026, 10, 10)].source == "import"


def test_import_two_column_file(store: Store, tmp_path: Path) -> None:
    assert cr.import_days(store, write(tmp_path, "date,status\n2027-03-01,workday\n"), NOW) == 1
    assert cr.calendar_days(store, dt.date(2027, 3, 1), dt.date(2027, 3, 1)) == {dt.date(2027, 3, 1): True}


def test_parse_status_and_day() -> None:
    assert days.parse_status("workday") is True and days.parse_status(" 工作日 ") is True
    assert days.parse_status("Holiday") is False and days.parse_status("休息日") is False
    assert days.parse_status("节假日") is False
    with pytest.raises(InputError, match="workday or holiday"):
        days.parse_status("weekend")
    assert days.parse_day("2026-10-01") == dt.date(2026, 10, 1)
    for bad in ("2026-1-1", "20261001", "2026-02-29", "tomorrow"):
        with pytest.raises(InputError, match="YYYY-MM-DD"):
            days.parse_day(bad)


# --- the working calendar from the database ----------------------------------------------


def test_load_working_calendar_computes_a_deadline_across_national_day(store: Store) -> None:
    cr.seed_calendar(store, [2026], NOW)
    cal = cr.load_working_calendar(store, "Asia/Shanghai", PERIODS)
    assert len(cal.days) == 365
    start = dt.datetime(2026, 9, 30, 16, 30, tzinfo=SH)  # Wednesday, the last workday before the holiday
    # 1 hour left on Sep 30, then nothing until Thursday Oct 8
    assert cal.add(start, Duration(2, "hour", True)) == dt.datetime(2026, 10, 8, 10, 0, tzinfo=SH)
    # working days: Oct 8, Oct 9, then Saturday Oct 10 (调休)
    assert cal.add(dt.datetime(2026, 9, 30, 10, 0, tzinfo=SH), Duration(3, "day", True)) == \
        dt.datetime(2026, 10, 10, 10, 0, tzinfo=SH)
    # an admin change is seen by the next load
    cr.set_day(store, dt.date(2026, 10, 8), False, "extra day off", NOW)
    cal = cr.load_working_calendar(store, "Asia/Shanghai", PERIODS)
    assert cal.add(start, Duration(2, "hour", True)) == dt.datetime(2026, 10, 9, 10, 0, tzinfo=SH)
    # 2027 is not in the table: the provisional rule answers (1 Jan is 元旦, then a weekend), marked so
    end = cal.add(dt.datetime(2026, 12, 31, 17, 0, tzinfo=SH), Duration(1, "hour", True))
    assert end == dt.datetime(2027, 1, 4, 9, 30, tzinfo=SH)
    assert cal.crosses_provisional(dt.datetime(2026, 12, 31, 17, 0, tzinfo=SH), end)
    assert not cal.crosses_provisional(start, dt.datetime(2026, 10, 9, 10, 0, tzinfo=SH))
    with pytest.raises(CalendarError, match="import the year.s arrangement"):
        cal.add(dt.datetime(2024, 12, 31, 17, 0, tzinfo=SH), Duration(1, "hour", True))


def test_load_working_calendar_refuses_bad_periods(store: Store) -> None:
    with pytest.raises(InputError, match="HH:MM-HH:MM"):
        cr.load_working_calendar(store, "Asia/Shanghai", ["9 to 5"])


# --- the provisional calendar and the official notice ---------------------------------------

SAMPLE_2026 = Path(__file__).resolve().parents[1] / "samples" / "holidays-2026.yaml"
NOTICE_2027 = """\
year: 2027
holidays:
  - name: 元旦
    from: 2027-01-01
    to: 2027-01-03
  - name: 春节
    from: 2027-02-05
    to: 2027-02-11
    makeup_workdays: [2027-02-13, 2027-02-20]
  - name: 清明节
    from: 2027-04-03
    to: 2027-04-05
  - name: 劳动节
    from: 2027-05-01
    to: 2027-05-05
    makeup_workdays: 2027-05-08
  - name: 端午节
    date: 2027-06-09
  - name: 中秋节
    date: 2027-09-15
  - name: 国庆节
    from: 2027-10-01
    to: 2027-10-07
    makeup_workdays: [2027-09-26, 2027-10-09]
"""
# What this (invented) arrangement changes against the provisional 2027: the weekdays given in lieu
# (Feb 9-11, May 3-5, Oct 4-7) become rest days and the make-up weekends (Feb 13, Feb 20, May 8,
# Sep 26, Oct 9) workdays. Feb 5, 8 and Oct 1 were already statutory days off.
CHANGED_2027 = sorted([dt.date(2027, 2, d) for d in (9, 10, 11, 13, 20)] + [dt.date(2027, 5, d) for d in (3, 4, 5, 8)]
                      + [dt.date(2027, 9, 26)] + [dt.date(2027, 10, d) for d in (4, 5, 6, 7, 9)])


def notice_2027(tmp_path: Path) -> Notice:
    return parse_notice(write(tmp_path, NOTICE_2027, "holidays-2027.yaml"))


def test_seed_stores_next_year_provisional_and_marks_it(store: Store) -> None:
    assert cr.seed_calendar(store, None, NOW) == (dt.date(2028, 1, 1) - dt.date(2004, 1, 1)).days
    rows = {r.day: r for r in cr.year_rows(store, 2027)}
    assert len(rows) == 365 and {r.source for r in rows.values()} == {"provisional"}
    assert rows[dt.date(2027, 2, 5)] == DayRow(dt.date(2027, 2, 5), False, "provisional", "春节")  # the Eve
    assert rows[dt.date(2027, 9, 15)].note == "中秋节" and not rows[dt.date(2027, 9, 15)].workday
    assert rows[dt.date(2027, 2, 9)].workday  # no 调休 guessed
    # a year later seeding adds 2028; 2027 stays as stored
    later = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
    assert cr.seed_calendar(store, None, later) == 366
    assert {r.source for r in cr.year_rows(store, 2028)} == {"provisional"}
    cal = cr.load_working_calendar(store, "Asia/Shanghai", PERIODS, since=dt.date(2026, 1, 1))
    assert min(cal.days) == dt.date(2026, 1, 1) and len(cal.days) == 365 + 365 + 366
    assert cal.is_provisional(dt.date(2027, 2, 9)) and cal.is_provisional(dt.date(2028, 12, 31))
    assert not cal.is_provisional(dt.date(2026, 12, 31))


def test_seed_never_overwrites_admin_import_or_notice_rows(store: Store, tmp_path: Path) -> None:
    cr.set_day(store, dt.date(2027, 2, 9), False, "春节调休", NOW)
    cr.import_days(store, write(tmp_path, "date,status\n2027-02-13,workday\n"), NOW)
    assert cr.seed_calendar(store, [2027], NOW) == 363
    rows = {r.day: r for r in cr.year_rows(store, 2027)}
    assert rows[dt.date(2027, 2, 9)] == DayRow(dt.date(2027, 2, 9), False, "admin", "春节调休")
    assert rows[dt.date(2027, 2, 13)] == DayRow(dt.date(2027, 2, 13), True, "import", "")
    cal = cr.load_working_calendar(store, "Asia/Shanghai", PERIODS)
    assert not cal.is_provisional(dt.date(2027, 2, 9)) and cal.is_provisional(dt.date(2027, 2, 8))


def test_import_notice_replaces_the_provisional_year_and_returns_the_changed_dates(
        store: Store, tmp_path: Path) -> None:
    cr.seed_calendar(store, [2026, 2027], NOW)
    notice = notice_2027(tmp_path)
    assert cr.import_notice(store, notice, NOW) == CHANGED_2027
    rows = {r.day: r for r in cr.year_rows(store, 2027)}
    assert len(rows) == 365 and {r.source for r in rows.values()} == {"notice"}
    assert rows[dt.date(2027, 2, 13)] == DayRow(dt.date(2027, 2, 13), True, "notice", "调休")
    assert rows[dt.date(2027, 2, 11)] == DayRow(dt.date(2027, 2, 11), False, "notice", "春节")
    assert rows[dt.date(2027, 3, 1)] == DayRow(dt.date(2027, 3, 1), True, "notice", "")
    cal = cr.load_working_calendar(store, "Asia/Shanghai", PERIODS)
    assert not cal.is_provisional(dt.date(2027, 2, 13)) and not cal.crosses_provisional(
        dt.date(2027, 1, 1), dt.date(2027, 12, 31))
    # the official days count: from Thursday Feb 4, the working days are Feb 12, Saturday Feb 13 (调休), Feb 15
    start = dt.datetime(2027, 2, 4, 10, 0, tzinfo=SH)
    assert cal.add(start, Duration(1, "day", True)) == dt.datetime(2027, 2, 12, 10, 0, tzinfo=SH)
    assert cal.add(start, Duration(2, "day", True)) == dt.datetime(2027, 2, 13, 10, 0, tzinfo=SH)
    assert cal.add(start, Duration(3, "day", True)) == dt.datetime(2027, 2, 15, 10, 0, tzinfo=SH)
    assert cr.import_notice(store, notice, NOW) == []  # the same notice again changes nothing


def test_import_notice_keeps_admin_rows_and_lists_those_that_disagree(store: Store, tmp_path: Path) -> None:
    cr.seed_calendar(store, [2027], NOW)
    cr.set_day(store, dt.date(2027, 2, 13), False, "街道自定", NOW)    # the notice makes it a workday
    cr.set_day(store, dt.date(2027, 2, 10), False, "guessed", NOW)    # agrees with the notice
    cr.import_days(store, write(tmp_path, "date,status\n2027-05-03,workday\n"), NOW)  # CSV: replaced
    notice = notice_2027(tmp_path)
    changed = cr.import_notice(store, notice, NOW)
    assert changed == [d for d in CHANGED_2027 if d not in (dt.date(2027, 2, 13), dt.date(2027, 2, 10))]
    rows = {r.day: r for r in cr.year_rows(store, 2027)}
    assert rows[dt.date(2027, 2, 13)] == DayRow(dt.date(2027, 2, 13), False, "admin", "街道自定")
    assert rows[dt.date(2027, 2, 10)].source == "admin"
    assert rows[dt.date(2027, 5, 3)] == DayRow(dt.date(2027, 5, 3), False, "notice", "劳动节")
    assert cr.notice_conflicts(store, notice) == [rows[dt.date(2027, 2, 13)]]


def test_import_notice_into_an_empty_year_compares_with_the_provisional_rule(store: Store, tmp_path: Path) -> None:
    # deadlines of a year the table lacks were computed from the provisional rule: only differences count
    assert cr.import_notice(store, notice_2027(tmp_path), NOW) == CHANGED_2027
    assert len(cr.year_rows(store, 2027)) == 365


def test_the_2026_notice_over_chinesecalendar_changes_nothing(store: Store) -> None:
    cr.seed_calendar(store, [2026], NOW)
    before = {r.day: (r.workday, r.note) for r in cr.year_rows(store, 2026)}
    assert cr.import_notice(store, parse_notice(SAMPLE_2026), NOW) == []
    after = cr.year_rows(store, 2026)
    assert {r.source for r in after} == {"notice"}
    assert {r.day: r.workday for r in after} == {d: w for d, (w, _) in before.items()}
    assert {r.day: r.note for r in after if r.note == "调休"} == {d: n for d, (_, n) in before.items() if n == "调休"}


def test_apply_notice_is_part_of_the_callers_transaction(store: Store, tmp_path: Path) -> None:
    cr.seed_calendar(store, [2027], NOW)
    before = all_rows(store)
    notice = notice_2027(tmp_path)
    with pytest.raises(RuntimeError), store.write() as tx:
        assert cr.apply_notice(tx.conn, notice, NOW) == CHANGED_2027
        raise RuntimeError("a deadline could not be recomputed")
    assert all_rows(store) == before
    with store.write() as tx:
        assert cr.apply_notice(tx.conn, notice, NOW) == CHANGED_2027
        # the calendar read in the same transaction already has the notice (to recompute deadlines with)
        cal = cr.read_working_calendar(tx.conn, "Asia/Shanghai", parse_periods(PERIODS), since=dt.date(2027, 1, 1))
        assert cal.is_workday(dt.date(2027, 2, 13)) and not cal.is_provisional(dt.date(2027, 2, 13))
        assert len(cal.days) == 365
    assert {r.source for r in cr.year_rows(store, 2027)} == {"notice"}


# --- `casecraft calendar` ---------------------------------------------------------------


def cli(db_url: str, *args: str) -> object:
    from casecraft.cli.main import app

    runner = CliRunner()
    if db_url not in _SANDBOXES:  # the calendar is administered: these run on a sandbox database
        sandbox_db(db_url, None)
        _SANDBOXES.add(db_url)
    return runner.invoke(app, ["--db", db_url, "--workflow", str(WORKFLOW), "calendar", *args])


_SANDBOXES: set[str] = set()


def test_cli_seed_and_show(db_url: str) -> None:
    r = cli(db_url, "seed", "--year", "2026")
    assert r.exit_code == 0, r.output
    assert "added 0 date(s)" in r.stdout  # `init` seeded the calendar already; seeding never overwrites
    r = cli(db_url, "show", "2026")
    assert r.exit_code == 0, r.output
    assert "国庆" in r.stdout or "National Day" in r.stdout
    assert "调休" in r.stdout
    assert "248 workdays" in r.stdout

    r = cli(db_url, "show", "2026", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["workdays"] == 248 and data["missing_count"] == 0
    national = [h for h in data["holidays"] if "National Day" in h["names"]]
    assert national == [{"names": ["National Day"], "from": "2026-10-01", "to": "2026-10-07", "days": 7,
                         "sources": ["chinesecalendar"]}]
    assert {"date": "2026-10-10", "weekday": "Sat", "note": "调休", "source": "chinesecalendar"} \
        in data["makeup_workdays"]


def test_cli_show_missing_year_then_set(db_url: str) -> None:
    # a year neither chinesecalendar nor the provisional rules (from 2025) cover
    r = cli(db_url, "show", "2003")
    assert r.exit_code == 1, r.output
    assert "no working calendar for 2003" in r.stderr
    assert "casecraft calendar import FILE" in r.stderr
    assert "casecraft calendar set DATE workday|holiday" in r.stderr

    r = cli(db_url, "set", "2003-01-01", "holiday", "--note", "元旦")
    assert r.exit_code == 0, r.output
    assert "2003-01-01" in r.stdout and "holiday" in r.stdout
    r = cli(db_url, "show", "2003")
    assert r.exit_code == 0, r.output
    assert "元旦" in r.stdout
    assert "364 date(s) missing" in r.stdout

    r = cli(db_url, "set", "2027-02-30", "holiday")
    assert r.exit_code == 2 and "YYYY-MM-DD" in r.stderr
    r = cli(db_url, "set", "2027-01-02", "weekend")
    assert r.exit_code == 2 and "workday or holiday" in r.stderr


def test_cli_import(db_url: str, tmp_path: Path) -> None:
    bad = write(tmp_path, "date,status\n2027-01-01,holiday\n2027-01-32,holiday\n2027-01-03,nope\n", "bad.csv")
    r = cli(db_url, "import", str(bad))
    assert r.exit_code == 2, r.output
    assert "row 3, date" in r.stderr and "row 4, status" in r.stderr
    r = cli(db_url, "show", "2027", "--json")
    assert '"source": "import"' not in r.stdout  # nothing was imported (2027 is still the provisional year)

    good = write(tmp_path, "date,status,note\n2027-01-01,节假日,元旦\n2027-01-04,工作日,\n", "good.csv")
    r = cli(db_url, "import", str(good))
    assert r.exit_code == 0, r.output
    assert "imported" in r.stdout and "2 date(s)" in r.stdout
    r = cli(db_url, "show", "2027", "--json")
    assert r.exit_code == 0
    assert '"source": "import"' in r.stdout
