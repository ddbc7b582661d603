"""The sweeper's ticker: APScheduler 3.x with an in-memory job store and jobs defined in code.

The scheduler is stateless: deadlines and alerts are rows, every alert has a
unique key and sweeps claim rows with ``SKIP LOCKED``, so any number of
schedulers on any number of machines may run against one PostgreSQL
database, and a scheduler killed at any moment loses nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("casecraft.scheduler")


def _failed(what: str, exc: Exception) -> None:
    """A job's failure on the log: a casecraft error by its message (a refusal is no fault: no traceback); anything
    else by its type, its traceback only at debug level (never its message: it may hold request data)."""
    from casecraft.base.errors import CasecraftError

    if isinstance(exc, CasecraftError):
        log.error("%s: %s", what, exc)
    else:
        log.error("%s: %s", what, type(exc).__name__)
        log.debug("%s", what, exc_info=(type(exc), exc, exc.__traceback__))


def build_scheduler(sweep: Callable[[], dict[str, int]], *, interval_seconds: float = 60.0,
                    blocking: bool = True, on_result: Callable[[dict[str, int]], None] | None = None,
                    monthly: Callable[[], Any] | None = None, monthly_interval_seconds: float = 3600.0,
                    on_monthly: Callable[[Any], None] | None = None,
                    deliver: Callable[[], Any] | None = None, deliver_interval_seconds: float = 5.0) -> Any:
    """An APScheduler scheduler with an interval job calling ``sweep`` (first run at once).

    ``deliver`` (the alert outbox's worker pass) runs as a job of its own, every
    ``deliver_interval_seconds``: a slow or dead sink never holds the sweep.

    ``monthly`` (e.g. ``lambda: casecraft.evaluation.record_due(engine)``) records the
    previous month's evaluation: it runs at start, which catches up a missed
    first-of-month, and then every ``monthly_interval_seconds``; the run's unique
    key (``monthly:YYYY-MM``) makes every call after the first a no-op.
    """
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    cls = BlockingScheduler if blocking else BackgroundScheduler
    sched = cls(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1,
                                                     "misfire_grace_time": max(int(interval_seconds), 1)})

    # the jobs share one engine: never run the sweep and the monthly evaluation at the same time
    busy = threading.Lock()

    def tick() -> None:
        try:
            with busy:
                result = sweep()
        except Exception as exc:  # keep ticking; the next pass is level-triggered and catches up
            _failed("sweep failed", exc)
            return
        if on_result:
            on_result(result)

    sched.add_job(tick, "interval", seconds=interval_seconds, id="sweep", replace_existing=True,
                  next_run_time=datetime.now(UTC))
    if monthly is not None:
        def evaluate() -> None:
            try:
                with busy:
                    result = monthly()
            except Exception as exc:  # keep ticking; the next pass tries again
                _failed("monthly evaluation failed", exc)
                return
            if on_monthly:
                on_monthly(result)

        sched.add_job(evaluate, "interval", seconds=monthly_interval_seconds, id="monthly-evaluation",
                      replace_existing=True, next_run_time=datetime.now(UTC))
    if deliver is not None:
        def send() -> None:
            try:
                deliver()
            except Exception as exc:  # keep ticking; what was not sent stays queued
                _failed("alert delivery failed", exc)

        sched.add_job(send, "interval", seconds=deliver_interval_seconds, id="deliver", replace_existing=True,
                      next_run_time=datetime.now(UTC))
    return sched
