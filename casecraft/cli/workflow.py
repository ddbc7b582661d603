"""`casecraft workflow ...`: validate, show, draw and version the workflow definition."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from casecraft.cli.app import App, state
from casecraft.i18n import _

app = App(help="Check, show, draw and version workflow definitions.", no_args_is_help=True)
PathArg = Annotated[str | None, typer.Argument(metavar="[PATH]", help="Workflow file (default: the current one).")]


def _path(ctx: typer.Context, path: str | None) -> str | None:
    return path or state(ctx).workflow


@app.command()
def validate(ctx: typer.Context, path: PathArg = None,
             strict: Annotated[bool, typer.Option(
                 "--strict", help="Fail (exit 1) on warnings too: timed states without a useful warning "
                 "threshold, categories without a street department, roles nobody holds, tiers with no "
                 "way back to the grid.")] = False,
             json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False) -> None:
    """Validate a workflow file and its organisation; report every problem at once.

    Errors exit 2. Warnings are printed too (FILE:LINE:COL, with a hint) and
    exit 0, unless --strict, which makes any warning exit 1.
    """
    from casecraft.base.errors import WorkflowError
    from casecraft.cli import render
    from casecraft.workflows.lint import lint

    try:
        wf, warnings = lint(_path(ctx, path))
    except WorkflowError as exc:
        if json_out:
            render.print_json({"valid": False, "problems": [_problem_json(p) for p in exc.problems]})
            raise typer.Exit(2) from None
        raise
    summary = {"valid": True, "file": str(wf.path), "workflow": wf.id, "hash": wf.content_hash,
               "states": len(wf.states), "transitions": len(wf.file.transitions),
               "categories": len(wf.categories),
               "units": len(wf.org.units) if wf.org else 0, "people": len(wf.org.people) if wf.org else 0}
    summary["warnings"] = [_problem_json(p) for p in warnings]
    if json_out:
        render.print_json(summary)
    else:
        render.problems(warnings)
        render.line(_("{path}: valid — {states} states, {transitions} transitions, {categories} categories, "
                      "{units} units, {people} people", path=wf.path, **summary)
                    + (_("; {count} warning(s)", count=len(warnings)) if warnings else ""))
    if strict and warnings:
        raise typer.Exit(1)


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


ForceOpt = Annotated[bool, typer.Option("--force", help="Replace the output file if it exists.")]


@app.command()
def schema(ctx: typer.Context,
           output: Annotated[str | None, typer.Option(
               "-o", "--output", help="Write to this file (default: stdout).")] = None,
           force: ForceOpt = False) -> None:
    """Print the JSON Schema (draft-07) of workflows.yaml, for editors that validate while typing."""
    from casecraft.cli import files
    from casecraft.workflows.jsonschema import schema_text

    if output is None:
        typer.echo(schema_text(), nl=False)
        return
    with files.output(output, db=state(ctx).db, force=force, what="the schema") as tmp:
        tmp.write_text(schema_text(), encoding="utf-8")


@app.command()
def diagram(
    ctx: typer.Context,
    path: PathArg = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", "-f", help="mermaid | dot | png | svg | bpmn (default: from the output file's suffix).")] = None,
    output: Annotated[str | None, typer.Option(
        "-o", "--output", help="Write to this file; mermaid, dot and bpmn may go to stdout.")] = None,
    force: ForceOpt = False,
) -> None:
    """Draw the workflow: Mermaid, Graphviz DOT/PNG/SVG (tiers as clusters) or BPMN 2.0 XML."""
    from casecraft.base.errors import InputError
    from casecraft.cli import files, render
    from casecraft.workflows import diagram as dg
    from casecraft.workflows import load_workflow

    if output is None and fmt is None:
        raise InputError("give --format or -o FILE (e.g. -o workflow.png)")
    if output is not None:  # refuse a bad path before any work
        files.check_output(output, db=state(ctx).db, force=force, what="the diagram")
    kind = dg.format_for(output or "", fmt)
    wf = load_workflow(_path(ctx, path))
    if output is None:
        if kind in ("png", "svg"):
            raise InputError("{kind} is binary or large: write it to a file with -o FILE.{kind}", kind=kind)
        if kind == "mermaid":
            typer.echo(dg.mermaid(wf), nl=False)
        elif kind == "dot":
            typer.echo(dg.dot(wf), nl=False)
        else:
            from casecraft.workflows.bpmn import bpmn_xml

            typer.echo(bpmn_xml(wf), nl=False)
        return
    with files.output(output, db=state(ctx).db, force=force, inputs=[wf.path] if wf.path else [],
                      what="the diagram") as tmp:
        dg.write(wf, tmp, kind)
    render.line(_("{output}: {kind} diagram of {id} ({states} states)", output=output, kind=kind, id=wf.id,
                  states=len(wf.states)), stderr=True)


@app.command()
def versions(ctx: typer.Context,
             json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False) -> None:
    """List the published workflow versions with their open cases (* marks the one new cases use)."""
    from zoneinfo import ZoneInfo

    from casecraft.cli import render

    items = state(ctx).engine().versions()
    if json_out:
        render.print_json([v.to_dict() for v in items])
        return
    for v in items:
        mark = "*" if v.current else " "
        local = v.created_at.astimezone(ZoneInfo(v.timezone)).strftime("%Y-%m-%d %H:%M")
        render.line((f"{mark} {v.workflow_id} v{v.number}  {v.content_hash[:12]}  {local}  "
                     + _("published by {person}  open cases: {count}", person=v.published_by or "-",
                         count=v.open_cases) + f"  {v.source_path or ''}").rstrip())


@app.command()
def publish(
    ctx: typer.Context,
    path: Annotated[str | None, typer.Argument(
        help="The workflow file (default: --workflow, ./workflows.yaml).")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Why, for the admin log.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Bring a workflow file into force as the next version (admin). New cases run on it; open cases stay on theirs."""
    from casecraft.cli import render

    v = state(ctx).engine().publish(_path(ctx, path), note=note)
    if json_out:
        render.print_json(v.to_dict())
    else:
        render.line(_("{id} v{number} is in force ({hash})", id=v.workflow_id, number=v.number,
                      hash=v.content_hash[:12]))


@app.command()
def diff(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(metavar="V1", help="The older version: a number such as 1 or v1.")],
    new: Annotated[str, typer.Argument(metavar="V2", help="The newer version, or 'current'.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Show what changed between two registered versions."""
    from casecraft.admin.versions import diff as diff_versions
    from casecraft.cli import render

    va, vb, d = diff_versions(state(ctx).engine().ctx, old, new)
    if json_out:
        render.print_json({"from": va.number, "to": vb.number, **d.to_dict()})
        return
    render.line(f"{va.workflow_id} v{va.number} → v{vb.number}")
    from casecraft import i18n

    for text in d.lines() or [_("(no changes)")]:
        render.line(i18n.text(text))


@app.command()
def migrate(
    ctx: typer.Context,
    from_: Annotated[str, typer.Option("--from", help="Move the open cases of this version (e.g. 1).")],
    to: Annotated[str, typer.Option("--to", help="To this version (e.g. 2, or current).")],
    map_: Annotated[list[str] | None, typer.Option(
        "--map", help="OLD_STATE=NEW_STATE for a state the new version renamed or dropped (repeatable).")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Why, for the timeline.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would move; change nothing.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
    actor: Annotated[str | None, typer.Option(
        "--actor", help="The admin doing it (default: the person logged in; recorded on each case).")] = None,
) -> None:
    """Move every open case of one version to another (admin), all or nothing, with a timeline entry on each."""
    from casecraft.admin.versions import parse_mapping
    from casecraft.cli import render

    result = state(ctx).engine().migrate(from_, to, actor=actor, mapping=parse_mapping(map_), note=note,
                                         dry_run=dry_run)
    if json_out:
        render.print_json(result.to_dict())
        return
    text = _("v{old} → v{new}: would move {count} open case(s)") if dry_run else \
        _("v{old} → v{new}: moved {count} open case(s)")
    render.line(text.format(old=result.from_version, new=result.to_version, count=len(result.moves)))
    for m in result.moves:
        change = m.from_state if m.from_state == m.to_state else f"{m.from_state} → {m.to_state}"
        render.line("  " + _("case {case}: {note}", case=m.case_id, note=change))


def _problem_json(p: Any) -> dict[str, Any]:
    """A problem in --json: the English message and hint, their templates and details, the labels translated."""
    from casecraft import i18n

    message_label, hint_label = i18n.problem(p)
    return {"file": p.file, "line": p.line, "column": p.column, "message": p.message, "hint": p.hint,
            "severity": p.severity, "template": p.template, "details": p.details,
            "message_label": message_label, "hint_label": hint_label}
