"""Shared fixtures: one parametrised backend fixture runs the same suite on SQLite and PostgreSQL.

PostgreSQL tests use CASECRAFT_TEST_PG (default: the local server). They fail,
never skip, when the server is unreachable — unless CASECRAFT_SKIP_PG=1 is set
explicitly by a developer without a server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

os.environ.setdefault("CASECRAFT_SQLITE_SYNC", "NORMAL")

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "workflows.yaml"
PG_URL = os.environ.get("CASECRAFT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TZ = ZoneInfo("Asia/Shanghai")


def bj(day: int, hhmm: str, month: int = 11, year: int = 2026) -> datetime:
    """A Beijing time on a day of November 2026 (by default)."""
    h, m = hhmm.split(":")
    return datetime(year, month, day, int(h), int(m), tzinfo=TZ)


def _pg_schema_url() -> Iterator[str]:
    if os.environ.get("CASECRAFT_SKIP_PG") == "1":
        pytest.skip("CASECRAFT_SKIP_PG=1: PostgreSQL tests skipped on request")
    import sqlalchemy as sa

    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(f"PostgreSQL at {PG_URL} is unreachable: {exc.orig}. Start it with "
                    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`")
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


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
    from casecraft import Engine

    eng = Engine(db_url, WORKFLOW, clock)
    eng.init(sandbox=True)
    yield eng
    eng.close()
