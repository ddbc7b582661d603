"""`casecraft hotline import`: hotline work orders (12345, 96005) from CSV or JSON Lines."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from casecraft.cli.app import App, state

app = App(help="Hotline work orders (12345, 96005): import them as street cases.", no_args_is_help=True)

PROGRESS_FROM = 2000  # rows; smaller files finish before a bar is worth drawing


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE", help="CSV or JSON Lines (UTF-8); see the README for columns.")],
    actor: Annotated[str, typer.Option("--actor", help="The street operator who receives the orders, e.g. wujing.")],
    skip_bad: Annotated[bool, typer.Option(
        "--skip-bad", help="Import the good rows; write the bad ones to the reject file.")] = False,
    rejects: Annotated[str | None, typer.Option(
        "--rejects", help="Reject file for --skip-bad (default: beside FILE, NAME.rejects.csv|jsonl).")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="csv | jsonl (default: by suffix or content).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Import work orders; a ticket already imported is skipped, so re-running is safe.

    A file with bad rows is refused whole (every bad row listed: row, field, reason) unless --skip-bad.
    """
    from casecraft.cli import render

    eng = state(ctx).engine()
    bar: Any = None
    task: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar, task
        if json_out or total < PROGRESS_FROM:
            return
        if bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            bar = Progress("导入 importing", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                           console=render.err, transient=True)
            bar.start()
            task = bar.add_task("import", total=total)
        bar.update(task, completed=done)

    try:
        result = eng.import_hotline(file, actor=actor, skip_bad=skip_bad, rejects=rejects, fmt=fmt,
                                    progress=progress)
    finally:
        if bar is not None:
            bar.stop()
    if json_out:
        render.print_json(result.to_dict())
        return
    for p in result.bad:
        render.err.print(f"skipped {p}", markup=False)
    rate = f" ({result.rows / result.seconds:,.0f} rows/s)" if result.seconds and result.rows >= PROGRESS_FROM else ""
    render.line(f"{result.new} new, {result.existing} already imported"
                + (f", {result.bad_rows} bad row(s) written to {result.rejects}" if result.bad else "")
                + f"{rate}")
