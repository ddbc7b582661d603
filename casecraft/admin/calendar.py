"""The working calendar's administration: show a year, set a day, import the official notice, seed, check.

Every change is an admin's act recorded in the admin chain. A change of a
day's status recomputes, in the same transaction, every open deadline that
falls on or after the first changed day (each recomputation a step on the
case's timeline, with the deadline rows it changed); alerts already raised
stay raised. A year with no official arrangement yet is provisional: computed
by the national rules on public holidays (:mod:`casecraft.timing.provisional`),
marked as such on every deadline computed across it.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from casecraft.admin import log as adminlog
from casecraft.base.acting import Actor, When
from casecraft.base.duration import Duration
from casecraft.base.errors import N_, InputError, Joined, render
from casecraft.base.records import DeadlineRow
from casecraft.base.text import clean_text
from casecraft.cases import deadlines as dl
from casecraft.cases import timeline as tl
from casecraft.cases.rules import acting_person, actor_of
from casecraft.context import Context
from casecraft.store.base import Tx
from casecraft.timing.calendar import DayRow, parse_periods
from casecraft.timing.days import NOTE_MAX

RECOMPUTE = "recompute"


@dataclass
class CalendarChange:
    """What a calendar change did: the days written, those whose status changed, the cases recomputed."""

    days: int
    changed: list[date] = field(default_factory=list)
    recomputed: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    year: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"days": self.days, "changed": [d.isoformat() for d in self.changed], "recomputed": self.recomputed,
                "warnings": self.warnings, "conflicts": self.conflicts, "year": self.year}


class CalendarAdmin:
    """The calendar table, changed by admins, with open deadlines kept right."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # reading ----------------------------------------------------------------------------------
    def year(self, year: int) -> list[DayRow]:
        """Every date of ``year`` as the engine counts it: stored rows, and the provisional rule for the rest."""
        if not 1900 <= year <= 9999:
            raise InputError("year {year} is out of range; give a year from 1900 to 9999", year=year)
        with self.ctx.read() as tx:
            rows = {r.day: r for r in tx.calendar_year(year)}
        if len(rows) < 365:
            from casecraft.timing.provisional import covered_years, provisional_rows

            if year in covered_years():
                for r in provisional_rows(year):
                    rows.setdefault(r.day, r)
        return [rows[d] for d in sorted(rows)]

    # changes ----------------------------------------------------------------------------------
    def set_day(self, day: date, workday: bool, *, note: str | None = None, actor: str | None = None
                ) -> CalendarChange:
        """Make one date a workday or a holiday by hand (source ``admin``)."""
        note = clean_text(note, N_("the note"), NOTE_MAX, single_line=True)  # the one policy for typed text
        return self._change("calendar.set", {"day": day.isoformat(), "workday": workday, "note": note}, actor,
                            lambda tx, now: (1, tx.calendar_write([(day, workday, note)], "admin", now), [], []))

    def import_file(self, path: str | os.PathLike[str], *, actor: str | None = None) -> CalendarChange:
        """Import the official notice (YAML, see docs/calendar.md) or a CSV of dates (``date,status[,note]``)."""
        p = Path(path)
        if p.suffix.lower() in (".yaml", ".yml"):
            from casecraft.timing.notice import parse_notice

            notice = parse_notice(p)

            def apply_notice(tx: Tx, now: datetime) -> tuple[int, list[date], list[str], list[str]]:
                conflicts = [render("{day} is set by hand as a workday and kept; the notice says otherwise",
                                    {"day": r.day.isoformat()}) if r.workday else
                             render("{day} is set by hand as a holiday and kept; the notice says otherwise",
                                    {"day": r.day.isoformat()}) for r in tx.calendar_conflicts(notice)]
                changed = tx.calendar_apply_notice(notice, now)
                return len(notice.rows), changed, list(notice.warnings), conflicts

            result = self._change("calendar.notice", {"year": notice.year, "title": notice.title, "file": p.name},
                                  actor, apply_notice)
            result.year = notice.year
            return result
        from casecraft.timing.days import parse_calendar_csv, read_days_file

        rows, problems = parse_calendar_csv(read_days_file(p))
        if problems:
            listed = Joined((str(x) for x in problems), "\n  ")
            raise InputError("{file}: {count} bad row(s), nothing imported:\n  {listed}\nfix them and import the file "
                             "again (columns: date,status[,note]; date as YYYY-MM-DD; status workday or holiday)",
                             file=str(p), count=len(problems), listed=listed,
                             problems=[{"row": x.row, "field": x.field, "reason": x.reason} for x in problems])
        return self._change("calendar.import", {"file": p.name, "days": len(rows)}, actor,
                            lambda tx, now: (len(rows), tx.calendar_write(rows, "import", now), [], []))

    def seed(self, years: list[int] | None = None, *, actor: str | None = None) -> int:
        """Fill in dates the table lacks: official from chinesecalendar, provisional after it (an admin's act)."""
        from casecraft.store.calendar_repo import seed_calendar

        with self.ctx.write() as tx:
            admin = adminlog.require_admin(self.ctx, tx, actor)
        added = seed_calendar(self.ctx.store, years, self.ctx.now())
        if added:
            with self.ctx.write() as tx:
                adminlog.record(tx, admin, "calendar.seed", {"years": years, "added": added}, self.ctx.when())
        return added

    # the one path of every change ---------------------------------------------------------------
    def _change(self, kind: str, body: dict[str, Any], actor: str | None, apply: Any) -> CalendarChange:
        with self.ctx.write() as tx:
            admin = adminlog.require_admin(self.ctx, tx, actor)
            when = self.ctx.when()
            days, changed, warnings, conflicts = apply(tx, when.recorded_at)
            result = CalendarChange(days=days, changed=list(changed), warnings=warnings, conflicts=conflicts)
            if changed:
                who = (actor_of(acting_person(tx, admin)) if admin not in (adminlog.SANDBOX_ACTOR, "init")
                       else Actor(id=admin, name="沙盒管理员", role="admin", unit=None))
                result.recomputed = self._recompute(tx, min(changed), who, when, body)
            adminlog.record(tx, admin, kind, {**body, "changed": [d.isoformat() for d in changed],
                                              "recomputed": result.recomputed}, when)
        self.ctx.refresh_now()
        return result

    def _recompute(self, tx: Tx, first: date, who: Actor, when: When, body: dict[str, Any]) -> list[int]:
        """Recompute every open deadline due on or after ``first`` (local midnight), one timeline step per case."""
        wf = self.ctx.workflow
        tz = ZoneInfo(wf.timezone)
        start = datetime.combine(first, time(0), tzinfo=tz)
        settings = wf.file.workflow
        cal = tx.calendar_working(settings.timezone, parse_periods(settings.working_hours),
                                  date(when.at.year - 1, 1, 1))
        by_case: dict[int, list[DeadlineRow]] = defaultdict(list)
        for d in tx.open_deadlines_from(start):
            if d.closed_at is None and d.extended == 0:  # an extended limit keeps its approved time
                by_case[d.case_id].append(d)
        done: list[int] = []
        what = body.get("title") or body.get("file") or body.get("day") or ""
        for case_id in sorted(by_case):
            case = tx.case(case_id, for_update=True)
            if case is None or not case.is_open:
                continue
            case_wf = self.ctx.spec(case.workflow_version_id)
            ops: list[tl.DeadlineOp] = []
            changes: dict[str, Any] = {}
            entries: list[Any] | None = None
            for d in by_case[case_id]:
                if not Duration.parse(d.limit_text).working:
                    continue  # a limit in natural time: no working calendar moves it
                if entries is None:  # the clock's pauses (挂账, waiting states) are in the chain's deadline facts
                    entries = tx.timeline(case_id)
                values = dl.replanned(case_wf, cal, d, dl.pauses_of(entries, d.kind, d.seq))
                if d.kind != "step":
                    changes["deadline_at"] = values["due_at"]
                if any(getattr(d, k) != v for k, v in values.items() if k != "next_alert_at"):
                    ops.append(tl.SetDeadline(d, values))
            if not ops:
                continue
            step = tl.Step(trigger=RECOMPUTE, changes=changes, deadlines=tuple(ops),
                           note=f"工作日历更正（{what}）：时限按新日历重新计算")
            tl.append(tx, case, step, who, when)
            done.append(case_id)
        return done

    # the December check -----------------------------------------------------------------------------
    def check(self) -> dict[str, Any]:
        """Keep next year in the calendar (provisional until its notice is imported) and, from 1 December
        while it is provisional, raise one alert at each district platform saying so."""
        from casecraft.store.calendar_repo import seed_calendar

        now = self.ctx.now()
        added = seed_calendar(self.ctx.store, [now.year, now.year + 1], now)
        local = now.astimezone(ZoneInfo(self.ctx.timezone))
        provisional = any(r.source == "provisional" for r in self.year(local.year + 1))
        raised = 0
        if local.month == 12 and provisional:
            from casecraft.alerts.supervision import Supervision
            from casecraft.cases.service import CaseService

            raised = Supervision(self.ctx, CaseService(self.ctx)).calendar_notice()
        return {"year": local.year + 1, "provisional": provisional, "days_added": added, "raised": raised}


__all__ = ["CalendarAdmin", "CalendarChange", "RECOMPUTE"]
