"""The workbench's case pages: my platform's inbox, a case, its actions, reporting a case, photos."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from casecraft import i18n
from casecraft.base.errors import CasecraftError, InputError, NotFound
from casecraft.engine import Engine
from casecraft.web.common import (
    PREFIX,
    Page,
    Raw,
    Redirect,
    handle,
    labelled,
    message_for,
    paren,
    read_form,
    text,
    whole,
)
from casecraft.web.session import Viewer

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20
INBOX_CAP = 20_000  # running deadlines read per inbox, soonest first; the page says when it is cut
SOURCES = i18n.SOURCES  # the closed vocabularies the CLI and the API show, translated per request
OUTCOMES = i18n.OUTCOMES
_draw_lock = threading.Lock()  # Graphviz swaps the process's stderr while it draws: one drawing at a time

_LIMIT = re.compile(r"^\s*(\d+)\s+(working\s+)?(minute|hour|day|week)s?\s*$")
_UNITS = {"minute": "分钟", "hour": "小时", "day": "天", "week": "周"}


def limit_label(limit: str | None, lang: str | None = None) -> str:
    """A workflow time limit in the page's language: ``4 working hours`` → 4个工作小时 (as written in English)."""
    if not limit:
        return ""
    m = _LIMIT.match(limit)
    if not m or not i18n.is_chinese(lang):
        return limit
    n, working, unit = m.groups()
    if working:
        return f"{n}个工作日" if unit == "day" else f"{n}个工作{_UNITS[unit]}"
    return f"{n}{_UNITS[unit]}"


def light(deadline: Any, now: Any) -> str:
    """green / yellow (past the warning) / red (overdue) / none (no running limit)."""
    if deadline is None:
        return "none"
    if deadline.due_at <= now:
        return "red"
    if deadline.warn_at is not None and deadline.warn_at <= now:
        return "yellow"
    return "green"


LIGHT_LABELS = {"red": i18n.N_("overdue"), "yellow": i18n.N_("due soon"), "green": i18n.N_("on time"),
                "none": i18n.N_("not timed")}


def labels(vocabulary: dict[Any, str]) -> dict[Any, str]:
    """A closed vocabulary's labels in the language of this request (set by :func:`casecraft.web.common.handle`)."""
    return {key: i18n.word(vocabulary, key) for key in vocabulary}


def _flag(value: str | None) -> bool | None:
    return {"1": True, "true": True, "0": False, "false": False}.get((value or "").lower())


def _ordered(eng: Engine, filters: dict[str, Any], order: list[int], need: int) -> list[Any]:
    """The first ``need`` cases matching ``filters`` in the order of ``order`` (read a chunk at a time)."""
    out: list[Any] = []
    step = max(100, need)
    for i in range(0, len(order), step):
        if len(out) >= need:
            break
        chunk = order[i:i + step]
        found = {c.id: c for c in eng.page(**filters, ids=chunk, limit=len(chunk)).cases}
        out += [found[k] for k in chunk if k in found]
    return out


def _inbox(v: Viewer, eng: Engine, q: dict[str, Any]) -> Page:
    """My platform's open cases, soonest due first, one page read at a time (the views of one page only)."""
    wf = eng.workflow
    unit = eng.org.unit(v.unit)
    filters: dict[str, Any] = {"org": v.unit, "is_open": True, "state": q["state"] or None,
                               "category": q["category"] or None, "source": q["source"] or None,
                               "parked": _flag(q["parked"])}
    if q["scope"] != "all" and unit is not None and unit.tier in wf.tiers:
        filters["tier"] = unit.tier  # at my platform: my unit's tier within my subtree (its departments too)
    far = timedelta(days=36500)
    order = eng.due_cases(within=timedelta(0) if q["overdue"] else far, include_overdue=True, limit=INBOX_CAP)
    if q["overdue"]:
        total = eng.page(**filters, ids=order, limit=1).total if order else 0
    else:
        total = eng.page(**filters, limit=1).total
    pages = max(1, -(-total // PAGE_SIZE))
    number = min(max(1, q["page"]), pages)
    need = number * PAGE_SIZE
    cases = _ordered(eng, filters, order, need)
    if len(cases) < need and not q["overdue"]:  # then those without a running time limit (parked ...), by id
        due = set(order)
        cases += [c for c in eng.page(**filters, limit=INBOX_CAP).cases if c.id not in due]
    shown = cases[(number - 1) * PAGE_SIZE: need]
    deadlines = eng.deadlines([c.id for c in shown])
    now = eng.now()
    rows = [{"case": c, "deadline": deadlines.get(c.id), "light": light(deadlines.get(c.id), now)} for c in shown]
    keep = {k: q[k] for k in ("scope", "state", "category", "source", "parked") if q[k]}
    if q["overdue"]:
        keep["overdue"] = "1"

    def link(n: int) -> str:
        return f"{PREFIX}/?{urlencode({**keep, 'page': n})}"

    return Page("inbox.html", {
        "rows": rows, "total": total, "page": number, "pages": pages, "q": q, "cut": len(order) >= INBOX_CAP,
        "prev": link(number - 1) if number > 1 else None, "next": link(number + 1) if number < pages else None,
        "states": [(s.id, s.label) for s in wf.states.values() if not s.final],
        "categories": [(c.code, c.label) for c in wf.categories.values()], "sources": labels(SOURCES),
        "light_labels": labels(LIGHT_LABELS), "tz": eng.timezone, "now": now, "bulk": labels(BULK),
    })


@router.get("/")
async def inbox(request: Request, scope: str = "mine", state: str = "", category: str = "", source: str = "",
                parked: str = "", overdue: str = "", page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    q = {"scope": scope if scope in ("mine", "all") else "mine", "state": state, "category": category,
         "source": source, "parked": parked if parked in ("1", "0") else "", "overdue": overdue == "1", "page": page}
    return await handle(request, lambda v, eng: _inbox(v, eng, q))


BULK = {"assign": i18n.N_("assign down"), "dispatch": i18n.N_("dispatch"), "verify": i18n.N_("verify and register"),
        "urge": i18n.N_("urge")}


@router.post("/bulk")
async def bulk(request: Request) -> Response:
    """One action on several cases of the inbox: each case is its own step, judged by the rules on its own."""
    async with read_form(request) as (form, _photos):
        ids = sorted({n for x in form.getlist("ids") if isinstance(x, str) and (n := whole(x)) is not None})
        action, note = text(form, "action") or "", text(form, "note")
        to = [t.strip() for t in re.split(r"[,，\s]+", text(form, "to") or "") if t.strip()]

        def work(v: Viewer, eng: Engine) -> Page:
            if action not in BULK:
                raise InputError("unknown bulk action '{action}'; use one of: {allowed}", action=action,
                                 allowed=", ".join(BULK))
            if not ids:
                raise InputError("choose at least one case")
            if len(ids) > PAGE_SIZE * 5:
                raise InputError("at most {n} cases at once", n=PAGE_SIZE * 5)
            results = []
            for case_id in ids:
                try:
                    if action == "urge":
                        eng.urge(case_id, note=note or "")
                    else:
                        eng.fire(case_id, action, note=note, to=to)
                    results.append((case_id, True, i18n._("done")))
                except CasecraftError as exc:  # each case on its own: one refusal does not stop the others
                    results.append((case_id, False, message_for(exc, request)))
            return Page("bulk.html", {"results": results, "action": i18n.word(BULK, action)})

        return await handle(request, work, csrf=text(form, "csrf"), post=True)


def _story(eng: Engine, case: Any) -> list[dict[str, Any]]:
    """The timeline as a story: each step with how long the step before it took against its limit."""
    wf = eng.spec_for(eng.version_id(case.workflow_version))
    roles = {r: wf.roles[r].label for r in wf.roles}
    out: list[dict[str, Any]] = []
    prev = None
    for e in case.timeline:
        state = wf.states.get(e.from_state) if e.from_state else None
        out.append({"entry": e, "role": roles.get(e.actor_role or "", e.actor_role or ""),
                    "took": (e.at - prev.at) if prev is not None else None,
                    "limit": limit_label(state.limit) if state is not None else "",
                    "photos": [a for a in e.attachments if str(a.get("type", "")).startswith("image/")],
                    "files": [a for a in e.attachments if not str(a.get("type", "")).startswith("image/")],
                    "outcome": i18n.word(OUTCOMES, e.outcome) if e.outcome else None})
        prev = e
    return out


def may_urge(eng: Engine, v: Viewer, case: Any) -> bool:
    """Whether the viewer may urge (督办) ``case``: the workflow's urge roles, above its unit or a supervisor."""
    wf, org = eng.workflow, eng.org
    if not set(wf.file.workflow.urge_roles) & set(v.roles) or not case.open:
        return False
    return org.within(case.unit, v.unit) and (v.unit != case.unit or "supervisor" in v.roles)


def _case(v: Viewer, eng: Engine, case_id: int, message: str | None = None) -> Page:
    case = eng.get(case_id)
    deadline = eng.deadline(case_id)
    now = eng.now()
    options = [o for o in eng.triggers(case_id, v.person_id) if o.allowed] if case.open else []
    wf = eng.spec_for(eng.version_id(case.workflow_version))
    state = wf.states.get(case.state)
    leader = "leader" in v.roles and eng.org.within(case.unit, v.unit) and case.open
    handling = case.open and (v.unit == case.unit or v.person_id in case.assignees or v.unit in case.assignees)
    return Page("case.html", {
        "case": case, "deadline": deadline, "light": light(deadline, now), "light_labels": labels(LIGHT_LABELS),
        "story": _story(eng, case), "options": options, "outcomes": labels(OUTCOMES), "message": message,
        "current_limit": limit_label(state.limit) if state else "", "since": now - case.timeline[-1].at
        if case.timeline else None, "may_urge": may_urge(eng, v, case), "may_park": leader and not case.parked,
        "may_unpark": leader and case.parked, "may_ask_extension": handling and not case.extension_request
        and deadline is not None, "may_decide_extension": leader and bool(case.extension_request),
        "extensions": [(e, limit_label(e)) for e in EXTENSIONS], "tz": eng.timezone, "sources": labels(SOURCES),
        "parties": _parties(eng, v), "extension_by": limit_label(str((case.extension_request or {}).get("by", ""))),
        # where each actor worked when they acted (an entry's own unit is the case's after the step)
        "actor_units": {e.actor_unit: eng.org.label(e.actor_unit) for e in case.timeline if e.actor_unit},
    })


def _parties(eng: Engine, v: Viewer) -> list[tuple[str, str]]:
    """Who a target usually names: the people of my unit and my unit's own sub-units (suggestions; the engine
    judges). Kept to one level so a district's page does not list every grid."""
    org = eng.organisation()
    below = org.children(v.unit)
    out = [(p.id, p.name + paren(org.label(p.unit), i18n.current())) for p in org.people.values()
           if p.active and p.unit == v.unit and p.id != v.person_id]
    out += [(u.code, u.name) for u in below]
    return out


CaseId = Annotated[int, Path(ge=1, le=2**62)]
SIDE_STEPS = ("urge", "park", "unpark", "extension-request", "extension-approve", "extension-deny")
EXTENSIONS = ("1 working day", "2 working days", "4 working hours", "1 working hour")


@router.get("/cases/{case_id}")
async def case_page(request: Request, case_id: CaseId) -> Response:
    return await handle(request, lambda v, eng: _case(v, eng, case_id))


@router.get("/cases/{case_id}/diagram.svg")
async def case_diagram(request: Request, case_id: CaseId) -> Response:
    def draw(v: Viewer, eng: Engine) -> Raw:
        with _draw_lock:
            return Raw(eng.diagram("svg", case_id), "image/svg+xml",
                       {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})

    return await handle(request, draw)


@router.post("/cases/{case_id}/fire/{trigger}")
async def fire(request: Request, case_id: CaseId, trigger: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]*$")]
               ) -> Response:
    async with read_form(request) as (form, photos):
        to = [t.strip() for raw in form.getlist("to") if isinstance(raw, str) for t in re.split(r"[,，\s]+", raw)
              if t.strip()]
        version = text(form, "expected_version")

        def work(v: Viewer, eng: Engine) -> Redirect:
            expected = whole(version) if version else None
            if version and expected is None:
                raise InputError("the form's case version {version!r} is not a number; reload the page and try "
                                 "again", version=version[:20])
            eng.fire(case_id, trigger, note=text(form, "note"), to=to, outcome=text(form, "outcome"), photos=photos,
                     expected_version=expected)
            return Redirect(f"{PREFIX}/cases/{case_id}")

        return await handle(request, work, csrf=text(form, "csrf"), post=True)


@router.post("/cases/{case_id}/{step}")
async def side_step(request: Request, case_id: CaseId, step: str) -> Response:
    if step not in SIDE_STEPS:
        return await not_found(request)
    async with read_form(request) as (form, _photos):
        note = text(form, "note")

        def work(v: Viewer, eng: Engine) -> Redirect:
            if step == "urge":
                eng.urge(case_id, note=note or "")
            elif step == "park":
                eng.park(case_id, note=note or "")
            elif step == "unpark":
                eng.unpark(case_id, note=note)
            elif step == "extension-request":
                eng.request_extension(case_id, by=text(form, "by") or "", note=note or "")
            else:
                eng.decide_extension(case_id, approve=step == "extension-approve", note=note)
            back = text(form, "back")
            return Redirect(back if back and back.startswith(PREFIX + "/") else f"{PREFIX}/cases/{case_id}")

        return await handle(request, work, csrf=text(form, "csrf"), post=True)


def _report_form(v: Viewer, eng: Engine) -> Page:
    wf, org = eng.workflow, eng.organisation()
    unit = org.unit(v.unit)
    grids = [v.unit] if unit is not None and unit.tier == "grid" else org.below(v.unit, "grid")
    classes = {c.id: c.label for c in wf.file.classes}
    groups: dict[str, list[tuple[str, str]]] = {}
    for c in wf.categories.values():
        group = labelled(classes.get(c.event_class), c.event_class, i18n.current())
        groups.setdefault(group, []).append((c.code, c.label))
    source = "informant" if "informant" in v.roles else "patrol"
    return Page("report.html", {"grids": [(g, org.label(g)) for g in grids], "groups": groups,
                                "source": source, "sources": labels(SOURCES)})


@router.get("/report")
async def report_form(request: Request) -> Response:
    return await handle(request, _report_form)


@router.post("/report")
async def report(request: Request) -> Response:
    async with read_form(request) as (form, photos):
        def work(v: Viewer, eng: Engine) -> Redirect:
            grid, category, desc = text(form, "grid"), text(form, "category"), text(form, "desc")
            if not grid or not category or not desc:
                raise InputError("choose the grid and the category, and describe what was found")
            case = eng.report(source=text(form, "source") or "patrol", grid=grid, category=category, desc=desc,
                              address=text(form, "address"), photos=photos)
            return Redirect(f"{PREFIX}/cases/{case.id}")

        return await handle(request, work, csrf=text(form, "csrf"), post=True)


@router.get("/files/{sha256}")
async def attachment(request: Request, sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]) -> Response:
    def look(v: Viewer, eng: Engine) -> Raw:
        media, data = eng.attachment(sha256)
        disposition = "inline" if media.startswith("image/") else "attachment"
        return Raw(data, media, {"Content-Disposition": f'{disposition}; filename="{sha256[:12]}"',
                                 "Content-Security-Policy": "default-src 'none'; sandbox",
                                 "X-Content-Type-Options": "nosniff"})

    return await handle(request, look)


async def not_found(request: Request) -> Response:
    """A page of the workbench that does not exist (an HTML page, not the API's problem document)."""
    return await handle(request, lambda v, eng: _missing(request.url.path))


def _missing(path: str) -> Page:
    raise NotFound("no such page: {path}", path=path)


__all__ = ["light", "limit_label", "not_found", "router"]
