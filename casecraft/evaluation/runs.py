"""The public evaluation API: monthly reports, recorded monthly runs, a unit's history, case statistics."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from casecraft.base.errors import InputError
from casecraft.evaluation import scoring as sc
from casecraft.evaluation.compute import (
    MonthlyReport,
    UnitRow,
    UnitTree,
    check_level,
    count,
    gc_paused,
    period_for,
    rank_level,
    score_level,
    within,
)
from casecraft.evaluation.period import Period, current_month, month_parts, month_period, previous_month
from casecraft.store import evaluation_repo as q

if TYPE_CHECKING:
    from casecraft.context import EngineView as Engine


def _check_org(engine: Engine, org: str | None, level: str) -> None:
    if org is None:
        return
    unit = engine.org.unit(org)
    if unit is None or unit.kind != "platform":
        raise InputError("unknown unit {unit!r}; give a platform unit code", unit=org)
    tiers = engine.workflow.tiers
    if unit.tier in tiers and tiers.index(unit.tier) < tiers.index(level):
        raise InputError("{unit!r} is a {tier} unit; a {level} ranking needs a unit at the {level} tier or above",
                         unit=org, tier=engine.workflow.tier_labels.get(unit.tier or "", unit.tier), level=level)


def monthly_report(engine: Engine, month: str | None = None, level: str = "grid", org: str | None = None
                   ) -> MonthlyReport:
    """The ranking of every unit of ``level`` for ``month`` (default: the running month, up to now).

    Args:
        month: ``YYYY-MM`` in the workflow's timezone.
        level: street, community or grid.
        org: show only units in this unit's subtree (their rank stays the one in their whole group).

    Raises:
        InputError: a bad month, level or unit; CalendarError: the calendar lacks dates of the month.
    """
    return monthly_reports(engine, month, [(level, org)])[0]


def monthly_reports(engine: Engine, month: str | None, levels: list[tuple[str, str | None]]
                    ) -> list[MonthlyReport]:
    """Several levels' rankings of one month (``[(level, org), ...]``), from one pass of the SQL.

    The previous month's scores (for the change) come from its recorded run if
    there is one, else from one more pass over that month.
    """
    for level, org in levels:
        check_level(engine, level)
        _check_org(engine, org, level)
    with gc_paused():
        return _monthly_reports(engine, period_for(engine, month), levels)


def _monthly_reports(engine: Engine, period: Period, levels: list[tuple[str, str | None]]) -> list[MonthlyReport]:
    counts = count(engine, period)
    prev = period.previous()
    with engine.store.read() as tx:
        before = {level: q.stored_scores(tx, prev.key, level) for level, _org in levels}
        recorded = q.run_by_key(tx, period.key) is not None
    if any(v is None for v in before.values()):
        prev_counts = count(engine, prev, names=False)  # only the scores are needed
        for level in before:
            if before[level] is None:
                before[level] = {r.unit: r.score for r in score_level(engine, prev_counts, level)}
    scheme = sc.scheme_from(engine.workflow.file.evaluation)
    out = []
    for level, org in levels:
        scores = before[level] or {}
        rows = [_with_previous(r, scores.get(r.unit)) for r in rank_level(engine, counts, level)
                if org is None or within(counts.units.parent, r.unit, org)]
        out.append(MonthlyReport(
            month=period.month, level=level, level_label=engine.workflow.tier_labels.get(level, level), org=org,
            period=period, workdays=counts.workdays, indicators=scheme.levels[level], rows=tuple(rows),
            previous_month=prev.month, computed_at=engine.now(), recorded=recorded))
    return out


def _with_previous(row: UnitRow, score: float | None) -> UnitRow:
    from dataclasses import replace

    return replace(row, previous_score=score)


@dataclass(frozen=True)
class RunView:
    """A recorded monthly run."""

    key: str
    period: str
    created: bool
    computed_at: datetime
    trigger: str
    units: int
    timezone: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "period": self.period, "created": self.created,
                "computed_at": self.computed_at.astimezone(ZoneInfo(self.timezone)).isoformat(),
                "trigger": self.trigger, "units": self.units}


def record_month(engine: Engine, month: str | None = None, *, trigger: str = "manual") -> RunView:
    """Compute and store every level of a finished month once (key ``monthly:YYYY-MM``).

    A run that exists already is returned unchanged (``created`` False): the
    unique key makes a second scheduler, a re-run or a race harmless.

    Raises:
        InputError: a bad month, or one that is not over yet.
    """
    now = engine.now()
    last = previous_month(now, engine.timezone)
    y, m = month_parts(last if month is None else month, last)
    asked, running = f"{y:04d}-{m:02d}", current_month(now, engine.timezone)
    if asked > running:  # YYYY-MM strings sort as months
        raise InputError("{month} has not started yet; a recorded run is of a finished month: give one up to {last}",
                         month=asked, last=last)
    if asked == running:
        raise InputError("{month} is not over yet; a recorded run is final: give a finished month, up to {last} (the "
                         "running figures are the month's report)",
                         month=asked, last=last)
    period = month_period(asked, engine.timezone, now)
    with engine.store.read() as tx:
        existing = q.run_by_key(tx, period.key)
        if existing is not None:
            return _run_view(engine, existing, False, q.count_results(tx, existing["id"]))
    with gc_paused():
        return _record(engine, period, trigger)


def _record(engine: Engine, period: Period, trigger: str) -> RunView:
    counts = count(engine, period, names=False)
    as_json = sc.FiguresJson()
    written = 0

    def results() -> Iterator[tuple[Any, ...]]:  # scored level by level as the bulk write takes them
        nonlocal written
        for level in sc.LEVELS:
            if level not in engine.workflow.tiers:
                continue
            for r in score_level(engine, counts, level):
                written += 1
                yield (period.month, level, r.unit, r.group, as_json(r.counts), r.score, r.grade, r.rank)

    vid, _ = engine.current_version()
    run = {"key": period.key, "period": period.month, "workflow_version_id": vid, "computed_at": engine.now(),
           "trigger": trigger}
    # PostgreSQL stores each row while the next is scored (its server works beside this process); SQLite's
    # write lock is not held while scoring: the rows are made before the write
    rows = results() if engine.store.dialect == "postgresql" else list(results())
    with engine.store.write() as tx:
        run_id = q.insert_run(tx, run, rows)
        if run_id is None:  # another scheduler recorded it in the meantime
            existing = q.run_by_key(tx, period.key)
            assert existing is not None
            return _run_view(engine, existing, False, q.count_results(tx, existing["id"]))
    return _run_view(engine, {**run, "id": run_id}, True, written)


def _run_view(engine: Engine, run: dict[str, Any], created: bool, units: int) -> RunView:
    return RunView(key=run["key"], period=run["period"], created=created, computed_at=run["computed_at"],
                   trigger=run["trigger"], units=units, timezone=engine.timezone)


def record_due(engine: Engine) -> RunView:
    """The scheduler's monthly job: record the previous month unless it is recorded already.

    Idempotent and cheap when there is nothing to do (one lookup by key), so
    it runs on start (catching up a missed first-of-month) and every hour.
    """
    return record_month(engine, None, trigger="scheduler")


@dataclass(frozen=True)
class HistoryRow:
    """One recorded month of a unit."""

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

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period, "level": self.level, "unit": self.unit, "figures": self.figures,
                "score": self.score, "grade": self.grade, "rank": self.rank, "group": self.group,
                "group_size": self.group_size, "trigger": self.trigger,
                "computed_at": self.computed_at.astimezone(ZoneInfo(self.timezone)).isoformat()}


HISTORY_LIMIT = 1200
"""The most months ``history`` returns at once (a century)."""


def history(engine: Engine, org: str, *, limit: int = 36) -> list[HistoryRow]:
    """A unit's recorded monthly results, newest first.

    Raises:
        InputError: an unknown unit, or a limit outside 1 to HISTORY_LIMIT.
    """
    if not 1 <= limit <= HISTORY_LIMIT:
        raise InputError("{limit} months is out of range: give from 1 to {max} months", limit=limit,
                         max=HISTORY_LIMIT)
    if engine.org.unit(org) is None:
        raise InputError("unknown unit {unit!r}", unit=org)
    with engine.store.read() as tx:
        rows = q.unit_history(tx, org, limit)
    return [HistoryRow(period=r["period"], level=r["level"], unit=r["unit_code"], figures=r["figures"],
                       score=r["score"], grade=r["grade"], rank=r["rank"], group=r["parent_code"],
                       group_size=int(r["group_size"] or 0), computed_at=r["computed_at"], trigger=r["trigger"],
                       timezone=engine.timezone) for r in rows]


def case_stats(engine: Engine, month: str | None = None, org: str | None = None) -> dict[str, Any]:
    """The month's case counts by source, category, tier of resolution, and the overdue ones.

    Counts are of the cases of grids in ``org``'s subtree (default: every case).
    """
    period = period_for(engine, month)
    grids = None
    if org is not None:
        unit = engine.org.unit(org)
        if unit is None:
            raise InputError("unknown unit {unit!r}", unit=org)
        with engine.store.read() as tx:
            units = UnitTree.read(tx, names=False)
        grid_tier = engine.workflow.tiers[0]
        grids = [c for c, tier in units.tier.items() if tier == grid_tier and within(units.parent, c, org)]
    with engine.store.read() as tx:
        stats = q.case_stats(tx, period, grids)
        backfilled = q.backfills(tx, period, grids)
    wf = engine.workflow
    for r in stats["by_category"]:
        cat = wf.categories.get(r["key"])
        r["label"] = cat.label if cat else r["key"]
    for r in stats["by_resolved_tier"]:
        r["label"] = wf.tier_labels.get(r["key"], "未办结") if r["key"] else "未办结"
    tz = ZoneInfo(engine.timezone)
    return {"month": period.month, "org": org, "from": period.start.astimezone(tz).isoformat(),
            "to": period.end.astimezone(tz).isoformat(), "complete": period.complete,
            "total": stats["total"][0] if stats["total"] else {}, "by_source": stats["by_source"],
            "by_category": stats["by_category"], "by_resolved_tier": stats["by_resolved_tier"],
            "backfilled": backfilled}
