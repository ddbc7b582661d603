"""`casecraft admin log`: the admin chain — every administrative act, by whom, when."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from casecraft.cli.app import App, state
from casecraft.i18n import _

app = App(help="Administration: the admin log (its own hash chain).", no_args_is_help=True)


@app.command("log")
def log(
    ctx: typer.Context,
    after: Annotated[int, typer.Option("--after", help="Only entries after this sequence number.")] = 0,
    limit: Annotated[int, typer.Option("--limit", help="At most this many entries.")] = 1000,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Print the admin chain: organisation, calendar and workflow changes, credentials, contact reveals."""
    from casecraft.base.errors import InputError
    from casecraft.cli import files, render

    if after < 0 or limit < 1:
        raise InputError("--after must be 0 or more and --limit 1 or more")
    files.require_database(state(ctx).db)
    entries = state(ctx).engine().admin_log(after=after, limit=limit)
    if json_out:
        render.print_json([e.to_dict() for e in entries])
        return
    items = []
    for e in entries:
        d = e.to_dict()
        at = d["at"][:16].replace("T", " ")
        if d["recorded_at"][:16] != d["at"][:16]:
            at += _(" (recorded {at})", at=d["recorded_at"][:16].replace("T", " "))
        body = json.dumps(d["body"], ensure_ascii=False, sort_keys=True)
        items.append([str(e.seq), at, e.actor, e.kind, body, e.hash[:12]])
    render.rows(["#", _("时间 at"), _("人员 actor"), _("kind"), _("内容 body"), _("hash")], items)
    render.line(_("1 entry") if len(entries) == 1 else _("{count} entries", count=len(entries)))


__all__ = ["app"]
