"""PostgreSQL: the engine runs under an application role that can only add to the histories.

`casecraft db roles` (as the owner) creates the role; the worked example then
runs entirely under it, while changing or deleting a timeline entry, a ledger
entry or a stored file, or deleting a case, is refused by the database itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from casecraft import Engine, FixedClock
from casecraft.audit import verify as audit
from casecraft.cli.main import app
from casecraft.demo import run_demo
from tests.conftest import PG_URL, WORKFLOW, bj, sandbox

pytestmark = pytest.mark.postgres


@pytest.fixture
def owner_and_role(pg_url: str) -> Iterator[tuple[str, str, str]]:
    role = f"cc_app_{uuid.uuid4().hex[:8]}"
    owner = sandbox(pg_url, FixedClock(bj(24, "08:30")))
    owner.close()
    result = CliRunner().invoke(app, ["--db", pg_url, "db", "roles", "--role", role, "--json"])
    assert result.exit_code == 0, result.output
    url = sa.engine.make_url(pg_url).set(username=role).render_as_string(hide_password=False)
    try:
        yield pg_url, url, role
    finally:
        admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP OWNED BY "{role}"'))
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def test_the_worked_example_runs_under_the_append_only_role(owner_and_role: tuple[str, str, str]) -> None:
    owner_url, app_url, role = owner_and_role
    clock = FixedClock(bj(24, "08:30"))
    eng = Engine(app_url, WORKFLOW, clock)
    cases = run_demo(eng, clock)
    assert all(not c.open for c in cases.values())
    clock.set(bj(25, "09:00"))
    eng.sweep()
    assert audit.verify(eng).ok
    raw = sa.create_engine(app_url)
    refused = [
        "UPDATE timeline SET note = 'x'", "DELETE FROM timeline", "UPDATE ledger SET body = '{}'",
        "DELETE FROM ledger", "UPDATE files SET size = 0", "DELETE FROM cases", "DELETE FROM alerts",
        "TRUNCATE timeline", "UPDATE alembic_version SET version_num = 'x'",
    ]
    for statement in refused:
        with raw.connect() as conn, pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            conn.execute(sa.text(statement))
    raw.dispose()
    eng.close()
    # the owner still sees an intact database
    owner = Engine(owner_url, WORKFLOW)
    assert audit.verify(owner).ok
    owner.close()


def test_roles_are_refused_on_sqlite(sandbox_url: str) -> None:
    result = CliRunner().invoke(app, ["--db", sandbox_url, "db", "roles"])
    assert result.exit_code == 2 and "PostgreSQL" in result.stderr
