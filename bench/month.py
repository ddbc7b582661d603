"""A Beijing month: a city-sized organisation, its grid and hotline cases with their timelines.

The generator (seeded) makes 16 districts × 21 streets × 20 communities × 5
grids (33,600 grids), then November 2026's cases: grid cases found on patrol
or reported by informants, and hotline work orders (12345 / 96005) routed down
to a grid, each with its timeline (report … close) and its whole-case
deadline row; most are closed, some late. A step limit that has ended (a
hotline order's verification, a closed case's check) is a deadlines row; an
open case's running step limit is on its case row (``cases.stage_*``, as the
engine keeps it since migration 0006): an open work order waits for its
verification (待核实), an open grid case is in hand at the grid. Timeline
hashes are placeholders (the data is bulk-loaded, not replayed through the
engine).

The evaluation (``casecraft.evaluation.record_month``) reads cases, step
deadlines of verification and check, 民情日志 entries and the calendar; the
generator makes those too. The peer is the raw limit of the same work: plain
GROUP BY scans of the same columns (cases per grid and source, ended step limits
per unit, state and outcome, the cases' running step limits likewise, 民情日志
days per grid), rolled up to communities and streets (see ``raw_evaluation``).
"""

from __future__ import annotations

import os
import random
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import SEED
from bench.gen import CASE_STAGE_COLS, DEADLINE_COLS, TIMELINE_COLS, init_db, load

MONTH_START = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 1 November 00:00 Beijing
MONTH_SECONDS = 30 * 24 * 3600
DISTRICTS = [f"1101{d:02d}" for d in range(1, 18) if d != 6][:16]  # 110106 (Fengtai) is the sample org's
STREETS, COMMUNITIES, GRIDS = 21, 20, 5
CATEGORIES = ["0101", "0102", "0103", "0104", "0105", "0201", "0202", "0203", "0301", "0302"]
GRID_PATH = [("report", None, "grid_handling"), ("resolve", "grid_handling", "to_check"),
             ("check", "to_check", "checked"), ("close", "checked", "closed")]
HOTLINE_PATH = [("report", None, "street_intake"), ("assign", "street_intake", "community_intake"),
                ("assign", "community_intake", "reported"), ("verify", "reported", "grid_handling"),
                ("resolve", "grid_handling", "to_check"), ("check", "to_check", "checked"),
                ("close", "checked", "closed")]
TIER = {"grid_handling": "grid", "to_check": "grid", "checked": "grid", "closed": "grid", "reported": "grid",
        "street_intake": "street", "community_intake": "community"}


def units(n_districts: int = 16) -> Iterator[tuple[Any, ...]]:
    now = MONTH_START
    for d in DISTRICTS[:n_districts]:
        yield (f"{d}-lxh", f"{d}联席会", "joint_meeting", "platform", None, True, now, None)
        yield (d, f"{d}区指挥中心", "district", "platform", f"{d}-lxh", True, now, None)
        for s in range(1, STREETS + 1):
            sc = f"{d}{s:03d}"
            yield (sc, f"{sc}街道", "street", "platform", d, True, now, None)
            for c in range(1, COMMUNITIES + 1):
                cc = f"{sc}{c:03d}"
                yield (cc, f"{cc}社区", "community", "platform", sc, True, now, None)
                for g in range(1, GRIDS + 1):
                    yield (f"{cc}{g:03d}", f"{cc}第{g}网格", "grid", "platform", cc, True, now, None)


UNIT_COLS = ("code", "name", "tier", "kind", "parent_code", "active", "updated_at", "addresses")


def all_grids(n_districts: int = 16) -> list[str]:
    return [f"{d}{s:03d}{c:03d}{g:03d}" for d in DISTRICTS[:n_districts] for s in range(1, STREETS + 1)
            for c in range(1, COMMUNITIES + 1) for g in range(1, GRIDS + 1)]


def _plan(n_grid: int, n_hotline: int, n_districts: int = 16
          ) -> Iterator[tuple[int, bool, str, str, datetime, datetime | None, datetime]]:
    """(id, hotline?, grid, category, created, closed or None, case deadline)."""
    rng = random.Random(SEED)
    grids = all_grids(n_districts)
    for i in range(1, n_grid + n_hotline + 1):
        hotline = i > n_grid
        created = MONTH_START + timedelta(seconds=rng.randrange(MONTH_SECONDS))
        limit = timedelta(hours=rng.choice((4, 24, 72)))
        closed = None
        if rng.random() < (0.85 if hotline else 0.9):
            closed = created + limit * rng.uniform(0.1, 1.3)  # about one in eight late
        yield i, hotline, rng.choice(grids), rng.choice(CATEGORIES), created, closed, created + limit


GENERATOR = 6
"""Bumped when the data or its schema changes (bench/run.py tags its cache with it): 3 = made in SQL from a
plan table; 4 = the schema of migration 0005 (the evaluation's covering indexes); 5 = the schema of migration
0006 (an open case's running step limit on its case row, ``cases.stage_*``; an open work order's verification
runs, where generator 4 had it ended); 6 = its covering ix_cases_stage_due."""

_BASE = MONTH_START - timedelta(days=1)  # plan times are microseconds after this (a check may start before the month)
_US = timedelta(microseconds=1)


def _plan_rows(n_grid: int, n_hotline: int, n_districts: int) -> Iterator[tuple[Any, ...]]:
    """The plan as plain values: (id, hotline 0/1, grid, category, created, closed or None, limit, steps),
    times in microseconds after ``_BASE`` (the same seeded draws as the Python generator of version 2)."""
    for i, hotline, grid, cat, created, closed, deadline in _plan(n_grid, n_hotline, n_districts):
        steps = len(HOTLINE_PATH if hotline else GRID_PATH) if closed else (3 if hotline else 1)
        yield (i, int(hotline), grid, cat, (created - _BASE) // _US,
               None if closed is None else (closed - _BASE) // _US, (deadline - created) // _US, steps)


def _paths() -> Iterator[tuple[Any, ...]]:
    """(hotline 0/1, step index, trigger, from, to, from tier, to tier, length of the unit code)."""
    for h, path in ((0, GRID_PATH), (1, HOTLINE_PATH)):
        for k, (trig, src, dest) in enumerate(path):
            yield (h, k, trig, src, dest, TIER[src] if src else None, TIER[dest],
                   {"grid": 15, "community": 12, "street": 9}[TIER[dest]])


class _Sql:
    """The few expressions whose spelling differs between SQLite and PostgreSQL."""

    def __init__(self, dialect: str) -> None:
        self.pg = dialect == "postgresql"
        base = _BASE.astimezone(UTC)
        self._epoch = int(base.timestamp())
        self._base = base.isoformat()

    def ts(self, us: str) -> str:
        """A UTC timestamp ``us`` microseconds after the base, as the engine stores it."""
        if self.pg:
            return f"(timestamptz '{self._base}' + ({us}) * interval '1 microsecond')"
        # UTCDateTime on SQLite: naive UTC text with microseconds
        return (f"(strftime('%Y-%m-%d %H:%M:%S', {self._epoch} + ({us}) / 1000000, 'unixepoch') "
                f"|| printf('.%06d', ({us}) % 1000000))")

    def hexpad(self, expr: str, width: int) -> str:
        return f"lpad(to_hex({expr}), {width}, '0')" if self.pg else f"printf('%0{width}x', {expr})"

    def dec9(self, expr: str) -> str:
        return f"to_char({expr}, 'FM000000000')" if self.pg else f"printf('%09d', {expr})"

    @property
    def empty(self) -> str:
        return "'[]'::json" if self.pg else "'[]'"

    def flag(self, cond: str) -> str:
        return f"({cond})" if self.pg else f"(CASE WHEN {cond} THEN 1 ELSE 0 END)"

    @property
    def false(self) -> str:
        return "false" if self.pg else "0"


def _fill_sql(q: _Sql, vid: int) -> list[str]:
    """INSERT … SELECT statements making cases, timeline and deadlines from the plan tables."""
    ts = q.ts
    hour, minute = 3_600_000_000, 60_000_000
    v = f"p.c + {40 * minute}"  # 核实: the grid verifies a routed work order within a working hour
    k = f"p.x - {2 * hour}"  # 核查: the grid checks the result on site within a working day
    # An open case's running step limit, on its case row (STAGE_FIELDS' order; NULL for a closed case): a work
    # order's verification (its third step entered 待核实), a grid case's handling (its first step). No alert is
    # pending (none is read here: the sweep has its own data set).
    run = "CASE WHEN x IS NULL THEN {} END".format
    stage = ", ".join((
        run("CASE WHEN h = 1 THEN 3 ELSE 1 END"), run("CASE WHEN h = 1 THEN 'reported' ELSE 'grid_handling' END"),
        run("'grid'"), run("grid"), run("CASE WHEN h = 1 THEN '1 working hour' ELSE '4 working hours' END"),
        run("'calendar_days'"), ts(run(f"CASE WHEN h = 1 THEN {v} ELSE c END")), "NULL",
        ts(run(f"CASE WHEN h = 1 THEN {v} + {hour} ELSE c + {4 * hour} END")), "NULL", "NULL", run("0"), "NULL",
        "NULL", run(q.false), "NULL"))
    cases = f"""
        INSERT INTO cases ({", ".join(CASE_STAGE_COLS)})
        SELECT id, {vid},
               CASE WHEN x IS NOT NULL THEN 'closed' WHEN h = 1 THEN 'reported' ELSE 'grid_handling' END,
               'grid', grid, grid, cat, 'normal', CASE WHEN h = 1 THEN 'hotline' ELSE 'patrol' END,
               CASE WHEN h = 1 THEN '12345-' || {q.dec9("id")} END, '案件' || id,
               CASE WHEN h = 1 THEN 'op' ELSE 'gl' END,
               {q.empty}, CASE WHEN x IS NOT NULL THEN 'grid' END, {q.flag("x IS NULL")}, {ts("c")},
               {ts("coalesce(x, c)")}, {ts("x")}, n, {q.hexpad("id", 64)}, {ts("c + l")}, {ts("c")}, {q.false},
               CASE WHEN h = 1 THEN '12345' END, CASE WHEN h = 1 THEN {ts("c")} END, NULL, {stage}
        FROM bench_plan p ORDER BY id"""
    at = "p.c + CASE WHEN p.x IS NOT NULL AND p.n > 1 THEN (p.x - p.c) * s.k / (p.n - 1) ELSE 0 END"
    unit = "substr(p.grid, 1, s.ulen)"
    timeline = f"""
        INSERT INTO timeline ({", ".join(TIMELINE_COLS)})
        SELECT p.id, s.k + 1, {ts(at)}, CASE WHEN p.h = 1 THEN 'op' ELSE 'gl' END, NULL, {unit}, s.trig, s.src,
               s.dest, s.src_tier, s.dest_tier, {unit}, {q.empty}, NULL, NULL, {q.empty},
               CASE WHEN s.k > 0 THEN {q.hexpad("p.id", 56)} || {q.hexpad("s.k - 1", 8)} END,
               {q.hexpad("p.id", 56)} || {q.hexpad("s.k", 8)}
        FROM bench_plan p CROSS JOIN bench_path s
        WHERE s.h = p.h AND s.k < p.n"""
    # the whole case's limit (j 1), and the step limits that have ended: a closed work order's verification (j 2),
    # a closed case's check (j 3)
    deadlines = f"""
        INSERT INTO deadlines ({", ".join(DEADLINE_COLS)})
        SELECT p.id, CASE WHEN j.j = 1 THEN 'case' ELSE 'step' END,
               CASE j.j WHEN 1 THEN 1 WHEN 2 THEN 3 ELSE CASE WHEN p.h = 1 THEN 5 ELSE 2 END END,
               CASE j.j WHEN 1 THEN 'grid_handling' WHEN 2 THEN 'reported' ELSE 'to_check' END, 'grid', p.grid,
               CASE WHEN j.j = 2 THEN '1 working hour' ELSE '1 working day' END, 'calendar_days',
               {ts(f"CASE j.j WHEN 1 THEN p.c WHEN 2 THEN {v} ELSE {k} END")}, NULL,
               {ts(f"CASE j.j WHEN 1 THEN p.c + p.l WHEN 2 THEN {v} + {hour} ELSE {k} + {24 * hour} END")},
               NULL, NULL, 0,
               {ts(f"CASE j.j WHEN 2 THEN {v} + (CASE WHEN p.id % 9 <> 0 THEN {50 * minute} "
                   f"ELSE {70 * minute} END) ELSE p.x END")},
               CASE j.j WHEN 1 THEN (CASE WHEN p.x IS NULL THEN NULL WHEN p.x <= p.c + p.l THEN 'met' ELSE 'late' END)
                        WHEN 2 THEN (CASE WHEN p.id % 9 <> 0 THEN 'met' ELSE 'late' END) ELSE 'met' END
        FROM bench_plan p CROSS JOIN bench_kinds j
        WHERE j.j = 1 OR (j.j = 2 AND p.h = 1 AND p.x IS NOT NULL) OR (j.j = 3 AND p.x IS NOT NULL)"""
    return [cases, timeline, deadlines]


_BIG = ("cases", "timeline", "deadlines")


def build_month(url: str, n_grid: int, n_hotline: int, n_districts: int = 16) -> dict[str, int]:
    """Generate the month into ``url``; ``n_districts`` < 16 makes a smaller city (for --quick).

    Only the plan (one row per case: the seeded draws) and the 民情日志 are made in Python; cases,
    timelines and deadlines are made from the plan by ``INSERT … SELECT`` in the database, with the
    secondary indexes of those tables dropped during the load and built afterwards (and, on SQLite,
    no journal and no fsync while loading; on PostgreSQL the foreign-key triggers are off while
    loading: the rows are consistent by construction).
    """
    from casecraft.store.db import make_engine

    vid = init_db(url, MONTH_START)
    db = make_engine(url)
    try:
        u = load(db, "units", UNIT_COLS, units(n_districts))
        g = load(db, "sentiment_logs", ("grid_code", "actor_id", "day", "at", "text", "attachments"),
                 _logs(n_grid, n_hotline, n_districts))
        if db.dialect.name == "sqlite":
            db.dispose()  # the load's own connection switches the journal off: no other may be open
            counts = _fill_sqlite(str(db.url.database), vid, n_grid, n_hotline, n_districts)
        else:
            counts = _fill_pg(db, vid, n_grid, n_hotline, n_districts)
    finally:
        db.dispose()
    return {"units": u, **counts, "sentiment_logs": g}


def _logs(n_grid: int, n_hotline: int, n_districts: int) -> Iterator[tuple[Any, ...]]:
    from datetime import date

    rng = random.Random(SEED + 1)
    share = 0.6 * min(1.0, (n_grid + n_hotline) / 2_400_000)  # a full month: 3 days in 5; smaller runs fewer
    for grid in all_grids(n_districts):
        for day in range(1, 31):
            if rng.random() < share:
                yield (grid, "gl", date(2026, 11, day), datetime(2026, 11, day, 10, 0, tzinfo=UTC),
                       "走访居民，记录诉求", [])


_PLAN_DDL = ("CREATE {t} bench_plan (id BIGINT PRIMARY KEY, h INTEGER, grid TEXT, cat TEXT, c BIGINT, x BIGINT, "
             "l BIGINT, n INTEGER)",
             "CREATE {t} bench_path (h INTEGER, k INTEGER, trig TEXT, src TEXT, dest TEXT, src_tier TEXT, "
             "dest_tier TEXT, ulen INTEGER, PRIMARY KEY (h, k))",
             "CREATE {t} bench_kinds (j INTEGER PRIMARY KEY)")


def _counts(cur: Any) -> dict[str, int]:
    out = {}
    for t in _BIG:
        cur.execute(f"SELECT count(*) FROM {t}")
        out[t] = int(cur.fetchone()[0])
    return out


def _fill_sqlite(path: str, vid: int, n_grid: int, n_hotline: int, n_districts: int) -> dict[str, int]:
    import sqlite3

    con = sqlite3.connect(path, isolation_level=None)
    try:
        cur = con.cursor()
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "foreign_keys=OFF", "cache_size=-1000000",
                       "temp_store=MEMORY"):
            cur.execute(f"PRAGMA {pragma}")
        marks = ",".join("?" * len(_BIG))
        indexes = cur.execute(f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                              f"AND tbl_name IN ({marks})", _BIG).fetchall()
        cur.execute("BEGIN")
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        for ddl in _PLAN_DDL:
            cur.execute(ddl.format(t="TEMP TABLE"))
        cur.executemany("INSERT INTO bench_plan VALUES (?,?,?,?,?,?,?,?)", _plan_rows(n_grid, n_hotline, n_districts))
        cur.executemany("INSERT INTO bench_path VALUES (?,?,?,?,?,?,?,?)", _paths())
        cur.executemany("INSERT INTO bench_kinds VALUES (?)", [(1,), (2,), (3,)])
        for sql in _fill_sql(_Sql("sqlite"), vid):
            cur.execute(sql)
        for _, sql in indexes:
            cur.execute(sql)
        cur.execute("COMMIT")
        counts = _counts(cur)
        cur.execute("ANALYZE")
        cur.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()
    return counts


def _fill_pg(db: Any, vid: int, n_grid: int, n_hotline: int, n_districts: int) -> dict[str, int]:
    raw = db.raw_connection()
    try:
        cur = raw.cursor()
        for setting in ("session_replication_role = replica", "synchronous_commit = off", "temp_buffers = '1GB'",
                        "maintenance_work_mem = '1GB'", "work_mem = '256MB'"):
            cur.execute(f"SET {setting}")
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                    "AND tablename = ANY(%s) AND indexname NOT IN (SELECT conname FROM pg_constraint)", [list(_BIG)])
        indexes = cur.fetchall()
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        for ddl in _PLAN_DDL:
            cur.execute(ddl.format(t="TEMP TABLE"))
        with cur.copy("COPY bench_plan FROM STDIN") as copy:
            for r in _plan_rows(n_grid, n_hotline, n_districts):
                copy.write_row(r)
        with cur.copy("COPY bench_path FROM STDIN") as copy:
            for r in _paths():
                copy.write_row(r)
        cur.execute("INSERT INTO bench_kinds VALUES (1), (2), (3)")
        cur.execute("ANALYZE bench_plan")
        for sql in _fill_sql(_Sql("postgresql"), vid):
            cur.execute(sql)
        for _, sql in indexes:
            cur.execute(sql)
        for t in _BIG:  # the sequences follow the ids the plan gave
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))")
        counts = _counts(cur)
        raw.commit()
        raw.driver_connection.autocommit = True
        cur.execute("VACUUM ANALYZE")
    finally:
        raw.close()
    return counts


def raw_evaluation(url: str, connections: int | None = None) -> tuple[float, dict[str, int]]:
    """The raw limit: plain GROUP BY scans of the columns the evaluation reads, rolled up to communities
    and streets in Python.

    The scans run side by side on ``connections`` connections (default: as many as casecraft's own run
    reads on here, one per core up to one per scan), as casecraft's run reads: cases on the first, the
    step limits (the deadlines rows, then the cases' running stages: one job, as casecraft's) and the
    民情日志 on the next (or each on its own). ``connections=1`` is the same work on one connection, one
    scan after the other.

    Per grid and source over the month's cases (the same window as the evaluation's: made, registered,
    closed or due from the month's start): how many, registered, closed, closed within the limit, parked,
    resolved at a tier; per unit, state and outcome over the ended step limits met or due from the month's
    start, and likewise over the step limits still running on the case rows (``cases.stage_*``, due from
    the month's start); per grid, the distinct working days with a 民情日志 entry (not back-filled). Every
    column ``casecraft.store.evaluation_repo`` reads is read here, through whatever index the database picks.

    Returns (seconds, rows per level).
    """
    from datetime import date

    from sqlalchemy import case, distinct, func, or_, select, true

    from casecraft.store.db import make_engine, sqlite_deferred
    from casecraft.store.evaluation_repo import SCAN_SETTINGS
    from casecraft.store.models import CalendarDay, Case, Deadline, SentimentLog

    c = Case.__table__.c
    s = MONTH_START
    q = (select(c.grid_code, c.source, func.count(), func.count(c.registered_at), func.count(c.closed_at),
                func.sum(case((c.closed_at <= c.deadline_at, 1), else_=0)), func.sum(case((c.parked, 1), else_=0)),
                func.count(c.resolved_tier))
         .where(or_(c.created_at >= s, c.registered_at >= s, c.closed_at >= s, c.deadline_at >= s))
         .group_by(c.grid_code, c.source))
    d, lg, cal = Deadline.__table__.c, SentimentLog.__table__, CalendarDay.__table__
    steps = (select(d.unit_code, d.state, d.outcome, func.count())
             .where(d.kind == "step", or_(d.closed_at >= s, d.due_at >= s))
             .group_by(d.unit_code, d.state, d.outcome))
    # since migration 0006 a running step limit is on its case row: the evaluation's second step scan
    stages = (select(c.stage_unit_code, c.stage_state, c.stage_outcome, func.count())
              .where(c.stage_due_at >= s)
              .group_by(c.stage_unit_code, c.stage_state, c.stage_outcome))
    first_day, end_day = date(2026, 11, 1), date(2026, 12, 1)  # the month's local days
    logs = (select(lg.c.grid_code, func.count(distinct(lg.c.day)))
            .select_from(lg.join(cal, cal.c.day == lg.c.day))
            .where(cal.c.workday == true(), lg.c.day >= first_day, lg.c.day < end_day, lg.c.backfill.is_not(True))
            .group_by(lg.c.grid_code))
    n = connections or min(os.cpu_count() or 1, 3)
    groups: list[list[Any]] = ([[q, steps, stages, logs]] if n == 1 else [[q], [steps, stages, logs]] if n == 2
                               else [[q], [steps, stages], [logs]])
    db = make_engine(url)
    try:
        conns = [db.connect() for _ in groups]
        try:
            for conn in conns:
                if db.dialect.name == "postgresql":  # the evaluation's read transactions have these too
                    for sql in SCAN_SETTINGS:
                        conn.exec_driver_sql(sql)
                with sqlite_deferred():
                    conn.execute(select(1)).all()

            def scan(conn: Any, queries: list[Any]) -> list[Any]:
                return [conn.execute(one).all() for one in queries]

            start = time.perf_counter()
            if len(conns) == 1:
                results = [scan(conns[0], groups[0])]
            else:
                with ThreadPoolExecutor(len(conns)) as pool:
                    results = list(pool.map(scan, conns, groups))
            rows = results[0][0]
            levels: dict[str, dict[str, list[int]]] = {"grid": defaultdict(lambda: [0, 0, 0]),
                                                        "community": defaultdict(lambda: [0, 0, 0]),
                                                        "street": defaultdict(lambda: [0, 0, 0])}
            for grid, _source, n_cases, _registered, closed, on_time, _parked, _resolved in rows:
                if not grid:
                    continue
                for level, key in (("grid", grid), ("community", grid[:12]), ("street", grid[:9])):
                    acc = levels[level][key]
                    acc[0] += n_cases
                    acc[1] += closed
                    acc[2] += on_time
            elapsed = time.perf_counter() - start
        finally:
            for conn in conns:
                conn.close()
    finally:
        db.dispose()
    return elapsed, {k: len(v) for k, v in levels.items()}


def casecraft_evaluation(url: str) -> float | None:
    """Seconds for casecraft's recorded monthly run of November 2026 (every level); None if not on main."""
    try:
        from casecraft.evaluation import record_month
    except ImportError:
        return None
    from sqlalchemy import delete

    from bench.common import WORKFLOW
    from casecraft import Engine, FixedClock
    from casecraft.store.models import EvaluationResult, EvaluationRun

    eng = Engine(url, WORKFLOW, FixedClock(MONTH_START + timedelta(days=30, hours=2)))  # 1 December, 10:00
    try:
        eng.calendar()
        eng.current_version()
        with eng.store.write() as tx:  # a run is recorded once: drop the previous bench run to time a real one
            tx.conn.execute(delete(EvaluationResult.__table__))
            tx.conn.execute(delete(EvaluationRun.__table__))
        start = time.perf_counter()
        run = record_month(eng, "2026-11")
        elapsed = time.perf_counter() - start
        assert run.created and run.units > 0, run
        return elapsed
    finally:
        eng.close()
