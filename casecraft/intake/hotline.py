"""Hotline work orders (12345 citizen hotline, 96005 environment hotline) as CSV or JSON Lines.

Pure parsing and row checks; no database. :meth:`casecraft.engine.Engine.import_hotline`
adds the checks that need the organisation (grid, address, the operator's street)
and writes the cases.

The columns (CSV header names, or JSON keys; Chinese header names are accepted too):

=============  ========================================================================
ticket         the hotline's ticket number (工单号); the idempotency key, ≤ 64 characters
channel        12345 or 96005 (渠道)
received_at    when the hotline received it, ISO 8601; without an offset, Beijing time (受理时间)
address        the address the caller gave (地址)
grid           the 15-digit grid code (网格编码); address and/or grid, the grid wins
category       the event catalogue code, e.g. 0102 (事件类别); see ``casecraft workflow show``
description    what the caller reported (问题描述)
contact        the caller's contact, optional (联系方式)
=============  ========================================================================

Other columns are ignored, so a reject file (the rows plus ``rejected_row``,
``rejected_field``, ``rejected_reason``) can be fixed and imported again.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from casecraft.base.errors import InputError

COLUMNS = ("ticket", "channel", "received_at", "address", "grid", "category", "description", "contact")
REQUIRED = ("ticket", "channel", "received_at", "category", "description")
CHANNELS = ("12345", "96005")
ALIASES = {
    "工单号": "ticket", "工单编号": "ticket", "渠道": "channel", "来源渠道": "channel", "受理时间": "received_at",
    "地址": "address", "事发地址": "address", "网格编码": "grid", "网格": "grid", "事件类别": "category",
    "类别编码": "category", "问题描述": "description", "诉求内容": "description", "联系方式": "contact",
    "来电人联系方式": "contact",
}
REJECT_COLUMNS = ("rejected_row", "rejected_field", "rejected_reason")
LIMITS = {"ticket": 64, "address": 500, "description": 2000, "contact": 200}
CLOCK_SKEW = timedelta(minutes=10)  # the hotline's clock may run a little ahead of ours
_TICKET = re.compile(r"[^\s\x00-\x1f]+")
_GRID = re.compile(r"\d{15}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")  # control characters other than tab and newline


@dataclass(frozen=True)
class RowProblem:
    """A bad row: its row number (the line in the file where it starts), the field and why."""

    row: int
    field: str
    reason: str
    ticket: str | None = None

    def __str__(self) -> str:
        return f"row {self.row}, {self.field}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "reason": self.reason, "ticket": self.ticket}


@dataclass
class Ticket:
    """One checked work order (times in UTC); ``grid`` may be filled in from the address later."""

    row: int
    ticket: str
    channel: str
    received_at: datetime
    address: str | None
    grid: str | None
    category: str
    description: str
    contact: str | None


@dataclass
class ParsedFile:
    """A parsed file: its good tickets, its problems, and the raw rows (for the reject file)."""

    path: Path
    format: str
    header: list[str] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    raw: dict[int, Any] = field(default_factory=dict)
    rows: int = 0


def decode_utf8(data: bytes, name: str) -> str:
    """The text of a UTF-8 file (a BOM is allowed); any other encoding is refused, named.

    Raises:
        InputError: the bytes are not UTF-8 (the message says what they look like and how to convert).
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{name} is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8 "
                         f"(e.g. `iconv -f UTF-16 -t UTF-8 {name} > fixed.csv`)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        looks = ""
        try:
            data.decode("gb18030")
            looks = "; it decodes as GBK/GB18030 (a Chinese Windows export)"
        except UnicodeDecodeError:
            pass
        raise InputError(
            f"{name} is not UTF-8: invalid byte 0x{data[exc.start]:02x} at line {line} (offset {exc.start})"
            f"{looks}. Convert it to UTF-8 first, e.g. `iconv -f GB18030 -t UTF-8 {name} > fixed.csv`",
            encoding_error=True) from None


def detect_format(path: Path, text: str, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in ("csv", "jsonl"):
            raise InputError(f"unknown format '{fmt}'; use csv or jsonl")
        return fmt
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    return "jsonl" if text.lstrip().startswith("{") else "csv"


def _records(text: str, fmt: str, parsed: ParsedFile) -> Iterable[tuple[int, dict[str, Any] | None, str | None]]:
    """(row number, fields by column name or None, a reason the row cannot be read)."""
    if fmt == "jsonl":
        for no, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            parsed.raw[no] = line
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield no, None, f"not valid JSON: {exc.msg} at column {exc.colno}"
                continue
            if not isinstance(obj, dict):
                yield no, None, "each line must be one JSON object"
                continue
            parsed.raw[no] = obj
            yield no, {ALIASES.get(str(k).strip(), str(k).strip().lower()): v for k, v in obj.items()}, None
        return
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or not any(h.strip() for h in header):
        raise InputError(f"{parsed.path} is empty; the first line is the header: {','.join(COLUMNS)}")
    parsed.header = header
    names = [ALIASES.get(h.strip(), h.strip().lower()) for h in header]
    missing = [c for c in REQUIRED if c not in names] + (
        [] if "address" in names or "grid" in names else ["address or grid"])
    if missing:
        raise InputError(f"{parsed.path}: the header lacks {', '.join(missing)}; the columns are "
                         f"{','.join(COLUMNS)} (contact optional; address and/or grid)")
    dupes = sorted({n for n in names if names.count(n) > 1 and n in COLUMNS})
    if dupes:
        raise InputError(f"{parsed.path}: the header names {', '.join(dupes)} more than once")
    last = reader.line_num
    for cells in reader:
        start, last = last + 1, reader.line_num
        if not any(c.strip() for c in cells):
            continue
        parsed.raw[start] = cells
        if len(cells) > len(names):
            yield start, None, f"has {len(cells)} fields, the header has {len(names)} (a stray comma? quote the text)"
            continue
        yield start, dict(zip(names, cells, strict=False)), None


def _text(row: Mapping[str, Any], name: str, problems: list[tuple[str, str]]) -> str | None:
    value = row.get(name)
    if value is None:
        return None
    if type(value) is not str:  # JSON Lines: a number is fine (channel 12345), anything else is not
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append((name, f"must be text, got {type(value).__name__}"))
            return None
        value = str(value)
    value = value.strip()
    if not value:
        return None
    limit = LIMITS.get(name)
    if limit is not None and len(value) > limit:
        problems.append((name, f"is {len(value)} characters; at most {limit} are allowed"))
        return None
    if _CONTROL.search(value):
        problems.append((name, "contains control characters"))
        return None
    return value


def check_row(no: int, row: Mapping[str, Any], categories: Mapping[str, Any], now: datetime,
              timezone: str) -> tuple[Ticket | None, list[RowProblem]]:
    """Check one row's fields on their own (no database): a ticket, or its problems."""
    from casecraft.base.clock import parse_time
    from casecraft.workflows.validate import did_you_mean

    bad: list[tuple[str, str]] = []
    v = {name: _text(row, name, bad) for name in COLUMNS}
    for name in REQUIRED:
        if v[name] is None and not any(f == name for f, _ in bad):
            bad.append((name, "is required"))
    ticket = v["ticket"]
    if ticket is not None and not _TICKET.fullmatch(ticket):
        bad.append(("ticket", f"{ticket!r} must not contain spaces"))
    if v["channel"] is not None and v["channel"] not in CHANNELS:
        bad.append(("channel", f"'{v['channel']}' is not a hotline channel; use 12345 or 96005"))
    received = None
    if v["received_at"] is not None:
        try:
            received = parse_time(v["received_at"], timezone)
        except InputError as exc:
            bad.append(("received_at", exc.message))
        else:
            if received > now + CLOCK_SKEW:
                bad.append(("received_at", f"{v['received_at']} is after the import time"))
    if v["grid"] is not None and not _GRID.fullmatch(v["grid"]):
        bad.append(("grid", f"'{v['grid']}' is not a grid code (15 digits)"))
    if v["grid"] is None and v["address"] is None and not any(f in ("grid", "address") for f, _ in bad):
        bad.append(("address", "give the address or the grid code"))
    cat = v["category"]
    if cat is not None and cat not in categories:
        hint = did_you_mean(cat, categories)
        bad.append(("category", f"unknown category '{cat}'" + (f"; {hint}" if hint else "")
                    + "; see `casecraft workflow show`"))
    if bad:
        return None, [RowProblem(no, f, r, ticket) for f, r in bad]
    assert ticket and v["channel"] and received and cat and v["description"]
    return Ticket(no, ticket, v["channel"], received, v["address"], v["grid"], cat, v["description"],
                  v["contact"]), []


def read_tickets(path: str | Path, *, categories: Mapping[str, Any], now: datetime, timezone: str,
                 fmt: str | None = None) -> ParsedFile:
    """Read and check a work-order file; every bad row is reported, nothing is raised for rows.

    Raises:
        InputError: the file cannot be read, is not UTF-8, or its header lacks a column.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {p}: {exc.strerror or exc}") from None
    text = decode_utf8(data, str(p))
    kind = detect_format(p, text, fmt)
    parsed = ParsedFile(path=p, format=kind)
    first: dict[str, list[int]] = {}
    for no, row, why in _records(text, kind, parsed):
        parsed.rows += 1
        if row is None:
            parsed.problems.append(RowProblem(no, "-", why or "unreadable"))
            continue
        raw_ticket = row.get("ticket")
        if isinstance(raw_ticket, str | int) and str(raw_ticket).strip():
            first.setdefault(str(raw_ticket).strip(), []).append(no)
        ticket, problems = check_row(no, row, categories, now, timezone)
        parsed.problems.extend(problems)
        if ticket is not None:
            parsed.tickets.append(ticket)
    repeated = {t: rows for t, rows in first.items() if len(rows) > 1}
    if repeated:
        for t, rows in repeated.items():
            listed = ", ".join(str(r) for r in rows)
            for r in rows:
                parsed.problems.append(RowProblem(r, "ticket", f"ticket {t} appears {len(rows)} times in the "
                                                  f"file (rows {listed}); keep one", t))
        parsed.tickets = [t for t in parsed.tickets if t.ticket not in repeated]
    parsed.problems.sort(key=lambda p: p.row)
    return parsed


def default_rejects_path(path: Path, fmt: str) -> Path:
    """Beside the input: ``orders.csv`` → ``orders.rejects.csv``."""
    return path.with_name(f"{path.stem}.rejects.{'csv' if fmt == 'csv' else 'jsonl'}")


def write_rejects(parsed: ParsedFile, problems: list[RowProblem], dest: Path) -> int:
    """Write the bad rows, as they were plus why, to ``dest``. Returns the number of rows written."""
    by_row: dict[int, list[RowProblem]] = {}
    for p in problems:
        by_row.setdefault(p.row, []).append(p)
    try:
        if parsed.format == "csv":
            with dest.open("w", encoding="utf-8-sig", newline="") as fh:
                w = csv.writer(fh)
                w.writerow([*parsed.header, *REJECT_COLUMNS])
                for row, items in sorted(by_row.items()):
                    cells = list(parsed.raw.get(row, []))
                    cells += [""] * (len(parsed.header) - len(cells))
                    w.writerow([*cells, row, ";".join(dict.fromkeys(i.field for i in items)),
                                "; ".join(i.reason for i in items)])
        else:
            with dest.open("w", encoding="utf-8") as fh:
                for row, items in sorted(by_row.items()):
                    raw = parsed.raw.get(row)
                    obj = dict(raw) if isinstance(raw, dict) else {"raw_line": raw}
                    obj.update({"rejected_row": row, "rejected_field": ";".join(dict.fromkeys(i.field for i in items)),
                                "rejected_reason": "; ".join(i.reason for i in items)})
                    fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise InputError(f"cannot write the reject file {dest}: {exc.strerror or exc}") from None
    return len(by_row)
