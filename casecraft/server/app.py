"""The ASGI application: the operators' API over one :class:`~casecraft.engine.Engine` per process.

    from casecraft import Engine
    from casecraft.server import create_app
    app = create_app(Engine("postgresql+psycopg://..."))

The engine is synchronous; each call runs in the threadpool (see docs/server.md
for why not a process pool). Nothing another process needs is kept in memory:
every request's token is checked in the database, and the engine's caches
revalidate against the database in every unit of work.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from casecraft import __version__
from casecraft.base.errors import CasecraftError, InputError, NotFound
from casecraft.engine import Engine
from casecraft.server import bodies
from casecraft.server.common import JSON, call
from casecraft.server.problems import PROBLEM_SCHEMA, problem_response
from casecraft.server.security import Buckets, RateLimit, log, log_refusal

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]
MiB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """Tunables of one app.

    Attributes:
        sse_poll: seconds between the alert stream's database polls.
        sse_heartbeat: seconds between heartbeats (and token re-checks) of an idle stream.
        sse_retry: the reconnection delay the stream suggests to clients.
        max_body: the largest request body accepted (20 photos of 20 MiB and the form around them).
    """

    sse_poll: float = 1.0
    sse_heartbeat: float = 15.0
    sse_retry: float = 3.0
    max_body: int = 20 * 20 * MiB + MiB


class TooLarge(CasecraftError):
    code = "too_large"
    exit_code = 2


class BodyLimit:
    """Refuse a request body larger than ``limit`` bytes, whether announced or streamed (HTTP 413)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _Overflow()
            return message

        try:
            await self.app(scope, counted, send)
        except _Overflow:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Any, send: Any) -> None:
        exc = TooLarge("the request body is larger than {limit} MiB", limit=self.limit // MiB)
        await problem_response(exc, None)(scope, receive, send)


class _Overflow(Exception):
    pass


class _NoQueryString(logging.Filter):
    """Drop the query string from uvicorn's access-log lines: it may carry an Open311 ``api_key`` (a person's
    token) or a citizen's words; the method, path and status stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (args[0], args[1], args[2].partition("?")[0], args[3], args[4])
        return True


def hide_query_strings() -> None:
    """Install :class:`_NoQueryString` on uvicorn's access logger (once per process; however uvicorn is run)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _NoQueryString) for f in access.filters):
        access.addFilter(_NoQueryString())


def _handlers(app: FastAPI) -> None:
    async def casecraft_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CasecraftError)
        response = problem_response(exc, request)
        if response.status_code in (401, 403, 429):
            log_refusal(request, exc)
        if response.status_code == 429:
            response.headers["Retry-After"] = str(exc.details.get("retry_after", 1))
        return response

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return problem_response(InputError("invalid request: {problems}", problems=problems), request)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            err: CasecraftError = NotFound("no such resource: {path}", path=request.url.path)
        elif exc.status_code == 405:
            err = CasecraftError("{method} is not a method of {path}; it has {allowed}", method=request.method,
                                 path=request.url.path, allowed=(exc.headers or {}).get("Allow", "-"),
                                 error_code="method_not_allowed")
        else:
            err = CasecraftError("{detail}", detail=str(exc.detail), error_code="http_" + str(exc.status_code))
        return problem_response(err, request, headers=dict(exc.headers or {}), status=exc.status_code)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("internal error on %s %s: %s", request.method, request.url.path, type(exc).__name__,
                  exc_info=(type(exc), exc, exc.__traceback__))
        return problem_response(CasecraftError("internal error; the server log has the details"), request)

    app.add_exception_handler(CasecraftError, casecraft_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            schemas["Problem"] = PROBLEM_SCHEMA
            for model in (bodies.ReportIn, bodies.FireIn, bodies.NoteIn, bodies.OptionalNoteIn, bodies.ExtensionIn,
                          bodies.LogIn, bodies.SearchIn):
                schemas[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
            # the bodies read by hand are documented by openapi_extra; search's body too
            search = doc["paths"].get("/cases/search", {}).get("post")
            if search is not None:
                search["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/SearchIn"}}}}
            app.openapi_schema = doc
        return app.openapi_schema

    return build


DEFAULT_RATE_LIMIT = RateLimit()


def create_app(engine: Engine, *, rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT, oidc: Any = None,
               settings: Settings | None = None, close_engine: bool = False, web: bool = True) -> FastAPI:
    """The API over ``engine`` (one per process; each request acts through ``engine.bound(person)``).

    Args:
        engine: the process's engine; the caller owns (and closes) it.
        rate_limit: the per-token limit of this process, or None for none.
        oidc: an :class:`casecraft.server.oidc.OIDC` to accept a provider's ID tokens, or None.
        settings: stream and body tunables.
        close_engine: close the engine when the app shuts down (the app owns it: ``casecraft serve``).
        web: mount the web workbench (:mod:`casecraft.web`) at ``/web``.
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if close_engine:
                engine.close()

    app = FastAPI(title="casecraft", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="The operators' API of casecraft: tiered case management for urban grid governance "
                              "(网格化社会服务管理). Every route but /health and /openapi.json needs "
                              "`Authorization: Bearer <token>`; errors are application/problem+json (RFC 9457).")
    app.state.engine = engine
    app.state.settings = settings or Settings()
    app.state.buckets = Buckets(rate_limit) if rate_limit is not None else None
    app.state.oidc = oidc
    hide_query_strings()
    _handlers(app)

    @app.get("/health", tags=["service"], summary="Liveness and database reachability (no authentication)")
    async def health() -> JSON:
        def ping() -> None:
            with engine.ctx.read():
                pass

        await call(ping)
        return JSON({"status": "ok", "version": __version__})

    from casecraft.server import routes_alerts, routes_cases, routes_other

    app.include_router(routes_cases.router)
    app.include_router(routes_alerts.router)
    app.include_router(routes_other.router)
    if oidc is not None:
        app.include_router(oidc.router())
    if importlib.util.find_spec("casecraft.server.open311") is not None:
        from casecraft.server.open311 import router as open311_router

        app.include_router(open311_router)
    if web and importlib.util.find_spec("casecraft.web") is not None:
        # the workbench sits above the server (it reuses the server's helpers): a plug-in, found at run time
        importlib.import_module("casecraft.web").mount(app)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    app.add_middleware(BodyLimit, limit=app.state.settings.max_body)
    logging.getLogger("casecraft.server").debug("app ready")
    return app


__all__ = ["Settings", "create_app"]
