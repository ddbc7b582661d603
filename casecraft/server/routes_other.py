"""The rest of the operators' API: who I am, 民情日志, reports, the workflow and the organisation."""

from __future__ import annotations

import tempfile
import threading
from dataclasses import asdict
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from casecraft.base.errors import InputError
from casecraft.engine import Engine
from casecraft.server.bodies import LogIn, body_doc, read_body
from casecraft.server.common import JSON, call, with_tz
from casecraft.server.problems import language, problem_responses
from casecraft.server.security import Acting as Proxy
from casecraft.server.security import acting

router = APIRouter(default_response_class=JSON, responses=problem_responses(401, 403, 404, 422, 429, 503))
Acting = Annotated[Proxy, Depends(acting)]

MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "png": "image/png",
         "mermaid": "text/vnd.mermaid; charset=utf-8", "dot": "text/vnd.graphviz; charset=utf-8",
         "svg": "image/svg+xml", "bpmn": "application/bpmn+xml"}
# Graphviz rendering swaps the process's stderr while it runs (to drop fontconfig noise): one at a time
_render_lock = threading.Lock()


# who am I --------------------------------------------------------------------------------------------
@router.get("/me", tags=["identity"], summary="The authenticated person")
async def me(eng: Acting) -> JSON:
    def look() -> dict[str, Any]:
        principal, e = eng.principal(), eng.engine
        with e.ctx.read() as tx:
            p = e.ctx.org_in(tx).person(principal.person_id)
        return {"id": principal.person_id, "name": p.name if p else None, "unit": p.unit if p else None,
                "roles": list(p.roles) if p else [], "credential": principal.credential_id,
                "method": principal.method, "timezone": e.timezone, "sandbox": e.sandbox}

    return JSON(await call(look))


# 民情日志 -----------------------------------------------------------------------------------------------
@router.post("/logs", status_code=201, tags=["logs"], summary="Record today's 民情日志 entry for a grid",
             openapi_extra=body_doc(LogIn, files=True))
async def add_log(request: Request, eng: Acting) -> JSON:
    async with read_body(request, LogIn) as (b, photos):
        entry = await call(eng.add_log, grid=b.grid, text=b.text, photos=photos)
    return JSON(with_tz(entry), status_code=201)


@router.get("/logs", tags=["logs"], summary="民情日志 entries, oldest first")
async def logs(eng: Acting, grid: str | None = None,
               month: Annotated[str | None, Query(description="YYYY-MM")] = None,
               org: Annotated[str | None, Query(description="Only grids under this unit.")] = None,
               limit: Annotated[int, Query(ge=1, le=100_000)] = 500) -> JSON:
    items: Any = await call(eng.logs, grid=grid, month=month, org=org, limit=limit)
    return JSON([with_tz(e) for e in items])


# reports -----------------------------------------------------------------------------------------------
def _format(request: Request, fmt: str | None, allowed: tuple[str, ...]) -> str:
    if fmt is not None:
        if fmt not in allowed:
            raise InputError("unknown format '{format}'; use one of: {allowed}", format=fmt, allowed=", ".join(allowed))
        return fmt
    accept = request.headers.get("accept", "")
    for kind in allowed:
        if MEDIA[kind].split(";")[0] in accept:
            return kind
    return allowed[0]


def _org_for(engine: Engine, org: str | None, level: str) -> str | None:
    """--org for another level's sheet: the unit itself, or its ancestor at that level if it lies below."""
    if org is None:
        return None
    unit = engine.org.unit(org)
    tiers = engine.workflow.tiers
    if unit is not None and unit.tier in tiers and tiers.index(unit.tier) < tiers.index(level):
        return engine.org.at_tier(org, level)
    return org


def _monthly(engine: Engine, month: str | None, level: str, org: str | None, kind: str) -> Any:
    from casecraft.evaluation import monthly_report, monthly_reports

    if kind == "xlsx":  # a sheet per level, as `report monthly --xlsx`
        sheets = monthly_reports(engine, month, [(lvl, org if lvl == level else _org_for(engine, org, lvl))
                                                 for lvl in ("street", "community", "grid")])
        return sheets
    return monthly_report(engine, month, level, org)


def _export(report: Any, kind: str, lang: str) -> bytes:
    from casecraft.evaluation import export

    with tempfile.TemporaryDirectory(prefix="casecraft-report-") as tmp:
        path = FsPath(tmp) / f"report.{kind}"
        writers: dict[str, Any] = {"csv": export.write_csv, "xlsx": export.write_xlsx, "png": export.write_png}
        writers[kind](report, path, lang)
        return path.read_bytes()


@router.get("/reports/monthly", tags=["reports"], summary="A level's monthly ranking: JSON, CSV, XLSX or PNG",
            responses={200: {"description": "The ranking (JSON), or the export chosen by ?format or Accept.",
                             "content": {MEDIA[k].split(";")[0]: {} for k in ("csv", "xlsx", "png")}}})
async def monthly(request: Request, eng: Acting,
                  month: Annotated[str | None, Query(description="YYYY-MM (default: this month)")] = None,
                  level: Annotated[str, Query(description="street | community | grid")] = "grid",
                  org: Annotated[str | None, Query(description="Only units under this unit.")] = None,
                  format: Annotated[str | None, Query(description="json | csv | xlsx | png (else by Accept)")] = None,
                  ) -> Response:
    kind = _format(request, format, ("json", "csv", "xlsx", "png"))
    report = await call(_monthly, eng, month, level, org, kind)
    if kind == "json":
        out = report.to_dict()
        for item, spec in zip(out["indicators"], report.indicators, strict=True):
            item["is_rate"] = spec.is_rate  # how the figure is shown (a rate with its fraction, or a count)
        return JSON(out)
    data = await call(_export, report, kind, language(request))  # headers and titles as Accept-Language asks
    name = f"report-{level}.{kind}"
    return Response(data, media_type=MEDIA[kind], headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/reports/case-stats", tags=["reports"], summary="The month's case counts by source, category, tier")
async def case_stats(eng: Acting, month: Annotated[str | None, Query(description="YYYY-MM")] = None,
                     org: Annotated[str | None, Query(description="Only cases of grids under this unit.")] = None
                     ) -> JSON:
    from casecraft.evaluation import case_stats as stats_of

    return JSON(await call(stats_of, eng, month, org))


@router.get("/reports/history", tags=["reports"], summary="A unit's recorded months, newest first")
async def history(eng: Acting, org: str, limit: Annotated[int, Query(ge=1, le=600)] = 36) -> JSON:
    from casecraft.evaluation import history as history_of

    rows = await call(history_of, eng, org, limit=limit)
    return JSON([r.to_dict() for r in rows])


# the workflow ------------------------------------------------------------------------------------------
@router.get("/workflow", tags=["workflow"], summary="The workflow in force (the newest published version): its id, "
                                                   "hash, version number and spec (the published data)")
async def workflow(eng: Acting) -> JSON:
    def look() -> dict[str, Any]:
        wf = eng.engine.workflow
        _vid, number = eng.engine.current_version()
        return {"id": wf.id, "hash": wf.content_hash, "version": number, "timezone": wf.timezone, "spec": wf.data}

    return JSON(await call(look))


@router.get("/workflow/versions", tags=["workflow"], summary="The published workflow versions")
async def versions(eng: Acting) -> JSON:
    items: Any = await call(eng.versions)
    return JSON([v.to_dict() for v in items])


def _draw(wf: Any, kind: str, highlight: Any = None) -> bytes:
    from casecraft.workflows import diagram as dg

    if kind == "mermaid":
        return dg.mermaid(wf, highlight).encode()
    if kind == "dot":
        return dg.dot(wf, highlight).encode()
    if kind == "bpmn":
        from casecraft.workflows.bpmn import bpmn_xml

        return bpmn_xml(wf, highlight).encode()
    with tempfile.TemporaryDirectory(prefix="casecraft-diagram-") as tmp, _render_lock:
        path = FsPath(tmp) / f"diagram.{kind}"
        dg.render(dg.dot(wf, highlight), kind, path)
        return path.read_bytes()


DiagramFormat = Annotated[str, Query(description="mermaid | dot | svg | png | bpmn")]


@router.get("/workflow/diagram", tags=["workflow"], summary="The workflow in force drawn",
            responses={200: {"content": {MEDIA[k].split(";")[0]: {} for k in ("mermaid", "dot", "svg", "png",
                                                                                 "bpmn")}}})
async def diagram(eng: Acting, format: DiagramFormat = "mermaid") -> Response:
    if format not in ("mermaid", "dot", "svg", "png", "bpmn"):
        raise InputError("unknown diagram format '{format}'; use one of: mermaid, dot, svg, png, bpmn", format=format)
    data = await call(lambda: _draw(eng.engine.workflow, format))
    return Response(data, media_type=MEDIA[format])


@router.get("/cases/{case_id}/diagram", tags=["cases"], summary="The case's workflow version with its path drawn",
            responses={200: {"content": {MEDIA[k].split(";")[0]: {} for k in ("mermaid", "dot", "svg", "png",
                                                                                 "bpmn")}}})
async def case_diagram(case_id: Annotated[int, Path(ge=1)], eng: Acting, format: DiagramFormat = "mermaid"
                       ) -> Response:
    if format not in ("mermaid", "dot", "svg", "png", "bpmn"):
        raise InputError("unknown diagram format '{format}'; use one of: mermaid, dot, svg, png, bpmn", format=format)

    def draw() -> bytes:
        from casecraft.workflows.diagram import Highlight

        e = eng.engine
        view = e.get(case_id)
        with e.ctx.read() as tx:
            row = tx.case(case_id)
        assert row is not None  # e.get found it
        wf = e.spec_for(row.workflow_version_id)
        return _draw(wf, format, Highlight.from_timeline(view.timeline, view.state, wf.initial))

    return Response(await call(draw), media_type=MEDIA[format])


# the organisation ----------------------------------------------------------------------------------------
@router.get("/org", tags=["organisation"], summary="Units and people (as `casecraft org show --json`)")
async def organisation(eng: Acting) -> JSON:
    org = await call(eng.organisation)
    return JSON({"units": [asdict(u) for u in org.units.values()],
                 "people": [asdict(p) for p in org.people.values()]})


__all__ = ["router"]
