"""Alembic environment for casecraft.

Used both by ``casecraft init`` / migrate-on-first-use (which passes an open
connection holding the migration lock) and by the ``alembic`` command line
from a checkout (``alembic -c alembic.ini upgrade head`` with CASECRAFT_DB).
"""

from __future__ import annotations

from alembic import context

from casecraft.store.models import metadata

config = context.config


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    from casecraft.store.db import default_url

    context.configure(
        url=config.get_main_option("sqlalchemy.url") or default_url(),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from casecraft.store.db import check_foreign_keys, default_url, make_engine, migrating

    engine = make_engine(config.get_main_option("sqlalchemy.url") or default_url())
    with engine.connect() as conn, migrating(conn):
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
            check_foreign_keys(conn)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
