"""民情日志 (public-sentiment log): a grid leader's daily record of visits and residents' concerns.

An entry belongs to one grid and one local date (the workflow's timezone);
the monthly evaluation counts the working days with at least one entry
(民情日志登记率). Photos are stored like case attachments (by sha256).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from casecraft.base.errors import InputError, PermissionDenied
from casecraft.store.models import SentimentLog, Unit

if TYPE_CHECKING:
    from casecraft.engine import Engine

logs_t = SentimentLog.__table__
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

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "grid": self.grid, "grid_name": self.grid_name, "actor": self.actor,
                "actor_name": self.actor_name, "day": self.day.isoformat(),
                "at": self.at.astimezone(ZoneInfo(self.timezone)).isoformat(), "text": self.text,
                "attachments": list(self.attachments)}


def _view(engine: Engine, r: Any) -> LogView:
    return LogView(id=r["id"], grid=r["grid_code"], grid_name=engine.org.label(r["grid_code"]), actor=r["actor_id"],
                   actor_name=engine.org.label(r["actor_id"]), day=r["day"], at=r["at"], text=r["text"],
                   attachments=tuple(r["attachments"] or ()), timezone=engine.timezone)


def add_log(engine: Engine, *, grid: str, actor: str, text: str, photos: Sequence[str] = ()) -> LogView:
    """Record a 民情日志 entry for today (the engine clock's local date).

    Raises:
        InputError: an unknown grid or person, empty or overlong text, a bad photo.
        PermissionDenied: the actor is not the grid's leader or assistant.
    """
    from casecraft.attachments import AttachmentStore
    from casecraft.engine import _text

    wf = engine.workflow
    engine._ensure_org()  # a fresh database gets the organisation of the workflow
    unit = engine.org.unit(grid)
    if unit is None or unit.kind != "platform" or unit.tier != wf.tiers[0]:
        raise InputError(f"unknown grid '{grid}'; give a grid code (15 digits), see `casecraft org show`", grid=grid)
    if not unit.active:
        raise PermissionDenied(f"grid {grid} ({unit.name}) is deactivated", grid=grid)
    person = engine._person(actor)
    if person.unit != grid or not set(LOG_ROLES) & set(person.roles):
        raise PermissionDenied(
            f"{person.name}({person.id}) may not keep the log of {unit.name}: it is kept by the grid's "
            f"{' or '.join(wf.roles[r].label if r in wf.roles else r for r in LOG_ROLES)}", actor=actor, grid=grid)
    body = _text(text, "the log text", MAX_TEXT, required=True)
    files = AttachmentStore(engine._data_dir).put_files(list(photos)) if photos else []
    now = engine.now()
    values = {"grid_code": grid, "actor_id": person.id, "day": now.astimezone(ZoneInfo(wf.timezone)).date(),
              "at": now, "text": body, "attachments": [f.to_dict() for f in files]}
    with engine.store.write() as tx:
        new_id = int(tx.conn.execute(insert(logs_t).values(**values).returning(logs_t.c.id)).scalar_one())
    return _view(engine, {**values, "id": new_id})


def _subtree(code: str) -> Any:
    units = Unit.__table__
    sub = select(units.c.code).where(units.c.code == code).cte("sub", recursive=True)
    sub = sub.union_all(select(units.c.code).join(sub, units.c.parent_code == sub.c.code))
    return select(sub.c.code)


def list_logs(engine: Engine, *, grid: str | None = None, month: str | None = None, org: str | None = None,
              limit: int = 500) -> list[LogView]:
    """Log entries, oldest first, of one grid, or of the grids under ``org``, in ``month`` (``YYYY-MM``).

    Raises:
        InputError: an unknown grid or unit, a bad month.
    """
    from casecraft.evaluation.period import parse_month

    engine._ensure_org()
    q = select(logs_t)
    if grid is not None:
        if engine.org.unit(grid) is None:
            raise InputError(f"unknown grid '{grid}'; see `casecraft org show`", grid=grid)
        q = q.where(logs_t.c.grid_code == grid)
    if org is not None:
        if engine.org.unit(org) is None:
            raise InputError(f"unknown unit '{org}'; see `casecraft org show`")
        q = q.where(logs_t.c.grid_code.in_(_subtree(org)))
    if month is not None:
        y, m = parse_month(month)
        q = q.where(logs_t.c.day >= date(y, m, 1), logs_t.c.day < date(y + m // 12, m % 12 + 1, 1))
    if not 1 <= limit <= 100_000:
        raise InputError("--limit must be between 1 and 100000")
    q = q.order_by(logs_t.c.day, logs_t.c.id).limit(limit)
    with engine.store.read() as tx:
        rows = [dict(r) for r in tx.conn.execute(q).mappings()]
    return [_view(engine, r) for r in rows]
