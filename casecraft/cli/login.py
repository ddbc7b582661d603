"""`casecraft login` / `casecraft logout`: keep (or drop) a person's token for a server."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from casecraft.cli.app import state
from casecraft.i18n import _


def _server(ctx: typer.Context) -> str:
    from casecraft.base.errors import InputError
    from casecraft.client import config

    server = state(ctx).server_url()
    if not server:
        raise InputError("login is for a server: give --server URL (or set CASECRAFT_SERVER); in direct database "
                         "mode set CASECRAFT_TOKEN")
    return config.normalise(server)


def login(
    ctx: typer.Context,
    token_stdin: Annotated[bool, typer.Option(
        "--token-stdin", help="Read the token from standard input (for scripts) instead of asking for it.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Log in to the server with the token an admin issued you; it is checked, then kept in a private file.

    The file is ~/.config/casecraft/tokens.json ($XDG_CONFIG_HOME honoured), mode 0600. A token is never
    taken on the command line, where other users could see it.
    """
    from casecraft.base.errors import InputError
    from casecraft.cli import render
    from casecraft.client import config
    from casecraft.client.engine import RemoteEngine

    url = _server(ctx)
    if token_stdin or not sys.stdin.isatty():
        token = sys.stdin.readline().strip()
    else:
        token = typer.prompt("token (cct_…)", hide_input=True).strip()
    if not token:
        raise InputError("no token given: ask an admin for one (`casecraft auth token issue PERSON`)")
    with RemoteEngine(url, token) as eng:
        me = eng.me()
    path = config.store(url, token, str(me["id"]))
    if json_out:
        render.print_json({"server": url, "person": me["id"], "name": me.get("name"), "unit": me.get("unit"),
                           "file": str(path)})
    else:
        render.line(_("logged in to {url} as {name} ({id}, unit {unit}); the token is kept in {path}", url=url,
                      name=me.get("name"), id=me["id"], unit=me.get("unit"), path=path))


def logout(ctx: typer.Context) -> None:
    """Forget the token kept for the server (an admin revokes it with `casecraft auth token revoke`)."""
    from casecraft.cli import render
    from casecraft.client import config

    url = _server(ctx)
    if config.forget(url):
        render.line(_("logged out of {url}; the token is no longer kept on this machine", url=url))
    else:
        render.line(_("no token was kept for {url}", url=url))


__all__ = ["login", "logout"]
