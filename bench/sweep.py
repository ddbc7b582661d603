"""The overdue sweep on a large table: one 500-case claim, its plan, and the same query without the index.

The figure is the store's ``claim_due`` itself — the sweep's claim of a batch
of due step limits, which since migration 0006 run on the case rows
(``cases.stage_*``, through the partial index ``ix_cases_stage_next_alert``;
``FOR NO KEY UPDATE SKIP LOCKED`` on PostgreSQL), fetched into the records the
sweep reads — timed inside a write transaction that is rolled back, so the
cached data set stays as generated. The peer is the very statement it sends
(captured from the wire), executed bare on the DBAPI cursor (``cursor.execute``
+ ``fetchall``: no SQLAlchemy, no type conversion, no records), alternating with
the claim in the same loop. For reference, the same statement with the index out
of the planner's reach (``cases NOT INDEXED`` on SQLite; index and bitmap scans
off on PostgreSQL), and the plan read back with EXPLAIN.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench.gen import SWEEP_NOW

BATCH = 500
TABLE = "cases"  # the claim's table since migration 0006 (the running step limits are the case rows' stage_*)
INDEX = "ix_cases_stage_next_alert"


def _statement(store: Any) -> tuple[str, Any]:
    import sqlalchemy as sa

    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if f"FROM {TABLE}" in statement and "stage_next_alert_at" in statement:
            seen.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", capture)
    try:
        with store.write() as tx:
            tx.claim_due(SWEEP_NOW, BATCH)
            tx.conn.rollback()
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", capture)
    assert len(seen) == 1, seen  # the claim is one statement
    return seen[0]


def plan(store: Any) -> str:
    statement, params = _statement(store)
    prefix = "EXPLAIN QUERY PLAN " if store.dialect == "sqlite" else "EXPLAIN "
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + statement, params).all()
        conn.rollback()
    return "\n".join(str(r[-1]) for r in rows)


def uses_index(text: str) -> bool:
    return INDEX in text and "Seq Scan" not in text and f"SCAN {TABLE}" not in text


def time_claims(store: Any, runs: int) -> tuple[float, float, float, float, int]:
    """(claim best ms, bare best ms, claim median ms, bare median ms, rows claimed) over ``runs`` alternating
    rounds. On a shared machine noise only ever adds time, so the bests are compared."""
    statement, params = _statement(store)
    claims: list[float] = []
    bare: list[float] = []
    n = 0
    raw = store.engine.raw_connection()
    try:
        for _ in range(runs + 2):
            with store.write() as tx:
                start = time.perf_counter()
                n = len(tx.claim_due(SWEEP_NOW, BATCH))
                claims.append((time.perf_counter() - start) * 1000)
                tx.conn.rollback()
            cur = raw.cursor()
            if store.dialect == "sqlite":
                cur.execute("BEGIN IMMEDIATE")  # as the store's write transaction
            start = time.perf_counter()
            cur.execute(statement, params)
            got = len(cur.fetchall())
            bare.append((time.perf_counter() - start) * 1000)
            raw.rollback()
            assert got == n, (got, n)
    finally:
        raw.close()
    claims, bare = claims[2:], bare[2:]  # the first two warm the page cache and the statement cache
    return min(claims), min(bare), statistics.median(claims), statistics.median(bare), n


def time_without_index(store: Any, runs: int) -> float:
    """Median ms of the same statement with the index out of reach (a full scan and a sort)."""
    statement, params = _statement(store)
    times = []
    for _ in range(runs):
        with store.engine.connect() as conn:
            if store.dialect == "sqlite":
                sql = statement.replace(f"FROM {TABLE}", f"FROM {TABLE} NOT INDEXED", 1)
                assert sql != statement, statement
            else:
                conn.exec_driver_sql("SET LOCAL enable_indexscan = off")
                conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
                sql = statement
            start = time.perf_counter()
            conn.exec_driver_sql(sql, params).all()
            times.append((time.perf_counter() - start) * 1000)
            conn.rollback()
    return statistics.median(times)
