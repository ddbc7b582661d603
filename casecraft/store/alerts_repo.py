"""Deadlines, alerts and the alert outbox: the queries of the time-limit machinery.

The sweep claims due deadline rows through a partial index on open
deadlines (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serialises
writers with ``BEGIN IMMEDIATE``) and inserts alerts under a unique key, so
several sweepers, a crash and a re-run never duplicate an alert. In the same
transaction it queues one pending delivery per sink (the outbox), which
delivery workers claim under a lease.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    Connection,
    DateTime,
    String,
    Table,
    and_,
    bindparam,
    case,
    insert,
    or_,
    select,
    type_coerce,
    update,
)

from casecraft.base.errors import ConflictError
from casecraft.base.records import (
    STAGE_COLUMNS,
    STAGE_FIELDS,
    AlertRow,
    ClosedDeadline,
    DeadlineRow,
    DueDeadline,
    stage_of,
)
from casecraft.store import direct
from casecraft.store.models import Alert, Case, Deadline, Delivery

deadlines_t = cast(Table, Deadline.__table__)
alerts_t = cast(Table, Alert.__table__)
deliveries_t = cast(Table, Delivery.__table__)

_INSERT_DEADLINE = insert(deadlines_t).inline()  # no RETURNING of the new id (PostgreSQL would add one)
_DEADLINE_COLUMNS = [c.name for c in deadlines_t.columns]

cases_t = cast(Table, Case.__table__)
_STAGE = [cases_t.c[c] for c in STAGE_COLUMNS]
_STAGE_OF_CASE = select(*_STAGE).where(cases_t.c.id == bindparam("b_case_id"))
_RUNNING = and_(cases_t.c.stage_seq.is_not(None), cases_t.c.stage_closed_at.is_(None))

# The sweep's claim, built once: only the columns the sweep reads (DueDeadline's), from the case rows' running
# step limits through the partial index ix_cases_stage_next_alert; PostgreSQL locks the case rows it returns
# (FOR NO KEY UPDATE, as an operator's step does) and skips those another sweeper or an operator holds: the
# next pass takes them. A batch is 500 rows of four timestamps each, so the timestamps skip UTCDateTime's
# per-value processing: PostgreSQL returns them aware already; SQLite's naive-UTC text is read by one C call
# per value.
_TIMES = ("warn_at", "due_at", "escalate_at", "next_alert_at")


def _claim(time_type: Any) -> Any:
    c = cases_t.c
    cols = [(0 - c.id).label("id"), c.id.label("case_id")]
    for n in DueDeadline._fields[2:]:
        col = c[f"stage_{n}"]
        cols.append(type_coerce(col, time_type).label(n) if n in _TIMES else col.label(n))
    return (select(*cols)
            .where(c.stage_closed_at.is_(None), c.stage_next_alert_at.is_not(None),
                   c.stage_next_alert_at <= bindparam("now", type_=c.stage_next_alert_at.type))
            .order_by(c.stage_next_alert_at)
            .limit(bindparam("limit")))


_CLAIM_SQLITE = _claim(String())
_CLAIM_PG = _claim(DateTime(timezone=True)).with_for_update(skip_locked=True, key_share=True)
_SET_NEXT_STAGE = (update(cases_t).where(cases_t.c.id == bindparam("_case"))
                   .values(stage_next_alert_at=bindparam("_next")))


def deadline_row(r: Any) -> DeadlineRow:
    return DeadlineRow(**{k: r[k] for k in _DEADLINE_COLUMNS})


def stage_row(r: Any) -> DeadlineRow | None:
    """The step limit kept on a cases row (a mapping with its ``id`` and ``stage_*`` columns), or None."""
    return stage_of(r["id"], [r[c] for c in STAGE_COLUMNS])


def stored_values(d: DeadlineRow) -> dict[str, Any]:
    """A step limit kept on its case row, as the deadlines row written when it ends (with the id it had before
    0006, if any)."""
    values = {k: getattr(d, k) for k in _DEADLINE_COLUMNS if k != "id"}
    if d.row_id is not None:
        values["id"] = d.row_id
    return values


_CLOSED_AT = STAGE_FIELDS.index("closed_at")


def _result(outcome: str | None, due_at: datetime, at: datetime) -> str:
    """How a time limit closed at ``at`` ended: ``outcome`` if given (paused, ...), else met if not yet due, else
    late."""
    return outcome if outcome is not None else "met" if due_at >= at else "late"


def _ended_values(case_id: int, raw: tuple[Any, ...], at: datetime, outcome: str | None) -> dict[str, Any]:
    """A running stage's ``stage_*`` values as read (:data:`STAGE_COLUMNS` order), ended at ``at``: the deadlines
    row it is written as (what :func:`stored_values` gives for it, met if not yet due, else late, or
    ``outcome``)."""
    values = dict(zip(STAGE_FIELDS, raw, strict=True))
    row_id = values.pop("row_id")
    values["case_id"], values["kind"] = case_id, "step"
    values["extended"] = values["extended"] or 0
    values["provisional"] = bool(values["provisional"])
    values["next_alert_at"], values["closed_at"] = None, at
    values["outcome"] = _result(outcome, values["due_at"], at)
    if row_id is not None:
        values["id"] = row_id
    return values


def alert_row(r: Any) -> AlertRow:
    return AlertRow(**dict(r))


@lru_cache(maxsize=32)
def _close_stmt(kinds: tuple[str, ...], fixed_outcome: bool, keep_next: bool) -> Any:
    now = bindparam("b_now", type_=deadlines_t.c.closed_at.type)
    result = bindparam("b_outcome") if fixed_outcome else case((deadlines_t.c.due_at >= now, "met"), else_="late")
    values: dict[str, Any] = {"closed_at": now, "outcome": result}
    if not keep_next:
        values["next_alert_at"] = None
    # the kinds as fixed values (kind = 'step' OR ...): an IN list would be expanded again at every execution
    return (update(deadlines_t)
            .where(deadlines_t.c.case_id == bindparam("b_case_id"), deadlines_t.c.closed_at.is_(None),
                   or_(*(deadlines_t.c.kind == k for k in kinds)))
            .values(**values)
            .returning(*(deadlines_t.c[n] for n in ClosedDeadline._fields)))


# SQLite: the open rows of a case read by case_id, then closed one by one by id. SQLite runs an UPDATE whose
# rows are found through another index in two passes and keeps a RETURNING's rows in a table of its own: the
# one statement above took 39 us a step, this read and an update by id 15 (medians over 300 cases, bench data)
_OPEN_OF_CASE = (select(deadlines_t.c.id, deadlines_t.c.kind, deadlines_t.c.seq, deadlines_t.c.due_at)
                 .where(deadlines_t.c.case_id == bindparam("b_case_id"), deadlines_t.c.closed_at.is_(None)))


@lru_cache(maxsize=4)
def _close_by_id(keep_next: bool) -> Any:
    values: dict[str, Any] = {"closed_at": bindparam("b_now", type_=deadlines_t.c.closed_at.type),
                              "outcome": bindparam("b_outcome", type_=deadlines_t.c.outcome.type)}
    if not keep_next:
        values["next_alert_at"] = None
    return (update(deadlines_t)
            .where(deadlines_t.c.id == bindparam("b_id"), deadlines_t.c.closed_at.is_(None))
            .values(**values))


def _dialect_insert(conn: Connection) -> Any:
    name = conn.dialect.name  # the other dialect's module is not imported: start-up time
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    raise NotImplementedError(name)  # pragma: no cover - only the two supported dialects


class DeadlineQueries:
    """Time limits: opened, closed, moved, paused and resumed by steps; claimed by the sweep.

    A step's limit while it runs (or is paused by 挂账) is kept on its case's row (``cases.stage_*``), and is
    written to ``deadlines`` as a complete row when its stage ends; the whole case's limit is a deadlines
    row throughout. The readers below give both as :class:`DeadlineRow` (a stage on the case row has ``id``
    ``-case_id``). Within a step, what :meth:`close_deadlines` and :meth:`update_deadline` do to a stage on the
    case row is written by :meth:`write_step`, with the case row's own update (no statement of its own): the
    step's case row was read by :meth:`case` or :meth:`case_at_revision` in this transaction, which keep its
    stage columns.
    """

    conn: Connection
    # per transaction (set by Tx): each case's stage as read or changed here (a tuple of stage_* values as read
    # or as a step opened it, a DeadlineRow or None once looked at); which stages this step changed; the rows of
    # the stages it ended
    _stages: dict[int, Any]
    _changed: set[int]
    _ended: dict[int, list[dict[str, Any]]]

    def _stage(self, case_id: int) -> DeadlineRow | None:
        """Case ``case_id``'s stage as this transaction sees it."""
        try:
            got = self._stages[case_id]
        except KeyError:
            rows = cast(Sequence[Sequence[Any]], direct.run(self.conn, _STAGE_OF_CASE, {"b_case_id": case_id}))
            got = rows[0] if rows else (None,) * len(STAGE_COLUMNS)
        if isinstance(got, (tuple, list)):  # the stage_* values as read: made a DeadlineRow once
            got = stage_of(case_id, got)
        self._stages[case_id] = got
        return got

    def _set_stage(self, case_id: int, stage: DeadlineRow | tuple[Any, ...] | None) -> None:
        self._stages[case_id] = stage
        self._changed.add(case_id)

    def _stage_writes(self, case_id: int, values: dict[str, Any], opened: Sequence[dict[str, Any]]
                      ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The case row's values with its stage's columns (if this step changed the stage), and the deadlines
        rows to insert: the stages it ended, and the limits it opened other than its step's."""
        rows = self._ended.pop(case_id, [])
        for d in opened:
            if d["kind"] != "step":
                rows.append(d)
                continue
            old = self._stage(case_id)
            if old is not None:  # a paused stage replaced (never in the workflows' paths): kept as it stands
                rows.append(stored_values(old))
            self._set_stage(case_id, tuple([d.get(f) for f in STAGE_FIELDS]))  # as read; made a DeadlineRow if asked
        if case_id in self._changed:
            self._changed.discard(case_id)
            stage = self._stages[case_id]
            if stage is None:
                columns = _NO_STAGE
            elif type(stage) is tuple:
                columns = dict(zip(STAGE_COLUMNS, stage, strict=True))
            else:
                columns = _stage_values(stage)
            values = {**values, **columns}
        return values, rows

    def insert_deadline(self, values: dict[str, Any]) -> None:
        """Insert a deadlines row as given (a whole case's limit; an ended stage)."""
        direct.run(self.conn, _INSERT_DEADLINE, values, keys=tuple(values))

    def case_deadlines(self, case_id: int, *, open_only: bool = False,
                       kinds: Sequence[str] = ("step", "case")) -> list[DeadlineRow]:
        """The case's time limits of ``kinds`` (``open_only``: running ones) in the order they were opened (by
        the entry that opened them; a step's before a whole case's opened by the same entry)."""
        q = select(deadlines_t).where(deadlines_t.c.case_id == case_id, deadlines_t.c.kind.in_(list(kinds)))
        if open_only:
            q = q.where(deadlines_t.c.closed_at.is_(None))
        out = [deadline_row(r) for r in self.conn.execute(q.order_by(deadlines_t.c.id)).mappings()]
        stage = self._stage(case_id) if "step" in kinds else None
        if stage is not None and (not open_only or stage.closed_at is None):
            out.append(stage)
        out.sort(key=_opened)
        return out

    def close_deadlines(self, case_id: int, now: datetime, kinds: Sequence[str] = ("step",),
                        outcome: str | None = None) -> list[ClosedDeadline]:
        """Close the case's open deadlines of ``kinds``: met if not yet due, else late (or ``outcome``).

        A ``paused`` limit keeps its next alert time (the clock resumes on the same limit); a step's limit
        closed otherwise is written to ``deadlines`` by the step's :meth:`write_step`.

        Returns:
            what the closing set on each closed limit (with its id, kind and seq): the stage first.
        """
        closed: list[ClosedDeadline] = []
        at = now.astimezone(UTC)  # as the column gives it back
        raw = self._stages.get(case_id)
        if "step" in kinds and outcome != "paused" and type(raw) is tuple and raw[_CLOSED_AT] is None:
            # the running stage as read (the common step): its deadlines row made from the columns at once
            if raw[0] is not None:
                ended = _ended_values(case_id, raw, at, outcome)
                self._ended.setdefault(case_id, []).append(ended)
                self._set_stage(case_id, None)
                closed.append(ClosedDeadline(-case_id, "step", ended["seq"], at, ended["outcome"]))
        elif "step" in kinds:
            stage = self._stage(case_id)
            if stage is not None and stage.closed_at is None:
                result = _result(outcome, stage.due_at, at)
                if outcome == "paused":
                    self._set_stage(case_id, replace(stage, closed_at=at, outcome=result))
                else:
                    self._ended.setdefault(case_id, []).append(
                        stored_values(replace(stage, closed_at=at, outcome=result, next_alert_at=None)))
                    self._set_stage(case_id, None)
                closed.append(ClosedDeadline(stage.id, "step", stage.seq, at, result))
        rest = tuple(k for k in kinds if k != "step")
        if not rest:
            return closed  # the step's limit only: no statement
        if self.conn.dialect.name == "sqlite":  # the writer holds SQLite's write lock: no one changes them between
            return closed + self._close_one_by_one(case_id, at, rest, outcome)
        params: dict[str, Any] = {"b_case_id": case_id, "b_now": now}
        if outcome is not None:
            params["b_outcome"] = outcome
        stmt = _close_stmt(rest, outcome is not None, outcome == "paused")
        new = tuple.__new__
        return closed + sorted(new(ClosedDeadline, r) for r in direct.run(self.conn, stmt, params))  # type: ignore[union-attr]

    def _close_one_by_one(self, case_id: int, at: datetime, kinds: Sequence[str],
                          outcome: str | None) -> list[ClosedDeadline]:
        rows = cast(list[tuple[int, str, int, datetime]], direct.run(self.conn, _OPEN_OF_CASE, {"b_case_id": case_id}))
        closed = []
        stmt = _close_by_id(outcome == "paused")
        for row_id, kind, seq, due_at in sorted(rows):
            if kind not in kinds:
                continue
            result = _result(outcome, due_at, at)
            if direct.run(self.conn, stmt, {"b_id": row_id, "b_now": at, "b_outcome": result}) != 1:
                raise ConflictError("the time limits of case {case} changed while they were closed; try again",
                                    case=case_id)  # pragma: no cover - the write lock is held
            closed.append(ClosedDeadline(row_id, kind, seq, at, result))
        return closed

    def open_deadlines(self, case_ids: Sequence[int]) -> dict[int, DeadlineRow]:
        """The running step limit of each case (by case id)."""
        if not case_ids:
            return {}
        rows = self.conn.execute(select(cases_t.c.id, *_STAGE).where(cases_t.c.id.in_(list(case_ids)), _RUNNING))
        return {r[0]: cast(DeadlineRow, stage_of(r[0], r[1:])) for r in rows}  # _RUNNING: never None

    def open_deadlines_from(self, day_start: datetime) -> list[DeadlineRow]:
        """Every open or paused time limit still to fall due at or after ``day_start`` (calendar corrections),
        by case."""
        q = select(deadlines_t).where(
            or_(deadlines_t.c.closed_at.is_(None), deadlines_t.c.outcome == "paused"),
            deadlines_t.c.due_at >= day_start).order_by(deadlines_t.c.case_id, deadlines_t.c.id)
        out = [deadline_row(r) for r in self.conn.execute(q).mappings()]
        c = cases_t.c
        staged = self.conn.execute(
            select(c.id, *_STAGE).where(c.stage_due_at >= day_start, c.stage_due_at.is_not(None),
                                        or_(c.stage_closed_at.is_(None), c.stage_outcome == "paused")))
        out.extend(s for s in (stage_of(r[0], r[1:]) for r in staged) if s is not None)
        out.sort(key=lambda d: (d.case_id, d.id < 0, abs(d.id)))
        return out

    def update_deadline(self, deadline_id: int, values: dict[str, Any]) -> None:
        """Set fields of a time limit: a deadlines row at once; a stage on the case row (``deadline_id`` below
        0) with the step's case row (:meth:`write_step`)."""
        if deadline_id < 0:
            stage = self._stage(-deadline_id)
            if stage is None:
                raise ConflictError("the time limits of case {case} changed meanwhile; try again", case=-deadline_id)
            self._set_stage(-deadline_id, replace(stage, **values))
            return
        self.conn.execute(update(deadlines_t).where(deadlines_t.c.id == deadline_id).values(**values))

    def paused_deadlines(self, case_id: int, kinds: Sequence[str]) -> list[DeadlineRow]:
        q = select(deadlines_t).where(deadlines_t.c.case_id == case_id, deadlines_t.c.outcome == "paused",
                                      deadlines_t.c.kind.in_(list(kinds))).order_by(deadlines_t.c.id)
        out = [deadline_row(r) for r in self.conn.execute(q).mappings()]
        stage = self._stage(case_id) if "step" in kinds else None
        if stage is not None and stage.outcome == "paused":
            out.append(stage)
        out.sort(key=_opened)
        return out

    def claim_due(self, now: datetime, limit: int) -> list[DueDeadline]:
        """Running step limits whose next alert is due, oldest first, locked for this sweeper."""
        pg = self.conn.dialect.name == "postgresql"
        result = self.conn.execute(_CLAIM_PG if pg else _CLAIM_SQLITE, {"now": now, "limit": limit})
        try:
            # the driver's own tuples: none of these columns has a result processor (see _claim), so
            # SQLAlchemy's rows would only be copied into the records again
            rows = result.cursor.fetchall()
        finally:
            result.close()
        new = tuple.__new__
        if pg:
            return [new(DueDeadline, r) for r in rows]
        at, utc = datetime.fromisoformat, "+00:00"  # one C call per value, no Python frame
        return [new(DueDeadline, (i, case_id, seq, row_id, state, tier, unit, limit_text,
                                  None if warn is None else at(warn + utc), at(due + utc),
                                  None if esc is None else at(esc + utc), None if nxt is None else at(nxt + utc),
                                  extended or 0))
                for i, case_id, seq, row_id, state, tier, unit, limit_text, warn, due, esc, nxt, extended in rows]

    def set_next_alerts(self, updates: Sequence[tuple[int, datetime | None]]) -> None:
        """The next alert time of claimed limits, by their ids (:meth:`claim_due`'s: ``-case_id``, as every limit
        the sweep claims is a stage on its case row)."""
        if updates:
            self.conn.execute(_SET_NEXT_STAGE, [{"_case": -i, "_next": n} for i, n in updates])

    def cases_due(self, *, before: datetime, after: datetime | None = None, limit: int = 500) -> list[int]:
        """Open cases whose running step limit is due before ``before`` (and not before ``after``)."""
        c = cases_t.c
        q = select(c.id).where(c.stage_due_at.is_not(None), c.stage_closed_at.is_(None), c.stage_due_at <= before)
        if after is not None:
            q = q.where(c.stage_due_at > after)
        q = q.order_by(c.stage_due_at).limit(limit)
        return [int(r[0]) for r in self.conn.execute(q)]


_NO_STAGE = dict.fromkeys(STAGE_COLUMNS)


def _opened(d: DeadlineRow) -> tuple[int, bool]:
    return d.seq, d.kind != "step"


def _stage_values(d: DeadlineRow) -> dict[str, Any]:
    """A stage as the case row's ``stage_*`` columns."""
    return {c: getattr(d, f) for c, f in zip(STAGE_COLUMNS, STAGE_FIELDS, strict=True)}


class AlertQueries:
    """Alerts at units' platforms, their acknowledgements, and the outbox of deliveries."""

    conn: Connection

    def insert_alerts(self, rows: Sequence[dict[str, Any]]) -> list[int | None]:
        """Insert alerts; a row whose key exists already is skipped. The new id of each row (None if skipped)."""
        if not rows:
            return []
        ins = _dialect_insert(self.conn)(alerts_t)
        ids: list[int | None] = []
        for row in rows:  # RETURNING with ON CONFLICT per row keeps the ids of what was really new
            values = {k: v for k, v in row.items() if k != "id"}
            new = self.conn.execute(ins.values(**values).on_conflict_do_nothing(index_elements=["key"])
                                    .returning(alerts_t.c.id)).scalar()
            ids.append(int(new) if new is not None else None)
        return ids

    def alerts(self, *, units: Sequence[str] | None = None, only_open: bool = False, case_id: int | None = None,
               ids: Sequence[int] | None = None, after_id: int | None = None,
               limit: int = 500) -> list[AlertRow]:
        q = select(alerts_t)
        if units is not None:
            q = q.where(alerts_t.c.unit_code.in_(list(units)))
        if only_open:
            q = q.where(alerts_t.c.acked_at.is_(None))
        if case_id is not None:
            q = q.where(alerts_t.c.case_id == case_id)
        if ids is not None:
            q = q.where(alerts_t.c.id.in_(list(ids)))
        if after_id is not None:
            q = q.where(alerts_t.c.id > after_id)
        q = q.order_by(alerts_t.c.id).limit(limit)
        return [alert_row(r) for r in self.conn.execute(q).mappings()]

    def alert(self, alert_id: int) -> AlertRow | None:
        r = self.conn.execute(select(alerts_t).where(alerts_t.c.id == alert_id)).mappings().first()
        return alert_row(r) if r else None

    def ack(self, alert_id: int, actor: str, now: datetime) -> bool:
        res = self.conn.execute(update(alerts_t).where(alerts_t.c.id == alert_id, alerts_t.c.acked_at.is_(None))
                                .values(acked_by=actor, acked_at=now))
        return res.rowcount == 1

    # the outbox -------------------------------------------------------------------------
    def insert_deliveries(self, deliveries: Sequence[tuple[int, str, dict[str, Any]]], now: datetime) -> None:
        """One pending delivery per (alert id, sink name, payload), due at once."""
        rows = [{"alert_id": a, "sink": s, "status": "pending", "attempts": 0, "last_error": None, "updated_at": now,
                 "next_attempt_at": now, "leased_until": None, "payload": body, "created_at": now,
                 "delivered_at": None} for a, s, body in deliveries]
        if rows:
            self.conn.execute(insert(deliveries_t), rows)

    def claim_deliveries(self, now: datetime, sinks: Sequence[str], limit: int,
                         lease_until: datetime) -> list[dict[str, Any]]:
        """Pending deliveries to ``sinks`` due now and not leased by another worker; leased to this one."""
        d = deliveries_t.c
        q = (select(d.id, d.alert_id, d.sink, d.attempts, d.payload)
             .where(d.status == "pending", d.sink.in_(list(sinks)),
                    or_(d.next_attempt_at.is_(None), d.next_attempt_at <= now),
                    or_(d.leased_until.is_(None), d.leased_until <= now))
             .order_by(d.next_attempt_at, d.id).limit(limit))
        if self.conn.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        rows = [dict(r) for r in self.conn.execute(q).mappings()]
        if rows:
            self.conn.execute(update(deliveries_t).where(d.id.in_([r["id"] for r in rows]))
                              .values(leased_until=lease_until))
        return rows

    def mark_delivery(self, delivery_id: int, now: datetime, *, status: str, error: str | None,
                      retry_at: datetime | None, attempt: bool) -> None:
        """Record what happened to a pending delivery (ignored once it is no longer pending)."""
        d = deliveries_t.c
        values: dict[str, Any] = {"status": status, "updated_at": now, "leased_until": None,
                                  "next_attempt_at": retry_at}
        if attempt:
            values["attempts"] = d.attempts + 1
            values["last_error"] = error
        if status == "delivered":
            values["delivered_at"] = now
        self.conn.execute(update(deliveries_t).where(d.id == delivery_id, d.status == "pending").values(**values))

    def deliveries(self, alert_id: int | None = None) -> list[dict[str, Any]]:
        q = select(deliveries_t).order_by(deliveries_t.c.id)
        if alert_id is not None:
            q = q.where(deliveries_t.c.alert_id == alert_id)
        return [dict(r) for r in self.conn.execute(q).mappings()]


__all__ = ["AlertQueries", "DeadlineQueries", "alert_row", "deadline_row"]
