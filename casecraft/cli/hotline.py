"""`casecraft hotline import`: hotline work orders (12345, 96005) from CSV or JSON Lines."""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer

from casecraft import i18n
from casecraft.cli.app import App, state
from casecraft.i18n import _

app = App(help="Hotline work orders (12345, 96005): import them as street cases.", no_args_is_help=True)

PROGRESS_FROM = 2000  # rows; smaller files finish before a bar is worth drawing
PEEK = 4096  # bytes read to tell CSV from JSON Lines when the suffix does not say


def rejects_path(file: str, rejects: str | None, fmt: str | None) -> str:
    """The reject file: ``rejects`` if given, else beside FILE as the import names it (``NAME.rejects.csv|jsonl``)."""
    if rejects:
        return rejects
    from casecraft.intake.hotline import default_rejects_path, detect_format

    path = Path(file)
    try:
        with open(path, "rb") as fh:
            head = fh.read(PEEK).decode("utf-8-sig", errors="replace")
    except OSError:
        head = ""  # the import itself says why the file cannot be read
    return os.fspath(default_rejects_path(path, detect_format(path, head, fmt)))


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE", help="CSV or JSON Lines (UTF-8); see the README for columns.")],
    actor: Annotated[str, typer.Option("--actor", help="The street operator who receives the orders, e.g. wujing.")],
    skip_bad: Annotated[bool, typer.Option(
        "--skip-bad", help="Import the good rows; write the bad ones to the reject file.")] = False,
    rejects: Annotated[str | None, typer.Option(
        "--rejects", help="Reject file for --skip-bad (default: beside FILE, NAME.rejects.csv|jsonl).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the reject file if it exists.")] = False,
    fmt: Annotated[str | None, typer.Option("--format", help="csv | jsonl (default: by suffix or content).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Import work orders; a ticket already imported is skipped, so re-running is safe.

    A file with bad rows is refused whole (every bad row listed: row, field, reason) unless --skip-bad.
    The reject file is readable by its owner only; an existing one is replaced only with --force.
    """
    from casecraft.cli import files, render

    st = state(ctx)
    bar: Any = None
    task: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar, task
        if json_out or total < PROGRESS_FROM:
            return
        if bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            bar = Progress(_("导入 importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                           console=render.console(stderr=True), transient=True)
            bar.start()
            task = bar.add_task("import", total=total)
        bar.update(task, completed=done)

    reject_file = rejects_path(file, rejects, fmt) if skip_bad else None
    with ExitStack() as stack:
        # checked before anything is imported; written beside the target and moved into place at the end
        staged = None
        if reject_file:
            staged = stack.enter_context(files.output(reject_file, db=st.db, force=force, inputs=[file],
                                                      what="the reject file"))
        try:
            result = st.engine().import_hotline(file, actor=actor, skip_bad=skip_bad, rejects=staged, fmt=fmt,
                                                progress=progress)
        finally:
            if bar is not None:
                bar.stop()
    if result.rejects is not None:
        result.rejects = reject_file
    if json_out:
        render.print_json(result.to_dict())
        return
    for p in result.bad:
        render.line(_("skipped {problem}", problem=i18n.row_problem(p)), stderr=True)
    fast = result.seconds and result.rows >= PROGRESS_FROM
    rate = _(" ({rate} rows/s)", rate=f"{result.rows / result.seconds:,.0f}") if fast else ""
    render.line(_("{new} new, {existing} already imported", new=result.new, existing=result.existing)
                + (_(", {bad} bad row(s) written to {path}", bad=result.bad_rows, path=result.rejects)
                   if result.bad else "")
                + f"{rate}")
