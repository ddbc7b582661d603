"""The State Council's yearly holiday notice (国务院办公厅关于XXXX年部分节假日安排的通知) as a YAML file.

An administrator types the notice's arrangement into a small YAML file (the
format is documented in docs/calendar.md; ``samples/holidays-2026.yaml`` is the
2026 notice)::

    year: 2026
    title: 国务院办公厅关于2026年部分节假日安排的通知
    holidays:
      - name: 元旦
        from: 2026-01-01
        to: 2026-01-03
        makeup_workdays: [2026-01-04]
      - name: 端午节
        from: 2026-06-19
        to: 2026-06-21

:func:`parse_notice` checks the whole file, reports every problem at once
with its line, and gives the rows of the whole year: weekends off, the
notice's holidays off, its make-up working days (调休) on, every other date a
workday. Loading is ruamel.yaml's round-trip loader, which builds plain data
only (no Python objects) and refuses duplicate keys.
"""

from __future__ import annotations

import datetime as dt
import difflib
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn

from casecraft.base.errors import N_, InputError, Joined, Problem, Rendered, render
from casecraft.timing.calendar import DayRow

NOTICE_SOURCE = "notice"
"""``DayRow.source`` of a date from an imported notice."""

MAKEUP_NOTE = "调休"
"""The note of a make-up working weekend (as in the rows seeded from chinesecalendar)."""

MAX_BYTES = 64 * 1024  # a notice is about 40 lines
MAX_DEPTH = 8  # a notice nests three levels; deeper flow brackets are refused before parsing
MAX_NODES = 5000
MAX_SPAN = 31  # days in one holiday: a notice gives at most about ten, so more is a typing slip
NAME_MAX = 100  # the width of calendar_days.note

_TOP_KEYS = ("year", "title", "holidays")
_HOLIDAY_KEYS = ("name", "date", "from", "to", "makeup_workdays")
_ONE = dt.timedelta(days=1)
_WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


@dataclass(frozen=True)
class NoticeHoliday:
    """One holiday of the notice: its name, its rest days and the weekends worked instead."""

    name: str
    days: tuple[dt.date, ...]
    makeup_workdays: tuple[dt.date, ...]


@dataclass(frozen=True)
class Notice:
    """A checked notice: the year, its holidays, and the rows of every date of the year."""

    year: int
    title: str
    holidays: tuple[NoticeHoliday, ...]
    rows: tuple[DayRow, ...]
    warnings: tuple[str, ...] = ()
    """Statutory holidays of the year (by the rules from 2025) that the notice does not give off."""

    @property
    def days(self) -> dict[dt.date, bool]:
        """Whether each date of the year is a workday."""
        return {r.day: r.workday for r in self.rows}


def parse_notice(path: str | Path) -> Notice:
    """Read and check a notice file.

    Args:
        path: the YAML file.

    Returns:
        The notice, with one row per date of its year (source ``"notice"``).

    Raises:
        InputError: if the file cannot be read or has any problem; the message lists
            every problem as ``file:line:column: what`` and ``details["problems"]`` holds them.
    """
    p = Path(path)
    shown = str(p)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InputError("no such file {file!r}", file=shown) from None
    except IsADirectoryError:
        raise InputError("{file!r} is a folder; give the notice's YAML file", file=shown) from None
    except OSError as exc:
        raise InputError("cannot read {file!r}: {reason}", file=shown, reason=exc.strerror or str(exc)) from None
    if len(raw) > MAX_BYTES:
        _fail(shown, [Problem(shown, 1, 1, render("the file is {size} bytes; a notice may be at most {max}",
                                                  {"size": len(raw), "max": MAX_BYTES}))])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        _fail(shown, [Problem(shown, line, 1, render("the file is not UTF-8 text", {}),
                              hint=render("save it as UTF-8", {}))])
    return parse_notice_text(text, shown)


def parse_notice_text(text: str, name: str = "<notice>") -> Notice:
    """Check the text of a notice file; see :func:`parse_notice`.

    Args:
        text: the YAML text.
        name: the file name shown in problems.
    """
    data = _load(text, name)
    checker = _Checker(name, data)
    notice = checker.run()
    if checker.problems or notice is None:
        _fail(name, sorted(checker.problems, key=lambda p: (p.line, p.column)))
    return notice


def _fail(name: str, problems: list[Problem]) -> NoReturn:
    count = len(problems)
    raise InputError(
        "{file}: {count} problem(s) in the holiday notice, nothing imported:\n  {listing}\n"
        "fix them and import the file again (the format is described in docs/calendar.md)",
        error_code="notice_invalid", file=name, count=count,
        listing=Joined((_line(p) for p in problems), "\n  "), problems=[str(p) for p in problems])


def _line(p: Problem) -> Rendered:
    """A problem as ``str(p)`` shows it (``file:line:column: message (hint)``), remembering its parts."""
    details = {"file": p.file, "line": p.line, "column": p.column, "message": p.message, "hint": p.hint}
    if p.hint:
        return render("{file}:{line}:{column}: {message} ({hint})", details)  # type: ignore[return-value]
    return render("{file}:{line}:{column}: {message}", details)  # type: ignore[return-value]


def _flow_depth(text: str) -> tuple[int, int]:
    """The deepest nesting of flow brackets outside quotes and comments, and the line where it is reached.

    Checked before parsing: the parser recurses once per level, so a few
    kilobytes of ``[[[[`` would cost seconds before it gives up.
    """
    depth = deepest = 0
    line = at = 1
    quote = ""
    prev = "\n"
    chars = iter(text)
    for ch in chars:
        if ch == "\n":
            line += 1  # (a quoted scalar may span lines: the quote stays open)
        elif quote:
            if ch == "\\" and quote == '"':
                next(chars, None)
            elif ch == quote:
                quote = ""
        elif ch in "'\"" and prev in " \t\n[{,:":
            quote = ch
        elif ch == "#" and prev in " \t\n":
            for rest in chars:  # a comment runs to the end of the line
                if rest == "\n":
                    line += 1
                    break
            ch = "\n"
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest, at = depth, line
        elif ch in "]}":
            depth = max(depth - 1, 0)
        prev = ch
    return deepest, at


def _load(text: str, name: str) -> Any:
    depth, line = _flow_depth(text)
    if depth > MAX_DEPTH:
        _fail(name, [Problem(name, line, 1, render("brackets nested {depth} deep; a notice needs at most 2",
                                                   {"depth": depth}))])
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    from casecraft.base.yamltext import ruamel_problem

    yaml = YAML(typ="rt")  # round-trip: plain data only, positions kept
    yaml.Constructor = _constructor()
    yaml.allow_duplicate_keys = False
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        what = (exc.problem or "invalid YAML").strip()
        message, hint = ruamel_problem(what), None
        if "duplicate key" in str(exc):
            message, hint = render("YAML: a key appears twice", {}), render("each key may appear once in a mapping", {})
        _fail(name, [Problem(name, line, col, message, hint=hint)])
    except RecursionError:
        _fail(name, [Problem(name, 1, 1, render("YAML: the document is nested too deeply", {}))])
    except (YAMLError, ValueError, TypeError, OverflowError) as exc:
        _fail(name, [Problem(name, 1, 1, render("YAML: {what}", {"what": str(exc)}))])
    count, stack = 0, [data]
    while stack:  # refuse alias bombs: count nodes as a reader would see them
        node = stack.pop()
        count += 1
        if count > MAX_NODES:
            _fail(name, [Problem(name, 1, 1, render("the document expands to more than {count} values",
                                                    {"count": MAX_NODES}),
                                 hint=render("do not repeat blocks with YAML anchors and aliases", {}))])
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return data


@lru_cache(maxsize=1)
def _constructor() -> type:
    """ruamel.yaml's round-trip constructor, keeping dates as text.

    Dates are checked here, with their line: left to the loader, ``2027-06-31``
    would stop the whole load with no position.
    """
    from ruamel.yaml.constructor import RoundTripConstructor

    class NoticeConstructor(RoundTripConstructor):  # type: ignore[misc]
        pass

    NoticeConstructor.add_constructor(
        "tag:yaml.org,2002:timestamp", lambda self, node: str(self.construct_scalar(node)))
    return NoticeConstructor


def _pos(node: Any, key: Any, *, at_key: bool = False) -> tuple[int, int]:
    """1-based line and column of ``node[key]`` (or of the key itself), else of ``node``."""
    lc = getattr(node, "lc", None)
    try:
        if isinstance(node, dict) and lc is not None:
            line, col = lc.key(key) if at_key else lc.value(key)
            return line + 1, col + 1
        if isinstance(node, list) and lc is not None:
            line, col = lc.item(key)
            return line + 1, col + 1
    except (KeyError, TypeError, AttributeError, IndexError):
        pass
    if lc is not None and getattr(lc, "line", None) is not None:
        return lc.line + 1, lc.col + 1
    return 1, 1


def _dates(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    day = first
    while day <= last:
        yield day
        day += _ONE


class _Checker:
    """Walks the parsed notice once, collecting every problem."""

    def __init__(self, name: str, data: Any) -> None:
        self.name = name
        self.data = data
        self.problems: list[Problem] = []
        self.year: int | None = None

    def problem(self, node: Any, key: Any, message: str, hint: str | None = None, *, at_key: bool = False) -> None:
        line, col = _pos(node, key, at_key=at_key)
        self.problems.append(Problem(self.name, line, col, message, hint=hint))

    def unknown_keys(self, node: dict[Any, Any], allowed: tuple[str, ...], where: str) -> None:
        for key in node:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = render("did you mean {key!r}?", {"key": close[0]}) if close else render(
                    "the keys are {keys}", {"keys": ", ".join(allowed)})
                details = {"key": str(key)}
                message = render("unknown key {key!r} in the notice", details) if where == "notice" else render(
                    "unknown key {key!r} in a holiday", details)
                self.problem(node, key, message, hint, at_key=True)

    def date(self, node: Any, key: Any, what: str) -> dt.date | None:
        """The date at ``node[key]``, checked to lie in the notice's year (``None`` after a problem)."""
        value = node[key]
        day: dt.date | None = None
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            day = dt.date(value.year, value.month, value.day)
        elif isinstance(value, str):
            try:
                day = dt.date.fromisoformat(value.strip()) if len(value.strip()) == 10 else None
            except ValueError:
                day = None
        if day is None:
            self.problem(node, key, render("{what}: {value!r} is not a date", {"what": what, "value": str(value)}),
                         render("write it as YYYY-MM-DD, e.g. 2026-10-01", {}))
            return None
        if self.year is not None and day.year != self.year:
            self.problem(node, key, render("{what}: {day} is not in {year}",
                                           {"what": what, "day": day.isoformat(), "year": self.year}),
                         render("a notice gives the dates of its own year; set a date of another year with "
                                "`casecraft calendar set DATE workday|holiday`", {}))
            return None
        return day

    def run(self) -> Notice | None:
        data = self.data
        if not isinstance(data, dict):
            self.problems.append(Problem(self.name, 1, 1,
                                         render("the notice must be a mapping with year and holidays", {}),
                                         hint=render("see docs/calendar.md for an example", {})))
            return None
        self.unknown_keys(data, _TOP_KEYS, "notice")
        year = data.get("year")
        if "year" not in data:
            self.problems.append(Problem(self.name, 1, 1, render("the key 'year' is missing", {}),
                                         hint=render("e.g. year: 2027", {})))
        elif isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 9999:
            self.problem(data, "year", render("year: {value!r} is not a year", {"value": str(year)}),
                         render("e.g. year: 2027", {}))
        else:
            self.year = year
        title = data.get("title", "")
        if title is None:
            title = ""
        if not isinstance(title, str):
            self.problem(data, "title", render("title: write the notice's title as text", {}))
            title = ""
        holidays = self.holidays(data)
        if self.problems or self.year is None:
            return None
        return _build(self.year, title.strip(), holidays)

    def holidays(self, data: dict[Any, Any]) -> list[NoticeHoliday]:
        items = data.get("holidays")
        if "holidays" not in data:
            self.problems.append(Problem(self.name, 1, 1, render("the key 'holidays' is missing", {}),
                                         hint=render("list the notice's holidays under holidays:", {})))
            return []
        if not isinstance(items, list) or not items:
            self.problem(data, "holidays", render("holidays: give a list of the notice's holidays", {}),
                         render("each item: name, then date or from/to, and makeup_workdays if any", {}))
            return []
        out: list[NoticeHoliday] = []
        names: dict[str, int] = {}
        rest: dict[dt.date, str] = {}  # rest day -> holiday name
        work: dict[dt.date, tuple[str, Any]] = {}  # make-up working day -> holiday name, its item
        for i, item in enumerate(items):
            holiday = self.holiday(items, i, item, names)
            if holiday is None:
                continue
            where = ("from", "date", "to")
            key = next((k for k in where if k in item), "name")
            for day in holiday.days:
                if day in rest:
                    self.problem(item, key, render("{day} is a holiday twice: in {first} and {second}",
                                                   {"day": day.isoformat(), "first": rest[day],
                                                    "second": holiday.name}),
                                 render("give each date to one holiday", {}))
                rest.setdefault(day, holiday.name)
            for day in holiday.makeup_workdays:
                if day in work:
                    self.problem(item, "makeup_workdays", render(
                        "make-up working day {day} is listed twice: in {first} and {second}",
                        {"day": day.isoformat(), "first": work[day][0], "second": holiday.name}))
                work.setdefault(day, (holiday.name, item))
            out.append(holiday)
        for day in sorted(set(rest) & set(work)):
            name, item = work[day]
            self.problem(item, "makeup_workdays", render(
                "{day} is both a holiday ({holiday}) and a make-up working day ({makeup})",
                {"day": day.isoformat(), "holiday": rest[day], "makeup": name}),
                render("a date is either off or worked", {}))
        return out

    def holiday(self, items: list[Any], i: int, item: Any, names: dict[str, int]) -> NoticeHoliday | None:
        if not isinstance(item, dict):
            self.problem(items, i, render("each holiday is a mapping: name, then date or from/to", {}),
                         render("e.g. - name: 端午节\n      date: 2027-06-09", {}))
            return None
        self.unknown_keys(item, _HOLIDAY_KEYS, "holiday")
        name = item.get("name")
        label: str = render("holiday {number}", {"number": i + 1})
        if not isinstance(name, str) or not name.strip():
            self.problem(item, "name" if "name" in item else 0,
                         render("{label}: give its name, e.g. name: 春节", {"label": label}))
            name = None
        elif len(name.strip()) > NAME_MAX:
            self.problem(item, "name", render("{label}: the name has {length} characters; at most {max}",
                                              {"label": label, "length": len(name.strip()), "max": NAME_MAX}))
            name = None
        elif any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name.strip()):
            # control, zero-width and bidi characters would be printed to operators' terminals as written
            self.problem(item, "name", render("{label}: the name contains invisible or control characters",
                                              {"label": label}),
                         render("write the name as plain text, e.g. name: 春节", {}))
            name = None
        else:
            name = name.strip()
            label = name
            if name in names:
                self.problem(item, "name", render("holiday {name} is listed twice (also item {item})",
                                                  {"name": name, "item": names[name]}),
                             render("give each holiday once, with all its dates", {}))
            names.setdefault(name, i + 1)
        # what is valid is kept even after a problem, so the checks across holidays still run
        return NoticeHoliday(str(name or label), tuple(self.span(item, label) or ()),
                             tuple(self.makeup(item, label)))

    def span(self, item: dict[Any, Any], label: str) -> list[dt.date] | None:
        has = {k: k in item for k in ("date", "from", "to")}
        if has["date"] and (has["from"] or has["to"]):
            self.problem(item, "date", render("{label}: give either date or from/to, not both", {"label": label}),
                         at_key=True)
            return None
        if has["date"]:
            day = self.date(item, "date", render("{label} date", {"label": label}))
            return [day] if day else None
        if not (has["from"] and has["to"]):
            missing = render("{label}: to is missing", {"label": label}) if has["from"] else render(
                "{label}: from is missing", {"label": label}) if has["to"] else render(
                "{label}: date (or from/to) is missing", {"label": label})
            self.problem(item, "from" if has["from"] else "to" if has["to"] else "name", missing,
                         render("a single day: date: YYYY-MM-DD; several: from: and to:", {}), at_key=True)
            return None
        first = self.date(item, "from", render("{label} from", {"label": label}))
        last = self.date(item, "to", render("{label} to", {"label": label}))
        if first is None or last is None:
            return None
        if last < first:
            self.problem(item, "to", render("{label}: to {last} is before from {first}",
                                            {"label": label, "last": last.isoformat(), "first": first.isoformat()}))
            return None
        if (last - first).days + 1 > MAX_SPAN:
            self.problem(item, "to", render("{label}: {days} days from {first} to {last}; a holiday is at most {max}",
                                            {"label": label, "days": (last - first).days + 1,
                                             "first": first.isoformat(), "last": last.isoformat(), "max": MAX_SPAN}),
                         render("check the dates", {}))
            return None
        return list(_dates(first, last))

    def makeup(self, item: dict[Any, Any], label: str) -> list[dt.date]:
        if "makeup_workdays" not in item:
            return []
        raw = item["makeup_workdays"]
        if raw is None or raw == []:
            return []
        # a list of dates, or one date written alone
        node, keys = (raw, list(range(len(raw)))) if isinstance(raw, list) else (item, ["makeup_workdays"])
        out: list[dt.date] = []
        for key in keys:
            day = self.date(node, key, render("{label} make-up working day", {"label": label}))
            if day is None:
                continue
            if day.weekday() < 5:
                self.problem(node, key, render("{label}: make-up working day {day} is a {weekday}, not a weekend",
                                               {"label": label, "day": day.isoformat(),
                                                "weekday": render(_WEEKDAYS[day.weekday()], {})}),
                             render("a make-up working day (调休上班) is a Saturday or Sunday worked", {}))
            elif day in out:
                self.problem(node, key, render("{label}: make-up working day {day} is listed twice",
                                               {"label": label, "day": day.isoformat()}))
            else:
                out.append(day)
        return sorted(out)


def _build(year: int, title: str, holidays: list[NoticeHoliday]) -> Notice:
    rest = {d: h.name for h in holidays for d in h.days}
    work = {d for h in holidays for d in h.makeup_workdays}
    rows: list[DayRow] = []
    for day in _dates(dt.date(year, 1, 1), dt.date(year, 12, 31)):
        if day in rest:
            rows.append(DayRow(day, False, NOTICE_SOURCE, rest[day]))
        elif day in work:
            rows.append(DayRow(day, True, NOTICE_SOURCE, MAKEUP_NOTE))
        else:
            rows.append(DayRow(day, day.weekday() < 5, NOTICE_SOURCE, ""))
    return Notice(year, title, tuple(holidays), tuple(rows), _warnings(year, rest))


def _warnings(year: int, rest: dict[dt.date, str]) -> tuple[str, ...]:
    """The statutory holidays the notice does not give off: usually a date typed wrong."""
    from casecraft.timing.provisional import covered_years, statutory_holidays

    if year not in covered_years():
        return ()
    return tuple(render("{day} is {name} by the rules on public holidays but not a holiday in the notice; "
                        "check its dates", {"day": day.isoformat(), "name": name})
                 for day, name in statutory_holidays(year).items() if day not in rest)


__all__ = ["MAKEUP_NOTE", "NOTICE_SOURCE", "Notice", "NoticeHoliday", "parse_notice", "parse_notice_text"]
