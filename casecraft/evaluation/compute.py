"""The monthly evaluation: counts from SQL, figures, scores, grades and ranks per level."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from casecraft.base.errors import CalendarError, InputError
from casecraft.evaluation import scoring as sc
from casecraft.evaluation.period import Period, days_between, month_period
from casecraft.store import evaluation_repo as q
from casecraft.workflows.model import PUBLIC_SOURCES

if TYPE_CHECKING:
    from casecraft.context import EngineView as Engine

GRID_SOURCES = ("patrol", "informant")
"""Reports made by the grid itself: its leader's patrol and its informants."""


@dataclass(frozen=True)
class UnitRow:
    """One unit's month: figures, score, grade and rank within its ranking group."""

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
    previous_score: float | None = None

    @property
    def change(self) -> float | None:
        """Score change against the previous month (None if either is missing)."""
        if self.score is None or self.previous_score is None:
            return None
        return round(self.score - self.previous_score, 2)

    def to_dict(self) -> dict[str, Any]:
        return {"unit": self.unit, "name": self.name, "level": self.level, "parent": self.parent,
                "group": self.group, "group_name": self.group_name, "figures": self.figures, "score": self.score,
                "grade": self.grade, "rank": self.rank, "group_size": self.group_size,
                "previous_score": self.previous_score, "change": self.change}


@dataclass(frozen=True)
class MonthlyReport:
    """A level's ranking for one month (rows ranked by score within each group)."""

    month: str
    level: str
    level_label: str
    org: str | None
    period: Period
    workdays: int
    indicators: tuple[sc.IndicatorSpec, ...]
    rows: tuple[UnitRow, ...]
    previous_month: str
    computed_at: datetime
    recorded: bool = False

    def to_dict(self) -> dict[str, Any]:
        tz = ZoneInfo(self.period.timezone)
        return {
            "month": self.month, "level": self.level, "level_label": self.level_label, "org": self.org,
            "from": self.period.start.astimezone(tz).isoformat(), "to": self.period.end.astimezone(tz).isoformat(),
            "complete": self.period.complete, "workdays": self.workdays, "previous_month": self.previous_month,
            "computed_at": self.computed_at.astimezone(tz).isoformat(), "recorded": self.recorded,
            "indicators": [{"id": i.id, "label": i.label, "weight": i.weight, "direction": i.direction}
                           for i in self.indicators],
            "rows": [r.to_dict() for r in self.rows],
        }


@dataclass
class Counts:
    """Per-level unit counts of one period, and the platform units they belong to."""

    period: Period
    workdays: int
    units: dict[str, dict[str, Any]]
    by_level: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)


def _states_left_by(engine: Engine, triggers: set[str]) -> list[str]:
    wf = engine.workflow
    return sorted({src for tr in wf.file.transitions if tr.trigger in triggers for src in tr.sources
                   if wf.states.get(src) is not None and wf.states[src].limit})


def count(engine: Engine, period: Period) -> Counts:
    """Run the evaluation's SQL for one period and roll grid counts up to communities and streets.

    Raises:
        CalendarError: the working calendar lacks dates of the period.
    """
    wf = engine.workflow
    tiers = wf.tiers
    grid_tier = tiers[0]
    with engine.store.read() as tx:
        units = {u["code"]: u for u in q.platform_units(tx)}
        cases = q.case_sums(tx, period, public=PUBLIC_SOURCES, own=GRID_SOURCES, grassroots=tiers[:2],
                            grid_tier=grid_tier)
        steps = q.step_sums(tx, period, verify_states=_states_left_by(engine, {"verify", "reject"}),
                            check_states=_states_left_by(engine, {"check", "rework"}))
        logs = q.log_days(tx, period)
        work, known = q.workdays(tx, period)
    needed = days_between(period.first_day, period.day_end)
    if known < needed:
        raise CalendarError("the working calendar lacks {missing} date(s) of {month}; import the year's arrangement "
                            "or set the dates",
                            missing=needed - known, month=period.month)
    grids: dict[str, dict[str, int]] = {}
    for code, u in units.items():
        if u["tier"] != grid_tier:
            continue
        c: dict[str, int] = {}
        sc.add_counts(c, cases.get(code, {}))
        sc.add_counts(c, steps.get(code, {}))
        c["log_days"] = logs.get(code, 0)
        busy = any(v for k, v in c.items())
        if not u["active"] and not busy:
            continue  # a retired grid with nothing in the month is not evaluated
        c["log_workdays"] = work
        grids[code] = c
    out = Counts(period=period, workdays=work, units=units, by_level={grid_tier: grids})
    below = grids
    for tier in tiers[1:3]:
        level: dict[str, dict[str, int]] = {
            code: {} for code, u in units.items() if u["tier"] == tier and u["active"]}
        for code, c in below.items():
            parent = units[code]["parent_code"]
            if parent in units and units[parent]["tier"] == tier:
                sc.add_counts(level.setdefault(parent, {}), c)
        out.by_level[tier] = level
        below = level
    return out


def _group_of(units: dict[str, dict[str, Any]], code: str, level: str) -> str | None:
    """The ranking group: the evaluating unit (district for streets, street for communities and grids)."""
    parent = units.get(code, {}).get("parent_code")
    if level == "grid":
        parent = units.get(parent or "", {}).get("parent_code")
    return parent


def rank_level(engine: Engine, counts: Counts, level: str) -> list[UnitRow]:
    """Figures, scores, grades and ranks of every unit of ``level``."""
    scheme = sc.scheme_from(engine.workflow.file.evaluation)
    specs = scheme.levels[level]
    units = counts.units
    figs = {code: sc.figures(c) for code, c in counts.by_level.get(level, {}).items()}
    groups: dict[str | None, list[str]] = {}
    for code in figs:
        groups.setdefault(_group_of(units, code, level), []).append(code)
    rows: list[UnitRow] = []
    for group, members in groups.items():
        group_max = {s.id: max((figs[m][s.id]["value"] or 0) for m in members) for s in specs if not s.is_rate}
        scores = {m: sc.composite(specs, figs[m], group_max) for m in members}
        ranked = sc.ranks(scores.items())
        size = sum(1 for m in members if scores[m] is not None)
        for m in members:
            rows.append(UnitRow(
                unit=m, name=units[m]["name"], level=level, parent=units[m]["parent_code"], group=group,
                group_name=units.get(group or "", {}).get("name", group or ""), figures=figs[m], score=scores[m],
                grade=sc.grade_for(scores[m], scheme.grades), rank=ranked.get(m), group_size=size))
    return sort_rows(rows)


def sort_rows(rows: list[UnitRow]) -> list[UnitRow]:
    return sorted(rows, key=lambda r: (r.group or "", r.rank is None, r.rank or 0, r.unit))


def check_level(engine: Engine, level: str) -> str:
    if level not in sc.LEVELS or level not in engine.workflow.tiers:
        raise InputError("unknown level {level!r}; use one of: {levels}", level=level, levels=", ".join(sc.LEVELS))
    return level


def within(units: dict[str, dict[str, Any]], code: str, root: str) -> bool:
    cur: str | None = code
    seen = 0
    while cur is not None and seen < 64:
        if cur == root:
            return True
        cur = units.get(cur, {}).get("parent_code")
        seen += 1
    return False


def period_for(engine: Engine, month: str | None) -> Period:
    """``month`` (None: the running month) as seen now.

    Raises:
        InputError: a bad month, or one that has not started yet.
    """
    from casecraft.evaluation.period import current_month

    now = engine.now()
    # an explicit empty --month is a mistake, not "the default month"
    return month_period(current_month(now, engine.timezone) if month is None else month, engine.timezone, now)
