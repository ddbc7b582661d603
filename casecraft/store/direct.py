"""A step's statements sent straight to the driver's cursor, with SQLAlchemy's own SQL and type conversions.

A step sends a few small statements (the case row with the admin revision, the deadlines closed,
and opened, the case row's update and the chained entry: on PostgreSQL those last three in one). Through
``Connection.execute`` each pays SQLAlchemy's execution machinery (an execution context, the
statement cache look-up, event dispatch, a result object): about 40 µs on this project's
machine, more than SQLite takes to run the statement. :func:`run` compiles a statement once per
dialect and set of parameter names (the same compiler, so the same SQL text), keeps its bind
parameters' order and their types' bind processors, and its result columns' processors, and
then only converts the values and calls the DBAPI cursor inside the connection's own
transaction. On PostgreSQL the SQL is sent in PostgreSQL's own numbered form through a psycopg
``RawCursor``: psycopg would otherwise parse a ``%(name)s`` query at every execution once it has
more than 50 parameters or 4 KB (its cache's limits), as a step's one statement does.

What it leaves to ``Connection.execute`` (same results, the slower way):

- a statement whose compilation needs execution-time work: Python-side column defaults, expanding
  (IN) or literal-execute parameters, escaped parameter names;
- a connection someone instruments: cursor-execute listeners (the replay benchmark records the
  statements that way) or echo (SQL logging).

A driver error is raised as SQLAlchemy's wrapped exception (``DBAPIError.instance``), as the
usual path raises it, so :func:`casecraft.store.db.translate_db_error` reads it alike; a lost
connection invalidates the pooled connection, as SQLAlchemy's own handling does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from casecraft.store.db import BEGIN_OWED

_Proc = Callable[[Any], Any] | None
_NO_VALUE = object()
_PRESERVE = {"preserve_rowcount": True}  # an INSERT's rowcount too (SQLAlchemy keeps UPDATE and DELETE's only)


class _Plan:
    """One statement compiled for one dialect and one set of parameter names."""

    __slots__ = ("sql", "named", "binds", "converted", "returns", "raw", "getter", "procs", "names")

    def __init__(self, sql: str, named: bool, binds: list[tuple[str, str, Any, _Proc]],
                 results: list[_Proc] | None) -> None:
        self.sql = sql
        self.named = named  # pyformat (a dict by name) rather than qmark (a tuple by position)
        self.binds = binds  # (name in the SQL, key in the caller's parameters, the fixed value, bind processor)
        # the parameters' values in the binds' order in one C call, then the binds with a processor converted
        self.getter = _picker([b[1] for b in binds])
        self.procs = tuple((i, b[3]) for i, b in enumerate(binds) if b[3] is not None)
        self.names = tuple(b[0] for b in binds)
        # the result columns that need converting, by position, with their processors
        self.converted = [(i, p) for i, p in enumerate(results or ()) if p is not None]
        self.returns = results is not None  # False: a statement that returns no rows
        # PostgreSQL: the SQL with numbered parameters ($1, ...) and a picker of the values in their order (_raw_args)
        self.raw: tuple[str, Callable[[Any], tuple[Any, ...]]] | None = None


# keyed by (statement, dialect name, parameter names); the statement object is held, so its identity stays its own
_PLANS: dict[tuple[Any, str, tuple[str, ...] | None], _Plan | None] = {}


def _plan(stmt: Any, dialect: Any, keys: tuple[str, ...] | None) -> _Plan | None:
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys) if keys is not None else None)
    if compiled.insert_prefetch or compiled.update_prefetch or compiled.escaped_bind_names:
        return None
    if any(b.expanding or b.literal_execute or b.callable is not None for b in compiled.binds.values()):
        return None
    named = not compiled.positional
    order = list(compiled.binds) if named else list(compiled.positiontup or ())
    binds = []
    for name in order:
        b = compiled.binds[name]
        fixed = _NO_VALUE if b.required else b.value
        binds.append((name, b.key, fixed, b.type._cached_bind_processor(dialect)))
    results = None
    if compiled.returning or getattr(stmt, "is_select", False):
        results = [rc[3]._cached_result_processor(dialect, None) for rc in compiled._result_columns]
    return _Plan(compiled.string, named, binds, results)


def _picker(keys: Sequence[Any]) -> Callable[[Any], tuple[Any, ...]]:
    """``lambda m: tuple(m[k] for k in keys)``, in C (``itemgetter``, which gives a lone value for one key)."""
    if len(keys) == 1:
        one = itemgetter(keys[0])
        return lambda m: (one(m),)
    return itemgetter(*keys) if keys else (lambda m: ())


def _values(plan: _Plan, params: Mapping[str, Any]) -> Sequence[Any]:
    """The plan's parameter values in its binds' order, converted by their processors."""
    try:
        got: Sequence[Any] = plan.getter(params)
    except KeyError:  # a bind with a fixed value not given (or a missing one: KeyError below, as before)
        got = [params[key] if fixed is _NO_VALUE or key in params else fixed for _n, key, fixed, _p in plan.binds]
    if plan.procs:
        got = list(got)
        for i, proc in plan.procs:
            got[i] = proc(got[i])
    return got


def _args(plan: _Plan, params: Mapping[str, Any]) -> Any:
    values = _values(plan, params)
    if plan.named:
        return dict(zip(plan.names, values, strict=True))
    return values


def _plan_of(conn: Connection, stmt: Any, keys: tuple[str, ...] | None) -> _Plan | None:
    dialect = conn.dialect
    key = (stmt, dialect.name, keys)
    try:
        plan = _PLANS[key]
    except KeyError:
        plan = _PLANS[key] = _plan(stmt, dialect, keys)
    if plan is None or conn._echo:
        return None
    if (conn._has_events or conn.engine._has_events) and (conn.dispatch.before_cursor_execute
                                                          or conn.dispatch.after_cursor_execute):
        return None  # someone listens to cursor executions: let them hear this one
    return plan


def _raw_args(plan: _Plan, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """PostgreSQL: the plan's SQL with numbered parameters and their values in order, for a psycopg
    ``RawCursor``. psycopg parses a ``%(name)s`` query into that form at every execution unless the query is
    short and has at most 50 parameters (its own cache's limits): a step's one statement has more."""
    raw = plan.raw
    if raw is None:
        sql, names = _dollar(plan)
        raw = plan.raw = (sql, _picker([plan.names.index(name) for name in names]))
    return raw[0], list(raw[1](_values(plan, params)))


def _raw_cursor(conn: Connection) -> Any:
    """:func:`_cursor`'s ``RawCursor`` (PostgreSQL): queries in PostgreSQL's own numbered form, never parsed."""
    fairy = conn.connection
    driver: Any = fairy.driver_connection
    kept = fairy.info.get(_RAW_CURSOR_KEY)
    if kept is not None and kept[0] is driver:
        return kept[1]
    from psycopg import RawCursor  # only here: the PostgreSQL driver is imported only on PostgreSQL

    cursor = RawCursor(driver)
    fairy.info[_RAW_CURSOR_KEY] = (driver, cursor)
    return cursor


_RAW_CURSOR_KEY = "casecraft.direct.raw_cursor"


def _cursor(conn: Connection) -> Any:
    """The DBAPI cursor this module keeps with the pooled connection (made once per driver connection:
    making a psycopg cursor costs about as much as sending a statement). It lives in the pool's own
    per-connection ``info``, which the pool empties when it replaces the driver connection; the
    identity check covers any other replacement."""
    fairy = conn.connection
    driver = fairy.driver_connection
    kept = fairy.info.get(_CURSOR_KEY)
    if kept is not None and kept[0] is driver:
        return kept[1]
    cursor = driver.cursor()  # type: ignore[union-attr]
    fairy.info[_CURSOR_KEY] = (driver, cursor)
    return cursor


_CURSOR_KEY = "casecraft.direct.cursor"


def _raise(conn: Connection, exc: Exception, sql: str, args: Any, cursor: Any) -> None:
    dialect = conn.dialect
    invalid = bool(dialect.is_disconnect(exc, conn.connection.dbapi_connection, cursor))  # type: ignore[arg-type]
    if invalid:
        conn.invalidate(exc)
    raise DBAPIError.instance(sql, args, exc, dialect.loaded_dbapi.Error, connection_invalidated=invalid,
                              dialect=dialect) from exc


def run(conn: Connection, stmt: Any, params: Mapping[str, Any], *,
        keys: tuple[str, ...] | None = None) -> Sequence[Sequence[Any]] | int:
    """Execute ``stmt`` with ``params`` in ``conn``'s transaction.

    Args:
        keys: for an INSERT or UPDATE built without values, the column names given (they decide its SQL,
            as ``Connection.execute`` would compile it for these parameters).

    Returns:
        the rows (tuples, in the result columns' order, converted by their types) for a statement that
        returns rows; else the number of rows changed.
    """
    plan = _plan_of(conn, stmt, keys)
    if plan is None:
        res = conn.execute(stmt, dict(params), execution_options=_PRESERVE)
        if res.returns_rows:
            return [tuple(r) for r in res]
        return int(res.rowcount)
    sql = plan.sql
    if plan.named and conn.dialect.name == "postgresql":
        sql, args = _raw_args(plan, params)
        cursor = _raw_cursor(conn)
    else:
        args = _args(plan, params)
        cursor = _cursor(conn)
    try:
        cursor.execute(sql, args)
        if not plan.returns:
            return int(cursor.rowcount)
        rows = cursor.fetchall()
    except conn.dialect.loaded_dbapi.Error as exc:
        _raise(conn, exc, sql, args, cursor)
        raise  # pragma: no cover - _raise always raises
    return _converted(plan, rows)


def _converted(plan: _Plan, rows: list[Any]) -> Sequence[Sequence[Any]]:
    """The driver's rows with the result columns' processors applied."""
    procs = plan.converted
    if not procs:
        return rows
    out = []
    for row in rows:
        values = list(row)
        for i, p in procs:
            values[i] = p(values[i])
        out.append(values)
    return out


def _dollar(plan: _Plan) -> tuple[str, list[str]]:
    """The plan's SQL with PostgreSQL's numbered parameters ($1, $2, ...), for ``PREPARE``, and the names of
    the parameters in their numbers' order (those the SQL uses)."""
    number: dict[str, str] = {}

    def place(m: re.Match[str]) -> str:
        if not m[1]:
            return "%"
        got = number.get(m[1])
        if got is None:
            got = number[m[1]] = f"${len(number) + 1}"
        return got

    return _PYFORMAT.sub(place, plan.sql), list(number)


_PYFORMAT = re.compile(r"%\((\w+)\)s|%%")
_PREPARED_KEY = "casecraft.direct.prepared"


def _literal(value: Any, driver: Any) -> str | None:
    """``value`` as an SQL literal (whole numbers and text only; None for any other kind)."""
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is str:
        from psycopg.pq import Escaping  # only here: the PostgreSQL driver is imported only on PostgreSQL

        return Escaping(driver.pgconn).escape_literal(value.encode()).decode()
    return None


def run_first(conn: Connection, stmt: Any, params: Mapping[str, Any]) -> Sequence[Sequence[Any]] | int:
    """:func:`run` for the first statement of ``conn``'s transaction: on PostgreSQL, when the transaction's
    ``BEGIN`` was held back for it (:func:`casecraft.store.db.begin_with_first`), both go in one round trip.

    The statement is prepared once per connection (``PREPARE``, outside any transaction) and executed
    with its parameters as literals (whole numbers and text: the case id, fixed names) after ``BEGIN``,
    in one simple query. Anything else sends ``BEGIN`` first, as psycopg would have, then runs as
    :func:`run` does.
    """
    fairy = conn.connection
    driver: Any = fairy.info.get(BEGIN_OWED)
    owed = driver is not None and driver is fairy.driver_connection
    if not owed or driver.pgconn.transaction_status != 0:
        return run(conn, stmt, params)  # no BEGIN owed: the usual path
    plan = _plan_of(conn, stmt, None)
    cursor = _cursor(conn)
    kept = fairy.info.get(_PREPARED_KEY)
    if kept is None or kept[0] is not driver:
        kept = fairy.info[_PREPARED_KEY] = (driver, {})
    prepared: dict[_Plan, tuple[str, list[str]]] = kept[1]
    sql = ""

    def begin_then_run() -> Sequence[Sequence[Any]] | int:
        nonlocal sql
        sql = "BEGIN"  # sent as psycopg would have sent it, then the statement as usual
        cursor.execute(sql)
        return run(conn, stmt, params)

    try:
        if plan is None or not plan.named:
            return begin_then_run()
        for attempt in (1, 2):
            got = prepared.get(plan)
            if got is None:
                text, order = _dollar(plan)
                got = (f"casecraft_first_{id(plan):x}", order)
                sql = f"PREPARE {got[0]} AS {text}"
                cursor.execute(sql)  # in autocommit mode: prepared at once, whatever the transaction does
                prepared[plan] = got
            args = _args(plan, params)
            literals = [_literal(args[k], driver) for k in got[1]]
            if None in literals:
                return begin_then_run()
            sql = f"BEGIN; EXECUTE {got[0]}({', '.join(literals)})"  # type: ignore[arg-type]
            try:
                cursor.execute(sql)
                break
            except conn.dialect.loaded_dbapi.Error as exc:
                # psycopg deallocates every prepared statement of the connection when it sees a rollback, a
                # DROP or an ALTER (its own cache's rule): end the failed transaction, prepare it again, once
                if getattr(exc, "sqlstate", None) != "26000" or attempt == 2:
                    raise
                driver.rollback()
                prepared.clear()
        cursor.nextset()
        rows = cursor.fetchall()
    except conn.dialect.loaded_dbapi.Error as exc:
        _raise(conn, exc, sql, (), cursor)
        raise  # pragma: no cover - _raise always raises
    return _converted(plan, rows)


__all__ = ["run", "run_first"]
