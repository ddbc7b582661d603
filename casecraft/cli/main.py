"""`casecraft`: the operators' command line.

Each command parses its options, makes one library call and renders the
result. Heavy modules (SQLAlchemy, the engine) are imported inside commands.
"""

from __future__ import annotations

import copy
import sys
from importlib import import_module
from typing import Annotated, Any

import typer
from typer.models import CommandInfo, TyperInfo

from casecraft.cli.app import App, State, state
from casecraft.cli.lang import LocalisedGroup
from casecraft.i18n import _

_SETTINGS: dict[str, Any] = dict(
    name="casecraft",
    help="Tiered case management for urban grid governance (网格化社会服务管理).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    cls=LocalisedGroup,
)

# The groups and commands of the command line, in the order they are registered (and listed): the name, whether
# it is a group, and where it is defined. A command line imports only the module of the part it names (see _for).
_PARTS: tuple[tuple[str, bool, str], ...] = (
    ("case", True, "casecraft.cli.case:app"),
    ("workflow", True, "casecraft.cli.workflow:app"),
    ("org", True, "casecraft.cli.org:app"),
    ("alerts", True, "casecraft.cli.alerts:app"),
    ("scheduler", True, "casecraft.cli.alerts:scheduler_app"),
    ("sweep", False, "casecraft.cli.alerts:sweep"),
    ("calendar", True, "casecraft.cli.calendar:app"),
    ("hotline", True, "casecraft.cli.hotline:app"),
    ("report", True, "casecraft.cli.report:app"),
    ("log", True, "casecraft.cli.log:app"),
    ("audit", True, "casecraft.cli.audit:app"),
    ("db", True, "casecraft.cli.db:app"),
    ("auth", True, "casecraft.cli.auth:app"),
    ("admin", True, "casecraft.cli.admin:app"),
    ("export", False, "casecraft.cli.backup:export"),
    ("import-backup", False, "casecraft.cli.backup:import_backup"),
    ("serve", False, "casecraft.cli.serve:serve"),
    ("login", False, "casecraft.cli.login:login"),
    ("logout", False, "casecraft.cli.login:logout"),
)

# The global options and the commands defined in this module (registered after the parts above).
_core = App(**_SETTINGS)


def _build(names: set[str] | None = None) -> App:
    """The application with the parts ``names`` (None: all of them), importing only their modules."""
    out = App(**_SETTINGS)
    out.registered_callback = _core.registered_callback
    for name, group, where in _PARTS:
        if names is None or name in names:
            module, attr = where.split(":")
            obj = getattr(import_module(module), attr)
            if group:
                out.add_typer(obj, name=name)
            else:
                out.command(name)(obj)
    out.registered_commands += [c for c in _core.registered_commands if names is None or _name(c) in names]
    return out


_whole: App | None = None
app: App  # the whole application, made on first use (``__getattr__`` below): a command imports only its part


def _app() -> App:
    """The whole application (every module of the command line imported), made once."""
    global _whole
    if _whole is None:
        _whole = _build()
    return _whole


def __getattr__(name: str) -> Any:
    if name == "app":  # ``from casecraft.cli.main import app``: the whole application
        return _app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@_core.callback()
def _global(
    ctx: typer.Context,
    db: Annotated[str | None, typer.Option("--db", envvar="CASECRAFT_DB",
                                           help="Database URL (default sqlite:///casecraft.db).")] = None,
    workflow: Annotated[str | None, typer.Option(
        "--workflow", envvar="CASECRAFT_WORKFLOW",
        help="Workflow file to publish or check (default ./workflows.yaml or the shipped one).")] = None,
    server: Annotated[str | None, typer.Option(
        "--server", envvar="CASECRAFT_SERVER",
        help="Talk to this casecraft server (URL) instead of the database; see `casecraft login`.")] = None,
    at: Annotated[str | None, typer.Option(
        "--at", envvar="CASECRAFT_NOW",
        help="Act as if it were this time (ISO 8601; without an offset: Beijing time).")] = None,
    lang: Annotated[str | None, typer.Option(
        "--lang", envvar="CASECRAFT_LANG",
        help="Language of messages and help: zh (中文) or en (default: the locale, LANG=zh_CN.UTF-8 is Chinese).")
    ] = None,
) -> None:
    """Global options apply to every command."""
    from casecraft import i18n

    if lang is not None and i18n.normalise(lang) is None:
        raise typer.BadParameter(i18n._("{value!r} is not a language: use zh or en", value=lang),
                                 param_hint="'--lang'")
    st = State(db=db, workflow=workflow, at=at, server=server)
    from casecraft.cli import files

    files.standing_inputs(workflow)  # the workflow and key files are never an output, --force or not
    ctx.obj = st
    ctx.call_on_close(st.close)


@_core.command()
def init(ctx: typer.Context,
         sandbox: Annotated[bool, typer.Option(
             "--sandbox", help="A sandbox database (training, demos, tests): no logins, --at allowed; "
             "every command says so. Only for a new database.")] = False,
         admin: Annotated[str | None, typer.Option(
             "--admin", metavar="PERSON", help="The first admin of a new (production) database: a person with "
             "the admin role in the organisation file; their token is issued once (only while no admin holds "
             "one).")] = None,
         token_file: Annotated[str | None, typer.Option(
             "--token-file", help="Write the first admin's token to this file (mode 0600) instead of printing "
             "it.")] = None,
         force: Annotated[bool, typer.Option("--force", help="Replace the --token-file if it exists.")] = False,
         json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False) -> None:
    """Create or upgrade the database; on a new one publish the workflow and load the organisation.

    A new database is either a sandbox (--sandbox) or gets its first admin (--admin PERSON).
    """
    from casecraft.base.errors import InputError
    from casecraft.cli import render
    from casecraft.cli.auth import check_token_file, write_token
    from casecraft.store.db import safe_url

    if token_file is not None and not admin:
        raise InputError("--token-file goes with --admin PERSON")
    check_token_file(ctx, token_file, force)
    if not sandbox and not admin and not state(ctx).server_url():
        from casecraft.cli import files

        file = files.database_file(state(ctx).db)
        if file is not None and not file.exists():  # refuse before the file is made
            from casecraft.admin.auth import FIRST_ADMIN_NEEDED

            raise InputError(FIRST_ADMIN_NEEDED)
    eng = state(ctx).engine()
    counts = eng.init(sandbox=sandbox, admin=admin)
    token = info = None
    if admin:
        token, info = eng.bootstrap_admin(admin)
    if json_out:
        if info is not None and token is not None:
            counts["credential"] = info.id
            if token_file is None:
                counts["token"] = token
            else:
                write_token(ctx, token, token_file, force)
                counts["token_file"] = token_file
        render.print_json(counts)
        return
    render.line(_("database ready: {url}", url=safe_url(str(eng.store.engine.url))))
    render.line(_("workflow {id} version {version}; units added {units_added}, changed {units_changed}; "
                  "people added {people_added}, changed {people_changed}", id=eng.workflow.id,
                  version=counts["workflow_version"], units_added=counts["units_added"],
                  units_changed=counts["units_changed"], people_added=counts["people_added"],
                  people_changed=counts["people_changed"]))
    if info is not None and token is not None:
        if token_file is None:
            render.line(_("first admin {admin}: token {id} (shown once; keep it, e.g. in CASECRAFT_TOKEN):",
                          admin=admin, id=info.id), stderr=True)
        write_token(ctx, token, token_file, force)
        if token_file is not None:
            render.line(_("first admin {admin}: token {id} written to {path} (mode 0600)", admin=admin, id=info.id,
                          path=token_file))


@_core.command()
def demo(ctx: typer.Context,
         json_out: Annotated[bool, typer.Option("--json", help="Print the three cases as JSON.")] = False) -> None:
    """Run the worked example (three cases on one patrol) on an embedded SQLite database.

    Uses ./casecraft-demo.db (recreated on each run) unless --db is given.
    """

    from casecraft.base.clock import FixedClock
    from casecraft.cli import files, render
    from casecraft.demo import _at, run_demo
    from casecraft.engine import Engine

    st = state(ctx)
    db = st.db or files.demo_database()
    clock = FixedClock(_at(24, "08:30"))
    with Engine(db, st.workflow, clock) as eng:
        eng.init(sandbox=True)
        cases = run_demo(eng, clock)
        if json_out:
            render.print_json({"cases": {k: v.to_dict() for k, v in cases.items()},
                               "alerts": [a.to_dict() for a in eng.alerts()]})
            return
        titles = {"A": "案件A 非法小广告 — 网格自处置", "B": "案件B 店外经营 (96005热线) — 网格自协调处置",
                  "C": "案件C 消防安全隐患 — 社区、街道安全办协调处置"}
        for letter, case in cases.items():
            render.timeline(case, _("{title} (case {case}: {state})", title=titles[letter], case=case.id,
                                    state=case.state_label))
        raised = eng.alerts()
        if raised:
            render.line(_("告警 alerts raised during the morning (the superior platform sees overdue steps):"))
            render.alert_list(raised)
        closed = sum(1 for c in cases.values() if not c.open)
        render.line(_("{closed} of {total} cases closed; database {db}", closed=closed, total=len(cases), db=db))


_VALUED = ("--db", "--workflow", "--server", "--at")  # the global options that take a value


def _command_at(argv: list[str]) -> int | None:
    """Where the command or group is named on the command line after the global options (None: anything else)."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _VALUED:
            i += 2
        elif arg.startswith(tuple(f"{o}=" for o in _VALUED)):
            i += 1
        elif arg.startswith("-"):
            return None
        else:
            return i
    return None


def _for(argv: list[str]) -> App:
    """The application as far as this command line needs it.

    Typer turns every registered command into a Click command (reading each signature) before it
    dispatches; with well over a hundred commands that is a noticeable share of a command's start-up.
    So the command line's own group or command is registered alone beside the global options (and
    within a group, the command it names; see ``_within``), its module the only one of the command
    line's parts imported (``_PARTS``), and ``casecraft --help`` lists the groups
    without building their commands; every other command line
    (a mistyped name, options before it that are not global) gets the whole application. The help
    and messages are the same either way (tests/test_startup.py compares them).
    """
    at = _command_at(argv)
    if at is None:
        return _overview() if argv in ([], ["--help"]) else _app()
    name = argv[at]
    if name not in _NAMES:
        return _app()
    small = _build({name})
    small.registered_groups = [_within(g, argv[at + 1:]) for g in small.registered_groups]
    return small


def _within(group: TyperInfo, argv: list[str]) -> TyperInfo:
    """``group`` as far as the rest of the command line needs it: the command (or sub-group, pruned the
    same way) it names first, alone; the whole group when the line names none of them first (its
    help, an option, a mistyped name) or when the group has options of its own."""
    sub = group.typer_instance
    if sub is None or group.callback or sub.registered_callback or sub.info.callback:
        return group
    name = argv[0] if argv and not argv[0].startswith("-") else None
    if name is None:
        return group
    groups = [g for g in sub.registered_groups if g.name == name]
    commands = [c for c in sub.registered_commands if _name(c) == name]
    if not groups and not commands:
        return group
    stub = App()
    stub.info = sub.info
    stub.registered_groups = [_within(g, argv[1:]) for g in groups]
    stub.registered_commands = commands
    pruned = copy.copy(group)
    pruned.typer_instance = stub
    return pruned


def _name(command: CommandInfo) -> str:
    return command.name or typer.main.get_command_name(command.callback.__name__ if command.callback else "")


# every name a command line may start with
_NAMES = frozenset([name for name, _group, _where in _PARTS] + [_name(c) for c in _core.registered_commands])


def _overview() -> App:
    """The application for ``casecraft --help``: each group with its help text but without its commands, each
    command with its name and help but without its options (Typer reads every option of a command it builds)."""
    whole = _app()
    small = App(**_SETTINGS)
    small.registered_callback = whole.registered_callback
    small.registered_commands = [_listed(c) for c in whole.registered_commands]
    for g in whole.registered_groups:
        stub = App()
        if g.typer_instance is not None:
            stub.info = g.typer_instance.info
        listed = copy.copy(g)
        listed.typer_instance = stub
        small.registered_groups.append(listed)
    return small


def _listed(command: CommandInfo) -> CommandInfo:
    """``command`` as the overview lists it: its name and help, no options, a callback never run."""

    def listed() -> None:
        raise AssertionError("only listed by `casecraft --help`")

    listed.__doc__ = command.callback.__doc__ if command.callback else None
    stub = copy.copy(command)
    stub.name = _name(command)
    stub.callback = listed
    return stub


def main() -> None:
    """Entry point of the `casecraft` command."""
    import gc

    from casecraft.cli.app import starting

    starting()  # no garbage collection while the command starts (see casecraft.cli.app.started)
    try:
        _for(sys.argv[1:])()
    finally:
        gc.freeze()  # the process ends: no last collection over everything it imported


__all__ = ["State", "app", "main"]
