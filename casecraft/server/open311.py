"""Open311 GeoReport v2 at ``/open311/v2/``: the event catalogue as services, citizen reports in, status out.

Include it in the server's application (which puts the engine on ``app.state.engine``)::

    from casecraft.server.open311 import router as open311_router
    app.include_router(open311_router)

Every answer is JSON or XML as the path's suffix asks (``services.json``,
``services.xml``); every refusal is GeoReport's error list with the HTTP status
as its code, answered by this router itself (its own route class), so the
application's other error handlers never see an Open311 request. Decisions
(idempotency key, lat/long, tokens, which cases are visible) are in
docs/open311.md.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response

from casecraft.base.errors import (
    CasecraftError,
    ConflictError,
    DatabaseError,
    InputError,
    NotFound,
    PermissionDenied,
    UnavailableError,
)
from casecraft.base.text import MAX_ID
from casecraft.base.views import CaseView
from casecraft.server import open311_schema as doc
from casecraft.server.open311_format import errors, format_of, render
from casecraft.server.open311_intake import OrderRefused, Submitted, case_by_ticket, find, submit
from casecraft.server.open311_model import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Fields,
    created,
    one,
    read_order,
    read_query,
    service_definition,
    service_request,
    services,
)

if TYPE_CHECKING:
    from casecraft.engine import Engine

log = logging.getLogger("casecraft.server.open311")

MAX_BODY = 64 * 1024
MAX_FIELDS = 100
FORM = "application/x-www-form-urlencoded"
# statuses by error code where the class alone does not say
STATUS_BY_CODE = {"unauthenticated": 403, "too_large": 413, "unsupported_media_type": 415}
FAILED = "the service failed; try again later, and tell the platform's administrator if it persists"

Fmt = Literal["json", "xml"]
Jurisdiction = Annotated[str | None, Query(description="ignored: one jurisdiction per server")]


def status_of(exc: CasecraftError) -> int:
    """The HTTP status (and GeoReport error code) of a refusal."""
    if exc.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[exc.code]
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, UnavailableError | DatabaseError):
        return 503
    return 400  # the specification's "general service error"


def _invalid(exc: RequestValidationError) -> tuple[int, list[str]]:
    """A parameter FastAPI could not read, named without its value (which may be anything)."""
    out: list[str] = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("path", "query", "body")]
        if loc == ["fmt"]:
            return 404, ["unknown format; ask for .json or .xml"]
        out.append(f"{'.'.join(loc) or 'the request'}: {err.get('msg', 'invalid')}")
    return 400, out or ["the request is invalid"]


class GeoReportRoute(APIRoute):
    """A route that answers every refusal and failure as GeoReport errors, never with a traceback."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            fmt = format_of(request.url.path)
            try:
                return await handler(request)
            except RequestValidationError as exc:
                status, descriptions = _invalid(exc)
            except OrderRefused as exc:
                status, descriptions = 400, [f"{field}: {reason}" for field, reason in exc.problems]
            except CasecraftError as exc:
                status, descriptions = status_of(exc), [exc.message]
            except HTTPException as exc:
                status, descriptions = exc.status_code, [str(exc.detail)]
            except Exception as exc:  # noqa: BLE001 - the client gets a GeoReport error, the log the frames
                # the frames only: an exception's message may carry request data (a contact, an address)
                log.error("open311 %s %s failed: %s\n%s", request.method, request.url.path, type(exc).__name__,
                          "".join(traceback.format_tb(exc.__traceback__)))
                return errors(fmt, 500, [FAILED])
            # refusals are logged by status and path: never the query (it may hold an api_key) or the body
            log.info("open311 %s %s refused: %s", request.method, request.url.path, status)
            return errors(fmt, status, descriptions)

        return route


router = APIRouter(prefix="/open311/v2", route_class=GeoReportRoute, tags=["Open311 GeoReport v2"])


def _engine(request: Request) -> Engine:
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        raise UnavailableError("the Open311 service has no database configured; tell the platform's administrator")
    return engine  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- services


@router.get("/services.{fmt}", summary="GET Service List: the event catalogue",
            responses=doc.responses(list[doc.Service], "the services"))
def get_services(request: Request, fmt: Fmt, jurisdiction_id: Jurisdiction = None) -> Response:
    return render(fmt, "services", services(_engine(request).workflow))


@router.get("/services/{service_code}.{fmt}", summary="GET Service Definition: the attributes a request may carry",
            responses=doc.responses(doc.ServiceDefinition, "the service definition"))
def get_service_definition(request: Request, service_code: str, fmt: Fmt,
                           jurisdiction_id: Jurisdiction = None) -> Response:
    return render(fmt, "service_definition", service_definition(_engine(request).workflow, service_code))


# --------------------------------------------------------------------------- requests in


async def _fields(request: Request) -> dict[str, list[str]]:
    """The query string's and the form body's fields (application/x-www-form-urlencoded, UTF-8)."""
    media, _, params = request.headers.get("content-type", "").partition(";")
    media = media.strip().lower()
    charset = next((v.strip().strip('"').lower() for k, _, v in (p.partition("=") for p in params.split(";"))
                    if k.strip().lower() == "charset"), "utf-8")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise InputError("the request body is larger than {limit} KiB", limit=MAX_BODY // 1024,
                             error_code="too_large")
    if body and (media != FORM or charset not in ("utf-8", "utf8")):
        raise InputError("send the fields as {form} (UTF-8)", form=FORM, error_code="unsupported_media_type")
    try:  # strictly: bytes that are not UTF-8, percent-encoded or not, are refused, never replaced
        query = request.scope.get("query_string", b"").decode("ascii")
        pairs = (parse_qsl(query, keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict")
                 + parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS,
                             errors="strict"))
    except UnicodeDecodeError:
        raise InputError("the request is not UTF-8") from None
    except ValueError:
        raise InputError("the request has more than {max} fields", max=MAX_FIELDS) from None
    fields: dict[str, list[str]] = {}
    for key, value in pairs:
        fields.setdefault(key, []).append(value)
    return fields


def _create(engine: Engine, fields: Fields) -> Submitted:
    api_key = one(fields, "api_key")
    if api_key is None:
        raise PermissionDenied("an api_key is required to create a service request: an admin issues one to the "
                               "street platform's intake account", error_code="unauthenticated")
    try:
        principal = engine.authenticate(api_key)
    except PermissionDenied:
        # one answer for unknown, wrong, revoked and deactivated: no oracle for guessing keys
        raise PermissionDenied("the api_key is not valid (unknown, revoked, or its account deactivated); ask the "
                               "platform's administrator for a new one", error_code="unauthenticated") from None
    order = read_order(fields, engine.workflow)
    return submit(engine, principal.person_id, order)


@router.post("/requests.{fmt}", summary="POST Service Request: a citizen's report becomes a hotline case",
             responses=doc.responses(list[doc.Created], "the request taken in (or the same one, for a repeated "
                                     "ticket)"), openapi_extra=doc.ORDER_FORM)
async def post_request(request: Request, fmt: Fmt) -> Response:
    fields = await _fields(request)
    engine = _engine(request)
    submitted = await run_in_threadpool(_create, engine, fields)
    return render(fmt, "service_requests", [created(submitted.case)])


# --------------------------------------------------------------------------- requests out


@router.get("/requests.{fmt}", summary="GET Service Requests: hotline cases, filtered and paged",
            responses=doc.responses(list[doc.ServiceRequest], "the requests"))
def get_requests(
    request: Request, fmt: Fmt,
    service_request_id: Annotated[str | None, Query(description="ids, comma-separated; overrides the rest")] = None,
    service_code: Annotated[str | None, Query(description="service codes, comma-separated")] = None,
    start_date: Annotated[str | None, Query(description="requested at or after (W3C date-time)")] = None,
    end_date: Annotated[str | None, Query(description="requested at or before (W3C date-time)")] = None,
    status: Annotated[str | None, Query(description="open, closed, or both comma-separated")] = None,
    updated_after: Annotated[str | None, Query(description="extension: updated strictly after")] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000, description="extension: the page, from 1")] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="extension: requests per page")]
    = DEFAULT_PAGE_SIZE,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    engine = _engine(request)
    q = read_query(engine.workflow, engine.now(), service_request_id=service_request_id, service_code=service_code,
                   start_date=start_date, end_date=end_date, status=status, updated_after=updated_after, page=page,
                   page_size=page_size)
    views, more = find(engine, q)
    headers = {"Link": f'<{request.url.include_query_params(page=page + 1)}>; rel="next"'} if more else None
    return render(fmt, "service_requests", [service_request(v) for v in views], headers=headers)


def _visible(engine: Engine, raw: str) -> CaseView:
    """The hotline case with this id; any other id (or case) is simply not there."""
    shown = raw[:24]
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise NotFound("no service request '{id}'", id=shown)
    page = engine.page(ids=[int(raw)], source="hotline", limit=1)
    if not page.cases:
        raise NotFound("no service request '{id}'", id=shown)
    return page.cases[0]


@router.get("/requests/{service_request_id}.{fmt}", summary="GET Service Request: one request's status",
            responses=doc.responses(list[doc.ServiceRequest], "the request"))
def get_request(request: Request, service_request_id: str, fmt: Fmt, jurisdiction_id: Jurisdiction = None) -> Response:
    return render(fmt, "service_requests", [service_request(_visible(_engine(request), service_request_id))])


@router.get("/tokens/{token}.{fmt}", summary="GET service_request_id from a token (the client's ticket)",
            responses=doc.responses(list[doc.Token], "the request the ticket became"))
def get_token(request: Request, token: str, fmt: Fmt, jurisdiction_id: Jurisdiction = None) -> Response:
    case_id = case_by_ticket(_engine(request), token) if len(token) <= 64 else None
    if case_id is None:
        raise NotFound("no service request for token '{token}'", token=token[:64])
    return render(fmt, "service_requests", [{"service_request_id": str(case_id), "token": token}])


# --------------------------------------------------------------------------- anything else under the prefix


@router.api_route("/{rest:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                  include_in_schema=False, name="open311_elsewhere")
def elsewhere(request: Request, rest: str) -> Response:
    """What no route above answers, still as GeoReport errors: 405 for a known path, else 404."""
    fmt = format_of(request.url.path)
    here = f"{router.prefix}/{rest}"  # the path as this router's routes spell it, whatever prefix the app adds
    allowed: set[str] = set()
    for route in router.routes:
        if isinstance(route, APIRoute) and route.name != "open311_elsewhere" and route.path_regex.match(here):
            allowed |= route.methods or set()
    if allowed:
        listed = ", ".join(sorted(allowed))
        return errors(fmt, 405, [f"use {listed} here"], headers={"Allow": listed})
    return errors(fmt, 404, ["no such Open311 resource; start at services.json"])


__all__ = ["GeoReportRoute", "router", "status_of"]
