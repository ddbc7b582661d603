"""The field loop's hand-overs: joint dispatch with each party's feedback, return and re-dispatch,
the street leaders' decision (批件), extension requests and approval (延期), parking (挂账) and
waiting states that stop the clock.

Beijing times in November 2026 (no holidays): Tue 24, Wed 25, Thu 26, Fri 27, Mon 30;
working hours 09:00-12:00 and 13:30-17:30.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from casecraft import ConflictError, Engine, FixedClock, InputError, PermissionDenied, TriggerNotAllowed
from tests.conftest import ROOT, bj, sandbox

GRID5 = "110106004005005"
COMMUNITY_E = "110106004005"
STREET = "110106004"
AQB = "110106004-aqb"
CGFD = "110106004-cgfd"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(bj(24, "10:00"))


def patrol(engine: Engine, category: str = "0201") -> int:
    return engine.report(source="patrol", grid=GRID5, category=category, desc="消防设施隐患", actor="wangjg").id


def at(clock: FixedClock, day: int, hhmm: str) -> None:
    clock.set(bj(day, hhmm))


def to_street(engine: Engine, clock: FixedClock) -> int:
    case_id = patrol(engine)
    engine.fire(case_id, "escalate", actor="wangjg", note="不熟悉消防")
    at(clock, 24, "10:10")
    engine.fire(case_id, "escalate", actor="zhoumin", note="需协调地区单位")
    return case_id


# ----------------------------------------------------------------- joint dispatch, per-party feedback


def test_joint_dispatch_moves_on_when_every_party_fed_back(engine: Engine, clock: FixedClock) -> None:
    case_id = patrol(engine)
    engine.fire(case_id, "escalate", actor="wangjg", note="不熟悉消防")
    engine.fire(case_id, "dispatch", actor="zhoumin", to=["zhangwei", "chengang"])
    at(clock, 24, "11:00")
    view = engine.fire(case_id, "feedback", actor="chengang", outcome="solved", note="已整改")
    # one of two parties: recorded, the case waits for the other
    assert view.state == "community_dispatched" and view.feedback == {"chengang": "solved"}
    assert view.timeline[-1].trigger == "feedback" and view.timeline[-1].outcome == "solved"
    assert view.timeline[-1].from_state == view.timeline[-1].to_state == "community_dispatched"
    with pytest.raises(ConflictError, match="already fed back"):
        engine.fire(case_id, "feedback", actor="chengang", outcome="solved")
    with pytest.raises(PermissionDenied):
        engine.fire(case_id, "feedback", actor="liuqiang", outcome="solved")
    at(clock, 24, "11:10")
    view = engine.fire(case_id, "feedback", actor="zhangwei", outcome="unsolved", note="需打孔安装")
    # the joint result is unsolved (one party could not solve it): back to the community platform
    assert view.state == "community_handling" and view.feedback == {} and view.assignees == ()
    assert [e.actor for e in view.timeline if e.trigger == "feedback"] == ["chengang", "zhangwei"]


def test_joint_feedback_all_solved_resolves(engine: Engine) -> None:
    case_id = patrol(engine)
    engine.fire(case_id, "escalate", actor="wangjg", note="不熟悉消防")
    engine.fire(case_id, "dispatch", actor="zhoumin", to=["zhangwei", "chengang"])
    engine.fire(case_id, "feedback", actor="zhangwei", outcome="solved")
    view = engine.fire(case_id, "feedback", actor="chengang", outcome="solved")
    assert (view.state, view.resolved_tier) == ("community_resolved", "community")


def test_a_return_by_one_party_sends_the_case_back_at_once(engine: Engine) -> None:
    case_id = patrol(engine)
    engine.fire(case_id, "escalate", actor="wangjg", note="不熟悉消防")
    engine.fire(case_id, "dispatch", actor="zhoumin", to=["zhangwei", "chengang"])
    view = engine.fire(case_id, "return", actor="chengang", note="不属消防派驻员职责")
    assert view.state == "community_handling" and view.assignees == ()


# ----------------------------------------------------------------- street: by category, return, re-dispatch


def test_street_dispatch_by_category_return_and_redispatch(engine: Engine, clock: FixedClock) -> None:
    case_id = to_street(engine, clock)
    view = engine.fire(case_id, "dispatch", actor="wujing")  # no --to: the catalogue says 安全办
    assert (view.state, view.assignees) == ("street_dispatched", (AQB,))
    with pytest.raises(InputError, match="needs a note"):
        engine.fire(case_id, "return", actor="zhenglei")
    view = engine.fire(case_id, "return", actor="zhenglei", note="属店外设施，非本办职责")
    assert (view.state, view.assignees) == ("street_handling", ())
    assert view.timeline[-1].note == "属店外设施，非本办职责"
    view = engine.fire(case_id, "dispatch", actor="wujing", to=[CGFD], note="改派城管分队")
    assert (view.state, view.assignees) == ("street_dispatched", (CGFD,))
    with pytest.raises(PermissionDenied):  # 安全办 no longer holds it
        engine.fire(case_id, "feedback", actor="zhenglei", outcome="solved")
    view = engine.fire(case_id, "feedback", actor="hanbing", outcome="solved")
    assert (view.state, view.resolved_tier) == ("street_resolved", "street")
    assert [e.trigger for e in view.timeline][-4:] == ["dispatch", "return", "dispatch", "feedback"]


def test_street_leaders_decide_unclear_responsibility(engine: Engine, clock: FixedClock) -> None:
    case_id = to_street(engine, clock)
    with pytest.raises(InputError, match="needs a note"):
        engine.fire(case_id, "refer", actor="wujing")
    view = engine.fire(case_id, "refer", actor="wujing", note="责任不清，提请领导批件")
    assert (view.state, view.tier, view.unit) == ("street_leaders", "street", STREET)
    with pytest.raises(PermissionDenied):  # the operator may not decide it
        engine.fire(case_id, "dispatch", actor="wujing", to=[AQB], note="x")
    view = engine.fire(case_id, "dispatch", actor="fengzr", to=[AQB], note="批示：由安全办牵头处置")
    assert (view.state, view.assignees) == ("street_dispatched", (AQB,))
    deadline = engine.deadline(case_id)
    assert deadline is not None and deadline.state == "street_dispatched"


def test_street_leaders_may_send_it_to_the_district(engine: Engine, clock: FixedClock) -> None:
    case_id = to_street(engine, clock)
    engine.fire(case_id, "refer", actor="wujing", note="责任不清")
    view = engine.fire(case_id, "escalate", actor="fengzr", note="涉及多部门，报区")
    assert (view.state, view.unit) == ("district_handling", "110106")


# ----------------------------------------------------------------- extension requests


def test_extension_request_approved_moves_both_deadlines(engine: Engine, clock: FixedClock) -> None:
    case_id = patrol(engine)  # grid_handling 4 working hours from Tue 10:00: due 15:30, warning 14:42
    before = engine.deadline(case_id)
    assert before is not None and before.due_at == bj(24, "15:30") and before.warn_at == bj(24, "14:42")
    case_due = engine.get(case_id).deadline_at
    assert case_due == bj(27, "10:00")  # 消防安全隐患: 3 working days
    at(clock, 24, "10:30")
    with pytest.raises(PermissionDenied, match="does not handle"):
        engine.request_extension(case_id, actor="sunli", by="1 working day", note="x")
    view = engine.request_extension(case_id, actor="wangjg", by="1 working day", note="需商户配合")
    assert view.extension_request is not None and view.extension_request["by"] == "1 working day"
    assert engine.deadline(case_id).due_at == bj(24, "15:30")  # not moved until approved
    with pytest.raises(ConflictError, match="already has an extension request"):
        engine.request_extension(case_id, actor="lixia", by="2 working hours", note="y")
    with pytest.raises(PermissionDenied, match="leader"):
        engine.decide_extension(case_id, actor="zhoumin", approve=True)
    at(clock, 24, "11:00")
    view = engine.decide_extension(case_id, actor="fengzr", approve=True, note="同意")
    after = engine.deadline(case_id)
    assert after.due_at == bj(25, "15:30") and after.extended == 1
    # the warning is recomputed on the extended limit: 80 % of 11 working hours from Tue 10:00
    assert after.warn_at == bj(25, "11:48")
    assert view.deadline_at == bj(30, "10:00") and view.extension_request is None
    assert [e.trigger for e in view.timeline] == ["report", "request_extension", "approve_extension"]
    # the sweep follows the extended limit
    at(clock, 24, "16:00")
    assert engine.sweep()["raised"] == 0
    at(clock, 25, "12:00")
    assert engine.sweep()["warning"] == 1
    at(clock, 25, "15:31")
    assert engine.sweep()["overdue"] == 1


def test_extension_denied_keeps_the_deadline(engine: Engine, clock: FixedClock) -> None:
    case_id = patrol(engine)
    engine.request_extension(case_id, actor="wangjg", by="2 working hours", note="需商户配合")
    with pytest.raises(InputError, match="needs a note"):
        engine.decide_extension(case_id, actor="fengzr", approve=False)
    view = engine.decide_extension(case_id, actor="fengzr", approve=False, note="时限内可办结")
    assert view.extension_request is None
    assert engine.deadline(case_id).due_at == bj(24, "15:30")
    with pytest.raises(ConflictError, match="no pending extension request"):
        engine.decide_extension(case_id, actor="fengzr", approve=True)
    # a new request may follow
    assert engine.request_extension(case_id, actor="wangjg", by="1 working hour", note="再申请").extension_request


# ----------------------------------------------------------------- parking (挂账)


def test_parking_stops_the_clock_and_unparking_resumes_it(engine: Engine, clock: FixedClock) -> None:
    case_id = patrol(engine)  # due Tue 15:30, warning 14:42
    at(clock, 24, "11:00")
    with pytest.raises(PermissionDenied, match="leader"):
        engine.park(case_id, actor="wangjg", note="x")
    view = engine.park(case_id, actor="fengzr", note="涉及产权纠纷，暂无法解决")
    assert view.parked and view.state == "grid_handling"
    assert engine.deadline(case_id) is None  # no running step clock
    assert [c.id for c in engine.parked()] == [case_id]
    assert [c.id for c in engine.list(parked=True)] == [case_id]
    with pytest.raises(TriggerNotAllowed, match="parked"):
        engine.fire(case_id, "resolve", actor="wangjg")
    with pytest.raises(ConflictError, match="already parked"):
        engine.park(case_id, actor="fengzr", note="again")
    # two days later: nothing was raised while parked
    at(clock, 26, "10:00")
    assert engine.sweep()["raised"] == 0
    view = engine.unpark(case_id, actor="fengzr", note="产权单位同意整改")
    assert not view.parked
    d = engine.deadline(case_id)
    # 3 working hours were left (11:00-12:00, 13:30-15:30): Thu 10:00 + 3h = 14:30
    assert d.due_at == bj(26, "14:30")
    assert d.warn_at == bj(26, "13:42")  # 2h12m were left before the warning
    # the case's own limit (Fri 10:00) had 20 working hours left at Tue 11:00: Thu 6h, Fri 7h, Mon 7h
    assert view.deadline_at == bj(30, "17:30")
    at(clock, 26, "14:00")
    assert engine.sweep()["warning"] == 1
    at(clock, 26, "14:31")
    assert engine.sweep()["overdue"] == 1
    assert [e.trigger for e in view.timeline] == ["report", "park", "unpark"]
    view = engine.fire(case_id, "resolve", actor="wangjg")
    assert view.state == "to_check"


def test_parked_case_deadline_shift_is_exact(engine: Engine, clock: FixedClock) -> None:
    case_id = patrol(engine)  # case limit: Fri 27 10:00
    at(clock, 24, "11:00")
    engine.park(case_id, actor="fengzr", note="挂账")
    at(clock, 25, "09:00")  # parked for exactly Tue 11:00 -> Wed 09:00 (6 working hours)
    view = engine.unpark(case_id, actor="fengzr")
    # 20 working hours were left: Wed 09:00 + 20h = Wed 7h, Thu 7h, Fri 6h -> Fri 16:30
    assert view.deadline_at == bj(27, "16:30")


def test_a_calendar_change_keeps_the_time_a_parked_case_was_stopped(engine: Engine, clock: FixedClock) -> None:
    """A calendar correction plans an open limit again on the new calendar and moves it by the pauses its clock
    had, as unparking moved it: it never forgets them (QA, 2026-12-01: a change 22 years back, or a holiday inside
    the pause, used to put the limit back before the pause and raise false overdue alerts)."""
    case_id = patrol(engine)  # step due Tue 24 15:30, case limit Fri 27 10:00
    at(clock, 24, "11:00")
    engine.park(case_id, actor="fengzr", note="挂账")
    at(clock, 26, "10:00")
    engine.unpark(case_id, actor="fengzr", note="恢复")
    d = engine.deadline(case_id)
    assert d is not None and d.due_at == bj(26, "14:30")  # 3 working hours were left at Tue 11:00
    case_due = engine.get(case_id).deadline_at
    import datetime as dt

    at(clock, 26, "10:10")
    engine.set_calendar_day(dt.date(2004, 1, 5), False, note="很早以前的一天")  # before everything: nothing moves
    assert engine.deadline(case_id).due_at == bj(26, "14:30")
    assert engine.get(case_id).deadline_at == case_due
    engine.set_calendar_day(dt.date(2026, 11, 25), False, note="停课一天")  # inside the pause: nothing moves
    assert engine.deadline(case_id).due_at == bj(26, "14:30")
    engine.set_calendar_day(dt.date(2026, 11, 24), False, note="调休")  # the hour before the pause is no longer work
    assert engine.deadline(case_id).due_at == bj(26, "15:30")  # 4 working hours left at the restart, not 3
    at(clock, 26, "15:00")
    assert engine.sweep()["overdue"] == 0


# ----------------------------------------------------------------- waiting states that stop the clock


@pytest.fixture
def paused_workflow(tmp_path: Path) -> Path:
    text = (ROOT / "workflows.yaml").read_text(encoding="utf-8")
    old = "  - {id: street_leaders, label: 街道领导批件, tier: street, limit: 1 working day}"
    assert old in text
    text = text.replace(old, "  - {id: street_leaders, label: 街道领导批件, tier: street, paused: true}")
    (tmp_path / "organisation.yaml").write_text((ROOT / "organisation.yaml").read_text(encoding="utf-8"),
                                                encoding="utf-8")
    path = tmp_path / "workflows.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_paused_state_stops_the_case_clock(sqlite_url: str, clock: FixedClock, paused_workflow: Path) -> None:
    with sandbox(sqlite_url, clock, paused_workflow) as engine:
        case_id = to_street(engine, clock)  # case limit from Tue 10:00: Fri 27 10:00
        at(clock, 24, "11:00")
        view = engine.fire(case_id, "refer", actor="wujing", note="责任不清")
        assert view.state == "street_leaders" and engine.deadline(case_id) is None
        at(clock, 27, "12:00")  # past the case limit, but the clock is stopped
        assert engine.sweep()["raised"] == 0
        at(clock, 25, "11:00")
        view = engine.fire(case_id, "dispatch", actor="fengzr", to=[AQB], note="由安全办处置")
        # 20 working hours were left at Tue 11:00; from Wed 11:00: Wed 5h, Thu 7h, Fri 7h, Mon 1h
        assert view.deadline_at == bj(30, "10:00")


# ----------------------------------------------------------------- sources: informant and superior order


def test_informant_report_waits_for_verification(engine: Engine, clock: FixedClock) -> None:
    case_id = engine.report(source="informant", grid=GRID5, category="0104", desc="楼道暴露垃圾", actor="zhaomin").id
    view = engine.get(case_id)
    assert (view.state, view.source) == ("reported", "informant")
    d = engine.deadline(case_id)  # verification within 1 working hour
    assert d is not None and d.state == "reported" and d.due_at == bj(24, "11:00")
    with pytest.raises(PermissionDenied):  # an informant may not verify their own report
        engine.fire(case_id, "verify", actor="zhaomin")
    # verified late: the verification step's deadline passed and the superior platform was told
    at(clock, 24, "11:30")
    assert engine.sweep()["overdue"] == 1
    assert [(a.kind, a.unit) for a in engine.alerts(case_id=case_id)][-1] == ("overdue", COMMUNITY_E)
    view = engine.fire(case_id, "verify", actor="lixia", note="现场核实属实")
    assert view.state == "grid_handling"
    assert engine.deadline(case_id).state == "grid_handling"
    assert view.registered_at == bj(24, "11:30")  # registered (立案) at verification: the case clock starts
    assert view.deadline_at == bj(24, "17:00")  # 暴露垃圾: 4 working hours from 11:30


def test_invalid_informant_report_is_rejected_without_registration(engine: Engine) -> None:
    case_id = engine.report(source="informant", grid=GRID5, category="0101", desc="小广告", actor="zhaomin").id
    with pytest.raises(InputError, match="needs a note"):
        engine.fire(case_id, "reject", actor="wangjg")
    view = engine.fire(case_id, "reject", actor="wangjg", note="现场未发现")
    assert (view.state, view.open, view.deadline_at) == ("rejected", False, None)
    assert engine.deadline(case_id) is None


def test_superior_order_is_routed_down_to_the_grid(engine: Engine, clock: FixedClock) -> None:
    view = engine.report(source="order", grid=GRID5, category="0203", desc="区综治办交办：夜间噪声扰民",
                         actor="fengzr")
    assert (view.state, view.unit) == ("street_intake", STREET)
    view = engine.fire(view.id, "assign", actor="wujing")  # by grid code: to Community E
    assert (view.state, view.unit) == ("community_intake", COMMUNITY_E)
    view = engine.fire(view.id, "assign", actor="zhoumin")
    assert (view.state, view.unit, view.grid) == ("reported", GRID5, GRID5)
    view = engine.fire(view.id, "verify", actor="wangjg")
    assert view.state == "grid_handling"
    assert [(e.trigger, e.unit) for e in view.timeline] == [
        ("report", STREET), ("assign", COMMUNITY_E), ("assign", GRID5), ("verify", GRID5)]
