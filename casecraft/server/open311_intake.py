"""Open311 over the engine: a service request becomes a hotline work order; requests are read back as cases.

A ``POST requests`` is one hotline work order (source ``hotline``, ref = the
ticket) taken in by :meth:`casecraft.engine.Engine.import_hotline` exactly as a
file row would be: the same checks, the same routing by address to a grid, the
same permission (the intake account must be allowed to receive hotline cases
at the street the address belongs to), the same idempotency by ticket.

The import reads a work-order file twice (check every row, then route), so it takes
regular files only; the order is handed over as a one-line JSON Lines file in a private
temporary folder (0700; the file 0600), removed as soon as the import returns.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from casecraft.base.errors import ConflictError, InputError, PermissionDenied
from casecraft.base.views import CaseView
from casecraft.intake.service import NOT_THEIRS, BadRowsError, ImportResult
from casecraft.server.open311_model import Order, Query

if TYPE_CHECKING:
    from casecraft.engine import Engine

SOURCE = "hotline"
SCAN_CHUNK = 500
MAX_RECORD = 64 * 1024  # one work order, as JSON: far above the fields' limits
# the names of the work-order columns as a GeoReport client knows them
PARAMS = {"address": "address_string", "grid": "attribute[grid]", "ticket": "attribute[ticket]",
          "channel": "attribute[channel]", "category": "service_code", "description": "description",
          "contact": "first_name/last_name/phone/email", "received_at": "the time received"}


class OrderRefused(InputError):
    """The intake refused a request's work order; ``problems`` lists (parameter, reason) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("the request was refused: {reasons}",
                         reasons="; ".join(f"{field}: {reason}" for field, reason in problems),
                         problems=[{"field": f, "reason": r} for f, r in problems])


@dataclass(frozen=True)
class Submitted:
    """The case a request became, and whether this call created it (False: a repeated ticket)."""

    case: CaseView
    created: bool


def case_by_ticket(engine: Engine, ticket: str) -> int | None:
    """The id of the hotline case with this ticket, if any."""
    with engine.store.read() as tx:
        return tx.case_by_ref(SOURCE, ticket)


def _import(engine: Engine, record: dict[str, Any]) -> ImportResult:
    """The one work order through the hotline import (one write path, one set of checks).

    The record goes over as a one-line JSON Lines file in a private temporary folder (0700, the file
    0600, removed at once): the import reads regular files only, so that a device or a pipe can never
    stand in for a work-order file.
    """
    data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    if len(data) > MAX_RECORD:  # cannot happen within the field limits
        raise InputError("the request is too large")
    with tempfile.TemporaryDirectory(prefix="casecraft-open311-") as folder:
        path = os.path.join(folder, "order.jsonl")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return engine.import_hotline(path, fmt="jsonl")


def submit(engine: Engine, person_id: str, order: Order) -> Submitted:
    """Take a checked request in as a hotline case, acting as the authenticated intake account.

    A ticket already taken in (by this API or a hotline file) returns its case unchanged.

    Raises:
        OrderRefused: the intake refused the work order (address not routable, grid deactivated, ...).
        PermissionDenied: the account may not receive hotline cases.
    """
    existing = case_by_ticket(engine, order.ticket)
    if existing is not None:
        return Submitted(engine.get(existing), False)
    record = order.record(engine.now().isoformat())
    try:
        result = _import(engine.bound(person_id), record)
    except BadRowsError as exc:
        refused = [p for p in exc.problems if p.template == NOT_THEIRS]
        if refused:  # the account may not receive this street's hotline cases: a permission, not the request
            raise PermissionDenied("{reason}", reason=refused[0].reason) from None
        raise OrderRefused([(PARAMS.get(p.field, p.field), p.reason) for p in exc.problems]) from None
    except ConflictError:
        result = None  # the same ticket arrived twice at once: the other one created it
    if result is not None and result.case_ids:
        return Submitted(engine.get(result.case_ids[0]), True)
    existing = case_by_ticket(engine, order.ticket)
    if existing is None:
        raise ConflictError("the request could not be taken in; send it again (with the same ticket)")
    return Submitted(engine.get(existing), False)


def _scan(engine: Engine, q: Query) -> Iterator[CaseView]:
    """Hotline cases matching ``q``, most recently updated first.

    Interim: the engine filters by neither time, so the cases are read in chunks,
    newest update first, and the reading stops at the first one updated before
    the query's lower bound (a request is never updated before it was made).
    """
    category = q.codes[0] if q.codes is not None and len(q.codes) == 1 else None
    bound = q.lower_bound
    offset = 0
    while True:
        page = engine.page(source=SOURCE, is_open=q.is_open, category=category, sort="-updated",
                           limit=SCAN_CHUNK, offset=offset)
        for view in page.cases:
            if bound is not None and view.updated_at < bound:
                return
            if q.matches(view):
                yield view
        offset += len(page.cases)
        if len(page.cases) < SCAN_CHUNK:
            return


def find(engine: Engine, q: Query) -> tuple[list[CaseView], bool]:
    """One page of the requests matching ``q``, and whether another page follows.

    With ``service_request_id`` the requests come in id order; otherwise the most
    recently updated first, so a request changed while a client pages moves to
    the front: it may be seen twice, never missed.
    """
    skip = (q.page - 1) * q.page_size
    if q.ids is not None:
        page = engine.page(ids=list(q.ids), source=SOURCE, sort="id", limit=q.page_size + 1, offset=skip)
        return page.cases[:q.page_size], len(page.cases) > q.page_size
    out: list[CaseView] = []
    for i, view in enumerate(_scan(engine, q)):
        if i < skip:
            continue
        if len(out) == q.page_size:
            return out, True
        out.append(view)
    return out, False


__all__ = ["OrderRefused", "Submitted", "case_by_ticket", "find", "submit"]
