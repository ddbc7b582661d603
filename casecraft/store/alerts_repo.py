"""Deadlines and alerts: the queries of the time-limit machinery.

The sweep claims due deadline rows through a partial index on open
deadlines (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serialises
writers with ``BEGIN IMMEDIATE``) and inserts alerts under a unique key, so
several sweepers, a crash and a re-run never duplicate an alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from casecraft.store.models import Alert, Case, Deadline, Delivery
from casecraft.store.repo import Tx

deadlines_t = Deadline.__table__
alerts_t = Alert.__table__
cases_t = Case.__table__
deliveries_t = Delivery.__table__


_INSERT_DEADLINE = insert(deadlines_t).returning(deadlines_t.c.id)


def insert_deadline(tx: Tx, values: dict[str, Any]) -> int:
    return int(tx.conn.execute(_INSERT_DEADLINE, values).scalar_one())


@lru_cache(maxsize=32)
def _close_stmt(kinds: tuple[str, ...], fixed_outcome: bool) -> Any:
    now = bindparam("b_now", type_=deadlines_t.c.closed_at.type)
    result = bindparam("b_outcome") if fixed_outcome else case((deadlines_t.c.due_at >= now, "met"), else_="late")
    return (update(deadlines_t)
            .where(deadlines_t.c.case_id == bindparam("b_case_id"), deadlines_t.c.closed_at.is_(None),
                   deadlines_t.c.kind.in_(kinds))
            .values(closed_at=now, outcome=result, next_alert_at=None))


def close_deadlines(tx: Tx, case_id: int, now: datetime, kinds: Sequence[str] = ("step",),
                    outcome: str | None = None) -> None:
    """Close the case's open deadlines of ``kinds``: met if before due, else late (or ``outcome``)."""
    params: dict[str, Any] = {"b_case_id": case_id, "b_now": now}
    if outcome is not None:
        params["b_outcome"] = outcome
    tx.conn.execute(_close_stmt(tuple(kinds), outcome is not None), params)


def open_deadlines(tx: Tx, case_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The open step deadline of each case (by case id)."""
    if not case_ids:
        return {}
    rows = tx.conn.execute(
        select(deadlines_t).where(deadlines_t.c.case_id.in_(list(case_ids)), deadlines_t.c.closed_at.is_(None),
                                  deadlines_t.c.kind == "step")
    ).mappings()
    return {r["case_id"]: dict(r) for r in rows}


def move_case_deadline(tx: Tx, case_id: int, due: datetime) -> None:
    """Move the open whole-case deadline (an approved extension counts as on time)."""
    tx.conn.execute(update(deadlines_t).where(deadlines_t.c.case_id == case_id, deadlines_t.c.kind == "case",
                                              deadlines_t.c.closed_at.is_(None))
                    .values(due_at=due, extended=deadlines_t.c.extended + 1))


def update_deadline(tx: Tx, deadline_id: int, values: dict[str, Any]) -> None:
    tx.conn.execute(update(deadlines_t).where(deadlines_t.c.id == deadline_id).values(**values))


def claim_due(tx: Tx, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Open deadlines whose next alert is due, oldest first, locked for this sweeper."""
    q = (
        select(deadlines_t)
        .where(deadlines_t.c.closed_at.is_(None), deadlines_t.c.next_alert_at.is_not(None),
               deadlines_t.c.next_alert_at <= now)
        .order_by(deadlines_t.c.next_alert_at)
        .limit(limit)
    )
    if tx.conn.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    return [dict(r) for r in tx.conn.execute(q).mappings()]


def set_next_alerts(tx: Tx, updates: Sequence[tuple[int, datetime | None]]) -> None:
    if not updates:
        return
    stmt = (update(deadlines_t).where(deadlines_t.c.id == bindparam("_id"))
            .values(next_alert_at=bindparam("_next")))
    tx.conn.execute(stmt, [{"_id": i, "_next": n} for i, n in updates])


def insert_alerts(tx: Tx, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert alerts; rows whose key exists already are skipped. Returns the new ids."""
    if not rows:
        return []
    dialect = tx.conn.dialect.name
    ins: Any
    if dialect == "postgresql":
        ins = postgresql.insert(alerts_t)
    elif dialect == "sqlite":
        ins = sqlite.insert(alerts_t)
    else:  # pragma: no cover - only the two supported dialects
        raise NotImplementedError(dialect)
    ids: list[int] = []
    for row in rows:  # RETURNING with ON CONFLICT per row keeps the ids of what was really new
        new = tx.conn.execute(ins.values(**row).on_conflict_do_nothing(index_elements=["key"])
                              .returning(alerts_t.c.id)).scalar()
        if new is not None:
            ids.append(int(new))
    return ids


def alerts(tx: Tx, *, units: Any = None, only_open: bool = False, case_id: int | None = None,
           ids: Sequence[int] | None = None, limit: int = 500) -> list[dict[str, Any]]:
    q = select(alerts_t)
    if units is not None:
        q = q.where(alerts_t.c.unit_code.in_(units))
    if only_open:
        q = q.where(alerts_t.c.acked_at.is_(None))
    if case_id is not None:
        q = q.where(alerts_t.c.case_id == case_id)
    if ids is not None:
        q = q.where(alerts_t.c.id.in_(list(ids)))
    q = q.order_by(alerts_t.c.id).limit(limit)
    return [dict(r) for r in tx.conn.execute(q).mappings()]


def alert(tx: Tx, alert_id: int) -> dict[str, Any] | None:
    r = tx.conn.execute(select(alerts_t).where(alerts_t.c.id == alert_id)).mappings().first()
    return dict(r) if r else None


def ack(tx: Tx, alert_id: int, actor: str, now: datetime) -> bool:
    res = tx.conn.execute(update(alerts_t).where(alerts_t.c.id == alert_id, alerts_t.c.acked_at.is_(None))
                          .values(acked_by=actor, acked_at=now))
    return res.rowcount == 1


def count_alerts(tx: Tx) -> int:
    return int(tx.conn.execute(select(func.count()).select_from(alerts_t)).scalar_one())


def record_delivery(tx: Tx, alert_id: int, sink: str, status: str, attempts: int, error: str | None,
                    now: datetime) -> None:
    existing = tx.conn.execute(select(deliveries_t.c.id).where(deliveries_t.c.alert_id == alert_id,
                                                               deliveries_t.c.sink == sink)).scalar()
    values = {"status": status, "attempts": attempts, "last_error": error, "updated_at": now}
    if existing is None:
        tx.conn.execute(insert(deliveries_t).values(alert_id=alert_id, sink=sink, **values))
    else:
        tx.conn.execute(update(deliveries_t).where(deliveries_t.c.id == existing).values(**values))


def deliveries(tx: Tx, alert_id: int | None = None) -> list[dict[str, Any]]:
    q = select(deliveries_t).order_by(deliveries_t.c.id)
    if alert_id is not None:
        q = q.where(deliveries_t.c.alert_id == alert_id)
    return [dict(r) for r in tx.conn.execute(q).mappings()]


def cases_due(tx: Tx, *, before: datetime, overdue_at: datetime | None = None, limit: int = 500
              ) -> list[int]:
    """Open cases whose open step deadline is due before ``before``."""
    q = (select(deadlines_t.c.case_id).where(deadlines_t.c.closed_at.is_(None), deadlines_t.c.kind == "step",
                                             deadlines_t.c.due_at <= before)
         .order_by(deadlines_t.c.due_at).limit(limit))
    return [int(r[0]) for r in tx.conn.execute(q)]
