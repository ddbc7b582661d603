"""`casecraft db roles`: the PostgreSQL role the operators' processes run as (append-only histories)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from casecraft.cli.app import App, state
from casecraft.i18n import _

app = App(help="The database itself: roles for the application (PostgreSQL).", no_args_is_help=True)


@app.command()
def roles(
    ctx: typer.Context,
    role: Annotated[str, typer.Option("--role", help="The login role to create or update.")] = "casecraft_app",
    password_env: Annotated[str | None, typer.Option(
        "--password-env", help="Set the role's password from this environment variable (never typed).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Create the role the operators' processes use (run as the database owner): it may read and write the
    working tables but only add to the timeline, the admin/alert/log chains and the files, and delete nothing."""
    from casecraft.base.errors import InputError
    from casecraft.cli import render
    from casecraft.store.roles import create_app_role

    password = None
    if password_env is not None:
        password = os.environ.get(password_env)
        if not password:
            raise InputError("environment variable {var} is not set", var=password_env)
    eng = state(ctx).engine()
    done = create_app_role(eng.store, role, password=password)
    if json_out:
        render.print_json({"role": role, "statements": done})
        return
    for s in done:
        render.line(s)
    render.line(_("role {role} ready: point the operators' processes at {url}", role=role,
                  url=f"postgresql+psycopg://{role}:PASSWORD@HOST/DB"))
