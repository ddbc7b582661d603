"""`casecraft audit verify`: recompute the timeline hash chains and name any tampering."""

from __future__ import annotations

from typing import Annotated

import typer

from casecraft.cli.app import App, state

app = App(help="Check that no case history was edited, deleted or inserted out of band.",
          no_args_is_help=True)


@app.command()
def verify(
    ctx: typer.Context,
    case: Annotated[int | None, typer.Option("--case", help="Only this case.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Recompute every case's hash chain; exit 1 and name each entry if any was tampered with.

    Names each timeline entry that was edited, deleted or inserted out of band, and
    each case row whose state, version or head hash disagrees with its timeline.
    """
    from casecraft.audit import verify as audit
    from casecraft.cli import render
    from casecraft.cli.files import require_database

    require_database(state(ctx).db)  # checking evidence never creates an empty database
    report = audit.verify(state(ctx).engine(), case)
    if json_out:
        render.print_json(report.to_dict())
    else:
        for f in report.findings:
            render.line(f"{f.kind}: {f.message}")
        verdict = "intact" if report.ok else f"{len(report.findings)} problem(s) found"
        render.line(f"{report.cases} case(s), {report.entries} timeline entries checked: {verdict}")
        render.line(f"digest {report.digest}")
    if not report.ok:
        if not json_out:
            render.error("the timeline was changed out of band; restore from a backup or investigate the "
                         "entries named above", 1)
        raise typer.Exit(1)
