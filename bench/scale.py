"""Scale-out: N engine processes on one PostgreSQL database against one process's rate.

Each process (spawn context, its own engine and connections) reports its own
cases, waits at a barrier, then walks the escalation path on them. The rate is
all transitions over the wall time from the barrier to the last finish.

The same is measured for the Core floor's durable transition (``bench.throughput.FloorTransition``:
select, update under the version, insert one timeline row, one transaction each) with as many
transitions per process: how far this machine and server let the plainest durable transition
scale, beside the engine's scaling.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from typing import Any


def _worker(url: str, n_cases: int, barrier: Any, out: Any, floor: bool) -> None:
    """Report ``n_cases`` cases, wait at the barrier, then walk the escalation path on them (``floor``: as many
    Core floor transitions instead); puts ("ok", start, end, transitions) or ("error", ...) on ``out``."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.common import WORKFLOW, at
    from bench.throughput import PATH, FloorTransition, report_cases
    from casecraft import Engine, FixedClock
    from casecraft.store.db import make_engine

    try:
        eng = Engine(url, WORKFLOW, FixedClock(at(24, "10:30")))
        ids = report_cases(eng, n_cases)
        n = n_cases * len(PATH)
        if floor:
            eng.close()
            db = make_engine(url)
            step = FloorTransition()
            step(db, ids[0], 0)  # warm: the pool's connection, the statements compiled
            barrier.wait(timeout=600)
            start = time.time()
            for i in range(n):
                step(db, ids[i % len(ids)], i + 1)
            end = time.time()
            db.dispose()
        else:
            barrier.wait(timeout=600)
            start = time.time()
            for cid in ids:
                for trigger, actor, kw in PATH:
                    eng.fire(cid, trigger, actor=actor, **kw)
            end = time.time()
            eng.close()
        out.put(("ok", start, end, n))
    except BaseException as exc:
        out.put(("error", repr(exc), 0, 0))


def rate(url: str, processes: int, cases_each: int, *, floor: bool = False) -> float:
    """Transitions/s of ``processes`` engine processes together (``floor``: of the Core floor's transition, as
    many per process)."""
    from bench.common import WORKFLOW, at
    from casecraft import Engine, FixedClock

    eng = Engine(url, WORKFLOW, FixedClock(at(24, "10:30")))
    eng.init(sandbox=True)
    eng.close()
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(processes)
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, cases_each, barrier, out, floor)) for _ in range(processes)]
    for p in procs:
        p.start()
    res = [out.get(timeout=1800) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    bad = [r for r in res if r[0] != "ok"]
    if bad:
        raise RuntimeError(f"a worker failed: {bad}")
    return sum(r[3] for r in res) / (max(r[2] for r in res) - min(r[1] for r in res))
