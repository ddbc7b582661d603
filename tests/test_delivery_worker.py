"""The delivery worker of the alert outbox: at-least-once, retries as row times, a breaker, a budget.

The worker runs here over :class:`MemoryOutbox`, an in-memory outbox that keeps the
:class:`~casecraft.alerts.delivery.Outbox` contract; :func:`outbox_contract` states that
contract as one reusable function, to be run against the SQL outbox as well::

    from tests.test_delivery_worker import outbox_contract
    outbox_contract(lambda seed: make_sql_outbox_with(seed))

Time is a FixedClock; nothing sleeps except the real HTTP server test's sockets.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casecraft.alerts.delivery import (
    LEASE_MARGIN_SECONDS,
    CircuitBreakers,
    Outbox,
    PendingDelivery,
    deliver_pending,
    retry_delay,
)
from casecraft.alerts.sinks import DeliveryFailed, DeliveryPolicy, build_sinks
from casecraft.base.clock import FixedClock
from casecraft.workflows.model import Sink as SinkConfig

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
Seed = Sequence[tuple[int, str, dict[str, Any]]]


# --- the in-memory outbox ----------------------------------------------------------------------

@dataclass
class Row:
    id: int
    alert_id: int
    sink: str
    payload: dict[str, Any]
    status: str = "pending"  # pending | delivered | dead
    attempts: int = 0
    next_attempt_at: datetime | None = None  # None: due at once
    leased_until: datetime | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None


@dataclass
class MemoryOutbox:
    """The outbox as rows in a dict, keeping the Outbox contract (the SQL outbox's model)."""

    rows: dict[int, Row] = field(default_factory=dict)
    claims: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def seeded(cls, seed: Seed) -> MemoryOutbox:
        outbox = cls()
        for alert_id, sink, payload in seed:
            outbox.add(alert_id, sink, payload)
        return outbox

    def add(self, alert_id: int, sink: str, payload: dict[str, Any]) -> int:
        row_id = len(self.rows) + 1
        self.rows[row_id] = Row(row_id, alert_id, sink, dict(payload))
        return row_id

    def claim(self, now: datetime, *, sinks: Collection[str], limit: int,
              lease_seconds: float) -> list[PendingDelivery]:
        self.claims.append({"now": now, "sinks": set(sinks), "limit": limit, "lease_seconds": lease_seconds})
        due = [r for r in self.rows.values()
               if r.status == "pending" and r.sink in sinks
               and (r.next_attempt_at is None or r.next_attempt_at <= now)
               and (r.leased_until is None or r.leased_until <= now)]
        due.sort(key=lambda r: (r.next_attempt_at or datetime.min.replace(tzinfo=UTC), r.id))
        out = []
        for r in due[:limit]:
            r.leased_until = now + timedelta(seconds=lease_seconds)
            out.append(PendingDelivery(r.id, r.alert_id, r.sink, r.attempts, dict(r.payload)))
        return out

    def delivered(self, delivery_id: int, now: datetime) -> None:
        r = self.rows[delivery_id]
        if r.status != "pending":
            return
        r.status, r.attempts, r.delivered_at = "delivered", r.attempts + 1, now
        r.leased_until = r.last_error = None

    def failed(self, delivery_id: int, now: datetime, reason: str, retry_at: datetime | None) -> None:
        r = self.rows[delivery_id]
        if r.status != "pending":
            return
        r.attempts += 1
        r.last_error, r.leased_until = reason, None
        if retry_at is None:
            r.status = "dead"
        else:
            r.next_attempt_at = retry_at

    def release(self, delivery_id: int, now: datetime) -> None:
        r = self.rows[delivery_id]
        if r.status == "pending":
            r.leased_until = None

    def status(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows.values():
            out[r.status] = out.get(r.status, 0) + 1
        return out


# --- the contract every outbox keeps -------------------------------------------------------------

def outbox_contract(outbox_factory: Callable[[Seed], Outbox]) -> None:
    """Check an Outbox implementation through its protocol alone.

    Args:
        outbox_factory: builds an outbox holding one pending delivery, due at once, per
            ``(alert_id, sink, payload)`` of its argument, created in that order.
    """
    def p(i: int) -> dict[str, Any]:
        return {"id": i, "key": f"d{i}:overdue:0", "message": f"案件{i} 已超期"}

    seed = [(1, "log", p(1)), (1, "hook", p(1)), (2, "hook", p(2)), (3, "hook", p(3)), (4, "other", p(4))]
    both, lease = {"log", "hook"}, 60.0

    # claim: only the sinks asked for, oldest first, at most `limit`, attempts 0, the payload as stored
    ob = outbox_factory(seed)
    first = ob.claim(T0, sinks=both, limit=3, lease_seconds=lease)
    assert [(d.alert_id, d.sink, d.attempts) for d in first] == [(1, "log", 0), (1, "hook", 0), (2, "hook", 0)]
    assert first[0].payload == p(1) and first[2].payload == p(2)
    # a lease is exclusive: a second claimer gets the rest, never the same delivery
    second = ob.claim(T0, sinks=both, limit=10, lease_seconds=lease)
    assert [(d.alert_id, d.sink) for d in second] == [(3, "hook")]
    assert ob.claim(T0 + timedelta(seconds=59), sinks=both, limit=10, lease_seconds=lease) == []
    # a worker that died holding them: once the lease expires every one is claimable again, nothing lost
    again = ob.claim(T0 + timedelta(seconds=60), sinks=both, limit=10, lease_seconds=lease)
    assert sorted(d.id for d in again) == sorted(d.id for d in first + second)
    assert all(d.attempts == 0 for d in again)
    assert ob.claim(T0 + timedelta(days=1), sinks={"other"}, limit=10, lease_seconds=lease)[0].alert_id == 4

    # delivered: never claimed again; failed with a retry time: due again then (one more attempt),
    # not before; failed without one: dead; released: due at once, no attempt counted
    ob = outbox_factory(seed[:4])
    d_log, d1, d2, d3 = ob.claim(T0, sinks=both, limit=10, lease_seconds=lease)
    ob.delivered(d_log.id, T0)
    ob.failed(d1.id, T0, "HTTP 500", T0 + timedelta(minutes=5))
    ob.failed(d2.id, T0, "timed out", None)
    ob.release(d3.id, T0)
    now = T0 + timedelta(seconds=1)
    assert [(d.id, d.attempts) for d in ob.claim(now, sinks=both, limit=10, lease_seconds=lease)] == [(d3.id, 0)]
    ob.delivered(d3.id, now)
    assert ob.claim(T0 + timedelta(minutes=4, seconds=59), sinks=both, limit=10, lease_seconds=lease) == []
    later = ob.claim(T0 + timedelta(minutes=5), sinks=both, limit=10, lease_seconds=lease)
    assert [(d.id, d.attempts) for d in later] == [(d1.id, 1)]
    ob.failed(d1.id, T0 + timedelta(minutes=5), "HTTP 500", T0 + timedelta(minutes=15))
    after = ob.claim(T0 + timedelta(minutes=15), sinks=both, limit=10, lease_seconds=lease)
    assert [(d.id, d.attempts) for d in after] == [(d1.id, 2)]
    # marks on a delivery that is no longer pending are ignored: a late worker cannot undo a delivery
    ob.delivered(d1.id, T0 + timedelta(minutes=15))
    ob.failed(d1.id, T0 + timedelta(minutes=16), "timed out", T0 + timedelta(minutes=16))
    ob.release(d1.id, T0 + timedelta(minutes=16))
    ob.failed(d2.id, T0 + timedelta(minutes=16), "timed out", T0 + timedelta(minutes=16))
    assert ob.claim(T0 + timedelta(days=30), sinks=both, limit=10, lease_seconds=lease) == []


def test_the_memory_outbox_keeps_the_contract() -> None:
    outbox_contract(MemoryOutbox.seeded)


# --- fakes ---------------------------------------------------------------------------------------

class FakeSink:
    """A sink whose sends follow a script: True delivers, a string fails with that reason."""

    def __init__(self, name: str, *, script: Callable[[int], bool | str] | None = None,
                 policy: DeliveryPolicy | None = None, clock: FixedClock | None = None,
                 takes: float = 0.0) -> None:
        self.name = name
        self.policy = policy or DeliveryPolicy(backoff_initial=30, backoff_max=3600, breaker_threshold=5)
        self.sent: list[dict[str, Any]] = []
        self.calls = 0
        self._script = script or (lambda n: True)
        self._clock, self._takes = clock, takes

    def send(self, payload: dict[str, Any]) -> None:
        self.calls += 1
        if self._clock is not None and self._takes:
            self._clock.advance(seconds=self._takes)  # a send that takes time, on the injected clock
        outcome = self._script(self.calls)
        if outcome is not True:
            raise DeliveryFailed(str(outcome))
        self.sent.append(payload)


def seeded(n: int, sinks: Sequence[str] = ("hook",)) -> MemoryOutbox:
    return MemoryOutbox.seeded([(i, s, {"id": i, "key": f"d{i}:overdue:0"}) for i in range(1, n + 1) for s in sinks])


# --- the worker ----------------------------------------------------------------------------------

def test_delivers_every_pending_delivery_to_its_sink() -> None:
    outbox = seeded(7, ("log", "hook"))
    log, hook = FakeSink("log"), FakeSink("hook")
    counts = deliver_pending(outbox, [log, hook], FixedClock(T0), batch=3)
    assert counts == {"claimed": 14, "delivered": 14, "retrying": 0, "dead": 0, "released": 0}
    assert [p["id"] for p in hook.sent] == list(range(1, 8)) and len(log.sent) == 7
    assert outbox.status() == {"delivered": 14}
    assert all(r.attempts == 1 and r.delivered_at == T0 for r in outbox.rows.values())


def test_a_failure_is_retried_later_as_a_row_time_never_by_sleeping() -> None:
    clock = FixedClock(T0)
    outbox = seeded(1)
    hook = FakeSink("hook", script=lambda n: "HTTP 500" if n == 1 else True)
    assert deliver_pending(outbox, [hook], clock)["retrying"] == 1
    row = outbox.rows[1]
    assert row.status == "pending" and row.attempts == 1 and row.last_error == "HTTP 500"
    assert row.next_attempt_at is not None
    assert T0 + timedelta(seconds=30) <= row.next_attempt_at <= T0 + timedelta(seconds=60)
    # the same clock: not due yet, nothing sent
    assert deliver_pending(outbox, [hook], clock)["claimed"] == 0 and hook.calls == 1
    clock.set(row.next_attempt_at)
    assert deliver_pending(outbox, [hook], clock)["delivered"] == 1
    assert row.status == "delivered" and row.attempts == 2 and row.last_error is None


def test_gives_up_after_max_attempts() -> None:
    clock = FixedClock(T0)
    outbox = seeded(1)
    hook = FakeSink("hook", script=lambda n: "timed out",
                    policy=DeliveryPolicy(max_attempts=3, backoff_initial=10, backoff_max=3600, breaker_threshold=99))
    outcomes = []
    for _ in range(5):
        counts = deliver_pending(outbox, [hook], clock)
        outcomes.append((counts["retrying"], counts["dead"]))
        clock.advance(hours=2)
    assert outcomes == [(1, 0), (1, 0), (0, 1), (0, 0), (0, 0)]
    assert outbox.rows[1].status == "dead" and outbox.rows[1].attempts == 3 and hook.calls == 3


@given(initial=st.floats(1, 3600), ceiling=st.floats(1, 86400), attempt=st.integers(1, 60))
def test_retry_delay_is_exponential_with_jitter_and_capped(initial: float, ceiling: float, attempt: int) -> None:
    ceiling = max(ceiling, initial)
    delay = retry_delay(DeliveryPolicy(backoff_initial=initial, backoff_max=ceiling), attempt)
    base = initial * 2.0 ** (attempt - 1)
    assert min(base, ceiling) <= delay <= min(base + initial, ceiling)


def test_circuit_breaker_skips_a_failing_sink_without_counting_attempts() -> None:
    clock = FixedClock(T0)
    outbox = seeded(10, ("hook", "log"))
    policy = DeliveryPolicy(breaker_threshold=3, breaker_cooldown=300, backoff_initial=1, backoff_max=1)
    down = True
    hook = FakeSink("hook", script=lambda n: "connection failed" if down else True, policy=policy)
    log = FakeSink("log")
    breakers = CircuitBreakers()

    counts = deliver_pending(outbox, [hook, log], clock, batch=20, breakers=breakers)
    assert hook.calls == 3 and len(log.sent) == 10  # the other sink is not held back
    assert counts["retrying"] == 3 and counts["released"] == 7
    hook_rows = [r for r in outbox.rows.values() if r.sink == "hook"]
    assert sorted(r.attempts for r in hook_rows) == [0] * 7 + [1] * 3  # skipped ones: no attempt counted
    assert all(r.status == "pending" and r.leased_until is None for r in hook_rows)

    # during the cool-down the sink is not even claimed
    clock.advance(seconds=299)
    assert deliver_pending(outbox, [hook, log], clock, breakers=breakers)["claimed"] == 0
    assert hook.calls == 3 and outbox.claims[-1]["sinks"] == {"log"}

    # after it, one probe: still down, open again at once
    clock.advance(seconds=1)
    counts = deliver_pending(outbox, [hook, log], clock, batch=20, breakers=breakers)
    assert hook.calls == 4 and counts["retrying"] == 1 and counts["released"] == 9

    # back up: the probe succeeds, the breaker closes, everything goes out
    down = False
    clock.advance(seconds=300)
    counts = deliver_pending(outbox, [hook, log], clock, batch=20, breakers=breakers)
    assert counts["delivered"] == 10 and outbox.status() == {"delivered": 20}


def test_a_run_stops_claiming_when_its_budget_is_spent_and_hands_back_the_rest() -> None:
    clock = FixedClock(T0)
    outbox = seeded(10)
    hook = FakeSink("hook", clock=clock, takes=10.0)  # each send takes 10 s of clock time
    counts = deliver_pending(outbox, [hook], clock, budget_seconds=35, batch=5)
    # sends start at 0, 10, 20, 30 s; at 40 s the budget is spent
    assert counts == {"claimed": 5, "delivered": 4, "retrying": 0, "dead": 0, "released": 1}
    assert len(outbox.claims) == 1  # no second claim after the budget
    counts = deliver_pending(outbox, [hook], clock, budget_seconds=1000)
    assert counts["delivered"] == 6 and outbox.status() == {"delivered": 10}


def test_lease_outlives_the_run_by_default() -> None:
    outbox = seeded(1)
    deliver_pending(outbox, [FakeSink("hook", policy=DeliveryPolicy(send_seconds=12))], FixedClock(T0),
                    budget_seconds=40)
    assert outbox.claims[0]["lease_seconds"] == 40 + 12 + LEASE_MARGIN_SECONDS


class Crash(BaseException):
    """The process dies mid-send (SIGKILL, power loss): nothing after this line runs."""


def test_a_killed_worker_loses_no_delivery() -> None:
    clock = FixedClock(T0)
    outbox = seeded(3)

    def crash_on_second(n: int) -> bool | str:
        if n == 2:
            raise Crash
        return True

    with pytest.raises(Crash):
        deliver_pending(outbox, [FakeSink("hook", script=crash_on_second)], clock, budget_seconds=30)
    assert outbox.status() == {"delivered": 1, "pending": 2}
    # another worker: nothing while the dead worker's lease runs, everything after it
    survivor = FakeSink("hook")
    assert deliver_pending(outbox, [survivor], clock)["claimed"] == 0
    clock.advance(seconds=30 + LEASE_MARGIN_SECONDS + 10)
    assert deliver_pending(outbox, [survivor], clock)["delivered"] == 2
    assert outbox.status() == {"delivered": 3} and [p["id"] for p in survivor.sent] == [2, 3]


def test_a_claim_dropped_without_marking_is_claimed_again_after_its_lease() -> None:
    clock = FixedClock(T0)
    outbox = seeded(2)
    assert len(outbox.claim(T0, sinks={"hook"}, limit=10, lease_seconds=120)) == 2  # ...and the worker vanished
    hook = FakeSink("hook")
    assert deliver_pending(outbox, [hook], clock)["claimed"] == 0
    clock.advance(seconds=120)
    assert deliver_pending(outbox, [hook], clock)["delivered"] == 2


def test_deliveries_to_sinks_not_configured_here_are_left_alone() -> None:
    outbox = seeded(2, ("hook", "retired"))
    counts = deliver_pending(outbox, [FakeSink("hook")], FixedClock(T0))
    assert counts["delivered"] == 2 and outbox.claims[0]["sinks"] == {"hook"}
    assert [(r.status, r.attempts) for r in outbox.rows.values() if r.sink == "retired"] == [("pending", 0)] * 2


# --- with a real webhook on loopback ------------------------------------------------------------------

def test_webhook_500_then_retried_and_delivered_later() -> None:
    answers = [500, 204]
    received: list[bytes] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(answers.pop(0))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook?token=s3cr3t"
        sinks = build_sinks([SinkConfig(name="district", type="webhook", url_env="HOOK_URL", backoff_initial=60)],
                            {"HOOK_URL": url})
        clock = FixedClock(T0)
        outbox = MemoryOutbox.seeded([(9, "district", {"id": 9, "key": "d9:overdue:0"})])
        assert deliver_pending(outbox, sinks, clock)["retrying"] == 1
        row = outbox.rows[1]
        assert row.last_error == "HTTP 500" and "s3cr3t" not in str(vars(row))
        assert row.next_attempt_at is not None
        clock.set(row.next_attempt_at)
        assert deliver_pending(outbox, sinks, clock)["delivered"] == 1
    finally:
        server.shutdown()
        server.server_close()
    assert len(received) == 2 and received[0] == received[1]  # the same body, with its key, twice
    assert row.status == "delivered" and row.attempts == 2
