"""Evaluation details: periods in Beijing time, scoring rules, zero denominators, empty units, midnight boundaries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casecraft import CalendarError, Engine, FixedClock, InputError
from casecraft.evaluation import monthly_report
from casecraft.evaluation.period import month_period, parse_month, previous_month
from casecraft.evaluation.scoring import (
    DEFAULT_SCHEME,
    IndicatorSpec,
    composite,
    figures,
    grade_for,
    indicator_score,
    ranks,
    scheme_from,
)
from tests.conftest import WORKFLOW, bj, sandbox

G5, G11 = "110106004005005", "110106004001001"
STREET = "110106004"
TZ = "Asia/Shanghai"


# periods ---------------------------------------------------------------------------------------------------
def test_month_bounds_are_beijing_midnights() -> None:
    p = month_period("2026-11", TZ, bj(2, "12:00", month=12))
    assert p.start == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # Nov 1 00:00 +08:00
    assert p.end == p.month_end == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert p.complete and p.key == "monthly:2026-11"
    assert (p.first_day.isoformat(), p.day_end.isoformat()) == ("2026-11-01", "2026-12-01")
    assert p.previous().month == "2026-10" and p.previous().complete
    assert month_period("2027-01", TZ, bj(2, "12:00", month=12, year=2027)).previous().month == "2026-12"

    running = month_period("2026-11", TZ, bj(11, "12:00"))
    assert running.end == bj(11, "12:00") and not running.complete
    assert running.day_end.isoformat() == "2026-11-11"  # the 11th is not over: days 1-10 count
    at_midnight = month_period("2026-11", TZ, bj(11, "00:00"))
    assert at_midnight.day_end.isoformat() == "2026-11-11"

    # 2026-11-30 23:30 Beijing is still November, though it is 15:30 UTC
    assert previous_month(bj(1, "00:30", month=12), TZ) == "2026-11"
    assert previous_month(bj(30, "23:30"), TZ) == "2026-10"


@pytest.mark.parametrize(("bad", "says"), [
    ("2026-13", "YYYY-MM with a month from 01 to 12, e.g. 2026-11"), ("2026-00", "01 to 12"),
    ("0000-01", "from 1900-01 on"), ("1899-12", "from 1900-01 on"), ("26-11", "type it as YYYY-MM, e.g. 2026-11"),
    ("2026/11", "YYYY-MM"), ("", "YYYY-MM"), ("november", "YYYY-MM"), ("10000-01", "YYYY-MM"),
    ("2026-11-01", "YYYY-MM")])
def test_bad_month(bad: str, says: str) -> None:
    with pytest.raises(InputError, match=says) as err:
        month_period(bad, TZ, bj(2, "12:00"))
    assert err.value.details["month"] == bad and err.value.exit_code == 2


@pytest.mark.parametrize("future", ["2026-12", "2027-01", "9999-11", "9999-12"])
def test_a_month_not_started_says_the_latest_month(future: str) -> None:
    with pytest.raises(InputError, match=r"has not started yet .*give a month up to 2026-11, as YYYY-MM"):
        month_period(future, TZ, bj(30, "23:59"))


def test_at_midnight_on_the_first_the_month_has_begun_with_an_empty_window() -> None:
    """QA, 2026-12-01: at 00:00 on the 1st the default month was "2026-12 has not started yet ... give a month up
    to 2026-12"."""
    start = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 2026-12-01 00:00 in Beijing
    p = month_period("2026-12", TZ, start)
    assert p.start == start and p.end == start
    with pytest.raises(InputError, match="has not started yet"):
        month_period("2026-12", TZ, start - timedelta(seconds=1))


def test_the_last_months_a_date_can_hold() -> None:
    at = datetime(9999, 12, 31, 0, 0, tzinfo=UTC)
    assert month_period("9999-11", TZ, at).month_end == datetime(9999, 11, 30, 16, 0, tzinfo=UTC)
    with pytest.raises(InputError, match="too late: give a month up to 9999-11"):
        month_period("9999-12", TZ, at)  # its end, 10000-01-01, is no date
    with pytest.raises(InputError, match="too late"):
        parse_month("9999-12")
    assert month_period("1900-02", TZ, bj(2, "12:00")).previous().month == "1900-01"
    assert month_period("1900-01", TZ, bj(2, "12:00")).previous().month == "1899-12"  # the change column's month


# scoring ---------------------------------------------------------------------------------------------------
RATE = IndicatorSpec("closure_rate", "结案率", 25)
LOWER = IndicatorSpec("public_report_rate", "公众举报率", 15, "lower")
COUNT = IndicatorSpec("registered", "立案数", 10)


def test_zero_denominator_is_none_not_zero_or_hundred() -> None:
    figs = figures({})
    assert figs["closure_rate"] == {"num": 0, "den": 0, "value": None}
    assert figs["registered"] == {"num": 0, "den": None, "value": 0}
    assert indicator_score(RATE, None, None) is None
    # only the scorable indicators count, with their own weights
    figs = figures({"closed": 3, "due": 4, "registered": 0})
    assert composite([RATE, LOWER], figs, {}) == 75.0  # 公众举报率 0/0 is left out
    assert composite([RATE, LOWER, COUNT], figures({}), {"registered": 0}) is None


def test_lower_is_better_and_counts_relative_to_the_group() -> None:
    assert indicator_score(LOWER, 0.25, None) == 75.0
    assert indicator_score(COUNT, 4, 12) == pytest.approx(100 / 3)
    assert indicator_score(COUNT, 0, 0) is None
    lower_count = IndicatorSpec("registered", "立案数", 10, "lower")
    assert indicator_score(lower_count, 3, 12) == 75.0


def test_grade_bands_and_ties() -> None:
    grades = DEFAULT_SCHEME.grades
    assert [grade_for(s, grades) for s in (100, 90, 89.99, 75, 74.99, 60, 40, 39.99, 0, None)] == [
        "A", "A", "B", "B", "C", "C", "D", "E", "E", None]
    assert ranks([("a", 80.0), ("b", 90.0), ("c", 80.0), ("d", 70.0), ("e", None)]) == {
        "b": 1, "a": 2, "c": 2, "d": 4}


def test_scheme_comes_from_the_workflow() -> None:
    from casecraft.workflows.loader import load_workflow

    scheme = scheme_from(load_workflow(WORKFLOW).file.evaluation)
    assert [(i.id, i.weight, i.direction) for i in scheme.levels["street"]] == [
        ("registered", 10, "higher"), ("public_report_rate", 15, "lower"), ("grassroots_rate", 25, "higher"),
        ("closure_rate", 25, "higher"), ("ontime_rate", 25, "higher")]
    assert scheme.levels["community"] == scheme.levels["street"]
    assert sum(i.weight for i in scheme.levels["grid"]) == 100
    assert scheme.grades == DEFAULT_SCHEME.grades


counts = st.integers(min_value=0, max_value=10_000)


@given(st.fixed_dictionaries({k: counts for k in ("registered", "public", "due", "closed", "grassroots", "ontime",
                                                   "reports", "valid", "own_registered", "self_handled",
                                                   "log_days", "log_workdays", "verify_due", "verify_met",
                                                   "check_due", "check_met")}))
def test_rates_and_scores_stay_in_range(c: dict[str, int]) -> None:
    # make the counts consistent: a numerator never exceeds its denominator
    for num, den in (("public", "registered"), ("closed", "due"), ("grassroots", "closed"), ("ontime", "closed"),
                     ("valid", "reports"), ("self_handled", "own_registered"), ("log_days", "log_workdays"),
                     ("verify_met", "verify_due"), ("check_met", "check_due")):
        c[num] = min(c[num], c[den])
    figs = figures(c)
    for key, f in figs.items():
        if f["den"] is not None:
            assert f["value"] is None if f["den"] == 0 else 0 <= f["value"] <= 1, key
    assert figs["ontime_rate"]["num"] <= figs["closure_rate"]["num"]
    for level in ("street", "grid"):
        score = composite(DEFAULT_SCHEME.levels[level], figs, {"registered": max(c["registered"], 1)})
        assert score is None or 0 <= score <= 100


# against the database --------------------------------------------------------------------------------------
@pytest.fixture
def engine(db_url: str) -> Iterator[tuple[Engine, FixedClock]]:
    clock = FixedClock(bj(30, "08:00", month=10))
    eng = sandbox(db_url, clock)
    yield eng, clock
    eng.close()


def _patrol(eng: Engine, clock: FixedClock, at: datetime) -> None:
    clock.set(at)
    eng.report(source="patrol", grid=G5, category="0102", desc="边界", actor="wangjg")


def test_month_boundaries_at_midnight_beijing(engine: tuple[Engine, FixedClock]) -> None:
    eng, clock = engine
    from datetime import timedelta

    _patrol(eng, clock, bj(31, "23:59", month=10))                   # October (15:59 UTC Oct 31)
    _patrol(eng, clock, bj(1, "00:00"))                              # November (16:00 UTC Oct 31)
    _patrol(eng, clock, bj(30, "23:59") + timedelta(seconds=59))     # November (15:59:59 UTC Nov 30)
    _patrol(eng, clock, bj(1, "00:00", month=12))                    # December
    clock.set(bj(30, "23:59"))
    eng.add_log(grid=G5, actor="wangjg", text="月末夜间走访")       # Mon Nov 30 (15:59 UTC): November
    clock.set(bj(1, "00:00", month=12))
    eng.add_log(grid=G5, actor="wangjg", text="十二月第一条")
    clock.set(bj(2, "12:00", month=12))

    def g5(month: str) -> dict[str, tuple[int, int | None]]:
        row = next(r for r in monthly_report(eng, month, "grid").rows if r.unit == G5)
        return {k: (v["num"], v["den"]) for k, v in row.figures.items()}

    assert g5("2026-10")["registered"] == (1, None)
    assert g5("2026-11")["registered"] == (2, None)
    assert g5("2026-12")["registered"] == (1, None)
    assert g5("2026-11")["log_rate"] == (1, 21)
    assert g5("2026-12")["log_rate"] == (1, 1)  # Dec 1 is the only whole day of December so far


def test_empty_units_and_a_month_without_working_days(engine: tuple[Engine, FixedClock]) -> None:
    eng, clock = engine
    clock.set(bj(2, "12:00", month=12))
    streets = monthly_report(eng, "2026-11", "street").rows
    assert [(r.unit, r.figures["registered"]["value"], r.figures["closure_rate"]["value"], r.score, r.grade, r.rank)
            for r in streets] == [(STREET, 0, None, None, None, None)]  # nothing to score: unranked
    grids = monthly_report(eng, "2026-11", "grid").rows
    assert {(r.score, r.grade, r.rank) for r in grids} == {(0.0, "E", 1)}  # no log on 21 working days: all tie
    # Oct 1-5, 2026 are National Day holidays: on Oct 6 no working day has passed, so the log rate is "—"
    clock.set(bj(6, "08:00", month=10))
    early = monthly_report(eng, "2026-10", "grid")
    assert early.workdays == 0
    assert {(r.figures["log_rate"]["den"], r.figures["log_rate"]["value"], r.score, r.rank) for r in early.rows} == {
        (0, None, None, None)}


def test_unknown_level_org_and_missing_calendar(engine: tuple[Engine, FixedClock]) -> None:
    eng, clock = engine
    clock.set(bj(2, "12:00", month=12))
    with pytest.raises(InputError, match="unknown level"):
        monthly_report(eng, "2026-11", "district")
    with pytest.raises(InputError, match="unknown unit"):
        monthly_report(eng, "2026-11", "grid", org="nope")
    # a month of a year no calendar covers (before chinesecalendar's data and the 2025 holiday rules);
    # 2027 and later are never missing: the provisional calendar covers them (issue 13)
    clock.set(datetime(2003, 2, 2, 4, 0, tzinfo=UTC))
    with pytest.raises(CalendarError, match="import the year's arrangement"):
        monthly_report(eng, "2003-01", "grid")


def test_a_parked_case_is_not_due_by_its_stopped_limit(engine: tuple[Engine, FixedClock]) -> None:
    eng, clock = engine
    _patrol(eng, clock, bj(3, "10:00"))  # limit Nov 4 10:00
    clock.set(bj(3, "15:00"))
    eng.park(1, actor="fengzr", note="需区级协调，暂挂账")
    clock.set(bj(2, "12:00", month=12))
    g5 = next(r for r in monthly_report(eng, "2026-11", "grid").rows if r.unit == G5)
    street = monthly_report(eng, "2026-11", "street").rows[0]
    assert (g5.figures["registered"]["value"], street.figures["closure_rate"]["den"]) == (1, 0)

