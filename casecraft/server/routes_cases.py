"""The operators' case API: report, list, show, the triggers open to me, fire, and the side steps.

Each route makes one engine call as the authenticated person (the engine
checks role and unit and refuses with 403) and returns the view's own JSON
fields, the same as ``casecraft ... --json`` prints.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from casecraft.base.errors import InputError
from casecraft.server.bodies import (
    ExtensionIn,
    FireIn,
    NoteIn,
    OptionalNoteIn,
    ReportIn,
    SearchIn,
    body_doc,
    read_body,
)
from casecraft.server.common import JSON, call, case_payload
from casecraft.server.problems import problem_responses
from casecraft.server.security import Acting as Proxy
from casecraft.server.security import acting

router = APIRouter(tags=["cases"], default_response_class=JSON,
                   responses=problem_responses(401, 403, 404, 409, 422, 429, 503))

Acting = Annotated[Proxy, Depends(acting)]
CaseId = Annotated[int, Path(description="Case id.", ge=1)]


async def _side_result(eng: Proxy, case: Any) -> JSON:
    deadline = await call(eng.deadline, case.id)
    return JSON(case_payload(case, deadline, with_deadline=True))


@router.post("/cases", status_code=201, summary="Report a new case (photos as multipart)",
             openapi_extra=body_doc(ReportIn, files=True))
async def report(request: Request, eng: Acting) -> JSON:
    async with read_body(request, ReportIn) as (b, photos):
        case = await call(eng.report, source=b.source, grid=b.grid, category=b.category, desc=b.desc, ref=b.ref,
                          address=b.address, urgency=b.urgency, note=b.note, photos=photos)
    return JSON(case_payload(case), status_code=201, headers={"Location": f"/cases/{case.id}"})


def _page_payload(page: Any, deadlines: dict[int, Any], number: int | None) -> dict[str, Any]:
    return {"total": page.total, "limit": page.limit, "offset": page.offset, "page": number,
            "cases": [case_payload(c, deadlines.get(c.id), timeline=False, with_deadline=True) for c in page.cases]}


def _within(text: str) -> timedelta:
    from casecraft.base.duration import Duration

    try:
        d = Duration.parse(text)
    except ValueError as exc:
        raise InputError("{reason}", reason=str(exc)) from None
    if d.working:
        raise InputError("due_within takes natural time, e.g. 2h or 30 minutes")
    return timedelta(**{f"{d.unit}s": d.amount})


@router.get("/cases", summary="List cases: filters, a stable order and paging (with the total)")
async def list_cases(
    eng: Acting,
    state: str | None = None, tier: str | None = None,
    org: Annotated[str | None, Query(description="Only cases in this unit's subtree.")] = None,
    open: Annotated[bool | None, Query(description="true: open cases only; false: finished only.")] = None,
    parked: bool | None = None, category: str | None = None, source: str | None = None,
    overdue: Annotated[bool, Query(description="Only cases past their step's time limit.")] = False,
    due_within: Annotated[str | None, Query(description="Only cases whose step falls due within this time "
                                                        "(e.g. 2h), not yet overdue unless overdue=true.")] = None,
    sort: Annotated[str, Query(description="id | -id | updated | -updated")] = "id",
    limit: Annotated[int, Query(ge=1, le=100_000)] = 200,
    page: Annotated[int | None, Query(ge=1, description="Page of `limit` cases, 1 = the first.")] = None,
    offset: Annotated[int | None, Query(ge=0, description="Or: skip this many cases.")] = None,
) -> JSON:
    if page is not None and offset is not None:
        raise InputError("give page or offset, not both")
    start = offset if offset is not None else ((page or 1) - 1) * limit
    ids = None
    if overdue or due_within:
        within = _within(due_within) if due_within else timedelta(0)
        ids = await call(eng.due_cases, within=within, include_overdue=overdue or not due_within, limit=100_000)
    result = await call(eng.page, state=state, tier=tier, org=org, is_open=open, limit=limit, offset=start, ids=ids,
                        parked=parked, category=category, source=source, sort=sort)
    deadlines = await call(eng.deadlines, [c.id for c in result.cases])
    return JSON(_page_payload(result, deadlines, (page or 1) if offset is None else None))


@router.post("/cases/search", summary="List cases by an explicit id list and filters (a body, for long lists)")
async def search_cases(request: Request, eng: Acting) -> JSON:
    async with read_body(request, SearchIn) as (b, _):
        result = await call(eng.page, state=b.state, tier=b.tier, org=b.org, is_open=b.open, limit=b.limit,
                            offset=b.offset, ids=b.ids, parked=b.parked, category=b.category, source=b.source,
                            sort=b.sort)
    deadlines = await call(eng.deadlines, [c.id for c in result.cases])
    return JSON(_page_payload(result, deadlines, None))


@router.get("/cases/{case_id}", summary="A case with its whole timeline and its step deadline")
async def show(case_id: CaseId, eng: Acting) -> JSON:
    case = await call(eng.get, case_id)
    deadline = await call(eng.deadline, case_id)
    return JSON(case_payload(case, deadline, with_deadline=True))


@router.get("/cases/{case_id}/deadline", summary="The running step deadline of a case (null if none)")
async def deadline(case_id: CaseId, eng: Acting) -> JSON:
    def look() -> Any:
        d = eng.engine.deadline(case_id)
        return d.to_dict(eng.engine.timezone) if d is not None else None

    return JSON(await call(look))


@router.get("/cases/{case_id}/triggers", summary="What may happen next, who may do it, and whether I may")
async def triggers(
    case_id: CaseId, request: Request, eng: Acting,
    who: Annotated[str, Query(description="me (default): judged for the authenticated person; a person id: "
                                          "judged for them; anyone: not judged.")] = "me",
) -> JSON:
    def look() -> Any:
        person = {"me": eng.principal().person_id, "anyone": None}.get(who, who)
        return eng.engine.triggers(case_id, person)

    options: Any = await call(look)
    return JSON([o.to_dict() for o in options])


@router.post("/cases/{case_id}/fire/{trigger}", summary="Fire a trigger (one workflow step, all or nothing)",
             openapi_extra=body_doc(FireIn, files=True))
async def fire(case_id: CaseId, trigger: Annotated[str, Path(description="e.g. verify, dispatch, close")],
               request: Request, eng: Acting) -> JSON:
    async with read_body(request, FireIn) as (b, photos):
        case = await call(eng.fire, case_id, trigger, note=b.note, to=b.to, outcome=b.outcome, photos=photos,
                          expected_version=b.expected_version)
    return JSON(case_payload(case))


@router.post("/cases/{case_id}/urge", summary="督办: urge a case (alerts the handling unit)",
             openapi_extra=body_doc(NoteIn, files=False))
async def urge(case_id: CaseId, request: Request, eng: Acting) -> JSON:
    async with read_body(request, NoteIn) as (b, _):
        case = await call(eng.urge, case_id, note=b.note)
    return JSON(case_payload(case))


@router.post("/cases/{case_id}/extension/request", summary="申请延期: ask the leader for more time",
             openapi_extra=body_doc(ExtensionIn, files=False))
async def request_extension(case_id: CaseId, request: Request, eng: Acting) -> JSON:
    async with read_body(request, ExtensionIn) as (b, _):
        case = await call(eng.request_extension, case_id, by=b.by, note=b.note)
    return await _side_result(eng, case)


@router.post("/cases/{case_id}/extension/approve", summary="批准延期: approve the pending request",
             openapi_extra=body_doc(OptionalNoteIn, files=False))
async def approve_extension(case_id: CaseId, request: Request, eng: Acting) -> JSON:
    async with read_body(request, OptionalNoteIn) as (b, _):
        case = await call(eng.decide_extension, case_id, approve=True, note=b.note)
    return await _side_result(eng, case)


@router.post("/cases/{case_id}/extension/deny", summary="驳回延期: deny the pending request",
             openapi_extra=body_doc(NoteIn, files=False))
async def deny_extension(case_id: CaseId, request: Request, eng: Acting) -> JSON:
    async with read_body(request, NoteIn) as (b, _):
        case = await call(eng.decide_extension, case_id, approve=False, note=b.note)
    return await _side_result(eng, case)


@router.post("/cases/{case_id}/extend", summary="延期: a leader extends the running time limit",
             openapi_extra=body_doc(ExtensionIn, files=False))
async def extend(case_id: CaseId, request: Request, eng: Acting) -> JSON:
    async with read_body(request, ExtensionIn) as (b, _):
        case = await call(eng.extend, case_id, by=b.by, note=b.note)
    return await _side_result(eng, case)


@router.post("/cases/{case_id}/park", summary="挂账: put the case in the problem register",
             openapi_extra=body_doc(NoteIn, files=False))
async def park(case_id: CaseId, request: Request, eng: Acting) -> JSON:
    async with read_body(request, NoteIn) as (b, _):
        case = await call(eng.park, case_id, note=b.note)
    return await _side_result(eng, case)


@router.post("/cases/{case_id}/unpark", summary="解除挂账: take the case out of the problem register",
             openapi_extra=body_doc(OptionalNoteIn, files=False))
async def unpark(case_id: CaseId, request: Request, eng: Acting) -> JSON:
    async with read_body(request, OptionalNoteIn) as (b, _):
        case = await call(eng.unpark, case_id, note=b.note)
    return await _side_result(eng, case)


@router.get("/deadlines", summary="The running step deadlines of some cases, by case id")
async def deadlines(eng: Acting, ids: Annotated[str, Query(description="Comma-separated case ids.")]) -> JSON:
    try:
        wanted = [int(x) for x in ids.split(",") if x.strip()]
    except ValueError:
        raise InputError("ids must be comma-separated case ids") from None
    def look() -> dict[str, Any]:
        found = eng.engine.deadlines(wanted)
        tz = eng.engine.timezone
        return {str(k): v.to_dict(tz) for k, v in found.items()}

    return JSON(await call(look))


@router.get("/deadlines/due", summary="Ids of open cases due within a time (and those overdue)")
async def due(eng: Acting,
              within_seconds: Annotated[float, Query(ge=0, description="Due within this many seconds from "
                                                                        "now; 0: only those overdue.")] = 0,
              overdue: Annotated[bool, Query(description="Include those already past.")] = True,
              limit: Annotated[int, Query(ge=1, le=100_000)] = 500) -> JSON:
    span = timedelta(seconds=within_seconds)
    ids = await call(eng.due_cases, within=span, include_overdue=overdue, limit=limit)
    return JSON(ids)


__all__ = ["router"]
