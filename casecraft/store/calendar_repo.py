"""The working calendar in the database: the only SQL for table ``calendar_days``.

Rows come from five sources:

* ``chinesecalendar``: seeded from the package, which knows the State
  Council's holidays and 调休 make-up working weekends (2004-2026 in 1.11);
* ``provisional``: seeded for the years after the package's last, up to next
  year, from the rules on public holidays (:mod:`casecraft.timing.provisional`);
* ``notice``: the State Council's notice of a year, imported from its YAML file
  (:mod:`casecraft.timing.notice`);
* ``import``: a CSV file an administrator loads;
* ``admin``: one date set by hand.

Seeding only fills dates not yet present, so no stored date is ever
overwritten by it; CSV import and ``set`` overwrite whatever is there; a
notice replaces every date of its year except those set by hand (``admin``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Insert, Table, func, insert, select, update

from casecraft.base.errors import InputError, Joined, render
from casecraft.store.models import CalendarDay
from casecraft.timing.calendar import DayRow, WorkingCalendar, WorkingPeriod, parse_periods, seed_rows
from casecraft.timing.days import STATUS_HELP, parse_calendar_csv, read_days_file
from casecraft.timing.provisional import PROVISIONAL_SOURCE, covered_years, provisional_rows, provisional_workdays

if TYPE_CHECKING:  # the notice module (and its YAML loader) is imported only by whoever parses a notice
    from casecraft.store.base import Store
    from casecraft.timing.notice import Notice

days_t = cast(Table, CalendarDay.__table__)  # a Table, typed as a FromClause by SQLAlchemy

SEED_SOURCE = "chinesecalendar"
ADMIN_SOURCE = "admin"
IMPORT_SOURCE = "import"
NOTE_MAX = 100  # the width of calendar_days.note
_BATCH = 2000



def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _note(note: str | None) -> str | None:
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise InputError("the note is {length} characters long; at most {limit} fit", length=len(note), limit=NOTE_MAX,
                         note=note)
    return note or None


def _insert(conn: Connection) -> Any:
    """The dialect's INSERT (SQLite and PostgreSQL know ON CONFLICT), else the generic one."""
    name = conn.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    return None


def _chunks(rows: Sequence[dict[str, Any]]) -> Iterable[Sequence[dict[str, Any]]]:
    for i in range(0, len(rows), _BATCH):
        yield rows[i:i + _BATCH]


def _insert_new(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows; a date someone else inserted meanwhile is left alone."""
    dialect_insert = _insert(conn)
    stmt: Insert = (dialect_insert(days_t).on_conflict_do_nothing(index_elements=[days_t.c.day])
                    if dialect_insert else insert(days_t))
    for chunk in _chunks(rows):
        conn.execute(stmt, list(chunk))


def _upsert(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows, replacing any row already there for the same date."""
    dialect_insert = _insert(conn)
    if dialect_insert is not None:
        stmt = dialect_insert(days_t)
        stmt = stmt.on_conflict_do_update(
            index_elements=[days_t.c.day],
            set_={c: stmt.excluded[c] for c in ("workday", "source", "note", "updated_at")},
        )
        for chunk in _chunks(rows):
            conn.execute(stmt, list(chunk))
        return
    wanted = [r["day"] for r in rows]
    present: set[date] = set()
    for i in range(0, len(wanted), _BATCH):
        present.update(conn.execute(select(days_t.c.day).where(days_t.c.day.in_(wanted[i:i + _BATCH]))).scalars())
    fresh = [r for r in rows if r["day"] not in present]
    old = [r for r in rows if r["day"] in present]
    if fresh:
        _insert_new(conn, fresh)
    for r in old:
        conn.execute(update(days_t).where(days_t.c.day == r["day"]).values(
            workday=r["workday"], source=r["source"], note=r["note"], updated_at=r["updated_at"]))


def _values(day: date, workday: bool, source: str, note: str | None, now: datetime) -> dict[str, Any]:
    return {"day": day, "workday": bool(workday), "source": source, "note": note or None, "updated_at": now}


# seeding --------------------------------------------------------------------


def seed_calendar(store: Store, years: Iterable[int] | None = None, now: datetime | None = None) -> int:
    """Fill in the dates of ``years`` the table does not have yet: official where known, else provisional.

    Official dates come from ``chinesecalendar``; a year after the package's
    last one gets the provisional calendar (source ``provisional``), so next
    year is always there, computed, before its official notice is out. Dates
    already present are kept whatever their source, so an imported, notice or
    admin-set date is never overwritten.

    Args:
        store: the database.
        years: the years wanted; ``None`` means every year the package covers plus
            the provisional years after it up to the year after ``now``. Years
            neither the package nor the provisional calendar covers are skipped.
        now: the ``updated_at`` of the new rows and the seeding year (default: the system time).

    Returns:
        How many dates were inserted.
    """
    stamp = _now(now)
    wanted = sorted(set(years)) if years is not None else None
    rows = seed_rows(wanted)
    official = seed_years()
    extra = provisional_seed_years(stamp) if wanted is None else [
        y for y in wanted if y > official.stop - 1 and y in covered_years()]
    for year in extra:
        rows.extend(provisional_rows(year))
    if not rows:
        return 0
    first, last = min(r.day for r in rows), max(r.day for r in rows)
    with store.write() as tx:
        present = set(tx.conn.execute(
            select(days_t.c.day).where(days_t.c.day >= first, days_t.c.day <= last)).scalars())
        new = [_values(r.day, r.workday, r.source, r.note, stamp) for r in rows if r.day not in present]
        if new:
            _insert_new(tx.conn, new)
    return len(new)


def seed_years() -> range:
    """The years the installed ``chinesecalendar`` package covers (what seeding can fill officially)."""
    import chinese_calendar as cc  # type: ignore[import-untyped]

    return range(min(cc.holidays).year, max(cc.holidays).year + 1)


def provisional_seed_years(now: datetime | None = None) -> range:
    """The years seeding fills provisionally by default: after the package's last, up to the year after ``now``."""
    last = seed_years().stop - 1
    covered = covered_years()
    return range(max(last + 1, covered.start), min(_now(now).year + 1, covered.stop - 1) + 1)


# reading --------------------------------------------------------------------


def calendar_days(store: Store, start: date, end: date) -> dict[date, bool]:
    """Whether each date from ``start`` to ``end`` (both included) is a workday; absent dates are missing."""
    with store.read() as tx:
        rows = tx.conn.execute(
            select(days_t.c.day, days_t.c.workday).where(days_t.c.day >= start, days_t.c.day <= end))
        return {d: bool(w) for d, w in rows}


def load_working_calendar(store: Store, tz: str, periods: list[str], since: date | None = None) -> WorkingCalendar:
    """The working calendar (the table's dates, one query) with the daily working periods.

    Stored provisional dates are marked provisional; a date the table lacks
    falls back to the provisional rule (see :class:`WorkingCalendar`).

    Args:
        store: the database.
        tz: the IANA timezone the periods are expressed in (the workflow's timezone).
        periods: the daily working periods, e.g. ``["09:00-12:00", "13:30-17:30"]``.
        since: load only the dates from this one on (default: every date).

    Raises:
        InputError: if a working period is malformed.
    """
    try:
        parsed = parse_periods(periods)
    except ValueError as exc:
        raise InputError("{reason}", reason=str(exc)) from None
    with store.read() as tx:
        return read_working_calendar(tx.conn, tz, parsed, since)


def read_working_calendar(conn: Connection, tz: str, periods: Sequence[WorkingPeriod],
                          since: date | None = None) -> WorkingCalendar:
    """:func:`load_working_calendar` inside the caller's transaction (it sees the transaction's own writes).

    For recomputing deadlines right after :func:`apply_notice`, in the same transaction.

    Args:
        conn: the transaction's connection.
        tz: the IANA timezone of the periods.
        periods: the parsed daily working periods (:func:`casecraft.timing.calendar.parse_periods`).
        since: read only the dates from this one on (default: every date).
    """
    query = select(days_t.c.day, days_t.c.workday, days_t.c.source)
    if since is not None:
        query = query.where(days_t.c.day >= since)
    days: dict[date, bool] = {}
    provisional: list[date] = []
    for d, w, src in conn.execute(query):
        days[d] = bool(w)
        if src == PROVISIONAL_SOURCE:
            provisional.append(d)
    return WorkingCalendar(days, periods, tz, provisional_days=provisional)


def year_rows(store: Store, year: int) -> list[DayRow]:
    """The table's rows for ``year``, in date order (dates missing from the table are absent)."""
    with store.read() as tx:
        rows = tx.conn.execute(
            select(days_t.c.day, days_t.c.workday, days_t.c.source, days_t.c.note)
            .where(days_t.c.day >= date(year, 1, 1), days_t.c.day <= date(year, 12, 31))
            .order_by(days_t.c.day))
        return [DayRow(d, bool(w), s, n or "") for d, w, s, n in rows]


# administration --------------------------------------------------------------


def set_day(store: Store, day: date, workday: bool, note: str | None = None,
            now: datetime | None = None) -> DayRow:
    """Make ``day`` a workday or a holiday, by hand (source ``admin``); replaces any row for it.

    Returns:
        The row as stored.

    Raises:
        InputError: if the note is longer than the column allows.
    """
    if not isinstance(day, date) or isinstance(day, datetime):
        raise InputError("bad date {day!r}: give a date, e.g. 2026-10-01", day=day)
    text = _note(note)
    with store.write() as tx:
        _upsert(tx.conn, [_values(day, workday, ADMIN_SOURCE, text, _now(now))])
    return DayRow(day, bool(workday), ADMIN_SOURCE, text or "")


def import_days(store: Store, path: str | Path, now: datetime | None = None) -> int:
    """Load a CSV file of dates (``date,status[,note]``), replacing any rows for those dates.

    ``status`` is ``workday`` or ``holiday`` (also 工作日, 休息日, 节假日);
    the file is UTF-8 (a BOM is fine). The whole file is checked first: if any
    row is bad, nothing is written and the error lists every bad row.

    Returns:
        How many dates were written (source ``import``).

    Raises:
        InputError: if the file cannot be read or any row is bad; ``details["problems"]``
            holds ``{"row", "field", "reason"}`` for each.
    """
    text = read_days_file(path)
    rows, problems = parse_calendar_csv(text)
    if problems:
        count = len(problems)
        details: dict[str, Any] = {
            "count": count, "listed": Joined((str(p) for p in problems), "\n  "), "status": render(STATUS_HELP, {}),
            "file": str(path),
            "problems": [{"row": p.row, "field": p.field, "reason": p.reason} for p in problems]}
        if count == 1:
            raise InputError("{file!r}: {count} bad row, nothing imported:\n  {listed}\nfix them and import the file "
                             "again (columns: date,status[,note]; date as YYYY-MM-DD; status {status})", **details)
        raise InputError("{file!r}: {count} bad rows, nothing imported:\n  {listed}\nfix them and import the file "
                         "again (columns: date,status[,note]; date as YYYY-MM-DD; status {status})", **details)
    stamp = _now(now)
    with store.write() as tx:
        _upsert(tx.conn, [_values(d, w, IMPORT_SOURCE, n, stamp) for d, w, n in rows])
    return len(rows)


# the official notice -------------------------------------------------------------


def apply_notice(conn: Connection, notice: Notice, now: datetime) -> list[date]:
    """Write a checked notice's year inside the caller's transaction; see :func:`import_notice`.

    For a caller that does more in the same transaction (recomputing the open
    deadlines on or after the first changed date).

    Returns:
        The dates whose workday status changed, sorted.
    """
    year = notice.year
    stored = {d: (bool(w), src) for d, w, src in conn.execute(
        select(days_t.c.day, days_t.c.workday, days_t.c.source)
        .where(days_t.c.day >= date(year, 1, 1), days_t.c.day <= date(year, 12, 31)))}
    # a date the table lacks was worked out from the provisional rule (where it applies), so
    # its status changes only if the notice differs from that
    rule = provisional_workdays(year) if year in covered_years() else {}
    changed: list[date] = []
    rows: list[dict[str, Any]] = []
    for r in notice.rows:
        old = stored.get(r.day)
        if old is not None and old[1] == ADMIN_SOURCE:
            continue  # set by hand: kept (see notice_conflicts)
        before = old[0] if old is not None else rule.get(r.day)
        if before is None or before != r.workday:
            changed.append(r.day)
        rows.append(_values(r.day, r.workday, r.source, r.note, now))
    _upsert(conn, rows)
    return changed


def import_notice(store: Store, notice: Notice, now: datetime | None = None) -> list[date]:
    """Make a parsed notice the calendar of its year, in one transaction.

    Every date of the year is replaced (source ``notice``), whatever its source
    (provisional, chinesecalendar, an earlier notice or CSV import), except the
    dates set by hand (source ``admin``): they are kept, since only an
    administrator knows why they were set; :func:`notice_conflicts` lists those
    that disagree with the notice.

    Args:
        store: the database.
        notice: a notice from :func:`casecraft.timing.notice.parse_notice`.
        now: the ``updated_at`` of the rows (default: the system time).

    Returns:
        The dates whose workday status changed, sorted (a date the table lacked
        counts as changed when the notice differs from the provisional rule). The
        open deadlines falling on or after the first of them need recomputing.
    """
    with store.write() as tx:
        return apply_notice(tx.conn, notice, _now(now))


def notice_conflicts(store: Store, notice: Notice) -> list[DayRow]:
    """The dates set by hand (kept by :func:`import_notice`) whose workday status differs from the notice."""
    wanted = notice.days
    return [r for r in year_rows(store, notice.year)
            if r.source == ADMIN_SOURCE and wanted.get(r.day, r.workday) != r.workday]


__all__ = [
    "PROVISIONAL_SOURCE", "CalendarQueries", "apply_notice", "calendar_days", "import_days",
    "import_notice", "load_working_calendar", "notice_conflicts", "parse_calendar_csv",
    "provisional_seed_years", "read_working_calendar", "seed_calendar", "seed_years", "set_day",
    "year_rows",
]


class CalendarQueries:
    """The calendar table inside the caller's transaction (administration is recorded with it)."""

    conn: Connection

    def calendar_year(self, year: int) -> list[DayRow]:
        rows = self.conn.execute(
            select(days_t.c.day, days_t.c.workday, days_t.c.source, days_t.c.note)
            .where(days_t.c.day >= date(year, 1, 1), days_t.c.day <= date(year, 12, 31)).order_by(days_t.c.day))
        return [DayRow(d, bool(w), s, n or "") for d, w, s, n in rows]

    def calendar_write(self, rows: Sequence[tuple[date, bool, str | None]], source: str, now: datetime) -> list[date]:
        """Replace the rows of these dates (``source`` admin or import); the dates whose status changed."""
        if not rows:
            return []
        days = [d for d, _w, _n in rows]
        stored = {d: bool(w) for d, w in self.conn.execute(
            select(days_t.c.day, days_t.c.workday).where(days_t.c.day.in_(days)))}
        changed = sorted(d for d, w, _n in rows if stored.get(d) is None or stored[d] != bool(w))
        _upsert(self.conn, [_values(d, w, source, _note(n), now) for d, w, n in rows])
        return changed

    def calendar_apply_notice(self, notice: Notice, now: datetime) -> list[date]:
        return apply_notice(self.conn, notice, now)

    def calendar_conflicts(self, notice: Notice) -> list[DayRow]:
        wanted = notice.days
        return [r for r in self.calendar_year(notice.year)
                if r.source == ADMIN_SOURCE and wanted.get(r.day, r.workday) != r.workday]

    def calendar_working(self, tz: str, periods: Sequence[WorkingPeriod], since: date | None = None
                         ) -> WorkingCalendar:
        return read_working_calendar(self.conn, tz, periods, since)

    def calendar_missing_years(self, years: Sequence[int]) -> list[int]:
        """Of ``years``, those without a single stored date."""
        out = []
        for y in years:
            n = self.conn.execute(select(func.count()).select_from(days_t)
                                  .where(days_t.c.day >= date(y, 1, 1), days_t.c.day <= date(y, 12, 31))).scalar()
            if not n:
                out.append(y)
        return out
