"""Whole-table reads and writes: consistent dumps, bulk restore, chain reads for the audit.

Only the store imports SQLAlchemy; :mod:`casecraft.audit.backup` and
:mod:`casecraft.audit.verify` use these functions. Tables come from
``models.metadata.sorted_tables`` (parents before children), so a table added
by a later migration is dumped and restored without a change here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import JSON, Connection, Integer, Table, delete, func, insert, null, or_, select, text, update
from sqlalchemy.exc import DBAPIError, StatementError

from casecraft.base.errors import N_, Joined, render, reword, rewording
from casecraft.base.records import CaseRow, DeadlineRow, Entry, stage_columns
from casecraft.store.base import Store
from casecraft.store.db import sqlite_deferred
from casecraft.store.models import Case, Deadline, TimelineEntry, metadata

cases_t = cast(Table, Case.__table__)
deadlines_t = cast(Table, Deadline.__table__)
_RESTORE_LOCK = 0x63617365726573  # pg_advisory_xact_lock key of a restore
timeline_t = cast(Table, TimelineEntry.__table__)


class NotEmpty(Exception):
    """The database already holds rows (a restore writes only into an empty one).

    ``reason`` lists the filled tables (``cases (3 rows), people (12 rows)``), each piece a template.
    """

    def __init__(self, filled: dict[str, int]) -> None:
        self.filled = dict(filled)
        self.reason = Joined([render("{table} ({count} rows)", {"table": n, "count": c}) for n, c in filled.items()],
                             ", ")
        super().__init__(str(self.reason))


class RowRefused(Exception):
    """The database refused a restored row (a constraint or a type).

    ``reason`` says why in our words where the database's message is a common one (a unique value
    repeated, a required value missing, a row referring to one that is not there), else the
    database's first line; ``database`` is that first line as the database wrote it.
    """

    def __init__(self, database: str) -> None:
        self.database = database
        self.reason = refusal(database)
        super().__init__(str(self.reason))


# the databases' words for a refused row (SQLite, PostgreSQL), and ours
_REFUSALS = rewording((
    (r"UNIQUE constraint failed: (?P<what>.+)", N_("a value that must be unique is repeated ({what})")),
    (r'duplicate key value violates unique constraint "(?P<what>[^"]+)"',
     N_("a value that must be unique is repeated ({what})")),
    (r"NOT NULL constraint failed: (?P<what>.+)", N_("a required value is missing ({what})")),
    (r'null value in column "(?P<column>[^"]+)" of relation "(?P<table>[^"]+)" violates not-null constraint',
     N_("a required value is missing ({table}.{column})")),
    (r"FOREIGN KEY constraint failed", N_("a row refers to a row that is not in the backup")),
    (r'insert or update on table "(?P<table>[^"]+)" violates foreign key constraint "(?P<what>[^"]+)"',
     N_("a row of {table} refers to a row that is not in the backup ({what})")),
    (r"CHECK constraint failed: (?P<what>.+)", N_("a value breaks a rule of the schema ({what})")),
    (r'new row for relation "(?P<table>[^"]+)" violates check constraint "(?P<what>[^"]+)"',
     N_("a value of {table} breaks a rule of the schema ({what})")),
))


def refusal(database: str) -> str:
    """A database's refusal of a row in our words (a :func:`render` result), else its own first line."""
    return reword(_REFUSALS, database, whole=False) or database


def tables() -> list[Table]:
    """Every table of the schema, parents before children."""
    return list(metadata.sorted_tables)


def column_kinds(table: Table) -> dict[str, str]:
    """``datetime``, ``date``, ``json``, ``bytes`` or ``plain`` for each column (how a backup encodes it)."""
    from sqlalchemy import Date, LargeBinary

    from casecraft.store.types import UTCDateTime

    out: dict[str, str] = {}
    for c in table.columns:
        if isinstance(c.type, LargeBinary):
            out[c.name] = "bytes"
        elif isinstance(c.type, UTCDateTime):
            out[c.name] = "datetime"
        elif isinstance(c.type, Date):
            out[c.name] = "date"
        elif isinstance(c.type, JSON):
            out[c.name] = "json_nullable" if c.nullable else "json"
        else:
            out[c.name] = "plain"
    return out


@contextmanager
def snapshot_connection(store: Any) -> Iterator[Connection]:
    """A read-only connection that sees one consistent snapshot of every table."""
    conn = store.engine.connect()
    try:
        if store.dialect == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with sqlite_deferred():
            tx = conn.begin()
        with tx:
            yield conn
    finally:
        conn.close()


def iter_rows(conn: Connection, table: Table, batch: int = 2000) -> Iterator[tuple[dict[str, Any], list[str]]]:
    """Every row of ``table`` in primary-key order, with the JSON columns that hold a JSON ``null``.

    A nullable JSON column can hold SQL NULL or the JSON value ``null``; both read as
    ``None``, so the second element names the columns holding JSON ``null``.
    """
    kinds = column_kinds(table)
    flags = [c for c, k in kinds.items() if k == "json_nullable"]
    cols: list[Any] = list(table.columns)
    cols += [table.c[c].is_(None).label(f"__sqlnull_{c}") for c in flags]
    q = select(*cols).order_by(*table.primary_key.columns)
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(q).mappings()
    for r in result:
        row = {c.name: r[c.name] for c in table.columns}
        json_nulls = [c for c in flags if row[c] is None and not r[f"__sqlnull_{c}"]]
        yield row, json_nulls


def row_counts(conn: Connection) -> dict[str, int]:
    return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one()) for t in tables()}


def restore(store: Store, rows: Iterable[tuple[str, dict[str, Any], list[str]]], batch: int = 1000, *,
            check: Any = None) -> dict[str, int]:
    """Insert rows (table name, values, JSON-null columns) into an empty database, in one transaction.

    Rows must come parents first (the order of :func:`tables`). On PostgreSQL the
    id sequences are moved past the restored ids afterwards.

    Returns:
        rows inserted per table.

    Raises:
        NotEmpty: the database is not empty (nothing is written).
        RowRefused: the database refused a row (nothing is written).
    """
    try:
        return _restore(store, rows, batch, check)
    except (DBAPIError, StatementError) as exc:
        orig = getattr(exc, "orig", None) or exc
        text_ = str(orig).strip()
        raise RowRefused(text_.splitlines()[0] if text_ else type(orig).__name__) from None


def _restore(store: Store, rows: Iterable[tuple[str, dict[str, Any], list[str]]], batch: int,
             check: Any) -> dict[str, int]:
    by_name = {t.name: t for t in tables()}
    counts = dict.fromkeys(by_name, 0)
    with store.engine.begin() as conn:  # not Store.write: the caller translates a refused row itself
        if store.dialect == "postgresql":  # two restores at once: the second sees the first's rows
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _RESTORE_LOCK})
        filled = {n: c for n, c in row_counts(conn).items() if c}
        if filled:
            raise NotEmpty(filled)
        pending: list[dict[str, Any]] = []
        current: Table | None = None

        def flush() -> None:
            if pending and current is not None:
                conn.execute(insert(current), pending)
                counts[current.name] += len(pending)
                pending.clear()

        for name, values, json_nulls in rows:
            table = by_name[name]
            if table is not current:
                flush()
                current = table
            kinds = column_kinds(table)
            for c, k in kinds.items():
                # SQL NULL and JSON null must each be bound explicitly (a column may map None to either)
                if k == "json_nullable" and values.get(c) is None:
                    values[c] = JSON.NULL if c in json_nulls else null()
            pending.append(values)
            if len(pending) >= batch:
                flush()
        flush()
        adopt_running_stages(conn)
        if store.dialect == "postgresql":
            fix_sequences(conn)
        if check is not None:  # before the commit: a refusal rolls every row back
            from casecraft.store.repo import Tx

            check(Tx(conn))
    return counts


def adopt_running_stages(conn: Connection) -> int:
    """Move step limits still running or paused from ``deadlines`` rows onto their cases' rows, as migration
    0006 moved them (a backup taken before 0006 holds them as rows); the number moved. The row's id stays in
    ``stage_row_id`` (its alerts name it) and the row is deleted."""
    d = deadlines_t.c
    running = conn.execute(select(deadlines_t).where(d.kind == "step", or_(d.closed_at.is_(None),
                                                                            d.outcome == "paused"))
                           .order_by(d.case_id, d.id)).mappings().all()
    newest = {r["case_id"]: r for r in running}  # one running step limit per case: the newest
    for case_id, r in newest.items():
        values = stage_columns({**r, "row_id": r["id"]})
        conn.execute(update(cases_t).where(cases_t.c.id == case_id).values(**values))
        conn.execute(delete(deadlines_t).where(d.id == r["id"]))
    return len(newest)


def fix_sequences(conn: Connection) -> None:
    """Move each serial id sequence past the highest id (after inserting explicit ids)."""
    for t in tables():
        pk = list(t.primary_key.columns)
        if len(pk) != 1 or not isinstance(pk[0].type, Integer):
            continue
        col = pk[0].name
        seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": t.name, "c": col}).scalar()
        if seq is None:
            continue
        conn.execute(text(f'SELECT setval(:s, COALESCE((SELECT MAX("{col}") FROM "{t.name}"), 1), '
                          f'(SELECT MAX("{col}") IS NOT NULL FROM "{t.name}"))'), {"s": seq})


# the audit ------------------------------------------------------------------
@contextmanager
def snapshot(store: Any) -> Iterator[Any]:
    """A read-only :class:`~casecraft.store.repo.Tx` over one consistent snapshot of every table."""
    from casecraft.store.repo import Tx

    with snapshot_connection(store) as conn:
        yield Tx(conn)


def chain_batches(tx: Any, case_id: int | None = None, batch: int = 1000
                  ) -> Iterator[tuple[list[CaseRow], list[Entry], list[DeadlineRow]]]:
    """Cases, their timeline entries and their deadline rows, in batches of case ids.

    Each batch covers a range of case ids, and its entries and deadlines are every
    row whose case id falls in that range, so an entry of a missing case is seen too.
    Memory stays bounded by ``batch`` cases however large the database is.
    """
    from casecraft.store.alerts_repo import deadline_row, stage_row
    from casecraft.store.repo import case_row, entry_row

    conn = tx.conn

    def rows_in(table: Any, low: int | None, high: int | None, order: list[Any]) -> list[Any]:
        q = select(table)
        if case_id is not None:
            q = q.where(table.c.case_id == case_id)
        if low is not None:
            q = q.where(table.c.case_id > low)
        if high is not None:
            q = q.where(table.c.case_id <= high)
        return list(conn.execute(q.order_by(*order)).mappings())

    def with_stages(rows: list[Any], deadlines: list[DeadlineRow]) -> list[DeadlineRow]:
        """The deadlines rows, then the step limits running on the cases' rows."""
        return deadlines + [s for s in (stage_row(r) for r in rows) if s is not None]

    if case_id is not None:
        found = list(conn.execute(select(cases_t).where(cases_t.c.id == case_id)).mappings())
        yield ([case_row(r) for r in found],
               [entry_row(r) for r in rows_in(timeline_t, None, None, [timeline_t.c.seq, timeline_t.c.id])],
               with_stages(found, [deadline_row(r) for r in rows_in(deadlines_t, None, None, [deadlines_t.c.id])]))
        return
    low: int | None = None
    while True:
        q = select(cases_t).order_by(cases_t.c.id).limit(batch)
        if low is not None:
            q = q.where(cases_t.c.id > low)
        found = list(conn.execute(q).mappings())
        cases = [case_row(r) for r in found]
        last = len(cases) < batch
        high = None if last else cases[-1].id
        entries = [entry_row(r) for r in rows_in(timeline_t, low, high,
                                                   [timeline_t.c.case_id, timeline_t.c.seq, timeline_t.c.id])]
        deadlines = with_stages(found, [deadline_row(r) for r in rows_in(deadlines_t, low, high, [deadlines_t.c.id])])
        yield cases, entries, deadlines
        if last:
            return
        low = cases[-1].id


__all__ = ["NotEmpty", "RowRefused", "chain_batches", "column_kinds", "fix_sequences", "iter_rows", "restore",
           "row_counts", "snapshot", "snapshot_connection", "tables"]
