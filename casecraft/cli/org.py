"""`casecraft org ...`: the organisation."""

from __future__ import annotations

from typing import Annotated

import typer

from casecraft.cli.app import App, state

app = App(help="The organisation: units and people.", no_args_is_help=True)


@app.command()
def show(ctx: typer.Context,
         json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False) -> None:
    """Show the organisation tree with people and their roles."""
    from dataclasses import asdict

    from casecraft.cli import render

    eng = state(ctx).engine()
    org = eng.organisation()
    if json_out:
        render.print_json({"units": [asdict(u) for u in org.units.values()],
                           "people": [asdict(p) for p in org.people.values()]})
    else:
        render.org_tree(org)
