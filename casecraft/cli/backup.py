"""`casecraft export FILE` and `casecraft import-backup FILE`: backup, restore, moving databases."""

from __future__ import annotations

from typing import Annotated

import typer

from casecraft.cli.app import state
from casecraft.i18n import _


def export(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE", help="The backup file to write (JSON Lines).")],
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
    key_file: Annotated[str | None, typer.Option(
        "--key-file", help="Sign the backup with the seal key (restoring then needs the key).")] = None,
    redact: Annotated[bool, typer.Option(
        "--redact", help="Mask citizens' contacts (138****5678): a file to share; it cannot be restored.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Write every row of every table (units, people, cases, timelines, alerts, calendar...) to FILE.

    One consistent snapshot, attachments included (they are stored in the database); the file ends with
    a checksum line and is readable by its owner only. Refuses the database itself and an existing FILE
    (unless --force).
    """
    from dataclasses import replace

    from casecraft.audit import backup as backup
    from casecraft.cli import files, render

    st = state(ctx)
    files.require_database(st.db)  # a mistyped --db must not create an empty database
    key = None
    if key_file is not None:
        from casecraft.audit.seal import load_key

        key = load_key(key_file)
    with files.output(file, db=st.db, force=force, inputs=[key_file] if key_file else [],
                      what="the backup") as tmp:
        result = backup.export(st.engine(), tmp, key=key, redact=redact)
    result = replace(result, path=file)
    if json_out:
        render.print_json(result.to_dict())
        return
    render.line(_("exported {total} rows to {path}: ", total=result.total, path=result.path)
                + ", ".join(f"{k} {v}" for k, v in result.rows.items() if v))


def import_backup(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE", help="A file written by `casecraft export`.")],
    key_file: Annotated[str | None, typer.Option(
        "--key-file", help="The key the backup was signed with (a signed backup needs it).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Restore FILE into an empty database, in one transaction (also moves SQLite to PostgreSQL).

    Refuses a database that already holds rows, a truncated, changed or wrongly signed file,
    and a file whose histories do not verify; whatever the refusal, nothing is written.
    """
    from casecraft.audit import backup
    from casecraft.audit import verify as audit
    from casecraft.cli import render

    key = None
    if key_file is not None:
        from casecraft.audit.seal import load_key

        key = load_key(key_file)
    eng = state(ctx).engine()
    result = backup.import_backup(eng, file, key=key)
    report = audit.verify(eng)
    if json_out:
        render.print_json({**result.to_dict(), "audit": report.to_dict()})
    else:
        render.line(_("imported {total} rows from {path}: ", total=result.total, path=result.path)
                    + ", ".join(f"{k} {v}" for k, v in result.rows.items() if v))
        render.line(_("audit: {cases} case(s), {entries} timeline entries, ", cases=report.cases,
                      entries=report.entries)
                    + (_("every chain intact") if report.ok else _("{count} problem(s); run `casecraft audit verify`",
                                                                 count=len(report.findings))))
    if not report.ok:
        raise typer.Exit(1)
