"""The Typer application, its global options and the one place errors are translated."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import typer

from casecraft.base.errors import CasecraftError


def _translate(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Map a CasecraftError to a message on stderr and its exit code; never a traceback.

    A file the operating system refuses (a folder given for a file, a missing or
    unreadable path) that no command turned into an InputError is reported the
    same way, exit 2, naming the file.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CasecraftError as exc:
            _discard_new_database(kwargs.get("ctx"))
            from casecraft import i18n
            from casecraft.base.errors import WorkflowError
            from casecraft.cli import render

            if isinstance(exc, WorkflowError):
                render.problems(exc.problems)
                render.message((i18n._("{count} problem(s)", count=len(exc.problems)), "red"),
                               i18n._("; fix them and run `casecraft workflow validate` again"), stderr=True)
            else:
                from casecraft.cli.words import cli_template

                render.error(i18n.error_message(exc, template=cli_template(exc.template)), exc.exit_code)
            raise typer.Exit(exc.exit_code) from None
        except OSError as exc:
            if isinstance(exc, BrokenPipeError) or exc.filename is None:
                raise  # a closed pipe is Typer's to handle; an OSError without a file is not a user's mistake
            _discard_new_database(kwargs.get("ctx"))
            from casecraft import i18n
            from casecraft.base.errors import InputError
            from casecraft.cli import render

            err = InputError("cannot use {file!r}: {reason}", file=str(exc.filename),
                             reason=exc.strerror or type(exc).__name__)
            render.error(i18n.error_message(err), err.exit_code)
            raise typer.Exit(err.exit_code) from None

    return wrapper


def _discard_new_database(ctx: Any) -> None:
    """A failed command's new SQLite file removed (see :meth:`State.discard_new_database`); ``ctx``: the
    command's Typer context (commands that open the database take one)."""
    find = getattr(ctx, "find_object", None)  # Typer's context (its own Click's)
    st = find(State) if find is not None else None
    if st is not None:
        st.discard_new_database()


class App(typer.Typer):
    """A Typer whose commands translate casecraft errors centrally."""

    def command(  # type: ignore[override]
            self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        register = super().command(*args, **kwargs)

        def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
            register(_translate(fn))
            return fn

        return decorator


# Start-up without the garbage collector. A command's process imports some 100,000 objects (SQLAlchemy, Typer,
# the engine), none of them garbage, and the collector passes over all of them again and again as they grow
# (and once more at exit): a fifth to a third of a short command's CPU time. So `main` turns it off while a
# command starts; once its heavy imports are done (the engine made: `started`), the objects imported so far
# are frozen (never traversed again) and collection resumes for what the command itself allocates, so a long
# run (`serve`, `scheduler run`, a bulk import) collects as usual. Only the `casecraft` process does this,
# never a program that uses the Typer app in its own process (tests).
_gc_paused = False


def starting() -> None:
    """The command line's process begins: no collection until :func:`started` (called by ``main`` only)."""
    import gc

    global _gc_paused
    if gc.isenabled():
        gc.disable()
        _gc_paused = True


def started() -> None:
    """The command's start-up is done: freeze what it imported and collect as usual from here on."""
    global _gc_paused
    if _gc_paused:
        import gc

        _gc_paused = False
        gc.freeze()
        gc.enable()


@dataclass
class State:
    """Global options, and the engine made from them on first use."""

    db: str | None = None
    workflow: str | None = None
    at: str | None = None
    server: str | None = None
    _engine: Any = field(default=None, repr=False)
    _clock: Any = field(default=None, repr=False)
    _new_file: Any = field(default=None, repr=False)  # the SQLite file this command is about to create, if any

    @property
    def clock(self) -> Any:
        if self._clock is None:
            from casecraft.base.clock import FixedClock, SystemClock, parse_time

            at = self.at or os.environ.get("CASECRAFT_NOW")
            self._clock = FixedClock(parse_time(at)) if at else SystemClock()
        return self._clock

    def server_url(self) -> str | None:
        """The server to talk to (``--server`` or ``CASECRAFT_SERVER``), or None for direct database mode."""
        return self.server or os.environ.get("CASECRAFT_SERVER") or None

    def engine(self) -> Any:
        if self._engine is None:
            server = self.server_url()
            if server:
                from casecraft.client.connect import connect

                self._engine = connect(server, at=self.at or os.environ.get("CASECRAFT_NOW"))
            else:
                from casecraft.cli import files
                from casecraft.engine import Engine

                file = files.database_file(self.db)
                self._new_file = file if file is not None and not file.exists() else None
                self._engine = Engine(self.db, self.workflow, self.clock)
            started()
            _say_if_sandbox(self._engine)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def discard_new_database(self) -> None:
        """After a failed command: remove the SQLite file (and its journal files) it created, so that a typo in
        ``--db`` or a refused ``init`` leaves no empty database behind. A file that was there before is kept."""
        file, self._new_file = self._new_file, None
        if file is None:
            return
        self.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.unlink(str(file) + suffix)
            except OSError:
                pass  # not made, or not ours to remove: nothing more to do


def _say_if_sandbox(engine: Any) -> None:
    """On a terminal, say on stderr that the database is a sandbox (no logins, any clock).

    Only when stderr is a terminal: in pipes, cron and tests every output stays as it was.
    """
    import sys

    try:
        if not sys.stderr.isatty():
            return
    except (AttributeError, ValueError, OSError):
        return
    try:
        sandbox = bool(engine.sandbox)
    except CasecraftError:
        return  # the command itself will say what is wrong with the database
    if sandbox:
        from casecraft.cli import render

        render.line("sandbox database: nobody logs in and --at/CASECRAFT_NOW set the clock; not for real work "
                    "(a real database is made with `casecraft init --admin PERSON`)", stderr=True, style="yellow")


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    assert isinstance(obj, State)
    return obj
