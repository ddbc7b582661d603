"""Who acts and when: the snapshot every chained entry keeps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Actor:
    """Who acts, as they are at the moment of the step (name, role and unit are kept in the entry).

    ``on_behalf_of`` names the admin who entered the step for this person.
    """

    id: str
    name: str
    role: str | None
    unit: str | None
    on_behalf_of: str | None = None


SYSTEM = Actor(id="system", name="系统", role=None, unit=None)
"""The actor of steps the engine takes itself (calendar corrections)."""


@dataclass(frozen=True)
class When:
    """When a step happened (``at``), when it was recorded, and whether ``at`` is an admin's back-fill."""

    at: datetime
    recorded_at: datetime
    backfill: bool = False


__all__ = ["SYSTEM", "Actor", "When"]
