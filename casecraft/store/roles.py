"""PostgreSQL roles: the application runs as a role that can only add to the histories.

``casecraft db roles`` (run as the database's owner) creates a login role for
the operators' processes (CLI, ``serve``, ``scheduler run``) with exactly the
rights the engine uses: it reads and writes the working tables, but can only
INSERT into the timeline, the ledger (admin log, alerts and logs chains) and
the stored files — no UPDATE, no DELETE, no TRUNCATE there — and deletes
nothing anywhere (the engine never deletes). Schema changes stay with the
owner (``casecraft init`` as the owner upgrades the schema).
"""

from __future__ import annotations

import re

from sqlalchemy import text

from casecraft.base.errors import InputError
from casecraft.store.base import Store

APPEND_ONLY = ("timeline", "ledger", "files")
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def create_app_role(store: Store, role: str, *, password: str | None = None) -> list[str]:
    """Create (or update) ``role`` with the application's rights in the current schema; the statements run.

    Raises:
        InputError: not PostgreSQL, or a role name that is not a plain lowercase identifier.
    """
    if store.dialect != "postgresql":
        raise InputError("database roles are a PostgreSQL feature; an SQLite file is protected by its file mode")
    if not _NAME.match(role):
        raise InputError("bad role name {role!r}: lowercase letters, digits and _ only", role=role)
    done: list[str] = []
    with store.engine.begin() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
        stmts = [] if exists else [f'CREATE ROLE "{role}" LOGIN']
        if password:
            stmts.append(f"ALTER ROLE \"{role}\" PASSWORD '{_quote(password)}'")
        stmts += [
            f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"',
            f'GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"',
            f'REVOKE DELETE, TRUNCATE ON ALL TABLES IN SCHEMA "{schema}" FROM "{role}"',
            *(f'REVOKE UPDATE ON "{schema}"."{t}" FROM "{role}"' for t in APPEND_ONLY),
            f'REVOKE INSERT, UPDATE ON "{schema}"."alembic_version" FROM "{role}"',
            f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{role}"',
        ]
        for s in stmts:
            conn.execute(text(s))
            done.append(s if "PASSWORD" not in s else f'ALTER ROLE "{role}" PASSWORD ****')
    return done


def _quote(value: str) -> str:
    return value.replace("'", "''")


__all__ = ["APPEND_ONLY", "create_app_role"]
