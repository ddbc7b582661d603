"""Logging in to the workbench with a password, and out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from casecraft import i18n
from casecraft.admin.auth import check_password
from casecraft.base.errors import CasecraftError
from casecraft.server.security import RateLimited
from casecraft.web import session
from casecraft.web.common import PREFIX, handle, read_form, render, text, web_language

router = APIRouter(include_in_schema=False)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _next(value: str | None) -> str:
    # only a page of the workbench: never an open redirect
    if value and value.startswith(PREFIX + "/") and not value.startswith("//") and "\\" not in value:
        return value
    return PREFIX + "/"


# the login page's refusals (a wrong person and a wrong password get the same answer)
WRONG = i18n.N_("wrong account or password")
TOO_MANY = i18n.N_("too many attempts; wait a moment and try again")
EXPIRED = i18n.N_("the login page expired; enter your account and password again")
NO_OIDC = i18n.N_("single sign-on is not configured")
OIDC_DOWN = i18n.N_("single sign-on is unavailable now; log in with your password")
OIDC_FAILED = i18n.N_("single sign-on failed; try again or log in with your password")


def _form(request: Request, error: str | None = None, status: int = 200, person: str = "") -> Response:
    token = session.login_token()
    if error:
        error = i18n.gettext(error, web_language(request))
    out = render(request, "login.html", {"viewer": None, "csrf": token, "error": error, "person": person,
                                         "next": _next(request.query_params.get("next")),
                                         "oidc": _oidc(request) is not None}, status=status)
    out.set_cookie(session.LOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                   secure=_secure(request), path=PREFIX)
    return out


@router.get("/login")
async def login_form(request: Request) -> Response:
    return _form(request)


@router.post("/login")
async def login(request: Request) -> Response:
    engine = request.app.state.engine
    async with read_form(request) as (form, _):
        person, password = text(form, "person") or "", form.get("password")
        try:
            session.check_login_token(request.cookies.get(session.LOGIN_COOKIE), text(form, "csrf"))
            buckets = request.app.state.buckets
            if buckets is not None and buckets.take("login:" + person) > 0:
                raise RateLimited("too many login attempts; wait a moment")

            def check() -> str:
                principal = check_password(engine.ctx, person, password if isinstance(password, str) else "")
                return session.issue(engine, principal.credential_id)

            cookie = await run_in_threadpool(check)
        except CasecraftError as exc:
            status = 429 if exc.code == "rate_limited" else (403 if exc.code == "csrf" else 401)
            message = {"rate_limited": TOO_MANY, "csrf": EXPIRED}.get(exc.code, WRONG)
            return _form(request, message, status, person)
    out = RedirectResponse(_next(text(form, "next")), status_code=303)
    out.set_cookie(session.COOKIE, cookie, max_age=session.MAX_AGE, httponly=True, samesite="lax",
                   secure=_secure(request), path=PREFIX)
    out.delete_cookie(session.LOGIN_COOKIE, path=PREFIX)
    return out


def _oidc(request: Request) -> Any:
    oidc = request.app.state.oidc
    return oidc if oidc is not None and getattr(oidc, "client_secret", None) else None


@router.get("/login/oidc")
async def oidc_login(request: Request) -> Response:
    """Log in through the organisation's identity provider (when the server is configured for one)."""
    oidc = _oidc(request)
    if oidc is None:
        return _form(request, NO_OIDC, 404)
    callback = str(request.url_for("web_oidc_callback"))
    try:
        target = await run_in_threadpool(oidc.login_url, callback)
    except CasecraftError:
        return _form(request, OIDC_DOWN, 503)
    return RedirectResponse(target, status_code=303)


@router.get("/login/oidc/callback", name="web_oidc_callback")
async def oidc_callback(request: Request, code: str = "", state: str = "") -> Response:
    oidc, engine = _oidc(request), request.app.state.engine
    if oidc is None:
        return _form(request, NO_OIDC, 404)

    def finish() -> str:
        done = oidc.finish(code, state, str(request.url_for("web_oidc_callback")))
        principal = oidc.authenticate(engine, done["id_token"])  # a person of the organisation, active
        return session.issue_oidc(oidc, principal.person_id, done.get("expires_at"))

    try:
        cookie = await run_in_threadpool(finish)
    except CasecraftError:
        return _form(request, OIDC_FAILED, 401)
    out = RedirectResponse(PREFIX + "/", status_code=303)
    out.set_cookie(session.COOKIE, cookie, max_age=session.MAX_AGE, httponly=True, samesite="lax",
                   secure=_secure(request), path=PREFIX)
    return out


@router.post("/logout")
async def logout(request: Request) -> Response:
    async with read_form(request) as (form, _):
        from casecraft.web.common import Redirect

        response = await handle(request, lambda v, eng: Redirect(f"{PREFIX}/login"), csrf=text(form, "csrf"),
                                post=True)
    if response.status_code == 401:  # the session had ended already: nothing to protect, just forget it
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    if response.status_code == 303:
        response.delete_cookie(session.COOKIE, path=PREFIX)
    return response


__all__ = ["router"]
