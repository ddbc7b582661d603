"""Database engines per dialect, and migrate-on-first-use.

SQLite is the embedded default (WAL, foreign keys, busy timeout, writers
serialised with ``BEGIN IMMEDIATE``); PostgreSQL is used when several
processes or machines share work. The schema is created or upgraded on
first use under a lock, so several processes starting at once are safe.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError, ProgrammingError

from casecraft.base.errors import DatabaseError

ENV_DB = "CASECRAFT_DB"
DEFAULT_URL = "sqlite:///casecraft.db"
HEAD = "0003"  # the newest migration; a test checks it against migrations/versions
_LOCK_KEY = 0x6361736563  # pg_advisory_xact_lock key for migrations ("casec")


def default_url() -> str:
    return os.environ.get(ENV_DB) or DEFAULT_URL


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL: show nothing of it
        return "<database url>"


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Create an Engine with this project's settings for the URL's dialect.

    Raises:
        DatabaseError: the URL cannot be used.
    """
    url = url or default_url()
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: e.g. a port that is not a number
        raise DatabaseError(f"cannot parse database URL {safe_url(url)!r}: use e.g. sqlite:///casecraft.db "
                            "or postgresql+psycopg://user@host/db") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(url, **kwargs)
        if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, json_serializer=_dumps, pool_pre_ping=True, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:
        raise DatabaseError(f"no driver for {safe_url(url)!r}: {exc}") from None


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    sync = os.environ.get("CASECRAFT_SQLITE_SYNC", "FULL").upper()
    if sync not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise DatabaseError("CASECRAFT_SQLITE_SYNC must be NORMAL or FULL")
    path = make_url(url).database
    if path and path != ":memory:":
        parent = Path(path).expanduser().parent
        if not parent.is_dir():
            raise DatabaseError(f"cannot create the database {path!r}: folder {str(parent)!r} does not exist")
    engine = create_engine(url, json_serializer=_dumps, connect_args={"timeout": 30}, **kwargs)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # let SQLAlchemy, not pysqlite, issue BEGIN (the pysqlite recipe)
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={sync}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def migrations_path() -> Path:
    """Where the Alembic scripts are: inside the installed package, else the checkout."""
    shipped = resources.files("casecraft") / "migrations"
    if shipped.is_dir():
        return Path(str(shipped))
    return Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(engine: Engine | None = None, url: str | None = None) -> Any:
    import sys

    from alembic.config import Config

    # alembic's default stdout is bound when it is first imported: pass the current one,
    # or a stream that was replaced then (a test runner's) stays in use after it closed
    cfg = Config(stdout=sys.stdout)
    cfg.set_main_option("script_location", str(migrations_path()))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def current_revision(engine: Engine) -> str | None:
    with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except (OperationalError, ProgrammingError) as exc:
            if "not a database" in str(exc.orig):
                raise
            return None


def ensure_schema(engine: Engine) -> bool:
    """Create or upgrade the schema if needed. Returns True if it migrated.

    Raises:
        DatabaseError: the database cannot be reached or migrated.
    """
    try:
        if current_revision(engine) == HEAD:
            return False
        from alembic import command

        with engine.connect() as conn:
            # one migrator at a time: BEGIN IMMEDIATE on SQLite (our begin hook),
            # a transaction-scoped advisory lock on PostgreSQL
            with conn.begin():
                if engine.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
                try:
                    with conn.begin_nested():  # a savepoint: on PostgreSQL a failed query aborts the transaction
                        rev = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                except (OperationalError, ProgrammingError):
                    rev = None
                if rev == HEAD:
                    return False
                cfg = alembic_config()
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        return True
    except DBAPIError as exc:
        raise DatabaseError(f"cannot open the database {safe_url(str(engine.url))}: {exc.orig}") from None
