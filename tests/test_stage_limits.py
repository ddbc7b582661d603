"""The running step limit on the case row (migration 0006, docs/design/stage-limits.md).

A step's limit lives in the case row's ``stage_*`` columns while it runs or is paused, and is written to
``deadlines`` once, complete, when its stage ends; the sweep claims the case rows; the migration moves
running limits onto their cases and back, keeping the ids their alerts name.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from casecraft import FixedClock
from casecraft.audit import verify as audit
from casecraft.base.records import STAGE_COLUMNS
from casecraft.store import db as dbmod
from casecraft.store.models import Case
from tests.conftest import bj, sandbox

GRID5 = "110106004005005"


def _stage(eng: Any, cid: int) -> dict[str, Any]:
    """The case row's stage columns, converted by their types (times aware, in UTC)."""
    cases = Case.__table__
    with eng.store.engine.connect() as conn:
        row = conn.execute(sa.select(*(cases.c[c] for c in STAGE_COLUMNS)).where(cases.c.id == cid)).one()
    return dict(zip(STAGE_COLUMNS, row, strict=True))


def _steps(eng: Any, cid: int) -> list[tuple[Any, ...]]:
    """The case's step rows in ``deadlines``: (id, seq, state, closed?, outcome, next_alert_at)."""
    with eng.store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT id, seq, state, closed_at IS NOT NULL, outcome, next_alert_at FROM deadlines "
            "WHERE case_id = :i AND kind = 'step' ORDER BY id"), {"i": cid})]


def _alerts(eng: Any, cid: int) -> list[tuple[Any, ...]]:
    with eng.store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT key, kind, deadline_id FROM alerts WHERE case_id = :i ORDER BY id"), {"i": cid})]


def _patrol(eng: Any) -> int:
    return int(eng.report(source="patrol", grid=GRID5, category="0101", desc="小广告", actor="wangjg").id)


def test_a_step_keeps_its_limit_on_the_case_row_and_writes_the_one_it_ended(db_url: str) -> None:
    clock = FixedClock(bj(24, "10:00"))
    eng = sandbox(db_url, clock)
    try:
        cid = _patrol(eng)
        stage = _stage(eng, cid)
        shown = eng.deadline(cid)
        assert shown is not None
        assert (stage["stage_seq"], stage["stage_state"], stage["stage_closed_at"]) == (1, "grid_handling", None)
        assert stage["stage_due_at"] == shown.due_at and stage["stage_next_alert_at"] == shown.warn_at
        assert _steps(eng, cid) == []  # no row while it runs

        clock.advance(minutes=30)
        eng.fire(cid, "escalate", actor="wangjg", note="超出网格能力")
        steps = _steps(eng, cid)
        assert [(s[1], s[2], s[3], s[4], s[5]) for s in steps] == [(1, "grid_handling", True, "met", None)]
        stage = _stage(eng, cid)
        assert stage["stage_seq"] == 2 and stage["stage_state"] != "grid_handling"
        assert stage["stage_closed_at"] is None and stage["stage_row_id"] is None
        report = audit.verify(eng)
        assert report.ok, report.to_dict()
    finally:
        eng.close()


def test_the_sweep_claims_case_rows_and_keys_alerts_by_case_and_seq(db_url: str) -> None:
    clock = FixedClock(bj(24, "10:00"))
    eng = sandbox(db_url, clock)
    try:
        cid = _patrol(eng)
        d = eng.deadline(cid)
        assert d is not None and d.warn_at is not None
        clock.set(d.warn_at)
        assert eng.sweep()["warning"] == 1
        assert _alerts(eng, cid) == [(f"s{cid}:1:warning:0", "warning", None)]
        assert _stage(eng, cid)["stage_next_alert_at"] == d.due_at
        assert eng.sweep()["raised"] == 0  # exactly once
        clock.set(d.due_at)
        assert eng.sweep()["overdue"] == 1
        assert [a[0] for a in _alerts(eng, cid)] == [f"s{cid}:1:warning:0", f"s{cid}:1:overdue:0"]
        assert eng.due_cases() == [cid]
    finally:
        eng.close()


def test_a_parked_case_keeps_its_paused_limit_on_the_row(db_url: str) -> None:
    clock = FixedClock(bj(24, "10:00"))
    eng = sandbox(db_url, clock)
    try:
        cid = _patrol(eng)
        due = _stage(eng, cid)["stage_due_at"]
        clock.advance(minutes=30)
        eng.park(cid, actor="fengzr", note="需区级协调，暂挂账")
        stage = _stage(eng, cid)
        assert stage["stage_outcome"] == "paused" and stage["stage_closed_at"] is not None
        assert eng.deadline(cid) is None and _steps(eng, cid) == []
        clock.set(bj(25, "10:00"))  # a whole working day stopped
        eng.unpark(cid, actor="fengzr", note="恢复")
        stage = _stage(eng, cid)
        assert stage["stage_outcome"] is None and stage["stage_closed_at"] is None
        assert stage["stage_due_at"] > due  # moved on by the pause
        report = audit.verify(eng)
        assert report.ok, report.to_dict()
    finally:
        eng.close()


def test_the_migration_moves_running_limits_and_back_keeping_their_ids(db_url: str) -> None:
    from alembic import command

    clock = FixedClock(bj(24, "10:00"))
    eng = sandbox(db_url, clock)
    running, parked = _patrol(eng), _patrol(eng)
    clock.advance(minutes=30)
    eng.park(parked, actor="fengzr", note="需区级协调，暂挂账")
    before = {c: _stage(eng, c) for c in (running, parked)}
    url = eng.store.engine.url
    eng.close()

    engine = dbmod.make_engine(url.render_as_string(hide_password=False))
    cfg = dbmod.alembic_config()
    try:
        with engine.connect() as conn, dbmod.migrating(conn), conn.begin():
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0005")
            dbmod.check_foreign_keys(conn)
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("cases")}
            assert not columns & set(STAGE_COLUMNS)
            rows = {r[0]: r[1:] for r in conn.execute(sa.text(
                "SELECT case_id, id, seq, closed_at IS NULL, outcome, due_at FROM deadlines WHERE kind = 'step' "
                "ORDER BY case_id"))}
        assert rows[running][1:4] == (1, True, None) and rows[parked][1:4] == (1, False, "paused")
        ids = {c: rows[c][0] for c in rows}
        assert dbmod.ensure_schema(engine) is True  # 0005 -> head
    finally:
        engine.dispose()

    eng = sandbox(db_url, clock)
    try:
        for c in (running, parked):
            after = _stage(eng, c)
            assert after["stage_row_id"] == ids[c]
            assert {k: v for k, v in after.items() if k != "stage_row_id"} == \
                {k: v for k, v in before[c].items() if k != "stage_row_id"}
            assert _steps(eng, c) == []
        report = audit.verify(eng)
        assert report.ok, report.to_dict()
        # a stage opened before 0006 keeps its row's id: its alerts are keyed by it, and its row is written
        # with it when the stage ends
        d = eng.deadline(running)
        assert d is not None
        clock.set(d.due_at)
        eng.sweep()
        assert (f"d{ids[running]}:overdue:0", "overdue", ids[running]) in _alerts(eng, running)
        clock.advance(minutes=1)
        eng.fire(running, "escalate", actor="wangjg", note="超出网格能力")
        assert [(s[0], s[4]) for s in _steps(eng, running)] == [(ids[running], "late")]
        report = audit.verify(eng)
        assert report.ok, report.to_dict()
    finally:
        eng.close()


def test_the_audit_finds_a_running_limit_edited_on_the_case_row(db_url: str) -> None:
    """The running limit's columns are checked against the facts the chain committed to, as a deadlines row is:
    moving its due time behind casecraft's back is a finding of the case and step."""
    clock = FixedClock(bj(24, "10:00"))
    eng = sandbox(db_url, clock)
    try:
        cid = _patrol(eng)
        assert audit.verify(eng).ok
        with eng.store.engine.begin() as conn:
            cases = Case.__table__
            conn.execute(sa.update(cases).where(cases.c.id == cid).values(stage_due_at=bj(30, "17:00")))
        found = [(f.case, f.seq, f.kind) for f in audit.verify(eng).findings]
        assert (cid, 1, "deadline") in found, found
    finally:
        eng.close()
