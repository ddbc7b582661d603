"""Alert decisions and delivery.

Alerts are committed first (the database inbox), then delivered to the sinks
configured in the workflow settings: a structured log line, and an optional
webhook (HTTP POST of JSON, retried with backoff, status recorded). Delivery
never blocks or fails the sweep.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from casecraft.base.records import DeadlineRow
from casecraft.workflows.model import Sink

log = logging.getLogger("casecraft.alerts.decisions")

KINDS = ("warning", "overdue", "reescalation")
KIND_LABELS = {"warning": "黄灯预警", "overdue": "红灯超期", "reescalation": "超期升级", "urge": "督办",
               "calendar": "日历提示"}


def due_alerts(deadline: DeadlineRow, now: datetime) -> tuple[list[tuple[str, datetime]], datetime | None]:
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


def payload(alert: dict[str, Any]) -> dict[str, Any]:
    out = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in alert.items()}
    out["kind_label"] = KIND_LABELS.get(alert["kind"], alert["kind"])
    return out


def sink_name(sink: Sink) -> str:
    return "log" if sink.type == "log" else f"webhook:{sink.url}"


def deliver(alerts: Sequence[dict[str, Any]], sinks: Sequence[Sink],
            record: Callable[[int, str, str, int, str | None], None],
            sleep: Callable[[float], None] = time.sleep) -> dict[str, int]:
    """Deliver committed alerts to every sink; record each delivery's status."""
    counts = {"delivered": 0, "failed": 0}
    for sink in sinks:
        name = sink_name(sink)
        for a in alerts:
            body = payload(a)
            if sink.type == "log":
                log.warning(json.dumps({"event": "alert", **body}, ensure_ascii=False))
                record(a["id"], name, "delivered", 1, None)
                counts["delivered"] += 1
                continue
            attempts, error = 0, None
            for attempt in range(sink.retries + 1):
                attempts = attempt + 1
                try:
                    _post(sink.url or "", body, sink.timeout)
                    error = None
                    break
                except (urllib.error.URLError, OSError, ValueError) as exc:
                    error = str(exc)[:500]
                    if attempt < sink.retries:
                        sleep(min(0.5 * 2 ** attempt, 10.0))
            record(a["id"], name, "failed" if error else "delivered", attempts, error)
            counts["failed" if error else "delivered"] += 1
    return counts


def _post(url: str, body: dict[str, Any], timeout: float) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json; charset=utf-8"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - admin-configured http(s) URL
        if resp.status >= 300:
            raise ValueError(f"HTTP {resp.status}")
