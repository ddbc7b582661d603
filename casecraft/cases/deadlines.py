"""Time limits of steps and cases: which limit applies, and when it warns, is due, re-escalates.

Pure functions over the workflow and a :class:`~casecraft.calendar.WorkingCalendar`;
the engine stores their results as deadline rows, computed once on entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from casecraft.base.duration import Duration, humanize  # noqa: F401 - its home was here
from casecraft.base.records import DeadlineRow
from casecraft.cases.timeline import OpenDeadline
from casecraft.timing.calendar import WorkingCalendar
from casecraft.workflows.spec import Workflow


def step_limit(wf: Workflow, state: str, category: str | None, urgency: str | None) -> Duration | None:
    """The limit of ``state`` for a case: category override, then urgency override, then the state's own."""
    st = wf.states.get(state)
    if st is None or st.final or st.paused:
        return None
    cat = wf.categories.get(category or "")
    if cat is not None and state in cat.limits:
        return Duration.parse(cat.limits[state])
    urg = next((u for u in wf.file.urgencies if u.id == urgency), None)
    if urg is not None and state in urg.limits:
        return Duration.parse(urg.limits[state])
    return Duration.parse(st.limit) if st.limit else None


def case_limit(wf: Workflow, category: str) -> Duration | None:
    cat = wf.categories.get(category)
    return Duration.parse(cat.limit) if cat is not None and cat.limit else None


@dataclass(frozen=True)
class Plan:
    """A deadline's moments: when it warns, when it is due, when it escalates."""

    warn_at: datetime | None
    due_at: datetime
    escalate_at: datetime | None


def fraction_point(cal: WorkingCalendar, start: datetime, due: datetime, limit: Duration, frac: float) -> datetime:
    """The moment ``frac`` of the limit has been used (in working time for working limits)."""
    if not limit.working:
        return start + (due - start) * frac
    total = cal.working_seconds_between(start, due)
    return cal.add(start, Duration(total * frac / 3600.0, "hour", True))


def plan(wf: Workflow, cal: WorkingCalendar, start: datetime, limit: Duration) -> Plan:
    """Warning, due and re-escalation times of a limit started at ``start``."""
    settings = wf.file.workflow
    due = cal.add(start, limit)
    if limit.working and limit.unit == "hour":  # counted exactly: the limit's working hours lie from start to due
        warn = cal.add(start, Duration(limit.amount * settings.warn_at, "hour", True))
    else:
        warn = fraction_point(cal, start, due, limit, settings.warn_at)
    again = Duration.parse(settings.reescalate_after)
    return Plan(warn_at=warn, due_at=due, escalate_at=cal.add(due, again))


def _step_limit_text(wf: Workflow, state: str, category: str | None,
                     urgency: str | None) -> tuple[Duration, str] | None:
    """:func:`step_limit` and its text, worked out once per version, state, category and urgency."""
    key = ("step_limit", state, category, urgency)
    memo = wf.memo
    try:
        return memo[key]  # type: ignore[no-any-return]
    except KeyError:
        pass
    limit = step_limit(wf, state, category, urgency)
    got = (limit, str(limit)) if limit is not None else None
    if len(memo) < 10_000:  # the workflow's states × categories × urgencies: a few hundred
        memo[key] = got
    return got


def extend(wf: Workflow, cal: WorkingCalendar, due: datetime, by: Duration) -> Plan:
    """New due and re-escalation times after an approved extension of ``by``."""
    new_due = cal.add(due, by)
    again = Duration.parse(wf.file.workflow.reescalate_after)
    return Plan(warn_at=None, due_at=new_due, escalate_at=cal.add(new_due, again))


def _provisional(cal: WorkingCalendar, start: datetime, end: datetime) -> bool:
    crosses = getattr(cal, "crosses_provisional", None)
    return bool(crosses(start, end)) if crosses is not None else False


def open_step(wf: Workflow, cal: WorkingCalendar, state: str, tier: str, unit: str, category: str | None,
              urgency: str | None, now: datetime) -> OpenDeadline | None:
    """The step deadline entering ``state`` opens (None when the state has no limit). Built here only."""
    found = _step_limit_text(wf, state, category, urgency)
    if found is None:
        return None
    limit, text = found
    p = plan(wf, cal, now, limit)
    last = p.escalate_at or p.due_at
    return OpenDeadline(kind="step", state=state, tier=tier, unit_code=unit, limit_text=text, started_at=now,
                        warn_at=p.warn_at, due_at=p.due_at, escalate_at=p.escalate_at,
                        provisional=_provisional(cal, now, last))


def open_case(wf: Workflow, cal: WorkingCalendar, state: str, tier: str, unit: str, category: str,
              now: datetime) -> OpenDeadline | None:
    """The whole case's deadline, opened at registration (立案). Built here only."""
    limit = case_limit(wf, category)
    if limit is None:
        return None
    due = cal.add(now, limit)
    return OpenDeadline(kind="case", state=state, tier=tier, unit_code=unit, limit_text=str(limit), started_at=now,
                        warn_at=None, due_at=due, escalate_at=None, provisional=_provisional(cal, now, due))


def moved(cal: WorkingCalendar, limit: Duration, t: datetime | None, paused_at: datetime,
          resumed_at: datetime) -> datetime | None:
    """A deadline's moment ``t`` after its clock stopped at ``paused_at`` and restarted at ``resumed_at``: a
    moment still ahead when it stopped moves on by the pause (in working time for a working limit)."""
    if t is None or t < paused_at:
        return t  # already past when the clock stopped: nothing to move
    if limit.working:
        left = cal.working_seconds_between(paused_at, t)
        return cal.add(resumed_at, Duration(left / 3600.0, "hour", True))
    return resumed_at + (t - paused_at)


def replanned(wf: Workflow, cal: WorkingCalendar, row: DeadlineRow,
              pauses: list[tuple[datetime, datetime]]) -> dict[str, Any]:
    """An open working-time deadline's moments on a changed calendar: planned again from its start, then moved
    by each pause its clock had (挂账, a waiting state), in order, as :func:`resumed` moved it then. Only
    ``due_at``, ``warn_at``, ``escalate_at`` (step limits), ``next_alert_at`` and ``provisional``."""
    limit = Duration.parse(row.limit_text)
    if row.kind == "step":
        p = plan(wf, cal, row.started_at, limit)
        warn, due, again = p.warn_at, p.due_at, p.escalate_at
    else:
        warn, due, again = None, cal.add(row.started_at, limit), None
    for paused_at, resumed_at in pauses:
        warn, again = moved(cal, limit, warn, paused_at, resumed_at), moved(cal, limit, again, paused_at, resumed_at)
        due = moved(cal, limit, due, paused_at, resumed_at) or due
    if row.kind != "step":
        return {"due_at": due, "provisional": _provisional(cal, row.started_at, due)}
    return {"due_at": due, "warn_at": warn, "escalate_at": again, "next_alert_at": warn or due,
            "provisional": _provisional(cal, row.started_at, again or due)}


def pauses_of(entries: Any, kind: str, seq: int) -> list[tuple[datetime, datetime]]:
    """When the clock of the deadline ``kind`` opened at entry ``seq`` stopped and restarted, from the timeline's
    deadline facts (a pause: its ``outcome`` set to ``paused`` at ``closed_at``; the restart: ``closed_at``
    set back to none by a later entry, at that entry's time). A pause still running is left out."""
    key = f"{kind}:{seq}"
    out: list[tuple[datetime, datetime]] = []
    stopped: datetime | None = None
    for e in entries:
        facts = e.deadline_facts.get(key)
        if not facts:
            continue
        if facts.get("outcome") == "paused" and facts.get("closed_at"):
            stopped = datetime.fromisoformat(facts["closed_at"])
        elif stopped is not None and "closed_at" in facts and facts["closed_at"] is None:
            out.append((stopped, e.at))
            stopped = None
    return out


def resumed(cal: WorkingCalendar, row: DeadlineRow, now: datetime) -> dict[str, Any]:
    """A paused deadline's fields when its clock restarts at ``now``: every time still ahead when it
    stopped moves on by the pause (in working time for a working limit)."""
    paused_at = row.closed_at
    assert paused_at is not None
    limit = Duration.parse(row.limit_text)

    def moved_now(t: datetime | None) -> datetime | None:
        return moved(cal, limit, t, paused_at, now)

    due = moved_now(row.due_at)
    assert due is not None
    values: dict[str, Any] = {"closed_at": None, "outcome": None, "due_at": due, "warn_at": moved_now(row.warn_at),
                              "escalate_at": moved_now(row.escalate_at),
                              "next_alert_at": moved_now(row.next_alert_at) if row.kind == "step" else None}
    values["provisional"] = row.provisional or _provisional(cal, now, values["escalate_at"] or due)
    return values


def extended(wf: Workflow, cal: WorkingCalendar, row: DeadlineRow, by: Duration, now: datetime) -> dict[str, Any]:
    """A step deadline's fields after an approved extension of ``by``: new due and re-escalation times,
    and a new warning point on the extended limit (only if still ahead)."""
    p = extend(wf, cal, row.due_at, by)
    warn = fraction_point(cal, row.started_at, p.due_at, Duration.parse(row.limit_text), wf.file.workflow.warn_at)
    warn_at = warn if warn > now else None
    return {"due_at": p.due_at, "escalate_at": p.escalate_at, "warn_at": warn_at,
            "next_alert_at": warn_at or p.due_at, "extended": row.extended + 1,
            "provisional": row.provisional or _provisional(cal, now, p.escalate_at or p.due_at)}

