"""Time limits of steps and cases: which limit applies, and when it warns, is due, re-escalates.

Pure functions over the workflow and a :class:`~casecraft.calendar.WorkingCalendar`;
the engine stores their results as deadline rows, computed once on entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from casecraft.base.duration import Duration
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
    warn = fraction_point(cal, start, due, limit, settings.warn_at)
    again = Duration.parse(settings.reescalate_after)
    return Plan(warn_at=warn, due_at=due, escalate_at=cal.add(due, again))


def extend(wf: Workflow, cal: WorkingCalendar, due: datetime, by: Duration) -> Plan:
    """New due and re-escalation times after an approved extension of ``by``."""
    new_due = cal.add(due, by)
    again = Duration.parse(wf.file.workflow.reescalate_after)
    return Plan(warn_at=None, due_at=new_due, escalate_at=cal.add(new_due, again))


def humanize(delta_seconds: float) -> str:
    """'3h 20m left' / '1d 2h overdue' style text for a signed number of seconds."""
    late = delta_seconds < 0
    s = int(abs(delta_seconds))
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m = rem // 60
    parts = ([f"{d}d"] if d else []) + ([f"{h}h"] if h else []) + ([f"{m}m"] if m and not d else [])
    text = " ".join(parts) or "0m"
    return f"{text} overdue" if late else f"{text} left"
