"""Migrations: the models and migrations agree; first use migrates once, safely in parallel."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import sqlalchemy as sa

from casecraft.store import db as dbmod


def test_head_constant_matches_the_scripts() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(dbmod.alembic_config())
    assert script.get_current_head() == dbmod.HEAD


def test_models_and_migrations_do_not_drift(db_url: str) -> None:
    from alembic import command

    engine = dbmod.make_engine(db_url)
    dbmod.ensure_schema(engine)
    cfg = dbmod.alembic_config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.check(cfg)  # raises if autogenerate would produce operations
    engine.dispose()


def test_first_use_creates_then_is_a_no_op(db_url: str) -> None:
    engine = dbmod.make_engine(db_url)
    assert dbmod.current_revision(engine) is None
    assert dbmod.ensure_schema(engine) is True
    assert dbmod.current_revision(engine) == dbmod.HEAD
    assert dbmod.ensure_schema(engine) is False
    names = set(sa.inspect(engine).get_table_names())
    assert {"cases", "timeline", "units", "people", "workflow_versions", "alembic_version"} <= names
    engine.dispose()


def _migrate(url: str, q: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        engine = dbmod.make_engine(url)
        q.put(("ok", dbmod.ensure_schema(engine)))
        engine.dispose()
    except Exception as exc:  # report to the parent, which asserts
        q.put(("error", repr(exc)))


def test_processes_starting_at_once_migrate_exactly_once(db_url: str, tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_migrate, args=(db_url, q)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    results = [q.get(timeout=5) for _ in procs]
    assert all(kind == "ok" for kind, _ in results), results
    assert sum(1 for _, migrated in results if migrated) == 1
    engine = dbmod.make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
    engine.dispose()


def test_password_never_shown() -> None:
    assert "s3cret" not in dbmod.safe_url("postgresql+psycopg://u:s3cret@db.example/x")
