"""The alert outbox end to end: the sweep never waits on a sink; what it queues goes out, at least once.

* The SQL outbox keeps the delivery worker's contract (the same checks as the in-memory fake).
* With a webhook that never answers configured, a sweep raising 1,000 alerts makes no network call at all:
  it commits the alerts and 1,000 pending deliveries; the worker's pass gives up on the dead endpoint within
  its budget (the deliveries stay pending), and they all go out once the endpoint answers again.
* Urges reach the sinks like every other kind of alert.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from casecraft import Engine, FixedClock
from casecraft.alerts.outbox import SqlOutbox
from tests.conftest import ROOT, WORKFLOW, bj, sandbox
from tests.test_delivery_worker import T0, Seed, outbox_contract


def test_the_sql_outbox_keeps_the_workers_contract(tmp_path: Path) -> None:
    made: list[Engine] = []

    def factory(seed: Seed) -> SqlOutbox:
        eng = sandbox(f"sqlite:///{tmp_path / f'o{len(made)}.db'}", FixedClock(T0))
        made.append(eng)
        with eng.store.write() as tx:
            ids = sorted({a for a, _s, _p in seed})
            tx.insert_alerts([{"key": f"k{i}", "case_id": None, "deadline_id": None, "kind": "calendar", "level": 0,
                               "unit_code": "110106", "state": "", "due_at": None, "raised_at": T0,
                               "message": "x"} for i in ids])
            for alert_id, sink, payload in seed:  # one at a time: created in order
                tx.insert_deliveries([(alert_id, sink, payload)], T0)
        return SqlOutbox(eng.ctx)

    outbox_contract(factory)
    for eng in made:
        eng.close()


class _Hook(BaseHTTPRequestHandler):
    hang = threading.Event()
    received: list[dict[str, Any]] = []
    connections = 0

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        type(self).connections += 1
        if type(self).hang.is_set():
            threading.Event().wait(5)  # never answers within the sink's deadline
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hook.received, _Hook.connections = [], 0
    _Hook.hang.clear()
    monkeypatch.setenv("CC_TEST_HOOK", f"http://127.0.0.1:{server.server_address[1]}/alerts")
    yield "ok"
    server.shutdown()


def _workflow_with_webhook(tmp_path: Path) -> Path:
    text = WORKFLOW.read_text(encoding="utf-8")
    text = text.replace("    - {type: log}", "    - {type: log}\n    - {type: webhook, name: hook, "
                        "url_env: CC_TEST_HOOK, total_timeout: 0.5, connect_timeout: 0.5, read_timeout: 0.5, "
                        "breaker_threshold: 3}")
    text = text.replace("organisation: organisation.yaml", f"organisation: {ROOT / 'organisation.yaml'}")
    path = tmp_path / "hooked.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_hanging_webhook_never_holds_the_sweep(hook: str, tmp_path: Path) -> None:
    import logging

    logging.getLogger("casecraft.alerts").setLevel(logging.ERROR)
    clock = FixedClock(bj(24, "10:00"))
    eng = sandbox(f"sqlite:///{tmp_path / 'h.db'}", clock, _workflow_with_webhook(tmp_path))
    for i in range(500):
        eng.report(source="patrol", grid="110106004005005", category="0101", desc=f"小广告{i}", actor="wangjg")
    _Hook.hang.set()
    clock.set(bj(25, "16:00"))  # overdue and re-escalated: 1,000 alerts
    counts = eng.sweep()
    assert counts["raised"] == 1000 and counts["queued"] == 2000
    assert _Hook.connections == 0  # the sweep sent nothing: it only committed
    with eng.store.read() as tx:
        rows = tx.deliveries()
    assert len(rows) == 2000 and {r["status"] for r in rows} == {"pending"}
    assert all(r["payload"]["key"] for r in rows)  # receivers de-duplicate by the alert's key

    first = eng.deliver(budget_seconds=120)  # the log sink delivers; the dead webhook trips its breaker
    assert first["delivered"] == 1000
    with eng.store.read() as tx:
        hooked = [r for r in tx.deliveries() if r["sink"] == "hook"]
    assert len(hooked) == 1000 and all(r["status"] == "pending" for r in hooked)
    assert all("127.0.0.1" not in (r["last_error"] or "") for r in hooked)  # no oracle of the target

    _Hook.hang.clear()
    import os

    from casecraft.alerts.outbox import SqlOutbox
    from casecraft.alerts.sinks import build_sinks
    sinks = [s for s in build_sinks(eng.workflow.file.workflow.sinks, os.environ) if s.name == "hook"]
    from datetime import UTC, datetime, timedelta

    from casecraft.alerts.delivery import deliver_pending
    from casecraft.base.clock import FixedClock as Clock

    # the outbox keeps the writing machine's time: an hour later, every retry and lease time has passed
    later = Clock(datetime.now(UTC) + timedelta(hours=1))
    sent = deliver_pending(SqlOutbox(eng.ctx), sinks, later, budget_seconds=60, batch=200)
    assert sent["delivered"] == 1000
    assert len({b["key"] for b in _Hook.received}) == 1000
    eng.close()


def test_urges_reach_the_sinks(hook: str, tmp_path: Path) -> None:
    clock = FixedClock(bj(24, "10:00"))
    eng = sandbox(f"sqlite:///{tmp_path / 'u.db'}", clock, _workflow_with_webhook(tmp_path))
    case = eng.report(source="patrol", grid="110106004005005", category="0101", desc="小广告", actor="wangjg")
    clock.set(bj(24, "10:30"))
    eng.urge(case.id, actor="duyan", note="请今日办结")
    assert eng.deliver(budget_seconds=5)["delivered"] == 2  # the log and the webhook
    (body,) = _Hook.received
    assert body["kind"] == "urge" and body["case_id"] == case.id and body["raised_at"].endswith("+08:00")
    eng.close()


def test_a_sink_with_its_url_unset_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from casecraft import InputError

    monkeypatch.delenv("CC_TEST_HOOK", raising=False)
    eng = sandbox(f"sqlite:///{tmp_path / 'e.db'}", FixedClock(bj(24, "10:00")), _workflow_with_webhook(tmp_path))
    with pytest.raises(InputError, match="CC_TEST_HOOK"):
        eng.deliver()
    eng.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_sandbox_delivers_at_the_time_it_obeys(tmp_path: Path) -> None:
    """QA, 2026-12-01: on a sandbox set to a date after today, the sweep queued deliveries at that date and the
    delivery pass, reading the real clock, found none due until the real date caught up."""
    from datetime import timedelta

    clock = FixedClock(bj(24, "09:15") + timedelta(days=400))  # a year past the real date
    with sandbox(f"sqlite:///{tmp_path / 'future.db'}", clock) as eng:
        eng.report(source="patrol", grid="110106004005005", category="0101", desc="小广告", actor="wangjg")
        clock.set(clock.now() + timedelta(days=4))
        raised = eng.sweep()["raised"]
        assert raised >= 1
        assert eng.deliver()["delivered"] == raised  # the log sink: one delivery per alert
