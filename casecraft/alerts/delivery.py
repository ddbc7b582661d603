"""The delivery worker of the alert outbox.

The sweep commits each alert together with one pending delivery row per configured sink;
this worker sends them, outside the sweep, with the guarantees the rows make possible:

* **at-least-once**: a delivery is claimed under a lease and marked only after its send
  returned; a worker that dies mid-way leaves it pending, and once the lease expires another
  worker claims it again. Receivers de-duplicate by the alert ``key`` in the payload.
* **retries as rows, never sleeps**: a failed send schedules the next attempt as a row time
  (exponential backoff with jitter, computed by tenacity's wait strategy); after the sink's
  ``max_attempts`` the delivery is given up (dead).
* **a circuit breaker per sink**: after ``breaker_threshold`` consecutive failures the sink is
  skipped for ``breaker_cooldown``; its deliveries stay pending and no attempt is counted.
  The first send after the cool-down is a probe: one more failure opens it again at once.
* **a time budget per run**: no claim starts once the budget is spent, and deliveries claimed
  but not yet sent are handed back.

Time comes from the injected clock; the worker itself never sleeps. This module holds the
ports (:class:`Sink`, :class:`Outbox`) and imports no I/O library; the sinks themselves
(log, webhook, apprise) are in :mod:`casecraft.alerts.sinks`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Protocol

from casecraft.base.clock import Clock
from casecraft.base.errors import N_, CasecraftError, InputError, render
from casecraft.workflows.shape import Sink as SinkConfig

log = logging.getLogger("casecraft.alerts.delivery")

# The only reasons a send fails with (besides "HTTP <status>"): generic on purpose, since they are
# stored with the delivery and shown; one that told a closed port (refused) from an open one (a
# garbled answer) would make the sink a port scanner.
# Each is a catalogue template: stored in English, translated where an operator reads it.
TIMED_OUT = N_("timed out")
CONNECTION_FAILED = N_("connection failed")
REDIRECT_REFUSED = N_("redirect refused")
RESPONSE_TOO_LARGE = N_("response too large")
NOTIFY_FAILED = N_("notification failed")
HTTP_STATUS = N_("HTTP {status}")

MAX_BUDGET = 86_400.0  # a day: a longer run is a scheduler's (`scheduler run`), not one delivery pass

# Added to a run's budget and its slowest send to size a lease: a lease must outlive the run
# that holds it, or a second worker would send the same delivery while the first still does.
LEASE_MARGIN_SECONDS = 30.0


class DeliveryFailed(CasecraftError):  # noqa: N818 - the name the outbox and its tests speak
    """A send did not reach its sink; ``reason`` is generic and safe to store and show."""

    code = "delivery_failed"

    def __init__(self, reason: str, **details: Any) -> None:
        shown = render(reason, details)  # a template of the above, with its details (HTTP_STATUS: status)
        super().__init__(N_("delivery failed: {reason}"), reason=shown)
        self.reason = shown


@dataclass(frozen=True)
class FailedSend:
    """A send that failed in this pass, as the operator is told it.

    Attributes:
        alert_id: the alert.
        sink: the sink's name.
        reason: the generic reason (a template of this module, formatted).
        attempt: the attempts made so far, this one included.
        retry_at: when the next attempt is due; None when the delivery was given up.
    """

    alert_id: int
    sink: str
    reason: str
    attempt: int
    retry_at: datetime | None


# a sink's defaults are the workflow file's (casecraft.workflows.shape.Sink): one place says them
_SINK_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(SinkConfig)}


@dataclass(frozen=True)
class DeliveryPolicy:
    """How the delivery worker treats one sink's failures.

    Attributes:
        max_attempts: attempts before a delivery is given up (dead).
        backoff_initial: seconds before the first retry; doubles per attempt, plus jitter.
        backoff_max: the longest wait between attempts, in seconds.
        breaker_threshold: consecutive failures after which the sink is skipped for a cool-down.
        breaker_cooldown: seconds the sink is skipped; its deliveries stay pending meanwhile.
        send_seconds: the longest one send may take (the sink's total deadline); sizes leases.
    """

    max_attempts: int = _SINK_DEFAULTS["max_attempts"]
    backoff_initial: float = _SINK_DEFAULTS["backoff_initial"]
    backoff_max: float = _SINK_DEFAULTS["backoff_max"]
    breaker_threshold: int = _SINK_DEFAULTS["breaker_threshold"]
    breaker_cooldown: float = _SINK_DEFAULTS["breaker_cooldown"]
    send_seconds: float = _SINK_DEFAULTS["total_timeout"]

    @classmethod
    def of(cls, config: SinkConfig) -> DeliveryPolicy:
        """The policy a sink's workflow settings describe."""
        return cls(max_attempts=config.max_attempts, backoff_initial=config.backoff_initial,
                   backoff_max=config.backoff_max, breaker_threshold=config.breaker_threshold,
                   breaker_cooldown=config.breaker_cooldown,
                   send_seconds=0.0 if config.type == "log" else config.total_timeout)


class Sink(Protocol):
    """Something an alert can be sent to."""

    name: str
    policy: DeliveryPolicy

    def send(self, payload: dict[str, Any]) -> None:
        """Send one alert payload.

        Raises:
            DeliveryFailed: the sink did not accept it; the reason is generic.
        """
        ...


@dataclass(frozen=True)
class PendingDelivery:
    """One claimed delivery: send ``payload`` to the sink named ``sink``.

    Attributes:
        id: the delivery row's id.
        alert_id: the alert it delivers.
        sink: the sink's configured name.
        attempts: attempts already made (0 for a first try).
        payload: the JSON body (see :func:`casecraft.alerts.sinks.build_payload`).
    """

    id: int
    alert_id: int
    sink: str
    attempts: int
    payload: dict[str, Any]


class Outbox(Protocol):
    """The pending deliveries, as the worker sees them (the SQL store implements it).

    A delivery is *pending* until :meth:`delivered` or a :meth:`failed` without a retry time
    (dead). Marks on a delivery that is no longer pending are ignored, so a worker whose lease
    expired cannot undo what another worker recorded.
    """

    def claim(self, now: datetime, *, sinks: Collection[str], limit: int,
              lease_seconds: float) -> list[PendingDelivery]:
        """Lease up to ``limit`` pending deliveries to ``sinks`` that are due.

        Due: the next attempt time is not after ``now`` (a new delivery is due at once) and no
        unexpired lease is held on it. Oldest next-attempt first. Each returned delivery is
        leased until ``now + lease_seconds``; the lease is committed before this returns, and
        concurrent claimers never receive the same delivery while its lease runs.
        """
        ...

    def delivered(self, delivery_id: int, now: datetime) -> None:
        """Record a successful send: the delivery is done; one more attempt counted."""
        ...

    def failed(self, delivery_id: int, now: datetime, reason: str, retry_at: datetime | None) -> None:
        """Record a failed send: one more attempt, ``reason`` kept as the last error.

        ``retry_at`` is when it becomes due again (the lease is dropped); None gives it up (dead).
        """
        ...

    def release(self, delivery_id: int, now: datetime) -> None:
        """Hand back a claimed delivery that was not sent: due again at once, no attempt counted."""
        ...


@dataclass
class CircuitBreakers:
    """Consecutive failures per sink and the time until which each open sink is skipped.

    Keep one across runs (the scheduler does) so a dead endpoint stays skipped between ticks;
    a fresh one per run (``alerts deliver --once``) still opens within the run.
    """

    failures: dict[str, int] = field(default_factory=dict)
    open_until: dict[str, datetime] = field(default_factory=dict)

    def is_open(self, sink: str, now: datetime) -> bool:
        """Whether ``sink`` is skipped at ``now``."""
        until = self.open_until.get(sink)
        return until is not None and now < until

    def success(self, sink: str) -> None:
        """A send to ``sink`` returned: close its breaker."""
        self.failures.pop(sink, None)
        self.open_until.pop(sink, None)

    def failure(self, sink: str, now: datetime, policy: DeliveryPolicy) -> bool:
        """A send to ``sink`` failed; returns True when this failure opens (or re-opens) the breaker."""
        count = self.failures.get(sink, 0) + 1
        self.failures[sink] = count
        if count >= policy.breaker_threshold:
            self.open_until[sink] = now + timedelta(seconds=policy.breaker_cooldown)
            return True
        return False


def retry_delay(policy: DeliveryPolicy, attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): tenacity's exponential
    backoff from ``backoff_initial``, doubling, plus up to ``backoff_initial`` of jitter, at most
    ``backoff_max``."""
    from tenacity import RetryCallState, Retrying

    state = RetryCallState(Retrying(), None, (), {})
    state.attempt_number = attempt
    return float(_wait(policy)(state))


@cache
def _wait(policy: DeliveryPolicy) -> Any:
    from tenacity import wait_exponential_jitter

    return wait_exponential_jitter(multiplier=policy.backoff_initial, max=policy.backoff_max,
                                   jitter=policy.backoff_initial)


def deliver_pending(outbox: Outbox, sinks: Sequence[Sink], clock: Clock, *, budget_seconds: float = 30.0,
                    batch: int = 50, lease_seconds: float | None = None,
                    breakers: CircuitBreakers | None = None,
                    on_failure: Callable[[FailedSend], None] | None = None) -> dict[str, int]:
    """Send pending deliveries until none is due or the time budget is spent.

    Args:
        outbox: where the deliveries are claimed and marked.
        sinks: the built sinks (:func:`casecraft.alerts.sinks.build_sinks`); deliveries to a
            sink not among them are left pending, untouched.
        clock: the source of "now" (row times, budget, breaker).
        budget_seconds: no claim starts after this long; the run may overrun by one send
            (bounded by the slowest sink's total deadline).
        batch: deliveries claimed at a time.
        lease_seconds: how long a claim holds its deliveries; default: the budget plus the
            slowest sink's total deadline plus a margin, so a lease outlives its run.
        breakers: circuit-breaker state to keep across runs; default: a fresh one.
        on_failure: told of every failed send (the command line shows them).

    Returns:
        Counts: ``claimed``; ``delivered``; ``retrying`` (failed, next attempt scheduled);
        ``dead`` (failed for the last time); ``released`` (claimed, then handed back unsent
        because the budget ran out or the sink's breaker opened).

    Raises:
        InputError: two sinks share a name, or a bad budget or batch.
    """
    if not 0 < budget_seconds <= MAX_BUDGET or batch < 1:  # NaN fails the comparison too
        raise InputError("the delivery budget must be positive and at most a day (86400 s), and the batch at least "
                         "1 (got {budget}, {batch})", budget=budget_seconds, batch=batch)
    by_name = {s.name: s for s in sinks}
    if len(by_name) != len(sinks):
        raise InputError("two sinks share a name; give each sink its own name")
    breakers = breakers if breakers is not None else CircuitBreakers()
    slowest = max((s.policy.send_seconds for s in sinks), default=0.0)
    lease = lease_seconds if lease_seconds is not None else budget_seconds + slowest + LEASE_MARGIN_SECONDS
    counts = {"claimed": 0, "delivered": 0, "retrying": 0, "dead": 0, "released": 0}
    end = clock.now() + timedelta(seconds=budget_seconds)
    while True:
        now = clock.now()
        names = [n for n in by_name if not breakers.is_open(n, now)]
        if now >= end or not names:
            break
        claimed = outbox.claim(now, sinks=names, limit=batch, lease_seconds=lease)
        if not claimed:
            break
        counts["claimed"] += len(claimed)
        for pending in claimed:
            outcome = _deliver_one(outbox, by_name.get(pending.sink), pending, clock, end, breakers, on_failure)
            counts[outcome] += 1
        # a claim never returns a delivery it returned before in this run unless its retry time
        # has come, so each loop makes progress; the budget bounds the whole run
    return counts


def _deliver_one(outbox: Outbox, sink: Sink | None, pending: PendingDelivery, clock: Clock, end: datetime,
                 breakers: CircuitBreakers, on_failure: Callable[[FailedSend], None] | None = None) -> str:
    now = clock.now()
    if sink is None or now >= end or breakers.is_open(pending.sink, now):
        outbox.release(pending.id, now)
        return "released"
    try:
        sink.send(pending.payload)
    except DeliveryFailed as exc:
        now = clock.now()
        attempt = pending.attempts + 1
        if breakers.failure(sink.name, now, sink.policy):
            log.warning("sink %s skipped for %.0f s after %d consecutive failures", sink.name,
                        sink.policy.breaker_cooldown, breakers.failures[sink.name])
        if attempt >= sink.policy.max_attempts:
            outbox.failed(pending.id, now, exc.reason, None)
            if on_failure is not None:
                on_failure(FailedSend(pending.alert_id, sink.name, exc.reason, attempt, None))
            log.error("alert %s: delivery to sink %s given up after %d attempts (%s)", pending.alert_id,
                      sink.name, attempt, exc.reason)
            return "dead"
        retry_at = now + timedelta(seconds=retry_delay(sink.policy, attempt))
        outbox.failed(pending.id, now, exc.reason, retry_at)
        if on_failure is not None:
            on_failure(FailedSend(pending.alert_id, sink.name, exc.reason, attempt, retry_at))
        log.warning("alert %s: delivery to sink %s failed (%s), attempt %d; next at %s", pending.alert_id,
                    sink.name, exc.reason, attempt, retry_at.isoformat())
        return "retrying"
    breakers.success(sink.name)
    outbox.delivered(pending.id, clock.now())
    return "delivered"


__all__ = ["CONNECTION_FAILED", "HTTP_STATUS", "LEASE_MARGIN_SECONDS", "NOTIFY_FAILED", "REDIRECT_REFUSED",
           "RESPONSE_TOO_LARGE", "TIMED_OUT", "CircuitBreakers", "DeliveryFailed", "DeliveryPolicy", "FailedSend",
           "Outbox", "PendingDelivery", "Sink", "deliver_pending", "retry_delay"]
