"""Database faults are clear messages, exit code 3, nothing changed (issue 14 §8).

* Another process holding the database's lock longer than ``CASECRAFT_LOCK_TIMEOUT``: ``case fire``
  gives up with "the database is busy ... try again later", exit 3, no traceback, and the case is as it was.
* PostgreSQL: a connection killed under a long-lived engine (``pg_terminate_backend``, a restart) is
  not a raw driver error: the engine reconnects or says the database is unavailable.
"""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from casecraft import Engine, FixedClock
from casecraft.base.errors import UnavailableError
from casecraft.cli.main import app
from tests.conftest import WORKFLOW, bj

GRID5 = "110106004005005"


def _case(url: str) -> int:
    with Engine(url, WORKFLOW, FixedClock(bj(24, "09:00"))) as eng:
        eng.init(sandbox=True)
        return eng.report(source="patrol", grid=GRID5, category="0101", desc="楼道小广告", actor="wangjg").id


def test_a_held_lock_is_a_clear_busy_message_with_exit_3(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    case_id = _case(db_url)
    monkeypatch.setenv("CASECRAFT_LOCK_TIMEOUT", "1")
    fire = ["--db", db_url, "--at", "2026-11-24T09:30", "case", "fire", str(case_id), "escalate",
            "--actor", "wangjg", "--note", "上报社区"]
    if db_url.startswith("sqlite"):
        holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            r = CliRunner().invoke(app, fire)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    else:
        other = sa.create_engine(db_url)
        try:
            with other.connect() as conn:
                conn.exec_driver_sql("LOCK TABLE cases IN ACCESS EXCLUSIVE MODE")
                r = CliRunner().invoke(app, fire)
                conn.rollback()
        finally:
            other.dispose()
    assert r.exit_code == 3, r.output
    assert "the database is busy" in r.stderr and "try again later" in r.stderr
    assert "Traceback" not in r.output and "sqlalchemy" not in r.output.lower()
    with Engine(db_url, WORKFLOW, FixedClock(bj(24, "10:00"))) as eng:
        case = eng.get(case_id)
        assert case.version == 1 and [e.trigger for e in case.timeline] == ["report"]  # nothing changed
    # and once the lock is gone the same command goes through
    monkeypatch.setenv("CASECRAFT_LOCK_TIMEOUT", "30")
    again = CliRunner().invoke(app, fire)
    assert again.exit_code == 0, again.output


@pytest.mark.postgres
def test_a_killed_connection_is_not_a_driver_traceback(pg_url: str) -> None:
    case_id = _case(pg_url)
    eng = Engine(pg_url, WORKFLOW, FixedClock(bj(24, "10:00")))
    try:
        _kill_pool_connection(eng, pg_url)
        try:  # either the engine reconnects (a ping of a connection idle past the window) ...
            assert eng.get(case_id).id == case_id
        except UnavailableError as exc:  # ... or says plainly that the database is unavailable
            assert "try again" in exc.message
    finally:
        eng.close()


def _kill_pool_connection(eng: Engine, url: str) -> None:
    with eng.store.read() as tx:  # the pool's connection (only this one: other tests share the server)
        pid = tx.conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            assert conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})").scalar_one() is True
    finally:
        admin.dispose()


@pytest.mark.postgres
def test_a_connection_idle_past_the_window_is_pinged_and_replaced_unseen(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from casecraft.store import db

    case_id = _case(pg_url)
    eng = Engine(pg_url, WORKFLOW, FixedClock(bj(24, "10:00")))
    try:
        _kill_pool_connection(eng, pg_url)
        monkeypatch.setattr(db, "PING_WHEN_IDLE", 0.0)  # every connection counts as idle: pinged when lent
        assert eng.fire(case_id, "resolve", actor="wangjg", note="已清除").state == "to_check"
    finally:
        eng.close()


@pytest.mark.postgres
def test_a_connection_lost_within_the_window_fails_one_command_that_changes_nothing(pg_url: str) -> None:
    case_id = _case(pg_url)
    eng = Engine(pg_url, WORKFLOW, FixedClock(bj(24, "10:00")))
    try:
        before = eng.get(case_id)
        _kill_pool_connection(eng, pg_url)  # given back a moment ago: lent again without a ping
        with pytest.raises(UnavailableError) as err:
            eng.fire(case_id, "resolve", actor="wangjg", note="已清除")
        assert "nothing was changed" in err.value.message and "try again" in err.value.message
        after = eng.get(case_id)  # the pool replaced the lost connection
        assert (after.state, after.version) == (before.state, before.version)
        assert eng.fire(case_id, "resolve", actor="wangjg", note="已清除").state == "to_check"
    finally:
        eng.close()


@pytest.mark.postgres
def test_connections_in_steady_use_are_not_pinged_one_idle_is(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from casecraft.store import db

    case_id = _case(pg_url)
    eng = Engine(pg_url, WORKFLOW, FixedClock(bj(24, "10:00")))
    try:
        dialect = eng.store.engine.dialect
        pings: list[object] = []
        real = dialect.do_ping

        def counting(dbapi_conn: object) -> bool:
            pings.append(dbapi_conn)
            return real(dbapi_conn)

        monkeypatch.setattr(dialect, "do_ping", counting)
        eng.get(case_id)
        eng.fire(case_id, "resolve", actor="wangjg", note="已清除")
        eng.fire(case_id, "rework", actor="wangjg", note="未清除干净")
        assert pings == []  # each step borrowed a connection given back a moment before
        monkeypatch.setattr(db, "PING_WHEN_IDLE", 0.0)
        eng.get(case_id)
        assert len(pings) == 1
    finally:
        eng.close()
