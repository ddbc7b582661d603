"""Database engines per dialect, and migrate-on-first-use.

SQLite is the embedded default (WAL, foreign keys, busy timeout, writers
serialised with ``BEGIN IMMEDIATE``); PostgreSQL is used when several
processes or machines share work. The schema is created or upgraded on
first use under a lock, so several processes starting at once are safe.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from importlib import resources
from pathlib import Path
from typing import Any

from orjson import OPT_PASSTHROUGH_DATETIME
from orjson import dumps as _orjson_dumps
from orjson import loads as _orjson_loads
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
)

from casecraft.base.errors import CasecraftError, DatabaseError, InputError, UnavailableError
from casecraft.base.fastjson import plain

ENV_DB = "CASECRAFT_DB"
DEFAULT_URL = "sqlite:///casecraft.db"
HEAD = "0006"  # the newest migration; a test checks it against migrations/versions
# schema revisions a backup taken at restores here: 0005 added indexes only; 0006 added the case row's stage
# columns (a backup without them restores with them empty, and its running step limits are moved onto the cases
# as the migration moves them: casecraft.store.dump.adopt_running_stages)
SAME_ROWS = ("0004", "0005", "0006")
_LOCK_KEY = 0x6361736563  # pg_advisory_xact_lock key for migrations ("casec")


def default_url() -> str:
    return os.environ.get(ENV_DB) or DEFAULT_URL


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL: show nothing of it
        return "<database url>"


# made once: json.dumps with options builds a new encoder on every call (several JSON values a step)
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _dumps(obj: Any) -> str:
    """A JSON column's text: ``json.dumps(obj, ensure_ascii=False, separators=(",", ":"))``, written by orjson
    (several times faster, the same text) when it is :func:`casecraft.base.fastjson.plain`; anything else, and
    what orjson refuses (an integer past 64 bits, a key other than text), by the standard encoder, which refuses a
    time or an object as ``json.dumps`` does."""
    if not obj:  # most steps name no targets and attach nothing: no encoder run for an empty list
        kind = type(obj)
        if kind is list:
            return "[]"
        if kind is dict:
            return "{}"
    if plain(obj):  # no float (orjson writes NaN as null), nothing orjson would write otherwise
        try:
            return _orjson_dumps(obj, default=_not_json, option=_ORJSON_STRICT).decode()
        except TypeError:
            pass
    return _JSON.encode(obj)


# an integer orjson would read as a float (past 64 bits) has 19 digits or more
_LONG_DIGITS, _LONG_DIGITS_BYTES = re.compile(r"[0-9]{19}"), re.compile(rb"[0-9]{19}")


def _loads(text: str | bytes | memoryview) -> Any:
    """A JSON column's value: ``json.loads(text)``, read by orjson (several times faster) unless the text holds
    what orjson reads otherwise (19 digits in a row: an integer it would make a float) or refuses (NaN,
    Infinity, a lone surrogate)."""
    if isinstance(text, str):
        plain = _LONG_DIGITS.search(text) is None
    else:
        text = bytes(text)
        plain = _LONG_DIGITS_BYTES.search(text) is None
    if plain:
        try:
            return _orjson_loads(text)
        except ValueError:  # orjson.JSONDecodeError
            pass
    return json.loads(text)


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_ORJSON_STRICT = OPT_PASSTHROUGH_DATETIME  # a time goes to _not_json: refused, as json.dumps refuses it


def lock_timeout() -> int:
    """Seconds a writer waits for a lock before giving up (``CASECRAFT_LOCK_TIMEOUT``, default 30)."""
    raw = os.environ.get("CASECRAFT_LOCK_TIMEOUT", "30")
    try:
        value = int(raw)
    except ValueError:
        raise DatabaseError("CASECRAFT_LOCK_TIMEOUT must be a whole number of seconds, not {value!r}",
                            value=raw) from None
    if not 1 <= value <= 3600:
        raise DatabaseError("CASECRAFT_LOCK_TIMEOUT must be between 1 and 3600 seconds")
    return value


_SQLITE_BEGIN: ContextVar[str] = ContextVar("casecraft_sqlite_begin", default="BEGIN IMMEDIATE")
# PostgreSQL: whether a transaction begun now sends its BEGIN with its first statement (see begin_with_first)
_PG_BEGIN_WITH_FIRST: ContextVar[bool] = ContextVar("casecraft_pg_begin_with_first", default=False)
BEGIN_OWED = "casecraft.begin_owed"
"""The pool's per-connection ``info`` key naming the driver connection whose BEGIN its first statement sends."""


@contextmanager
def begin_with_first() -> Iterator[None]:
    """PostgreSQL transactions begun inside send their ``BEGIN`` with their first statement, in one round trip.

    psycopg begins a transaction by itself, in a round trip of its own, before the first statement.
    Inside this block the pooled connection's driver is put in autocommit mode for the transaction
    (psycopg then sends nothing of its own) and marked under :data:`BEGIN_OWED`; the transaction's
    first statement must then go through :func:`casecraft.store.direct.run_first`, which sends
    ``BEGIN`` and itself together. Its commit or rollback puts the driver back (and a connection
    lent out in autocommit mode is fixed or replaced by the pool). Only for a unit of work whose
    first statement is known (a step reads its case first); other dialects ignore it.
    """
    token = _PG_BEGIN_WITH_FIRST.set(True)
    try:
        yield
    finally:
        _PG_BEGIN_WITH_FIRST.reset(token)


@contextmanager
def sqlite_deferred() -> Iterator[None]:
    """Transactions begun inside begin DEFERRED on SQLite (a reader: no write lock until it writes)."""
    token = _SQLITE_BEGIN.set("BEGIN DEFERRED")
    try:
        yield
    finally:
        _SQLITE_BEGIN.reset(token)


# PostgreSQL's "numeric value out of range", "datetime field overflow", "interval field overflow"
_OUT_OF_RANGE = frozenset({"22003", "22008", "22015"})


@contextmanager
def translate_db_error(engine: Engine) -> Iterator[None]:
    """Turn the driver's faults into casecraft errors: a clear message, never a traceback, no password.

    A held lock or a lost connection is :class:`UnavailableError` (exit 3: try again later);
    a read-only or damaged database is :class:`DatabaseError`.
    """
    try:
        yield
    except CasecraftError:
        raise
    except OperationalError as exc:
        text_ = str(exc.orig).lower()
        where = safe_url(str(engine.url))
        if "locked" in text_ or "busy" in text_ or "lock timeout" in text_ or "lock_timeout" in text_ \
                or "canceling statement due to lock" in text_:
            raise UnavailableError("the database is busy: another process held a lock for longer than {seconds} s; "
                                   "nothing was changed, try again later", seconds=lock_timeout()) from None
        if "deadlock detected" in text_:
            raise UnavailableError("two writers waited for each other and the database stopped this one; nothing "
                                   "was changed, try again") from None
        if "readonly" in text_ or "read-only" in text_ or "read only" in text_:
            raise DatabaseError("the database {db} is read-only here; this command needs to write to it",
                                db=where) from None
        if "malformed" in text_ or "not a database" in text_:
            raise DatabaseError("the database {db} is damaged or not a casecraft database; restore it from a backup",
                                db=where) from None
        raise UnavailableError("lost the connection to the database {db}; nothing was changed, try again later",
                               db=where) from None
    except (OverflowError, DataError) as exc:
        # a number or time beyond what the database stores (SQLite's 64-bit integers, PostgreSQL's ranges):
        # the request's value, not a fault of the database
        if isinstance(exc, DataError) and getattr(exc.orig, "sqlstate", None) not in _OUT_OF_RANGE:
            raise DatabaseError("the database reported an error ({reason}); nothing was changed",
                                reason=type(exc.orig).__name__) from None
        raise InputError("a number or time given is out of the range the database can store; nothing was "
                         "changed") from None
    except UnicodeEncodeError:
        raise InputError("the text contains characters that cannot be stored (unpaired surrogates); nothing was "
                         "changed") from None
    except IntegrityError as exc:
        first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
        raise DatabaseError("the database refused the change ({reason}); nothing was changed",
                            reason=first[:200]) from None
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise UnavailableError("lost the connection to the database {db}; nothing was changed, try again "
                                   "later", db=safe_url(str(engine.url))) from None
        raise DatabaseError("the database reported an error ({reason}); nothing was changed",
                            reason=type(exc.orig).__name__) from None


def make_engine(url: str | None = None, *, read_only: bool = False, **kwargs: Any) -> Engine:
    """Create an Engine with this project's settings for the URL's dialect.

    Args:
        read_only: open for reading only: an SQLite file must exist and is opened read-only
            (immutable when its folder cannot be written, as with an evidence copy); a
            PostgreSQL session is made read-only.

    Raises:
        DatabaseError: the URL cannot be used.
    """
    url = url or default_url()
    if "://" not in url and ":" not in url and "@" not in url and url.strip():
        # a file path given where a URL belongs (e.g. --db casecraft-demo.db): say which URL it means
        raise DatabaseError("{path!r} is a file path, not a database URL: use sqlite:///{path} for that file, "
                            "or postgresql+psycopg://user@host/db", path=url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: e.g. a port that is not a number
        raise DatabaseError("cannot parse database URL {url!r}: use e.g. sqlite:///casecraft.db "
                            "or postgresql+psycopg://user@host/db", url=safe_url(url)) from None
    try:
        if parsed.get_backend_name() == "sqlite":
            return _with_partial_indexes(_sqlite_engine(url, read_only=read_only, **kwargs))
        if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = create_engine(parsed, json_serializer=_dumps, json_deserializer=_loads, **kwargs)
        timeout_ms = lock_timeout() * 1000

        @event.listens_for(engine, "connect")
        def _pg_connect(dbapi_conn: Any, record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f"SET lock_timeout = {timeout_ms}")
            if read_only:
                cur.execute("SET default_transaction_read_only = on")
            cur.close()
            dbapi_conn.commit()
            record.info[_LAST_USED] = time.monotonic()

        _ping_when_idle(engine)
        _begin_with_first_statement(engine)
        return _with_partial_indexes(engine)
    except (NoSuchModuleError, ImportError) as exc:
        raise DatabaseError("no driver for {url!r}: {reason}", url=safe_url(url), reason=str(exc)) from None


# A pooled PostgreSQL connection is pinged (one round trip) before it is lent out only when it has lain idle
# this long: one given back a moment ago answered then, and a server that went away since fails the statement
# as any loss mid-transaction does (nothing written; the pool then replaces every connection it holds). The
# bypass window of HikariCP (aliveBypassWindowMs, 500 ms); SQLAlchemy's pool_pre_ping would ping before every
# step, a tenth of a step's time on loopback (bench/RESULTS.md).
PING_WHEN_IDLE = 0.5  # seconds
_LAST_USED = "casecraft_last_used"


def _ping_when_idle(engine: Engine) -> None:
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_conn: Any, record: Any) -> None:
        if dbapi_conn is not None:
            record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if dbapi_conn.autocommit:  # left so by a transaction whose end failed (begin_with_first): never lent so
            try:
                dbapi_conn.autocommit = False
            except dialect.loaded_dbapi.Error:
                raise DisconnectionError("a pooled connection was left in autocommit mode") from None
        used = record.info.get(_LAST_USED)
        if used is not None and time.monotonic() - used < PING_WHEN_IDLE:
            return
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error:
            # the pool discards it and lends a new connection: the text is never shown
            raise DisconnectionError("the pooled connection did not answer a ping") from None


def _begin_with_first_statement(engine: Engine) -> None:
    """The dialect's begin, commit and rollback for :func:`begin_with_first` (the dialect's own, not events:
    a connection event makes SQLAlchemy dispatch events around every statement)."""
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback
    idle = 0  # psycopg.pq.TransactionStatus.IDLE

    def _begin(fairy: Any) -> None:
        if not _PG_BEGIN_WITH_FIRST.get():
            return  # psycopg begins by itself at the first statement
        driver = fairy.driver_connection
        if (driver.autocommit or driver.isolation_level is not None or driver.read_only is not None
                or driver.deferrable is not None or driver.pgconn.transaction_status != idle):
            return  # a transaction with settings of its own: psycopg's BEGIN carries them
        driver.autocommit = True  # no BEGIN of psycopg's own: the first statement sends it (direct.run_first)
        fairy.info[BEGIN_OWED] = driver

    def _ended(fairy: Any) -> None:
        try:
            driver = fairy.info.pop(BEGIN_OWED, None)
        except NotImplementedError:  # SQLAlchemy's first-connect probe lends a connection without pool info
            return
        if driver is not None and driver is fairy.driver_connection and driver.autocommit:
            try:
                driver.autocommit = False
            except dialect.loaded_dbapi.Error:
                pass  # still inside a transaction or lost: the pool's checkout listener fixes or replaces it

    def _commit(fairy: Any) -> None:
        try:
            commit(fairy)
        finally:
            _ended(fairy)

    def _rollback(fairy: Any) -> None:
        try:
            rollback(fairy)
        finally:
            _ended(fairy)

    dialect.do_begin = _begin  # type: ignore[method-assign,assignment]
    dialect.do_commit = _commit  # type: ignore[method-assign,assignment]
    dialect.do_rollback = _rollback  # type: ignore[method-assign,assignment]


def _with_partial_indexes(engine: Engine) -> Engine:
    from casecraft.store.models import partial_indexes

    partial_indexes(engine.dialect.name)  # the schema as this dialect creates and compares it
    return engine


def _sqlite_engine(url: str, *, read_only: bool = False, **kwargs: Any) -> Engine:
    sync = os.environ.get("CASECRAFT_SQLITE_SYNC", "FULL").upper()
    if sync not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise DatabaseError("CASECRAFT_SQLITE_SYNC must be NORMAL or FULL")
    seconds = lock_timeout()
    path = make_url(url).database
    memory = not path or path == ":memory:"
    if not memory:
        assert path is not None
        file = Path(path).expanduser()
        parent = file.parent
        if read_only:
            if not file.is_file():
                raise DatabaseError("no database at {path}: check the database URL (a read-only opening never creates "
                                    "one)",
                                    path=str(file))
            # an evidence copy in a folder nobody may write: read it as immutable (no -shm, no locks)
            immutable = "&immutable=1" if not os.access(parent, os.W_OK) else ""
            from urllib.parse import quote

            url = f"sqlite:///file:{quote(str(file.resolve()))}?mode=ro{immutable}&uri=true"
        elif not parent.is_dir():
            raise DatabaseError("cannot create the database {path!r}: folder {folder!r} does not exist",
                                path=path, folder=str(parent))
        else:
            _private_database(file)
    engine = create_engine(url, json_serializer=_dumps, json_deserializer=_loads, connect_args={"timeout": seconds},
                           **kwargs)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # let SQLAlchemy, not pysqlite, issue BEGIN (the pysqlite recipe)
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not read_only:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sync}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={seconds * 1000}")
        cur.close()

    # BEGIN IMMEDIATE by default (a writer takes the write lock at once), DEFERRED inside sqlite_deferred();
    # the dialect's own begin, not a "begin" event: any connection event makes SQLAlchemy dispatch events
    # around every statement and commit (measured: about 40 µs a step)
    def _begin(fairy: Any) -> None:
        fairy.driver_connection.execute(_SQLITE_BEGIN.get())

    engine.dialect.do_begin = _begin  # type: ignore[method-assign,assignment]
    return engine


class SqliteWriter:
    """The one connection this process writes an SQLite database through, lent to one write transaction at a
    time.

    SQLite lets one writer at a time have the database (``BEGIN IMMEDIATE`` takes the write lock), so
    the writers of one process lose nothing by queueing here for one connection, kept checked out of the
    pool: a write transaction skips the pool's check-out and check-in (their bookkeeping, the reset's
    rollback). A thread waits at most the lock timeout, as it waits for another process's lock, and
    is told the database is busy. A write begun inside another on the same thread, or in a forked
    child, takes a pooled connection as before.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._conn: Connection | None = None
        self._pid = os.getpid()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A write transaction on the writer connection: committed on success, rolled back on any error."""
        if self._owner == threading.get_ident() or self._pid != os.getpid():
            with self.engine.begin() as conn:  # nested in this thread's own write, or in a forked child
                yield conn
            return
        if not self._lock.acquire(timeout=lock_timeout()):
            raise UnavailableError("the database is busy: another write of this process held it for longer than "
                                   "{seconds} s; nothing was changed, try again later", seconds=lock_timeout())
        try:
            self._owner = threading.get_ident()
            held = self._conn
            if held is None or held.closed or held.invalidated:
                self._conn = None
                if held is not None:
                    held.close()
                held = self._conn = self.engine.connect()
            with held.begin():
                yield held
        finally:
            self._owner = None
            self._lock.release()

    def close(self) -> None:
        """Give the connection back to the pool (before the engine is disposed); a write still running past
        the lock timeout keeps it (the engine's disposal then leaves it to that write)."""
        if self._owner == threading.get_ident() or not self._lock.acquire(timeout=lock_timeout()):
            return
        try:
            conn, self._conn = self._conn, None
            if conn is not None and self._pid == os.getpid():
                conn.close()
        finally:
            self._lock.release()


def _private_database(file: Path) -> None:
    """Create the SQLite file (and its WAL companions) readable by its owner only, whatever the umask."""
    for suffix in ("", "-wal", "-shm"):
        f = Path(str(file) + suffix)
        try:
            if suffix == "" and not f.exists():
                os.close(os.open(f, os.O_CREAT | os.O_WRONLY, 0o600))
            if f.exists() and f.stat().st_mode & 0o077:
                os.chmod(f, 0o600)
        except OSError:
            pass  # not ours to change (e.g. a shared file): SQLite reports a real problem itself


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
    with engine.connect() as conn:
        try:
            with sqlite_deferred():
                # the driver's SQL as it is: no statement to compile on every start-up
                return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        except (OperationalError, ProgrammingError) as exc:
            if "not a database" in str(exc.orig):
                raise
            return None


@contextmanager
def migrating(conn: Connection) -> Iterator[None]:
    """Around a migration's transaction (begun inside): on SQLite foreign keys go unchecked meanwhile, as
    Alembic's batch mode needs (it copies a table and drops the old one, which its dependants' keys would
    refuse; the pragma has no effect inside a transaction). Check them before the commit with
    :func:`check_foreign_keys`."""
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.driver_connection
    raw.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def check_foreign_keys(conn: Connection) -> None:
    """SQLite: refuse (roll back) a migration that left a row whose foreign key names no row."""
    if conn.dialect.name != "sqlite":
        return
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise DatabaseError("the migration left {count} row(s) whose reference names no row (first: {table}); "
                            "nothing was changed", count=len(broken), table=str(broken[0][0]))


def ensure_schema(engine: Engine) -> bool:
    """Create or upgrade the schema if needed. Returns True if it migrated.

    Raises:
        DatabaseError: the database cannot be reached or migrated.
    """
    try:
        if current_revision(engine) == HEAD:
            return False
        from alembic import command

        with engine.connect() as conn, migrating(conn):
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
                check_foreign_keys(conn)
        return True
    except DBAPIError as exc:
        raise DatabaseError("cannot open the database {url}: {reason}", url=safe_url(str(engine.url)),
                            reason=" ".join(str(exc.orig).split())) from None  # libpq's lines and tabs: one line
