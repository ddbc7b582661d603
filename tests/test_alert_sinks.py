"""Alert delivery: committed first, then a log line and a webhook POST (retried, status recorded)."""

from __future__ import annotations

import json
import threading
from datetime import UTC
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from casecraft.alerts import decisions as al
from casecraft.workflows.model import Sink


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    fail_first = 0

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if _Hook.fail_first > 0:
            _Hook.fail_first -= 1
            self.send_response(500)
            self.end_headers()
            return
        _Hook.received.append(body)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _alert(i: int) -> dict[str, Any]:
    from datetime import datetime

    return {"id": i, "key": f"d{i}:overdue:0", "case_id": i, "deadline_id": i, "kind": "overdue", "level": 1,
            "unit_code": "110106004005", "state": "grid_handling", "due_at": datetime(2026, 11, 24, tzinfo=UTC),
            "raised_at": datetime(2026, 11, 24, 1, tzinfo=UTC), "message": "案件超期",
            "acked_by": None, "acked_at": None}


def test_webhook_retries_then_delivers_and_records() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _Hook.received = []
        _Hook.fail_first = 2
        url = f"http://127.0.0.1:{server.server_port}/hook"
        records: list[tuple[Any, ...]] = []
        sleeps: list[float] = []
        counts = al.deliver([_alert(1)], [Sink(type="webhook", url=url, retries=3, timeout=2)],
                            lambda *r: records.append(r), sleep=sleeps.append)
        assert counts == {"delivered": 1, "failed": 0}
        assert records == [(1, f"webhook:{url}", "delivered", 3, None)]
        assert sleeps == [0.5, 1.0]  # exponential backoff between attempts
        assert _Hook.received[0]["message"] == "案件超期" and _Hook.received[0]["kind_label"] == "红灯超期"
    finally:
        server.shutdown()


def test_unreachable_webhook_is_recorded_as_failed_without_raising() -> None:
    records: list[tuple[Any, ...]] = []
    counts = al.deliver([_alert(2)], [Sink(type="webhook", url="http://127.0.0.1:9/x", retries=1, timeout=1)],
                        lambda *r: records.append(r), sleep=lambda s: None)
    assert counts == {"delivered": 0, "failed": 1}
    assert records[0][2] == "failed" and records[0][3] == 2 and records[0][4]


def test_log_sink_writes_one_structured_line(caplog: Any) -> None:
    records: list[tuple[Any, ...]] = []
    with caplog.at_level("WARNING", logger="casecraft.alerts.decisions"):
        al.deliver([_alert(3)], [Sink(type="log")], lambda *r: records.append(r))
    line = json.loads(caplog.records[0].getMessage())
    assert line["event"] == "alert" and line["case_id"] == 3 and line["unit_code"] == "110106004005"
    assert records == [(3, "log", "delivered", 1, None)]


def test_due_alerts_is_level_triggered() -> None:
    from datetime import datetime, timedelta

    t0 = datetime(2026, 11, 24, tzinfo=UTC)
    d = {"warn_at": t0, "due_at": t0 + timedelta(hours=1), "escalate_at": t0 + timedelta(hours=9),
         "next_alert_at": t0}
    assert al.due_alerts(d, t0 - timedelta(minutes=1)) == ([], t0)
    assert al.due_alerts(d, t0 + timedelta(hours=2)) == ([("warning", t0), ("overdue", t0 + timedelta(hours=1))],
                                                         t0 + timedelta(hours=9))
    # after downtime, everything due at once, each exactly once
    due, nxt = al.due_alerts(d, t0 + timedelta(days=3))
    assert [k for k, _ in due] == ["warning", "overdue", "reescalation"] and nxt is None
    d["next_alert_at"] = t0 + timedelta(hours=9)
    assert [k for k, _ in al.due_alerts(d, t0 + timedelta(days=3))[0]] == ["reescalation"]
