"""Time-limit durations as admins write them in workflows.yaml.

Accepted forms (case-insensitive, singular or plural)::

    30 minutes   2 hours   3 days          natural time
    4 working hours   1 working day        working time (工作时 / 工作日)
    4工作时   1工作日   2小时   30分钟   3天    the same in Chinese

"1 working day" is never "24 working hours": it ends at the same working
moment on the next working day (see :mod:`casecraft.timing.calendar`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from casecraft.base.errors import N_, render

Unit = Literal["minute", "hour", "day"]

_EN = re.compile(
    r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<working>working\s+)?(?P<unit>minute|min|hour|h|day|d)s?\s*$",
    re.IGNORECASE,
)
_ZH = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>工作时|工作小时|工作日|小时|分钟|天|日)\s*$")
_ZH_UNITS: dict[str, tuple[Unit, bool]] = {
    "工作时": ("hour", True),
    "工作小时": ("hour", True),
    "工作日": ("day", True),
    "小时": ("hour", False),
    "分钟": ("minute", False),
    "天": ("day", False),
    "日": ("day", False),
}
# A limit longer than about ten years is a typo, and would overflow date arithmetic.
# the unit's word in messages: an edge translates it (the message keeps what it was made of)
_UNIT_WORDS: dict[str, str] = {"minute": N_("minute"), "hour": N_("hour"), "day": N_("day")}
MAX_AMOUNT: dict[str, int] = {"minute": 10 * 366 * 24 * 60, "hour": 10 * 366 * 24, "day": 10 * 366}
_EN_UNITS: dict[str, Unit] = {"minute": "minute", "min": "minute", "hour": "hour", "h": "hour", "day": "day",
                              "d": "day"}


@dataclass(frozen=True)
class Duration:
    """A time limit: an amount of natural or working minutes, hours or days."""

    amount: float
    unit: Unit
    working: bool

    @classmethod
    def parse(cls, text: object) -> Duration:
        """Parse an admin's duration.

        Raises:
            ValueError: with a message saying which forms are accepted.
        """
        if not isinstance(text, str):
            raise ValueError(render("a duration must be text such as '4 working hours', got {text!r}", {"text": text}))
        if cls is Duration:  # a workflow's few limits are parsed at every step: each text once
            known = _PARSED.get(text)
            if known is not None:
                return known
        m = _EN.match(text)
        if m:
            unit = _EN_UNITS[m["unit"].lower()]
            working = bool(m["working"])
            if working and unit == "minute":
                raise ValueError(render("bad duration {text!r}: working minutes are not a unit; use working hours",
                                        {"text": text}))
            amount = float(m["n"])
        else:
            z = _ZH.match(text)
            if not z:
                raise ValueError(render(
                    "bad duration {text!r}: write a number and a unit, e.g. '30 minutes', "
                    "'2 hours', '3 days', '4 working hours', '1 working day' (or 4工作时, 1工作日)", {"text": text}))
            unit, working = _ZH_UNITS[z["unit"]]
            amount = float(z["n"])
        if amount <= 0:
            raise ValueError(render("bad duration {text!r}: it must be longer than zero", {"text": text}))
        if amount > MAX_AMOUNT[unit]:
            raise ValueError(render("bad duration {text!r}: at most {limit} {unit}s (about ten years) are allowed",
                                    {"text": text, "limit": MAX_AMOUNT[unit], "unit": render(_UNIT_WORDS[unit], {})}))
        if working and unit == "day" and amount != int(amount):
            raise ValueError(render("bad duration {text!r}: working days must be whole; use working hours",
                                    {"text": text}))
        parsed = cls(amount, unit, working)
        if cls is Duration and len(_PARSED) < 1024:
            _PARSED[text] = parsed
        return parsed

    def __str__(self) -> str:
        n = int(self.amount) if self.amount == int(self.amount) else self.amount
        plural = "" if n == 1 else "s"
        return f"{n} {'working ' if self.working else ''}{self.unit}{plural}"

    @property
    def label(self) -> str:
        """The Chinese label, e.g. 4工作时, 1工作日, 30分钟."""
        n = int(self.amount) if self.amount == int(self.amount) else self.amount
        if self.working:
            return f"{n}{'工作日' if self.unit == 'day' else '工作时'}"
        return f"{n}{ {'minute': '分钟', 'hour': '小时', 'day': '天'}[self.unit] }"


_PARSED: dict[str, Duration] = {}  # text -> its (immutable) Duration; only texts that parsed


def humanize(delta_seconds: float) -> str:
    """'3h 20m left' / '1d 2h overdue' style text for a signed number of seconds."""
    late = delta_seconds < 0
    s = int(abs(delta_seconds))
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m = rem // 60
    parts = ([f"{d}d"] if d else []) + ([f"{h}h"] if h else []) + ([f"{m}m"] if m and not d else [])
    text = " ".join(parts) or "0m"
    return f"{text} overdue" if late else f"{text} left"
