"""The workbench's other pages: the monthly evaluation, 民情日志, the hotline import, the organisation tree."""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import tempfile
import time
from pathlib import Path as FsPath
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from casecraft import i18n
from casecraft.base.errors import CasecraftError, InputError, NotFound
from casecraft.engine import Engine
from casecraft.web.common import PREFIX, Page, Raw, Redirect, handle, read_form, roles, text, tier, web_language
from casecraft.web.session import Viewer

router = APIRouter(include_in_schema=False)
LEVELS = {level: i18n.TIERS[level] for level in ("street", "community", "grid")}  # translated per request
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REJECTS_TTL = 3600


def _levels() -> dict[str, str]:
    """The evaluation levels' labels in the language of this request."""
    return {level: i18n.word(LEVELS, level) for level in LEVELS}


# evaluation -------------------------------------------------------------------------------------------------
def _monthly(v: Viewer, eng: Engine, month: str | None, level: str) -> Page:
    if level not in LEVELS:
        raise InputError("unknown level '{level}'; use street, community or grid", level=level)
    report = eng.monthly_report(month, level)
    return Page("monthly.html", {"report": report, "level": level, "levels": _levels(),
                                 "month": report.month, "tz": eng.timezone})


@router.get("/reports/monthly")
async def monthly(request: Request, month: str | None = None, level: str = "grid") -> Response:
    return await handle(request, lambda v, eng: _monthly(v, eng, month or None, level))


@router.get("/reports/monthly.xlsx")
async def monthly_xlsx(request: Request, month: str | None = None) -> Response:
    def build(v: Viewer, eng: Engine) -> Raw:
        from casecraft.evaluation import export

        sheets = eng.monthly_reports(month or None, [(lvl, None) for lvl in LEVELS])
        with tempfile.TemporaryDirectory(prefix="casecraft-web-") as tmp:
            path = FsPath(tmp) / "report.xlsx"
            export.write_xlsx(sheets, path)
            data = path.read_bytes()
        name = f"monthly-{sheets[0].month}.xlsx"
        return Raw(data, XLSX, {"Content-Disposition": f'attachment; filename="{name}"'})

    return await handle(request, build)


@router.get("/reports/history")
async def unit_history(request: Request, org: str) -> Response:
    def look(v: Viewer, eng: Engine) -> Page:
        if eng.org.unit(org) is None:
            raise NotFound("unknown unit '{unit}'", unit=org)
        return Page("history.html", {"rows": eng.history(org, limit=36), "unit": org, "unit_name": eng.org.label(org),
                                     "levels": _levels()})

    return await handle(request, look)


@router.get("/reports/monthly.png")
async def monthly_png(request: Request, month: str | None = None, level: str = "grid") -> Response:
    def build(v: Viewer, eng: Engine) -> Raw:
        from casecraft.evaluation import export

        if level not in LEVELS:
            raise InputError("unknown level '{level}'; use street, community or grid", level=level)
        report = eng.monthly_report(month or None, level)
        with tempfile.TemporaryDirectory(prefix="casecraft-web-") as tmp:
            path = FsPath(tmp) / "report.png"
            export.write_png(report, path, web_language(request))
            return Raw(path.read_bytes(), "image/png")

    return await handle(request, build)


# 民情日志 ------------------------------------------------------------------------------------------------------
def _logs(v: Viewer, eng: Engine, month: str | None, message: str | None = None) -> Page:
    org = eng.organisation()
    unit = org.unit(v.unit)
    grids = [v.unit] if unit is not None and unit.tier == "grid" else org.below(v.unit, "grid")
    month = month or eng.now().astimezone(ZoneInfo(eng.timezone)).strftime("%Y-%m")
    entries = eng.logs(org=v.unit, month=month, limit=500)
    return Page("logs.html", {"entries": list(reversed(entries)), "grids": [(g, org.label(g)) for g in grids],
                              "month": month, "message": message, "tz": eng.timezone})


@router.get("/logs")
async def logs(request: Request, month: str | None = None, recorded: str | None = None) -> Response:
    return await handle(request, lambda v, eng: _logs(v, eng, month, i18n._("entry recorded") if recorded else None))


@router.post("/logs")
async def add_log(request: Request) -> Response:
    async with read_form(request) as (form, photos):
        def work(v: Viewer, eng: Engine) -> Redirect:
            grid, body = text(form, "grid"), text(form, "text")
            if not grid or not body:
                raise InputError("choose the grid and write the entry")
            eng.add_log(grid=grid, text=body, photos=photos)
            return Redirect(f"{PREFIX}/logs?recorded=1")  # post, redirect, get: a reload does not post it again

        return await handle(request, work, csrf=text(form, "csrf"), post=True)


# the hotline import ------------------------------------------------------------------------------------------
def _reject_dir() -> FsPath:
    base = FsPath(tempfile.gettempdir()) / f"casecraft-web-rejects-{os.getuid()}"
    base.mkdir(mode=0o700, exist_ok=True)
    st = os.lstat(base)  # a shared /tmp: refuse a folder someone else made (or a link to one)
    if stat.S_ISLNK(st.st_mode) or st.st_uid != os.getuid():
        raise InputError("the folder for reject files ({path}) is not this server's own; remove it", path=str(base))
    os.chmod(base, 0o700)
    now = time.time()
    for old in base.iterdir():  # reject files are kept an hour
        if now - old.stat().st_mtime > REJECTS_TTL:
            shutil.rmtree(old, ignore_errors=True)
    return base


@router.get("/hotline")
async def hotline_form(request: Request) -> Response:
    return await handle(request, lambda v, eng: Page("hotline.html", {"result": None}))


@router.post("/hotline")
async def hotline(request: Request) -> Response:
    async with read_form(request) as (form, paths):
        def work(v: Viewer, eng: Engine) -> Page:
            if not paths:
                raise InputError("choose the hotline file (CSV or JSON Lines) to import")
            ticket = secrets.token_hex(16)
            folder = _reject_dir() / f"{v.person_id}-{ticket}"
            folder.mkdir(mode=0o700)
            rejects = folder / ("rejects.jsonl" if paths[0].endswith(".jsonl") else "rejects.csv")
            try:
                result = eng.import_hotline(paths[0], skip_bad=True, rejects=rejects)
            except CasecraftError:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            has_rejects = result.bad_rows > 0 and rejects.exists()
            if not has_rejects:
                shutil.rmtree(folder, ignore_errors=True)
            return Page("hotline.html", {"result": result, "ticket": ticket if has_rejects else None,
                                         "reject_name": rejects.name})

        return await handle(request, work, csrf=text(form, "csrf"), post=True)


@router.get("/hotline/rejects/{ticket}")
async def rejects(request: Request, ticket: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]) -> Response:
    def look(v: Viewer, eng: Engine) -> Raw:
        folder = _reject_dir() / f"{v.person_id}-{ticket}"  # only the person who imported finds it
        files = list(folder.iterdir()) if folder.is_dir() else []
        if not files:
            raise NotFound("no reject file {ticket} (they are kept an hour)", ticket=ticket)
        media = "text/csv; charset=utf-8" if files[0].suffix == ".csv" else "application/jsonl"
        return Raw(files[0].read_bytes(), media, {"Content-Disposition": f'attachment; filename="{files[0].name}"'})

    return await handle(request, look)


# the organisation -------------------------------------------------------------------------------------------
def _org(v: Viewer, eng: Engine) -> Page:
    org, wf = eng.organisation(), eng.workflow
    lang = i18n.current()
    role_labels = {r: wf.roles[r].label for r in wf.roles}
    people: dict[str, list[Any]] = {}
    for p in org.people.values():
        people.setdefault(p.unit, []).append(p)

    mine = {v.unit, *org.ancestors(v.unit)}  # the way to my unit is open; large branches elsewhere are folded

    def node(u: Any) -> dict[str, Any]:
        children = org.children(u.code)
        return {"unit": u, "tier": tier(wf.tier_labels.get(u.tier, u.tier), u.tier, lang),
                "open": u.code in mine or len(children) < 8,
                "people": [(p, roles(p.roles, [role_labels.get(r, r) for r in p.roles], lang))
                           for p in people.get(u.code, [])],
                "children": [node(c) for c in children]}

    return Page("org.html", {"tree": [node(r) for r in org.roots()]})


@router.get("/org")
async def organisation(request: Request) -> Response:
    return await handle(request, _org)


__all__ = ["router"]
