"""Calendar dates typed by an admin: one date, one status, a CSV of dates (``date,status[,note]``).

Parsing only; the store writes what these return.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from casecraft.base.errors import N_, InputError, render
from casecraft.base.text import refused_chars

_STATUS = {
    "workday": True, "工作日": True,
    "holiday": False, "休息日": False, "节假日": False,
}
STATUS_HELP = N_("workday or holiday (also 工作日 / 休息日 / 节假日)")
NOTE_MAX = 100  # the width of calendar_days.note


def parse_status(text: str) -> bool:
    """``True`` for a workday, ``False`` for a holiday or rest day.

    Raises:
        InputError: if ``text`` is none of ``workday``, ``holiday``, ``工作日``, ``休息日``, ``节假日``.
    """
    value = _STATUS.get(str(text).strip().lower())
    if value is None:
        raise InputError("bad day status {status!r}: write {choices}", status=str(text),
                         choices=render(STATUS_HELP, {}))
    return value


def parse_day(text: str) -> date:
    """A date written ``YYYY-MM-DD``.

    Raises:
        InputError: if ``text`` is not such a date.
    """
    try:
        return _iso_date(text)
    except ValueError as exc:
        raise InputError("bad date {date!r}: {reason}", date=str(text), reason=_reason(exc)) from None


def _iso_date(text: str) -> date:
    s = str(text).strip()
    if len(s) != 10 or s[4] != "-" or s[7] != "-":
        raise ValueError(render("write the date as YYYY-MM-DD, e.g. 2026-10-01", {}))
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise ValueError(render("no such date; write YYYY-MM-DD, e.g. 2026-10-01", {})) from None


def _reason(exc: ValueError) -> str:
    """The reason :func:`_iso_date` gave (a rendered message, so the edges translate it)."""
    return exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)


# the columns and parts of a calendar CSV file, as a bad row names them
FIELDS = {"header": N_("header"), "row": N_("row"), "date": N_("date"), "status": N_("status"), "note": N_("note"),
          "file": N_("file")}


@dataclass(frozen=True)
class RowProblem:
    """One bad row of a calendar CSV file (rows counted from 1, the header being row 1).

    ``reason`` is ``template`` formatted with ``details`` (kept for translation, as errors keep theirs).
    """

    row: int
    field: str
    reason: str
    template: str = ""
    details: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, row: int, fld: str, template: str, /, **details: Any) -> RowProblem:
        """A problem whose reason is ``template`` formatted with ``details``."""
        return cls(row, fld, render(template, details), template, tuple(details.items()))

    def __str__(self) -> str:
        name = FIELDS.get(self.field)
        return render("row {row}, {field}: {reason}", {"row": self.row, "reason": self.reason,
                                                        "field": render(name, {}) if name else self.field})


_HEADER = ("date", "status", "note")


def read_days_file(path: str | Path) -> str:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InputError("no such file {file!r}", file=str(p)) from None
    except IsADirectoryError:
        raise InputError("{file!r} is a folder; give a CSV file", file=str(p)) from None
    except OSError as exc:
        raise InputError("cannot read {file!r}: {reason}", file=str(p), reason=str(exc.strerror or exc)) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            "{file!r} is not UTF-8 text (byte {byte}); save it as CSV UTF-8 (in Excel: Save As > CSV UTF-8)",
            file=str(p), byte=exc.start + 1) from None


def parse_calendar_csv(text: str) -> tuple[list[tuple[date, bool, str | None]], list[RowProblem]]:
    """Check a whole calendar CSV: the rows it gives and every problem found (nothing raised)."""
    records = list(csv.reader(io.StringIO(text, newline="")))
    problems: list[RowProblem] = []
    out: list[tuple[date, bool, str | None]] = []
    header_at = next((i for i, r in enumerate(records) if any(c.strip() for c in r)), None)
    if header_at is None:
        return [], [RowProblem.of(1, "header", "the file is empty; the first line must be date,status[,note]")]
    header = tuple(c.strip().lower() for c in records[header_at])
    header_row = header_at + 1
    if header not in (_HEADER[:2], _HEADER):
        problems.append(RowProblem.of(header_row, "header",
                                      "found {found!r}; the first line must be date,status or date,status,note",
                                      found=",".join(records[header_at])))
        return [], problems
    width = len(header)
    seen: dict[date, int] = {}
    for i, rec in enumerate(records[header_at + 1:], start=header_at + 2):
        if not any(c.strip() for c in rec):
            continue  # blank line
        if len(rec) > width:
            extra = ",".join(rec[width:])
            problems.append(RowProblem.of(i, "row", "{count} fields, expected at most {width} "
                                                    "(extra {extra!r}; quote a note that contains commas)",
                                          count=len(rec), width=width, extra=extra))
        if len(rec) < 2:
            problems.append(RowProblem.of(i, "status", "missing; write {choices}", choices=render(STATUS_HELP, {})))
        day: date | None = None
        raw_day = rec[0] if rec else ""
        try:
            day = _iso_date(raw_day)
        except ValueError as exc:
            problems.append(RowProblem.of(i, "date", "{value!r}: {reason}", value=raw_day.strip(), reason=_reason(exc)))
        if day is not None:
            if day in seen:
                problems.append(RowProblem.of(i, "date", "{day} is also on row {first}", day=day.isoformat(),
                                              first=seen[day]))
            else:
                seen[day] = i
        status: bool | None = None
        if len(rec) >= 2:
            status = _STATUS.get(rec[1].strip().lower())
            if status is None:
                problems.append(RowProblem.of(i, "status", "{value!r}: write {choices}", value=rec[1].strip(),
                                              choices=render(STATUS_HELP, {})))
        note = rec[2].strip() if width == 3 and len(rec) >= 3 else ""
        if len(note) > NOTE_MAX:
            problems.append(RowProblem.of(i, "note", "{length} characters; at most {max} fit", length=len(note),
                                          max=NOTE_MAX))
        bad = refused_chars(note)
        if bad:  # the one policy for typed text (casecraft.base.text)
            problems.append(RowProblem.of(i, "note", "invisible or control characters ({chars}); remove them",
                                          chars=", ".join(bad[:5])))
        if day is not None and status is not None:
            out.append((day, status, note or None))
    if not out and not problems:
        problems.append(RowProblem.of(header_row, "file", "no dates after the header"))
    return out, problems


