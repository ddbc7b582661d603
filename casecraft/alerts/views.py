"""What the supervision shows of an alert and of a deadline (the command line's client reads them too).

A module of its own so that a client showing a case loads these two records, not the sweep.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from casecraft.base.duration import humanize


@dataclass(frozen=True)
class AlertView:
    id: int
    case: int | None
    kind: str
    kind_label: str
    level: int
    unit: str
    unit_name: str
    state: str
    due_at: datetime | None
    raised_at: datetime
    message: str
    acked_by: str | None
    acked_at: datetime | None
    timezone: str = "Asia/Shanghai"
    key: str = ""

    def to_dict(self) -> dict[str, Any]:
        tz = ZoneInfo(self.timezone)

        def iso(d: datetime | None) -> str | None:
            return d.astimezone(tz).isoformat() if d else None

        return {"id": self.id, "key": self.key, "case": self.case, "kind": self.kind, "kind_label": self.kind_label,
                "level": self.level, "unit": self.unit, "unit_name": self.unit_name, "state": self.state,
                "due_at": iso(self.due_at), "raised_at": iso(self.raised_at), "message": self.message,
                "acked_by": self.acked_by, "acked_at": iso(self.acked_at)}

    @classmethod
    def from_dict(cls, d: dict[str, Any], timezone: str | None = None) -> AlertView:
        """The alert from :meth:`to_dict`'s fields; the timezone from ``timezone``, else ``d["timezone"]``."""
        def dt(v: str | None) -> datetime | None:
            return datetime.fromisoformat(v) if v is not None else None

        raised = dt(d["raised_at"])
        assert raised is not None
        return cls(id=d["id"], case=d["case"], kind=d["kind"], kind_label=d["kind_label"], level=d["level"],
                   unit=d["unit"], unit_name=d["unit_name"], state=d["state"], due_at=dt(d["due_at"]),
                   raised_at=raised, message=d["message"], acked_by=d["acked_by"], acked_at=dt(d["acked_at"]),
                   timezone=timezone or d.get("timezone") or "Asia/Shanghai", key=d.get("key", ""))


@dataclass(frozen=True)
class DeadlineView:
    state: str
    limit: str
    started_at: datetime
    warn_at: datetime | None
    due_at: datetime
    extended: int
    seconds_left: float
    provisional: bool = False

    @property
    def overdue(self) -> bool:
        return self.seconds_left < 0

    def to_dict(self, tz: str) -> dict[str, Any]:
        z = ZoneInfo(tz)
        return {"state": self.state, "limit": self.limit, "started_at": self.started_at.astimezone(z).isoformat(),
                "warn_at": self.warn_at.astimezone(z).isoformat() if self.warn_at else None,
                "due_at": self.due_at.astimezone(z).isoformat(), "extended": self.extended,
                "seconds_left": round(self.seconds_left), "overdue": self.overdue,
                "left": humanize(self.seconds_left), "provisional": self.provisional}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DeadlineView:
        """The deadline from :meth:`to_dict`'s fields (``seconds_left`` as rounded there)."""
        seconds = float(d["seconds_left"])
        if d.get("overdue") and seconds >= 0:  # overdue by less than half a second, rounded to 0
            seconds = -0.001
        warn = d.get("warn_at")
        return cls(state=d["state"], limit=d["limit"], started_at=datetime.fromisoformat(d["started_at"]),
                   warn_at=datetime.fromisoformat(warn) if warn else None, due_at=datetime.fromisoformat(d["due_at"]),
                   extended=d["extended"], seconds_left=seconds, provisional=bool(d.get("provisional", False)))


__all__ = ["AlertView", "DeadlineView"]
