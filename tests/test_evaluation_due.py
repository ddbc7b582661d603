"""What is due in a month: 应结案数 and the verification and check limits, across month boundaries.

A case closed before the month begins is not due in it, even when its limit
falls in the month (issue 13, 2c); a verification or check counts once: in
the month it was done, if done within its limit, else in the month its limit
passed. Definitions: docs/indicators.md. Every case here is built through
the public Engine API on SQLite and PostgreSQL; the clock is injected.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from casecraft import Engine, FixedClock
from casecraft.cli.main import app
from casecraft.evaluation import monthly_report
from tests.conftest import WORKFLOW, bj, sandbox

G5, G11, G12 = "110106004005005", "110106004001001", "110106004001002"
COMM_D, STREET = "110106004001", "110106004"
NONE = {"num": 0, "den": 0, "value": None}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(bj(30, "08:00", month=10))


def act(eng: Engine, clock: FixedClock, at: datetime, case_id: int, trigger: str, actor: str) -> None:
    clock.set(at)
    eng.fire(case_id, trigger, actor=actor)


def patrol(eng: Engine, clock: FixedClock, at: datetime, grid: str, actor: str, category: str = "0104") -> int:
    clock.set(at)
    return eng.report(source="patrol", grid=grid, category=category, desc="暴露垃圾", actor=actor).id


def early_closure(eng: Engine, clock: FixedClock) -> int:
    """The issue's case: reported by maliang in G12 on Fri 30 Oct 15:00 and closed at 15:30 the same day.

    Category 0104 (暴露垃圾, 4 working hours): the case limit is Mon 2 Nov 10:30; the check step
    (1 working day from the resolve at 15:10) is due Mon 2 Nov 15:10 and is done at 15:20.
    """
    case = patrol(eng, clock, bj(30, "15:00", month=10), G12, "maliang")
    for hhmm, trigger in (("15:10", "resolve"), ("15:20", "check"), ("15:30", "close")):
        act(eng, clock, bj(30, hhmm, month=10), case, trigger, "maliang")
    view = eng.get(case)
    assert view.deadline_at == bj(2, "10:30")  # the limit falls in November ...
    assert view.closed_at == bj(30, "15:30", month=10)  # ... the case was closed in October
    return case


def figures(eng: Engine, month: str, level: str) -> dict[str, dict[str, Any]]:
    return {r.unit: r.figures for r in monthly_report(eng, month, level).rows}


def pair(figs: dict[str, Any], key: str) -> tuple[int, int | None]:
    return figs[key]["num"], figs[key]["den"]


def test_a_case_closed_before_the_month_is_not_due_in_it(engine: Engine, clock: FixedClock) -> None:
    early_closure(engine, clock)
    clock.set(bj(1, "10:00", month=12))

    # November: nothing is due in Dongaodi Community, so its three rates over 应结案数 have no value
    nov = figures(engine, "2026-11", "community")[COMM_D]
    assert {k: nov[k] for k in ("grassroots_rate", "closure_rate", "ontime_rate")} == {
        "grassroots_rate": NONE, "closure_rate": NONE, "ontime_rate": NONE}
    row = next(r for r in monthly_report(engine, "2026-11", "community").rows if r.unit == COMM_D)
    assert (row.score, row.grade, row.rank) == (None, None, None)  # nothing to score: unranked, not 0
    assert figures(engine, "2026-11", "street")[STREET]["closure_rate"] == NONE
    g12 = figures(engine, "2026-11", "grid")[G12]
    assert (pair(g12, "closure_rate"), pair(g12, "check_rate")) == ((0, 0), (0, 0))

    # October: the case is due there (closed in it) and was closed, on time, at the grid; so was its check
    octo = figures(engine, "2026-10", "community")[COMM_D]
    assert [pair(octo, k) for k in ("registered", "grassroots_rate", "closure_rate", "ontime_rate")] == [
        (1, None), (1, 1), (1, 1), (1, 1)]
    g12 = figures(engine, "2026-10", "grid")[G12]
    assert [pair(g12, k) for k in ("valid_report_rate", "self_handling_rate", "check_rate")] == [
        (1, 1), (1, 1), (1, 1)]


def test_the_issue_reproduction_through_the_cli(db_url: str, clock: FixedClock) -> None:
    eng = sandbox(db_url, clock)
    early_closure(eng, clock)
    eng.close()
    args = ["--db", db_url, "--workflow", str(WORKFLOW), "--at", "2026-12-01T10:00",
            "report", "monthly", "--month", "2026-11", "--level", "community"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["unit"]: r for r in json.loads(result.stdout)["rows"]}
    assert rows[COMM_D]["figures"]["closure_rate"] == NONE
    assert (rows[COMM_D]["score"], rows[COMM_D]["rank"]) == (None, None)
    table = CliRunner().invoke(app, args)
    assert table.exit_code == 0, table.output
    line = next(ln for ln in table.stdout.splitlines() if COMM_D in ln)
    assert "0/1" not in line and "－" in line


def test_closures_at_the_month_boundary(engine: Engine, clock: FixedClock) -> None:
    # A (G11) and B (G12): limits Mon 2 Nov 10:30; A closed at 23:59:59 on 31 Oct (October), B at 00:00 on 1 Nov
    a = patrol(engine, clock, bj(30, "15:00", month=10), G11, "heping")
    b = patrol(engine, clock, bj(30, "15:05", month=10), G12, "maliang")
    for case, actor in ((a, "heping"), (b, "maliang")):
        act(engine, clock, bj(30, "15:10", month=10), case, "resolve", actor)
        act(engine, clock, bj(30, "15:20", month=10), case, "check", actor)
    act(engine, clock, bj(31, "23:59", month=10) + timedelta(seconds=59), a, "close", "heping")
    act(engine, clock, bj(1, "00:00"), b, "close", "maliang")
    # C (G5): limit Mon 30 Nov 10:00 (0102, 1 working day from Fri 27 Nov 10:00), closed on 1 Dec: late
    c = patrol(engine, clock, bj(27, "10:00"), G5, "wangjg", category="0102")
    act(engine, clock, bj(27, "10:30"), c, "resolve", "wangjg")
    act(engine, clock, bj(1, "09:00", month=12), c, "check", "wangjg")
    act(engine, clock, bj(1, "09:10", month=12), c, "close", "wangjg")
    clock.set(bj(2, "12:00", month=12))

    nov = figures(engine, "2026-11", "grid")
    keys = ("closure_rate", "ontime_rate", "grassroots_rate")
    assert {g: [pair(nov[g], k) for k in keys] for g in (G11, G12, G5)} == {
        G11: [(0, 0)] * 3,                 # A was closed before November began: not due in it
        G12: [(1, 1)] * 3,                 # B was open when November began and closed in it, on time
        G5: [(0, 1), (0, 1), (0, 1)]}      # C was due on 30 Nov and still open: due, not closed
    octo = figures(engine, "2026-10", "grid")
    assert [pair(octo[g], "closure_rate") for g in (G11, G12)] == [(1, 1), (0, 0)]
    # December (running): C is closed there, so it is due there too; closed after its limit: not on time
    dec = figures(engine, "2026-12", "grid")[G5]
    assert [pair(dec, k) for k in keys] == [(1, 1), (0, 1), (1, 1)]


def test_steps_count_once_when_done_in_time_or_when_their_limit_passes(engine: Engine, clock: FixedClock) -> None:
    # a verification done on Fri 30 Oct 17:25 whose limit (1 working hour from 17:20) falls on Mon 2 Nov
    clock.set(bj(30, "17:20", month=10))
    informed = engine.report(source="informant", grid=G5, category="0102", desc="店外经营", actor="zhaomin").id
    act(engine, clock, bj(30, "17:25", month=10), informed, "verify", "wangjg")
    # the early closure's check: done on 30 Oct, due Mon 2 Nov 15:10
    early_closure(engine, clock)
    # a check done a day before its limit (Wed 4 Nov 10:30), seen in the running month on 3 Nov at 12:00
    early = patrol(engine, clock, bj(3, "10:00"), G11, "heping", category="0102")
    act(engine, clock, bj(3, "10:30"), early, "resolve", "heping")
    act(engine, clock, bj(3, "11:00"), early, "check", "heping")
    clock.set(bj(3, "12:00"))
    running = figures(engine, "2026-11", "grid")
    assert pair(running[G11], "check_rate") == (1, 1)  # done in time: it counts as soon as it is done
    assert pair(running[G12], "check_rate") == (0, 0)  # done in October: not due in November
    assert pair(running[G5], "verify_rate") == (0, 0)
    # a check due Mon 30 Nov 10:30 and done on 1 Dec: due in November and not done in time, not counted again
    late = patrol(engine, clock, bj(27, "10:00"), G11, "heping", category="0102")
    act(engine, clock, bj(27, "10:30"), late, "resolve", "heping")
    act(engine, clock, bj(1, "09:00", month=12), late, "check", "heping")
    clock.set(bj(2, "12:00", month=12))

    octo, nov, dec = (figures(engine, m, "grid") for m in ("2026-10", "2026-11", "2026-12"))
    assert (pair(octo[G5], "verify_rate"), pair(octo[G12], "check_rate")) == ((1, 1), (1, 1))
    assert (pair(nov[G5], "verify_rate"), pair(nov[G12], "check_rate")) == ((0, 0), (0, 0))
    assert pair(nov[G11], "check_rate") == (1, 2)  # the early one in time, the late one not
    assert pair(dec[G11], "check_rate") == (0, 0)
