"""Migration 0005: the evaluation's scans read covering indexes, kept by the database on every write."""

from __future__ import annotations

import sqlite3
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from casecraft import FixedClock
from casecraft.evaluation import record_month
from casecraft.store import db as dbmod
from tests.conftest import bj, sandbox


def _indexes(engine: sa.Engine, table: str) -> set[str]:
    return {str(ix["name"]) for ix in sa.inspect(engine).get_indexes(table)}


def test_the_month_scans_read_only_the_covering_indexes(sqlite_url: str) -> None:
    """The case and step scans never read a table row (SQLite's plan; a column read that the index
    lacks would turn "COVERING INDEX" into a row lookup per case)."""
    eng = sandbox(sqlite_url, FixedClock(bj(2, "10:00", month=12)))
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if "GROUP BY" in statement:
            seen.append((statement, params))

    event.listen(eng.store.engine, "before_cursor_execute", capture)
    try:
        assert record_month(eng, "2026-11").created
    finally:
        event.remove(eng.store.engine, "before_cursor_execute", capture)
    raw = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    try:
        plans = {}
        for statement, params in seen:
            table = statement.split("FROM ", 1)[1].split()[0]
            if "stage_" in statement:
                table += " stages"  # the step limits still running, kept on the case rows (0006)
            plans[table] = " / ".join(r[3] for r in raw.execute(f"EXPLAIN QUERY PLAN {statement}", params))
    finally:
        raw.close()
    assert plans["cases"] == "SCAN cases USING COVERING INDEX ix_cases_evaluation", plans
    assert plans["deadlines"] == "SCAN deadlines USING COVERING INDEX ix_deadlines_steps", plans
    # only the running limits due in the month: a range of the partial index on their due times, which holds
    # every column the scan reads
    assert plans["cases stages"].startswith("SEARCH cases USING COVERING INDEX ix_cases_stage_due (stage_due_at>? "
                                            "AND stage_due_at<?)"), plans
    eng.close()


def test_upgrade_from_0004_and_back(db_url: str) -> None:
    from alembic import command

    engine = dbmod.make_engine(db_url)
    cfg = dbmod.alembic_config()
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0004")
        assert "ix_cases_grid" in _indexes(engine, "cases")
        assert dbmod.ensure_schema(engine) is True  # 0004 -> head
        assert dbmod.current_revision(engine) == dbmod.HEAD
        assert {"ix_cases_evaluation"} <= _indexes(engine, "cases") and "ix_cases_grid" not in _indexes(engine, "cases")
        assert "ix_deadlines_steps" in _indexes(engine, "deadlines")
        with engine.connect() as conn, dbmod.migrating(conn), conn.begin():
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0004")
            dbmod.check_foreign_keys(conn)
        assert "ix_cases_grid" in _indexes(engine, "cases") and "ix_cases_evaluation" not in _indexes(engine, "cases")
        assert "ix_deadlines_steps" not in _indexes(engine, "deadlines")
    finally:
        engine.dispose()
