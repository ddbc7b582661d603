"""A step's statements go straight to the driver and write what SQLAlchemy's own execution writes.

``casecraft.store.direct`` sends the hot statements of a step (the case row, the acting person,
the admin revision, the deadlines, the case update, the chained entry) on the DBAPI cursor with
SQLAlchemy's SQL and type conversions. When anyone listens to cursor executions it hands them
to ``Connection.execute`` instead. Here the same path is walked on two databases, one each way,
and every row written is compared; the chain is verified; and the hot statements are shown to
skip SQLAlchemy's execution when nobody listens.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import event

from bench.throughput import PATH  # case C's path, as the benchmark walks it
from casecraft import Engine, FixedClock
from casecraft.audit.verify import verify
from casecraft.base.errors import TriggerNotAllowed, UnavailableError
from tests.conftest import _pg_schema_url, bj, sandbox

GRID5 = "110106004005005"
TABLES = ("cases", "timeline", "deadlines")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(bj(24, "10:30"))


def _walk(eng: Engine, clock: FixedClock) -> list[Any]:
    shown = []
    for n in range(2):
        cid = eng.report(source="patrol", grid=GRID5, category="0201", desc=f"消防设施隐患{n}", actor="wangjg").id
        for trigger, actor, kw in PATH:
            clock.advance(minutes=7)
            shown.append(eng.fire(cid, trigger, actor=actor, **kw).to_dict())
    return shown


def _rows(eng: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with eng.ctx.store.read() as tx:
        return {t: tx.table_rows(t) for t in TABLES}


@pytest.fixture
def other_url(db_url: str, tmp_path: Any) -> Iterator[str]:
    """A second new database on ``db_url``'s backend."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other.db'}"
    else:
        yield from _pg_schema_url()


def test_rows_written_straight_are_the_rows_sqlalchemy_writes(db_url: str, other_url: str) -> None:
    clock_a, clock_b = FixedClock(bj(24, "10:30")), FixedClock(bj(24, "10:30"))
    straight, through = sandbox(db_url, clock_a), sandbox(other_url, clock_b)
    seen: list[str] = []

    def listen(_conn: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(through.ctx.store.engine, "before_cursor_execute", listen)
    try:
        assert _walk(straight, clock_a) == _walk(through, clock_b)
        a, b = _rows(straight), _rows(through)
        for table in TABLES:
            assert a[table] == b[table], table
        assert len(a["timeline"]) == 2 * (len(PATH) + 1)
        # the listener saw every statement: with it, nothing went around SQLAlchemy
        assert sum("INSERT INTO timeline" in s for s in seen) == 2 * (len(PATH) + 1)
        for eng in (straight, through):
            report = verify(eng)
            assert report.ok and report.entries == len(a["timeline"]), report.to_dict()
    finally:
        event.remove(through.ctx.store.engine, "before_cursor_execute", listen)
        straight.close()
        through.close()


def test_a_step_skips_sqlalchemys_execution_when_nobody_listens(engine: Engine, clock: FixedClock) -> None:
    executed: list[str] = []

    def before(_conn: Any, clauseelement: Any, *_: Any) -> None:  # statement level: fired by Connection.execute
        executed.append(" ".join(str(clauseelement).split()[:3]))

    cid = engine.report(source="patrol", grid=GRID5, category="0201", desc="消防设施隐患", actor="wangjg").id
    event.listen(engine.ctx.store.engine, "before_execute", before)
    try:
        for trigger, actor, kw in PATH[:3]:
            engine.fire(cid, trigger, actor=actor, **kw)
        engine.list()  # a listing still goes through SQLAlchemy: the listener hears it
    finally:
        event.remove(engine.ctx.store.engine, "before_execute", before)
    hot = [s for s in executed if s.startswith(("UPDATE", "INSERT", "WITH"))]
    assert hot == [], hot  # the case update, the entry and the deadlines went straight to the driver
    assert engine.get(cid).version == 4
    assert any(s.startswith("SELECT") for s in executed), executed


def test_a_connection_keeps_one_cursor_and_a_replaced_connection_gets_a_new_one(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The straight statements reuse one DBAPI cursor per driver connection (PostgreSQL's pooled ones, SQLite's
    writer connection; on PostgreSQL one of each kind: the usual one and the RawCursor of the statements sent in
    PostgreSQL's numbered form); when the driver connection is replaced (here: the pool's closed and the
    writer's given back, as after a lost server), the next step makes a new cursor and works."""
    from casecraft.store import direct

    sa_engine = engine.ctx.store.engine
    kept: list[tuple[Any, str, Any]] = []  # (driver connection, kind, cursor) as casecraft.store.direct gives them
    def watching(kind: str) -> Any:
        of = getattr(direct, kind)

        def watched(conn: Any) -> Any:
            cursor = of(conn)
            kept.append((conn.connection.driver_connection, kind, cursor))
            return cursor

        return watched

    for name in ("_cursor", "_raw_cursor"):
        monkeypatch.setattr(direct, name, watching(name))
    cid = engine.report(source="patrol", grid=GRID5, category="0201", desc="消防设施隐患", actor="wangjg").id
    for trigger, actor, kw in PATH[:3]:
        engine.fire(cid, trigger, actor=actor, **kw)
    assert len(kept) >= 6  # three steps of several statements each
    by_driver: dict[tuple[int, str], set[int]] = {}
    for driver, kind, cursor in kept:
        by_driver.setdefault((id(driver), kind), set()).add(id(cursor))
    assert all(len(cursors) == 1 for cursors in by_driver.values()), by_driver  # one cursor per connection
    before = [c for _d, _k, c in kept]  # held: a freed cursor's id could be a new one's
    with sa_engine.connect() as conn:
        conn.invalidate()  # the driver connection is closed; the pool makes a new one when next asked
    engine.ctx.store.dispose()  # SQLite's writer gives its connection back; the pool closes every one it holds
    kept.clear()
    for trigger, actor, kw in PATH[3:5]:
        engine.fire(cid, trigger, actor=actor, **kw)
    assert kept and not any(c is old for _d, _k, c in kept for old in before)  # new connections, new cursors
    assert engine.get(cid).version == 6
    assert verify(engine).ok


def test_a_driver_fault_in_a_straight_statement_is_a_clear_error(pg_url: str, clock: FixedClock,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A case row held by another transaction: the step's locking read times out inside the driver."""
    import sqlalchemy as sa

    monkeypatch.setenv("CASECRAFT_LOCK_TIMEOUT", "1")
    eng = sandbox(pg_url, clock)
    try:
        cid = eng.report(source="patrol", grid=GRID5, category="0201", desc="消防设施隐患", actor="wangjg").id
        before = eng.get(cid).version
        other = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
        with other.connect() as holder:
            holder.execute(sa.text("SELECT id FROM cases WHERE id = :id FOR UPDATE"), {"id": cid})
            with pytest.raises(UnavailableError, match="busy"):
                eng.fire(cid, "escalate", actor="wangjg", note="上报社区")
            holder.rollback()
        other.dispose()
        assert eng.get(cid).version == before
        assert eng.fire(cid, "escalate", actor="wangjg", note="上报社区").version == before + 1
    finally:
        eng.close()


def test_sqlite_readers_begin_deferred_and_writers_immediate(sqlite_url: str, clock: FixedClock,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The dialect's begin: a read leaves the write lock free; a write takes it before its first statement."""
    monkeypatch.setenv("CASECRAFT_LOCK_TIMEOUT", "1")
    eng = sandbox(sqlite_url, clock)
    other = sandbox(sqlite_url, clock)
    try:
        cid = eng.report(source="patrol", grid=GRID5, category="0201", desc="消防设施隐患", actor="wangjg").id
        with eng.ctx.store.read() as tx:
            assert tx.case(cid) is not None
            # a reader holds no write lock: another process's step goes through meanwhile
            assert other.fire(cid, "escalate", actor="wangjg", note="上报社区").version == 2
        with eng.ctx.store.write():
            # a writer holds the write lock from its BEGIN, before it has written anything
            with pytest.raises(UnavailableError, match="busy"):
                other.fire(cid, "dispatch", actor="zhoumin", to=["zhangwei", "chengang"], note="分配")
        assert other.get(cid).version == 2
    finally:
        other.close()
        eng.close()


def test_utc_timestamps_on_sqlite_read_and_write_as_sqlalchemys_datetime_does() -> None:
    """UTCDateTime's one-call SQLite conversions give SQLAlchemy's DATETIME text and values, zone converted."""
    import random
    from datetime import UTC, datetime, timedelta, timezone

    from sqlalchemy import DateTime
    from sqlalchemy.dialects import sqlite

    from casecraft.store.types import UTCDateTime

    dialect, ours = sqlite.dialect(), UTCDateTime()
    write, read = ours.bind_processor(dialect), ours.result_processor(dialect, None)
    impl = DateTime(timezone=True).dialect_impl(dialect)
    sa_write, sa_read = impl.bind_processor(dialect), impl.result_processor(dialect, None)
    rnd = random.Random(16)
    checked = 0
    for _ in range(5000):
        zone = rnd.choice([UTC, timezone(timedelta(minutes=rnd.randrange(-14 * 60, 14 * 60, 15)))])  # UTC: fast path
        value = datetime(rnd.randrange(2, 9998), rnd.randrange(1, 13), rnd.randrange(1, 29), rnd.randrange(24),
                         rnd.randrange(60), rnd.randrange(60), rnd.choice([0, rnd.randrange(10**6)]), tzinfo=zone)
        text = sa_write(ours.process_bind_param(value, dialect))
        assert write(value) == text
        for stored in (text, text[:19], text[:10]):  # with and without the fraction, a bare date
            assert read(stored) == ours.process_result_value(sa_read(stored), dialect), stored
        assert read(text) == value
        checked += 1
    assert checked == 5000
    # text of the written length in another form (written by hand, by another tool) reads as before
    for other in ("2026-11-24T02:30:00.12345Z", "2026-11-24 10:30:00.1+08:00"):
        assert read(other) == ours.process_result_value(sa_read(other), dialect) == datetime.fromisoformat(other)
    assert write(None) is None and read(None) is None
    with pytest.raises(ValueError, match="naive"):
        write(datetime(2026, 11, 30, 12, 0))
    # the hour a clock goes back: equal as times of one zone, an hour apart as instants, stored apart
    from zoneinfo import ZoneInfo

    first = datetime(2026, 10, 25, 2, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    second = first.replace(fold=1)
    assert first == second
    assert (write(first), write(second)) == ("2026-10-25 00:30:00.000000", "2026-10-25 01:30:00.000000")
    assert (write(second), write(first)) == ("2026-10-25 01:30:00.000000", "2026-10-25 00:30:00.000000")
    assert read(write(second)) - read(write(first)) == timedelta(hours=1)


@pytest.mark.postgres
def test_a_postgresql_step_in_one_statement_writes_what_one_statement_each_writes(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL writes a step's opened deadlines, case update and entry in one statement (data-modifying CTEs);
    walked one statement each on a second schema, the rows are the same. A step on a case whose version moved
    writes no entry."""
    from casecraft.store import repo

    others = _pg_schema_url()
    other_url = next(others)
    clock_a, clock_b = FixedClock(bj(24, "10:30")), FixedClock(bj(24, "10:30"))
    one, each = sandbox(pg_url, clock_a), sandbox(other_url, clock_b)
    try:
        shown_one = _walk(one, clock_a)
        monkeypatch.setattr(repo, "STEP_IN_ONE_STATEMENT", False)
        assert _walk(each, clock_b) == shown_one
        monkeypatch.setattr(repo, "STEP_IN_ONE_STATEMENT", True)
        a, b = _rows(one), _rows(each)
        for table in TABLES:
            assert a[table] == b[table], table
        assert verify(one).ok
        # the update matches no row: nothing of the step is kept once the caller rolls back
        cid = one.report(source="patrol", grid=GRID5, category="0201", desc="消防设施隐患", actor="wangjg").id
        with one.ctx.store.write() as tx:
            case = tx.case(cid)
            assert case is not None
            entry = tx.timeline(cid)[0]
            moved = tx.write_step(cid, case.version + 7, {"state": "x"}, replace(entry, seq=2),
                                  [{**_deadline_row(tx, cid), "seq": 2}])
            assert moved is False
            assert [e.seq for e in tx.timeline(cid)] == [1]  # no entry without its case update
    finally:
        one.close()
        each.close()
        next(others, None)


def _deadline_row(tx: Any, case_id: int) -> dict[str, Any]:
    row = tx.case_deadlines(case_id)[0]
    return {k: getattr(row, k) for k in ("case_id", "kind", "seq", "state", "tier", "unit_code", "limit_text",
                                         "calendar", "started_at", "warn_at", "due_at", "escalate_at",
                                         "next_alert_at", "extended", "closed_at", "outcome", "provisional")}


def test_deadlines_close_alike_on_sqlite_and_postgresql(sqlite_url: str, pg_url: str) -> None:
    """SQLite closes a step's open deadlines by id (read, then one UPDATE each); PostgreSQL in one UPDATE by case:
    the same walk (a late step, met steps, a park and an unpark, a close) leaves the same deadline rows and the same
    chained entries, byte for byte, on both."""
    def walk(url: str) -> tuple[list[Any], list[Any], list[Any], list[str]]:
        clock = FixedClock(bj(24, "10:30"))
        eng = sandbox(url, clock)
        try:
            cid = eng.report(source="patrol", grid=GRID5, category="0201", desc="消防设施隐患", actor="wangjg").id
            clock.advance(days=3)  # the grid's step limit has passed: closed late
            eng.fire(cid, "escalate", actor="wangjg", note="上报社区")
            clock.advance(minutes=5)
            eng.park(cid, actor="fengzr", note="需区级协调，暂挂账")  # the step clock pauses (keeps its next alert)
            parked = _rows(eng)["deadlines"]
            clock.advance(hours=2)
            eng.unpark(cid, actor="fengzr", note="恢复")
            for trigger, actor, kw in PATH[1:]:
                clock.advance(minutes=7)  # in time: closed met
                eng.fire(cid, trigger, actor=actor, **kw)
            rows = _rows(eng)
            with eng.ctx.store.read() as tx:
                facts = [e.deadline_facts for e in tx.timeline(cid)]
            report = verify(eng)
            assert report.ok, report.to_dict()
            return parked, rows["deadlines"], facts, [e.hash for e in eng.get(cid).timeline]
        finally:
            eng.close()

    lite, pg = walk(sqlite_url), walk(pg_url)
    assert lite == pg
    outcomes = [f.get("outcome") for entry in lite[2] for f in entry.values() if "outcome" in f]
    assert {"late", "met", "paused"} <= set(outcomes), outcomes


def test_threads_of_one_process_write_sqlite_through_one_connection_in_turn(sqlite_url: str, clock: FixedClock,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's writer connection: eight threads' steps all land (none lost, the chains whole), one at a time;
    a thread that waits longer than the lock timeout for it is told the database is busy and nothing changes."""
    import threading

    monkeypatch.setenv("CASECRAFT_LOCK_TIMEOUT", "1")
    eng = sandbox(sqlite_url, clock)
    try:
        ids = [eng.report(source="patrol", grid=GRID5, category="0201", desc=f"消防设施隐患{n}", actor="wangjg").id
               for n in range(8)]
        errors: list[BaseException] = []

        def walk(cid: int) -> None:
            try:
                for trigger, actor, kw in PATH:
                    eng.fire(cid, trigger, actor=actor, **kw)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=walk, args=(cid,)) for cid in ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert [eng.get(cid).state for cid in ids] == ["closed"] * 8
        assert all(eng.get(cid).version == len(PATH) + 1 for cid in ids)
        assert verify(eng).ok

        # one thread holds the writer past the timeout: another thread's step is refused as busy, unchanged
        cid = eng.report(source="patrol", grid=GRID5, category="0201", desc="消防设施隐患", actor="wangjg").id
        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            with eng.ctx.store.write():
                held.set()
                release.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        try:
            assert held.wait(10)
            with pytest.raises(UnavailableError, match="busy"):
                eng.fire(cid, "escalate", actor="wangjg", note="上报社区")
        finally:
            release.set()
            holder.join()
        assert eng.get(cid).version == 1
        assert eng.fire(cid, "escalate", actor="wangjg", note="上报社区").version == 2
        # a write begun inside this thread's own write takes a pooled connection (SQLite then waits for its lock)
        with eng.ctx.store.write():
            with pytest.raises(UnavailableError, match="busy"):
                eng.fire(cid, "dispatch", actor="zhoumin", to=["zhangwei", "chengang"], note="分配")
        assert eng.get(cid).version == 2
    finally:
        eng.close()


def test_a_postgresql_step_sends_its_begin_with_its_first_read(pg_url: str, clock: FixedClock,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL a step's BEGIN travels with its locking read (one round trip fewer); the pooled connection
    is back in psycopg's own transaction mode afterwards, also after a refused step; one lent out in
    autocommit mode (a transaction whose end failed) is put right before anyone gets it."""
    from casecraft.store import direct

    eng = sandbox(pg_url, clock)
    sa_engine = eng.ctx.store.engine
    sent: list[str] = []
    try:
        cid = eng.report(source="patrol", grid=GRID5, category="0201", desc="消防设施隐患", actor="wangjg").id

        class Recording:
            def __init__(self, cursor: Any) -> None:
                self._cursor = cursor

            def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
                sent.append(str(query))
                return self._cursor.execute(query, params, **kw)

            def __getattr__(self, name: str) -> Any:
                return getattr(self._cursor, name)

        cursor_of = direct._cursor
        monkeypatch.setattr(direct, "_cursor", lambda conn: Recording(cursor_of(conn)))
        view = eng.fire(cid, "escalate", actor="wangjg", note="上报社区")
        assert view.version == 2 and view.state == "community_handling"
        first = [s for s in sent if s.startswith("BEGIN; EXECUTE casecraft_first_")]
        assert len(first) == 1, sent  # BEGIN and the locking read in one simple query
        assert not any(s == "BEGIN" for s in sent), sent
        assert _pooled_autocommit(sa_engine) == {False}
        with pytest.raises(TriggerNotAllowed):
            eng.fire(cid, "close", actor="wangjg")  # refused inside the transaction: rolled back
        assert _pooled_autocommit(sa_engine) == {False}
        with sa_engine.connect() as conn:
            driver = conn.connection.driver_connection
            driver.autocommit = True  # type: ignore[union-attr]  # as a failed end of transaction could leave it
        assert _pooled_autocommit(sa_engine) == {False}  # put right when lent out again
        # the server forgets the connection's prepared statements (psycopg deallocates them all when it sees a
        # rollback, a DROP or an ALTER): the step prepares its read again and goes through
        conns = [sa_engine.connect() for _ in range(max(1, sa_engine.pool.checkedin()))]
        for c in conns:
            c.exec_driver_sql("DEALLOCATE ALL")
            c.commit()
            c.close()
        sent.clear()
        again = eng.fire(cid, "dispatch", actor="zhoumin", to=["zhangwei", "chengang"], note="分配")
        assert again.version == 3
        assert [s for s in sent if s.startswith("PREPARE casecraft_first_")], sent
        assert verify(eng).ok
    finally:
        eng.close()


def _pooled_autocommit(sa_engine: Any) -> set[bool]:
    """The autocommit flags of every connection the pool holds, each lent out once (all at the same time)."""
    conns = [sa_engine.connect() for _ in range(max(1, sa_engine.pool.checkedin()))]
    try:
        return {c.connection.driver_connection.autocommit for c in conns}
    finally:
        for c in conns:
            c.close()


def test_a_postgresql_step_is_never_parsed_by_the_driver(pg_url: str, clock: FixedClock,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """psycopg parses a ``%(name)s`` query into PostgreSQL's numbered form at every execution when it is long
    or has more than 50 parameters (its cache's limits); a step's one statement has more since its limit moved
    onto the case row (measured: about a fifth of a step's client time). The straight statements are sent
    already numbered, through a RawCursor: the driver parses none of them."""
    import psycopg._queries as queries

    eng = sandbox(pg_url, clock)
    try:
        cid = eng.report(source="patrol", grid=GRID5, category="0201", desc="消防设施隐患", actor="wangjg").id
        parsed: list[tuple[str, bytes]] = []
        for name in ("_query2pg", "_query2pg_nocache"):
            real = getattr(queries, name)
            monkeypatch.setattr(queries, name, lambda q, *a, _real=real, _name=name, **k:
                                parsed.append((_name, bytes(q))) or _real(q, *a, **k))
        for trigger, actor, kw in PATH:
            clock.advance(minutes=5)
            eng.fire(cid, trigger, actor=actor, **kw)
        assert eng.get(cid).state == "closed"
        assert not [q for name, q in parsed if name == "_query2pg_nocache"]
        # the step's own statements (its case read, its one writing statement) went through no parser
        assert not [q for _, q in parsed if b"INSERT INTO timeline" in q or b"FROM cases" in q], parsed
        assert verify(eng).ok
    finally:
        eng.close()
