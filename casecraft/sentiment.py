"""民情日志 (public-sentiment log): a grid leader's daily record of visits and residents' concerns.

An entry belongs to one grid and one local date (the workflow's timezone);
the monthly evaluation counts the working days with at least one entry
(民情日志登记率). Each entry is chained in the ``logs`` ledger, so an entry
edited or deleted afterwards is found by the audit. An entry for a past day
is an admin's back-fill, stored and counted as such; photos are stored in
the database like case attachments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from casecraft import ledger
from casecraft.base.errors import N_, InputError, Joined, PermissionDenied
from casecraft.base.text import clean_text
from casecraft.cases.files import staged, store_staged
from casecraft.cases.service import CaseService
from casecraft.context import Context

LOG_ROLES = ("grid_leader", "grid_assistant")
"""Who keeps a grid's log: its leader, or the assistant standing in."""
MAX_TEXT = 4000


@dataclass(frozen=True)
class LogView:
    """One 民情日志 entry."""

    id: int
    grid: str
    grid_name: str
    actor: str
    actor_name: str
    day: date
    at: datetime
    text: str
    attachments: tuple[dict[str, Any], ...]
    timezone: str
    backfill: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "grid": self.grid, "grid_name": self.grid_name, "actor": self.actor,
                "actor_name": self.actor_name, "day": self.day.isoformat(),
                "at": self.at.astimezone(ZoneInfo(self.timezone)).isoformat(), "text": self.text,
                "attachments": list(self.attachments), "backfill": self.backfill}

    @classmethod
    def from_dict(cls, d: dict[str, Any], timezone: str | None = None) -> LogView:
        """The entry from :meth:`to_dict`'s fields; the timezone from ``timezone``, else ``d["timezone"]``."""
        return cls(id=d["id"], grid=d["grid"], grid_name=d["grid_name"], actor=d["actor"],
                   actor_name=d["actor_name"], day=date.fromisoformat(d["day"]), at=datetime.fromisoformat(d["at"]),
                   text=d["text"], attachments=tuple(d["attachments"]),
                   timezone=timezone or d.get("timezone") or "Asia/Shanghai", backfill=bool(d.get("backfill", False)))


class Logbook:
    """民情日志: add and list entries, over the shared context."""

    def __init__(self, ctx: Context, cases: CaseService) -> None:
        self.ctx = ctx
        self.cases = cases

    def _view(self, org: Any, r: dict[str, Any], tz: str) -> LogView:
        return LogView(id=r["id"], grid=r["grid_code"], grid_name=org.label(r["grid_code"]), actor=r["actor_id"],
                       actor_name=org.label(r["actor_id"]), day=r["day"], at=r["at"], text=r["text"],
                       attachments=tuple(r["attachments"] or ()), timezone=tz, backfill=bool(r.get("backfill")))

    def add(self, *, grid: str, actor: str, text: str, photos: Sequence[str] = (),
            on_behalf_of: str | None = None) -> LogView:
        """Record a 民情日志 entry for today (the clock's local date).

        Raises:
            InputError: an unknown grid or person, empty or overlong text, a bad photo.
            PermissionDenied: the actor is not the grid's leader or assistant; a back-fill by a non-admin.
        """
        wf = self.ctx.workflow
        body = clean_text(text, N_("the log text"), MAX_TEXT, required=True)
        with staged(photos) as staging, self.ctx.write() as tx:
            org = self.ctx.org_in(tx)
            unit = org.unit(grid)
            if unit is None or unit.kind != "platform" or unit.tier != wf.tiers[0]:
                raise InputError("unknown grid '{grid}'; give a grid code (15 digits)",
                                 grid=grid)
            if not unit.active:
                raise PermissionDenied("grid {grid} ({name}) is deactivated", grid=grid, name=unit.name)
            person, who, when = self.cases.acting(tx, actor, on_behalf_of)
            if person.unit != grid or not set(LOG_ROLES) & set(person.roles):
                keepers = Joined((wf.roles[r].label if r in wf.roles else r for r in LOG_ROLES), ", ")  # 、 in Chinese
                raise PermissionDenied("{name}({id}) may not keep the log of {grid_name}: it is kept by the grid's "
                                       "{keepers}", name=person.name, id=person.id, grid_name=unit.name,
                                       keepers=keepers, actor=actor, grid=grid)
            files = store_staged(tx, staging, when.recorded_at)
            values = {"grid_code": grid, "actor_id": person.id,
                      "day": when.at.astimezone(ZoneInfo(wf.timezone)).date(), "at": when.at,
                      "recorded_at": when.recorded_at, "backfill": when.backfill, "text": body,
                      "attachments": list(files)}
            new_id = tx.insert_log(values)
            ledger.append(tx, ledger.LOGS, [("log", person.id, {"id": new_id, **values,
                                                                "on_behalf_of": who.on_behalf_of})], when)
            return self._view(org, {**values, "id": new_id}, wf.timezone)

    def list(self, *, grid: str | None = None, month: str | None = None, org: str | None = None,
             limit: int = 500) -> list[LogView]:
        """Entries, oldest first, of one grid, or of the grids under ``org``, in ``month`` (``YYYY-MM``).

        Raises:
            InputError: an unknown grid or unit, a bad month.
        """
        from casecraft.evaluation.period import parse_month

        if not 1 <= limit <= 100_000:
            raise InputError("the number of entries must be between 1 and 100000")
        start = end = None
        if month is not None:
            y, m = parse_month(month)
            start, end = date(y, m, 1), date(y + m // 12, m % 12 + 1, 1)
        tz = self.ctx.timezone
        with self.ctx.read() as tx:
            view_org = self.ctx.org_in(tx)
            if grid is not None and view_org.unit(grid) is None:
                raise InputError("unknown grid '{grid}'", grid=grid)
            if org is not None and view_org.unit(org) is None:
                raise InputError("unknown unit '{unit}'", unit=org)
            rows = tx.logs(grid=grid, org=org, start=start, end=end, limit=limit)
            return [self._view(view_org, r, tz) for r in rows]


__all__ = ["LOG_ROLES", "LogView", "Logbook"]
