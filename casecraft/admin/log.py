"""The admin chain: every administrative act, by whom, when — and who may do it.

Organisation changes, calendar changes, credentials issued and revoked,
workflow versions published and cases migrated are entries of their own hash
chain (``casecraft admin log``). They need the ``admin`` role; on a sandbox
database (demo, tests) they may be done without one and are recorded as done
by ``sandbox``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from casecraft import ledger
from casecraft.base.acting import When
from casecraft.base.errors import PermissionDenied
from casecraft.cases.rules import ADMIN_ROLE, acting_person
from casecraft.context import Context
from casecraft.store.base import Tx

SANDBOX_ACTOR = "sandbox"


@dataclass(frozen=True)
class AdminEntry:
    """One administrative act as the admin log shows it."""

    seq: int
    at: datetime
    recorded_at: datetime
    actor: str
    kind: str
    body: dict[str, Any]
    hash: str
    timezone: str = "Asia/Shanghai"

    def to_dict(self) -> dict[str, Any]:
        tz = ZoneInfo(self.timezone)
        return {"seq": self.seq, "at": self.at.astimezone(tz).isoformat(),
                "recorded_at": self.recorded_at.astimezone(tz).isoformat(), "actor": self.actor, "kind": self.kind,
                "body": self.body, "hash": self.hash}


def require_admin(ctx: Context, tx: Tx, actor: str | None) -> str:
    """The admin doing an administrative act (read in ``tx``); ``sandbox`` on a sandbox database without one.

    Raises:
        PermissionDenied: no actor outside a sandbox, or the actor is not an admin.
    """
    if actor is None or actor == SANDBOX_ACTOR:
        if ctx.sandbox:
            return SANDBOX_ACTOR
        raise PermissionDenied("administration needs an authenticated admin (casecraft login, or CASECRAFT_TOKEN)")
    person = acting_person(tx, actor)
    if ADMIN_ROLE not in person.roles and not ctx.sandbox:
        raise PermissionDenied("{name}({id}) is not an admin; this needs the admin role", name=person.name,
                               id=person.id)
    return person.id


def record(tx: Tx, actor: str, kind: str, body: dict[str, Any], when: When) -> int:
    """Append one act to the admin chain; its sequence number (the new administrative revision)."""
    return ledger.append(tx, ledger.ADMIN, [(kind, actor, body)], when)[0].seq


def entries(ctx: Context, *, after: int = 0, limit: int = 1000) -> list[AdminEntry]:
    """The admin log, oldest first."""
    tz = ctx.timezone if _has_workflow(ctx) else "Asia/Shanghai"
    with ctx.read() as tx:
        rows = tx.ledger(ledger.ADMIN, after=after, limit=limit)
    return [AdminEntry(seq=e.seq, at=e.at, recorded_at=e.recorded_at, actor=e.actor_id, kind=e.kind, body=e.body,
                       hash=e.hash, timezone=tz) for e in rows]


def _has_workflow(ctx: Context) -> bool:
    try:
        ctx.current()
    except Exception:  # no published version yet: show Beijing time
        return False
    return True


__all__ = ["SANDBOX_ACTOR", "AdminEntry", "entries", "record", "require_admin"]
