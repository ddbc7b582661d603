"""Read-only views of cases and their timelines, as the API returns them.

Field names here are the stable JSON field names documented in the README.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

_V = TypeVar("_V")


def _mask_token(token: str) -> str:
    local, at, domain = token.partition("@")
    if at and not any(ch.isdigit() for ch in domain):  # an address: 13812345678@qq.com keeps one character
        return f"{local[:1]}***@{domain}"
    if any(ch.isdigit() for ch in token):
        # a number keeps its first 3 and last 4 characters: 13812345678 -> 138****5678
        return f"{token[:3]}****{token[-4:]}" if len(token) >= 8 else "****"
    return token[:1] + "*" * max(1, len(token) - 1)  # a name keeps its first character: 张女士 -> 张**


def mask_contact(value: str | None) -> str | None:
    """A citizen's contact as every output shows it by default: numbers, names and e-mail masked.

    ``13912345678 张女士`` → ``139****5678 张**``; an already masked ``138****5678`` stays as it is.
    None stays None; anything else is masked word by word (separated by whitespace, commas, semicolons).
    """
    if value is None:
        return None
    return _CONTACT_PARTS.sub(lambda m: _mask_token(m[0]), value)


# the parts of a contact masked one by one: an e-mail address, a number (digits with dashes, or already masked
# with stars), a run of anything else (a name) — so a name written against a number (13812345678张三) is a
# part of its own, not shown in full behind the number's first three digits
_CONTACT_PARTS = re.compile(r"[A-Za-z0-9._%+*\-]+@[^\s,;，；、/]+|\+?[0-9][0-9*\-]*[0-9]|[0-9]|[^\s,;，；、/0-9]+")


def maker(cls: type[_V]) -> Callable[..., _V]:
    """A maker of ``cls``'s instances (a frozen dataclass without slots) for the hot paths: the same object as
    ``cls(**fields)``, made without the generated ``__init__`` (which sets each field through
    ``object.__setattr__``: about 150 ns a field, 5 µs for a case's view). Every field must be given by name;
    anything else is refused as the constructor refuses it."""
    names = frozenset(f.name for f in fields(cls))  # type: ignore[arg-type]
    new = object.__new__

    def make(**values: Any) -> _V:
        if values.keys() != names:
            return cls(**values)  # the constructor's own defaults or error
        obj = new(cls)
        obj.__dict__.update(values)
        return obj

    return make


def iso(value: datetime | None, tz: str) -> str | None:
    return value.astimezone(ZoneInfo(tz)).isoformat() if value is not None else None


def parse_iso(value: str | None) -> datetime | None:
    """The datetime of an ISO 8601 text written by :func:`iso` (None stays None)."""
    return datetime.fromisoformat(value) if value is not None else None


@dataclass(frozen=True)
class TimelineView:
    """One timeline entry as shown: who did what, when, from which state and tier to which."""

    seq: int
    at: datetime
    actor: str
    actor_name: str
    actor_role: str | None
    actor_unit: str | None
    trigger: str
    trigger_label: str
    from_state: str | None
    to_state: str
    to_state_label: str
    from_tier: str | None
    to_tier: str
    unit: str
    unit_name: str
    targets: tuple[str, ...]
    target_names: str
    outcome: str | None
    note: str | None
    attachments: tuple[dict[str, Any], ...]
    hash: str
    recorded_at: datetime | None = None  # when the writing machine recorded it (differs on a back-fill)
    backfill: bool = False  # an admin entered it for a past time
    on_behalf_of: str | None = None  # the admin who entered it for the actor

    def to_dict(self, tz: str) -> dict[str, Any]:
        return {
            "seq": self.seq, "at": iso(self.at, tz), "actor": self.actor, "actor_name": self.actor_name,
            "actor_role": self.actor_role, "actor_unit": self.actor_unit, "trigger": self.trigger,
            "trigger_label": self.trigger_label, "from_state": self.from_state, "to_state": self.to_state,
            "to_state_label": self.to_state_label,
            "from_tier": self.from_tier, "to_tier": self.to_tier, "unit": self.unit, "unit_name": self.unit_name,
            "targets": list(self.targets), "outcome": self.outcome, "note": self.note,
            "attachments": list(self.attachments), "hash": self.hash,
            "recorded_at": iso(self.recorded_at, tz), "backfill": self.backfill, "on_behalf_of": self.on_behalf_of,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TimelineView:
        """The entry from :meth:`to_dict`'s fields (``target_names`` too when the API adds it)."""
        at = parse_iso(d["at"])
        assert at is not None
        return cls(seq=d["seq"], at=at, actor=d["actor"], actor_name=d["actor_name"], actor_role=d["actor_role"],
                   actor_unit=d["actor_unit"], trigger=d["trigger"], trigger_label=d["trigger_label"],
                   from_state=d["from_state"], to_state=d["to_state"], to_state_label=d["to_state_label"],
                   from_tier=d["from_tier"], to_tier=d["to_tier"], unit=d["unit"], unit_name=d["unit_name"],
                   targets=tuple(d["targets"]), target_names=d.get("target_names", ""), outcome=d["outcome"],
                   note=d["note"], attachments=tuple(d["attachments"]), hash=d["hash"],
                   recorded_at=parse_iso(d.get("recorded_at")), backfill=bool(d.get("backfill", False)),
                   on_behalf_of=d.get("on_behalf_of"))


@dataclass(frozen=True)
class CaseView:
    """A case as an operator sees it: state, tier, unit and (on ``get``) its timeline."""

    id: int
    state: str
    state_label: str
    tier: str
    tier_label: str
    unit: str
    unit_name: str
    grid: str | None
    category: str
    category_label: str
    urgency: str
    source: str
    ref: str | None
    description: str
    address: str | None
    reporter: str
    assignees: tuple[str, ...]
    resolved_tier: str | None
    open: bool
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    version: int
    workflow_version: int
    deadline_at: datetime | None = None
    timezone: str = "Asia/Shanghai"
    timeline: tuple[TimelineView, ...] = field(default_factory=tuple)
    parked: bool = False
    feedback: dict[str, str] = field(default_factory=dict)  # joint hand-over: party -> outcome so far
    extension_request: dict[str, Any] | None = None  # a pending 延期 request: by, note, actor, at
    channel: str | None = None
    received_at: datetime | None = None
    contact: str | None = None  # masked (mask_contact) unless revealed to a role the workflow allows
    registered_at: datetime | None = None  # 立案: when the case clock started

    def to_dict(self, *, timeline: bool = True) -> dict[str, Any]:
        tz = self.timezone
        out: dict[str, Any] = {
            "id": self.id, "state": self.state, "state_label": self.state_label, "tier": self.tier,
            "tier_label": self.tier_label, "unit": self.unit, "unit_name": self.unit_name, "grid": self.grid,
            "category": self.category, "category_label": self.category_label, "urgency": self.urgency,
            "source": self.source, "ref": self.ref, "description": self.description, "address": self.address,
            "reporter": self.reporter, "assignees": list(self.assignees), "resolved_tier": self.resolved_tier,
            "open": self.open, "created_at": iso(self.created_at, tz), "updated_at": iso(self.updated_at, tz),
            "closed_at": iso(self.closed_at, tz), "version": self.version,
            "workflow_version": self.workflow_version, "deadline_at": iso(self.deadline_at, tz),
            "parked": self.parked, "feedback": dict(self.feedback), "extension_request": self.extension_request,
            "channel": self.channel, "received_at": iso(self.received_at, tz), "contact": self.contact,
            "registered_at": iso(self.registered_at, tz),
        }
        if timeline:
            out["timeline"] = [t.to_dict(tz) for t in self.timeline]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any], timezone: str | None = None) -> CaseView:
        """The case from :meth:`to_dict`'s fields; the timezone from ``timezone``, else ``d["timezone"]``."""
        created, updated = parse_iso(d["created_at"]), parse_iso(d["updated_at"])
        assert created is not None and updated is not None
        return cls(
            id=d["id"], state=d["state"], state_label=d["state_label"], tier=d["tier"], tier_label=d["tier_label"],
            unit=d["unit"], unit_name=d["unit_name"], grid=d["grid"], category=d["category"],
            category_label=d["category_label"], urgency=d["urgency"], source=d["source"], ref=d["ref"],
            description=d["description"], address=d["address"], reporter=d["reporter"],
            assignees=tuple(d["assignees"]), resolved_tier=d["resolved_tier"], open=d["open"], created_at=created,
            updated_at=updated, closed_at=parse_iso(d["closed_at"]), version=d["version"],
            workflow_version=d["workflow_version"], deadline_at=parse_iso(d.get("deadline_at")),
            timezone=timezone or d.get("timezone") or "Asia/Shanghai",
            timeline=tuple(TimelineView.from_dict(t) for t in d.get("timeline") or ()),
            parked=bool(d.get("parked", False)), feedback=dict(d.get("feedback") or {}),
            extension_request=d.get("extension_request"), channel=d.get("channel"),
            received_at=parse_iso(d.get("received_at")), contact=d.get("contact"),
            registered_at=parse_iso(d.get("registered_at")))


# The same record as casecraft.cases.service.Page, here where a client command can import it without the case
# service (which imports the workflow's pydantic models): `casecraft case list --server ...` builds its page from it.
@dataclass(frozen=True)
class Page:
    """One page of a case list: the cases, how many match in all, and where the page starts."""

    cases: list[CaseView]
    total: int
    limit: int
    offset: int

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Page:
        """A page from the API's list answer (``total``, ``limit``, ``offset``, ``cases``)."""
        return cls([CaseView.from_dict(c) for c in d["cases"]], d["total"], d["limit"], d["offset"])


@dataclass(frozen=True)
class TriggerOption:
    """One thing that may happen next to a case, and who may do it."""

    trigger: str
    label: str
    dest: tuple[str, ...]
    dest_labels: tuple[str, ...]
    roles: tuple[str, ...]
    role_labels: tuple[str, ...]
    requires: tuple[str, ...]
    conditions: tuple[str, ...]
    actor: str
    allowed: bool | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger, "label": self.label, "dest": list(self.dest),
            "dest_labels": list(self.dest_labels), "roles": list(self.roles),
            "role_labels": list(self.role_labels), "requires": list(self.requires),
            "conditions": list(self.conditions), "actor": self.actor,
            "allowed": self.allowed, "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TriggerOption:
        """The option from :meth:`to_dict`'s fields."""
        return cls(trigger=d["trigger"], label=d["label"], dest=tuple(d["dest"]), dest_labels=tuple(d["dest_labels"]),
                   roles=tuple(d["roles"]), role_labels=tuple(d["role_labels"]), requires=tuple(d["requires"]),
                   conditions=tuple(d["conditions"]), actor=d["actor"], allowed=d.get("allowed"),
                   reason=d.get("reason"))
