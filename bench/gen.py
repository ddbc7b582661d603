"""Seeded data generators and the bulk loader they share.

Large data sets go in with bulk inserts — ``executemany`` of prepared rows on
SQLite, ``COPY`` on PostgreSQL — straight into the engine's own tables (the
schema is created by ``casecraft init`` first), and are cached: SQLite files
under bench/.data/, PostgreSQL schemas named ``bench_cache_*``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import SEED, WORKFLOW, at
from casecraft.base.records import STAGE_COLUMNS

GRIDS = ["110106004005005", "110106004005001", "110106004001001", "110106004001002"]


def _sqlite_value(v: Any) -> Any:
    t = type(v)
    if t is datetime:  # as SQLAlchemy stores UTCDateTime on SQLite: naive UTC text
        if v.utcoffset():
            v = v.astimezone(UTC)
        return v.replace(tzinfo=None).isoformat(" ", "microseconds")
    if t is bool:
        return int(v)
    if t is list or t is dict:
        return json.dumps(v, ensure_ascii=False)
    return v


def _pg_value(v: Any) -> Any:
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False)
    return v


def load(db: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], batch: int = 20_000) -> int:
    """Bulk-insert ``rows`` (tuples in ``columns`` order, Python values) into ``table``. Returns the count."""
    n = 0
    if db.dialect.name == "sqlite":
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        raw = db.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("BEGIN")
            chunk: list[tuple[Any, ...]] = []
            for r in rows:
                chunk.append(tuple(map(_sqlite_value, r)))
                if len(chunk) >= batch:
                    cur.executemany(sql, chunk)
                    n += len(chunk)
                    chunk.clear()
            if chunk:
                cur.executemany(sql, chunk)
                n += len(chunk)
            cur.execute("COMMIT")
        finally:
            raw.close()
        return n
    raw = db.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row([_pg_value(v) for v in r])
                n += 1
        raw.commit()
    finally:
        raw.close()
    return n


def analyze(db: Any) -> None:
    with db.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def init_db(url: str, now: datetime) -> int:
    """Create the schema, load the default organisation, register the workflow; the version id."""
    from casecraft import Engine, FixedClock

    eng = Engine(url, WORKFLOW, FixedClock(now))
    try:
        return int(eng.init(sandbox=True)["workflow_version_id"])
    finally:
        eng.close()


CASE_COLS = ("id", "workflow_version_id", "state", "tier", "unit_code", "grid_code", "category_code", "urgency",
             "source", "ref", "description", "reporter_id", "assignees", "resolved_tier", "is_open", "created_at",
             "updated_at", "closed_at", "version", "last_hash", "deadline_at", "registered_at", "parked",
             "channel", "received_at", "contact")
CASE_STAGE_COLS = CASE_COLS + STAGE_COLUMNS
"""A case row with its running step limit (``stage_*``, schema 0006): where an open case's step limit lives."""
DEADLINE_COLS = ("case_id", "kind", "seq", "state", "tier", "unit_code", "limit_text", "calendar", "started_at",
                 "warn_at", "due_at", "escalate_at", "next_alert_at", "extended", "closed_at", "outcome")
TIMELINE_COLS = ("case_id", "seq", "at", "actor_id", "actor_role", "actor_unit", "trigger", "from_state", "to_state",
                 "from_tier", "to_tier", "unit_code", "targets", "outcome", "note", "attachments", "prev_hash", "hash")

SWEEP_NOW = at(24, "17:00").astimezone(UTC)  # generated times in UTC: no conversion per row

SWEEP_GENERATOR = 4
"""Bumped when the sweep's data or its schema changes (bench/run.py tags its cache with it): 2 = every step
limit a deadlines row; 3 = the schema of migration 0006 (an open case's running step limit on its case row); 4 = its
covering ix_cases_stage_due."""


def build_sweep(url: str, n_cases: int, *, open_share: float = 0.3, due_share: float = 0.1) -> dict[str, int]:
    """``n_cases`` cases, ``open_share`` of them open with a running step limit (on the case row, the
    ``stage_*`` columns, as the engine keeps it since migration 0006); of those, ``due_share`` have an
    alert due at SWEEP_NOW. Every closed case has a closed step deadline row (written when its stage ended)."""
    from casecraft.store.db import make_engine

    vid = init_db(url, SWEEP_NOW - timedelta(days=30))
    rng = random.Random(SEED)
    plan: list[tuple[bool, bool, datetime, str]] = []
    for _ in range(n_cases):
        is_open = rng.random() < open_share
        due = is_open and rng.random() < due_share
        start = SWEEP_NOW - timedelta(minutes=rng.randrange(60, 30 * 24 * 60))
        plan.append((is_open, due, start, rng.choice(GRIDS)))
    no_stage = (None,) * len(STAGE_COLUMNS)

    def limit(start: datetime) -> tuple[datetime, datetime, datetime]:
        return start + timedelta(hours=3), start + timedelta(hours=4), start + timedelta(days=1)

    def cases() -> Iterator[tuple[Any, ...]]:
        for i, (is_open, due, start, grid) in enumerate(plan, 1):
            closed = None if is_open else start + timedelta(hours=2)
            stage: tuple[Any, ...] = no_stage
            if is_open:  # the running step limit (STAGE_FIELDS' order); the same draws as generator 2's rows
                warn, due_at, esc = limit(start)
                nxt = (SWEEP_NOW - timedelta(minutes=rng.randrange(1, 600)) if due
                       else SWEEP_NOW + timedelta(minutes=rng.randrange(1, 3 * 24 * 60)))
                stage = (1, "grid_handling", "grid", grid, "4 working hours", "calendar_days", start, warn, due_at,
                         esc, nxt, 0, None, None, False, None)
            yield (i, vid, "grid_handling" if is_open else "closed", "grid", grid, grid, "0101", "normal", "patrol",
                   None, f"巡查发现小广告{i}", "wangjg", [], None if is_open else "grid", is_open, start,
                   closed or start, closed, 1 if is_open else 4, f"{i:064x}", start + timedelta(days=1), start,
                   False, None, None, None, *stage)

    def deadlines() -> Iterator[tuple[Any, ...]]:
        for i, (is_open, _, start, grid) in enumerate(plan, 1):
            if not is_open:  # an ended stage's row; an open case's running limit is on its case row
                warn, due_at, esc = limit(start)
                yield (i, "step", 1, "grid_handling", "grid", grid, "4 working hours", "calendar_days", start, warn,
                       due_at, esc, None, 0, start + timedelta(hours=2), "met")

    db = make_engine(url)
    try:
        n = load(db, "cases", CASE_STAGE_COLS, cases())
        d = load(db, "deadlines", DEADLINE_COLS, deadlines())
        analyze(db)
    finally:
        db.dispose()
    return {"cases": n, "deadlines": d, "open": sum(p[0] for p in plan), "due": sum(p[1] for p in plan)}
