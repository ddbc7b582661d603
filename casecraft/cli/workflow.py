"""`casecraft workflow ...`: validate and show the workflow definition."""

from __future__ import annotations

from typing import Annotated

import typer

from casecraft.cli.app import App, state

app = App(help="Check and look at workflow definitions.", no_args_is_help=True)
PathArg = Annotated[str | None, typer.Argument(metavar="[PATH]", help="Workflow file (default: the current one).")]


def _path(ctx: typer.Context, path: str | None) -> str | None:
    return path or state(ctx).workflow


@app.command()
def validate(ctx: typer.Context, path: PathArg = None,
             json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False) -> None:
    """Validate a workflow file and its organisation; report every problem at once."""
    from casecraft.cli import render
    from casecraft.errors import WorkflowError
    from casecraft.workflows import load_workflow

    try:
        wf = load_workflow(_path(ctx, path))
    except WorkflowError as exc:
        if json_out:
            render.print_json({"valid": False, "problems": [
                {"file": p.file, "line": p.line, "column": p.column, "message": p.message, "hint": p.hint}
                for p in exc.problems]})
            raise typer.Exit(2) from None
        raise
    summary = {"valid": True, "file": str(wf.path), "workflow": wf.id, "hash": wf.content_hash,
               "states": len(wf.states), "transitions": len(wf.file.transitions),
               "categories": len(wf.categories),
               "units": len(wf.org.units) if wf.org else 0, "people": len(wf.org.people) if wf.org else 0}
    if json_out:
        render.print_json(summary)
    else:
        render.line(f"{wf.path}: valid — {summary['states']} states, {summary['transitions']} transitions, "
                    f"{summary['categories']} categories, {summary['units']} units, {summary['people']} people")


@app.command()
def show(ctx: typer.Context, path: PathArg = None,
         json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False) -> None:
    """Show tiers, states, transitions, roles and time limits as a tree."""
    from casecraft.cli import render
    from casecraft.workflows import load_workflow

    wf = load_workflow(_path(ctx, path))
    if json_out:
        render.print_json({"id": wf.id, "hash": wf.content_hash, **wf.data})
    else:
        render.workflow_tree(wf)
