"""`casecraft org ...`: the organisation."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from casecraft.cli.app import App, state
from casecraft.i18n import _

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
        render.org_tree(org, {r.id: r.label for r in eng.workflow.file.roles})


JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only.")]


def _done(obj: Any, json_out: bool, text: str) -> None:
    from dataclasses import asdict

    from casecraft.cli import render

    if json_out:
        render.print_json(asdict(obj))
    else:
        render.line(text)


@app.command("add-unit")
def add_unit(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(metavar="CODE", help="Unit code (a grid's is 15 digits).")],
    name: Annotated[str, typer.Option("--name", help="The unit's name.")],
    parent: Annotated[str, typer.Option("--parent", help="The unit above it (a platform unit's code).")],
    kind: Annotated[str, typer.Option("--kind", help="platform | department | area_unit.")] = "platform",
    tier: Annotated[str | None, typer.Option("--tier", help="Tier (default: one below the parent's).")] = None,
    address: Annotated[list[str] | None, typer.Option(
        "--address", help="Address keyword routing hotline tickets here (repeatable).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Add a unit: a platform one tier below its parent, or a department or area unit inside it."""
    u = state(ctx).engine().add_unit(code, name, parent, tier=tier, kind=kind, addresses=address or [])
    _done(u, json_out, _("added unit {name} ({code}, {tier} {kind}) under {parent}", name=u.name, code=u.code,
                                  tier=u.tier, kind=u.kind, parent=u.parent))


@app.command("set-addresses")
def set_addresses(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(metavar="UNIT", help="Unit code.")],
    address: Annotated[list[str] | None, typer.Option(
        "--address", help="Address keyword (repeatable); none clears them.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Replace a unit's address keywords (they route hotline tickets that come without a grid code)."""
    u = state(ctx).engine().set_addresses(code, address or [])
    _done(u, json_out, f"{u.name} ({u.code}) address keywords: {', '.join(u.addresses) or 'none'}")


@app.command("add-person")
def add_person(
    ctx: typer.Context,
    pid: Annotated[str, typer.Argument(metavar="ID", help="Person id (login name).")],
    name: Annotated[str, typer.Option("--name", help="Full name.")],
    unit: Annotated[str, typer.Option("--unit", help="Unit code.")],
    role: Annotated[list[str], typer.Option("--role", help="Role id (repeatable), see `casecraft workflow show`.")],
    note: Annotated[str | None, typer.Option("--note", help="A note, e.g. 城管派驻员.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Add a person to a unit with one or more roles."""
    p = state(ctx).engine().add_person(pid, name, unit, role, note=note)
    _done(p, json_out, _("added {name} ({id}) at {unit}: {roles}", name=p.name, id=p.id, unit=p.unit,
                                  roles=", ".join(p.roles)))


@app.command("move-person")
def move_person(
    ctx: typer.Context,
    pid: Annotated[str, typer.Argument(metavar="ID", help="Person id.")],
    to: Annotated[str, typer.Option("--to", help="The new unit's code.")],
    role: Annotated[list[str] | None, typer.Option("--role", help="New role(s) (repeatable; default: keep).")] = None,
    note: Annotated[str | None, typer.Option("--note", help="A new note (default: keep).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Move a person to another unit; their past timeline entries keep the unit they acted from."""
    p = state(ctx).engine().move_person(pid, to, roles=role, note=note)
    _done(p, json_out, _("moved {name} ({id}) to {unit}: {roles}", name=p.name, id=p.id, unit=p.unit,
                                  roles=", ".join(p.roles)))


@app.command()
def deactivate(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="ID", help="A person id or a unit code.")],
    json_out: JsonOpt = False,
) -> None:
    """Deactivate a person (they can no longer act) or an unused unit; nothing is deleted."""
    x = state(ctx).engine().deactivate(ref)
    _done(x, json_out, _("deactivated {name} ({ref})", name=x.name, ref=ref))


@app.command()
def activate(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="ID", help="A person id or a unit code.")],
    json_out: JsonOpt = False,
) -> None:
    """Re-activate a deactivated person or unit."""
    x = state(ctx).engine().activate(ref)
    _done(x, json_out, _("activated {name} ({ref})", name=x.name, ref=ref))


@app.command()
def reload(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(
        metavar="FILE", help="organisation.yaml, or a CSV of people (id,name,unit,roles,note). What it names "
        "overwrites the database's units and people (names, places, roles, addresses): changes made since with "
        "`casecraft org ...` to those are replaced.")],
    deactivate_missing: Annotated[bool, typer.Option(
        "--deactivate-missing", help="Deactivate people (and, for YAML, units) the file does not name.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Re-load the organisation: add and update what the file names; never delete, never re-activate."""
    from casecraft.cli import render

    r = state(ctx).engine().reload_organisation(file, deactivate_missing=deactivate_missing)
    if json_out:
        render.print_json(r.to_dict())
        return
    render.line(_("{source}: units added {units_added}, changed {units_changed}; people added {people_added}, "
                  "changed {people_changed}", source=r.source, units_added=r.units_added,
                  units_changed=r.units_changed, people_added=r.people_added, people_changed=r.people_changed)
                + (_("; deactivated {list}", list=", ".join(r.deactivated)) if r.deactivated else ""))
    if r.not_in_file:
        render.line(_("not in the file (kept; --deactivate-missing deactivates them): {list}",
                      list=", ".join(r.not_in_file)))
