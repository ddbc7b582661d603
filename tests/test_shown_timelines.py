"""The view a step returns is the case as stored, whether its timeline was read or reused.

``fire`` and ``get`` reuse the timeline views they made last for a case while the case's
last entry hash, its version and the organisation stand (a timeline is append-only and
hash-chained). Each test compares what one engine returns with what a second engine, which
has reused nothing, reads from the same database — on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.throughput import PATH  # case C's path, as the benchmark walks it
from casecraft import Engine, FixedClock
from casecraft.cases.service import ShownTimelines
from casecraft.workflows.org import Organisation
from tests.conftest import WORKFLOW, bj

GRID5 = "110106004005005"
COMMUNITY_E = "110106004005"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(bj(24, "10:30"))


def _report(eng: Engine) -> int:
    return eng.report(source="patrol", grid=GRID5, category="0201", desc="消防设施隐患", actor="wangjg").id


def test_every_step_returns_the_case_as_another_engine_reads_it(engine: Engine, db_url: str,
                                                              clock: FixedClock) -> None:
    cid = _report(engine)
    other = Engine(db_url, WORKFLOW, clock)
    try:
        for trigger, actor, kw in PATH:
            shown = engine.fire(cid, trigger, actor=actor, **kw)
            stored = other.get(cid)
            assert shown.to_dict() == stored.to_dict(), trigger
            assert shown.timeline == stored.timeline
            assert [t.seq for t in shown.timeline] == list(range(1, shown.version + 1))
        assert engine.get(cid).to_dict() == other.get(cid).to_dict()
        assert shown.timeline[-1].trigger == "close" and not shown.open
        # a side step goes the same way
        second = _report(engine)
        urged = engine.urge(second, note="请尽快处置", actor="zhoumin")
        assert urged.to_dict() == other.get(second).to_dict()
    finally:
        other.close()


def test_a_step_by_another_engine_is_never_hidden(engine: Engine, db_url: str, clock: FixedClock) -> None:
    cid = _report(engine)
    other = Engine(db_url, WORKFLOW, clock)
    try:
        engine.fire(cid, *PATH[0][:1], actor=PATH[0][1], **PATH[0][2])
        engine.get(cid)
        other.fire(cid, *PATH[1][:1], actor=PATH[1][1], **PATH[1][2])  # this engine has not seen this step
        shown = engine.fire(cid, *PATH[2][:1], actor=PATH[2][1], **PATH[2][2])
        assert [t.trigger for t in shown.timeline] == ["report", "escalate", "dispatch", "feedback"]
        assert shown.to_dict() == other.get(cid).to_dict()
        assert engine.get(cid).to_dict() == other.get(cid).to_dict()
    finally:
        other.close()


def test_a_renamed_unit_shows_its_new_name_on_every_entry(engine: Engine, db_url: str, clock: FixedClock) -> None:
    cid = _report(engine)
    engine.fire(cid, *PATH[0][:1], actor=PATH[0][1], **PATH[0][2])
    before = engine.get(cid)
    assert before.timeline[-1].unit == COMMUNITY_E
    unit = engine.org.unit(COMMUNITY_E)
    assert unit is not None and unit.name != "E社区（更名）"
    engine.load_organisation(Organisation(units={COMMUNITY_E: replace(unit, name="E社区（更名）")}, people={}),
                             actor="liming")
    shown = engine.fire(cid, *PATH[1][:1], actor=PATH[1][1], **PATH[1][2])
    named = [t.unit_name for t in shown.timeline if t.unit == COMMUNITY_E]
    assert len(named) == 2 and all("E社区（更名）" in n for n in named)
    assert engine.get(cid).to_dict() == shown.to_dict()


def test_what_is_kept_is_bounded(engine: Engine, db_url: str, clock: FixedClock,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ShownTimelines, "SIZE", 3)
    ids = [_report(engine) for _ in range(6)]
    for cid in ids:
        engine.fire(cid, *PATH[0][:1], actor=PATH[0][1], **PATH[0][2])
    assert len(engine.cases.shown) == 3
    other = Engine(db_url, WORKFLOW, clock)
    try:
        for cid in ids:  # the forgotten ones are read again, the kept ones reused: the same either way
            assert engine.get(cid).to_dict() == other.get(cid).to_dict()
    finally:
        other.close()
