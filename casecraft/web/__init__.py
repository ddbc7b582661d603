"""The web workbench served by ``casecraft serve`` at ``/web``: pages for each platform over the same engine.

Server-rendered (Jinja2) with htmx for partial updates (vendored in ``static/``
with its licence, never loaded from a CDN). A person logs in with their
password; a signed session cookie (HttpOnly, SameSite) is checked against the
database on every request, every POST carries a CSRF token, and every page acts
through ``engine.bound(person)``, so the rules are the API's. See docs/web.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from casecraft.web.common import PREFIX

HERE = Path(__file__).resolve().parent


def mount(app: Any) -> None:
    """Add the workbench's pages and static files to the server's app under ``/web``."""
    from fastapi import APIRouter
    from starlette.responses import RedirectResponse
    from starlette.staticfiles import StaticFiles

    from casecraft.web import board, cases, login, more

    router = APIRouter(include_in_schema=False)
    for part in (login.router, cases.router, board.router, more.router):
        router.include_router(part)
    router.add_api_route("/{rest:path}", cases.not_found, methods=["GET", "POST"])  # last: the rest is HTML 404
    _html_errors(app)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=str(HERE / "static")), name="web-static")  # before the 404
    app.include_router(router, prefix=PREFIX)

    async def home() -> RedirectResponse:
        return RedirectResponse(PREFIX + "/", status_code=307)

    app.add_api_route(PREFIX, home, methods=["GET"], include_in_schema=False)


def _html_errors(app: Any) -> None:
    """Under /web, malformed requests (a bad id, a wrong method, a form that cannot be read) are answered with a
    page, not a problem document."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    from casecraft.base.errors import CasecraftError, InputError, NotFound
    from casecraft.web.common import error_page

    # CasecraftError: refusals raised before a page's own handling (a form that cannot be read: too many
    # photos or fields) are pages too, in the viewer's language
    for kind in (RequestValidationError, HTTPException, CasecraftError):
        api_handler = app.exception_handlers.get(kind)

        async def handler(request: Any, exc: Exception, _api: Any = api_handler) -> Any:
            path = request.url.path
            if not path.startswith(PREFIX + "/") or path.startswith(PREFIX + "/static/") or _api is None:
                return await _api(request, exc)
            if isinstance(exc, CasecraftError):
                err: Any = exc
            elif isinstance(exc, HTTPException) and exc.status_code == 404:
                err = NotFound("no such page: {path}", path=path)
            elif isinstance(exc, HTTPException) and exc.status_code == 405:
                err = InputError("this page does not take a {method} request: {path}", method=request.method,
                                 path=path)
                err.code = "http_405"
            elif isinstance(exc, HTTPException):
                err = InputError("{detail}", detail=str(exc.detail))
                err.code = "http_" + str(exc.status_code)
            else:
                err = InputError("this address is not valid: {path}", path=path)
            out = error_page(request, err)
            if isinstance(exc, HTTPException) and exc.status_code != 404:
                out.status_code = exc.status_code
            return out

        app.add_exception_handler(kind, handler)


__all__ = ["PREFIX", "mount"]
