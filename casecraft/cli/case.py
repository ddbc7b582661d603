"""`casecraft case ...`: report, fire, show, list, triggers."""

from __future__ import annotations

from typing import Annotated

import typer

from casecraft.cli.app import App, state

app = App(help="Report cases, act on them, look at them.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only.")]
ActorOpt = Annotated[str, typer.Option("--actor", help="Who acts: a person id (see `casecraft org show`).")]
PhotoOpt = Annotated[list[str] | None, typer.Option("--photo", help="Attach an image or PDF (repeatable).")]


@app.command()
def report(
    ctx: typer.Context,
    source: Annotated[str, typer.Option("--source", help="patrol | informant | hotline | order")],
    grid: Annotated[str, typer.Option("--grid", help="Grid code (15 digits).")],
    category: Annotated[str, typer.Option("--category", help="Event catalogue code, e.g. 0101.")],
    desc: Annotated[str, typer.Option("--desc", help="What was found or reported.")],
    actor: ActorOpt,
    ref: Annotated[str | None, typer.Option("--ref", help="Hotline ticket number.")] = None,
    address: Annotated[str | None, typer.Option("--address", help="Address of the problem.")] = None,
    urgency: Annotated[str | None, typer.Option("--urgency", help="Override the category's urgency.")] = None,
    note: Annotated[str | None, typer.Option("--note", help="A note for the timeline.")] = None,
    photo: PhotoOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Report a new case; prints its id."""
    from casecraft.cli import render

    case = state(ctx).engine().report(source=source, grid=grid, category=category, desc=desc, actor=actor,
                                      ref=ref, address=address, urgency=urgency, note=note, photos=photo or [])
    if json_out:
        render.print_json(case.to_dict())
    else:
        render.line(str(case.id))


@app.command()
def fire(
    ctx: typer.Context,
    case_id: Annotated[int, typer.Argument(metavar="CASE", help="Case id.")],
    trigger: Annotated[str, typer.Argument(metavar="TRIGGER", help="e.g. verify, dispatch, escalate, close.")],
    actor: ActorOpt,
    note: Annotated[str | None, typer.Option("--note", help="Reason or record of what was done.")] = None,
    to: Annotated[list[str] | None, typer.Option("--to", help="Target unit or person (repeatable).")] = None,
    outcome: Annotated[str | None, typer.Option("--outcome", help="solved | unsolved (for feedback).")] = None,
    photo: PhotoOpt = None,
    expect_version: Annotated[int | None, typer.Option(
        "--expect-version", help="Refuse if the case is no longer at this version.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Fire a trigger on a case (one step of the workflow)."""
    from casecraft.cli import render

    case = state(ctx).engine().fire(case_id, trigger, actor=actor, note=note, to=to or [], outcome=outcome,
                                    photos=photo or [], expected_version=expect_version)
    if json_out:
        render.print_json(case.to_dict())
    else:
        render.line(f"case {case.id}: {case.state_label} ({case.state}) at {case.unit_name} ({case.unit})")


@app.command()
def show(
    ctx: typer.Context,
    case_id: Annotated[int, typer.Argument(metavar="CASE", help="Case id.")],
    json_out: JsonOpt = False,
) -> None:
    """Show a case's details and its whole timeline."""
    from casecraft.cli import render

    case = state(ctx).engine().get(case_id)
    if json_out:
        render.print_json(case.to_dict())
        return
    render.case_summary(case)
    render.timeline(case)


@app.command("list")
def list_cases(
    ctx: typer.Context,
    state_: Annotated[str | None, typer.Option("--state", help="Only cases in this state.")] = None,
    tier: Annotated[str | None, typer.Option("--tier", help="Only cases at this tier.")] = None,
    org: Annotated[str | None, typer.Option("--org", help="Only cases in this unit's subtree.")] = None,
    open_: Annotated[bool, typer.Option("--open", help="Only open cases.")] = False,
    closed: Annotated[bool, typer.Option("--closed", help="Only finished cases.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 200,
    json_out: JsonOpt = False,
) -> None:
    """List cases, oldest first."""
    from casecraft.cli import render
    from casecraft.errors import InputError

    if open_ and closed:
        raise_input = InputError("--open and --closed exclude each other")
        from casecraft.cli.app import _translate

        _translate(lambda: (_ for _ in ()).throw(raise_input))()
    is_open = True if open_ else (False if closed else None)
    cases = state(ctx).engine().list(state=state_, tier=tier, org=org, is_open=is_open, limit=limit)
    if json_out:
        render.print_json([c.to_dict(timeline=False) for c in cases])
    else:
        render.case_list(cases)


@app.command()
def triggers(
    ctx: typer.Context,
    case_id: Annotated[int, typer.Argument(metavar="CASE", help="Case id.")],
    actor: Annotated[str | None, typer.Option("--actor", help="Also say whether this person may.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """What may happen next to a case, and who may do it."""
    from casecraft.cli import render

    eng = state(ctx).engine()
    options = eng.triggers(case_id, actor)
    if json_out:
        render.print_json([o.to_dict() for o in options])
        return
    render.triggers(eng.get(case_id), options, actor)
