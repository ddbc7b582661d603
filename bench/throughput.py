"""Durable transitions/s: the full engine vs the raw SQLAlchemy Core floor.

Both sides run one transaction per operator action on the same schema, the
same database file or server and the same durability settings (the engine
made by ``casecraft.store.db.make_engine``: SQLite WAL with the project's
``synchronous`` setting, PostgreSQL over loopback). The engine walks the
escalation path of the worked example's case C; the floor does what any
durable transition must: select the case row, update it under its version,
insert one timeline row.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from bench.common import WORKFLOW, at, cpu_split

GRID5 = "110106004005005"
COMMUNITY_E = "110106004005"

# case C of the worked example: grid → community (dispatch, unsolved) → street (安全办) → fed back down, closed
PATH: list[tuple[str, str, dict[str, Any]]] = [
    ("escalate", "wangjg", {"note": "网格长对消防安全不熟悉，上报社区"}),
    ("dispatch", "zhoumin", {"to": ["zhangwei", "chengang"], "note": "分配给协管员与派驻员"}),
    ("feedback", "chengang", {"outcome": "unsolved", "note": "需打孔安装"}),  # joint dispatch: both feed back
    ("feedback", "zhangwei", {"outcome": "unsolved", "note": "出租单位不同意，无权决定"}),
    ("escalate", "zhoumin", {"note": "需与地区单位协调，上报街道"}),
    ("dispatch", "wujing", {"note": "按分类转派安全办"}),
    ("feedback", "zhenglei", {"outcome": "solved", "note": "已重新挂放安装"}),
    ("relay", "wujing", {"note": "反馈社区"}),
    ("relay", "zhangwei", {"note": "通知网格长"}),
    ("check", "wangjg", {"note": "现场核查符合要求"}),
    ("close", "wangjg", {}),
]


def report_cases(eng: Any, n: int) -> list[int]:
    return [eng.report(source="patrol", grid=GRID5, category="0201", desc=f"消防设施隐患{i}", actor="wangjg").id
            for i in range(n)]


def engine_rate(url: str, n_cases: int, cpu: dict[str, float] | None = None) -> tuple[float, int]:
    """Fire the escalation path on ``n_cases`` cases; (transitions/s, transitions). ``cpu``: filled with the
    client's and the PostgreSQL server's CPU seconds per transition (:func:`bench.common.cpu_split`)."""
    from casecraft import Engine, FixedClock

    eng = Engine(url, WORKFLOW, FixedClock(at(24, "10:30")))
    try:
        eng.init(sandbox=True)
        ids = report_cases(eng, n_cases)
        eng.fire(ids[0], PATH[0][0], actor=PATH[0][1], **PATH[0][2])  # warm caches (machine, calendar, organisation)
        spent: dict[str, float] = {}
        with cpu_split(spent if cpu is not None else None):
            start = time.perf_counter()
            done = 1
            for k, cid in enumerate(ids):
                for j, (trigger, actor, kw) in enumerate(PATH):
                    if k == 0 and j == 0:
                        continue
                    eng.fire(cid, trigger, actor=actor, **kw)
                    done += 1
            elapsed = time.perf_counter() - start
    finally:
        eng.close()
    if cpu is not None:
        cpu.update({k: v / (done - 1) for k, v in spent.items()})
    return (done - 1) / elapsed, done - 1


class FloorTransition:
    """The Core floor's durable transition: select the case row, update it under its version, insert one timeline
    row, in one transaction; SQLAlchemy Core with its statements built once (the fastest plain Core)."""

    STATES = ("community_handling", "community_dispatched", "street_handling")

    def __init__(self) -> None:
        from sqlalchemy import bindparam, insert, select, update

        from casecraft.store.models import Case, TimelineEntry

        cases_t, timeline_t = Case.__table__, TimelineEntry.__table__
        self.sel = select(cases_t).where(cases_t.c.id == bindparam("_id"))
        self.upd = update(cases_t).where(cases_t.c.id == bindparam("_id"), cases_t.c.version == bindparam("_v"))
        self.ins = insert(timeline_t)
        self.now = at(24, "10:30")

    def __call__(self, db: Any, cid: int, i: int) -> None:
        """Transition ``cid`` to the ``i``-th state of the cycle, in a transaction of its own on ``db``."""
        now = self.now
        with db.begin() as conn:
            row = conn.execute(self.sel, {"_id": cid}).mappings().one()
            seq = row["version"] + 1
            dest = self.STATES[i % len(self.STATES)]
            h = hashlib.sha256(f"{cid}:{seq}:{row['last_hash']}".encode()).hexdigest()
            res = conn.execute(self.upd, {"_id": cid, "_v": row["version"], "state": dest, "version": seq,
                                          "updated_at": now, "last_hash": h})
            assert res.rowcount == 1
            conn.execute(self.ins, dict(
                case_id=cid, seq=seq, at=now, actor_id="wangjg", actor_role="grid_leader",
                actor_unit=GRID5, trigger="escalate", from_state=row["state"], to_state=dest,
                from_tier="grid", to_tier="community", unit_code=COMMUNITY_E, targets=[], outcome=None,
                note="上报社区", attachments=[], prev_hash=row["last_hash"], hash=h))


def floor_rate(url: str, n: int, cpu: dict[str, float] | None = None) -> float:
    """select + update + insert, one transaction each, SQLAlchemy Core on the same schema. ``cpu``: as
    :func:`engine_rate`'s."""
    from casecraft import Engine, FixedClock
    from casecraft.store.db import make_engine

    eng = Engine(url, WORKFLOW, FixedClock(at(24, "10:30")))
    try:
        eng.init(sandbox=True)
        ids = report_cases(eng, max(1, n // len(PATH)))
    finally:
        eng.close()
    db = make_engine(url)
    step = FloorTransition()
    spent: dict[str, float] = {}
    try:
        with cpu_split(spent if cpu is not None else None):
            start = time.perf_counter()
            for i in range(n):
                step(db, ids[i % len(ids)], i)
            elapsed = time.perf_counter() - start
    finally:
        db.dispose()
    if cpu is not None:
        cpu.update({k: v / n for k, v in spent.items()})
    return n / elapsed


def _prepared(url: str, n_cases: int) -> tuple[Any, list[int]]:
    """An engine on a new database with ``n_cases`` reported and the first step fired on the first (as
    :func:`engine_rate` leaves it before its clock starts)."""
    from casecraft import Engine, FixedClock

    eng = Engine(url, WORKFLOW, FixedClock(at(24, "10:30")))
    eng.init(sandbox=True)
    ids = report_cases(eng, n_cases)
    eng.fire(ids[0], PATH[0][0], actor=PATH[0][1], **PATH[0][2])
    return eng, ids


def replay_rate(url: str, twin: str, n_cases: int) -> tuple[float, float]:
    """The engine's own statements with none of its Python: (steps/s replayed, statements per step).

    Two databases are prepared alike (the same cases, ids and states). The escalation path is fired
    on ``url`` by the engine while every statement it sends is recorded as it reaches the driver
    (the SQL and its bound parameters, per step); then the same statements are sent on ``twin``
    straight through the driver's cursor, one transaction per step, and timed. That is the cost of
    what a step records on this machine and backend — the ceiling of any engine recording the same
    rows, with the statements the engine chose.
    """
    from sqlalchemy import event

    from casecraft.store.db import make_engine

    eng, ids = _prepared(url, n_cases)
    steps: list[list[tuple[str, Any]]] = []
    current: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        current.append((statement, parameters))

    sa_engine = eng.ctx.store.engine
    event.listen(sa_engine, "before_cursor_execute", record)
    try:
        for k, cid in enumerate(ids):
            for j, (trigger, actor, kw) in enumerate(PATH):
                if k == 0 and j == 0:
                    continue
                current.clear()
                eng.fire(cid, trigger, actor=actor, **kw)
                steps.append(list(current))
    finally:
        event.remove(sa_engine, "before_cursor_execute", record)
        eng.close()
    _prepared(twin, n_cases)[0].close()
    db = make_engine(twin)
    try:
        raw = db.raw_connection()
        try:
            conn = raw.driver_connection
            assert conn is not None
            # SQLite's BEGIN IMMEDIATE is the dialect's begin (not a statement the listener hears); PostgreSQL's
            # driver begins by itself
            begin = "BEGIN IMMEDIATE" if db.dialect.name == "sqlite" else None
            start = time.perf_counter()
            for statements in steps:
                cur = conn.cursor()
                if begin:
                    cur.execute(begin)
                for statement, parameters in statements:
                    cur.execute(statement, parameters)
                    if cur.description is not None:
                        cur.fetchall()
                conn.commit()
            elapsed = time.perf_counter() - start
        finally:
            raw.close()
    finally:
        db.dispose()
    return len(steps) / elapsed, sum(map(len, steps)) / len(steps) + (1 if begin else 0)
