"""Stopping and restarting a case's clock: parking (挂账) and paused waiting states.

A paused deadline row keeps its times and its next alert; it is closed with
outcome ``paused`` so the sweep no longer sees it. Resuming re-opens the same
row (so alert keys stay the same and nothing already raised is raised again)
with every time still ahead of the pause moved on by the length of the pause.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from casecraft.store.models import Deadline
from casecraft.store.repo import Tx

deadlines_t = Deadline.__table__


def pause(tx: Tx, case_id: int, now: datetime, kinds: Sequence[str] = ("step", "case")) -> int:
    """Stop the case's open deadlines of ``kinds``; returns how many were stopped."""
    result = tx.conn.execute(
        update(deadlines_t)
        .where(deadlines_t.c.case_id == case_id, deadlines_t.c.closed_at.is_(None),
               deadlines_t.c.kind.in_(list(kinds)))
        .values(closed_at=now, outcome="paused")
    )
    return int(result.rowcount or 0)


def resume(tx: Tx, case_id: int, now: datetime, shift: Callable[[dict[str, Any], datetime, datetime], datetime],
           kinds: Sequence[str] = ("step", "case")) -> dict[str, datetime]:
    """Restart the case's paused deadlines of ``kinds``.

    Args:
        shift: ``shift(row, paused_at, t)`` gives the new time for a time ``t`` that was
            still ahead when the clock stopped at ``paused_at``.

    Returns:
        the new due time by kind.
    """
    rows = tx.conn.execute(
        select(deadlines_t).where(deadlines_t.c.case_id == case_id, deadlines_t.c.outcome == "paused",
                                  deadlines_t.c.kind.in_(list(kinds)))
    ).mappings().all()
    out: dict[str, datetime] = {}
    for r in rows:
        row = dict(r)
        paused_at = row["closed_at"]

        def moved(t: datetime | None) -> datetime | None:
            if t is None or t < paused_at:  # noqa: B023 - used within this iteration only
                return t  # already past when the clock stopped: nothing to move
            return shift(row, paused_at, t)  # noqa: B023

        due = moved(r["due_at"])
        assert due is not None
        tx.conn.execute(update(deadlines_t).where(deadlines_t.c.id == r["id"]).values(
            closed_at=None, outcome=None, due_at=due, warn_at=moved(r["warn_at"]),
            escalate_at=moved(r["escalate_at"]), next_alert_at=moved(r["next_alert_at"])))
        out[r["kind"]] = due
    return out
