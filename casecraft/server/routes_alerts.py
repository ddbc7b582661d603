"""Alerts: lists, acknowledgement, and the live stream to a platform (server-sent events).

The stream polls the database for alerts after the last one sent (one indexed
query per second by default), so an alert committed by any ``scheduler run`` or
``serve`` process reaches every subscriber of any ``serve`` process. Each event's
``id`` is the alert id: a client that reconnects with ``Last-Event-ID`` (or
``?after_id=``) gets exactly the alerts it missed. A stream carries exactly the
alerts raised at that unit, as ``casecraft alerts list --org UNIT`` lists them;
only persons of that unit or of a unit above it may subscribe. A new subscriber
(no event id) first receives the platform's unacknowledged alerts. The token is
checked again at every heartbeat, so a revoked token or a deactivated person
loses the stream within one heartbeat.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from starlette.responses import StreamingResponse

from casecraft.alerts.supervision import may_watch as watchable
from casecraft.base.errors import CasecraftError, InputError
from casecraft.base.text import MAX_ID
from casecraft.engine import Engine
from casecraft.server.common import JSON, call, with_tz
from casecraft.server.problems import problem_responses
from casecraft.server.security import Acting as Proxy
from casecraft.server.security import acting, log_refusal, principal_of

router = APIRouter(tags=["alerts"], default_response_class=JSON,
                   responses=problem_responses(401, 403, 404, 409, 422, 429, 503))

Acting = Annotated[Proxy, Depends(acting)]
Unit = Annotated[str, Path(description="The platform unit's code.")]


@router.get("/alerts", summary="Alerts at my platform and those below it, oldest first (as `casecraft alerts list`)")
async def list_alerts(eng: Acting,
                      org: Annotated[str | None, Query(description="Only alerts raised at this unit.")] = None,
                      open: Annotated[bool, Query(description="Only unacknowledged alerts.")] = False,
                      case: Annotated[int | None, Query(description="Only alerts of this case.")] = None,
                      after_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
                      limit: Annotated[int, Query(ge=1, le=10_000)] = 500) -> JSON:
    def look() -> Any:  # the bearer's own view: their unit's platform and those below it
        return eng.engine.alerts(org=org, only_open=open, case_id=case, after_id=after_id, limit=limit,
                                 watcher=eng.principal().person_id)

    items: Any = await call(look)
    return JSON([with_tz(a) for a in items])


def may_watch(engine: Engine, person_id: str, unit: str) -> None:
    """Refuse unless the person works at ``unit`` or at a unit above it (read in one transaction)."""
    with engine.ctx.read() as tx:
        org = engine.ctx.org_in(tx)
        if org.unit(unit) is None:
            raise InputError("unknown unit '{unit}'; see `casecraft org show`", unit=unit)
        watchable(org, person_id, unit)


@router.get("/platforms/{unit}/alerts", summary="The alerts raised at a platform (its people and those above)")
async def platform_alerts(unit: Unit, request: Request, eng: Acting,
                          open: Annotated[bool, Query(description="Only unacknowledged alerts.")] = False,
                          after_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
                          limit: Annotated[int, Query(ge=1, le=10_000)] = 500) -> JSON:
    def look() -> Any:
        may_watch(eng.engine, eng.principal().person_id, unit)
        return eng.engine.alerts(org=unit, only_open=open, after_id=after_id, limit=limit)

    items: Any = await call(look)
    return JSON([with_tz(a) for a in items])


@router.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert at my platform")
async def ack(alert_id: Annotated[int, Path(ge=1)], eng: Acting) -> JSON:
    a = await call(eng.ack, alert_id)
    return JSON(with_tz(a))


def _event(alert: Any) -> str:
    data = json.dumps(with_tz(alert), ensure_ascii=False, separators=(",", ":"), default=str)
    return f"id: {alert.id}\nevent: alert\ndata: {data}\n\n"


@router.get("/platforms/{unit}/alerts/stream", summary="Live alerts of a platform (text/event-stream)",
            response_class=StreamingResponse,
            responses={200: {"description": "Server-sent events: `event: alert`, `id:` the alert id, `data:` the "
                                            "alert as JSON; comments as heartbeats.",
                             "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
async def stream(unit: Unit, request: Request, principal: Annotated[Any, Depends(principal_of)],
                 last_event_id: Annotated[str | None, Header(description="Resume after this alert id.")] = None,
                 after_id: Annotated[int | None, Query(ge=0, le=MAX_ID, description=(
                     "Resume after this alert id (for clients that cannot set Last-Event-ID)."))] = None,
                 ) -> StreamingResponse:
    engine: Engine = request.app.state.engine
    await call(may_watch, engine, principal.person_id, unit)
    start: int | None = after_id
    if last_event_id:
        try:
            start = int(last_event_id)
        except ValueError:
            start = -1
        if not 0 <= start <= MAX_ID:
            raise InputError("Last-Event-ID must be an alert id")
    token = request.headers.get("authorization", "").partition(" ")[2].strip()

    async def recheck() -> None:
        await _recheck(request, engine, token)

    return StreamingResponse(alert_events(request, engine, unit, start, recheck), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def alert_events(request: Request, engine: Engine, unit: str, start: int | None,
                       recheck: Callable[[], Awaitable[None]]) -> AsyncIterator[str]:
    """The server-sent events of a platform's alerts (the API's stream and the workbench's board share it).

    A new subscriber (``start`` None) first gets the unit's unacknowledged alerts; then every alert after
    the last one sent, polled every ``sse_poll`` seconds. ``recheck`` runs at every heartbeat and ends the
    stream with ``event: error`` when it raises (a revoked token, an ended session).
    """
    settings = request.app.state.settings
    yield f"retry: {int(settings.sse_retry * 1000)}\n\n"
    if start is None:
        # a new subscriber: first the platform's unacknowledged alerts, then whatever comes; walking the
        # unit's alerts once (pages of 1000) finds where "now" is
        after = 0
        while True:
            page: Any = await call(engine.alerts, org=unit, after_id=after, limit=1000)
            for a in page:
                after = a.id
                if a.acked_at is None:
                    yield _event(a)
            if len(page) < 1000:
                break
    else:
        after = start
    beat = time.monotonic()
    while True:
        batch: Any = await call(engine.alerts, org=unit, after_id=after, limit=100)
        for a in batch:
            after = a.id
            yield _event(a)
        if len(batch) == 100:
            continue
        if time.monotonic() - beat >= settings.sse_heartbeat:
            beat = time.monotonic()
            try:
                await recheck()
            except CasecraftError as exc:
                log_refusal(request, exc)
                yield f"event: error\ndata: {json.dumps({'code': exc.code, 'detail': exc.message})}\n\n"
                return
            yield ": keep-alive\n\n"
        await anyio.sleep(settings.sse_poll)


async def _recheck(request: Request, engine: Engine, token: str) -> None:
    oidc = request.app.state.oidc
    if oidc is not None and token.count(".") == 2 and not token.startswith("cct_"):
        await call(oidc.authenticate, engine, token)
    else:
        await call(engine.authenticate, token)


__all__ = ["alert_events", "may_watch", "router"]
