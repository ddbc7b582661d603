"""The alert outbox's SQL side: claim pending deliveries under a lease, record what happened.

The sweep queues one pending delivery per alert and sink in the transaction
that raises the alert; a worker (``casecraft alerts deliver``, or inside
``scheduler run``) claims due rows under a lease, sends them (outside any
transaction) and records each outcome. A worker killed mid-way loses nothing:
its lease expires and another worker takes the rows. At least once: the
payload carries the alert's unique key so receivers can de-duplicate.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from casecraft.alerts import decisions as al
from casecraft.context import Context

LEASE = timedelta(minutes=2)
RETRY_BASE = 30.0  # seconds before the first retry; doubles each attempt
MAX_ATTEMPTS = 8


def deliver_once(ctx: Context, *, budget_seconds: float = 30.0, batch: int = 100) -> dict[str, int]:
    """Send due deliveries until none are left or the time budget is spent; counts by outcome."""
    wf = ctx.workflow
    sinks = {name: s for name, s in zip(sink_names(wf), wf.file.workflow.sinks, strict=True)}
    counts = {"delivered": 0, "retry": 0, "dead": 0}
    started = time.monotonic()
    while time.monotonic() - started < budget_seconds:
        now = ctx.wall.now()
        with ctx.store.write() as tx:
            claimed = tx.claim_deliveries(now, batch, LEASE)  # type: ignore[attr-defined]
            alerts = {a.id: a for a in tx.alerts(ids=[c["alert_id"] for c in claimed], limit=len(claimed) or 1)}
        if not claimed:
            break
        org = ctx.org
        results: list[tuple[dict[str, Any], str | None]] = []
        for c in claimed:
            sink = sinks.get(c["sink"])
            a = alerts.get(c["alert_id"])
            if sink is None or a is None:
                results.append((c, "no such sink in the workflow any more"))
                continue
            body = _payload(_alert_dict(a), wf.timezone, org.label(a.unit_code))
            results.append((c, _send(sink, body)))
        now = ctx.wall.now()
        with ctx.store.write() as tx:
            for c, error in results:
                if error is None:
                    tx.finish_delivery(c["id"], now, status="delivered", error=None, retry_at=None)  # type: ignore[attr-defined]
                    counts["delivered"] += 1
                elif c["attempts"] + 1 >= MAX_ATTEMPTS:
                    tx.finish_delivery(c["id"], now, status="dead", error=error, retry_at=None)  # type: ignore[attr-defined]
                    counts["dead"] += 1
                else:
                    retry = now + timedelta(seconds=RETRY_BASE * 2 ** c["attempts"])
                    tx.finish_delivery(c["id"], now, status="pending", error=error, retry_at=retry)  # type: ignore[attr-defined]
                    counts["retry"] += 1
    return counts


def sink_names(wf: Workflow) -> list[str]:
    """The configured sinks' stable names (what delivery rows store; never a URL)."""
    out: list[str] = []
    for i, s in enumerate(wf.file.workflow.sinks):
        name = getattr(s, "name", None) or (s.type if s.type == "log" else f"{s.type}-{i + 1}")
        out.append(str(name))
    return out


def _alert_dict(a: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(a)


def _payload(alert: dict[str, Any], tz: str, unit_name: str) -> dict[str, Any]:
    """What a sink receives: the alert with its unique key, times in the workflow's timezone; no personal data."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    out = {k: (v.astimezone(zone).isoformat() if isinstance(v, datetime) else v) for k, v in alert.items()}
    out["kind_label"] = al.KIND_LABELS.get(alert["kind"], alert["kind"])
    out["unit_name"] = unit_name
    return out


def _send(sink: Any, body: dict[str, Any]) -> str | None:
    """Send one payload; None when delivered, else a short reason (never the URL)."""
    import json
    import logging

    if sink.type == "log":
        logging.getLogger("casecraft.alerts").warning(json.dumps({"event": "alert", **body}, ensure_ascii=False))
        return None
    import urllib.error
    import urllib.request

    data = json.dumps(body, ensure_ascii=False).encode()
    req = urllib.request.Request(sink.url or "", data=data, method="POST",
                                 headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(req, timeout=sink.timeout) as resp:  # noqa: S310 - admin-configured http(s)
            return None if resp.status < 300 else f"HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError):
        return "connection failed"


__all__ = ["LEASE", "deliver_once", "sink_names"]
