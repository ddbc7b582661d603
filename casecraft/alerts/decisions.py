"""Alert decisions: which alerts of a deadline are due, and how each kind is called.

Alerts are committed by the sweep together with one pending delivery per configured
sink (the outbox); sending them is :mod:`casecraft.alerts.delivery`'s job, over the
sinks of :mod:`casecraft.alerts.sinks`. Nothing here does any I/O.
"""

from __future__ import annotations

from datetime import datetime

from casecraft.base.records import DeadlineRow, DueDeadline

KIND_LABELS = {"warning": "黄灯预警", "overdue": "红灯超期", "reescalation": "超期升级", "urge": "督办",
               "calendar": "日历提示"}


def due_alerts(deadline: DeadlineRow | DueDeadline,
               now: datetime) -> tuple[list[tuple[str, datetime]], datetime | None]:
    """Which alerts of a deadline are due now (level-triggered), and the next one's time.

    Every alert whose time lies in [next_alert_at, now] is due, so a sweep after
    downtime raises each missed alert exactly once — except a yellow warning
    whose limit has passed too: it would only say what the red alert says better.
    """
    pending = deadline.next_alert_at
    times = [("warning", deadline.warn_at), ("overdue", deadline.due_at), ("reescalation", deadline.escalate_at)]
    due: list[tuple[str, datetime]] = []
    nxt: datetime | None = None
    for kind, at in times:
        if at is None or pending is None or at < pending:
            continue
        if kind == "warning" and deadline.due_at <= now:
            continue  # too late to warn: the overdue alert goes out instead
        if at <= now:
            due.append((kind, at))
        elif nxt is None or at < nxt:
            nxt = at
    return due, nxt
