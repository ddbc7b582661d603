"""`casecraft case ...`: report, fire, show, list, triggers."""

from __future__ import annotations

from typing import Annotated

import typer

from casecraft.cli.app import App, state
from casecraft.i18n import _

app = App(help="Report cases, act on them, look at them.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only.")]
ActorOpt = Annotated[str | None, typer.Option(
    "--actor", help="Who acts: a person id (see `casecraft org show`); default: the person logged in.")]
CaseArg = Annotated[int, typer.Argument(metavar="CASE", help="Case id.")]
PhotoOpt = Annotated[list[str] | None, typer.Option("--photo", help="Attach a photo (repeatable).")]


@app.command()
def report(
    ctx: typer.Context,
    source: Annotated[str, typer.Option("--source", help="patrol | informant | hotline | order")],
    grid: Annotated[str, typer.Option("--grid", help="Grid code (15 digits).")],
    category: Annotated[str, typer.Option("--category", help="Event catalogue code, e.g. 0101.")],
    desc: Annotated[str, typer.Option("--desc", help="What was found or reported.")],
    ref: Annotated[str | None, typer.Option("--ref", help="Hotline ticket number.")] = None,
    address: Annotated[str | None, typer.Option("--address", help="Address of the problem.")] = None,
    urgency: Annotated[str | None, typer.Option("--urgency", help="Override the category's urgency.")] = None,
    note: Annotated[str | None, typer.Option("--note", help="A note for the timeline.")] = None,
    photo: PhotoOpt = None,
    json_out: JsonOpt = False,
    actor: ActorOpt = None,
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
    case_id: CaseArg,
    trigger: Annotated[str, typer.Argument(metavar="TRIGGER", help="e.g. verify, dispatch, escalate, close.")],
    note: Annotated[str | None, typer.Option("--note", help="Reason or record of what was done.")] = None,
    to: Annotated[list[str] | None, typer.Option("--to", help="Target unit or person (repeatable).")] = None,
    outcome: Annotated[str | None, typer.Option("--outcome", help="solved | unsolved (for feedback).")] = None,
    photo: PhotoOpt = None,
    expect_version: Annotated[int | None, typer.Option(
        "--expect-version", help="Refuse if the case is no longer at this version.")] = None,
    json_out: JsonOpt = False,
    actor: ActorOpt = None,
) -> None:
    """Fire a trigger on a case (one step of the workflow)."""
    from casecraft.cli import render

    case = state(ctx).engine().fire(case_id, trigger, actor=actor, note=note, to=to or [], outcome=outcome,
                                    photos=photo or [], expected_version=expect_version)
    if json_out:
        render.print_json(case.to_dict())
    else:
        render.line(_("case {case}: {state_label} ({state}) at {unit_name} ({unit})", case=case.id,
                      state_label=case.state_label, state=case.state, unit_name=case.unit_name, unit=case.unit))


@app.command()
def show(
    ctx: typer.Context,
    case_id: CaseArg,
    diagram: Annotated[str | None, typer.Option(
        "--diagram", help="Also draw the workflow with the case's path highlighted to this file "
        "(.png, .svg, .dot, .mmd or .bpmn).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the --diagram file if it exists.")] = False,
    reveal_contact: Annotated[bool, typer.Option(
        "--reveal-contact", help="Show the citizen's contact in full (roles in the workflow's contact_roles only; "
        "recorded in the admin log).")] = False,
    actor: Annotated[str | None, typer.Option(
        "--actor", help="Who asks, for --reveal-contact on a sandbox (elsewhere the person logged in).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Show a case's details and its whole timeline (the citizen's contact masked unless revealed)."""
    from casecraft.cli import files, render

    if diagram:
        files.check_output(diagram, db=state(ctx).db, force=force, what="the diagram")
    if reveal_contact and state(ctx).server_url():
        from casecraft.base.errors import InputError

        raise InputError("--reveal-contact works on the database itself (run it without --server, with "
                         "CASECRAFT_TOKEN set to your token)")
    eng = state(ctx).engine()
    case = eng.get(case_id, reveal_contact=True, actor=actor) if reveal_contact else eng.get(case_id)
    if diagram:
        from casecraft.workflows.diagram import case_diagram, format_for

        kind = format_for(diagram)
        with files.output(diagram, db=state(ctx).db, force=force, what="the diagram") as tmp:
            if state(ctx).server_url():  # the server draws it (GET /cases/{id}/diagram)
                tmp.write_bytes(eng.diagram(kind, case_id))
            else:
                case_diagram(eng, case_id, str(tmp), kind)
    deadline = eng.deadline(case_id)
    if json_out:
        render.print_json({**case.to_dict(), "deadline": deadline.to_dict(case.timezone) if deadline else None})
        return
    render.case_summary(case, deadline, names=render.names_of(state(ctx).engine()))
    render.timeline(case)


@app.command("list")
def list_cases(  # noqa: C901 - options map 1:1 to filters
    ctx: typer.Context,
    state_: Annotated[str | None, typer.Option("--state", help="Only cases in this state.")] = None,
    tier: Annotated[str | None, typer.Option("--tier", help="Only cases at this tier.")] = None,
    org: Annotated[str | None, typer.Option("--org", help="Only cases in this unit's subtree.")] = None,
    open_: Annotated[bool, typer.Option("--open", help="Only open cases.")] = False,
    closed: Annotated[bool, typer.Option("--closed", help="Only finished cases.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many per page.")] = 200,
    page: Annotated[int, typer.Option("--page", help="Which page of --limit cases (1 = the first).")] = 1,
    sort: Annotated[str, typer.Option(
        "--sort", help="id (oldest first), -id (newest first), updated or -updated (last changed).")] = "id",
    category: Annotated[str | None, typer.Option("--category", help="Only this catalogue category.")] = None,
    source: Annotated[str | None, typer.Option("--source", help="Only cases from this source.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only cases past their step's time limit.")] = False,
    due_within: Annotated[str | None, typer.Option(
        "--due-within", help="Only cases whose step falls due within this time from now and is not overdue yet, "
        "e.g. 2h, 30 minutes (add --overdue to include those already past).")] = None,
    parked: Annotated[bool, typer.Option("--parked", help="Only parked cases (挂账, the problem register).")] = False,
    json_out: JsonOpt = False,
) -> None:
    """List cases with their step deadline and time left, a page at a time (says "N of TOTAL")."""
    from casecraft.base.errors import InputError
    from casecraft.cli import render

    if open_ and closed:
        raise InputError("--open and --closed exclude each other")
    is_open = True if open_ else (False if closed else None)
    eng = state(ctx).engine()
    ids = None
    if overdue or due_within:
        from datetime import timedelta

        from casecraft.base.duration import Duration

        within = timedelta(0)
        if due_within:
            try:
                d = Duration.parse(due_within)
            except ValueError as exc:
                raise InputError(str(exc)) from None
            if d.working:
                raise InputError("--due-within takes natural time, e.g. 2h or 30 minutes")
            within = timedelta(**{f"{d.unit}s": d.amount})
        ids = eng.due_cases(within=within, include_overdue=overdue or not due_within, limit=100_000)
    if page < 1:
        raise InputError("--page must be 1 or more")
    result = eng.page(state=state_, tier=tier, org=org, is_open=is_open, limit=limit, offset=(page - 1) * limit,
                      ids=ids, parked=True if parked else None, category=category, source=source, sort=sort)
    cases = result.cases
    deadlines = eng.deadlines([c.id for c in cases])
    if json_out:
        render.print_json({"total": result.total, "page": page, "limit": limit, "cases": [
            {**c.to_dict(timeline=False), "deadline": deadlines[c.id].to_dict(c.timezone) if c.id in deadlines
             else None} for c in cases]})
    else:
        render.case_list(cases, deadlines)
        more = _("; next: --page {page}", page=page + 1) if result.offset + len(cases) < result.total else ""
        if cases:
            render.line(_("{first}-{last} of {total}", first=result.offset + 1, last=result.offset + len(cases),
                          total=result.total) + more)
        elif result.total:  # past the last page: say how many there are, not "0-9 of 7"
            render.line(_("none on page {page}; {total} in all", page=page, total=result.total))


@app.command()
def triggers(
    ctx: typer.Context,
    case_id: CaseArg,
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


@app.command()
def urge(
    ctx: typer.Context,
    case_id: CaseArg,
    note: Annotated[str, typer.Option("--note", help="What is asked of the handling unit.")],
    json_out: JsonOpt = False,
    actor: ActorOpt = None,
) -> None:
    """督办: a supervisor or the superior platform urges a case (alerts the handling unit)."""
    from casecraft.cli import render

    case = state(ctx).engine().urge(case_id, actor=actor, note=note)
    if json_out:
        render.print_json(case.to_dict())
    else:
        render.line(_("case {case} urged; alert raised at {unit_name}", case=case.id, unit_name=case.unit_name))


@app.command()
def extend(
    ctx: typer.Context,
    case_id: CaseArg,
    by: Annotated[str, typer.Option("--by", help="How much longer, e.g. '1 working day', '4 working hours'.")],
    note: Annotated[str, typer.Option("--note", help="The reason.")],
    json_out: JsonOpt = False,
    actor: ActorOpt = None,
) -> None:
    """延期: a leader approves an extension of the running time limit."""
    _side(ctx, state(ctx).engine().extend(case_id, actor=actor, by=by, note=note), json_out)


def _side(ctx: typer.Context, case: object, json_out: bool) -> None:
    from casecraft.cli import render

    eng = state(ctx).engine()
    if json_out:
        d = eng.deadline(case.id)  # type: ignore[attr-defined]
        render.print_json({**case.to_dict(), "deadline": d.to_dict(case.timezone) if d else None})  # type: ignore[attr-defined]
    else:
        render.line(_("case {case}: {note}", case=case.id, note=case.timeline[-1].note))  # type: ignore[attr-defined]


@app.command("request-extension")
def request_extension(
    ctx: typer.Context,
    case_id: CaseArg,
    by: Annotated[str, typer.Option("--by", help="How much longer, e.g. '1 working day'.")],
    note: Annotated[str, typer.Option("--note", help="The reason.")],
    json_out: JsonOpt = False,
    actor: ActorOpt = None,
) -> None:
    """申请延期: the handling unit asks its leader for more time."""
    _side(ctx, state(ctx).engine().request_extension(case_id, actor=actor, by=by, note=note), json_out)


@app.command("approve-extension")
def approve_extension(
    ctx: typer.Context,
    case_id: CaseArg,
    note: Annotated[str | None, typer.Option("--note", help="A remark.")] = None,
    json_out: JsonOpt = False,
    actor: ActorOpt = None,
) -> None:
    """批准延期: the leader approves the pending request; the deadline moves."""
    _side(ctx, state(ctx).engine().decide_extension(case_id, actor=actor, approve=True, note=note), json_out)


@app.command("deny-extension")
def deny_extension(
    ctx: typer.Context,
    case_id: CaseArg,
    note: Annotated[str, typer.Option("--note", help="The reason.")],
    json_out: JsonOpt = False,
    actor: ActorOpt = None,
) -> None:
    """驳回延期: the leader denies the pending request; the deadline stays."""
    _side(ctx, state(ctx).engine().decide_extension(case_id, actor=actor, approve=False, note=note), json_out)


@app.command()
def park(
    ctx: typer.Context,
    case_id: CaseArg,
    note: Annotated[str, typer.Option("--note", help="Why it cannot be solved for now.")],
    json_out: JsonOpt = False,
    actor: ActorOpt = None,
) -> None:
    """挂账: put a case in the problem register; its clock stops."""
    _side(ctx, state(ctx).engine().park(case_id, actor=actor, note=note), json_out)


@app.command()
def unpark(
    ctx: typer.Context,
    case_id: CaseArg,
    note: Annotated[str | None, typer.Option("--note", help="A remark.")] = None,
    json_out: JsonOpt = False,
    actor: ActorOpt = None,
) -> None:
    """解除挂账: take a case out of the problem register; its clock resumes with the time left."""
    _side(ctx, state(ctx).engine().unpark(case_id, actor=actor, note=note), json_out)


@app.command()
def photo(
    ctx: typer.Context,
    case_id: CaseArg,
    sha256: Annotated[str, typer.Argument(metavar="SHA256", help="The attachment's sha256 as `case show` lists it "
                                          "(in full, or its first 12 digits).")],
    output: Annotated[str, typer.Option("-o", "--output", help="Write the attachment to this file (mode 0600).")],
    force: Annotated[bool, typer.Option("--force", help="Replace the file if it exists.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Get an attachment of a case back from the database (its bytes checked against their hash)."""
    from casecraft.cli import files, render

    st = state(ctx)
    files.check_output(output, db=st.db, force=force, what="the attachment")
    files.require_database(st.db)
    info, data = st.engine().case_attachment(case_id, sha256)
    with files.output(output, db=st.db, force=force, what="the attachment") as tmp:
        tmp.write_bytes(data)
    if json_out:
        render.print_json({"case": case_id, **info, "file": output})
    else:
        render.line(f"wrote {info.get('name')} ({info.get('type')}, {len(data)} B) of case {case_id} to {output}")
