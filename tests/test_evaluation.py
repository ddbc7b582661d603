"""The monthly evaluation on a constructed month, every indicator against values computed by hand.

The month is built in tests/evaluation_month.py through the public Engine API
(report, fire, extend, sweep, and the 民情日志) on SQLite and PostgreSQL. The
comments there say what each case contributes; the sums are worked out below.
Scoring follows workflows.yaml: grids 5 × 20 %; streets and communities 立案数
10 (relative to the group's highest), 公众举报率 15 (lower is better), 基层处置率,
结案率 and 按期结案率 25 each; grades A ≥ 90, B ≥ 75, C ≥ 60, D ≥ 40, E below.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from casecraft import Engine, FixedClock, InputError
from casecraft.evaluation import case_stats, history, monthly_report, record_due, record_month
from tests.conftest import WORKFLOW, bj
from tests.evaluation_month import COMM_D, COMM_E, DISTRICT, G5, G11, G12, G51, STREET, built


@pytest.fixture
def month(db_url: str) -> Iterator[tuple[Engine, FixedClock, dict[str, int]]]:
    ids, now = built(db_url)  # the clock ends at Dec 2 12:00
    clock = FixedClock(now)
    eng = Engine(db_url, WORKFLOW, clock)
    yield eng, clock, ids
    eng.close()


def fractions(row: Any) -> dict[str, tuple[int, int | None]]:
    return {k: (v["num"], v["den"]) for k, v in row.figures.items()}


def by_unit(report: Any) -> dict[str, Any]:
    return {r.unit: r for r in report.rows}


# Per grid, what the cases of tests/evaluation_month.py add up to (November, Beijing time):
#
#             立案 公众 应结案 结案 基层 按期 | 上报 有效 本网格立案 自处置 | 应核实 按时 | 应核查 按时 | 日志天
# G5  (005005)  7    2     7     7    7    4 |   8    7      7        5   |   3     2  |   8     6  |  6/21
#   立案 C1 C2 C3 C5 C6 C7 C8; 公众 C3 C5; 应结案 = 结案 = C0 C1 C2 C3 C5 C6 C7 (C0 from October, C8's limit is
#   in December); 按期 C0 C1 C2 C3 (C5 C6 C7 late); 上报 C1-C8, valid all but the rejected C4; 自处置 C1 C2 C3 C6
#   C7 (C5 was solved by the community, C8 closed in December); 核实 C3 C4 in time, C5 late; 核查 C0 C1 C2 C3 C6
#   C7's failed first check in time, C5 and C7's second check late. Logs Nov 2 3 4 5 9 30 (Sat 7th not a
#   working day, the 9th twice, Dec 1 another month).
# G51 (005001)  5    2     4     4    2    3 |   3    3      3        0   |   2     1  |   4     3  | 21/21
#   立案 C11-C15; 公众 the hotline cases C11 C12; 应结案 C11-C14; 基层 C11 (grid) C13 (community); 按期 C11 C12
#   (extended) C13; C14 late. Own reports C13 C14 C15, none self-handled. 核实 C11 in time, C12 late. 核查 C11
#   C12 C13 in time, C14 late.
# G11 (001001)  4    0     4     3    3    3 |   7    4      4        2   |   3     1  |   4     3  |  2/21
#   立案 C16 C17 C21 C22; 应结案 the same (C21's limit Nov 20 passed unclosed); 结案 C16 C17 C22; 上报 C16-C22,
#   valid C16 C17 C21 C22; 自处置 C16 C17; 核实 C18 in time, C19 late, C20 never; 核查 C16 C17 C22 in time,
#   C21 never.
# G12 (001002)  nothing: every rate has a zero denominator except the log, 0/21. Its October case C23 has its
#   case limit (Nov 2 10:30) and its check's limit (Nov 2 15:10) in November, but was closed, and checked, on
#   Oct 30: it is due in October only (before issue 13's fix it was 结案 0/1, 基层 0/1, 按期 0/1, 核查 1/1 here).
GRID_EXPECTED = {
    G5: {"registered": (7, None), "public_report_rate": (2, 7), "grassroots_rate": (7, 7), "closure_rate": (7, 7),
         "ontime_rate": (4, 7), "valid_report_rate": (7, 8), "self_handling_rate": (5, 7), "log_rate": (6, 21),
         "verify_rate": (2, 3), "check_rate": (6, 8)},
    G51: {"registered": (5, None), "public_report_rate": (2, 5), "grassroots_rate": (2, 4), "closure_rate": (4, 4),
          "ontime_rate": (3, 4), "valid_report_rate": (3, 3), "self_handling_rate": (0, 3), "log_rate": (21, 21),
          "verify_rate": (1, 2), "check_rate": (3, 4)},
    G11: {"registered": (4, None), "public_report_rate": (0, 4), "grassroots_rate": (3, 4), "closure_rate": (3, 4),
          "ontime_rate": (3, 4), "valid_report_rate": (4, 7), "self_handling_rate": (2, 4), "log_rate": (2, 21),
          "verify_rate": (1, 3), "check_rate": (3, 4)},
    G12: {"registered": (0, None), "public_report_rate": (0, 0), "grassroots_rate": (0, 0), "closure_rate": (0, 0),
          "ontime_rate": (0, 0), "valid_report_rate": (0, 0), "self_handling_rate": (0, 0), "log_rate": (0, 21),
          "verify_rate": (0, 0), "check_rate": (0, 0)},
}


def test_constructed_month_every_indicator(month: tuple[Engine, FixedClock, dict[str, int]]) -> None:
    eng, clock, ids = month
    assert len(ids) == 22

    grids = by_unit(monthly_report(eng, "2026-11", "grid"))
    assert set(grids) == {G5, G51, G11, G12}
    for code, expected in GRID_EXPECTED.items():
        assert fractions(grids[code]) == expected, code
    assert grids[G12].figures["check_rate"]["value"] is None  # "—", neither 0 % nor 100 %

    # Grid scores: the mean of the five rates (20 each), a rate without denominator left out.
    #   G5:  (7/8 + 5/7 + 6/21 + 2/3 + 6/8) / 5 = (87.5 + 71.43 + 28.57 + 66.67 + 75) / 5 = 65.83  → C
    #   G51: (100 + 0 + 100 + 50 + 75) / 5 = 65.00                                                → C
    #   G11: (4/7 + 2/4 + 2/21 + 1/3 + 3/4) / 5 = (57.14 + 50 + 9.52 + 33.33 + 75) / 5 = 45.00     → D
    #   G12: only the log rate can be scored: 0.00                                                → E
    # All four grids are ranked within the street that evaluates them (东高地街道).
    assert {c: (r.score, r.grade, r.rank, r.group) for c, r in grids.items()} == {
        G5: (65.83, "C", 1, STREET), G51: (65.0, "C", 2, STREET), G11: (45.0, "D", 3, STREET),
        G12: (0.0, "E", 4, STREET)}
    # October: C0 (G5) and C23 (G12) were registered; no log fell in October.
    #   G5: C0 closed in November and its check was done then: 有效上报率 1/1 = 100, 自处置率 0/1 = 0, 日志 0:
    #       (100 + 0 + 0) / 3 = 33.33.
    #   G12: C23 was solved, checked and closed on Oct 30 by the grid: 有效上报率 1/1, 自处置率 1/1, 日志 0,
    #       核查率 1/1 (done in time in October, though due on Nov 2): (100 + 100 + 0 + 100) / 4 = 75.00.
    #   G51 and G11: only the log rate, 0.00.
    assert {c: (r.previous_score, r.change) for c, r in grids.items()} == {
        G5: (33.33, 32.5), G51: (0.0, 65.0), G11: (0.0, 45.0), G12: (75.0, -75.0)}

    # Communities are the sums of their grids:
    #   E = G5 + G51: 立案 12, 公众 4, 应结案 11, 结案 11, 基层 9, 按期 7
    #   D = G11 + G12: 立案 4, 公众 0, 应结案 4, 结案 3, 基层 3, 按期 3
    comms = by_unit(monthly_report(eng, "2026-11", "community"))
    assert {c: {k: v for k, v in fractions(r).items() if k in ("registered", "public_report_rate", "grassroots_rate",
                                                                  "closure_rate", "ontime_rate")}
            for c, r in comms.items()} == {
        COMM_E: {"registered": (12, None), "public_report_rate": (4, 12), "grassroots_rate": (9, 11),
                 "closure_rate": (11, 11), "ontime_rate": (7, 11)},
        COMM_D: {"registered": (4, None), "public_report_rate": (0, 4), "grassroots_rate": (3, 4),
                 "closure_rate": (3, 4), "ontime_rate": (3, 4)}}
    # E: 立案 12/12 → 100 × 10; 公众 33.33 % → 66.67 × 15; 基层 81.82 × 25; 结案 100 × 25; 按期 63.64 × 25
    #    = (1000 + 1000 + 2045.45 + 2500 + 1590.91) / 100 = 81.36 → B
    # D: 立案 4/12 → 33.33 × 10; 公众 0 % → 100 × 15; 75 × 25 three times
    #    = (333.33 + 1500 + 1875 × 3) / 100 = 74.58 → C
    # October: E 立案 1/1 → 100, 公众 0/1 → 100, the rest without denominator (C0's limit is in November and it
    # was still open): 100.00; D 立案 1/1 → 100, 公众 0/1 → 100, C23 due, closed, at the grid and on time: 1/1
    # three times: 100.00
    assert {c: (r.score, r.grade, r.rank, r.group, r.change) for c, r in comms.items()} == {
        COMM_E: (81.36, "B", 1, STREET, -18.64), COMM_D: (74.58, "C", 2, STREET, -25.42)}

    # The street is the sum of both: 立案 16, 公众 4, 应结案 15, 结案 14, 基层 12, 按期 10; alone in its district.
    #   (100 × 10 + 75 × 15 + 80 × 25 + 93.33 × 25 + 66.67 × 25) / 100 = 81.25 → B; October (C0 and C23:
    #   立案 2, 公众 0, 应结案 = 结案 = 基层 = 按期 = 1, C23) 100.00
    streets = by_unit(monthly_report(eng, "2026-11", "street"))
    st = streets[STREET]
    assert fractions(st)["registered"] == (16, None)
    assert [fractions(st)[k] for k in ("public_report_rate", "grassroots_rate", "closure_rate", "ontime_rate")] == [
        (4, 16), (12, 15), (14, 15), (10, 15)]
    assert (st.score, st.grade, st.rank, st.group, st.change) == (81.25, "B", 1, DISTRICT, -18.75)

    # --org narrows the rows, not the ranks
    only_d = monthly_report(eng, "2026-11", "grid", org=COMM_D)
    assert [(r.unit, r.rank) for r in only_d.rows] == [(G11, 3), (G12, 4)]
    with pytest.raises(InputError, match="tier or above"):
        monthly_report(eng, "2026-11", "community", org=G5)

    # the month's case statistics (created in November: 20; rejected C4 C18 C19; open at the end C8 C15 C20 C21;
    # C21 past its limit and open; closed late C5 C6 C7 C14)
    stats = case_stats(eng, "2026-11")
    assert stats["total"] == {"reported": 20, "registered": 16, "closed": 14, "rejected": 3, "open_at_end": 4,
                              "overdue_open": 1, "closed_late": 4}
    assert {r["key"]: r["reported"] for r in stats["by_source"]} == {"patrol": 12, "informant": 6, "hotline": 2}
    assert {r["key"]: r["closed"] for r in stats["by_resolved_tier"] if r["closed"]} == {
        "grid": 9, "community": 3, "street": 1, "district": 1}
    assert case_stats(eng, "2026-11", org=COMM_D)["total"]["reported"] == 7


def test_recorded_run_once_and_history(month: tuple[Engine, FixedClock, dict[str, int]]) -> None:
    eng, clock, _ids = month
    with pytest.raises(InputError, match="not over yet"):
        record_month(eng, "2026-12")
    first = record_due(eng)  # Dec 2: records November
    assert (first.key, first.period, first.created, first.trigger) == ("monthly:2026-11", "2026-11", True, "scheduler")
    assert first.units == 4 + 2 + 1
    again = record_due(eng)
    assert (again.created, again.units, again.computed_at) == (False, 7, first.computed_at)
    # a month later the report's change comes from the recorded run
    hist = history(eng, G5)
    assert [(h.period, h.level, h.score, h.grade, h.rank, h.group_size) for h in hist] == [
        ("2026-11", "grid", 65.83, "C", 1, 4)]
    assert hist[0].figures["verify_rate"] == {"num": 2, "den": 3, "value": pytest.approx(2 / 3)}
    assert history(eng, G12)[0].figures["check_rate"]["value"] is None
    with eng.store.read() as tx:
        count = tx.conn.exec_driver_sql("SELECT count(*) FROM evaluation_runs").scalar()
    assert count == 1

    # the running month: on Wed Nov 11 at 12:00 only what happened before counts; its whole days are
    # Nov 1-10, with 7 working days (2-6, 9, 10)
    clock.set(bj(11, "12:00"))
    g5 = by_unit(monthly_report(eng, "2026-11", "grid"))[G5]
    assert fractions(g5)["log_rate"] == (5, 7)  # Nov 2 3 4 5 9
    assert fractions(g5)["registered"] == (4, None)  # C1 C2 C3 C5
    assert fractions(g5)["check_rate"] == (4, 4)  # C0 C1 C2 C3; C5's check is due Nov 11 15:10
