"""`casecraft serve`: the operators' API over HTTP on this database."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from casecraft.cli.app import started, state
from casecraft.i18n import _


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (put a TLS reverse proxy in front "
                                                     "for anything beyond this machine).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8340,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes (each with its own engine).")] = 1,
    rate_limit: Annotated[str | None, typer.Option(
        "--rate-limit", envvar="CASECRAFT_RATE_LIMIT",
        help="Requests per second per token and worker: RATE/BURST (default 50/100), or off.")] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="critical | error | warning | info | debug")] = "info",
) -> None:
    """Serve the operators' API (FastAPI on uvicorn) until Ctrl-C; every request needs a person's token.

    Several `serve` and `scheduler run` processes may share one PostgreSQL database (see docs/server.md).
    """
    from casecraft.base.errors import InputError
    from casecraft.cli import render
    from casecraft.server.asgi import oidc_from_env, rate_limit_from

    st = state(ctx)
    if st.at or os.environ.get("CASECRAFT_NOW"):
        raise InputError("--at/CASECRAFT_NOW does not apply to serve: the server records the time of each request")
    if workers < 1:
        raise InputError("--workers must be 1 or more")
    if not 0 < port < 65536:
        raise InputError("--port must be between 1 and 65535")
    log_level = log_level.strip().lower()
    if log_level not in ("critical", "error", "warning", "info", "debug"):
        raise InputError("--log-level must be one of critical, error, warning, info, debug")
    rate_limit_from(rate_limit)  # refuse a bad value before starting
    oidc_from_env()
    from casecraft.engine import Engine
    from casecraft.store.db import safe_url

    # fail now, not at the first request, when the database is unreachable or not initialised
    with Engine(st.db, st.workflow, token="") as eng:
        _vid, number = eng.current_version()
        shown = safe_url(str(eng.store.engine.url))
        sandbox = eng.sandbox
    if st.db:
        os.environ["CASECRAFT_DB"] = st.db
    if st.workflow:
        os.environ["CASECRAFT_WORKFLOW"] = st.workflow
    if rate_limit is not None:
        os.environ["CASECRAFT_RATE_LIMIT"] = rate_limit
    import uvicorn

    started()  # a server runs for long: collect garbage as usual from here on
    from uvicorn.config import LOGGING_CONFIG

    log_config = {**LOGGING_CONFIG, "loggers": {**LOGGING_CONFIG["loggers"], "casecraft": {
        "handlers": ["default"], "level": log_level.upper(), "propagate": False}}}
    render.line(_("serving {db} (workflow v{number}{sandbox}) on http://{host}:{port} with {workers} worker(s); "
                  "Ctrl-C to stop", db=shown, number=number, sandbox=_(", sandbox") if sandbox else "", host=host,
                  port=port, workers=workers))
    uvicorn.run("casecraft.server.asgi:create_from_env", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, log_config=log_config, proxy_headers=True, server_header=False,
                timeout_graceful_shutdown=10)  # open alert streams never end by themselves


__all__ = ["serve"]
