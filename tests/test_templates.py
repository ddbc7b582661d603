"""The suite's template databases: a copy is exactly what ``init(sandbox=True)`` writes.

The ``engine`` fixture and :func:`tests.conftest.sandbox` copy a template database made once per
session (per backend, workflow, organisation and clock) instead of migrating and initialising each
database; these tests hold the copy to the real thing, row by row, on both backends.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from casecraft import Engine, FixedClock
from casecraft.audit import verify as audit
from casecraft.demo import run_demo
from casecraft.store.models import metadata
from tests.conftest import COPIED, WORKFLOW, _pg_schema_url, bj, sandbox, sandbox_db, snapshot

# when the system recorded an act (the wall clock, not the sandbox's), and the hashes over it
WALL_CLOCK = {"recorded_at", "hash", "prev_hash"}


def _rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (and the migration reached), in primary-key order, but the wall-clock times."""
    eng = sa.create_engine(url)
    out: dict[str, list[tuple[Any, ...]]] = {}
    with eng.connect() as conn:
        for table in metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            columns = [c for c in table.columns if c.name not in WALL_CLOCK]
            out[table.name] = [tuple(r) for r in conn.execute(sa.select(*columns).order_by(*order))]
        out["alembic_version"] = [tuple(r) for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))]
    eng.dispose()
    return out


@pytest.fixture
def two_fresh(db_url: str, tmp_path: Path) -> Any:
    """Two new, empty databases on the backend of ``db_url``."""
    if db_url.startswith("sqlite"):
        yield db_url, f"sqlite:///{tmp_path / 'other.db'}"
    else:
        other = _pg_schema_url()
        yield db_url, next(other)
        other.close()


def test_a_copy_of_the_template_is_what_init_writes(two_fresh: tuple[str, str]) -> None:
    made, copied = two_fresh
    at = bj(30, "16:00", month=12)  # the provisional year seeded too
    with Engine(made, WORKFLOW, FixedClock(at)) as eng:
        eng.init(sandbox=True)
    eng = sandbox(copied, FixedClock(at))
    assert copied in COPIED  # a copy indeed, not made by init
    assert eng.sandbox and eng.init(sandbox=True)["workflow_version"] == 1
    assert audit.verify(eng).ok  # the chains of the copy are whole
    eng.close()
    expected, got = _rows(made), _rows(copied)
    assert sum(len(v) for v in expected.values()) > 1000  # the calendar, the organisation, the version
    assert got == expected


def test_templates_follow_the_clock(tmp_path: Path) -> None:
    # a sandbox made at another moment is stamped with that moment, not with an earlier template's
    first = sandbox_db(f"sqlite:///{tmp_path / 'a.db'}", FixedClock(bj(24, "09:00")))
    later = sandbox_db(f"sqlite:///{tmp_path / 'b.db'}", FixedClock(bj(24, "09:00") + timedelta(hours=1)))
    assert first in COPIED and later in COPIED
    assert _rows(first)["ledger"] != _rows(later)["ledger"]
    with Engine(f"sqlite:///{tmp_path / 'c.db'}", WORKFLOW, FixedClock(bj(24, "09:00") + timedelta(hours=1))) as eng:
        eng.init(sandbox=True)
    assert _rows(later) == _rows(f"sqlite:///{tmp_path / 'c.db'}")


def test_a_snapshot_is_what_its_set_up_left(two_fresh: tuple[str, str]) -> None:
    # the first call runs the set-up; the second, on another new database, copies what it left
    first, second = two_fresh
    key = ("test_templates", uuid.uuid4().hex)  # built here, by this test

    def play() -> dict[str, int]:
        clock = FixedClock(bj(24, "08:30"))
        with sandbox(first, clock) as eng:
            return {k: v.id for k, v in run_demo(eng, clock).items()}

    def never() -> dict[str, int]:
        raise AssertionError("a snapshot is copied, its set-up not run again")

    ids = snapshot(first, key, play)
    assert snapshot(second, key, never) == ids == {"A": 2, "B": 1, "C": 3}
    assert second in COPIED
    assert _rows(second) == _rows(first)
    with Engine(second, WORKFLOW) as eng:
        assert audit.verify(eng).ok and {c.state for c in eng.list()} == {"closed"}
