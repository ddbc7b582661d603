"""What the workbench's pages share: templates, the session check in the engine's hop, forms, error pages.

Every page runs one function in the threadpool: the session cookie is checked
against the database there (:func:`casecraft.web.session.viewer`), then the
page's engine calls are made by ``engine.bound(person)``, so every page is
judged by the same rules as the API (the engine refuses with the same errors).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache, partial
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from casecraft import i18n
from casecraft.attachments import MAX_PER_STEP
from casecraft.base.errors import CasecraftError, InputError
from casecraft.base.text import MAX_ID
from casecraft.engine import Engine
from casecraft.server.bodies import save_upload
from casecraft.server.problems import status_for
from casecraft.web import session
from casecraft.web.session import Viewer

HERE = Path(__file__).resolve().parent
PREFIX = "/web"

LANG_COOKIE = "casecraft_lang"
LANG_PARAM = "lang"


def local(value: datetime | None, tz: str = "Asia/Shanghai", fmt: str = "%m-%d %H:%M") -> str:
    """A stored (UTC) time shown in the workflow's timezone."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(tz)).strftime(fmt)


@pass_context
def _local_in_page(ctx: Any, value: datetime | None, tz: str = "Asia/Shanghai", fmt: str | None = None) -> str:
    """The templates' ``local`` filter: without a format, month and day when the time falls in the page's
    current year (the engine's clock, ``now`` in the page's context), with the year when it does not (a due date
    after New Year, an old alert)."""
    if value is None:
        return ""
    if fmt is None:
        now = ctx.get("now")
        shown = value.astimezone(ZoneInfo(tz))
        same = isinstance(now, datetime) and now.astimezone(ZoneInfo(tz)).year == shown.year
        fmt = "%m-%d %H:%M" if same else "%Y-%m-%d %H:%M"
    return local(value, tz, fmt)


def span(seconds: float | timedelta | None, lang: str = i18n.CHINESE) -> str:
    """A duration: 2天3小时, 45分钟 (``2d 3h``, ``45m`` in English)."""
    if seconds is None:
        return ""
    s = int(abs(seconds.total_seconds() if isinstance(seconds, timedelta) else seconds))
    d, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m = rest // 60
    if lang != i18n.CHINESE:
        return " ".join(p for p in (f"{d}d" if d else "", f"{h}h" if h else "", f"{m}m" if m and not d else "")
                        if p) or "under 1m"
    parts = [f"{d}天" if d else "", f"{h}小时" if h else "", f"{m}分钟" if m and not d else ""]
    return "".join(parts) or "不足1分钟"


def labelled(label: str | None, ident: str | None, lang: str = i18n.CHINESE) -> str:
    """A workflow's label (its data, Chinese) as a reader of ``lang`` wants it: the label in Chinese,
    the label with its English id beside it otherwise (``网格处置中 (grid_handling)``, as the CLI shows it)."""
    if not ident:
        return label or ""
    if lang == i18n.CHINESE or not label or label == ident:
        return label or ident
    return f"{label} ({ident})"


def tier(label: str | None, ident: str | None, lang: str = i18n.CHINESE) -> str:
    """A tier (a level): the workflow's label in Chinese; in English the catalogue's word when casecraft knows
    the tier (``grid``), else the label with its id."""
    if lang != i18n.CHINESE and ident in i18n.TIERS:
        return i18n.word(i18n.TIERS, ident, lang)
    return labelled(label, ident, lang)


@lru_cache(maxsize=len(i18n.LANGUAGES))
def environment(lang: str) -> Environment:
    """The templates in one language: one Environment per language, built once and never changed after.

    Requests render concurrently, so no request installs translations into a shared environment;
    each picks the (immutable) environment of its language.
    """
    out = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    out.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    out.filters["local"] = _local_in_page
    out.filters["span"] = partial(span, lang=lang)
    out.globals["PREFIX"] = PREFIX
    out.globals["LANG"] = lang
    out.globals["HTML_LANG"] = "zh-CN" if lang == i18n.CHINESE else "en"
    out.globals["COLON"] = "：" if lang == i18n.CHINESE else ": "
    out.globals["labelled"] = partial(labelled, lang=lang)
    out.globals["paren"] = partial(paren, lang=lang)
    out.globals["tier"] = partial(tier, lang=lang)
    out.globals["roles"] = partial(roles, lang=lang)
    out.globals["alert_kind"] = lambda kind: i18n.word(i18n.ALERT_KINDS, kind, lang)
    out.globals["alert_message"] = partial(alert_message, lang=lang)
    return out




def alert_message(alert: Any, lang: str = i18n.CHINESE) -> str:
    """An alert's text for the board in ``lang`` (see :func:`casecraft.i18n.alert_text`)."""
    return i18n.alert_text(alert, lang)


def paren(text: str, lang: str = i18n.CHINESE) -> str:
    """An aside in brackets as each language writes it: ``（社区）`` / `` (community)``."""
    if not text:
        return ""
    return f"（{text}）" if lang == i18n.CHINESE else f" ({text})"


def roles(ids: Any, labels: Any, lang: str = i18n.CHINESE) -> str:
    """A person's roles: ``网格长、平台操作员`` / ``网格长 (grid_leader), 平台操作员 (operator)``."""
    if lang == i18n.CHINESE:
        return "、".join(labels)
    return ", ".join(labelled(label, ident, lang) for ident, label in zip(ids, labels, strict=False))


@dataclass
class Page:
    """What a page function returns: a template and its context (status for refusals shown as pages)."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Redirect:
    url: str


@dataclass
class Raw:
    body: bytes
    media_type: str
    headers: dict[str, str] = field(default_factory=dict)


def render(request: Request, template: str, context: dict[str, Any], status: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:
    """A page in the request's language (:func:`web_language`); a ``?lang=`` choice is kept in a cookie."""
    lang = web_language(request)
    engine = getattr(request.app.state, "engine", None)
    page = {"now": engine.now() if engine is not None else None, **context}  # the clock the engine keeps
    html = environment(lang).get_template(template).render(request=request, switch=language_links(request, lang),
                                                           **page)
    out = HTMLResponse(html, status_code=status, headers=headers)
    out.headers["Cache-Control"] = "no-store"
    out.headers["X-Content-Type-Options"] = "nosniff"
    out.headers["X-Frame-Options"] = "DENY"
    out.headers["Referrer-Policy"] = "same-origin"
    out.headers["Content-Language"] = "zh-CN" if lang == i18n.CHINESE else "en"
    out.headers["Vary"] = "Accept-Language, Cookie"
    chosen = i18n.normalise(request.query_params.get(LANG_PARAM))
    if chosen is not None and chosen != i18n.normalise(request.cookies.get(LANG_COOKIE)):
        out.set_cookie(LANG_COOKIE, "zh" if chosen == i18n.CHINESE else "en", max_age=365 * 86400, httponly=True,
                       samesite="lax", secure=request.url.scheme == "https", path=PREFIX)
    return out


def web_language(request: Request) -> str:
    """The workbench's language: the operator's choice (``?lang=zh|en``, kept in a cookie), else the browser's.

    From ``Accept-Language`` (read as the API reads it, :func:`casecraft.i18n.from_accept_language`):
    English when the browser puts English before Chinese; otherwise Chinese, the operators' language,
    also for a browser that asks for no language casecraft has (``fr``, ``*``) or for none at all.
    The API, by contrast, answers English by default.
    """
    for choice in (request.query_params.get(LANG_PARAM), request.cookies.get(LANG_COOKIE)):
        lang = i18n.normalise(choice)
        if lang is not None:
            return lang
    header = request.headers.get("accept-language")
    if header and i18n.from_accept_language(header) == i18n.ENGLISH and any(
            i18n.normalise(part.split(";", 1)[0]) == i18n.ENGLISH for part in header.split(",")):
        return i18n.ENGLISH
    return i18n.CHINESE


def language_links(request: Request, lang: str) -> list[dict[str, Any]]:
    """The language switch: this page's address in each language (its other parameters kept)."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != LANG_PARAM]
    out = []
    for code, name, tag in (("zh", "中文", "zh-CN"), ("en", "English", "en")):
        query = urlencode([*kept, (LANG_PARAM, code)])
        out.append({"href": f"{request.url.path}?{query}", "name": name, "tag": tag,
                    "current": i18n.normalise(code) == lang})
    return out


def message_for(exc: CasecraftError, request: Request) -> str:
    """An engine error's message for a workbench page, translated at this edge (see :func:`web_language`)."""
    return i18n.error_message(exc, web_language(request))


def error_page(request: Request, exc: CasecraftError, viewer: Viewer | None = None) -> Response:
    """A refusal or failure as a page (the same status the API gives)."""
    code = exc.code
    if code == "unauthenticated" and request.method == "GET":
        chosen = i18n.normalise(request.query_params.get(LANG_PARAM))  # a language asked for survives the login
        keep = f"&{LANG_PARAM}={'zh' if chosen == i18n.CHINESE else 'en'}" if chosen else ""
        return RedirectResponse(f"{PREFIX}/login?next={quote(request.url.path)}{keep}", status_code=303)
    status = 403 if code == "csrf" else status_for(code, exc)
    return render(request, "error.html", {"viewer": viewer, "status": status, "message": message_for(exc, request),
                                          "code": code}, status=status)


def engine_of(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


async def handle(request: Request, work: Callable[[Viewer, Engine], Page | Redirect | Raw], *,
                 csrf: str | None = None, post: bool = False) -> Response:
    """Check the session (and on a POST its CSRF token), run ``work`` as the person, answer with its page."""
    engine = engine_of(request)
    cookie = request.cookies.get(session.COOKIE)
    seen: list[Viewer] = []
    lang = web_language(request)

    def run() -> Page | Redirect | Raw:
        before = i18n.current()
        i18n.set_language(lang)  # the page's own labels (i18n._, i18n.word) in the request's language
        try:
            v = session.viewer(engine, cookie, oidc=request.app.state.oidc)
            seen.append(v)
            if post:
                session.check_csrf(v, csrf)
            return work(v, engine.bound(v.person_id))
        finally:
            i18n.set_language(before)

    try:
        out = await run_in_threadpool(run)
    except CasecraftError as exc:
        return error_page(request, exc, seen[0] if seen else None)
    if isinstance(out, Redirect):
        return RedirectResponse(out.url, status_code=303)
    if isinstance(out, Raw):
        return Response(out.body, media_type=out.media_type, headers={"Cache-Control": "no-store", **out.headers})
    ctx = {"viewer": seen[0], **out.context}
    return render(request, out.template, ctx, status=out.status, headers=out.headers)


@asynccontextmanager
async def read_form(request: Request) -> AsyncIterator[tuple[FormData, list[str]]]:
    """The posted form and the paths of its non-empty uploads (a private 0700 directory, removed afterwards)."""
    tmp: str | None = None
    try:
        try:
            form = await request.form(max_files=MAX_PER_STEP + 1, max_fields=200)
        except Exception as exc:  # starlette's own errors for broken or oversized forms
            raise InputError("the form cannot be read: {reason}", reason=str(exc)) from None
        paths: list[str] = []
        uploads = [u for k in ("photos", "file") for u in form.getlist(k)
                   if isinstance(u, UploadFile) and u.filename]
        if len(uploads) > MAX_PER_STEP:
            raise InputError("at most {limit} attachments per step", limit=MAX_PER_STEP)
        if uploads:
            tmp = tempfile.mkdtemp(prefix="casecraft-web-")
            for i, up in enumerate(uploads):
                paths.append(await save_upload(up, Path(tmp), i))
        yield form, paths
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def whole(value: str | None) -> int | None:
    """A form's whole number as the databases store it (ASCII digits, at most 2**63-1), else None: ``²``, ``٣``
    and a 5,000-digit number are not ids."""
    if value is None or not (value.isascii() and value.isdigit()) or len(value) > 19:
        return None
    number = int(value)
    return number if number <= MAX_ID else None


def text(form: FormData, key: str) -> str | None:
    """A form field's text, None when absent or blank."""
    value = form.get(key)
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


__all__ = ["LANG_COOKIE", "PREFIX", "Page", "Raw", "Redirect", "environment", "error_page", "handle", "labelled",
           "local", "message_for", "read_form", "render", "span", "text", "web_language", "whole"]
