"""Shared fixtures: one parametrised backend fixture runs the same suite on SQLite and PostgreSQL.

PostgreSQL tests use CASECRAFT_TEST_PG (default: the local server). They fail,
never skip, when the server is unreachable — unless CASECRAFT_SKIP_PG=1 is set
explicitly by a developer without a server.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest

# pytest imports this file as the module `conftest`; test modules import it as `tests.conftest`.
# One module under both names, so that its registries (the fresh databases, the templates) are one.
if __name__ == "conftest":
    sys.modules.setdefault("tests.conftest", sys.modules[__name__])

os.environ.setdefault("CASECRAFT_SQLITE_SYNC", "NORMAL")


def _build_cli_once() -> None:
    """Let typer's CliRunner build the click commands of a Typer app once, not on every ``invoke``.

    ``CliRunner.invoke(app, ...)`` calls ``typer.main.get_command(app)``, which walks every command
    of every group and evaluates their annotations: three quarters of an in-process CLI call. A click
    command is built to be invoked any number of times (the installed ``casecraft`` builds it once
    per process too), so each app's is kept, and built again if commands were added to the app since.
    """
    import typer.testing

    build = typer.testing._get_command
    built: dict[int, tuple[Any, tuple[int, ...], Any]] = {}

    def shape(app: Any) -> tuple[int, ...]:
        groups = [g.typer_instance for g in app.registered_groups if g.typer_instance is not None]
        return (len(app.registered_commands), len(app.registered_groups), *(n for g in groups for n in shape(g)))

    def get_command(app: Any) -> Any:
        hit = built.get(id(app))
        now = shape(app)
        if hit is None or hit[0] is not app or hit[1] != now:
            hit = (app, now, build(app))  # the app held, so its id is never another's
            built[id(app)] = hit
        return hit[2]

    typer.testing._get_command = get_command


_build_cli_once()

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "workflows.yaml"
SERVER_PG_URL = os.environ.get("CASECRAFT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# Under pytest-xdist each worker has a database of its own on that server (made at the start of its
# session, dropped at the end), so that nothing database-wide (advisory locks, the migration lock)
# is shared between tests running at the same time; each test still has a schema of its own in it.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
PG_URL = SERVER_PG_URL
_WORKER_DB_ERROR: list[str] = []
if _WORKER:
    from sqlalchemy.engine import make_url as _make_url

    _server = _make_url(SERVER_PG_URL)
    PG_URL = _server.set(database=f"{_server.database}_{_WORKER}_{uuid.uuid4().hex[:8]}").render_as_string(
        hide_password=False)
TZ = ZoneInfo("Asia/Shanghai")


def bj(day: int, hhmm: str, month: int = 11, year: int = 2026) -> datetime:
    """A Beijing time on a day of November 2026 (by default)."""
    h, m = hhmm.split(":")
    return datetime(year, month, day, int(h), int(m), tzinfo=TZ)


def _admin() -> Any:
    import sqlalchemy as sa

    return sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


def _pg_schema_url() -> Iterator[str]:
    """A new, empty schema of its own (dropped afterwards) in the database of CASECRAFT_TEST_PG."""
    if os.environ.get("CASECRAFT_SKIP_PG") == "1":
        pytest.skip("CASECRAFT_SKIP_PG=1: PostgreSQL tests skipped on request")
    import sqlalchemy as sa

    admin = _admin()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        reason = _WORKER_DB_ERROR[0] if _WORKER_DB_ERROR else exc.orig
        pytest.fail(f"PostgreSQL at {SERVER_PG_URL} is unreachable: {reason}. Start it with "
                    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`")
    url = _schema_url(schema)
    _FRESH_PG[url] = schema
    try:
        yield url
    finally:
        _FRESH_PG.pop(url, None)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# Template databases ---------------------------------------------------------------------------
# A new sandbox costs a second or two (the migrations, the workflow published, the organisation
# loaded, twenty-odd years of calendar seeded); a copy of one made earlier in the session costs a
# few milliseconds on SQLite (a file copy) and a fraction of a second on PostgreSQL (the template
# schema's DDL, as pg_dump writes it, replayed into the test's schema, then its rows copied).
# A template is made by the very same `Engine(url, workflow, clock).init(sandbox=True)` on the
# first use of each (backend, workflow file and content, organisation content, clock time): a
# copy holds what that call would have written. tests/test_templates.py compares the two, row by row.

_FRESH_PG: dict[str, str] = {}  # URL → schema of each schema made by _pg_schema_url, until filled


@dataclass
class _Template:
    where: str  # the SQLite file, or the PostgreSQL schema
    ddl: str = ""  # PostgreSQL: the schema's DDL, its name written as SCHEMA_MARK
    tables: tuple[str, ...] = ()  # PostgreSQL: the tables, parents first
    sequences: tuple[str, ...] = ()


_TEMPLATES: dict[tuple[Any, ...], _Template | None] = {}  # None: this template cannot be copied here
_TEMPLATE_DIR: list[Path] = []
COPIED: list[str] = []  # the URLs filled from a template (tests/test_templates.py checks it was one)
SCHEMA_MARK = "@@schema@@"


def _template_key(backend: str, workflow: Any, clock: Any) -> tuple[Any, ...] | None:
    """What a new sandbox's rows depend on: the backend, the workflow and organisation, the clock.

    The system clock (no clock given) is keyed by the day: its sandboxes are stamped with the moment
    their template was made, earlier that day, as if ``init`` had run then. None: another kind of clock.
    """
    import hashlib
    from datetime import UTC

    from casecraft import FixedClock
    from casecraft.base.clock import SystemClock
    from casecraft.workflows.loader import load_workflow
    from casecraft.workflows.spec import Workflow

    if isinstance(clock, FixedClock):
        moment = clock.now().isoformat()
    elif clock is None or isinstance(clock, SystemClock):
        moment = f"system {datetime.now(UTC).date()}"
    else:
        return None
    wf = workflow if isinstance(workflow, Workflow) else load_workflow(workflow)
    org = hashlib.sha256(wf.org_path.read_bytes()).hexdigest() if wf.org_path is not None else None
    return backend, wf.path.name if wf.path else None, wf.content_hash, org, moment


def _template_dir() -> Path:
    if not _TEMPLATE_DIR:
        import tempfile

        _TEMPLATE_DIR.append(Path(tempfile.mkdtemp(prefix="casecraft-templates-")))
    return _TEMPLATE_DIR[0]


def _new_template_schema() -> str:
    import sqlalchemy as sa

    schema = f"cctpl_{uuid.uuid4().hex[:12]}"
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    _TEMPLATES[("postgresql schema", schema)] = None  # dropped at the end of the session
    return schema


def _make_template(backend: str, workflow: Any, clock: Any) -> _Template | None:
    from casecraft import Engine, FixedClock

    fixed = FixedClock(clock.now()) if isinstance(clock, FixedClock) else None
    if backend == "sqlite":
        where = _template_dir() / f"template{len(_TEMPLATES)}.db"
        with Engine(f"sqlite:///{where}", workflow, fixed) as eng:
            eng.init(sandbox=True)
        import sqlite3

        conn = sqlite3.connect(where)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the main file: a copy needs no -wal
        conn.close()
        return _Template(str(where))
    schema = _new_template_schema()
    with Engine(_schema_url(schema), workflow, fixed) as eng:
        eng.init(sandbox=True)
    return _describe(schema)


def _describe(schema: str) -> _Template | None:
    """A PostgreSQL schema as a template: its DDL (from pg_dump), tables and sequences; None without pg_dump."""
    import shutil
    import subprocess

    import sqlalchemy as sa

    from casecraft.store.models import metadata

    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        return None
    dsn = sa.engine.make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    done = subprocess.run([pg_dump, "--schema-only", "--no-owner", "--no-privileges", "--schema", schema, dsn],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or f"CREATE SCHEMA {schema};" not in done.stdout:
        return None  # e.g. a pg_dump older than the server
    lines = [line for line in done.stdout.splitlines()
             if not line.startswith("\\") and line != f"CREATE SCHEMA {schema};"]  # psql commands; it exists
    template = _Template(schema, "\n".join(lines).replace(f"{schema}.", f"{SCHEMA_MARK}."))
    admin = _admin()
    with admin.connect() as conn:
        present = set(conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :s"),
                                   {"s": schema}).scalars())
        template.sequences = tuple(conn.execute(sa.text(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = :s"), {"s": schema}).scalars())
    admin.dispose()
    ordered = [t.name for t in metadata.sorted_tables if t.name in present]
    template.tables = (*ordered, *sorted(present - set(ordered)))
    return template


def _copy_template(template: _Template, schema: str) -> None:
    """Fill the empty ``schema`` with the template's tables, rows and sequence positions, in one transaction."""
    admin = _admin()
    with admin.begin() as conn:
        conn.exec_driver_sql(template.ddl.replace(f"{SCHEMA_MARK}.", f'"{schema}".'))
        for table in template.tables:  # parents before children: every foreign key holds as rows arrive
            conn.exec_driver_sql(f'INSERT INTO "{schema}"."{table}" SELECT * FROM "{template.where}"."{table}"')
        for seq in template.sequences:
            conn.exec_driver_sql(f"SELECT setval('\"{schema}\".\"{seq}\"', last_value, is_called) "
                                 f'FROM "{template.where}"."{seq}"')
    admin.dispose()


def _drop_templates() -> None:
    import shutil

    import sqlalchemy as sa

    schemas = [k[1] for k in _TEMPLATES if k[0] == "postgresql schema"]
    _SNAPSHOTS.clear()
    if schemas:
        admin = _admin()
        with admin.connect() as conn:
            for schema in schemas:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    _TEMPLATES.clear()
    for where in _TEMPLATE_DIR:
        shutil.rmtree(where, ignore_errors=True)
    _TEMPLATE_DIR.clear()


# The files that take longest, longest first (by their worker-seconds in the suite's runs of 2026-12-01 on a
# 2-core machine: 30–75 s each):
# pytest-xdist hands each worker a whole file at a time in collection order (`--dist loadfile`,
# `--no-loadscope-reorder`), so starting with these lets the workers finish together instead of one waiting
# out a long file alone at the end. A file missing here only starts later; the list decides no result.
LONG_FILES = ("test_web_flows.py", "test_readme.py", "test_permissions.py", "test_crash.py", "test_hostile.py",
              "test_sweep_concurrency.py", "test_backup.py", "test_calendar_store.py", "test_trust_identity.py",
              "test_server_live.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long files first (see LONG_FILES); every other test in its usual order."""
    rank = {name: i for i, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FILES)))  # stable: in-file order kept


@pytest.fixture(scope="session", autouse=True)
def _session_databases() -> Iterator[None]:
    """This worker's own database (under pytest-xdist) first; the session's templates removed at its end."""
    import sqlalchemy as sa

    name = sa.engine.make_url(PG_URL).database if PG_URL != SERVER_PG_URL else None
    server = None
    if name and os.environ.get("CASECRAFT_SKIP_PG") != "1":
        server = sa.create_engine(SERVER_PG_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        try:
            with server.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        except sa.exc.OperationalError as exc:  # the PostgreSQL tests fail, saying why
            _WORKER_DB_ERROR.append(str(exc.orig))
            server = None
    yield
    _drop_templates()
    if server is not None:
        with server.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def _pg_empty(schema: str) -> bool:
    """Whether the schema holds nothing yet (nothing a test wrote would be lost or mixed)."""
    import sqlalchemy as sa

    admin = _admin()
    with admin.connect() as conn:
        found = conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON "
                                     "n.oid = c.relnamespace WHERE n.nspname = :s)"), {"s": schema}).scalar_one()
    admin.dispose()
    return not found


def sandbox_db(url: str, clock: Any, workflow: Any = WORKFLOW) -> str:
    """Make the new, empty database at ``url`` what ``Engine(url, workflow, clock).init(sandbox=True)`` makes.

    From a template when it can (``url`` is a new database of this suite's fixtures: an SQLite file
    not created yet, or an untouched schema of :func:`_pg_schema_url`; the clock is a FixedClock or
    the system's), else by that very call. Returns ``url``.
    """
    from casecraft import Engine

    backend = "sqlite" if url.startswith("sqlite:///") else "postgresql"
    key = _template_key(backend, workflow, clock) if _is_fresh(url) else None
    if key is not None and key not in _TEMPLATES:
        _TEMPLATES[key] = _make_template(backend, workflow, clock)
    template = _TEMPLATES.get(key) if key is not None else None
    if template is None:
        with Engine(url, workflow, clock) as eng:
            eng.init(sandbox=True)
    else:
        _fill_from(template, url)
        COPIED.append(url)
    return url


T = TypeVar("T")
_SNAPSHOTS: dict[tuple[Any, ...], tuple[_Template, Any]] = {}


def snapshot(url: str, key: tuple[Any, ...], build: Callable[[], T]) -> T:
    """``build()`` fills the new database at ``url`` and returns plain data; once per session and backend.

    The database it leaves is kept as a template: a later call with the same ``key`` on another new
    database gets a copy of it (the rows ``build`` wrote, byte for byte, but the wall-clock
    ``recorded_at`` of the chains) and ``build``'s result, without running it. For set-ups that take
    seconds and that every test of a module repeats identically (the worked example played, ...).
    """
    import sqlite3

    backend = "sqlite" if url.startswith("sqlite:///") else "postgresql"
    fresh = _is_fresh(url)
    pg_schema = _FRESH_PG.get(url)  # build() fills it (and forgets it was new)
    full_key = (backend, *key)
    if fresh and full_key in _SNAPSHOTS:
        template, result = _SNAPSHOTS[full_key]
        _fill_from(template, url)
        COPIED.append(url)
        return result  # type: ignore[no-any-return]
    result = build()
    if not fresh:
        return result
    if backend == "sqlite":
        where = _template_dir() / f"snapshot{len(_SNAPSHOTS)}.db"
        source, target = sqlite3.connect(url[len("sqlite:///"):]), sqlite3.connect(where)
        source.backup(target)  # a consistent copy, whatever the engines still hold open
        source.close()
        target.close()
        _SNAPSHOTS[full_key] = (_Template(str(where)), result)
    else:
        described = _describe(pg_schema) if pg_schema is not None else None
        if described is not None:
            schema = _new_template_schema()
            _copy_template(described, schema)
            _SNAPSHOTS[full_key] = (_Template(schema, described.ddl, described.tables, described.sequences), result)
        _FRESH_PG.pop(url, None)
    return result


def _is_fresh(url: str) -> bool:
    """Whether ``url`` is a new database of this suite's fixtures, still empty."""
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        return path.parent.is_dir() and not any(Path(f"{path}{s}").exists() for s in ("", "-wal", "-shm"))
    return url in _FRESH_PG and _pg_empty(_FRESH_PG[url])


def _fill_from(template: _Template, url: str) -> None:
    if url.startswith("sqlite:///"):
        import shutil

        path = Path(url[len("sqlite:///"):])
        shutil.copyfile(template.where, path)
        os.chmod(path, 0o600)
    else:
        _copy_template(template, _FRESH_PG.pop(url))


def migrated(url: str, clock: Any = None, workflow: Any = WORKFLOW, **kwargs: Any) -> Any:
    """``Engine(url, workflow, clock, **kwargs)`` on a new database: migrated, empty (no ``init``), from a template."""
    from casecraft import Engine

    def migrate() -> None:
        Engine(url).close()  # the schema, created on first use

    snapshot(url, ("migrated",), migrate)
    return Engine(url, workflow, clock, **kwargs)


def sandbox(url: str, clock: Any = None, workflow: Any = WORKFLOW, **kwargs: Any) -> Any:
    """``Engine(url, workflow, clock, **kwargs)`` after ``init(sandbox=True)``, from a template when it can.

    ``init`` still runs on the copy: it finds the database ready and changes nothing.
    """
    from casecraft import Engine

    sandbox_db(url, clock, workflow)
    eng = Engine(url, workflow, clock, **kwargs)
    eng.init(sandbox=True)
    return eng


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'casecraft.db'}"
    else:
        yield from _pg_schema_url()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'casecraft.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _pg_schema_url()


@pytest.fixture
def engine(db_url: str, clock: Any) -> Iterator[Any]:
    """An initialised engine on ``db_url`` with the test module's ``clock`` fixture (a FixedClock)."""
    eng = sandbox(db_url, clock)
    yield eng
    eng.close()


@pytest.fixture
def sandbox_url(tmp_path: Path) -> str:
    """A new SQLite sandbox database (``casecraft init --sandbox``): no logins, any clock."""
    return sandbox_db(f"sqlite:///{tmp_path / 'casecraft.db'}", None)
