"""Refusals leave every table exactly as it was; conflicts never lose an update."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from casecraft import (
    ConflictError,
    Engine,
    FixedClock,
    InputError,
    NotFound,
    PermissionDenied,
    TriggerNotAllowed,
)
from tests.conftest import WORKFLOW, bj, sandbox

GRID5 = "110106004005005"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = sandbox(db_url, FixedClock(bj(24, "09:00")))
    yield eng
    eng.close()


def patrol_case(engine: Engine) -> int:
    return engine.report(source="patrol", grid=GRID5, category="0101", desc="小广告", actor="wangjg").id


@pytest.mark.parametrize(
    ("trigger", "actor", "kwargs", "error", "phrase"),
    [
        # illegal trigger for the state: the message lists what is allowed
        ("close", "wangjg", {}, TriggerNotAllowed, "Allowed: dispatch, resolve, escalate"),
        ("verify", "wangjg", {}, TriggerNotAllowed, "not allowed"),
        # forbidden role: the community operator may not resolve a grid case
        ("resolve", "zhoumin", {}, PermissionDenied, "needs one of: grid_leader"),
        # an actor from another unit: grid 1's leader
        ("resolve", "sunli", {}, PermissionDenied, "may act only on that unit's cases"),
        # the dispatched member is not an assignee of this case
        ("escalate", "liuqiang", {"note": "x"}, PermissionDenied, "needs one of"),
        # missing requirements
        ("escalate", "wangjg", {}, InputError, "needs a note"),
        ("dispatch", "wangjg", {"to": ["zhenglei"]}, InputError, "not part of"),
        ("dispatch", "wangjg", {"to": ["nobody"]}, InputError, "unknown person or unit"),
        ("resolve", "ghost", {}, InputError, "unknown person"),
        ("resolve", "wangjg", {"note": "bad\x00note"}, InputError, "control characters"),
        ("resolve", "wangjg", {"outcome": "maybe"}, InputError, "unknown outcome"),
    ],
)
def test_refusals_leave_every_table_unchanged(engine: Engine, trigger: str, actor: str, kwargs: dict[str, object],
                                              error: type[Exception], phrase: str) -> None:
    case_id = patrol_case(engine)
    before = engine.snapshot()
    with pytest.raises(error) as info:
        engine.fire(case_id, trigger, actor=actor, **kwargs)  # type: ignore[arg-type]
    assert phrase in str(info.value)
    assert engine.snapshot() == before


def test_unknown_case_and_finished_case(engine: Engine) -> None:
    before = engine.snapshot()
    with pytest.raises(NotFound):
        engine.fire(999, "resolve", actor="wangjg")
    case_id = patrol_case(engine)
    for trig in ("resolve", "check", "close"):
        engine.fire(case_id, trig, actor="wangjg")
    snap = engine.snapshot()
    with pytest.raises(TriggerNotAllowed, match="finished"):
        engine.fire(case_id, "check", actor="wangjg")
    assert engine.snapshot() == snap
    assert len(snap["cases"]) == len(before["cases"]) + 1


def test_feedback_needs_an_outcome_and_only_from_assignees(engine: Engine) -> None:
    case_id = patrol_case(engine)
    engine.fire(case_id, "dispatch", actor="wangjg", to=["liuqiang"])
    snap = engine.snapshot()
    with pytest.raises(InputError, match="needs an outcome: solved or unsolved"):
        engine.fire(case_id, "feedback", actor="liuqiang")
    with pytest.raises(PermissionDenied):
        engine.fire(case_id, "feedback", actor="zhangwei", outcome="solved")  # not dispatched to him
    assert engine.snapshot() == snap
    view = engine.fire(case_id, "feedback", actor="liuqiang", outcome="unsolved", note="店主不配合")
    assert view.state == "grid_handling" and view.assignees == ()


def test_report_refusals(engine: Engine) -> None:
    before = engine.snapshot()
    cases = [
        (dict(source="patrol", grid=GRID5, category="9999", desc="x", actor="wangjg"), InputError, "unknown category"),
        (dict(source="patrol", grid="110106004005999", category="0101", desc="x", actor="wangjg"), InputError,
         "unknown grid"),
        (dict(source="radio", grid=GRID5, category="0101", desc="x", actor="wangjg"), InputError, "unknown source"),
        (dict(source="patrol", grid=GRID5, category="0101", desc="  ", actor="wangjg"), InputError, "empty"),
        (dict(source="patrol", grid=GRID5, category="0101", desc="x" * 2001, actor="wangjg"), InputError,
         "at most 2000"),
        (dict(source="patrol", grid=GRID5, category="0101", desc="x", actor="zhoumin"), PermissionDenied,
         "may not report"),
        (dict(source="patrol", grid=GRID5, category="0101", desc="x", actor="sunli"), PermissionDenied,
         "may not report"),
        (dict(source="hotline", grid=GRID5, category="0101", desc="x", actor="wangjg"), PermissionDenied,
         "may not report"),
    ]
    for kwargs, error, phrase in cases:
        with pytest.raises(error, match=phrase):
            engine.report(**kwargs)  # type: ignore[arg-type]
    assert engine.snapshot() == before


def test_duplicate_ticket_refused(engine: Engine) -> None:
    first = engine.report(source="hotline", grid=GRID5, category="0102", desc="x", actor="wujing", ref="T1")
    snap = engine.snapshot()
    with pytest.raises(Exception, match=f"already reported as case {first.id}"):
        engine.report(source="hotline", grid=GRID5, category="0102", desc="x", actor="wujing", ref="T1")
    assert engine.snapshot() == snap


def test_two_sessions_on_one_case_one_conflicts(db_url: str) -> None:
    clock = FixedClock(bj(24, "09:00"))
    one = sandbox(db_url, clock)
    two = Engine(db_url, WORKFLOW, clock)
    case_id = patrol_case(one)
    # both operators look at the case (version 1) and act on what they saw
    seen_one = one.get(case_id).version
    seen_two = two.get(case_id).version
    one.fire(case_id, "resolve", actor="wangjg", expected_version=seen_one)
    with pytest.raises(ConflictError, match="changed by someone else"):
        two.fire(case_id, "escalate", actor="lixia", note="上报", expected_version=seen_two)
    case = one.get(case_id)
    assert case.state == "to_check"
    assert [e.trigger for e in case.timeline] == ["report", "resolve"]
    one.close()
    two.close()


def test_subtree_roles_act_below_their_unit(engine: Engine) -> None:
    # the street leader (scope subtree) may resolve a street case; a case at community level is not his
    case_id = patrol_case(engine)
    engine.fire(case_id, "escalate", actor="wangjg", note="上报社区")
    engine.fire(case_id, "escalate", actor="zhoumin", note="上报街道")
    view = engine.fire(case_id, "resolve", actor="fengzr", note="批件处理")
    assert view.state == "street_resolved" and view.resolved_tier == "street"


def test_rework_returns_to_the_resolving_tier(engine: Engine) -> None:
    case_id = patrol_case(engine)
    engine.fire(case_id, "escalate", actor="wangjg", note="上报社区")
    engine.fire(case_id, "resolve", actor="zhoumin")
    engine.fire(case_id, "relay", actor="zhoumin")
    view = engine.fire(case_id, "rework", actor="wangjg", note="现场未解决")
    assert (view.state, view.tier, view.unit) == ("community_handling", "community", "110106004005")


def test_joint_meeting_path(engine: Engine) -> None:
    case_id = patrol_case(engine)
    engine.fire(case_id, "escalate", actor="wangjg", note="1")
    engine.fire(case_id, "escalate", actor="zhoumin", note="2")
    engine.fire(case_id, "escalate", actor="wujing", note="3")
    view = engine.fire(case_id, "convene", actor="yangfq", note="重大疑难")
    assert (view.state, view.tier, view.unit) == ("joint_meeting", "joint_meeting", "110106-lxh")
    engine.fire(case_id, "resolve", actor="xuming", note="联席会协调解决")
    for actor, state, unit in [("xuming", "district_resolved", "110106"), ("qianhao", "street_resolved", "110106004"),
                               ("wujing", "community_resolved", "110106004005"), ("zhoumin", "to_check", GRID5)]:
        view = engine.fire(case_id, "relay", actor=actor)
        assert (view.state, view.unit) == (state, unit)


def test_attachments_stored_content_addressed(engine: Engine, tmp_path: Path) -> None:
    png = tmp_path / "evil name ..png"
    from PIL import Image

    Image.new("RGB", (8, 8), (200, 30, 30)).save(png, "PNG")
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    case_id = patrol_case(engine)
    snap = engine.snapshot()
    with pytest.raises(InputError, match="not an image"):
        engine.fire(case_id, "resolve", actor="wangjg", photos=[str(txt)])
    assert engine.snapshot() == snap
    view = engine.fire(case_id, "resolve", actor="wangjg", photos=[str(png)])
    att = view.timeline[-1].attachments[0]
    media, data = engine.attachment(att["sha256"])  # the normalised bytes, in the database, by their hash
    assert att["type"] == media == "image/png" and att["size"] == len(data) and len(att["sha256"]) == 64
    assert att["name"] == "evil name ..png"
