"""The superior platform's alert board: alerts arrive live (server-sent events), acknowledged and urged from it.

The board's stream is the API's stream (:func:`casecraft.server.routes_alerts.alert_events`)
authenticated by the session cookie instead of a bearer token; at every
heartbeat the session is checked again, so a changed password or a deactivated
person ends the stream. The page asks for each new alert's row (htmx), so the
row's markup lives in one template.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from casecraft.base.errors import CasecraftError
from casecraft.base.text import MAX_ID
from casecraft.engine import Engine
from casecraft.server.routes_alerts import alert_events, may_watch
from casecraft.web import session
from casecraft.web.common import PREFIX, Page, Redirect, error_page, handle, message_for, read_form, text
from casecraft.web.session import Viewer

router = APIRouter(include_in_schema=False)
BOARD_LIMIT = 200


def _unit(v: Viewer, unit: str | None) -> str:
    return unit or v.unit


def _urgeable(v: Viewer, eng: Engine, alerts: Any) -> dict[int, bool]:
    """Whether the viewer may urge each alert's case (the board offers 督办 only where it would be taken)."""
    from casecraft.web.cases import may_urge

    ids = sorted({a.case for a in alerts if a.case})
    return {c.id: may_urge(eng, v, c) for c in eng.list(ids=ids, limit=len(ids))} if ids else {}


def _board(v: Viewer, eng: Engine, unit: str | None) -> Page:
    where = _unit(v, unit)
    may_watch(eng, v.person_id, where)
    items = eng.alerts(org=where, only_open=True, limit=BOARD_LIMIT)
    last = eng.alerts(org=where, after_id=items[-1].id if items else 0, limit=10_000)
    after = max([a.id for a in items] + [a.id for a in last] + [0])
    return Page("alerts.html", {"alerts": list(reversed(items)), "unit": where, "unit_name": eng.org.label(where),
                                "after": after, "tz": eng.timezone, "urgeable": _urgeable(v, eng, items)})


@router.get("/alerts")
async def board(request: Request, unit: str | None = None) -> Response:
    return await handle(request, lambda v, eng: _board(v, eng, unit))


@router.get("/alerts/rows")
async def rows(request: Request, unit: str | None = None,
               after_id: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> Response:
    """The rows of alerts after ``after_id`` (the live board asks for them on each event)."""
    def look(v: Viewer, eng: Engine) -> Page:
        where = _unit(v, unit)
        may_watch(eng, v.person_id, where)
        items = eng.alerts(org=where, after_id=after_id, limit=100)
        return Page("alert_rows.html", {"alerts": list(reversed(items)), "tz": eng.timezone,
                                        "urgeable": _urgeable(v, eng, items)})

    return await handle(request, look)


@router.get("/alerts/stream")
async def stream(request: Request, unit: str | None = None,
                 after_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None) -> Response:
    engine: Engine = request.app.state.engine
    cookie = request.cookies.get(session.COOKIE)
    oidc = request.app.state.oidc

    def admit() -> str:
        v = session.viewer(engine, cookie, oidc=oidc)
        where = _unit(v, unit)
        may_watch(engine, v.person_id, where)
        return where

    try:
        where = await run_in_threadpool(admit)
    except CasecraftError as exc:
        return error_page(request, exc)

    async def recheck() -> None:
        await run_in_threadpool(lambda: session.viewer(engine, cookie, oidc=oidc))

    return StreamingResponse(alert_events(request, engine, where, after_id, recheck), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.post("/alerts/{alert_id}/ack")
async def ack(request: Request, alert_id: Annotated[int, Path(ge=1, le=2**62)]) -> Response:
    async with read_form(request) as (form, _):
        partial = request.headers.get("hx-request") == "true"

        def work(v: Viewer, eng: Engine) -> Any:
            try:
                a = eng.ack(alert_id)
            except CasecraftError as exc:
                if not partial:
                    raise
                # the board swaps what comes back into the row: say there why (someone acknowledged it first)
                return Page("alert_refused_row.html", {"alert_id": alert_id, "message": message_for(exc, request)})
            if partial:
                return Page("alert_rows.html", {"alerts": [a], "tz": eng.timezone, "urgeable": _urgeable(v, eng, [a])})
            return Redirect(f"{PREFIX}/alerts")

        return await handle(request, work, csrf=text(form, "csrf"), post=True)


__all__ = ["router"]
