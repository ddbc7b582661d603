"""The alert outbox's SQL side, and the worker pass that empties it.

The sweep queues one pending delivery per alert and sink (with the payload the
sink will receive) in the transaction that raises the alert. A worker
(``casecraft alerts deliver``, or the delivery job of ``scheduler run``)
claims due rows under a lease, sends them outside any transaction
(:func:`casecraft.alerts.delivery.deliver_pending`) and records each outcome.
A worker killed mid-way loses nothing: its lease expires and another worker
takes the rows. At least once: the payload carries the alert's unique key.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from casecraft.alerts.delivery import CircuitBreakers, FailedSend, PendingDelivery, deliver_pending
from casecraft.alerts.sinks import Sink, build_payload
from casecraft.context import Context
from casecraft.workflows.org import Organisation
from casecraft.workflows.spec import Workflow


def sink_names(wf: Workflow) -> list[str]:
    """The configured sinks' stable names (what delivery rows store; never a URL)."""
    return [s.name or s.type for s in wf.file.workflow.sinks]


def payloads(alerts: Sequence[dict[str, Any]], wf: Workflow, org: Organisation) -> dict[int, dict[str, Any]]:
    """What each alert's sinks receive (by alert id): its fields, labels and local times; no personal data."""
    return {a["id"]: build_payload(a, timezone=wf.timezone, unit_name=org.label(a["unit_code"])) for a in alerts}


class SqlOutbox:
    """:class:`casecraft.alerts.delivery.Outbox` over the ``deliveries`` table; each call is its own transaction."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def claim(self, now: datetime, *, sinks: Collection[str], limit: int,
              lease_seconds: float) -> list[PendingDelivery]:
        with self.ctx.store.write() as tx:
            rows = tx.claim_deliveries(now, list(sinks), limit, now + timedelta(seconds=lease_seconds))
        return [PendingDelivery(id=r["id"], alert_id=r["alert_id"], sink=r["sink"], attempts=r["attempts"],
                                payload=r["payload"] or {}) for r in rows]

    def delivered(self, delivery_id: int, now: datetime) -> None:
        with self.ctx.store.write() as tx:
            tx.mark_delivery(delivery_id, now, status="delivered", error=None, retry_at=None, attempt=True)

    def failed(self, delivery_id: int, now: datetime, reason: str, retry_at: datetime | None) -> None:
        with self.ctx.store.write() as tx:
            tx.mark_delivery(delivery_id, now, status="pending" if retry_at else "dead", error=reason,
                             retry_at=retry_at, attempt=True)

    def release(self, delivery_id: int, now: datetime) -> None:
        with self.ctx.store.write() as tx:
            tx.mark_delivery(delivery_id, now, status="pending", error=None, retry_at=now, attempt=False)


def deliver_once(ctx: Context, sinks: list[Sink], breakers: CircuitBreakers, *, budget_seconds: float = 30.0,
                 batch: int = 50, on_failure: Callable[[FailedSend], None] | None = None) -> dict[str, int]:
    """One worker pass: send what is due to the built sinks; counts by outcome (failed sends to ``on_failure``).

    The pass keeps the time deliveries were queued by: the wall clock, or on a sandbox the clock it obeys
    (its sweeps queue them at that clock's time: a sandbox at a later ``--at`` had its alerts wait for the
    real date to catch up)."""
    clock = ctx.clock if ctx.sandbox else ctx.wall
    return deliver_pending(SqlOutbox(ctx), sinks, clock, budget_seconds=budget_seconds, batch=batch,
                           breakers=breakers, on_failure=on_failure)


__all__ = ["SqlOutbox", "deliver_once", "payloads", "sink_names"]
