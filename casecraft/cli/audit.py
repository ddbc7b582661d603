"""`casecraft audit verify`: recompute the timeline hash chains and name any tampering."""

from __future__ import annotations

from typing import Annotated

import typer

from casecraft.cli.app import App, state
from casecraft.i18n import _

app = App(help="Check that no case history was edited, deleted or inserted out of band.",
          no_args_is_help=True)


KeyOpt = Annotated[str | None, typer.Option(
    "--key-file", help="The seal key (default $CASECRAFT_SEAL_KEY_FILE); keep it away from the database's writers.")]


@app.command()
def keygen(
    output: Annotated[str, typer.Option("-o", "--output", help="Write the new key to this file (0600).")],
    force: Annotated[bool, typer.Option("--force", help="Replace the file if it exists.")] = False,
) -> None:
    """Make a seal key (256 random bits): it signs seals and backups; store it where the database's writers
    cannot reach it."""
    from casecraft.audit.seal import new_key
    from casecraft.cli import files, render

    with files.output(output, force=force, what="the key") as tmp:
        tmp.write_text(new_key() + "\n", encoding="ascii")
    render.line(_("wrote a seal key to {path}", path=output))


@app.command()
def seal(
    ctx: typer.Context,
    output: Annotated[str, typer.Option("-o", "--output", help="Write the signed seal to this file.")],
    key_file: KeyOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the file if it exists.")] = False,
) -> None:
    """Sign the head of every history (each case's timeline, the admin, alert and log chains) with the key.

    Keep the seal with the key: `audit verify --against SEAL` later finds histories cut short, rewritten
    whole, or deleted. The database must verify now."""
    import json

    from casecraft.audit import seal as sealing
    from casecraft.cli import files, render

    key = sealing.load_key(key_file)
    doc = sealing.seal(state(ctx).engine(), key)
    with files.output(output, db=state(ctx).db, force=force, inputs=[key_file] if key_file else [],
                      what="the seal") as tmp:
        tmp.write_text(json.dumps(doc, ensure_ascii=False, sort_keys=True), encoding="utf-8")
    render.line(_("sealed {cases} case(s) and {chains} chains to {path}", cases=len(doc["cases"]),
                  chains=len(doc["chains"]), path=output))


@app.command()
def verify(
    ctx: typer.Context,
    case: Annotated[int | None, typer.Option("--case", help="Only this case.")] = None,
    against: Annotated[str | None, typer.Option(
        "--against", help="Also check a seal (from `audit seal`): histories cut short, rewritten or deleted.")] = None,
    key_file: KeyOpt = None,
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
    eng = state(ctx).engine()
    report = audit.verify(eng, case)
    if against is not None:
        from casecraft.audit import seal as sealing

        report.findings.extend(sealing.check_against(eng, sealing.read_seal(against, sealing.load_key(key_file))))
    if json_out:
        render.print_json(report.to_dict())
    else:
        for f in report.findings:
            render.line(f"{f.kind}: {f.message}")
        verdict = _("intact") if report.ok else _("{count} problem(s) found", count=len(report.findings))
        render.line(_("{cases} case(s), {entries} timeline entries checked: {verdict}", cases=report.cases,
                      entries=report.entries, verdict=verdict))
        render.line(_("digest {digest}", digest=report.digest))
    if not report.ok:
        if not json_out:
            render.error(_("the timeline was changed out of band; restore from a backup or investigate the "
                           "entries named above"), 1)
        raise typer.Exit(1)
