"""`casecraft log ...`: the grid leader's 民情日志 (public-sentiment log)."""

from __future__ import annotations

from typing import Annotated

import typer

from casecraft.cli.app import App, state
from casecraft.i18n import _

app = App(help="民情日志: the grid leader's daily log of visits and residents' concerns.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only.")]


@app.command()
def add(
    ctx: typer.Context,
    grid: Annotated[str, typer.Option("--grid", help="Grid code (15 digits).")],
    text: Annotated[str, typer.Option("--text", help="Today's visits and residents' concerns.")],
    actor: Annotated[str | None, typer.Option(
        "--actor", help="The grid leader (or assistant) keeping the log; default: the person logged in.")] = None,
    photo: Annotated[list[str] | None, typer.Option("--photo", help="Attach a photo (repeatable).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Record today's log entry for a grid (another day only as an admin's back-fill, recorded as such)."""
    from casecraft.cli import render

    entry = state(ctx).engine().add_log(grid=grid, actor=actor, text=text, photos=photo or [])
    if json_out:
        render.print_json(entry.to_dict())
    else:
        render.line(_("log {id}: {grid} {day} by {person}", id=entry.id, grid=entry.grid_name,
                      day=entry.day.isoformat(), person=entry.actor_name))


@app.command("list")
def list_entries(
    ctx: typer.Context,
    grid: Annotated[str | None, typer.Option("--grid", help="Only this grid.")] = None,
    month: Annotated[str | None, typer.Option("--month", help="Only this month, YYYY-MM.")] = None,
    org: Annotated[str | None, typer.Option("--org", help="Only grids under this unit.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 500,
    json_out: JsonOpt = False,
) -> None:
    """List log entries, oldest first."""
    from rich.table import Table

    from casecraft.cli import render

    items = state(ctx).engine().logs(grid=grid, month=month, org=org, limit=limit)
    if json_out:
        render.print_json([e.to_dict() for e in items])
        return
    table = Table()
    for col in ("#", "日期", "时间", "网格", "记录人", "内容", "附件"):
        table.add_column(col, no_wrap=col not in ("内容",), overflow="fold")
    for e in items:
        files = ", ".join(a["name"] for a in e.attachments)
        table.add_row(str(e.id), e.day.isoformat(), render._local(e.at, e.timezone)[11:], render._escape(e.grid_name),
                      render._escape(e.actor_name), render._escape(e.text), render._escape(files))
    render.out.print(table)
    render.line(_("1 entry") if len(items) == 1 else _("{count} entries", count=len(items)))
