"""Supervision (监督): step deadlines, the sweep's alerts (exactly once), ack, urge (督办), extend (延期).

Every test injects a FixedClock and moves it; nothing sleeps. Times are Beijing
times in November 2026 (no public holidays): Tue 24, Wed 25, Thu 26, Fri 27,
Mon 30. Working hours 09:00-12:00 and 13:30-17:30; a grid patrol case is in
``grid_handling`` with a limit of 4 working hours; warnings at 80 % of the
limit; re-escalation 1 working day after the due time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from casecraft import ConflictError, Engine, FixedClock, InputError, NotFound, PermissionDenied
from tests.conftest import bj

GRID5 = "110106004005005"
GRID1 = "110106004005001"
COMMUNITY_E = "110106004005"
STREET = "110106004"
DISTRICT = "110106"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(bj(24, "10:00"))


def patrol(engine: Engine, grid: str = GRID5, actor: str = "wangjg") -> int:
    return engine.report(source="patrol", grid=grid, category="0101", desc="小广告", actor=actor).id


def kinds(engine: Engine, case_id: int | None = None) -> list[tuple[str, int, str]]:
    return [(a.kind, a.level, a.unit) for a in engine.alerts(case_id=case_id)]


def snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, the time-limit tables included (Engine.snapshot leaves them out)."""
    snap: dict[str, list[tuple[object, ...]]] = dict(engine.snapshot())
    with engine.store.read() as tx:
        for table in ("deadlines", "alerts", "deliveries"):
            snap[table] = tx.table_rows(table)
    return snap


def sweep_at(engine: Engine, clock: FixedClock, at: datetime) -> dict[str, int]:
    clock.set(at)
    return engine.sweep()


# 1. the deadline row ---------------------------------------------------------------------------------------
def test_step_deadline_in_working_hours(engine: Engine, clock: FixedClock) -> None:
    case_id = patrol(engine)  # Tue 10:00
    d = engine.deadline(case_id)
    assert d is not None
    assert d.state == "grid_handling"
    assert d.limit == "4 working hours"
    assert d.started_at == bj(24, "10:00")
    assert d.due_at == bj(24, "15:30")  # 10:00→12:00 = 2 h, 13:30→15:30 = 2 h
    assert d.warn_at == bj(24, "14:42")  # 80 %: 3.2 working hours
    assert d.extended == 0
    assert d.seconds_left == 5.5 * 3600 and not d.overdue
    assert engine.get(case_id).deadline_at == bj(24, "15:30")  # category 0101: the case limit is 4 working hours too

    clock.set(bj(27, "16:00"))  # Friday afternoon: 1.5 h on Friday, the rest on Monday morning
    friday = patrol(engine)
    d = engine.deadline(friday)
    assert d is not None
    assert d.due_at == bj(30, "11:30")
    assert d.warn_at == bj(30, "10:42")  # 3.2 h: 1.5 h on Friday + 1.7 h on Monday


def test_deadline_of_unknown_case_is_none(engine: Engine) -> None:
    assert engine.deadline(999) is None


# 2. the sweep: each alert once, at the right platform ---------------------------------------------------------
def test_sweep_raises_each_alert_once_at_the_right_platform(engine: Engine, clock: FixedClock) -> None:
    case_id = patrol(engine)  # warn Tue 14:42, due Tue 15:30, re-escalation Wed 15:30

    assert sweep_at(engine, clock, bj(24, "14:41"))["raised"] == 0
    assert engine.alerts() == []

    counts = sweep_at(engine, clock, bj(24, "14:42"))
    assert (counts["raised"], counts["warning"]) == (1, 1)
    assert kinds(engine) == [("warning", 0, GRID5)]
    warning = engine.alerts()[0]
    assert warning.case == case_id and warning.state == "grid_handling" and warning.due_at == bj(24, "15:30")
    assert warning.raised_at == bj(24, "14:42")
    assert engine.sweep()["raised"] == 0  # same time again: nothing new

    assert sweep_at(engine, clock, bj(24, "15:29"))["raised"] == 0
    counts = sweep_at(engine, clock, bj(24, "15:31"))
    assert (counts["raised"], counts["overdue"]) == (1, 1)
    assert kinds(engine) == [("warning", 0, GRID5), ("overdue", 1, COMMUNITY_E)]
    assert engine.sweep()["raised"] == 0

    assert sweep_at(engine, clock, bj(25, "15:29"))["raised"] == 0  # not yet one working day
    counts = sweep_at(engine, clock, bj(25, "15:30"))
    assert (counts["raised"], counts["reescalation"]) == (1, 1)
    assert kinds(engine) == [("warning", 0, GRID5), ("overdue", 1, COMMUNITY_E), ("reescalation", 2, STREET)]
    assert engine.sweep()["raised"] == 0
    assert sweep_at(engine, clock, bj(30, "17:00"))["raised"] == 0  # nothing after the re-escalation
    assert len(engine.alerts()) == 3
    # the platforms see their own alerts
    assert [a.kind for a in engine.alerts(org=COMMUNITY_E)] == ["overdue"]
    assert [a.kind for a in engine.alerts(org=STREET)] == ["reescalation"]


def test_overdue_and_reescalation_skip_non_working_time(engine: Engine, clock: FixedClock) -> None:
    clock.set(bj(27, "16:00"))  # Friday: due Monday 11:30, re-escalation Tuesday 11:30
    patrol(engine)
    assert sweep_at(engine, clock, bj(29, "23:00"))["raised"] == 0  # the weekend does not count
    # the warning (10:42) has passed with the limit (11:30): only the overdue alert goes out (issue 13)
    assert sweep_at(engine, clock, bj(30, "11:31"))["raised"] == 1
    assert sweep_at(engine, clock, bj(1, "11:29", month=12))["raised"] == 0
    assert sweep_at(engine, clock, bj(1, "11:30", month=12))["reescalation"] == 1


def test_long_downtime_one_sweep_raises_each_missed_alert_once(engine: Engine, clock: FixedClock) -> None:
    first = patrol(engine)  # Tue 10:00
    clock.set(bj(24, "11:00"))
    second = patrol(engine)
    counts = sweep_at(engine, clock, bj(4, "10:00", month=12))  # a week and a half later
    # each missed alert once; a warning whose limit has passed too is not raised (issue 13)
    assert (counts["claimed"], counts["raised"]) == (2, 4)
    assert (counts["warning"], counts["overdue"], counts["reescalation"]) == (0, 2, 2)
    for case_id in (first, second):
        assert kinds(engine, case_id) == [("overdue", 1, COMMUNITY_E), ("reescalation", 2, STREET)]
    assert engine.sweep()["raised"] == 0
    assert sweep_at(engine, clock, bj(31, "10:00", month=12))["raised"] == 0
    assert len(engine.alerts()) == 4


def test_small_batches_raise_the_same_alerts_once(engine: Engine, clock: FixedClock) -> None:
    ids = [patrol(engine) for _ in range(7)]
    clock.set(bj(24, "15:00"))  # warnings due, overdue not yet
    counts = engine.sweep(batch=2)
    assert (counts["claimed"], counts["warning"], counts["overdue"]) == (7, 7, 0)
    clock.set(bj(24, "16:00"))
    counts = engine.sweep(batch=3, max_batches=1)  # a bounded pass leaves the rest to the next one
    assert counts["overdue"] == 3
    counts = engine.sweep(batch=3)
    assert counts["overdue"] == 4
    assert engine.sweep(batch=1)["raised"] == 0
    assert sorted(a.case for a in engine.alerts() if a.kind == "overdue") == ids


# 3. superior platforms of the higher tiers --------------------------------------------------------------------
def test_overdue_at_community_goes_to_the_street(engine: Engine, clock: FixedClock) -> None:
    case_id = patrol(engine)
    clock.set(bj(24, "10:30"))
    engine.fire(case_id, "escalate", actor="wangjg", note="超出网格能力")
    d = engine.deadline(case_id)
    assert d is not None and d.state == "community_handling"
    assert d.due_at == bj(25, "10:30")  # 1 working day: the same working moment on the next working day
    assert d.warn_at == bj(25, "09:06")  # 80 % of the 7 working hours in between
    assert sweep_at(engine, clock, bj(25, "09:10"))["warning"] == 1
    assert sweep_at(engine, clock, bj(25, "10:31"))["overdue"] == 1
    # the grid step was closed on escalation: nothing about grid_handling
    assert kinds(engine, case_id) == [("warning", 0, COMMUNITY_E), ("overdue", 1, STREET)]
    assert {a.state for a in engine.alerts(case_id=case_id)} == {"community_handling"}
    assert sweep_at(engine, clock, bj(26, "10:30"))["reescalation"] == 1
    assert kinds(engine, case_id)[-1] == ("reescalation", 2, DISTRICT)


def test_overdue_at_street_goes_to_the_district(engine: Engine, clock: FixedClock) -> None:
    case_id = patrol(engine)
    clock.set(bj(24, "10:30"))
    engine.fire(case_id, "escalate", actor="wangjg", note="超出网格能力")
    clock.set(bj(24, "11:00"))
    engine.fire(case_id, "escalate", actor="zhoumin", note="超出社区能力")
    d = engine.deadline(case_id)
    assert d is not None and d.state == "street_handling" and d.due_at == bj(25, "11:00")
    assert sweep_at(engine, clock, bj(25, "10:00"))["warning"] == 1
    assert sweep_at(engine, clock, bj(25, "11:01"))["overdue"] == 1
    assert kinds(engine, case_id) == [("warning", 0, STREET), ("overdue", 1, DISTRICT)]


# 4. acknowledgement ---------------------------------------------------------------------------------------------
def test_ack_is_permanent_and_only_at_ones_own_platform(engine: Engine, clock: FixedClock) -> None:
    case_id = patrol(engine)
    sweep_at(engine, clock, bj(24, "15:00"))  # the warning, then the overdue alert
    sweep_at(engine, clock, bj(24, "16:00"))
    warning, overdue = engine.alerts(case_id=case_id)
    assert (warning.unit, overdue.unit) == (GRID5, COMMUNITY_E)

    with pytest.raises(PermissionDenied):
        engine.ack(overdue.id, actor="wangjg")  # the grid may not ack its superior's alert
    with pytest.raises(PermissionDenied):
        engine.ack(warning.id, actor="sunli")  # grid 1's leader: another unit
    with pytest.raises(NotFound):
        engine.ack(9999, actor="zhoumin")
    assert all(a.acked_at is None for a in engine.alerts())
    before = snapshot(engine)

    assert snapshot(engine) == before
    clock.set(bj(24, "16:05"))
    acked = engine.ack(overdue.id, actor="zhoumin")
    assert (acked.acked_by, acked.acked_at) == ("zhoumin", bj(24, "16:05"))
    assert [a.id for a in engine.alerts(org=COMMUNITY_E, only_open=True)] == []
    assert [a.id for a in engine.alerts(only_open=True)] == [warning.id]

    clock.set(bj(24, "16:10"))
    before = snapshot(engine)
    with pytest.raises(ConflictError, match="already acknowledged"):
        engine.ack(overdue.id, actor="zhoumin")
    with pytest.raises(ConflictError, match="already acknowledged"):
        engine.ack(overdue.id, actor="wujing")  # nor by anyone else
    assert snapshot(engine) == before
    # sweeping again (even much later, re-escalation included) leaves the ack alone
    sweep_at(engine, clock, bj(24, "17:00"))
    sweep_at(engine, clock, bj(26, "10:00"))
    again = next(a for a in engine.alerts() if a.id == overdue.id)
    assert (again.acked_by, again.acked_at) == ("zhoumin", bj(24, "16:05"))
    assert kinds(engine, case_id)[-1] == ("reescalation", 2, STREET)

    # a superior platform's people may ack alerts of the units below them
    assert engine.ack(warning.id, actor="wujing").acked_by == "wujing"


# 5. closed cases and left states raise nothing -----------------------------------------------------------------
def test_closed_case_raises_nothing(engine: Engine, clock: FixedClock) -> None:
    case_id = patrol(engine)
    for minute, trigger in (("10:05", "resolve"), ("10:10", "check"), ("10:15", "close")):
        clock.set(bj(24, minute))
        engine.fire(case_id, trigger, actor="wangjg")
    assert engine.get(case_id).state == "closed"
    assert engine.deadline(case_id) is None
    counts = sweep_at(engine, clock, bj(31, "10:00", month=12))
    assert counts["claimed"] == 0 and counts["raised"] == 0
    assert engine.alerts(case_id=case_id) == []
    assert engine.due_cases() == []


def test_leaving_a_state_closes_its_step_deadline(engine: Engine, clock: FixedClock) -> None:
    case_id = patrol(engine)  # grid_handling due Tue 15:30
    clock.set(bj(24, "11:00"))
    engine.fire(case_id, "resolve", actor="wangjg")  # to_check: 1 working day, due Wed 11:00
    d = engine.deadline(case_id)
    assert d is not None and d.state == "to_check" and d.due_at == bj(25, "11:00")
    assert sweep_at(engine, clock, bj(24, "16:00"))["raised"] == 0  # past the old due time: nothing
    assert engine.alerts(case_id=case_id) == []
    sweep_at(engine, clock, bj(25, "10:00"))
    sweep_at(engine, clock, bj(25, "11:01"))
    assert [(a.kind, a.state) for a in engine.alerts(case_id=case_id)] == [("warning", "to_check"),
                                                                           ("overdue", "to_check")]


def test_closing_after_the_warning_stops_further_alerts(engine: Engine, clock: FixedClock) -> None:
    case_id = patrol(engine)
    sweep_at(engine, clock, bj(24, "15:00"))
    assert kinds(engine, case_id) == [("warning", 0, GRID5)]
    for trigger in ("resolve", "check", "close"):
        engine.fire(case_id, trigger, actor="wangjg")
    assert sweep_at(engine, clock, bj(10, "10:00", month=12))["raised"] == 0
    assert kinds(engine, case_id) == [("warning", 0, GRID5)]


# 6. urge (督办) -------------------------------------------------------------------------------------------------
def test_supervisor_urges_a_grid_case(engine: Engine, clock: FixedClock) -> None:
    case_id = patrol(engine)
    before = engine.get(case_id)
    clock.set(bj(24, "11:00"))
    view = engine.urge(case_id, actor="duyan", note="请今日内处置完毕")
    assert view.state == before.state == "grid_handling"
    assert view.unit == GRID5 and view.version == before.version + 1
    last = view.timeline[-1]
    assert (last.trigger, last.actor, last.from_state, last.to_state) == ("urge", "duyan", "grid_handling",
                                                                          "grid_handling")
    assert last.note is not None and "请今日内处置完毕" in last.note
    (alert,) = engine.alerts(case_id=case_id)
    assert (alert.kind, alert.level, alert.unit, alert.raised_at) == ("urge", 0, GRID5, bj(24, "11:00"))
    assert "请今日内处置完毕" in alert.message and alert.acked_at is None
    # the step deadline is not touched
    d = engine.deadline(case_id)
    assert d is not None and d.due_at == bj(24, "15:30") and d.extended == 0
    # the superior platform may urge too; each urge is its own alert
    engine.urge(case_id, actor="zhoumin", note="社区督办")
    assert [a.kind for a in engine.alerts(case_id=case_id)] == ["urge", "urge"]
    # the grid leader acks the urge at his platform
    assert engine.ack(alert.id, actor="wangjg").acked_by == "wangjg"


def test_urge_refusals(engine: Engine, clock: FixedClock) -> None:
    case_id = patrol(engine)
    before = snapshot(engine)
    with pytest.raises(PermissionDenied):
        engine.urge(case_id, actor="wangjg", note="自己督办自己")
    with pytest.raises(PermissionDenied):
        engine.urge(case_id, actor="sunli", note="别的网格")
    with pytest.raises(InputError):
        engine.urge(case_id, actor="duyan", note="  ")
    with pytest.raises(NotFound):
        engine.urge(999, actor="duyan", note="无此案件")
    assert snapshot(engine) == before
    assert engine.get(case_id).state == "grid_handling"
    for trigger in ("resolve", "check", "close"):
        engine.fire(case_id, trigger, actor="wangjg")
    with pytest.raises(ConflictError):
        engine.urge(case_id, actor="duyan", note="已结案")


# 7. extend (延期) -----------------------------------------------------------------------------------------------
def test_street_leader_extends_a_grid_case(engine: Engine, clock: FixedClock) -> None:
    case_id = patrol(engine)  # due Tue 15:30
    clock.set(bj(24, "14:00"))
    view = engine.extend(case_id, actor="fengzr", by="1 working day", note="需协调物业")
    d = engine.deadline(case_id)
    assert d is not None
    assert d.due_at == bj(25, "15:30") and d.extended == 1
    assert view.state == "grid_handling"
    assert view.deadline_at == bj(25, "15:30")  # the case limit moves too
    last = view.timeline[-1]
    assert (last.trigger, last.actor) == ("extend", "fengzr")
    assert last.note is not None and "需协调物业" in last.note
    # no overdue at the old time; the overdue of the extended limit comes once, after it
    assert sweep_at(engine, clock, bj(24, "16:00"))["overdue"] == 0
    assert sweep_at(engine, clock, bj(25, "15:29"))["overdue"] == 0
    assert sweep_at(engine, clock, bj(25, "15:31"))["overdue"] == 1
    assert engine.sweep()["raised"] == 0
    assert ("overdue", 1, COMMUNITY_E) in kinds(engine, case_id)


def test_extension_after_the_overdue_alert_raises_a_new_one_later(engine: Engine, clock: FixedClock) -> None:
    case_id = patrol(engine)
    sweep_at(engine, clock, bj(24, "15:00"))
    sweep_at(engine, clock, bj(24, "16:00"))
    assert [a.kind for a in engine.alerts(case_id=case_id)] == ["warning", "overdue"]
    engine.extend(case_id, actor="fengzr", by="2 working hours", note="延期两小时")
    d = engine.deadline(case_id)
    assert d is not None and d.due_at == bj(24, "17:30") and d.extended == 1
    # a new warning point on the extended limit: 80 % of 6 working hours from 10:00 is 16:18
    assert d.warn_at == bj(24, "16:18")
    assert sweep_at(engine, clock, bj(24, "17:00"))["warning"] == 1
    assert sweep_at(engine, clock, bj(25, "09:00"))["overdue"] == 1
    assert [a.kind for a in engine.alerts(case_id=case_id)] == ["warning", "overdue", "warning", "overdue"]


def test_extend_refusals(engine: Engine, clock: FixedClock) -> None:
    case_id = patrol(engine)
    before = snapshot(engine)
    with pytest.raises(PermissionDenied):
        engine.extend(case_id, actor="wangjg", by="1 working day", note="自己批")
    with pytest.raises(PermissionDenied):
        engine.extend(case_id, actor="duyan", by="1 working day", note="督导员不能批")  # not a leader
    for bad in ("1 fortnight", "", "0 working days", "1.5 working days", "-1 working day"):
        with pytest.raises(InputError):
            engine.extend(case_id, actor="fengzr", by=bad, note="x")
    with pytest.raises(InputError):
        engine.extend(case_id, actor="fengzr", by="1 working day", note="")
    assert snapshot(engine) == before
    d = engine.deadline(case_id)
    assert d is not None and d.due_at == bj(24, "15:30") and d.extended == 0


# 8. due cases ---------------------------------------------------------------------------------------------------
def test_due_cases(engine: Engine, clock: FixedClock) -> None:
    clock.set(bj(24, "09:00"))
    early = patrol(engine)  # due Tue 14:30
    clock.set(bj(24, "11:00"))
    later = patrol(engine)  # due Tue 16:30
    done = patrol(engine)
    for trigger in ("resolve", "check", "close"):
        engine.fire(done, trigger, actor="wangjg")
    clock.set(bj(24, "14:00"))
    assert engine.due_cases() == []
    assert engine.due_cases(within=timedelta(hours=1)) == [early]
    clock.set(bj(24, "15:00"))
    assert engine.due_cases() == [early]
    assert engine.due_cases(within=timedelta(hours=1)) == [early]
    assert engine.due_cases(within=timedelta(hours=2)) == [early, later]  # most overdue first
    assert engine.due_cases(within=timedelta(hours=2), limit=1) == [early]
    clock.set(bj(25, "09:00"))
    assert engine.due_cases() == [early, later]
    engine.fire(early, "resolve", actor="wangjg")  # to_check, due Wed 11:30 (1 working day)
    assert engine.due_cases() == [later]


# 10. the scheduler catching up a simulated day ------------------------------------------------------------------
def _expected_alerts(engine: Engine, case_ids: list[int], now: datetime) -> set[tuple[int, str]]:
    out: set[tuple[int, str]] = set()
    for cid, d in engine.deadlines(case_ids).items():
        if d.warn_at is not None and d.warn_at <= now < d.due_at:  # a warning too late to warn is not raised
            out.add((cid, "warning"))
        if d.due_at <= now:
            out.add((cid, "overdue"))
    return out


def test_scheduler_catch_up_after_a_day(engine: Engine, clock: FixedClock) -> None:
    """The scheduler was down from Tue 09:00 to Wed 09:00: its first tick raises exactly what fell due."""
    from casecraft.scheduler import build_scheduler

    results: list[dict[str, int]] = []
    sched = build_scheduler(engine.sweep, blocking=False, on_result=results.append)
    tick = sched.get_job("sweep").func  # what the scheduler runs every interval; it is not started here
    ids: list[int] = []
    for hhmm in ("09:00", "10:00", "11:00", "14:00", "16:00", "17:00"):
        clock.set(bj(24, hhmm))
        ids.append(patrol(engine))
        if hhmm == "09:00":
            tick()  # the last tick before the scheduler went down
            assert len(results) == 1 and results[0]["raised"] == 0

    clock.set(bj(25, "09:00"))  # a day later
    expected = _expected_alerts(engine, ids, clock.now())
    # 09:00, 10:00, 11:00: overdue on Tuesday (their warnings came too late to raise); 14:00: warned 17:12,
    # due Wed 09:30; 16:00 and 17:00: nothing before Wednesday 09:00
    assert expected == {(ids[0], "overdue"), (ids[1], "overdue"), (ids[2], "overdue"), (ids[3], "warning")}
    tick()
    got = {(a.case, a.kind) for a in engine.alerts()}
    assert got == expected
    assert len(engine.alerts()) == len(expected) == results[1]["raised"]
    tick()  # the next tick at the same moment raises nothing
    assert results[2]["raised"] == 0
    assert len(engine.alerts()) == len(expected)


# regressions of bugs found while writing these tests ----------------------------------------------------------
def test_a_batch_raising_more_than_500_alerts_delivers_them_all(engine: Engine, clock: FixedClock) -> None:
    import logging

    logging.getLogger("casecraft.alerts").setLevel(logging.ERROR)
    n = 300
    for _ in range(n):
        patrol(engine)
    counts = sweep_at(engine, clock, bj(25, "16:00"))  # default batch=500: 300 rows, 600 alerts
    with engine.store.read() as tx:
        assert len(tx.table_rows("alerts")) == 2 * n  # the inbox is complete either way
        queued = len(tx.table_rows("deliveries"))
    assert (counts["overdue"], counts["reescalation"]) == (n, n)
    assert counts["raised"] == counts["queued"] == queued == 2 * n  # one delivery per alert and sink, queued
    assert engine.deliver()["delivered"] == 2 * n


def test_extension_moves_the_case_deadline_row_too(engine: Engine, clock: FixedClock) -> None:
    case_id = patrol(engine)  # case limit (category 0101) 4 working hours: due Tue 15:30
    clock.set(bj(24, "14:00"))
    engine.extend(case_id, actor="fengzr", by="1 working day", note="需协调物业")
    assert engine.get(case_id).deadline_at == bj(25, "15:30")
    clock.set(bj(24, "16:00"))  # after the original limit, within the extended one
    for trigger in ("resolve", "check", "close"):
        engine.fire(case_id, trigger, actor="wangjg")
    with engine.store.read() as tx:
        rows = tx.conn.execute(sa.text("SELECT due_at, outcome FROM deadlines WHERE case_id = :c AND kind = 'case'"),
                               {"c": case_id}).all()
    assert len(rows) == 1
    assert rows[0].outcome == "met"
