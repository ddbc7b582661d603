"""Hotline work orders (12345 citizen hotline, 96005 environment hotline) as CSV or JSON Lines, streamed.

Pure parsing and row checks; no casecraft database. The engine adds the checks
that need the organisation (grid, address, the operator's street) and writes the
cases. Memory stays flat whatever the file size: the file is read a row at a
time (:meth:`HotlineSource.validate`), and what must outlive a row (ticket numbers,
to find duplicates; the problems) goes to a private on-disk SQLite index that
:class:`Validation` removes on close. The good rows are then read again
(:meth:`Validation.iter_batches`), or, if the checking pass kept them as checked
in a private file beside the index, read from there (:meth:`Validation.iter_kept`:
what the engine imports).

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

import codecs
import csv
import functools
import json
import marshal
import os
import re
import shutil
import sqlite3
import stat
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby
from pathlib import Path
from typing import IO, Any, NamedTuple

from casecraft.base.clock import parse_time
from casecraft.base.errors import N_, InputError, render

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
MiB = 1024 * 1024
_TICKET = re.compile(r"[^\s\x00-\x1f]+")
_GRID = re.compile(r"\d{15}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")  # control characters other than tab and newline
_PREFIX = 64 * 1024  # bytes read to tell the encoding and the format


@dataclass(frozen=True)
class Limits:
    """Caps on one work-order file; each refusal says which cap and how to get under it.

    Attributes:
        max_bytes: the file's size (default 512 MiB, some 3 million typical rows).
        max_rows: rows, blank lines not counted (default 2,000,000).
        max_row_bytes: one row (a CSV record, several lines if quoted, or a JSON line); a longer row
            is a bad row, skipped without being held in memory (default 4 MiB, 2,000 times the
            longest legal description).
        max_listed: problems listed in :attr:`Validation.problems`, the first by row; all are counted
            and all go to the reject file (default 1,000).
    """

    max_bytes: int = 512 * MiB
    max_rows: int = 2_000_000
    max_row_bytes: int = 4 * MiB
    max_listed: int = 1000


ROW_LINE = N_("row {row}, {field}: {reason}")  # one bad row, as files' refusals list them


@dataclass(frozen=True)
class RowProblem:
    """A bad row: its row number (the line in the file where it starts), the field and why.

    ``reason`` is ``template`` formatted with ``details`` (kept for translation, as errors keep theirs).
    """

    row: int
    field: str
    reason: str
    ticket: str | None = None
    template: str = ""
    details: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, row: int, fld: str, template: str, ticket: str | None = None, /, **details: Any) -> RowProblem:
        """A problem whose reason is ``template`` formatted with ``details``."""
        return cls(row, fld, render(template, details), ticket, template, tuple(details.items()))

    def __str__(self) -> str:
        return render(ROW_LINE, {"row": self.row, "field": self.field, "reason": self.reason})

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


class Record(NamedTuple):
    """One row as read: its fields by column name, or ``None`` and why it cannot be read.

    ``raw`` is the row as it was, for the reject file: CSV cells, the JSON object, the JSON line,
    or ``None`` for a row too long to hold. (A named tuple: made for every row of every pass, it costs
    a third of a frozen dataclass.)
    """

    row: int
    fields: dict[str, Any] | None
    raw: Any
    problem: RowProblem | None = None


# --------------------------------------------------------------------------- encodings


def _not_utf8(name: str, data: bytes, pos: int, line: int, offset: int) -> InputError:
    gbk = True
    try:
        data[:data.rfind(b"\n", 0, pos + 64 * 1024) + 1 or None].decode("gb18030")
    except UnicodeDecodeError:
        gbk = False
    details: dict[str, Any] = {"file": name, "byte": f"{data[pos]:02x}", "line": line, "offset": offset,
                               "encoding_error": True}
    if gbk:
        return InputError("{file} is not UTF-8: invalid byte 0x{byte} at line {line} (offset {offset}); it decodes "
                          "as GBK/GB18030 (a Chinese Windows export). Convert it to UTF-8 first, e.g. "
                          "`iconv -f GB18030 -t UTF-8 {file} > fixed.csv`", **details)
    return InputError("{file} is not UTF-8: invalid byte 0x{byte} at line {line} (offset {offset}). Convert it to "
                      "UTF-8 first, e.g. `iconv -f GB18030 -t UTF-8 {file} > fixed.csv`", **details)


def _check_prefix(data: bytes, name: str, final: bool) -> str:
    """The text of the file's first bytes (BOM removed); UTF-16 and non-UTF-8 files are refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError("{file} is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8 "
                         "(e.g. `iconv -f UTF-16 -t UTF-8 {file} > fixed.csv`)", file=name, encoding_error=True)
    if len(data) >= 16 and data.count(b"\x00") * 4 >= len(data):  # ASCII in UTF-16 without a BOM
        raise InputError("{file} looks like UTF-16 (every other byte is zero); save it as UTF-8 "
                         "(e.g. `iconv -f UTF-16LE -t UTF-8 {file} > fixed.csv`)", file=name, encoding_error=True)
    try:
        return codecs.getincrementaldecoder("utf-8-sig")().decode(data, final)
    except UnicodeDecodeError as exc:
        raise _not_utf8(name, data, exc.start, data.count(b"\n", 0, exc.start) + 1, exc.start) from None


def decode_utf8(data: bytes, name: str) -> str:
    """The text of a UTF-8 file (a BOM is allowed); any other encoding is refused, named.

    Raises:
        InputError: the bytes are not UTF-8 (the message says what they look like and how to convert).
    """
    return _check_prefix(data, name, True)


def detect_format(path: Path, text: str, fmt: str | None) -> str:
    """``csv`` or ``jsonl``: ``fmt`` if given, else by the suffix, else by the first character of ``text``."""
    if fmt is not None:
        if fmt not in ("csv", "jsonl"):
            raise InputError("unknown format '{fmt}'; use csv or jsonl", fmt=fmt)
        return fmt
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    return "jsonl" if text.lstrip().startswith("{") else "csv"


# --------------------------------------------------------------------------- reading


class _TooLong(Exception):
    """A row is longer than ``Limits.max_row_bytes``."""


class _Lines:
    """The file's physical lines, decoded; raises :class:`_TooLong` once a row would pass its byte budget.

    An iterator object, not a generator, so it stays usable after raising; the csv reader pulls from it.
    """

    def __init__(self, fh: IO[bytes], name: str, budget: int, start: int) -> None:
        self.fh, self.name, self.limit = fh, name, budget
        self.line = 0  # the number of the last line returned
        self.offset = start  # the byte offset after it
        self.left = budget
        self.cut = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        data = self.fh.readline(self.left + 1)
        if not data:
            raise StopIteration
        if len(data) > self.left:
            self.cut = data[-1:] != b"\n"  # the line goes on
            raise _TooLong
        self.left -= len(data)
        self.line += 1
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _not_utf8(self.name, data, exc.start, self.line, self.offset + exc.start) from None
        self.offset += len(data)
        return text

    def new_row(self) -> None:
        self.left = self.limit

    def skip_to(self, offset: int, line: int) -> None:
        """Go on after an unread row: at byte ``offset``, its last line being ``line``."""
        self.fh.seek(offset)
        self.offset, self.line = offset, line


_CSV_STOP = re.compile(rb"[,\n]")


def _csv_record_end(fh: IO[bytes], start: int) -> tuple[int, int]:
    """The offset after the CSV record that starts at ``start``, and how many lines it spans.

    The csv module's rules for its default dialect (a quote opens a quoted field only at the start
    of a field; ``""`` inside one is a quote), read 1 MiB at a time so a huge row costs no memory.
    """
    fh.seek(start)
    pos, lines, quoted, in_field = start, 0, False, False
    while chunk := fh.read(MiB):
        i, n = 0, len(chunk)
        while i < n:
            if quoted:
                j = chunk.find(b'"', i)
                j = n if j < 0 else j
                lines += chunk.count(b"\n", i, j)
                quoted, in_field, i = j == n, False, j + 1  # after the closing quote: a quote reopens
            elif not in_field and chunk[i] == 0x22:
                quoted, i = True, i + 1
            else:
                m = _CSV_STOP.search(chunk, i)
                if m is None:
                    in_field, i = True, n
                elif m[0] == b",":
                    in_field, i = False, m.end()
                else:
                    return pos + m.end(), lines + 1
        pos += n
    return pos, lines


class HotlineSource:
    """An open work-order file, read lazily; each :meth:`records` call is a new pass from the start.

    Make one with :func:`open_hotline`; close it (or use ``with``) when done.
    """

    def __init__(self, path: Path, fh: IO[bytes], fmt: str, limits: Limits, bom: int) -> None:
        self.path, self.format, self.limits = path, fmt, limits
        self.header: list[str] = []
        self.names: list[str] = []  # the columns the last CSV pass read the rows by
        self._fh, self._bom, self._reading = fh, bom, False
        st = os.fstat(fh.fileno())
        self._stamp = (st.st_size, st.st_mtime_ns)
        if fmt == "csv":
            self.header = self._read_header(self._lines())[0]

    @property
    def name(self) -> str:
        return str(self.path)

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> HotlineSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _lines(self) -> _Lines:
        st = os.fstat(self._fh.fileno())
        if (st.st_size, st.st_mtime_ns) != self._stamp:
            raise InputError("{file} changed while it was being read; import it again", file=self.name)
        self._fh.seek(self._bom)
        return _Lines(self._fh, self.name, self.limits.max_row_bytes, self._bom)

    def _read_header(self, lines: _Lines) -> tuple[list[str], list[str], Iterator[list[str]]]:
        reader = csv.reader(lines)
        try:
            header = next(reader, None)
        except _TooLong:
            raise InputError("{file}: the header line is longer than {limit} bytes; is this a work-order file?",
                             file=self.name, limit=self.limits.max_row_bytes) from None
        except csv.Error as exc:
            raise InputError("{file}: the header line cannot be read as CSV ({error})", file=self.name,
                             error=str(exc)) from None
        if header is None or not any(h.strip() for h in header):
            raise InputError("{file} is empty; the first line is the header: {columns}", file=self.name,
                             columns=",".join(COLUMNS))
        names = [ALIASES.get(h.strip(), h.strip().lower()) for h in header]
        missing = [c for c in REQUIRED if c not in names] + (
            [] if "address" in names or "grid" in names else ["address or grid"])
        if missing:
            raise InputError("{file}: the header lacks {missing}; the columns are {columns} (contact optional; "
                             "address and/or grid)", file=self.name, missing=", ".join(missing),
                             columns=",".join(COLUMNS))
        dupes = sorted({n for n in names if names.count(n) > 1 and n in COLUMNS})
        if dupes:
            raise InputError("{file}: the header names {names} more than once", file=self.name,
                             names=", ".join(dupes))
        return header, names, reader

    def records(self) -> Iterator[Record]:
        """Every row that is not blank, in file order, read one at a time; one pass at a time.

        Raises:
            InputError: the file is not UTF-8 further on, has more than ``max_rows`` rows, or changed.
        """
        if self._reading:  # the passes share one file position
            raise RuntimeError("one pass over a hotline file at a time")
        self._reading = True
        try:
            lines = self._lines()
            rows = self._csv(lines) if self.format == "csv" else self._jsonl(lines)
            for count, rec in enumerate(rows, 1):
                if count > self.limits.max_rows:
                    raise InputError("{file} has more than {limit} rows; split it into files of at most {limit} "
                                     "rows (each CSV part starting with the header line)", file=self.name,
                                     limit=self.limits.max_rows)
                yield rec
            self._lines()  # the same file to the end
        finally:
            self._reading = False

    def _too_long(self, row: int, size: int) -> Record:
        return Record(row, None, None, RowProblem.of(
            row, "-", "is {size} bytes long; a row may have at most {limit} bytes (a description at most "
            "{description} characters), so it was not read", size=size, limit=self.limits.max_row_bytes,
            description=LIMITS["description"]))

    def _csv(self, lines: _Lines) -> Iterator[Record]:
        # The reader must accept any field a row within the byte cap can hold, so that an over-long
        # field is a row problem naming its column; bigger rows never reach it (_TooLong).
        if csv.field_size_limit() < self.limits.max_row_bytes:
            csv.field_size_limit(self.limits.max_row_bytes)
        _, names, reader = self._read_header(lines)
        self.names = names
        while True:
            lines.new_row()
            start, offset = lines.line + 1, lines.offset
            try:
                cells = next(reader)
            except StopIteration:
                return
            except (_TooLong, csv.Error) as exc:
                end, spans = _csv_record_end(self._fh, offset)
                lines.skip_to(end, start - 1 + spans)
                reader = csv.reader(lines)  # the old one may be stuck inside a quoted field
                if isinstance(exc, _TooLong):
                    yield self._too_long(start, end - offset)
                elif "new-line" in str(exc):  # a lone CR; the csv module's own words name a Python argument
                    yield Record(start, None, None, RowProblem.of(
                        start, "-", "has a carriage return (CR) inside a field; quote the field or remove the CR"))
                else:
                    yield Record(start, None, None, RowProblem.of(start, "-", "cannot be read as CSV: {error}",
                                                                  error=str(exc)))
                continue
            if not "".join(cells).strip():  # a blank row
                continue
            if len(cells) > len(names):
                yield Record(start, None, cells, RowProblem.of(
                    start, "-", "has {count} fields, the header has {columns} (a stray comma? quote the text)",
                    count=len(cells), columns=len(names)))
                continue
            yield Record(start, dict(zip(names, cells, strict=False)), cells)

    def _jsonl(self, lines: _Lines) -> Iterator[Record]:
        while True:
            lines.new_row()
            try:
                line = next(lines)
            except StopIteration:
                return
            except _TooLong:
                while lines.cut and (part := self._fh.readline(MiB)) and part[-1:] != b"\n":
                    pass  # to the end of the line, a MiB at a time
                offset, end = lines.offset, self._fh.tell()
                lines.skip_to(end, lines.line + 1)
                yield self._too_long(lines.line, end - offset)
                continue
            no = lines.line
            if not line.strip():
                continue
            text = line.rstrip("\r\n")
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Record(no, None, text, RowProblem.of(no, "-", "not valid JSON: {error} at column {column}",
                                                           error=exc.msg, column=exc.colno))
                continue
            except ValueError:  # the only other one json raises: int() refuses over 4,300 digits
                yield Record(no, None, text, RowProblem.of(no, "-", "has a number of more than 4300 digits"))
                continue
            except RecursionError:
                yield Record(no, None, text, RowProblem.of(no, "-", "is nested too deeply to read"))
                continue
            if not isinstance(obj, dict):
                yield Record(no, None, text, RowProblem.of(no, "-", "each line must be one JSON object"))
                continue
            yield Record(no, {ALIASES.get(str(k).strip(), str(k).strip().lower()): v for k, v in obj.items()}, obj)

    def validate(self, *, categories: Mapping[str, Any], now: datetime, timezone: str,
                 tmp_dir: str | os.PathLike[str] | None = None, route: Route | None = None,
                 batch_size: int = 500, keep: bool = False) -> Validation:
        """Check every row (fields, category, times, duplicate tickets) in one pass, keeping no row.

        Args:
            categories: the workflow's event catalogue, by code.
            now: the import time; ``received_at`` may be at most 10 minutes after it.
            timezone: the zone of times written without an offset.
            tmp_dir: where the private index directory goes (default: the system's temporary directory).
            route: more checks (e.g. the engine's routing), given the rows' tickets ``batch_size`` at a
                time in this same pass; the problems it returns count as if it had been given the good
                tickets after the pass: none is kept for a row that turns out to be a duplicate.
            keep: keep the good tickets as checked (in the private index directory), for
                :meth:`Validation.iter_kept`: a pass over them that does not read the file again.

        Raises:
            InputError: a file-level problem (encoding, row cap, the file changed); no row raises.
        """
        checked = Validation(self, categories, now, timezone, tmp_dir, route, batch_size, keep)
        try:
            checked._check()
        except BaseException:
            checked.close()
            raise
        return checked


def open_hotline(path: str | os.PathLike[str], *, fmt: str | None = None,
                 limits: Limits | None = None) -> HotlineSource:
    """Open a work-order file: its size, encoding, format and (CSV) header checked; no row read yet.

    Args:
        fmt: ``csv`` or ``jsonl``; default by the suffix, else by the first character.
        limits: the caps (default :class:`Limits`).

    Raises:
        InputError: unreadable, not a regular file, over ``max_bytes``, not UTF-8, or a CSV header
            without a needed column.
    """
    p, lim = Path(path), limits or Limits()
    try:  # O_NONBLOCK: a FIFO is refused below instead of waited on; a regular file ignores it
        fh = os.fdopen(os.open(p, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb")
    except OSError as exc:
        raise InputError("cannot read {file}: {reason}", file=str(p), reason=exc.strerror or str(exc)) from None
    try:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise InputError("cannot read {file}: not a regular file", file=str(p))
        if st.st_size > lim.max_bytes:
            raise InputError("{file} is {size} bytes; the limit is {limit} MiB: split it into smaller files "
                             "(each CSV part starting with the header line)", file=str(p), size=st.st_size,
                             limit=lim.max_bytes // MiB)
        prefix = fh.read(_PREFIX)
        text = _check_prefix(prefix, str(p), len(prefix) == st.st_size)
        if b"\r" in prefix and b"\n" not in prefix:  # lines are read to LF: one CR-only "line" is the file
            raise InputError("{file} ends its lines with CR only (old Mac style); save it with LF or CRLF line "
                             "endings, e.g. `tr '\\r' '\\n' < {file} > fixed.csv`", file=str(p))
        bom = 3 if prefix.startswith(codecs.BOM_UTF8) else 0
        return HotlineSource(p, fh, detect_format(p, text, fmt), lim, bom)
    except BaseException:
        fh.close()
        raise


# --------------------------------------------------------------------------- row rules

_Bad = list[tuple[str, str, dict[str, Any]]]  # (field, template, details)
Route = Callable[[list[Ticket]], Iterable[RowProblem]]


def _text(row: Mapping[str, Any], name: str, bad: _Bad) -> str | None:
    value = row.get(name)
    if value is None:
        return None
    if type(value) is not str:  # JSON Lines: a number is fine (channel 12345), anything else is not
        if isinstance(value, bool) or not isinstance(value, int):
            bad.append((name, N_("must be text, got {kind}"), {"kind": type(value).__name__}))
            return None
        value = str(value)
    value = value.strip()
    if not value:
        return None
    limit = LIMITS.get(name)
    if limit is not None and len(value) > limit:
        bad.append((name, N_("is {length} characters; at most {limit} are allowed"),
                    {"length": len(value), "limit": limit}))
        return None
    if _CONTROL.search(value):
        bad.append((name, N_("contains control characters"), {}))
        return None
    return value


# work orders come by the minute: the same times recur (bounded: the least recently used go)
_parse_time = functools.lru_cache(maxsize=4096)(parse_time)


def _usual(no: int, row: Mapping[str, Any], categories: Mapping[str, Any], now: datetime,
           timezone: str) -> Ticket | None:
    """The ticket of a row of text fields that breaks no rule, or None (the row may break one: check it field by
    field). The rules of :func:`check_row`, in one go over the usual row: the control characters sought once in
    the row's trimmed values put together (each such character lies in one value)."""
    get = row.get
    v: list[Any] = []
    for name in COLUMNS:
        x = get(name)
        if x.__class__ is str:
            x = x.strip() or None
        elif x is not None:
            return None
        v.append(x)
    ticket, channel, received_at, address, grid, cat, description, contact = v
    if (ticket is None or channel is None or received_at is None or cat is None or description is None
            or (grid is None and address is None) or len(ticket) > _TICKET_MAX or len(description) > _DESCRIPTION_MAX
            or (address is not None and len(address) > _ADDRESS_MAX)
            or (contact is not None and len(contact) > _CONTACT_MAX)
            or channel not in CHANNELS or cat not in categories or not _TICKET.fullmatch(ticket)
            or (grid is not None and not _GRID.fullmatch(grid))
            or _CONTROL.search("".join([x for x in v if x is not None]))):
        return None
    try:
        received = _parse_time(received_at, timezone)
    except InputError:
        return None
    if received > now + CLOCK_SKEW:
        return None
    return Ticket(no, ticket, channel, received, address, grid, cat, description, contact)


_TICKET_MAX, _ADDRESS_MAX, _DESCRIPTION_MAX, _CONTACT_MAX = (LIMITS[k] for k in ("ticket", "address", "description",
                                                                                 "contact"))


def check_row(no: int, row: Mapping[str, Any], categories: Mapping[str, Any], now: datetime,
              timezone: str) -> tuple[Ticket | None, list[RowProblem]]:
    """Check one row's fields on their own (no database): a ticket, or its problems."""
    usual = _usual(no, row, categories, now, timezone)
    if usual is not None:
        return usual, []
    bad: _Bad = []
    v = {name: _text(row, name, bad) for name in COLUMNS}
    for name in REQUIRED:
        if v[name] is None and not any(f == name for f, _, _ in bad):
            bad.append((name, N_("is required"), {}))
    ticket = v["ticket"]
    if ticket is not None and not _TICKET.fullmatch(ticket):
        bad.append(("ticket", N_("{ticket!r} must not contain spaces"), {"ticket": ticket}))
    if v["channel"] is not None and v["channel"] not in CHANNELS:
        bad.append(("channel", N_("'{channel}' is not a hotline channel; use 12345 or 96005"),
                    {"channel": v["channel"]}))
    received = None
    if v["received_at"] is not None:
        try:
            received = _parse_time(v["received_at"], timezone)
        except InputError as exc:
            bad.append(("received_at", exc.template, exc.details))
        else:
            if received > now + CLOCK_SKEW:
                bad.append(("received_at", N_("{time} is after the import time"), {"time": v["received_at"]}))
    if v["grid"] is not None and not _GRID.fullmatch(v["grid"]):
        bad.append(("grid", N_("'{grid}' is not a grid code (15 digits)"), {"grid": v["grid"]}))
    if v["grid"] is None and v["address"] is None and not any(f in ("grid", "address") for f, _, _ in bad):
        bad.append(("address", N_("give the address or the grid code"), {}))
    cat = v["category"]
    if cat is not None and cat not in categories:
        from casecraft.workflows.validate import did_you_mean

        hint = did_you_mean(cat, categories)
        bad.append(("category", N_("unknown category '{category}'; {hint}; see `casecraft workflow show`") if hint
                    else N_("unknown category '{category}'; see `casecraft workflow show`"),
                    {"category": cat, "hint": hint}))
    if bad:
        return None, [RowProblem.of(no, f, template, ticket, **details) for f, template, details in bad]
    assert ticket and v["channel"] and received and cat and v["description"]
    return Ticket(no, ticket, v["channel"], received, v["address"], v["grid"], cat, v["description"],
                  v["contact"]), []


def _checked_again(no: int, row: Mapping[str, Any], timezone: str) -> Ticket:
    """The ticket :func:`check_row` makes of a CSV row it found good, made again without its checks."""
    get = row.get
    v: list[Any] = [(x.strip() or None) if (x := get(name)) is not None else None for name in COLUMNS]
    return Ticket(no, v[0], v[1], _parse_time(v[2], timezone), v[3], v[4], v[5], v[6], v[7])


# --------------------------------------------------------------------------- the checked file

_SCHEMA = """
PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA temp_store = FILE; PRAGMA cache_size = -4096;
CREATE TABLE seen (row INTEGER PRIMARY KEY, ticket TEXT NOT NULL, cells INTEGER);
CREATE TABLE problems (id INTEGER PRIMARY KEY, row INTEGER NOT NULL, field TEXT NOT NULL, reason TEXT NOT NULL,
                       ticket TEXT, template TEXT NOT NULL, details TEXT NOT NULL, routed INTEGER NOT NULL DEFAULT 0);
CREATE INDEX problems_row ON problems (row, id);
"""
_FLUSH = 10_000  # rows per index transaction
_KEPT = 256  # kept tickets per chunk (a chunk is held whole when read back)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_LISTED_ROWS = 10  # rows named in a duplicate ticket's reason


def _put(fh: IO[bytes], chunk: list[tuple[Any, ...]]) -> None:
    """A chunk of kept tickets: its length, then its marshal (read back whole: ``marshal.load`` of a file reads
    it a few bytes at a time)."""
    data = marshal.dumps(chunk)
    fh.write(len(data).to_bytes(8, "little"))
    fh.write(data)


def _remove(db: sqlite3.Connection, where: str) -> None:
    db.close()
    shutil.rmtree(where, ignore_errors=True)


class Validation:
    """A checked file: its counts, its first problems, and passes over its good rows.

    Made by :meth:`HotlineSource.validate`. The ticket numbers and the problems live in a private
    SQLite file in a 0700 temporary directory (4 MiB of page cache), never a row's other fields
    unless the good tickets are kept (``keep``: a 0600 file beside it): close the validation (or use
    ``with``) to remove them.

    Attributes:
        source: the file.
        rows: the rows read (blank lines not counted).
        index_dir: the private directory of the index (gone after :meth:`close`).
    """

    def __init__(self, source: HotlineSource, categories: Mapping[str, Any], now: datetime, timezone: str,
                 tmp_dir: str | os.PathLike[str] | None, route: Route | None = None, batch_size: int = 500,
                 keep: bool = False) -> None:
        self.source, self.rows = source, 0
        self._rules = (categories, now, timezone)
        self._route, self._batch = route, batch_size
        self._names: list[str] = []  # the CSV columns of the checking pass
        self.index_dir = where = tempfile.mkdtemp(prefix="casecraft-hotline-", dir=tmp_dir)  # 0700
        path = os.path.join(where, "index.sqlite")
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self._db = sqlite3.connect(path, isolation_level=None)
        self._done = weakref.finalize(self, _remove, self._db, where)
        self._db.executescript(_SCHEMA)
        self._kept: str | None = None  # the good tickets as checked, chunk by chunk (marshal)
        if keep:
            self._kept = os.path.join(where, "kept")
            os.close(os.open(self._kept, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))

    def close(self) -> None:
        """Remove the index (the file stays open: it is the source's)."""
        self._done()

    def __enter__(self) -> Validation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self) -> None:
        if self._kept is None:
            self._check_rows(None)
            return
        with open(self._kept, "wb") as kept:
            self._check_rows(kept)

    def _check_rows(self, kept_file: IO[bytes] | None) -> None:
        categories, now, tz = self._rules
        route = self._route
        kept: list[tuple[Any, ...]] = []
        micros: dict[datetime, int] = {}  # a time received as kept, per chunk
        seen: list[tuple[int, str, int | None]] = []
        bad: list[RowProblem] = []
        good: list[Ticket] = []
        routed: list[RowProblem] = []
        limit, size, rows = LIMITS["ticket"], self._batch, 0
        for rec in self.source.records():
            rows += 1
            fields = rec.fields
            if fields is None:
                assert rec.problem is not None
                bad.append(rec.problem)
            else:
                ticket, found = check_row(rec.row, fields, categories, now, tz)
                if ticket is not None:
                    # a good CSV row's cells, hashed: the writing pass knows it unchanged without checking again
                    cells = rec.raw
                    seen.append((rec.row, ticket.ticket, hash(tuple(cells)) if cells.__class__ is list else None))
                    if kept_file is not None:  # as checked: before routing fills in a grid
                        at = ticket.received_at
                        us = micros.get(at)
                        if us is None:
                            us = micros[at] = (at - _EPOCH) // _MICROSECOND
                        kept.append((ticket.row, ticket.ticket, ticket.channel, us, ticket.address, ticket.grid,
                                     ticket.category, ticket.description, ticket.contact))
                        if len(kept) >= _KEPT:
                            _put(kept_file, kept)
                            kept, micros = [], {}
                    if route is not None:
                        good.append(ticket)
                        if len(good) >= size:
                            routed.extend(route(good))
                            good = []
                else:
                    raw = fields.get("ticket")
                    if isinstance(raw, str | int) and 0 < len(t := str(raw).strip()) <= limit:
                        seen.append((rec.row, t, None))
                    bad.extend(found)
            if len(seen) >= _FLUSH or len(bad) >= _FLUSH or len(routed) >= _FLUSH:
                self._store(seen, bad, routed)
                seen, bad, routed = [], [], []
        self.rows = rows
        if kept:
            _put(kept_file, kept)  # type: ignore[arg-type]  # kept only with a file
        if good:
            routed.extend(route(good))  # type: ignore[misc]  # good tickets only with a route
        self._store(seen, bad, routed)
        self._names = list(self.source.names)
        self._duplicates()
        if route is not None:  # a duplicate's row was never routed after the pass: forget what routing said
            self._db.execute("DELETE FROM problems WHERE routed = 1 AND row IN "
                             "(SELECT row FROM problems WHERE routed = 0)")

    def _store(self, seen: list[tuple[int, str, int | None]], bad: Iterable[RowProblem],
               routed: Iterable[RowProblem] = ()) -> None:
        self._db.execute("BEGIN")
        self._db.executemany("INSERT INTO seen (row, ticket, cells) VALUES (?, ?, ?)", seen)
        self._db.executemany(
            "INSERT INTO problems (row, field, reason, ticket, template, details, routed) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(p.row, p.field, p.reason, p.ticket, p.template,
              json.dumps(p.details, ensure_ascii=False, default=str), late)
             for late, problems in ((0, bad), (1, routed)) for p in problems])
        self._db.execute("COMMIT")

    def _duplicates(self) -> None:
        """Every row of a ticket that appears more than once, naming the first rows of each."""
        db = self._db
        db.execute("CREATE INDEX seen_ticket ON seen (ticket, row)")  # built sorted, once: cheaper than kept
        cur = db.execute("SELECT s.ticket, s.row, d.n FROM seen s JOIN (SELECT ticket, count(*) AS n FROM seen "
                         "GROUP BY ticket HAVING count(*) > 1) d ON d.ticket = s.ticket ORDER BY s.ticket, s.row")
        out: list[RowProblem] = []
        ticket, first, reason, details = None, list[int](), "", {}
        while chunk := cur.fetchmany(_FLUSH):
            for t, row, n in chunk:
                if t != ticket:
                    ticket, first = t, []
                if len(first) < _LISTED_ROWS:
                    first.append(row)
                    if len(first) < min(n, _LISTED_ROWS):
                        continue  # the reason names these rows: wait for them
                    listed = ", ".join(map(str, first)) + (", …" if n > _LISTED_ROWS else "")
                    details = {"ticket": t, "count": n, "rows": listed}
                    reason = N_("ticket {ticket} appears {count} times in the file (rows {rows}); keep one")
                    out.extend(RowProblem.of(r, "ticket", reason, t, **details) for r in first)
                else:
                    out.append(RowProblem.of(row, "ticket", reason, t, **details))
            self._store([], out)
            out = []

    def add_problems(self, problems: Iterable[RowProblem]) -> None:
        """Record more problems (e.g. the engine's routing): their rows become bad rows."""
        self._store([], list(problems))

    @property
    def problem_count(self) -> int:
        """All problems found, listed or not."""
        return int(self._db.execute("SELECT count(*) FROM problems").fetchone()[0])

    @property
    def bad_rows(self) -> int:
        """Rows with at least one problem."""
        return int(self._db.execute("SELECT count(DISTINCT row) FROM problems").fetchone()[0])

    @property
    def problems(self) -> list[RowProblem]:
        """The first ``Limits.max_listed`` problems, by row."""
        return list(self.iter_problems(self.source.limits.max_listed))

    def iter_problems(self, limit: int = -1) -> Iterator[RowProblem]:
        """Every problem (or the first ``limit``), by row, read a chunk at a time."""
        cur = self._db.cursor().execute("SELECT row, field, reason, ticket, template, details FROM problems "
                                        "ORDER BY row, id LIMIT ?", (limit,))
        while chunk := cur.fetchmany(1000):
            for row, fld, reason, ticket, template, details in chunk:
                yield RowProblem(row, fld, reason, ticket, template, tuple(map(tuple, json.loads(details))))

    def iter_kept(self, size: int = 500) -> Iterator[list[Ticket]]:
        """The good tickets, ``size`` at a time, as the checking pass made them (``validate(keep=True)``): the
        file is not read again, so what they hold is what was checked. Bad rows are skipped; problems added
        meanwhile (:meth:`add_problems`) skip their rows in later batches.
        """
        if self._kept is None:
            raise RuntimeError("the checking pass kept no tickets: validate with keep=True")
        if size < 1:
            raise InputError("the batch size must be at least 1, not {size}", size=size)
        ready: list[Ticket] = []
        with open(self._kept, "rb") as fh:
            while size_bytes := fh.read(8):
                chunk = marshal.loads(fh.read(int.from_bytes(size_bytes, "little")))
                span = (chunk[0][0], chunk[-1][0])
                bad = {r for (r,) in self._db.execute("SELECT DISTINCT row FROM problems WHERE row BETWEEN ? AND ?",
                                                      span)}
                times: dict[int, datetime] = {}
                for row, ticket, channel, us, address, grid, category, description, contact in chunk:
                    if row in bad:
                        continue
                    at = times.get(us)
                    if at is None:
                        at = times[us] = _EPOCH + timedelta(microseconds=us)
                    ready.append(Ticket(row, ticket, channel, at, address, grid, category, description, contact))
                while len(ready) >= size:
                    yield ready[:size]
                    ready = ready[size:]
        while ready:
            yield ready[:size]
            ready = ready[size:]

    def iter_batches(self, size: int = 500) -> Iterator[list[Ticket]]:
        """The good tickets, ``size`` at a time, read again from the file; bad rows are skipped.

        Problems added meanwhile (:meth:`add_problems`) skip their rows in later batches.

        Raises:
            InputError: the file changed since it was checked (when the pass ends at the latest).
        """
        if size < 1:
            raise InputError("the batch size must be at least 1, not {size}", size=size)
        chunk: list[Record] = []
        ready: list[Ticket] = []
        count = 0
        for rec in self.source.records():
            count += 1
            chunk.append(rec)
            if len(chunk) >= size:
                ready += self._good(chunk)
                chunk = []
                while len(ready) >= size:
                    yield ready[:size]
                    ready = ready[size:]
        ready += self._good(chunk)
        if count != self.rows:
            raise InputError("{file} changed while it was being read; import it again", file=self.source.name)
        while ready:
            yield ready[:size]
            ready = ready[size:]

    def _good(self, chunk: list[Record]) -> list[Ticket]:
        if not chunk:
            return []
        span = (chunk[0].row, chunk[-1].row)
        bad = {r for (r,) in self._db.execute("SELECT DISTINCT row FROM problems WHERE row BETWEEN ? AND ?", span)}
        # a CSV row whose cells (and the header's columns) are those the first pass checked is made a ticket
        # again without the checks (their outcome is the same); any other row is checked again
        cells: dict[int, int] = {}
        if self.source.names == self._names:
            cells = dict(self._db.execute("SELECT row, cells FROM seen WHERE row BETWEEN ? AND ? AND cells IS NOT "
                                          "NULL", span).fetchall())
        tz = self._rules[2]
        out = []
        for rec in chunk:
            if rec.row in bad:
                continue
            if rec.fields is None:
                ticket = None
            elif type(rec.raw) is list and cells.get(rec.row) == hash(tuple(rec.raw)):
                ticket = _checked_again(rec.row, rec.fields, tz)
            else:
                ticket = check_row(rec.row, rec.fields, *self._rules)[0]
            if ticket is None:  # it was good in the first pass
                raise InputError("{file} changed while it was being read; import it again", file=self.source.name)
            out.append(ticket)
        return out

    def write_rejects(self, dest: str | os.PathLike[str], *, force: bool = False,
                      protect: Iterable[str | os.PathLike[str]] = ()) -> int:
        """Write the bad rows, as they were plus ``rejected_row/field/reason``, to a new 0600 file.

        The file appears whole or not at all (written beside ``dest``, then moved into place).

        Args:
            dest: the reject file; ``.csv`` style for a CSV source, JSON Lines otherwise.
            force: replace an existing file (never the source, nor a ``protect`` path).
            protect: paths never to write, e.g. the live database and its ``-wal``/``-shm`` files.

        Returns:
            The number of rows written.

        Raises:
            InputError: ``dest`` exists (without ``force``), is protected, or cannot be written.
        """
        return _write_rejects(self.source, _by_row(self.iter_problems()), Path(dest), force, protect)


def _by_row(problems: Iterable[RowProblem]) -> Iterator[tuple[int, list[RowProblem]]]:
    for row, items in groupby(problems, key=lambda p: p.row):
        yield row, list(items)


def default_rejects_path(path: Path, fmt: str) -> Path:
    """Beside the input: ``orders.csv`` → ``orders.rejects.csv``."""
    return path.with_name(f"{path.stem}.rejects.{'csv' if fmt == 'csv' else 'jsonl'}")


def _write_rejects(source: HotlineSource, groups: Iterable[tuple[int, list[RowProblem]]], dest: Path,
                   force: bool, protect: Iterable[str | os.PathLike[str]]) -> int:
    shown = str(dest)
    for other in (source.path, *protect):
        if os.path.abspath(dest) == os.path.abspath(other) or (dest.exists() and Path(other).exists()
                                                                and os.path.samefile(dest, other)):
            raise InputError("the reject file {file} would overwrite {other}; give another path",
                             file=shown, other=str(other))
    if dest.is_dir():
        raise InputError("the reject file {file} is a directory; give a file path", file=shown)
    if not force and os.path.lexists(dest):
        raise InputError("the reject file {file} already exists; give another path, or force to replace it",
                         file=shown)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)  # 0600, O_EXCL
    except OSError as exc:
        raise InputError("cannot write the reject file {file}: {reason}", file=shown,
                         reason=exc.strerror or str(exc)) from None
    try:
        with open(fd, "w", encoding="utf-8-sig" if source.format == "csv" else "utf-8", newline="") as fh:
            written = _copy_rows(source, groups, fh)
        if force:
            os.replace(tmp, dest)
        else:
            try:
                os.link(tmp, dest)  # fails if dest appeared meanwhile: nothing is overwritten
            except FileExistsError:
                raise
            except OSError:  # no hard links here (FAT, some network file systems): a last look, then a rename
                if os.path.lexists(dest):
                    raise FileExistsError from None
                os.rename(tmp, dest)
    except FileExistsError:
        raise InputError("the reject file {file} already exists; give another path, or force to replace it",
                         file=shown) from None
    except OSError as exc:
        raise InputError("cannot write the reject file {file}: {reason}", file=shown,
                         reason=exc.strerror or str(exc)) from None
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    return written


def _copy_rows(source: HotlineSource, groups: Iterable[tuple[int, list[RowProblem]]], fh: IO[str]) -> int:
    records = source.records()
    out = csv.writer(fh) if source.format == "csv" else None
    if out is not None:
        out.writerow([*source.header, *REJECT_COLUMNS])
    written = 0
    for row, items in groups:
        rec = next((r for r in records if r.row >= row), None)
        if rec is None or rec.row != row:
            raise InputError("{file} changed while it was being read; import it again", file=source.name)
        why = {"rejected_row": row, "rejected_field": ";".join(dict.fromkeys(i.field for i in items)),
               "rejected_reason": "; ".join(i.reason for i in items)}
        if out is not None:
            cells = list(rec.raw or [])
            out.writerow([*cells, *[""] * (len(source.header) - len(cells)), *why.values()])
        else:
            obj = dict(rec.raw) if isinstance(rec.raw, dict) else {"raw_line": rec.raw}
            fh.write(json.dumps({**obj, **why}, ensure_ascii=False) + "\n")
        written += 1
    return written


# --------------------------------------------------------------------------- the whole-file form


@dataclass
class ParsedFile:
    """A whole checked file in memory (the pre-streaming form; prefer :func:`open_hotline`)."""

    path: Path
    format: str
    header: list[str] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    rows: int = 0


def read_tickets(path: str | Path, *, categories: Mapping[str, Any], now: datetime, timezone: str,
                 fmt: str | None = None) -> ParsedFile:
    """Read and check a work-order file, holding every good ticket and every problem.

    Raises:
        InputError: as :func:`open_hotline` and :meth:`HotlineSource.validate`.
    """
    with open_hotline(path, fmt=fmt) as src, src.validate(categories=categories, now=now, timezone=timezone) as v:
        return ParsedFile(src.path, src.format, src.header, [t for b in v.iter_batches(1000) for t in b],
                          list(v.iter_problems()), v.rows)


def write_rejects(parsed: ParsedFile, problems: list[RowProblem], dest: Path, *, force: bool = False) -> int:
    """Write the bad rows of a file read by :func:`read_tickets`; see :meth:`Validation.write_rejects`."""
    with open_hotline(parsed.path, fmt=parsed.format) as src:
        return _write_rejects(src, _by_row(sorted(problems, key=lambda p: p.row)), Path(dest), force, ())
