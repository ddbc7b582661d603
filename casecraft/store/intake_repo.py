"""Bulk writes for hotline import: existing tickets, case ids, batched inserts.

A case's first timeline entry is hash-chained and its hash covers the case id,
so a batch takes its ids first (one ``nextval`` round trip on PostgreSQL; on
SQLite the next ids under the ``BEGIN IMMEDIATE`` write lock the batch
already holds) and then writes complete rows: three executemany inserts per
batch (cases, timeline, deadlines), no per-row update.

The inserts are compiled once per table and handed to the driver's
executemany with values converted by the columns' own bind processors (a
repeated value, such as the import time, is converted once per batch; on
PostgreSQL a JSON value goes as its text): SQLAlchemy's per-row parameter
building cost more than the database's own work. Nothing here outlives a
batch, so a file of any size is written in flat memory.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from itertools import chain
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import JSON, Connection, Table, func, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from casecraft.store.base import BulkWriter, DuplicateKey
from casecraft.store.models import Case, Deadline, TimelineEntry

cases_t = cast(Table, Case.__table__)
timeline_t = cast(Table, TimelineEntry.__table__)
deadlines_t = cast(Table, Deadline.__table__)
CHUNK = 500
_REFS_SQLITE: dict[int, str] = {}  # by the number of tickets: at most CHUNK statements
# one index probe per ticket, whatever the planner believes of a table that grew inside this transaction
# (OFFSET 0 keeps the subquery a nested loop: pulled up, it became a hash join over every hotline case)
_REFS_PG = ("SELECT c.ref, c.id FROM unnest(%s::text[]) AS r(ref) CROSS JOIN LATERAL "
            "(SELECT id, ref FROM cases WHERE source = %s AND ref = r.ref OFFSET 0) AS c")




class _Writer:
    """One table's INSERT for one set of columns, compiled for the connection's dialect."""

    def __init__(self, conn: Any, table: Any, keys: list[str]) -> None:
        dialect = style = conn.dialect
        if dialect.paramstyle == "pyformat":  # psycopg takes %s as well: a tuple per row, not a dict
            style = copy.copy(dialect)
            style.paramstyle, style.positional = "format", True
        # compiled for executemany: no RETURNING of the new ids (nobody reads them; PostgreSQL sent them back)
        compiled = insert(table).compile(dialect=style, column_keys=keys, for_executemany=True)
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        self.names = list(compiled.positiontup or ()) if self.positional else list(compiled.params)
        given = set(keys)
        # a column the rows do not carry gets its Python-side default (SQLAlchemy applies these per row;
        # the driver does not): the rows are completed from a template, once per row
        self.defaults = {n: _default(table.c[n]) for n in self.names if n not in given}
        self.get = itemgetter(*self.names) if len(self.names) > 1 else (lambda row: (row[self.names[0]],))
        self.procs = [(i, proc) for i, n in enumerate(self.names) if (proc := _processor(table.c[n], dialect))]

    def params(self, rows: list[dict[str, Any]]) -> list[Any]:
        """The rows as the driver's parameters, converted by the columns' bind processors.

        Column by column: a column holding one object on every row (the import time, a flag, a
        shared plan's deadline facts) is converted once; in the others a time, an empty list or a
        shared dict is converted once per batch (the memo lives no longer than the call).
        """
        get, defaults = self.get, self.defaults
        table = [list(get({**defaults, **row} if defaults else row)) for row in rows]
        for i, proc in self.procs:
            column = [values[i] for values in table]
            first = column[0] if column else None
            if all(v is first for v in column):
                out = None if first is None else proc(first)
                for values in table:
                    values[i] = out
                continue
            memo: dict[Any, Any] = {}
            keep: list[Any] = []  # dicts memoised by identity stay alive (and their ids theirs) meanwhile
            for values, v in zip(table, column, strict=True):
                if v is None:
                    continue
                kind = type(v)
                if kind is datetime:
                    key: Any = v
                elif kind is list and not v:
                    key = "[]"
                elif kind is dict:
                    key = id(v)
                    keep.append(v)
                else:
                    values[i] = proc(v)
                    continue
                got = memo.get(key, memo)
                if got is memo:
                    got = memo[key] = proc(v)
                values[i] = got
        if self.positional:
            return [tuple(values) for values in table]
        names = self.names
        return [dict(zip(names, values, strict=True)) for values in table]

    def write(self, conn: Any, rows: list[dict[str, Any]]) -> None:
        if rows:
            conn.exec_driver_sql(self.sql, self.params(rows))


def _processor(col: Any, dialect: Any) -> Any:
    """How the driver gets a column's value: the column's own bind processor; on PostgreSQL a JSON value
    as its text (the engine's serializer, as psycopg would write it; the statement casts it to JSON):
    psycopg serialises a wrapped value again wherever it recurs, the text is made once per batch."""
    if dialect.name == "postgresql" and isinstance(col.type, JSON):
        return getattr(dialect, "_json_serializer", None) or json.dumps
    return col.type.dialect_impl(dialect).bind_processor(dialect)


def _default(col: Any) -> Any:
    """A column's Python-side default (SQLAlchemy applies these per row; the driver does not)."""
    d = col.default
    if d is None:
        return None
    if d.is_scalar:
        return d.arg
    if d.is_callable:
        return d.arg(None)
    return None


_writers: dict[tuple[str, str, tuple[str, ...]], _Writer] = {}


def _writer(conn: Any, table: Any, rows: list[dict[str, Any]]) -> _Writer:
    keys = tuple(rows[0])
    key = (conn.dialect.name, table.name, keys)
    w = _writers.get(key)
    if w is None:
        w = _writers[key] = _Writer(conn, table, list(keys))
    return w


class BulkTable:
    """Rows written straight to the driver, as tuples of values already in the driver's form.

    The caller converts each value with :meth:`value` (the column's own bind processor: once per
    distinct value, e.g. per batch), gives every row all ``columns`` in that order, and hands the rows
    to :meth:`prepare`, then what it made to :meth:`write` (on any thread). SQLite gets
    INSERTs of many rows each; PostgreSQL a ``COPY ... FROM STDIN`` (its rows are parsed by the server, as
    an INSERT's parameters would be), in the connection's transaction either way.
    """

    def __init__(self, conn: Any, table: Table, columns: Sequence[str]) -> None:
        needed = {c.name for c in table.columns if c.name != "id"}
        if not needed <= set(columns) <= needed | {"id"}:
            raise ValueError(f"the rows of {table.name} need the columns {sorted(needed)}, not {sorted(columns)}")
        dialect = conn.dialect
        self.columns, self.dialect = tuple(columns), dialect.name
        self._procs = {n: _processor(table.c[n], dialect) for n in columns}
        names = ", ".join(dialect.identifier_preparer.format_column(table.c[n]) for n in columns)
        table_name = dialect.identifier_preparer.format_table(table)
        if self.dialect == "postgresql":
            self.sql = f"COPY {table_name} ({names}) FROM STDIN"
        else:
            self.sql = f"INSERT INTO {table_name} ({names}) VALUES "
            self._row = "(" + ", ".join([_MARKS.get(dialect.paramstyle, "?")] * len(columns)) + ")"
            # rows per INSERT: one statement inserts many rows (a tenth less of the driver's time per row than
            # executemany), a batch of the import's default size in one statement where SQLite's limit on
            # parameters allows (999 before 3.32): each statement gives up Python's lock while the database
            # works, and taking it back (from the thread reading the next batch) can wait for the interpreter's
            # switch interval. Other sizes go as powers of two (see _parts)
            limit = 32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999
            self.per_statement = max(1, min(500, limit // len(columns)))
            self._many: dict[int, str] = {}

    def value(self, column: str, v: Any) -> Any:
        """``v`` as the driver gets it for ``column``."""
        proc = self._procs[column]
        return v if v is None or proc is None else proc(v)

    def prepare(self, rows: list[tuple[Any, ...]]) -> list[tuple[str, Any]]:
        """``rows`` as the statements that insert them, with their parameters (the work that needs Python's lock,
        done on the caller's thread: a writing thread then only hands them to the driver)."""
        if self.dialect == "postgresql":
            return [(self.sql, rows)] if rows else []
        out: list[tuple[str, Any]] = []
        i = 0
        for n in _parts(len(rows), self.per_statement):
            sql = self._many.get(n)
            if sql is None:
                sql = self._many[n] = self.sql + ", ".join([self._row] * n)
            out.append((sql, list(chain.from_iterable(rows[i:i + n]))))
            i += n
        return out

    def undone_whole(self, prepared: list[tuple[str, Any]]) -> bool:
        """Whether a failed write of ``prepared`` leaves nothing written without a savepoint: one SQLite statement
        (SQLite undoes a statement that fails whole, and the transaction goes on)."""
        return self.dialect != "postgresql" and len(prepared) == 1

    def write(self, conn: Any, prepared: list[tuple[str, Any]]) -> None:
        """Insert rows made ready by :meth:`prepare`.

        Raises:
            DuplicateKey: a row's unique key exists (the statement is void; roll back to a savepoint).
        """
        if not prepared:
            return
        if self.dialect != "postgresql":
            cur = conn.connection.driver_connection.cursor()
            try:
                for sql, params in prepared:
                    cur.execute(sql, params)
            except sqlite3.IntegrityError as exc:
                raise DuplicateKey(str(exc)) from None
            except sqlite3.Error as exc:  # as SQLAlchemy would have raised it: the store's translation applies
                raise DBAPIError.instance(self.sql, None, exc, sqlite3.Error) from exc
            finally:
                cur.close()
            return
        import psycopg

        raw = conn.connection.driver_connection
        try:
            with raw.cursor() as cur, cur.copy(self.sql) as copy:
                write = copy.write_row
                for _, rows in prepared:
                    for row in rows:
                        write(row)
        except psycopg.errors.UniqueViolation as exc:
            raise DuplicateKey(str(exc)) from None
        except psycopg.Error as exc:  # as SQLAlchemy would have raised it: the store's translation applies
            raise DBAPIError.instance(self.sql, None, exc, psycopg.Error) from exc


def _parts(n: int, most: int) -> list[int]:
    """``n`` rows as statements of ``most`` rows and the powers of two of the rest: a few statement shapes,
    whatever the batches' sizes (the driver keeps up to 128 statements prepared per connection, and a
    prepared INSERT of 500 cases takes a megabyte)."""
    out = [most] * (n // most)
    rest, bit = n % most, 1 << (most.bit_length() - 1)
    while rest:
        if rest >= bit:
            out.append(bit)
            rest -= bit
        bit >>= 1
    return out


_MARKS = {"qmark": "?", "numeric": "?", "format": "%s", "pyformat": "%s"}

_TABLES = {"cases": cases_t, "timeline": timeline_t, "deadlines": deadlines_t}
_bulk: dict[tuple[str, str, tuple[str, ...]], BulkTable] = {}


class IntakeQueries:
    """Bulk intake: which tickets exist, ids up front, batched inserts."""

    conn: Connection

    def existing_refs(self, source: str, refs: Sequence[str]) -> dict[str, int]:
        """The case id of each of ``refs`` already imported from ``source``."""
        found: dict[str, int] = {}
        for i in range(0, len(refs), CHUNK):
            part = list(refs[i:i + CHUNK])
            if self.conn.dialect.name == "postgresql":
                # psycopg prepares a repeated statement, and the plans of an IN list (or = ANY) filtered every
                # hotline case by ref (no statistics yet for rows this import wrote): 300 µs a row at 20,000
                # cases. One array parameter, probed ticket by ticket on the unique index instead
                rows: Any = self.conn.exec_driver_sql(_REFS_PG, (part, source))
            else:  # the statement for this many tickets, to the driver (SQLAlchemy binds an IN list item by item)
                sql = _REFS_SQLITE.get(len(part))
                if sql is None:
                    sql = _REFS_SQLITE[len(part)] = (
                        f"SELECT ref, id FROM cases WHERE source = ? AND ref IN ({', '.join('?' * len(part))})")
                rows = self.conn.exec_driver_sql(sql, (source, *part))
            found.update({r: int(cid) for r, cid in rows})
        return found

    def reserve_case_ids(self, n: int, *, after: int = 0) -> list[int]:
        """``n`` new case ids, safe against concurrent writers (see the module docstring).

        ``after``: the highest id this transaction has taken for rows it has not written yet (on SQLite
        the new ids follow it; PostgreSQL's sequence knows it already).
        """
        if n <= 0:
            return []
        if self.conn.dialect.name == "postgresql":
            rows = self.conn.execute(text("SELECT nextval(pg_get_serial_sequence('cases', 'id')) "
                                          "FROM generate_series(1, :n)"), {"n": n})
            return [int(r[0]) for r in rows]
        top = max(after, int(self.conn.execute(select(func.coalesce(func.max(cases_t.c.id), 0))).scalar_one()))
        return list(range(top + 1, top + n + 1))

    def bulk_table(self, table: str, columns: Sequence[str]) -> BulkTable:
        """A bulk writer of ``table`` (cases, timeline or deadlines) rows with ``columns``, for this connection."""
        key = (self.conn.dialect.name, table, tuple(columns))
        got = _bulk.get(key)
        if got is None:
            got = _bulk[key] = BulkTable(self.conn, _TABLES[table], columns)
        return got

    def insert_rows(self, writer: BulkWriter, prepared: Any) -> None:
        """Insert rows made for ``writer`` and made ready by its ``prepare`` (see :class:`BulkTable`) in this
        transaction."""
        cast(BulkTable, writer).write(self.conn, prepared)

    def insert_batch(self, cases: list[dict[str, Any]], entries: list[dict[str, Any]],
                     deadlines: list[dict[str, Any]]) -> None:
        """Insert a batch of complete cases, their first timeline entries (as column values) and deadline rows.

        Raises:
            DuplicateKey: a ticket was imported by someone else meanwhile (the batch is void).
        """
        rows_by_table = ((cases_t, cases), (timeline_t, entries), (deadlines_t, deadlines))
        try:
            for table, rows in rows_by_table:
                if rows:
                    _writer(self.conn, table, rows).write(self.conn, rows)
        except IntegrityError as exc:
            raise DuplicateKey(str(exc.orig)) from None


__all__ = ["BulkTable", "IntakeQueries"]
