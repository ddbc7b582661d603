"""The monthly evaluation: counts from SQL, figures, scores, grades and ranks per level."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from casecraft.base.errors import CalendarError, InputError
from casecraft.evaluation import scoring as sc
from casecraft.evaluation.period import Period, days_between, month_period
from casecraft.store import evaluation_repo as q
from casecraft.workflows.shape import PUBLIC_SOURCES

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


@dataclass(frozen=True)
class UnitTree:
    """The platform units as the evaluation reads them: code -> tier, parent, active (and name if read)."""

    tier: dict[str, str | None]
    parent: dict[str, str | None]
    active: dict[str, bool]
    name: dict[str, str]

    @classmethod
    def read(cls, tx: Any, *, names: bool = True) -> UnitTree:
        rows = q.platform_units(tx, names=names)
        return cls(tier={r[0]: r[1] for r in rows}, parent={r[0]: r[2] for r in rows},
                   active={r[0]: bool(r[3]) for r in rows}, name={r[0]: r[4] for r in rows} if names else {})


@dataclass
class Counts:
    """Per-level unit counts of one period, and the platform units they belong to.

    ``by_level``: level -> unit -> its counts vector (in the order of ``scoring.COUNT_KEYS``).
    """

    period: Period
    workdays: int
    units: UnitTree
    by_level: dict[str, dict[str, tuple[int, ...]]] = field(default_factory=dict)


def _states_left_by(engine: Engine, triggers: set[str]) -> list[str]:
    wf = engine.workflow
    return sorted({src for tr in wf.file.transitions if tr.trigger in triggers for src in tr.sources
                   if wf.states.get(src) is not None and wf.states[src].limit})


_NO_CASES = (0,) * len(q.CASE_SUMS)
_NO_STEPS = (0,) * len(q.STEP_SUMS)
# a grid's vector is its case sums, its log days and the month's workdays, then its step sums
assert sc.COUNT_KEYS == (*q.CASE_SUMS, "log_days", "log_workdays", *q.STEP_SUMS)


def count(engine: Engine, period: Period, *, names: bool = True) -> Counts:
    """Run the evaluation's SQL for one period and roll grid counts up to communities and streets.

    Args:
        names: read the units' names too (a report shows them; a recorded run does not need them).

    Raises:
        CalendarError: the working calendar lacks dates of the period.
    """
    wf = engine.workflow
    tiers = wf.tiers
    grid_tier = tiers[0]
    verify = _states_left_by(engine, {"verify", "reject"})
    check = _states_left_by(engine, {"check", "rework"})
    # the scans, longest first (a city's month: cases 2-3 s, step limits 1-2 s, logs 0.3-0.5 s on SQLite),
    # side by side over one snapshot where there are cores for it
    cases, steps, logs, units, (work, known) = q.read_together(engine.store, [
        lambda tx: q.case_sums(tx, period, public=PUBLIC_SOURCES, own=GRID_SOURCES, grassroots=tiers[:2],
                               grid_tier=grid_tier),
        lambda tx: q.step_sums(tx, period, verify_states=verify, check_states=check),
        lambda tx: q.log_days(tx, period),
        lambda tx: UnitTree.read(tx, names=names),
        lambda tx: q.workdays(tx, period),
    ])
    needed = days_between(period.first_day, period.day_end)
    if known < needed:
        raise CalendarError("the working calendar lacks {missing} date(s) of {month}; import the year's arrangement "
                            "or set the dates",
                            missing=needed - known, month=period.month)
    grids: dict[str, tuple[int, ...]] = {}
    active = units.active
    idle = (*_NO_CASES, 0, work, *_NO_STEPS)  # shared by every grid without a case, a step or a log
    for code in [c for c, tier in units.tier.items() if tier == grid_tier]:
        cv = cases.get(code)
        sv = steps.get(code)
        days = logs.get(code, 0)
        if cv is None and sv is None and not days:
            if active[code]:
                grids[code] = idle
            continue  # a retired grid with nothing in the month is not evaluated
        cv = cv or _NO_CASES
        sv = sv or _NO_STEPS
        if active[code] or days or any(cv) or any(sv):
            grids[code] = (*cv, days, work, *sv)
    out = Counts(period=period, workdays=work, units=units, by_level={grid_tier: grids})
    below = grids
    for tier in tiers[1:3]:
        children: dict[str, list[tuple[int, ...]]] = {}
        for code, vec in below.items():
            parent = units.parent[code]
            if parent is not None and units.tier.get(parent) == tier:
                children.setdefault(parent, []).append(vec)
        empty = (0,) * len(sc.COUNT_KEYS)
        level = {code: empty for code, t in units.tier.items() if t == tier and active[code]}
        for parent, vecs in children.items():
            level[parent] = tuple(map(sum, zip(*vecs, strict=True)))
        out.by_level[tier] = level
        below = level
    return out


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a month is counted and scored.

    A city's month makes about a million tuples, rows and dicts, none of them in a reference cycle, and
    the collections their allocation triggers (each older generation walks every object of the process)
    cost 0.2-0.3 s of CPU per run: 40 % of the client's work on PostgreSQL (bench/RESULTS.md). Cycles made
    meanwhile, by this thread or another, are collected when it runs again; it is left off if it was off.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def group_of(units: UnitTree, code: str, level: str) -> str | None:
    """The ranking group: the evaluating unit (district for streets, street for communities and grids)."""
    parent = units.parent.get(code)
    if level == "grid":
        parent = units.parent.get(parent or "")
    return parent


def score_level(engine: Engine, counts: Counts, level: str) -> list[sc.Scored]:
    """Scores, grades and ranks of every unit of ``level``, ordered as a report lists them."""
    scheme = sc.scheme_from(engine.workflow.file.evaluation)
    units = counts.units
    return sc.score_units(scheme.levels[level], scheme.grades,
                          ((code, group_of(units, code, level), vec)
                           for code, vec in counts.by_level.get(level, {}).items()))


def rank_level(engine: Engine, counts: Counts, level: str) -> list[UnitRow]:
    """Figures, scores, grades and ranks of every unit of ``level``."""
    names = counts.units.name
    parents = counts.units.parent
    return [UnitRow(unit=r.unit, name=names.get(r.unit, r.unit), level=level, parent=parents[r.unit],
                    group=r.group, group_name=names.get(r.group or "", r.group or ""),
                    figures=sc.figures_of(r.counts), score=r.score, grade=r.grade, rank=r.rank,
                    group_size=r.group_size)
            for r in score_level(engine, counts, level)]


def check_level(engine: Engine, level: str) -> str:
    if level not in sc.LEVELS or level not in engine.workflow.tiers:
        raise InputError("unknown level {level!r}; use one of: {levels}", level=level, levels=", ".join(sc.LEVELS))
    return level


def within(parents: dict[str, str | None], code: str, root: str) -> bool:
    cur: str | None = code
    seen = 0
    while cur is not None and seen < 64:
        if cur == root:
            return True
        cur = parents.get(cur)
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
