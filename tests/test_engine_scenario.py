"""The canonical three-case scenario through the library, on SQLite and PostgreSQL.

Every state, tier, unit and timeline entry is asserted; the same scenario runs
again with a fresh engine (reloaded from the store) between every step.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from casecraft import Engine, FixedClock
from tests.conftest import WORKFLOW, bj, sandbox, sandbox_db

GRID5 = "110106004005005"
COMM_E = "110106004005"
STREET = "110106004"
AQB = "110106004-aqb"

# (letter, day, time, trigger, actor, kwargs, expected state, tier, unit, assignees)
SCENARIO: list[tuple[str, int, str, str, str, dict[str, object], str, str, str, tuple[str, ...]]] = [
    ("B", 24, "08:40", "report", "wujing", {"source": "hotline", "grid": GRID5, "category": "0102",
                                           "desc": "商铺门前摆摊", "ref": "96005-0031"},
     "street_intake", "street", STREET, ()),
    ("B", 24, "08:50", "assign", "wujing", {"to": [COMM_E]}, "community_intake", "community", COMM_E, ()),
    ("B", 24, "09:02", "assign", "zhoumin", {"to": [GRID5]}, "reported", "grid", GRID5, ()),
    ("A", 24, "09:15", "report", "wangjg", {"source": "patrol", "grid": GRID5, "category": "0101",
                                           "desc": "楼门张贴小广告"},
     "grid_handling", "grid", GRID5, ()),
    ("A", 24, "09:20", "resolve", "wangjg", {"note": "已清除"}, "to_check", "grid", GRID5, ()),
    ("A", 24, "09:21", "check", "wangjg", {}, "checked", "grid", GRID5, ()),
    ("A", 24, "09:22", "close", "wangjg", {}, "closed", "grid", GRID5, ()),
    ("B", 24, "09:30", "verify", "wangjg", {"note": "属实，店主拒绝"}, "grid_handling", "grid", GRID5, ()),
    ("B", 24, "09:35", "dispatch", "wangjg", {"to": ["liuqiang"]}, "grid_dispatched", "grid", GRID5,
     ("liuqiang",)),
    ("B", 24, "10:05", "feedback", "liuqiang", {"outcome": "solved", "note": "已劝离"}, "to_check", "grid",
     GRID5, ()),
    ("B", 24, "10:10", "check", "wangjg", {}, "checked", "grid", GRID5, ()),
    ("B", 24, "10:12", "close", "wangjg", {}, "closed", "grid", GRID5, ()),
    ("C", 24, "10:30", "report", "wangjg", {"source": "patrol", "grid": GRID5, "category": "0201",
                                           "desc": "消防设施隐患"},
     "grid_handling", "grid", GRID5, ()),
    ("C", 24, "10:35", "escalate", "wangjg", {"note": "不熟悉消防"}, "community_handling", "community", COMM_E, ()),
    ("C", 24, "10:50", "dispatch", "zhoumin", {"to": ["zhangwei", "chengang"]}, "community_dispatched",
     "community", COMM_E, ("zhangwei", "chengang")),
    # both dispatched parties feed back; the case moves on with the second
    ("C", 24, "15:05", "feedback", "chengang", {"outcome": "unsolved", "note": "需打孔安装"},
     "community_dispatched", "community", COMM_E, ("zhangwei", "chengang")),
    ("C", 24, "15:10", "feedback", "zhangwei", {"outcome": "unsolved", "note": "需打孔安装"},
     "community_handling", "community", COMM_E, ()),
    ("C", 24, "15:30", "escalate", "zhoumin", {"note": "需协调地区单位"}, "street_handling", "street", STREET, ()),
    ("C", 24, "15:45", "dispatch", "wujing", {}, "street_dispatched", "street", STREET, (AQB,)),
    ("C", 25, "10:30", "feedback", "zhenglei", {"outcome": "solved"}, "street_resolved", "street", STREET, ()),
    ("C", 25, "10:40", "relay", "wujing", {}, "community_resolved", "community", COMM_E, ()),
    ("C", 25, "10:50", "relay", "zhangwei", {}, "to_check", "grid", GRID5, ()),
    ("C", 25, "11:10", "check", "wangjg", {}, "checked", "grid", GRID5, ()),
    ("C", 25, "11:15", "close", "wangjg", {}, "closed", "grid", GRID5, ()),
]


def run(db_url: str, engine_for: Callable[[FixedClock], Engine]) -> tuple[Engine, dict[str, int]]:
    clock = FixedClock(bj(24, "08:00"))
    sandbox_db(db_url, clock)
    engine = engine_for(clock)
    engine.init(sandbox=True)
    ids: dict[str, int] = {}
    for letter, day, hhmm, trigger, actor, kw, state, tier, unit, assignees in SCENARIO:
        clock.set(bj(day, hhmm))
        if trigger == "report":
            view = engine.report(actor=actor, **kw)  # type: ignore[arg-type]
            ids[letter] = view.id
        else:
            view = engine.fire(ids[letter], trigger, actor=actor, **kw)  # type: ignore[arg-type]
        assert (view.state, view.tier, view.unit, view.assignees) == (state, tier, unit, assignees), (
            letter, trigger)
        engine = engine_for(clock)  # a no-op for the plain run; a fresh engine for the reload run
    return engine, ids


def check_timelines(engine: Engine, ids: dict[str, int]) -> None:
    for letter, case_id in ids.items():
        case = engine.get(case_id)
        assert case.state == "closed" and not case.open
        steps = [s for s in SCENARIO if s[0] == letter]
        assert [e.trigger for e in case.timeline] == [s[3] for s in steps]
        assert [e.actor for e in case.timeline] == [s[4] for s in steps]
        assert [e.to_state for e in case.timeline] == [s[6] for s in steps]
        assert [e.to_tier for e in case.timeline] == [s[7] for s in steps]
        assert [e.unit for e in case.timeline] == [s[8] for s in steps]
        assert [e.at for e in case.timeline] == [bj(s[1], s[2]) for s in steps]
        assert [e.from_state for e in case.timeline][1:] == [e.to_state for e in case.timeline][:-1]
        assert case.timeline[0].from_state is None
        # hash chain
        assert case.timeline[0].seq == 1 and [e.seq for e in case.timeline] == list(range(1, len(steps) + 1))
        assert case.closed_at == bj(steps[-1][1], steps[-1][2])
    c = engine.get(ids["C"])
    dispatch = [e for e in c.timeline if e.trigger == "dispatch"]
    assert dispatch[0].targets == ("zhangwei", "chengang")
    assert dispatch[1].targets == (AQB,)  # routed by the catalogue: 消防安全隐患 → 安全办
    assert [e.outcome for e in c.timeline if e.trigger == "feedback"] == ["unsolved", "unsolved", "solved"]
    assert c.resolved_tier == "street"
    a = engine.get(ids["A"])
    assert a.resolved_tier == "grid" and a.source == "patrol"
    b = engine.get(ids["B"])
    assert b.ref == "96005-0031" and b.source == "hotline" and b.resolved_tier == "grid"


def test_three_cases_end_to_end(db_url: str) -> None:
    engine_holder: list[Engine] = []

    def same(clock: FixedClock) -> Engine:
        if not engine_holder:
            engine_holder.append(Engine(db_url, WORKFLOW, clock))
        return engine_holder[0]

    engine, ids = run(db_url, same)
    check_timelines(engine, ids)
    engine.close()


def test_three_cases_reloaded_between_every_step(db_url: str) -> None:
    engines: list[Engine] = []

    def fresh(clock: FixedClock) -> Engine:
        if engines:
            engines[-1].close()
        engines.append(Engine(db_url, WORKFLOW, clock))
        return engines[-1]

    engine, ids = run(db_url, fresh)
    check_timelines(engine, ids)
    engine.close()
    assert len(engines) == len(SCENARIO) + 1


@pytest.fixture
def engine(db_url: str) -> Engine:
    clock = FixedClock(bj(24, "09:00"))
    eng = sandbox(db_url, clock)
    yield eng
    eng.close()
