"""A Beijing month: a city-sized organisation, its grid and hotline cases with their timelines.

The generator (seeded) makes 16 districts × 21 streets × 20 communities × 5
grids (33,600 grids), then November 2026's cases: grid cases found on patrol
or reported by informants, and hotline work orders (12345 / 96005) routed down
to a grid, each with its timeline (report … close) and its whole-case
deadline row; most are closed, some late. Timeline hashes are placeholders
(the data is bulk-loaded, not replayed through the engine).

The evaluation (``casecraft.evaluation.record_month``) reads cases, step
deadlines of verification and check, 民情日志 entries and the calendar; the
generator makes those too. The peer is the raw limit of the same work: one
GROUP BY over the month's cases per grid (reported, closed, closed on time, by
source) rolled up to communities and streets, one over the step deadlines, one
over the logs.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import SEED
from bench.gen import CASE_COLS, DEADLINE_COLS, TIMELINE_COLS, analyze, init_db, load

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


def build_month(url: str, n_grid: int, n_hotline: int, n_districts: int = 16) -> dict[str, int]:
    """Generate the month into ``url``; ``n_districts`` < 16 makes a smaller city (for --quick)."""
    from casecraft.store.db import make_engine

    vid = init_db(url, MONTH_START)
    db = make_engine(url)

    def cases() -> Iterator[tuple[Any, ...]]:
        for i, hotline, grid, cat, created, closed, deadline in _plan(n_grid, n_hotline, n_districts):
            path = HOTLINE_PATH if hotline else GRID_PATH
            steps = len(path) if closed else (3 if hotline else 1)
            state = path[steps - 1][2]
            yield (i, vid, state, TIER[state], grid if TIER[state] == "grid" else grid[:12 if TIER[state] ==
                   "community" else 9], grid, cat, "normal", "hotline" if hotline else "patrol",
                   f"12345-{i:09d}" if hotline else None, f"案件{i}", "op" if hotline else "gl", [], "grid" if closed
                   else None, closed is None, created, closed or created, closed, steps, f"{i:064x}", deadline,
                   created, False, "12345" if hotline else None, created if hotline else None, None)

    def timeline() -> Iterator[tuple[Any, ...]]:
        for i, hotline, grid, _, created, closed, _ in _plan(n_grid, n_hotline, n_districts):
            path = HOTLINE_PATH if hotline else GRID_PATH
            steps = len(path) if closed else (3 if hotline else 1)
            span = (closed - created) / (steps - 1) if closed and steps > 1 else timedelta(0)
            prev = None
            for k in range(steps):
                trig, src, dest = path[k]
                h = f"{i:056x}{k:08x}"
                unit = grid if TIER[dest] == "grid" else grid[:12 if TIER[dest] == "community" else 9]
                yield (i, k + 1, created + span * k, "op" if hotline else "gl", None, unit, trig, src, dest,
                       TIER[src] if src else None, TIER[dest], unit, [], None, None, [], prev, h)
                prev = h

    def deadlines() -> Iterator[tuple[Any, ...]]:
        for i, hotline, grid, _, created, closed, deadline in _plan(n_grid, n_hotline, n_districts):
            outcome = None if closed is None else ("met" if closed <= deadline else "late")
            yield (i, "case", 1, "grid_handling", "grid", grid, "1 working day", "calendar_days", created, None,
                   deadline, None, None, 0, closed, outcome)
            if hotline:  # 核实: the grid verifies a routed work order within a working hour
                v_at = created + timedelta(minutes=40)
                yield (i, "step", 3, "reported", "grid", grid, "1 working hour", "calendar_days", v_at, None,
                       v_at + timedelta(hours=1), None, None, 0, v_at + timedelta(minutes=50 if i % 9 else 70),
                       "met" if i % 9 else "late")
            if closed is not None:  # 核查: the grid checks the result on site within a working day
                c_at = closed - timedelta(hours=2)
                yield (i, "step", 5 if hotline else 2, "to_check", "grid", grid, "1 working day", "calendar_days",
                       c_at, None, c_at + timedelta(days=1), None, None, 0, closed, "met")

    def logs() -> Iterator[tuple[Any, ...]]:
        from datetime import date

        rng = random.Random(SEED + 1)
        share = 0.6 * min(1.0, (n_grid + n_hotline) / 2_400_000)  # a full month: 3 days in 5; smaller runs fewer
        for grid in all_grids(n_districts):
            for day in range(1, 31):
                if rng.random() < share:
                    d = date(2026, 11, day)
                    at = datetime(2026, 11, day, 10, 0, tzinfo=UTC)
                    yield (grid, "gl", d, at, "走访居民，记录诉求", [])

    try:
        u = load(db, "units", UNIT_COLS, units(n_districts))
        c = load(db, "cases", CASE_COLS, cases())
        t = load(db, "timeline", TIMELINE_COLS, timeline())
        d = load(db, "deadlines", DEADLINE_COLS, deadlines())
        g = load(db, "sentiment_logs", ("grid_code", "actor_id", "day", "at", "text", "attachments"), logs())
        analyze(db)
    finally:
        db.dispose()
    return {"units": u, "cases": c, "timeline": t, "deadlines": d, "sentiment_logs": g}


def raw_evaluation(url: str) -> tuple[float, dict[str, int]]:
    """The raw limit: per-grid GROUP BY over the month's cases, rolled up to communities and streets.

    Returns (seconds, rows per level).
    """
    from sqlalchemy import and_, case, func, select

    from casecraft.store.db import make_engine
    from casecraft.store.models import Case, Deadline, SentimentLog

    c = Case.__table__
    end = MONTH_START + timedelta(seconds=MONTH_SECONDS)
    q = (select(c.c.grid_code, c.c.source, func.count(),
                func.sum(case((c.c.closed_at.is_not(None), 1), else_=0)),
                func.sum(case((and_(c.c.closed_at.is_not(None), c.c.closed_at <= c.c.deadline_at), 1), else_=0)))
         .where(c.c.created_at >= MONTH_START, c.c.created_at < end)
         .group_by(c.c.grid_code, c.c.source))
    d, lg = Deadline.__table__, SentimentLog.__table__
    steps = (select(d.c.unit_code, d.c.state, d.c.outcome, func.count())
             .where(d.c.kind == "step", d.c.due_at >= MONTH_START, d.c.due_at < end)
             .group_by(d.c.unit_code, d.c.state, d.c.outcome))
    logs = (select(lg.c.grid_code, func.count(func.distinct(lg.c.day))).group_by(lg.c.grid_code))
    db = make_engine(url)
    try:
        with db.connect() as conn:
            conn.execute(select(1)).all()
            start = time.perf_counter()
            rows = conn.execute(q).all()
            conn.execute(steps).all()
            conn.execute(logs).all()
            levels: dict[str, dict[str, list[int]]] = {"grid": defaultdict(lambda: [0, 0, 0]),
                                                        "community": defaultdict(lambda: [0, 0, 0]),
                                                        "street": defaultdict(lambda: [0, 0, 0])}
            for grid, _source, n, closed, on_time in rows:
                for level, key in (("grid", grid), ("community", grid[:12]), ("street", grid[:9])):
                    acc = levels[level][key]
                    acc[0] += n
                    acc[1] += closed
                    acc[2] += on_time
            elapsed = time.perf_counter() - start
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
