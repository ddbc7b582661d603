"""`casecraft auth ...`: credentials — tokens issued and revoked, web passwords set — by an admin."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from casecraft.cli.app import App, state
from casecraft.i18n import _

app = App(help="Credentials: issue and revoke tokens, set web passwords (the admin role; recorded).",
          no_args_is_help=True)
token_app = App(help="A person's tokens: issue, revoke, list.", no_args_is_help=True)
app.add_typer(token_app, name="token")
password_app = App(help="A person's password for the web workbench.", no_args_is_help=True)
app.add_typer(password_app, name="password")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only.")]
ActorOpt = Annotated[str | None, typer.Option(
    "--actor", help="The admin acting (sandbox databases; elsewhere the person logged in).")]


def _direct(ctx: typer.Context) -> Any:
    """The engine over the database: credentials are administered there, never through a server."""
    from casecraft.base.errors import InputError

    st = state(ctx)
    if st.server_url():
        raise InputError("credentials are administered on the database itself: run this without --server (and "
                         "without CASECRAFT_SERVER), with CASECRAFT_TOKEN set to an admin's token")
    return st.engine()


def write_token(ctx: typer.Context, token: str, token_file: str | None, force: bool) -> None:
    """Write a new token to a 0600 file, or print it once on stdout (it is never stored in clear)."""
    from casecraft.cli import files

    if token_file is None:
        sys.stdout.write(token + "\n")
        sys.stdout.flush()
        return
    with files.output(token_file, db=state(ctx).db, force=force, what="the token file") as tmp:
        tmp.write_text(token + "\n", encoding="ascii")


def check_token_file(ctx: typer.Context, token_file: str | None, force: bool) -> None:
    """Refuse a token file that cannot be written before anything is issued."""
    from casecraft.cli import files

    if token_file is not None:
        files.check_output(token_file, db=state(ctx).db, force=force, what="the token file")


TokenFileOpt = Annotated[str | None, typer.Option(
    "--token-file", help="Write the token to this file (mode 0600) instead of printing it.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace the --token-file if it exists.")]


@token_app.command("issue")
def issue(
    ctx: typer.Context,
    person: Annotated[str, typer.Argument(metavar="PERSON", help="The person the token is for (see `org show`).")],
    label: Annotated[str | None, typer.Option("--label", help="What the token is for, e.g. 'laptop'.")] = None,
    token_file: TokenFileOpt = None,
    force: ForceOpt = False,
    actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Issue a person a token (shown once, stored only as an argon2 hash); recorded in the admin log."""
    from casecraft.cli import render

    check_token_file(ctx, token_file, force)
    token, info = _direct(ctx).issue_token(person, actor=actor, label=label)
    if json_out:
        data = info.to_dict()
        if token_file is None:
            data["token"] = token
        else:
            write_token(ctx, token, token_file, force)
            data["token_file"] = token_file
        render.print_json(data)
        return
    if token_file is None:
        render.line(_("token {id} for {person} (shown once; hand it over, then `casecraft login` or "
                      "CASECRAFT_TOKEN):", id=info.id, person=person), stderr=True)
    write_token(ctx, token, token_file, force)
    if token_file is not None:
        render.line(_("token {id} for {person} written to {path} (mode 0600)", id=info.id, person=person,
                      path=token_file))


@token_app.command("revoke")
def revoke(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="REF", help="A credential id, or a person (all their credentials).")],
    actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Revoke a credential, or every credential of a person; it stops working at once (recorded)."""
    from casecraft.cli import render

    ids = _direct(ctx).revoke_credentials(ref, actor=actor)
    if json_out:
        render.print_json({"revoked": ids})
    else:
        render.line(_("revoked {count} credential(s): {ids}", count=len(ids), ids=", ".join(ids)))


@token_app.command("list")
def list_tokens(
    ctx: typer.Context,
    person: Annotated[str | None, typer.Option("--person", help="Only this person's credentials.")] = None,
    actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Every credential (tokens and passwords): whose, issued when and by whom, revoked or not — never a secret."""
    from casecraft.cli import render

    eng = _direct(ctx)
    items = eng.credentials(person, actor=actor)
    if json_out:
        render.print_json([c.to_dict() for c in items])
        return
    shown = [c.to_dict() for c in items]
    render.rows([_("id"), _("person"), _("kind"), _("label"), _("issued"), _("by"), _("revoked")],
                [[d["id"], d["person"], d["kind"], d["label"] or "", d["created_at"][:16].replace("T", " "),
                  d["created_by"], (d["revoked_at"] or "")[:16].replace("T", " ")] for d in shown])
    render.line(_("{count} credential(s)", count=len(items)))


@password_app.command("set")
def set_password(
    ctx: typer.Context,
    person: Annotated[str, typer.Argument(metavar="PERSON", help="The person whose web password is set.")],
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from standard input (scripts) instead of asking.")] = False,
    actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Set (replace) a person's web password, at least 12 characters; never taken on the command line."""
    from casecraft.base.errors import InputError
    from casecraft.cli import render

    eng = _direct(ctx)
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise InputError("no password given")
    info = eng.set_password(person, password, actor=actor)
    if json_out:
        render.print_json(info.to_dict())
    else:
        render.line(_("password set for {person} (credential {id}); earlier passwords revoked", person=person,
                      id=info.id))


__all__ = ["app", "check_token_file", "write_token"]
