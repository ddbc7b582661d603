"""The evaluation's reports as the client rebuilds them from the API (without importing the evaluation).

:mod:`casecraft.evaluation` computes with SQL, so the client cannot import it;
these records carry the same attributes the command line renders
(``report monthly``, ``report history``) and their ``to_dict()`` gives back
exactly the JSON the server sent, which is the library's own ``to_dict()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class IndicatorView:
    id: str
    label: str
    weight: float
    direction: str
    is_rate: bool


@dataclass(frozen=True)
class PeriodView:
    month: str
    start: datetime
    end: datetime
    timezone: str
    complete: bool


@dataclass(frozen=True)
class UnitRowView:
    unit: str
    name: str
    level: str
    parent: str | None
    group: str | None
    group_name: str
    figures: dict[str, dict[str, Any]]
    score: float | None
    grade: str | None
    rank: int | None
    group_size: int
    previous_score: float | None
    change: float | None
    data: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)


@dataclass(frozen=True)
class MonthlyReportView:
    """A level's ranking for one month, as :class:`casecraft.evaluation.MonthlyReport` renders."""

    month: str
    level: str
    level_label: str
    org: str | None
    period: PeriodView
    workdays: int
    indicators: tuple[IndicatorView, ...]
    rows: tuple[UnitRowView, ...]
    previous_month: str
    computed_at: datetime
    recorded: bool
    data: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)

    @classmethod
    def from_dict(cls, d: dict[str, Any], timezone: str) -> MonthlyReportView:
        """From the API's JSON (the library's ``to_dict()`` plus ``is_rate`` on each indicator)."""
        indicators = tuple(IndicatorView(i["id"], i["label"], i["weight"], i["direction"], bool(i.pop("is_rate")))
                           for i in d["indicators"])
        rows = tuple(UnitRowView(unit=r["unit"], name=r["name"], level=r["level"], parent=r["parent"],
                                 group=r["group"], group_name=r["group_name"], figures=r["figures"], score=r["score"],
                                 grade=r["grade"], rank=r["rank"], group_size=r["group_size"],
                                 previous_score=r["previous_score"], change=r["change"], data=r) for r in d["rows"])
        period = PeriodView(d["month"], datetime.fromisoformat(d["from"]), datetime.fromisoformat(d["to"]), timezone,
                            bool(d["complete"]))
        return cls(month=d["month"], level=d["level"], level_label=d["level_label"], org=d["org"], period=period,
                   workdays=d["workdays"], indicators=indicators, rows=rows, previous_month=d["previous_month"],
                   computed_at=datetime.fromisoformat(d["computed_at"]), recorded=bool(d["recorded"]), data=d)


@dataclass(frozen=True)
class HistoryRowView:
    """One recorded month of a unit, as :class:`casecraft.evaluation.HistoryRow` renders."""

    period: str
    level: str
    unit: str
    figures: dict[str, dict[str, Any]]
    score: float | None
    grade: str | None
    rank: int | None
    group: str | None
    group_size: int
    computed_at: datetime
    trigger: str
    timezone: str
    data: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)

    @classmethod
    def from_dict(cls, d: dict[str, Any], timezone: str) -> HistoryRowView:
        return cls(period=d["period"], level=d["level"], unit=d["unit"], figures=d["figures"], score=d["score"],
                   grade=d["grade"], rank=d["rank"], group=d["group"], group_size=d["group_size"],
                   computed_at=datetime.fromisoformat(d["computed_at"]), trigger=d["trigger"], timezone=timezone,
                   data=d)


__all__ = ["HistoryRowView", "IndicatorView", "MonthlyReportView", "PeriodView", "UnitRowView"]
