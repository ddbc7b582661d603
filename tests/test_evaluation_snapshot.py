"""The evaluation's scans run side by side on several connections, all reading one snapshot."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from casecraft import FixedClock
from casecraft.evaluation import record_month
from casecraft.store import evaluation_repo as q
from tests.conftest import WORKFLOW, bj, sandbox

_RENAMED = sa.text("SELECT count(*) FROM units WHERE name = 'renamed'")


def test_readers_side_by_side_see_one_snapshot(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A commit made while the scans run is seen by none of them, on any connection."""
    monkeypatch.setattr(q, "_cores", lambda: 2)
    eng = sandbox(db_url, FixedClock(bj(2, "10:00", month=12)))
    store = eng.store
    assert q.readers_for(store, 5) == 2 and q.readers_for(store, 1) == 1
    committed = threading.Event()
    both = threading.Barrier(2, timeout=10)  # each job waits for the other: they run side by side
    readers: list[Any] = []

    def write_then_count(tx: Any) -> int:
        both.wait()
        readers.append(tx.conn)
        with store.write() as w:  # another connection commits while this reader is open
            w.conn.execute(sa.text("UPDATE units SET name = 'renamed'"))
        committed.set()
        return int(tx.conn.execute(_RENAMED).scalar_one())

    def count_after_the_commit(tx: Any) -> int:
        both.wait()
        readers.append(tx.conn)
        assert committed.wait(10)
        return int(tx.conn.execute(_RENAMED).scalar_one())

    assert q.read_together(store, [write_then_count, count_after_the_commit]) == [0, 0]
    assert readers[0] is not readers[1]  # two connections
    with store.read() as tx:
        assert int(tx.conn.execute(_RENAMED).scalar_one()) > 0
    eng.close()


def test_one_reader_sees_one_snapshot(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On one core the jobs run in order in one transaction, which a commit made meanwhile does not change."""
    monkeypatch.setattr(q, "_cores", lambda: 1)
    eng = sandbox(db_url, FixedClock(bj(2, "10:00", month=12)))
    store = eng.store
    assert q.readers_for(store, 5) == 1

    def write_then_count(tx: Any) -> int:
        tx.conn.execute(sa.text("SELECT count(*) FROM cases")).scalar_one()  # the snapshot is taken by now
        with store.write() as w:
            w.conn.execute(sa.text("UPDATE units SET name = 'renamed'"))
        return int(tx.conn.execute(_RENAMED).scalar_one())

    def count(tx: Any) -> int:
        return int(tx.conn.execute(_RENAMED).scalar_one())

    assert q.read_together(store, [write_then_count, count]) == [0, 0]
    eng.close()


def test_a_read_only_sqlite_opening_reads_on_one_connection(sqlite_url: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """It cannot hold the write lock that lines the readers' snapshots up: one reader, and the month still
    computes (the same grid figures as the recorded run)."""
    from casecraft import Engine
    from casecraft.evaluation import monthly_report

    monkeypatch.setattr(q, "_cores", lambda: 2)
    clock = FixedClock(bj(2, "10:00", month=12))
    eng = sandbox(sqlite_url, clock)
    assert record_month(eng, "2026-11").created
    with eng.store.read() as tx:
        recorded = {r["unit_code"]: r["figures"] for r in q.run_results(tx, 1, "grid")}
    eng.close()
    ro = Engine(sqlite_url, WORKFLOW, clock, read_only=True)
    try:
        assert q.readers_for(ro.store, 5) == 1
        report = monthly_report(ro, "2026-11")
        assert recorded and {r.unit: r.figures for r in report.rows} == recorded
    finally:
        ro.close()


def test_the_collector_is_paused_while_counting_and_restored_after(sqlite_url: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from casecraft.base.errors import InputError
    from casecraft.evaluation import monthly_report

    eng = sandbox(sqlite_url, FixedClock(bj(2, "10:00", month=12)))
    real = q.case_sums
    during: list[bool] = []

    def watched(*args: Any, **kwargs: Any) -> Any:
        during.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(q, "case_sums", watched)
    assert gc.isenabled()
    try:
        assert record_month(eng, "2026-11").created
        assert during == [False] and gc.isenabled()
        with pytest.raises(InputError):
            monthly_report(eng, "2026-13")
        assert gc.isenabled()
        gc.disable()  # an application that runs with the collector off keeps it off
        monthly_report(eng, "2026-11")
        assert not gc.isenabled() and during == [False, False, False]  # this month and the one before
    finally:
        gc.enable()
        eng.close()


def test_a_held_write_lock_is_not_waited_for(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """While a writer holds SQLite's write lock (a long import, say) the jobs run on one reader at once,
    not after the lock timeout; the readers go back to the pool with their lock timeout as it was."""
    monkeypatch.setattr(q, "_cores", lambda: 2)
    eng = sandbox(sqlite_url, FixedClock(bj(2, "10:00", month=12)))
    store = eng.store
    seen: list[Any] = []

    def job(tx: Any) -> int:
        seen.append(tx.conn)
        return int(tx.conn.execute(sa.text("SELECT count(*) FROM units")).scalar_one())

    with store.write() as w:
        w.conn.execute(sa.text("UPDATE units SET name = 'renamed'"))  # holds the lock until the block ends
        counts = q.read_together(store, [job, job])
    assert counts[0] == counts[1] > 0 and seen[0] is seen[1]
    with store.engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        assert raw.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    seen.clear()
    both = threading.Barrier(2, timeout=10)

    def side_by_side(tx: Any) -> int:
        both.wait()  # returns only when the other job runs at the same time
        return job(tx)

    q.read_together(store, [side_by_side, side_by_side])  # the lock is free again: two readers
    assert seen[0] is not seen[1]
    eng.close()
