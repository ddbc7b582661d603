"""Two sweeper processes at once over thousands of overdue cases: every alert exactly once.

The cases are built through the engine (one engine reporting in a loop with the
clock fixed), then the clock moves on so that every case's warning and overdue
alert are due (but not its re-escalation). Two sweeper *processes* (spawn
context, so nothing is shared but the database) start together behind a
barrier and sweep the same database.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from casecraft import Engine, FixedClock
from tests.conftest import WORKFLOW, bj, sandbox

GRID5 = "110106004005005"
N_CASES = 5000
REPORTED_AT = bj(24, "09:00")  # Tue: warn 13:42, due 14:30, re-escalation Wed 14:30
SWEEP_AT = bj(24, "17:00")  # warning + overdue due, re-escalation not yet


def _sweeper(url: str, at: datetime, batch: int, barrier: Any, results: Any) -> None:
    """One sweeper process: its own engine, its own connections, the same database."""
    import logging

    logging.getLogger("casecraft.alerts").setLevel(logging.ERROR)  # 10,000 log-sink lines are noise here
    eng = Engine(url, WORKFLOW, FixedClock(at))
    try:
        _ = eng.workflow  # load the workflow before the start line, so both really sweep at once
        barrier.wait(timeout=60)
        results.put(("ok", eng.sweep(batch=batch)))
    except BaseException as exc:  # report, never hang the parent
        results.put(("error", repr(exc)))
    finally:
        eng.close()


def _reporter(url: str, start: int, n: int, results: Any) -> None:
    """One builder process: report ``n`` patrol cases at REPORTED_AT through the engine."""
    eng = Engine(url, WORKFLOW, FixedClock(REPORTED_AT))
    try:
        for i in range(start, start + n):
            eng.report(source="patrol", grid=GRID5, category="0101", desc=f"小广告{i}", actor="wangjg")
        results.put(("ok", n))
    except BaseException as exc:
        results.put(("error", repr(exc)))
    finally:
        eng.close()


def _build(url: str, n: int, processes: int) -> float:
    """Report ``n`` cases through the engine, split over ``processes`` builder processes."""
    started = time.perf_counter()
    eng = sandbox(url, FixedClock(REPORTED_AT))
    eng.close()
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    share = n // processes
    procs = [ctx.Process(target=_reporter, args=(url, k * share, share if k < processes - 1 else n - k * share,
                                                  results)) for k in range(processes)]
    for p in procs:
        p.start()
    out = [results.get(timeout=900) for _ in procs]  # generous: a loaded machine is slow, not wrong
    for p in procs:
        p.join(timeout=60)
    assert all(status == "ok" for status, _ in out), out
    assert sum(r for _, r in out) == n
    return time.perf_counter() - started


def _run_two_sweepers(url: str, batch: int) -> list[dict[str, int]]:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    procs = [ctx.Process(target=_sweeper, args=(url, SWEEP_AT, batch, barrier, results)) for _ in range(2)]
    for p in procs:
        p.start()
    out = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    errors = [r for status, r in out if status != "ok"]
    assert not errors, errors
    return [r for _, r in out]


def _check(url: str, n: int, counts: list[dict[str, int]]) -> None:
    db = sa.create_engine(url)
    try:
        with db.connect() as conn:
            total = conn.execute(sa.text("SELECT count(*) FROM alerts")).scalar_one()
            dups = conn.execute(sa.text(
                "SELECT count(*) FROM (SELECT case_id, kind FROM alerts GROUP BY case_id, kind "
                "HAVING count(*) > 1) d")).scalar_one()
            by_kind = dict(conn.execute(sa.text("SELECT kind, count(*) FROM alerts GROUP BY kind")).all())
            cases = conn.execute(sa.text("SELECT count(DISTINCT case_id) FROM alerts")).scalar_one()
            deliveries = conn.execute(sa.text("SELECT count(*) FROM deliveries WHERE status = 'pending'")
                                      ).scalar_one()
            dup_deliveries = conn.execute(sa.text(
                "SELECT count(*) FROM (SELECT alert_id FROM deliveries GROUP BY alert_id HAVING count(*) > 1) d")
                                          ).scalar_one()
            # what is left to raise of every step deadline is its re-escalation, nothing earlier
            pending = conn.execute(sa.text(
                "SELECT count(*) FROM deadlines WHERE kind = 'step' AND closed_at IS NULL "
                "AND (next_alert_at IS NULL OR next_alert_at <> escalate_at)")).scalar_one()
    finally:
        db.dispose()
    assert dups == 0
    # past the limit only the overdue alert is raised: its warning came too late (issue 13)
    assert by_kind == {"overdue": n}
    assert total == n
    assert cases == n
    assert pending == 0
    assert (deliveries, dup_deliveries) == (n, 0)  # each alert queued for the log sink once (the outbox)
    # each sweeper reports only what it really inserted: together, every alert once
    assert sum(c["raised"] for c in counts) == n
    assert sum(c["warning"] for c in counts) == 0
    assert sum(c["overdue"] for c in counts) == n
    assert sum(c["reescalation"] for c in counts) == 0


def _scenario(url: str, builders: int) -> None:
    build_s = _build(url, N_CASES, builders)
    started = time.perf_counter()
    # the default batch of 500 rows raises 1,000 alerts a batch (warning + overdue): this also covers the
    # fixed truncation of a batch's new alerts at 500 (test_a_batch_raising_more_than_500_alerts_delivers_them_all)
    counts = _run_two_sweepers(url, batch=500)
    sweep_s = time.perf_counter() - started
    print(f"\n{url.split(':')[0]}: built {N_CASES} cases in {build_s:.1f}s; two sweepers took {sweep_s:.1f}s; "
          f"claimed {[c['claimed'] for c in counts]}, raised {[c['raised'] for c in counts]}")
    _check(url, N_CASES, counts)


@pytest.mark.slow
def test_two_sweeper_processes_sqlite_file(sqlite_url: str) -> None:
    _scenario(sqlite_url, builders=1)  # SQLite has one writer at a time anyway


@pytest.mark.slow
@pytest.mark.postgres
def test_two_sweeper_processes_postgresql(pg_url: str) -> None:
    _scenario(pg_url, builders=3)
