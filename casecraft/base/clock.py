"""Injectable time.

Everything that needs "now" takes a :class:`Clock`. Production uses
:class:`SystemClock`; tests and the CLI's ``--at`` / ``CASECRAFT_NOW`` use a
:class:`FixedClock`, which can be advanced without sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from casecraft.base.errors import InputError


class Clock(Protocol):
    def now(self) -> datetime:
        """Return the current time, timezone-aware."""
        ...


class SystemClock:
    """The real clock, always in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A settable clock for tests, back-filling and ``--at``.

    Args:
        at: the starting time; must be timezone-aware.
    """

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise InputError("time {time} has no timezone; give an offset such as +08:00", time=at.isoformat())
        self._now = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise InputError("time {time} has no timezone; give an offset such as +08:00", time=at.isoformat())
        self._now = at.astimezone(UTC)

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self._now = self._now + (delta or timedelta(**kwargs))
        return self._now


def parse_time(text: str, default_tz: str = "Asia/Shanghai") -> datetime:
    """Parse an ISO 8601 time; a time without an offset is read in ``default_tz``.

    Raises:
        InputError: the text is not an ISO 8601 date or time.
    """
    from zoneinfo import ZoneInfo

    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
    except ValueError:
        raise InputError(
            "bad time {text!r}: use ISO 8601, e.g. 2026-11-27T09:30 or 2026-11-27T09:30:00+08:00", text=text
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(default_tz))
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InputError("bad time {text!r}: out of range", text=text) from None
