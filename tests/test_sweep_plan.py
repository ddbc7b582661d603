"""The overdue sweep's claim query uses the partial index on running step limits (EXPLAIN, both backends).

The statement is the one ``alerts_repo.claim_due`` really sends (captured from
the connection), explained with its own parameters over a table shaped like
production: most cases closed, a share open with a running step limit on the
case row, a few of those due.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from casecraft import Engine, FixedClock
from casecraft.base.records import STAGE_COLUMNS, stage_columns
from casecraft.store.models import Case, Deadline
from tests.conftest import WORKFLOW, bj, sandbox

GRID5 = "110106004005005"
NOW = bj(24, "17:00")
ROWS = 20_000  # 30% open, of which one in ten is due


def _fill(eng: Engine) -> None:
    """ROWS cases copied from a reported one: 30% open with their running step limit on the case row (one in
    ten of those due), the others closed, each with its ended step limit in ``deadlines``."""
    case_id = eng.report(source="patrol", grid=GRID5, category="0101", desc="小广告", actor="wangjg").id
    ct = Case.__table__
    with eng.store.read() as tx:
        template = dict(tx.conn.execute(sa.select(ct).where(ct.c.id == case_id)).mappings().one())
    del template["id"]
    cases: list[dict[str, Any]] = []
    ended: list[dict[str, Any]] = []
    for i in range(ROWS):
        start = NOW - timedelta(days=30) + timedelta(minutes=i)
        is_open = i % 10 < 3
        nxt = (NOW - timedelta(minutes=i % 60) if i % 100 < 3 else NOW + timedelta(hours=1 + i % 48)) if is_open \
            else None
        limit = {"seq": 1, "state": "grid_handling", "tier": "grid", "unit_code": GRID5,
                 "limit_text": "4 working hours", "calendar": "calendar_days", "started_at": start,
                 "warn_at": start + timedelta(hours=3), "due_at": start + timedelta(hours=4), "escalate_at": None,
                 "next_alert_at": nxt, "extended": 0, "closed_at": None, "outcome": None, "provisional": False}
        row = {**template, **dict.fromkeys(STAGE_COLUMNS)}
        if is_open:
            row.update(stage_columns(limit))
        else:
            row["is_open"] = False
            ended.append({**limit, "case_id": None, "kind": "step", "next_alert_at": None,
                          "closed_at": start + timedelta(hours=2), "outcome": "met", "i": i})
        cases.append(row)
    with eng.store.write() as tx:
        tx.conn.execute(sa.insert(ct), cases)
        first = int(tx.conn.execute(sa.select(sa.func.max(ct.c.id))).scalar_one()) - ROWS + 1
        for d in ended:
            d["case_id"] = first + d.pop("i")
        tx.conn.execute(sa.insert(Deadline.__table__), ended)
    with eng.store.engine.connect() as conn:  # fresh statistics, as autovacuum/ANALYZE keep them in production
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def _claim_statement(eng: Engine) -> tuple[str, Any, int]:
    """The SQL and parameters that claim_due sends, and how many rows it claimed."""
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if "FROM cases" in statement and "stage_next_alert_at" in statement \
                and statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    sa.event.listen(eng.store.engine, "before_cursor_execute", capture)
    try:
        with eng.store.write() as tx:
            claimed = tx.claim_due(NOW, 500)
            tx.conn.rollback()
    finally:
        sa.event.remove(eng.store.engine, "before_cursor_execute", capture)
    assert len(seen) == 1, seen
    return seen[0][0], seen[0][1], len(claimed)


def _explain(eng: Engine, statement: str, params: Any) -> str:
    prefix = "EXPLAIN QUERY PLAN " if eng.store.dialect == "sqlite" else "EXPLAIN "
    with eng.store.engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + statement, params).all()
        conn.rollback()
    return "\n".join(str(r[-1]) for r in rows)


def test_claim_due_uses_the_partial_index(db_url: str) -> None:
    eng = sandbox(db_url, FixedClock(NOW))
    try:
        _fill(eng)
        statement, params, claimed = _claim_statement(eng)
        assert claimed == 500  # 601 rows are due (600 + the reported case): one full batch
        plan = _explain(eng, statement, params)
    finally:
        eng.close()
    assert "ix_cases_stage_next_alert" in plan, plan
    if db_url.startswith("sqlite"):
        assert "SEARCH cases USING INDEX ix_cases_stage_next_alert" in plan, plan
        assert "TEMP B-TREE" not in plan, plan  # the index gives the order: no sort
    else:
        # an Index Scan in index order, or a Bitmap Index Scan of the few due rows then a small sort
        assert "Index Scan using ix_cases_stage_next_alert on cases" in plan \
            or "Bitmap Index Scan on ix_cases_stage_next_alert" in plan, plan
        assert "Seq Scan" not in plan, plan
        assert "LockRows" in plan, plan  # FOR NO KEY UPDATE SKIP LOCKED


def test_claimed_records_are_the_stored_rows(db_url: str) -> None:
    """The claim reads only the sweep's columns and converts timestamps itself: the values must be the
    stored rows' as the full row reader gives them (aware UTC datetimes), oldest next alert first."""
    from casecraft.base.records import DueDeadline

    eng = Engine(db_url, WORKFLOW, FixedClock(NOW))
    try:
        eng.init(sandbox=True)
        _fill(eng)
        ct = Case.__table__
        with eng.store.write() as tx:
            claimed = tx.claim_due(NOW, 50)
            full = {r.id: r for r in tx.conn.execute(sa.select(ct).where(ct.c.id.in_([d.case_id for d in claimed])))}
            tx.conn.rollback()
    finally:
        eng.close()
    assert len(claimed) == 50
    assert all(isinstance(d, DueDeadline) for d in claimed)
    for d in claimed:
        row = full[d.case_id]
        assert d == (-row.id, row.id, *(getattr(row, f"stage_{name}") for name in DueDeadline._fields[2:]))
        assert d.due_at.utcoffset() == timedelta(0) and d.next_alert_at is not None
        assert d.next_alert_at <= NOW
    nexts = [d.next_alert_at for d in claimed]
    assert nexts == sorted(nexts)
