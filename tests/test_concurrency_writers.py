"""Eight writer processes and two schedulers on one database: no lost update, no duplicate alert.

Each writer is its own process (spawn context: nothing is shared but the
database) with its own engine. Every other attempt goes to one hot case, the
rest to one of several cases; a writer reads the case, picks the trigger its
state allows (``resolve`` ↔ ``rework`` keeps a case cycling between the grid
and the check) and fires it with the version it saw. Two scheduler processes
run the APScheduler ticker (``casecraft.scheduler.build_scheduler``) calling
``Engine.sweep`` at a later time, so every deadline the writers open is due.

Afterwards every count is checked: each successful fire is in the timeline
exactly once, with its trigger, in a contiguous hash chain; each refused one
raised ConflictError; every case has exactly one open step deadline; every
alert was raised once, counted once by the scheduler that raised it and
delivered once.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import time
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from casecraft import Engine, FixedClock
from casecraft.cases.timeline import entry_hash
from tests.conftest import WORKFLOW, bj, sandbox

GRID5 = "110106004005005"
WRITERS = 8
SCHEDULERS = 2
ATTEMPTS = 16  # per writer: half on the hot case, half spread over the others
OTHER_CASES = 3
WRITE_AT = bj(24, "09:00")
SWEEP_AT = bj(27, "17:00")  # Friday: every warning, overdue alert and re-escalation of Tuesday's steps is due
TIMEOUT = 240


def _writer(url: str, wid: int, hot: int, others: list[int], barrier: Any, results: Any) -> None:
    from casecraft import ConflictError

    eng = Engine(url, WORKFLOW, FixedClock(WRITE_AT))
    log: list[tuple[str, int, str, str]] = []
    try:
        eng.get(hot)  # load the workflow, machine, organisation and calendar before the start line
        eng.calendar()
        rng = random.Random(wid)
        barrier.wait(timeout=TIMEOUT)
        for i in range(ATTEMPTS):
            cid = hot if i % 2 == 0 else rng.choice(others)
            seen = eng.get(cid)
            trigger = "resolve" if seen.state == "grid_handling" else "rework"
            note = f"w{wid}#{i}"  # unique: finds this attempt's timeline entry, if any
            try:
                eng.fire(cid, trigger, actor="wangjg", note=note, expected_version=seen.version)
            except ConflictError:
                log.append(("conflict", cid, note, trigger))
            else:
                log.append(("ok", cid, note, trigger))
        results.put(("writer", wid, log))
    except BaseException as exc:  # report, never hang the parent
        results.put(("error", wid, repr(exc)))
    finally:
        eng.close()


def _scheduler(url: str, sid: int, barrier: Any, stop: Any, results: Any) -> None:
    import logging

    from casecraft.scheduler import build_scheduler

    logging.getLogger("casecraft.alerts").setLevel(logging.ERROR)  # the log sink's lines are noise here
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # "skipped: maximum number of running instances"
    eng = Engine(url, WORKFLOW, FixedClock(SWEEP_AT))
    totals: Counter[str] = Counter()
    errors: list[str] = []

    def sweep() -> dict[str, int]:
        try:
            return eng.sweep(batch=50)
        except Exception as exc:  # the ticker would only log it
            errors.append(repr(exc))
            raise

    try:
        eng.calendar()
        sched = build_scheduler(sweep, interval_seconds=0.05, blocking=False, on_result=totals.update)
        barrier.wait(timeout=TIMEOUT)
        sched.start()
        stop.wait(timeout=TIMEOUT)
        sched.shutdown(wait=True)
        totals.update(sweep())  # the last pass after the writers stopped, both schedulers at once
        results.put(("error", sid, errors) if errors else ("scheduler", sid, dict(totals)))
    except BaseException as exc:
        results.put(("error", sid, repr(exc)))
    finally:
        eng.close()


@pytest.fixture(autouse=True)
def _patient_writers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten processes take turns at one lock: on a loaded 2-core machine a writer can wait longer than the
    30 s an operator waits. This test is about lost and duplicated steps, not waiting, so it waits longer
    (the time-out itself is tested in tests/test_hostile.py)."""
    monkeypatch.setenv("CASECRAFT_LOCK_TIMEOUT", "180")


def _run(url: str) -> None:
    setup = sandbox(url, FixedClock(WRITE_AT))
    ids = [setup.report(source="patrol", grid=GRID5, category="0101", desc=f"小广告{i}", actor="wangjg").id
           for i in range(1 + OTHER_CASES)]
    setup.close()
    hot, others = ids[0], ids[1:]

    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(WRITERS + SCHEDULERS)
    stop = ctx.Event()
    results = ctx.Queue()
    writers = [ctx.Process(target=_writer, args=(url, w, hot, others, barrier, results)) for w in range(WRITERS)]
    scheds = [ctx.Process(target=_scheduler, args=(url, s, barrier, stop, results)) for s in range(SCHEDULERS)]
    for p in writers + scheds:
        p.start()
    out = []
    started = time.perf_counter()
    try:
        for _ in writers:
            out.append(results.get(timeout=TIMEOUT))
            assert out[-1][0] != "error", out[-1]
        wrote = time.perf_counter() - started
        stop.set()
        for _ in scheds:
            out.append(results.get(timeout=TIMEOUT))
    finally:
        stop.set()
        for p in writers + scheds:
            p.join(timeout=60)
    print(f"\n{url.split(':')[0]}: spawn + writers {wrote:.1f}s, then schedulers' last pass "
          f"{time.perf_counter() - started - wrote:.1f}s")
    errors = [r for r in out if r[0] == "error"]
    assert not errors, errors
    assert all(p.exitcode == 0 for p in writers + scheds)
    logs = [r[2] for r in out if r[0] == "writer"]
    swept = [r[2] for r in out if r[0] == "scheduler"]
    assert len(logs) == WRITERS and len(swept) == SCHEDULERS
    _check(url, ids, logs, swept)


def _check(url: str, ids: list[int], logs: list[list[tuple[str, int, str, str]]],
           swept: list[dict[str, int]]) -> None:
    attempts = [a for log in logs for a in log]
    ok = [a for a in attempts if a[0] == "ok"]
    conflicts = [a for a in attempts if a[0] == "conflict"]
    # every attempt ended one way or the other: a success or a ConflictError
    assert len(ok) + len(conflicts) == WRITERS * ATTEMPTS
    assert ok, "no fire succeeded"

    from casecraft.store.models import Alert, Case, Deadline, Delivery, TimelineEntry

    cases_t, timeline_t, deadlines_t = Case.__table__, TimelineEntry.__table__, Deadline.__table__
    alerts_t, deliveries_t = Alert.__table__, Delivery.__table__
    db = sa.create_engine(url)
    try:
        with db.connect() as conn:  # through the models' column types: times come back aware, in UTC
            cases = {r.id: r for r in conn.execute(sa.select(cases_t))}
            timeline = [dict(r) for r in conn.execute(
                sa.select(timeline_t).order_by(timeline_t.c.case_id, timeline_t.c.seq)).mappings()]
            # a running step limit is on its case row (0006); never an open step row in deadlines
            open_steps = Counter(r.id for r in cases.values() if r.stage_seq is not None and r.stage_closed_at is None)
            stray = conn.execute(sa.select(sa.func.count()).select_from(deadlines_t).where(
                deadlines_t.c.kind == "step", deadlines_t.c.closed_at.is_(None))).scalar_one()
            # the stage an alert is about: its key without the kind (s{case}:{seq}:{kind}:{extended})
            alerts = [(key.rsplit(":", 2)[0], kind, key) for kind, key in conn.execute(
                sa.select(alerts_t.c.kind, alerts_t.c.key))]
            deliveries = Counter(conn.execute(sa.select(deliveries_t.c.alert_id)).scalars())
            n_alerts = conn.execute(sa.select(sa.func.count()).select_from(alerts_t)).scalar_one()
            left_due = conn.execute(sa.select(sa.func.count()).select_from(cases_t).where(
                cases_t.c.stage_closed_at.is_(None), cases_t.c.stage_next_alert_at <= SWEEP_AT)).scalar_one()
    finally:
        db.dispose()

    # each successful fire is in the timeline exactly once, on its case, with its trigger; a refused one
    # left nothing. (The view fire returns is read after the commit, so under contention its version may
    # already include another writer's step: the unique note, not the version, identifies an attempt.)
    entries = {(e["case_id"], e["seq"]): e for e in timeline}
    by_note = Counter(e["note"] for e in timeline if e["seq"] > 1)
    assert max(by_note.values()) == 1, [n for n, k in by_note.items() if k > 1]
    assert set(by_note) == {note for _, _, note, _ in ok}
    assert not {note for _, _, note, _ in conflicts} & set(by_note)
    mine = {e["note"]: e for e in timeline if e["seq"] > 1}
    for _, cid, note, trigger in ok:
        assert (mine[note]["case_id"], mine[note]["trigger"]) == (cid, trigger)
    # no lost update: each case's version counts its own successes, its chain is whole and unbroken
    for cid in ids:
        succeeded = sum(1 for _, c, _, _ in ok if c == cid)
        assert cases[cid].version == 1 + succeeded
        assert sorted(s for (c, s) in entries if c == cid) == list(range(1, cases[cid].version + 1))
        chain = [entries[(cid, s)] for s in range(1, cases[cid].version + 1)]
        prev = None
        for e in chain:
            assert e["prev_hash"] == prev
            assert entry_hash(e) == e["hash"]  # the clock and the store both keep UTC
            prev = e["hash"]
        assert cases[cid].last_hash == prev
        assert cases[cid].state == chain[-1]["to_state"]
        assert open_steps[cid] == 1  # the step limits followed every transition, none left behind
    assert len(timeline) == len(ids) + len(ok)
    assert stray == 0
    # the hot case really was contended
    assert any(c == ids[0] for _, c, _, _ in conflicts)

    # no duplicate alert: one per deadline and kind (and extension), each counted once, queued once for the one sink
    assert len(alerts) == n_alerts > 0
    assert max(Counter((d, k) for d, k, _ in alerts).values()) == 1
    assert len({key for _, _, key in alerts}) == n_alerts
    assert sum(s.get("raised", 0) for s in swept) == n_alerts
    assert sum(s.get(k, 0) for s in swept for k in ("warning", "overdue", "reescalation")) == n_alerts
    assert sum(s.get("queued", 0) for s in swept) == n_alerts
    assert len(deliveries) == n_alerts and max(deliveries.values()) == 1
    assert left_due == 0  # nothing that is due was left unswept


@pytest.mark.slow
def test_eight_writers_two_schedulers_sqlite_file(sqlite_url: str) -> None:
    _run(sqlite_url)


@pytest.mark.slow
@pytest.mark.postgres
def test_eight_writers_two_schedulers_postgresql(pg_url: str) -> None:
    _run(pg_url)
