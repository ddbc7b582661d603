"""The evaluation's SQL: one GROUP BY pass over each table, the same on SQLite and PostgreSQL.

Times are compared with UTC bounds computed in Python from the workflow's
timezone (see :mod:`casecraft.evaluation.period`), so no database time-zone
function is needed. Case counts are grouped by grid; communities and streets
are sums of their grids (every case count is additive), so one pass over
``cases`` serves every level.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import Connection, Engine, Table, and_, distinct, func, insert, or_, select, true
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.pool import QueuePool

from casecraft.store.db import sqlite_deferred, translate_db_error
from casecraft.store.models import (
    CalendarDay,
    Case,
    Deadline,
    EvaluationResult,
    EvaluationRun,
    SentimentLog,
    TimelineEntry,
    Unit,
)
from casecraft.store.repo import Tx

if TYPE_CHECKING:
    from casecraft.store.repo import Store


class Period(Protocol):
    """The month evaluated, as the queries need it (see :class:`casecraft.evaluation.period.Period`)."""

    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def until(self) -> datetime: ...
    @property
    def first_day(self) -> date: ...
    @property
    def day_end(self) -> date: ...

cases_t = cast(Table, Case.__table__)
deadlines_t = cast(Table, Deadline.__table__)
logs_t = cast(Table, SentimentLog.__table__)
timeline_t = cast(Table, TimelineEntry.__table__)
calendar_t = cast(Table, CalendarDay.__table__)
units_t = cast(Table, Unit.__table__)
runs_t = cast(Table, EvaluationRun.__table__)
results_t = cast(Table, EvaluationResult.__table__)

CASE_SUMS = ("registered", "public", "due", "closed", "grassroots", "ontime", "reports", "valid",
             "own_registered", "self_handled")


def _n(cond: Any) -> Any:
    """How many rows meet ``cond``: ``count(*) FILTER (WHERE cond)`` (SQLite 3.30+, PostgreSQL), which at a
    city's month scans 15 % faster on SQLite than ``sum(CASE WHEN cond THEN 1 ELSE 0 END)`` (the same on
    PostgreSQL), and is 0, not NULL, over no rows."""
    return func.count().filter(cond)


def platform_units(tx: Tx, *, names: bool = True) -> list[tuple[Any, ...]]:
    """Every platform unit as a tuple (code, tier, parent_code, active[, name]), by code.

    A recorded run needs no names: ``names=False`` leaves the column out (40,000 units in a city).
    """
    u = units_t.c
    cols = [u.code, u.tier, u.parent_code, u.active, *([u.name] if names else [])]
    q = select(*cols).where(u.kind == "platform").order_by(u.code)
    return [tuple(r) for r in tx.conn.execute(q).all()]


SCAN_SETTINGS = ("SET LOCAL random_page_cost = 1.1",)
"""PostgreSQL settings for the evaluation's read transaction. Its scans walk covering indexes whose pages
are read in order (and, on a database that is used, are in memory): at the default random_page_cost of 4
the planner puts the step scan on the table instead, 1.5x slower at a city's month (bench/RESULTS.md)."""


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def readers_for(store: Store, jobs: int) -> int:
    """How many connections :func:`read_together` reads ``jobs`` on: one per core, at most one per job.

    One where a second connection cannot share the first's snapshot: a read-only SQLite opening (it cannot
    take the write lock that lines the snapshots up), an in-memory database (one connection by nature).
    """
    if store.dialect not in ("sqlite", "postgresql") or not isinstance(store.engine.pool, QueuePool):
        return 1
    if store.dialect == "sqlite" and store.read_only:
        return 1
    return max(1, min(jobs, _cores()))


def read_together(store: Store, jobs: Sequence[Callable[[Tx], Any]]) -> list[Any]:
    """Run read-only ``jobs`` over one snapshot of the database, side by side on as many connections as
    :func:`readers_for` gives; their results in the order of ``jobs``.

    A city's month is three scans of 0.3-3 s each (cases, step limits, 民情日志). On SQLite each runs in
    SQLite's C code, which runs without the GIL: on two cores two of them take the time of the longest.
    PostgreSQL runs each scan on several cores itself, but not all of it (planning, JIT, the final
    aggregate, a count of distinct days): a second connection fills those gaps (a city's month on two
    busy cores: 1.7-1.9 s for the scans instead of 2.2-2.5 s). Give the longest job first:
    each free connection takes the next job.

    Every connection reads the same snapshot. PostgreSQL: repeatable read with :data:`SCAN_SETTINGS`; the
    first reader exports its snapshot and the others import it. SQLite: the readers start their read
    transactions while a gate connection holds the write lock, so no commit falls between their
    snapshots; when a writer holds that lock, the jobs run on one reader rather than wait for it. With
    one reader the jobs run in order in one read transaction.
    """
    with translate_db_error(store.engine), _snapshot(store, readers_for(store, len(jobs))) as txs:
        n = len(txs)
        if n == 1:
            return [job(txs[0]) for job in jobs]
        free: list[Tx] = list(txs)

        def run(job: Callable[[Tx], Any]) -> Any:
            tx = free.pop()  # list.pop and append are atomic: each thread holds one connection at a time
            try:
                return job(tx)
            finally:
                free.append(tx)

        with ThreadPoolExecutor(max_workers=n, thread_name_prefix="casecraft-scan") as pool:
            return list(pool.map(run, jobs))


@contextmanager
def _snapshot(store: Store, n: int) -> Iterator[list[Tx]]:
    engine = store.engine
    if store.dialect == "postgresql":
        with ExitStack() as stack:
            pg: list[Connection] = []
            snapshot = None
            for _ in range(n):
                conn = stack.enter_context(engine.connect().execution_options(isolation_level="REPEATABLE READ"))
                stack.enter_context(conn.begin())
                if snapshot is not None:  # the first statement of the transaction: it starts there
                    conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
                elif n > 1:
                    snapshot = str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one())
                for sql in SCAN_SETTINGS:
                    conn.exec_driver_sql(sql)
                pg.append(conn)
            yield [Tx(c) for c in pg]
        return
    with ExitStack() as stack:
        conns: list[Connection] = []
        gate = _gate(engine) if n > 1 else None  # commits wait while the readers open
        if gate is None:
            n = 1
        try:
            for _ in range(n):
                conn = stack.enter_context(engine.connect())
                with sqlite_deferred():
                    tx = conn.begin()
                stack.enter_context(tx)
                conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").all()  # its snapshot starts here
                conns.append(conn)
        finally:
            if gate is not None:
                gate.close()  # rolls the gate's empty transaction back
        yield [Tx(c) for c in conns]


def _gate(engine: Engine) -> Connection | None:
    """SQLite's write lock (``BEGIN IMMEDIATE``) if it is free at once, else None: a report never waits for
    a writer (a long import, say) to line its readers up; it reads on one connection instead."""
    conn = engine.connect()
    raw = conn.connection.driver_connection
    assert raw is not None
    waits = int(raw.execute("PRAGMA busy_timeout").fetchone()[0])
    raw.execute("PRAGMA busy_timeout = 0")
    try:
        conn.begin()
        free = True
    except OperationalError:  # SQLITE_BUSY: another connection holds the write lock
        free = False
    raw.execute(f"PRAGMA busy_timeout = {waits}")
    if not free:
        conn.close()
        return None
    return conn


def case_sums(tx: Tx, p: Period, *, public: Sequence[str], own: Sequence[str], grassroots: Sequence[str],
              grid_tier: str) -> dict[str, tuple[int, ...]]:
    """Per grid: the case counts behind every case-based indicator, in the order of ``CASE_SUMS``
    (see docs/indicators.md)."""
    c = cases_t.c
    s, e = p.start, p.until
    registered_in = and_(c.registered_at >= s, c.registered_at < e)
    closed_in = and_(c.registered_at.is_not(None), c.closed_at >= s, c.closed_at < e)  # 结案 in the month
    # due by its limit only if still open when the month began: a case closed early, in an earlier month, was
    # due (and closed) there. A parked case's clock is stopped: its old limit does not make it due while parked.
    limit_in = and_(c.registered_at.is_not(None), c.deadline_at >= s, c.deadline_at < e, c.parked.is_not(True),
                    or_(c.closed_at.is_(None), c.closed_at >= s))
    made_in = and_(c.created_at >= s, c.created_at < e)
    is_own = c.source.in_(list(own))
    # Counted per grid and source: "public" and "own_registered" are "registered" of some sources, added up
    # below, not two more conditions tested on every row (PostgreSQL evaluates each FILTER apart: at a city's
    # month PostgreSQL's CPU for this scan, on one process, 1.4-1.6 s -> 1.1-1.4 s; SQLite's 3.0-3.4 s -> 2.7-3.0 s)
    cols = {
        "registered": _n(registered_in),
        "due": _n(or_(closed_in, limit_in)),  # 应结案数 (most cases of a month are closed in it: tested first)
        "closed": _n(closed_in),
        "grassroots": _n(and_(closed_in, c.resolved_tier.in_(list(grassroots)))),
        "ontime": _n(and_(closed_in, or_(c.deadline_at.is_(None), c.closed_at <= c.deadline_at))),
        # the grid's own reports are a minority (hotline work orders are most cases): test the source first,
        # and SQLite, which evaluates AND from the left, skips the time comparisons of every other case
        "reports": _n(and_(is_own, made_in)),
        "valid": _n(and_(is_own, made_in, c.registered_at < e)),
        "self_handled": _n(and_(is_own, c.resolved_tier == grid_tier, registered_in, c.closed_at < e)),
    }
    # One pass over ix_cases_evaluation, which holds every column read here in (grid, source) order: no table
    # row is read and no sort is needed (the filter, an OR, keeps both databases off ix_cases_created, whose
    # random row lookups cost 2-3x a scan). Cases without a grid form a group of their own, dropped below.
    q = (select(c.grid_code, c.source, *[v.label(k) for k, v in cols.items()])
         .where(or_(c.created_at >= s, c.registered_at >= s, c.closed_at >= s, c.deadline_at >= s))
         .group_by(c.grid_code, c.source))
    public_set, own_set = frozenset(public), frozenset(own)
    # every group has a row, so no sum is NULL; tuples, not dicts: one grid of a city's 33,600 per row
    out: dict[str, tuple[int, ...]] = {}
    for grid, source, registered, due, closed, grassroots_n, ontime, reports, valid, self_handled in (
            tx.conn.execute(q).all()):
        if not grid:
            continue
        vec = (registered, registered if source in public_set else 0, due, closed, grassroots_n, ontime, reports,
               valid, registered if source in own_set else 0, self_handled)
        had = out.get(grid)
        out[grid] = vec if had is None else tuple(a + b for a, b in zip(had, vec, strict=True))
    return out


STEP_SUMS = ("verify_due", "verify_met", "check_due", "check_met")


def step_sums(tx: Tx, p: Period, *, verify_states: Sequence[str], check_states: Sequence[str]
              ) -> dict[str, tuple[int, ...]]:
    """Per unit: verifications and checks due in the window (应核实数, 应核查数) and those done in time,
    in the order of ``STEP_SUMS``.

    Each step limit counts once: in the month it was done if done within its limit (outcome ``met``),
    else in the month its limit passed (done late, or still open). Parked or cancelled steps are not due.
    """
    d = deadlines_t.c
    verify = d.state.in_(list(verify_states) or ["-"])
    check = d.state.in_(list(check_states) or ["-"])
    met_in = and_(d.outcome == "met", d.closed_at >= p.start, d.closed_at < p.end)
    missed_in = and_(or_(d.outcome.is_(None), d.outcome == "late"), d.due_at >= p.start, d.due_at < p.end)
    q = (select(d.unit_code, _n(verify).label("verify_due"), _n(and_(verify, met_in)).label("verify_met"),
                _n(check).label("check_due"), _n(and_(check, met_in)).label("check_met"))
         .where(d.kind == "step", d.state.in_([*verify_states, *check_states] or ["-"]), or_(met_in, missed_in))
         # over ix_deadlines_steps
         .group_by(d.unit_code))
    sums = {r[0]: tuple(r[1:]) for r in tx.conn.execute(q).all()}
    # the step limits still running on the cases' rows (none is met yet): missed when due in the window
    c = cases_t.c
    s_verify = c.stage_state.in_(list(verify_states) or ["-"])
    s_check = c.stage_state.in_(list(check_states) or ["-"])
    running = (select(c.stage_unit_code, _n(s_verify), _n(s_check))
               .where(c.stage_due_at >= p.start, c.stage_due_at < p.end, c.stage_outcome.is_(None),
                      c.stage_state.in_([*verify_states, *check_states] or ["-"]))  # over ix_cases_stage_due
               .group_by(c.stage_unit_code))
    for unit, v, k in tx.conn.execute(running).all():
        vd, vm, kd, km = sums.get(unit, (0, 0, 0, 0))
        sums[unit] = (vd + int(v), vm, kd + int(k), km)
    return sums


def log_days(tx: Tx, p: Period) -> dict[str, int]:
    """Per grid: working days of the window with at least one 民情日志 entry written on the day.

    An admin's back-fill (an entry recorded later for a past day) is counted apart (:func:`backfills`),
    never toward the 登记率.
    """
    lg, cal = logs_t.c, calendar_t.c
    q = (select(lg.grid_code, func.count(distinct(lg.day)).label("days"))
         .select_from(logs_t.join(calendar_t, cal.day == lg.day))
         .where(cal.workday == true(), lg.day >= p.first_day, lg.day < p.day_end, lg.backfill.is_not(True))
         .group_by(lg.grid_code))
    return {r[0]: int(r[1]) for r in tx.conn.execute(q).all()}


def backfills(tx: Tx, p: Period, grids: Sequence[str] | None = None) -> dict[str, int]:
    """Admins' back-fills of the window, counted apart: timeline entries (and their cases) whose claimed
    time falls in it, and 民情日志 entries for its days (``grids``: only those grids' cases and logs)."""
    t, c, lg = timeline_t.c, cases_t.c, logs_t.c
    q = (select(func.count(), func.count(distinct(t.case_id)))
         .select_from(timeline_t.join(cases_t, c.id == t.case_id))
         .where(t.backfill.is_(True), t.at >= p.start, t.at < p.end))
    lq = select(func.count()).where(lg.backfill.is_(True), lg.day >= p.first_day, lg.day < p.day_end)
    if grids is not None:
        q = q.where(c.grid_code.in_(list(grids)))
        lq = lq.where(lg.grid_code.in_(list(grids)))
    entries, case_count = tx.conn.execute(q).one()
    return {"cases": int(case_count or 0), "entries": int(entries or 0),
            "logs": int(tx.conn.execute(lq).scalar_one() or 0)}


def workdays(tx: Tx, p: Period) -> tuple[int, int]:
    """(working days, dates known to the calendar) in the window's whole days."""
    cal = calendar_t.c
    q = select(func.count(), _n(cal.workday == true())).where(cal.day >= p.first_day, cal.day < p.day_end)
    total, work = tx.conn.execute(q).one()
    return int(work or 0), int(total or 0)


# recorded runs --------------------------------------------------------------------------------------
def run_by_key(tx: Tx, key: str) -> dict[str, Any] | None:
    r = tx.conn.execute(select(runs_t).where(runs_t.c.key == key)).mappings().first()
    return dict(r) if r else None


RESULT_COLUMNS = ("run_id", "period", "level", "unit_code", "parent_code", "figures", "score", "grade", "rank")
"""The columns of a result row as :func:`insert_run` takes it (``figures`` as its JSON text)."""


def insert_run(tx: Tx, run: dict[str, Any], results: Iterable[tuple[Any, ...]]) -> int | None:
    """Insert a run and its results; None if a run with the same key exists (another process won).

    ``results`` are tuples of ``RESULT_COLUMNS`` without the run id, ``figures`` already JSON text
    (the text the JSON column would store). They go in as one bulk write through the driver, in
    the order given (their ids follow it): COPY on PostgreSQL, ``executemany`` on SQLite. A city's
    month is 40,000 rows, and SQLAlchemy's per-row JSON and parameter processing would cost more
    than the scans behind them. ``results`` may be a generator: on PostgreSQL its rows are sent as
    they are made, so the server stores the first while the caller scores the next (it is not
    consumed at all when the run exists already).
    """
    try:
        with tx.conn.begin_nested():
            run_id = int(tx.conn.execute(insert(runs_t).values(**run).returning(runs_t.c.id)).scalar_one())
    except IntegrityError:
        return None
    _bulk_results(tx, ((run_id, *r) for r in results))
    return run_id


def _bulk_results(tx: Tx, rows: Iterable[tuple[Any, ...]]) -> None:
    cols = ", ".join(RESULT_COLUMNS)
    if tx.dialect == "postgresql":
        # the psycopg connection of this transaction (the dialect is psycopg 3: see store.db)
        driver: Any = tx.conn.connection.driver_connection
        with driver.cursor() as cur, cur.copy(f"COPY {results_t.name} ({cols}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)
        return
    listed = list(rows)
    if not listed:
        return
    if tx.dialect == "sqlite":
        marks = ", ".join("?" for _ in RESULT_COLUMNS)
        tx.conn.exec_driver_sql(f"INSERT INTO {results_t.name} ({cols}) VALUES ({marks})", listed)
    else:  # pragma: no cover - a dialect the store does not support yet
        tx.conn.execute(insert(results_t), [{**dict(zip(RESULT_COLUMNS, r, strict=True)),
                                             "figures": json.loads(r[5])} for r in listed])


def count_results(tx: Tx, run_id: int) -> int:
    return int(tx.conn.execute(select(func.count()).where(results_t.c.run_id == run_id)).scalar_one())


def run_results(tx: Tx, run_id: int, level: str | None = None) -> list[dict[str, Any]]:
    q = select(results_t).where(results_t.c.run_id == run_id)
    if level is not None:
        q = q.where(results_t.c.level == level)
    return [dict(r) for r in tx.conn.execute(q.order_by(results_t.c.id)).mappings()]


def unit_history(tx: Tx, unit: str, limit: int) -> list[dict[str, Any]]:
    """A unit's recorded results, newest first, with the size of its ranking group."""
    peers = results_t.alias("peers")
    group_size = (select(func.count()).where(peers.c.run_id == results_t.c.run_id,
                                             peers.c.level == results_t.c.level,
                                             peers.c.parent_code == results_t.c.parent_code,
                                             peers.c.rank.is_not(None))
                  .scalar_subquery())
    q = (select(results_t, runs_t.c.key, runs_t.c.computed_at, runs_t.c.trigger, group_size.label("group_size"))
         .join(runs_t, runs_t.c.id == results_t.c.run_id)
         .where(results_t.c.unit_code == unit)
         .order_by(results_t.c.period.desc(), results_t.c.id.desc()).limit(limit))
    return [dict(r) for r in tx.conn.execute(q).mappings()]


def list_runs(tx: Tx, limit: int = 100) -> list[dict[str, Any]]:
    q = select(runs_t).order_by(runs_t.c.period.desc()).limit(limit)
    return [dict(r) for r in tx.conn.execute(q).mappings()]


# case statistics --------------------------------------------------------------------------------------
def case_stats(tx: Tx, p: Period, grids: Sequence[str] | None) -> dict[str, list[dict[str, Any]]]:
    """The month's counts by source, category and resolution tier, and the overdue ones.

    ``grids`` limits the counts to cases of those grids (None: every case).
    """
    c = cases_t.c
    s, e = p.start, p.until
    made_in = and_(c.created_at >= s, c.created_at < e)
    registered_in = and_(c.registered_at >= s, c.registered_at < e)
    closed_in = and_(c.registered_at.is_not(None), c.closed_at >= s, c.closed_at < e)
    rejected_in = and_(c.registered_at.is_(None), c.closed_at >= s, c.closed_at < e)
    open_at_end = and_(c.created_at < e, or_(c.closed_at.is_(None), c.closed_at >= e))
    overdue_open = and_(open_at_end, c.deadline_at < e, c.parked.is_not(True))
    closed_late = and_(closed_in, c.closed_at > c.deadline_at)
    measures = {"reported": _n(made_in), "registered": _n(registered_in), "closed": _n(closed_in),
                "rejected": _n(rejected_in), "open_at_end": _n(open_at_end), "overdue_open": _n(overdue_open),
                "closed_late": _n(closed_late)}
    scope = [or_(c.created_at >= s, c.closed_at.is_(None), c.closed_at >= s)]  # a scan, as in case_sums
    if grids is not None:
        scope.append(c.grid_code.in_(list(grids)))
    out: dict[str, list[dict[str, Any]]] = {}
    for name, key in (("by_source", c.source), ("by_category", c.category_code),
                      ("by_resolved_tier", c.resolved_tier), ("total", None)):
        cols = [v.label(k) for k, v in measures.items()]
        q = select(*([key.label("key")] if key is not None else []), *cols).where(*scope)
        if key is not None:
            q = q.group_by(key).order_by(key)
        rows = [{**r, **{k: int(r[k] or 0) for k in measures}} for r in tx.conn.execute(q).mappings()]
        # the scan also sees later cases (counted nowhere in this month): leave their empty groups out
        out[name] = [r for r in rows if key is None or any(r[k] for k in measures)]
    return out


def stored_scores(tx: Tx, key: str, level: str) -> dict[str, float | None] | None:
    """Unit → score of a recorded run (None if there is no such run)."""
    run = run_by_key(tx, key)
    if run is None:
        return None
    q = select(results_t.c.unit_code, results_t.c.score).where(results_t.c.run_id == run["id"],
                                                               results_t.c.level == level)
    return {r[0]: r[1] for r in tx.conn.execute(q)}
