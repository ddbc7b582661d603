"""Typed records of what the store holds: a case row, a deadline row, a timeline entry, an alert.

The services read and write these, never ``dict[str, Any]``; the store maps
them to and from its tables. Field names are the column names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, NamedTuple


@dataclass(frozen=True, slots=True)
class CaseRow:
    """One case as stored: where it is now, what the evaluation reads, and its chain head."""

    id: int
    workflow_version_id: int
    state: str
    tier: str
    unit_code: str
    grid_code: str | None
    category_code: str
    urgency: str
    source: str
    ref: str | None
    description: str
    address: str | None
    reporter_id: str
    assignees: tuple[str, ...]
    resolved_tier: str | None
    is_open: bool
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    version: int
    last_hash: str | None
    deadline_at: datetime | None = None
    registered_at: datetime | None = None
    parked: bool = False
    channel: str | None = None
    received_at: datetime | None = None
    contact: str | None = None
    feedback: dict[str, str] | None = None
    extension_request: dict[str, Any] | None = None

    def values(self) -> dict[str, Any]:
        """The row as column values (JSON columns as plain lists and dicts)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["assignees"] = list(self.assignees)
        return out


CASE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(CaseRow))

FACT_FIELDS: tuple[str, ...] = tuple(f for f in CASE_FIELDS if f not in ("id", "version", "last_hash", "updated_at"))
"""The case fields a timeline entry commits to (what the evaluation and the audit read)."""


@dataclass(frozen=True, slots=True)
class DeadlineRow:
    """The time limit of one step of a case, or of the whole case (``kind`` ``step`` | ``case``)."""

    id: int
    case_id: int
    kind: str
    seq: int
    state: str
    tier: str
    unit_code: str
    limit_text: str
    calendar: str
    started_at: datetime
    warn_at: datetime | None
    due_at: datetime
    escalate_at: datetime | None
    next_alert_at: datetime | None
    extended: int = 0
    closed_at: datetime | None = None
    outcome: str | None = None
    provisional: bool = False
    # A step limit still running or paused lives on its case's row (``id`` is then ``-case_id``) and is written
    # to the deadlines table when it ends; ``row_id`` is the id such a stage's row had before migration 0006
    # (the alerts raised about it name that id; it keeps it when it is written again), else None.
    row_id: int | None = None

    @property
    def on_case(self) -> bool:
        """Whether this is the running (or paused) step limit kept on the case row."""
        return self.id < 0


class ClosedDeadline(NamedTuple):
    """What closing a deadline row set on it (a step's deadline facts), and which row it was."""

    id: int
    kind: str
    seq: int
    closed_at: datetime | None
    outcome: str | None


class DueDeadline(NamedTuple):
    """What the sweep reads of a claimed step limit (kept on its case row): no more (a batch of 500 is claimed
    per transaction). ``id`` is ``-case_id``, as :class:`DeadlineRow` names a stage on the case row."""

    id: int
    case_id: int
    seq: int
    row_id: int | None
    state: str
    tier: str
    unit_code: str
    limit_text: str
    warn_at: datetime | None
    due_at: datetime
    escalate_at: datetime | None
    next_alert_at: datetime | None
    extended: int


DEADLINE_FACTS: tuple[str, ...] = (
    "kind", "seq", "state", "tier", "unit_code", "limit_text", "started_at", "warn_at", "due_at", "escalate_at",
    "extended", "closed_at", "outcome", "provisional")
"""The deadline fields a timeline entry commits to (``next_alert_at`` is the sweep's own bookkeeping)."""

STAGE_FIELDS: tuple[str, ...] = (
    "seq", "state", "tier", "unit_code", "limit_text", "calendar", "started_at", "warn_at", "due_at", "escalate_at",
    "next_alert_at", "extended", "closed_at", "outcome", "provisional", "row_id")
"""The fields of a step limit kept on its case's row, each in the column ``stage_<field>``."""
STAGE_COLUMNS: tuple[str, ...] = tuple(f"stage_{f}" for f in STAGE_FIELDS)


def stage_columns(values: Any) -> dict[str, Any]:
    """A step limit's values (a deadline row's, by field name; ``row_id`` may be absent) as the case row's
    ``stage_*`` columns."""
    get = values.get
    return {c: get(f) for c, f in zip(STAGE_COLUMNS, STAGE_FIELDS, strict=True)}


def stage_of(case_id: int, values: Sequence[Any]) -> DeadlineRow | None:
    """The step limit kept on case ``case_id``'s row, from its ``stage_*`` column values (in
    :data:`STAGE_COLUMNS` order); None when no step limit runs."""
    if values[0] is None:
        return None
    fields = dict(zip(STAGE_FIELDS, values, strict=True))
    fields["extended"] = fields["extended"] or 0
    fields["provisional"] = bool(fields["provisional"])
    return DeadlineRow(id=-case_id, case_id=case_id, kind="step", **fields)


@dataclass(frozen=True, slots=True)
class Entry:
    """One append-only, hash-chained step of a case's history.

    ``at`` is when the step happened (the claimed time of an admin's back-fill);
    ``recorded_at`` is when the writing machine recorded it. ``facts`` holds
    the case fields the step set, ``deadline_facts`` the deadline rows it opened or
    changed (id → the fields it set), so the audit can rebuild both.
    """

    case_id: int
    seq: int
    at: datetime
    recorded_at: datetime
    actor_id: str
    actor_name: str
    actor_role: str | None
    actor_unit: str | None
    trigger: str
    from_state: str | None
    to_state: str
    from_tier: str | None
    to_tier: str
    unit_code: str
    targets: tuple[str, ...] = ()
    outcome: str | None = None
    note: str | None = None
    attachments: tuple[dict[str, Any], ...] = ()
    facts: dict[str, Any] = field(default_factory=dict)
    deadline_facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    on_behalf_of: str | None = None
    backfill: bool = False
    prev_hash: str | None = None
    hash: str = ""
    hv: int = 2


@dataclass(frozen=True, slots=True)
class AlertRow:
    """A warning, overdue alert, re-escalation or urge raised at a unit's platform."""

    id: int
    key: str
    case_id: int | None
    deadline_id: int | None
    kind: str
    level: int
    unit_code: str
    state: str
    due_at: datetime | None
    raised_at: datetime
    message: str
    acked_by: str | None = None
    acked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One entry of a chain that is not a case's: ``admin`` (administration), ``alerts``, ``logs``."""

    chain: str
    seq: int
    at: datetime
    recorded_at: datetime
    actor_id: str
    kind: str
    body: dict[str, Any]
    prev_hash: str | None
    hash: str
    id: int | None = None


@dataclass(frozen=True)
class OrgUnit:
    """One unit of the organisation (a grid, a community, a department, the platform) as stored."""

    code: str
    name: str
    tier: str | None
    kind: str = "platform"
    parent: str | None = None
    active: bool = True
    # keywords of addresses in this unit's area (routes hotline tickets without a grid code)
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrgPerson:
    """One person of the organisation as stored: the unit they act for and their roles."""

    id: str
    name: str
    unit: str
    roles: tuple[str, ...]
    note: str | None = None
    active: bool = True


__all__ = ["AlertRow", "CASE_FIELDS", "CaseRow", "ClosedDeadline", "DEADLINE_FACTS", "DeadlineRow", "Entry",
           "FACT_FIELDS", "LedgerEntry", "OrgPerson", "OrgUnit", "STAGE_COLUMNS", "STAGE_FIELDS", "stage_columns",
           "stage_of"]
