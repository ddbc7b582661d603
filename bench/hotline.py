"""Hotline import: rows/s of ``Engine.import_hotline`` against raw batched ``executemany``; its RSS over a big file.

The generator writes a work-order CSV (the columns of ``casecraft.intake.hotline``)
for the sample organisation's grids. The raw peer reads the same file with
``csv`` and, per batch of 500 rows in one transaction, inserts the cases
(``executemany`` with RETURNING) and their first timeline entries with prebuilt
SQLAlchemy Core statements — the rows the engine wrote when the peer was made
(issue 6), without its checks, routing and working-time arithmetic; the step
deadline, a row of its own then, is since migration 0006 the case row's
``stage_*`` columns, as the import writes it (an intake step opens no whole-case
limit, so no deadlines row is written); ``driver_rate`` writes those rows
through the DBAPI cursor. Since the trust model an import's timeline rows are
wider (the chained entry keeps the note, the recorded time, the actor's name,
the case facts and the deadline facts): ``same_rows_rate`` is the driver's speed
for the rows the import writes today, byte for byte (SQLite).

The RSS row imports a big file (1,000,000 rows in the full run, generated once
under bench/.data) into a fresh SQLite database in a child process
(``python -m bench.hotline rss FILE URL WARMUP``), which reads its own RSS before
the import, once ``WARMUP`` rows are written (the checking pass is over by then:
its index lives on disk), at its peak while writing, and at the end.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import json
import os
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import DATA, SEED, WORKFLOW, at, rss_mb
from bench.gen import GRIDS

NOW = at(24, "17:00")
BATCH = 500


def _stage(now: datetime) -> dict[str, Any]:
    """The running step limit of a case entered at street intake at ``now`` (1 working hour, warned at 80 %),
    as the case row's ``stage_*`` columns (schema 0006) by name; the rest of them (closed, outcome, the id of a
    row from before 0006) stay NULL."""
    return {"stage_seq": 1, "stage_state": "street_intake", "stage_tier": "street", "stage_unit_code": "110106004",
            "stage_limit_text": "1 working hour", "stage_calendar": "calendar_days", "stage_started_at": now,
            "stage_warn_at": now + timedelta(minutes=48), "stage_due_at": now + timedelta(hours=1),
            "stage_escalate_at": now + timedelta(days=1), "stage_next_alert_at": now + timedelta(minutes=48),
            "stage_extended": 0, "stage_provisional": False}


def write_csv(path: Path, n: int) -> Path:
    rng = random.Random(SEED)
    cats = ["0101", "0102", "0103", "0104", "0201", "0301"]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["ticket", "channel", "received_at", "address", "grid", "category", "description", "contact"])
        for i in range(n):
            ch = rng.choice(("12345", "96005"))
            received = (NOW - timedelta(minutes=rng.randrange(1, 600))).strftime("%Y-%m-%dT%H:%M")
            w.writerow([f"{ch}-20261124-{i:07d}", ch, received, "", rng.choice(GRIDS), rng.choice(cats),
                        f"居民来电反映问题{i}", f"139****{i % 10000:04d}"])
    return path


def cached_csv(n: int) -> Path:
    """The ``n``-row work-order file under bench/.data, written once (``write_csv``'s rows, same seed)."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"hotline-{n}.csv"
    if not path.exists():
        part = path.with_suffix(".part")
        write_csv(part, n)
        part.replace(path)
    return path


def import_rss(url: str, path: Path, warmup: int) -> dict[str, float]:
    """Import ``path`` into the (fresh) database at ``url``; RSS in MB before, after ``warmup`` rows written,
    at its peak after that, and at the end; with the rows and seconds."""
    from casecraft import Engine, FixedClock

    eng = Engine(url, WORKFLOW, FixedClock(NOW))
    seen: dict[str, float] = {}

    def progress(done: int, total: int) -> None:
        if "warm" not in seen and done >= min(warmup, total):
            gc.collect()
            seen["warm"] = seen["peak"] = rss_mb()
        elif "warm" in seen:
            seen["peak"] = max(seen["peak"], rss_mb())

    try:
        eng.init(sandbox=True)
        eng.calendar()
        gc.collect()
        seen["start"] = rss_mb()
        started = time.perf_counter()
        result = eng.import_hotline(path, actor="wujing", progress=progress)
        seconds = time.perf_counter() - started
        assert result.new == result.rows, result
        gc.collect()
        end = rss_mb()
    finally:
        eng.close()
    return {"start": seen["start"], "warm": seen["warm"], "peak": max(seen["peak"], end), "end": end,
            "rows": result.rows, "seconds": seconds}


def rss_in_child(url: str, path: Path, warmup: int) -> dict[str, float]:
    """:func:`import_rss` in a fresh process (its RSS is the import's alone)."""
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (str(root), os.environ.get("PYTHONPATH")))))
    out = subprocess.run([sys.executable, "-m", "bench.hotline", "rss", str(path), url, str(warmup)], cwd=root,
                         env=env, capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"the import's child process failed: {out.stderr[-1000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def available() -> bool:
    from casecraft import Engine

    return hasattr(Engine, "import_hotline")


def casecraft_rate(url: str, path: Path) -> float:
    from casecraft import Engine, FixedClock

    eng = Engine(url, WORKFLOW, FixedClock(NOW))
    try:
        eng.init(sandbox=True)
        eng.calendar()
        start = time.perf_counter()
        result = eng.import_hotline(path, actor="wujing")
        elapsed = time.perf_counter() - start
        assert result.new == result.rows, result
        return result.rows / elapsed
    finally:
        eng.close()


def raw_rate(url: str, path: Path) -> float:
    from sqlalchemy import insert

    from casecraft import Engine, FixedClock
    from casecraft.store.db import make_engine
    from casecraft.store.models import Case, TimelineEntry

    eng = Engine(url, WORKFLOW, FixedClock(NOW))
    vid = int(eng.init(sandbox=True)["workflow_version_id"])
    eng.close()
    cases_t, timeline_t = Case.__table__, TimelineEntry.__table__
    ins_case = insert(cases_t).returning(cases_t.c.id, sort_by_parameter_order=True)
    ins_tl = insert(timeline_t)
    stage = _stage(NOW)  # the step limit on the case row, as the import writes it (no deadlines row)
    street = "110106004"
    db = make_engine(url)
    n = 0
    try:
        start = time.perf_counter()
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        for k in range(0, len(rows), BATCH):
            batch = rows[k:k + BATCH]
            with db.begin() as conn:
                cases = [{"workflow_version_id": vid, "state": "street_intake", "tier": "street", "unit_code": street,
                          "grid_code": r["grid"], "category_code": r["category"], "urgency": "normal",
                          "source": "hotline", "ref": r["ticket"], "description": r["description"],
                          "reporter_id": "wujing", "assignees": [], "is_open": True, "created_at": NOW,
                          "updated_at": NOW, "version": 1, "channel": r["channel"], "contact": r["contact"],
                          "received_at": NOW, **stage} for r in batch]
                ids = list(conn.execute(ins_case, cases).scalars())
                entries = []
                for cid in ids:
                    h = hashlib.sha256(f"{cid}:1".encode()).hexdigest()
                    entries.append({"case_id": cid, "seq": 1, "at": NOW, "actor_id": "wujing", "actor_role": "operator",
                                    "actor_unit": street, "trigger": "report", "from_state": None,
                                    "to_state": "street_intake", "from_tier": None, "to_tier": "street",
                                    "unit_code": street, "targets": [], "outcome": None, "note": None,
                                    "attachments": [], "prev_hash": None, "hash": h})
                conn.execute(ins_tl, entries)
            n += len(batch)
        elapsed = time.perf_counter() - start
    finally:
        db.dispose()
    return n / elapsed


def driver_rate(url: str, path: Path) -> float:
    """The raw limit at the driver: the same rows as ``raw_rate`` (the case row with its step limit's
    ``stage_*`` columns, the timeline entry), ids assigned up front, values converted as they are read, one
    DBAPI ``executemany`` per table per 500 rows (no SQLAlchemy per row)."""
    from bench.gen import _pg_value, _sqlite_value
    from casecraft import Engine, FixedClock
    from casecraft.store.db import make_engine

    eng = Engine(url, WORKFLOW, FixedClock(NOW))
    vid = int(eng.init(sandbox=True)["workflow_version_id"])
    eng.close()
    street = "110106004"
    db = make_engine(url)
    sqlite = db.dialect.name == "sqlite"
    conv = _sqlite_value if sqlite else _pg_value
    mark = "?" if sqlite else "%s"

    def sql(table: str, cols: tuple[str, ...]) -> str:
        return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"

    case_cols = ("id", "workflow_version_id", "state", "tier", "unit_code", "grid_code", "category_code", "urgency",
                 "source", "ref", "description", "reporter_id", "assignees", "is_open", "created_at", "updated_at",
                 "version", "channel", "contact", "received_at", "parked", *_stage(NOW))
    tl_cols = ("case_id", "seq", "at", "actor_id", "actor_role", "actor_unit", "trigger", "to_state", "to_tier",
               "unit_code", "targets", "attachments", "hash")
    now = conv(NOW)
    stage = tuple(conv(v) for v in _stage(NOW).values())  # the step limit on the case row (no deadlines row)
    raw = db.raw_connection()
    n = 0
    try:
        cur = raw.cursor()
        start = time.perf_counter()
        cur.execute("SELECT coalesce(max(id), 0) FROM cases")
        next_id = int((cur.fetchone() or (0,))[0]) + 1
        if sqlite:
            raw.commit()
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        for k in range(0, len(rows), BATCH):
            batch = rows[k:k + BATCH]
            if sqlite:
                cur.execute("BEGIN IMMEDIATE")
            cases, entries = [], []
            for r in batch:
                cid = next_id
                next_id += 1
                cases.append((cid, vid, "street_intake", "street", street, r["grid"], r["category"], "normal",
                              "hotline", r["ticket"], r["description"], "wujing", "[]", True if not sqlite else 1,
                              now, now, 1, r["channel"], r["contact"], now, False if not sqlite else 0, *stage))
                entries.append((cid, 1, now, "wujing", "operator", street, "report", "street_intake", "street",
                                street, "[]", "[]", hashlib.sha256(f"{cid}:1".encode()).hexdigest()))
            cur.executemany(sql("cases", case_cols), cases)
            cur.executemany(sql("timeline", tl_cols), entries)
            if sqlite:
                cur.execute("COMMIT")
            else:
                raw.commit()
            n += len(batch)
        elapsed = time.perf_counter() - start
    finally:
        raw.close()
        db.dispose()
    return n / elapsed


def same_rows_rate(url: str, scratch: str, path: Path) -> float:
    """The raw limit for the very rows the import writes (SQLite): ``executemany`` of them, nothing built.

    ``driver_rate``'s rows are narrower than the import's: its timeline rows carry no note, recorded time,
    actor's name, case facts or deadline facts, which the chained entry of an import holds since the
    trust model (hash version 2). Here the engine imports the file once, untimed, into the database at
    ``scratch``; its cases (with the step limit in their ``stage_*`` columns, schema 0006), timeline and
    deadline rows (a whole case's limit, if the intake opened one: none for the sample workflow's) are read
    back as the driver gives them (text, numbers) and then, timed, the file is read and those rows are
    inserted into the fresh database at ``url`` by one DBAPI ``executemany`` per table with rows per 500
    cases, one transaction each, as ``driver_rate`` does: the driver's speed for the same bytes, with none
    of the import's work.
    """
    from casecraft import Engine, FixedClock
    from casecraft.store.db import make_engine

    eng = Engine(scratch, WORKFLOW, FixedClock(NOW))
    try:
        eng.init(sandbox=True)
        eng.calendar()
        first = eng.import_hotline(path, actor="wujing").case_ids
    finally:
        eng.close()
    src = make_engine(scratch)
    tables: list[tuple[str, list[str], dict[int, list[tuple[Any, ...]]]]] = []
    try:
        raw = src.raw_connection()
        try:
            cur = raw.cursor()
            for table, key in (("cases", "id"), ("timeline", "case_id"), ("deadlines", "case_id")):
                cur.execute(f"SELECT * FROM {table} WHERE {key} >= ? ORDER BY id", (min(first),))
                cols = [d[0] for d in cur.description]
                if table != "cases":
                    cols = cols[1:]  # their own ids: assigned by the database, as the import's are
                by_case: dict[int, list[tuple[Any, ...]]] = {}
                at = cols.index(key)
                for r in cur.fetchall():
                    row = r if table == "cases" else r[1:]
                    by_case.setdefault(row[at], []).append(tuple(row))
                tables.append((table, cols, by_case))
        finally:
            raw.close()
    finally:
        src.dispose()
    eng = Engine(url, WORKFLOW, FixedClock(NOW))
    try:
        eng.init(sandbox=True)
    finally:
        eng.close()
    db = make_engine(url)
    ids = sorted(tables[0][2])
    n = 0
    try:
        raw = db.raw_connection()
        try:
            cur = raw.cursor()
            sqls = [f"INSERT INTO {t} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                    for t, cols, _ in tables]
            start = time.perf_counter()
            with path.open(encoding="utf-8", newline="") as f:
                rows = list(csv.reader(f))[1:]
            assert len(rows) == len(ids)
            for k in range(0, len(ids), BATCH):
                batch = ids[k:k + BATCH]
                cur.execute("BEGIN IMMEDIATE")
                for sql, (_t, _cols, by_case) in zip(sqls, tables, strict=True):
                    got = [row for cid in batch for row in by_case.get(cid, ())]
                    if got:  # the import wrote no deadlines row (its step limit is on the case row)
                        cur.executemany(sql, got)
                cur.execute("COMMIT")
                n += len(batch)
            elapsed = time.perf_counter() - start
        finally:
            raw.close()
    finally:
        db.dispose()
    return n / elapsed


if __name__ == "__main__":  # the RSS row's child: python -m bench.hotline rss FILE URL WARMUP
    if len(sys.argv) != 5 or sys.argv[1] != "rss":
        sys.exit("usage: python -m bench.hotline rss FILE URL WARMUP")
    print(json.dumps(import_rss(sys.argv[3], Path(sys.argv[2]), int(sys.argv[4]))))
