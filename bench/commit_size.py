"""What a durable commit costs on SQLite: the pages a step writes against the Core floor's, and fsync by size.

A WAL commit appends one frame (a 4 KiB page and its header) per page the transaction changed, then
fsyncs the WAL: the more table and index pages a step touches, the longer its commit waits on the
disk. This measures, on the same schema and the same database file:

- the WAL frames one step of the escalation path writes (the engine: the case row, which since
  migration 0006 holds the running step limit in its ``stage_*`` columns, the chained entry, and the
  ended stage's limit written as a deadlines row, with their indexes) and one transition of the Core
  floor of ``bench/throughput.py`` (a case row and a timeline row);
- the time to append ``k`` frames to a file and fsync it, for the frame counts seen: the floor fsync
  sets under each commit on this machine;
- where a step's frames go when many cases are in flight (one step of the escalation path fired on each
  of 300 cases in turn, as a platform's day interleaves them): each frame's page mapped to its table or
  index with SQLite's ``dbstat`` table, per step.

    python -m bench.commit_size

(a few seconds; prints its figures, writes nothing outside a temporary folder under bench/.data).
"""

from __future__ import annotations

import collections
import os
import shutil
import sqlite3
import statistics
import struct
import tempfile
import time
from typing import Any

from bench.common import DATA, WORKFLOW, at
from bench.throughput import PATH, FloorTransition, report_cases

FRAME = 4096 + 24  # a WAL frame: the page and its header


def _wal_frames(path: str) -> int:
    con = sqlite3.connect(path)
    try:
        return int(con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
    finally:
        con.close()


def _truncate_wal(path: str) -> None:
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def _no_autocheckpoint(engine: Any) -> None:
    from sqlalchemy import event

    engine.dispose()  # pooled connections are made again, with the listener below
    event.listen(engine, "connect", lambda con, _record: con.execute("PRAGMA wal_autocheckpoint=0"))


def frames_per_step(path: str, n_cases: int = 100) -> tuple[float, float]:
    """(WAL frames per engine step, per floor transition) on a new database at ``path``."""
    from casecraft import Engine, FixedClock
    from casecraft.store.db import make_engine

    eng = Engine(f"sqlite:///{path}", WORKFLOW, FixedClock(at(24, "10:30")))
    try:
        eng.init(sandbox=True)
        ids = report_cases(eng, n_cases + 1)
        eng.ctx.store.dispose()  # its kept SQLite writer connection too: made again, with the listener
        _no_autocheckpoint(eng.ctx.store.engine)
        for trigger, actor, kw in PATH:  # warm: caches, the first pages of every table
            eng.fire(ids[0], trigger, actor=actor, **kw)
        _truncate_wal(path)
        steps = 0
        for cid in ids[1:]:
            for trigger, actor, kw in PATH:
                eng.fire(cid, trigger, actor=actor, **kw)
                steps += 1
        engine_frames = _wal_frames(path) / steps
    finally:
        eng.close()
    db = make_engine(f"sqlite:///{path}")
    _no_autocheckpoint(db)
    _truncate_wal(path)
    step = FloorTransition()
    m = 1000
    try:
        for i in range(m):
            step(db, ids[1 + i % n_cases], i)
        floor_frames = _wal_frames(path) / m
    finally:
        db.dispose()
    return engine_frames, floor_frames


def frames_by_tree(path: str, n_cases: int = 300, sample: int = 30) -> tuple[float, list[tuple[str, float]]]:
    """(WAL frames per step, [(table or index, frames per step)]) for steps fired on ``n_cases`` cases in turn.

    Each case is walked to the path's sixth step one step at a time across all cases; the sixth step of
    ``sample`` of them is taken alone (the WAL emptied before it) and its frames' pages mapped to their trees.
    """
    from casecraft import Engine, FixedClock

    eng = Engine(f"sqlite:///{path}", WORKFLOW, FixedClock(at(24, "10:30")))
    counts: collections.Counter[str] = collections.Counter()
    taken = 0
    every = max(1, n_cases // sample)
    try:
        eng.init(sandbox=True)
        ids = report_cases(eng, n_cases)
        eng.ctx.store.dispose()  # its kept SQLite writer connection too: made again, with the listener
        _no_autocheckpoint(eng.ctx.store.engine)
        for j, (trigger, actor, kw) in enumerate(PATH[:6]):
            for k, cid in enumerate(ids):
                last = j == 5 and k % every == 0
                if last:
                    _truncate_wal(path)
                eng.fire(cid, trigger, actor=actor, **kw)
                if last:
                    with open(path + "-wal", "rb") as f:
                        wal = f.read()
                    pages = [struct.unpack(">I", wal[off:off + 4])[0] for off in range(32, len(wal) - 23, FRAME)]
                    con = sqlite3.connect(path)
                    try:
                        tree = dict(con.execute("SELECT pageno, name FROM dbstat").fetchall())
                    finally:
                        con.close()
                    counts.update(tree.get(p, "(free list or header)") for p in pages)
                    taken += 1
    finally:
        eng.close()
    return sum(counts.values()) / taken, [(name, n / taken) for name, n in counts.most_common()]


def fsync_micros(folder: str, frames: int, times: int = 300) -> float:
    """Median µs to append ``frames`` WAL-sized frames to a file and fsync it."""
    path = os.path.join(folder, f"fsync-{frames}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    block = b"x" * (FRAME * frames)
    took = []
    try:
        for _ in range(times):
            t = time.perf_counter()
            os.write(fd, block)
            os.fsync(fd)
            took.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        os.unlink(path)
    return statistics.median(took) * 1e6


def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="commit-size-", dir=DATA)
    try:
        engine_frames, floor_frames = frames_per_step(os.path.join(folder, "w.db"))
        print(f"WAL frames a commit writes: engine step {engine_frames:.1f}, Core floor transition {floor_frames:.1f}")
        for k in sorted({1, round(floor_frames), round(engine_frames)}):
            print(f"append {k:2d} frames and fsync: median {fsync_micros(folder, k):.0f} µs")
        total, trees = frames_by_tree(os.path.join(folder, "t.db"))
        print(f"one step with 300 cases in flight: {total:.1f} WAL frames, by table and index:")
        for name, n in trees:
            print(f"  {n:5.2f} {name}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
