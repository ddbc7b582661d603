"""What GeoReport v2 says about casecraft's catalogue and cases, and what its requests ask of it.

Pure translation, no database: the event catalogue as services and service
definitions, a case as a service request, and the fields of ``POST requests``
and the filters of ``GET requests`` read and checked. Refusals are
:class:`~casecraft.base.errors.CasecraftError` subclasses with message
templates; the router turns them into GeoReport errors. No refusal repeats
the caller's contact, description or address.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from casecraft.base.clock import parse_time
from casecraft.base.duration import Duration
from casecraft.base.errors import N_, InputError, NotFound
from casecraft.base.text import MAX_ID, clean_text
from casecraft.base.views import CaseView
from casecraft.intake.hotline import CHANNELS, LIMITS
from casecraft.workflows.spec import Workflow

DEFAULT_WINDOW = timedelta(days=90)  # the specification's default range of GET requests
MAX_PAGE_SIZE = 1000  # the specification's default query limit is 1000 requests
DEFAULT_PAGE_SIZE = 100
MAX_IDS = 1000
GENERATED_PREFIX = "o311-"
CHANNEL_NAMES = {"12345": "12345市民服务热线", "96005": "96005环境热线"}
_TICKET = re.compile(r"[^\s\x00-\x1f]+")  # as the hotline import checks it
_GRID = re.compile(r"\d{15}")
_CJK = re.compile(r"[\u3400-\u9fff]")

# The service definition shared by every service: the attributes a client may send as attribute[CODE]=VALUE.
ATTRIBUTES: tuple[dict[str, Any], ...] = (
    {"variable": True, "code": "ticket", "datatype": "string", "required": False,
     "datatype_description": "1至64个字符，不含空格", "order": 1,
     "description": "工单号（幂等键）：同一工单号再次提交时返回已受理的同一请求，不会重复立案；"
                    "不填则由平台生成，重复提交会产生新的请求"},
    {"variable": True, "code": "channel", "datatype": "singlevaluelist", "required": False,
     "datatype_description": None, "order": 2, "description": "来源热线，不填为12345",
     "values": [{"key": k, "name": CHANNEL_NAMES.get(k, k)} for k in CHANNELS]},
    {"variable": True, "code": "grid", "datatype": "string", "required": False,
     "datatype_description": "15位数字", "order": 3,
     "description": "网格编码：给出时按网格分派，优先于地址（address_string）"},
)
ATTRIBUTE_CODES = tuple(a["code"] for a in ATTRIBUTES)


def w3(at: datetime | None, tz: str) -> str | None:
    """A time as the specification writes it: ISO 8601 with its offset, to the second."""
    return at.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds") if at is not None else None


def _limit_label(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return Duration.parse(text).label
    except ValueError:
        return text


# --------------------------------------------------------------------------- the catalogue


def services(wf: Workflow) -> list[dict[str, Any]]:
    """The event catalogue as GeoReport services: code, label, the class as group, realtime, with metadata."""
    classes = {c.id: c.label for c in wf.file.classes}
    urgencies = {u.id: u.label for u in wf.file.urgencies}
    out: list[dict[str, Any]] = []
    for cat in wf.categories.values():
        group = classes.get(cat.event_class, cat.event_class)
        limit = _limit_label(cat.limit)
        description = f"{group}：{cat.label}。紧急程度{urgencies.get(cat.urgency, cat.urgency)}" + (
            f"，案件时限{limit}（立案起算）。" if limit else "。")
        keywords = ",".join(dict.fromkeys([*cat.label.split("/"), group]))
        out.append({"service_code": cat.code, "service_name": cat.label, "description": description,
                    "metadata": True, "type": "realtime", "keywords": keywords, "group": group})
    return out


def service_definition(wf: Workflow, code: str) -> dict[str, Any]:
    """The service definition of a category: its code and the attributes a request may carry.

    Raises:
        NotFound: no such category.
    """
    if code not in wf.categories:
        raise NotFound("no service '{service_code}'; the services are listed at services.json",
                       service_code=code[:32])
    return {"service_code": code, "attributes": [dict(a) for a in ATTRIBUTES]}


# --------------------------------------------------------------------------- cases as service requests


def status_notes(view: CaseView) -> str:
    """The current step and the platform handling it, e.g. 街道受理（东高地街道指挥分中心）."""
    return f"{view.state_label}（{view.unit_name}）" + ("，已挂账" if view.parked else "")


def service_request(view: CaseView) -> dict[str, Any]:
    """A case as a GeoReport service request (never its contact, reporter or timeline)."""
    tz = view.timezone
    return {
        "service_request_id": str(view.id), "status": "open" if view.open else "closed",
        "status_notes": status_notes(view), "service_name": view.category_label, "service_code": view.category,
        "description": view.description, "agency_responsible": view.unit_name, "service_notice": None,
        "requested_datetime": w3(view.received_at or view.created_at, tz),
        "updated_datetime": w3(view.updated_at, tz), "expected_datetime": w3(view.deadline_at, tz),
        "address": view.address, "address_id": None, "zipcode": None, "lat": None, "long": None,
        "media_url": None,
    }


def created(view: CaseView) -> dict[str, Any]:
    """The answer to ``POST requests``: the request id (realtime, so no token) and what happens next."""
    return {"service_request_id": str(view.id),
            "service_notice": f"已受理：{status_notes(view)}，将按地址分派到所在社区和网格核实处置。"}


def requested_at(view: CaseView) -> datetime:
    return view.received_at or view.created_at


# --------------------------------------------------------------------------- POST requests


@dataclass(frozen=True)
class Order:
    """A checked ``POST requests``: a hotline work order for the intake."""

    service_code: str
    ticket: str
    generated: bool  # the platform made the ticket up: the request is not idempotent
    channel: str
    address: str | None
    grid: str | None
    description: str
    contact: str | None

    def record(self, received_at: str) -> dict[str, Any]:
        """The work order as one JSON Lines record of the hotline import."""
        return {"ticket": self.ticket, "channel": self.channel, "received_at": received_at,
                "address": self.address, "grid": self.grid, "category": self.service_code,
                "description": self.description, "contact": self.contact}


Fields = Mapping[str, Sequence[str]]


def one(fields: Fields, name: str) -> str | None:
    """The one value of a field; an empty value is the same as none (the specification's "optional").

    Raises:
        InputError: the field is given more than once.
    """
    values = fields.get(name) or ()
    if len(values) > 1:
        raise InputError("{field} is given {count} times; give it once", field=name, count=len(values))
    if not values or not values[0].strip():
        return None
    return values[0]


def _coordinate(fields: Fields, name: str, bound: float) -> float | None:
    raw = one(fields, name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > bound:
        raise InputError("{field} must be a WGS84 number between -{bound} and {bound}", field=name, bound=int(bound))
    return value


def _name(first: str | None, last: str | None) -> str:
    first, last = (first or "").strip(), (last or "").strip()
    if _CJK.search(first + last):  # 张 + 三 → 张三
        return last + first
    return " ".join(p for p in (first, last) if p)  # John + Smith → John Smith


def _contact(fields: Fields) -> str | None:
    """The caller's name, phone and e-mail as the case's contact (stored, never shown by Open311)."""
    parts = [_name(one(fields, "first_name"), one(fields, "last_name")), one(fields, "phone"), one(fields, "email")]
    text = " ".join(p.strip() for p in parts if p and p.strip())
    return clean_text(text, N_("the contact (first_name, last_name, phone, email)"), LIMITS["contact"],
                      single_line=True)


def read_order(fields: Fields, wf: Workflow) -> Order:
    """Check the fields of a ``POST requests`` against the catalogue and the hotline intake's rules.

    Raises:
        InputError: a missing or bad field (400).
        NotFound: an unknown service_code (404).
    """
    code = one(fields, "service_code")
    if code is None:
        raise InputError("service_code is required; the services are listed at services.json", field="service_code")
    if code not in wf.categories:
        raise NotFound("no service '{service_code}'; the services are listed at services.json",
                       service_code=code[:32], field="service_code")
    unknown = sorted({k for k in fields if k.startswith("attribute[")} - {f"attribute[{c}]" for c in ATTRIBUTE_CODES})
    if unknown:
        raise InputError("unknown attribute {attribute}; the attributes are {allowed} "
                         "(see services/{service_code}.json)", attribute=unknown[0][:40],
                         allowed=", ".join(ATTRIBUTE_CODES), service_code=code, field="attribute")
    address = clean_text(one(fields, "address_string"), "address_string", LIMITS["address"])
    grid = one(fields, "attribute[grid]")
    if grid is not None and not _GRID.fullmatch(grid.strip()):
        raise InputError("attribute[grid] must be a grid code of 15 digits", field="attribute[grid]")
    lat, long = _coordinate(fields, "lat", 90.0), _coordinate(fields, "long", 180.0)
    if (lat is None) != (long is None):
        raise InputError("lat and long go together; send both, or neither", field="lat")
    if address is None and grid is None:
        if lat is not None or one(fields, "address_id") is not None:
            raise InputError("this platform routes a request to its grid by the address: send address_string "
                             "(lat/long and address_id alone cannot be routed, the organisation has no map)",
                             field="address_string")
        raise InputError("a location is required: send address_string (or attribute[grid])", field="address_string")
    description = clean_text(one(fields, "description"), "description", LIMITS["description"])
    if description is None:
        raise InputError("description is required: say what the problem is", field="description")
    ticket = one(fields, "attribute[ticket]")
    generated = ticket is None
    if ticket is None:
        ticket = GENERATED_PREFIX + secrets.token_hex(8)
    ticket = ticket.strip()
    if len(ticket) > LIMITS["ticket"] or not _TICKET.fullmatch(ticket):
        raise InputError("attribute[ticket] must be 1 to {limit} characters without spaces", limit=LIMITS["ticket"],
                         field="attribute[ticket]")
    channel = (one(fields, "attribute[channel]") or CHANNELS[0]).strip()
    if channel not in CHANNELS:
        raise InputError("attribute[channel] must be one of {allowed}", allowed=", ".join(CHANNELS),
                         field="attribute[channel]")
    return Order(service_code=code, ticket=ticket, generated=generated, channel=channel, address=address,
                 grid=grid.strip() if grid else None, description=description, contact=_contact(fields))


# --------------------------------------------------------------------------- GET requests


@dataclass(frozen=True)
class Query:
    """The filters of ``GET requests``, checked; times in UTC."""

    ids: tuple[int, ...] | None = None
    codes: tuple[str, ...] | None = None
    is_open: bool | None = None
    start: datetime | None = None
    end: datetime | None = None
    updated_after: datetime | None = None
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    @property
    def lower_bound(self) -> datetime | None:
        """No request matching the query was updated before this (requested ≤ updated, always)."""
        bounds = [b for b in (self.start, self.updated_after) if b is not None]
        return max(bounds) if bounds else None

    def matches(self, view: CaseView) -> bool:
        at = requested_at(view)
        return not ((self.codes is not None and view.category not in self.codes)
                    or (self.start is not None and at < self.start)
                    or (self.end is not None and at > self.end)
                    or (self.updated_after is not None and view.updated_at <= self.updated_after))


def _list(value: str | None) -> list[str] | None:
    if value is None or not value.strip():
        return None
    return [v.strip() for v in value.split(",") if v.strip()] or None


def _time(value: str | None, name: str, tz: str) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        return parse_time(value, tz)
    except InputError:
        raise InputError("{field} is not a date-time; use the W3C form, e.g. 2026-11-24T08:00:00+08:00",
                         field=name) from None


def read_query(wf: Workflow, now: datetime, *, service_request_id: str | None = None,
               service_code: str | None = None, start_date: str | None = None, end_date: str | None = None,
               status: str | None = None, updated_after: str | None = None, page: int = 1,
               page_size: int = DEFAULT_PAGE_SIZE) -> Query:
    """Check the filters of ``GET requests``.

    ``service_request_id`` (comma-separated) overrides every other filter, as the
    specification says. Without any date filter the requests of the last 90 days
    are listed.

    Raises:
        InputError: a bad id, service code, status or date, or start_date after end_date.
    """
    ids = _list(service_request_id)
    if ids is not None:
        if len(ids) > MAX_IDS or not all(i.isdigit() and 1 <= int(i) <= MAX_ID for i in ids):
            raise InputError("service_request_id must be up to {max} request ids separated by commas", max=MAX_IDS,
                             field="service_request_id")
        return Query(ids=tuple(dict.fromkeys(int(i) for i in ids)), page=page, page_size=page_size)
    codes = _list(service_code)
    for code in codes or ():
        if code not in wf.categories:
            raise InputError("no service '{service_code}'; the services are listed at services.json",
                             service_code=code[:32], field="service_code")
    statuses = set(_list(status) or ())
    if statuses - {"open", "closed"}:
        raise InputError("status must be open, closed or both (comma-separated)", field="status")
    is_open = None if len(statuses) != 1 else statuses == {"open"}
    tz = wf.timezone
    start, end = _time(start_date, "start_date", tz), _time(end_date, "end_date", tz)
    after = _time(updated_after, "updated_after", tz)
    if start is not None and end is not None and start > end:
        raise InputError("start_date is after end_date", field="start_date")
    if start is None and after is None:
        base = end or now
        try:
            start = base - DEFAULT_WINDOW
        except OverflowError:  # the 90 days before an end_date early in year 1: before any date there is
            raise InputError("end_date is too early; give a date after 0001-04-01", field="end_date") from None
    return Query(codes=tuple(codes) if codes else None, is_open=is_open, start=start, end=end, updated_after=after,
                 page=page, page_size=page_size)


__all__ = ["ATTRIBUTES", "Order", "Query", "created", "read_order", "read_query", "service_definition",
           "service_request", "services", "status_notes", "w3"]
