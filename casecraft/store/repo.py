"""The SQLAlchemy adapter behind :mod:`casecraft.store.base`: one transaction, its queries.

Only this package imports SQLAlchemy. The services open a unit of work with
:meth:`Store.write` (one transaction; ``BEGIN IMMEDIATE`` on SQLite) or
:meth:`Store.read`, and call the methods of the returned :class:`Tx`, which
is made of one query class per capability (cases here; deadlines and alerts,
the organisation, bulk intake, the ledger in their own modules).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, bindparam, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from casecraft.base.errors import UnavailableError
from casecraft.base.records import CASE_FIELDS, STAGE_COLUMNS, CaseRow, Entry
from casecraft.store import direct
from casecraft.store.alerts_repo import AlertQueries, DeadlineQueries, deadlines_t
from casecraft.store.base import DuplicateKey
from casecraft.store.calendar_repo import CalendarQueries
from casecraft.store.db import (
    SqliteWriter,
    begin_with_first,
    ensure_schema,
    make_engine,
    sqlite_deferred,
    translate_db_error,
)
from casecraft.store.intake_repo import IntakeQueries
from casecraft.store.ledger_repo import ADMIN_REVISION, LedgerQueries
from casecraft.store.logs_repo import LogQueries
from casecraft.store.models import Case, TimelineEntry, Unit
from casecraft.store.org_repo import OrgQueries

cases_t = cast(Table, Case.__table__)
timeline_t = cast(Table, TimelineEntry.__table__)
units_t = cast(Table, Unit.__table__)

# the columns in CaseRow's field order, so a row (a tuple) makes a CaseRow by position, then the running step
# limit's (stage_*: kept by the transaction for the step's deadline work, see DeadlineQueries)
_CASE_BY_ID = select(*(cases_t.c[f] for f in CASE_FIELDS), *(cases_t.c[c] for c in STAGE_COLUMNS)
                     ).where(cases_t.c.id == bindparam("id"))
_N_CASE = len(CASE_FIELDS)
_N_STAGE = _N_CASE + len(STAGE_COLUMNS)
_ASSIGNEES = CASE_FIELDS.index("assignees")
# FOR NO KEY UPDATE: a step changes the case's columns, never its id, so it must not block (nor be blocked
# by) the FOR KEY SHARE lock PostgreSQL takes on the case row when a sweep inserts an alert that refers to it;
# with a plain FOR UPDATE a writer (case locked, waiting for a deadline row the sweep claimed) and the sweep
# (deadline claimed, waiting for the case row's key share) deadlock.
_CASE_FOR_UPDATE = _CASE_BY_ID.with_for_update(key_share=True)
# a step's first statement: its case row and, in the same read, the administrative revision (whether the
# process's organisation and versions are still current) — one statement where there were two
_REVISION = ADMIN_REVISION.scalar_subquery().label("admin_revision")
_CASE_AT_REVISION = select(*(cases_t.c[f] for f in CASE_FIELDS), *(cases_t.c[c] for c in STAGE_COLUMNS),
                           _REVISION).where(cases_t.c.id == bindparam("id"))
_CASE_AT_REVISION_FOR_UPDATE = _CASE_AT_REVISION.with_for_update(key_share=True)
_INSERT_CASE = insert(cases_t).returning(cases_t.c.id)
_INSERT_TIMELINE = insert(timeline_t).inline()  # no RETURNING of the new id (PostgreSQL would add one)
_TIMELINE_OF = select(timeline_t).where(timeline_t.c.case_id == bindparam("case_id")).order_by(timeline_t.c.seq)
_ENTRY_COLUMNS = [c.name for c in timeline_t.columns if c.name != "id"]
_ENTRY_KEYS = ("case_id", "seq", "at", "recorded_at", "actor_id", "actor_name", "actor_role", "actor_unit", "trigger",
               "from_state", "to_state", "from_tier", "to_tier", "unit_code", "targets", "outcome", "note",
               "attachments", "facts", "deadline_facts", "on_behalf_of", "backfill", "prev_hash", "hash", "hv")
# what a view shows: every column but the facts the audit rebuilds from (JSON that views never read)
_TIMELINE_SHOWN = (select(*(c for c in timeline_t.columns if c.name not in ("facts", "deadline_facts")))
                   .where(timeline_t.c.case_id == bindparam("case_id")).order_by(timeline_t.c.seq))
_TIMELINE_NAMES = tuple(c.name for c in _TIMELINE_OF.selected_columns)
_SHOWN_NAMES = tuple(c.name for c in _TIMELINE_SHOWN.selected_columns)
SORTS = {"id": (cases_t.c.id,), "-id": (cases_t.c.id.desc(),), "updated": (cases_t.c.updated_at, cases_t.c.id),
         "-updated": (cases_t.c.updated_at.desc(), cases_t.c.id.desc())}


@lru_cache(maxsize=256)
def _update_case_stmt(keys: tuple[str, ...]) -> Any:
    """UPDATE cases SET <keys> WHERE id = :w_id AND version = :w_version, built once per set of keys."""
    return (update(cases_t)
            .where(cases_t.c.id == bindparam("w_id"), cases_t.c.version == bindparam("w_version"))
            .values({k: bindparam(f"v_{k}") for k in keys}))


# PostgreSQL: a step's writes in one statement (one round trip): the deadline rows it opens and the case row's
# update as data-modifying CTEs, the entry inserted from the update's RETURNING (so no entry without the update)
STEP_IN_ONE_STATEMENT = True


@lru_cache(maxsize=256)
def _step_stmt(case_keys: tuple[str, ...], deadline_keys: tuple[tuple[str, ...], ...]) -> Any:
    """WITH step_deadline_<i> AS (INSERT ...), step_case AS (UPDATE cases ... RETURNING id) INSERT INTO timeline
    SELECT <the entry's values> FROM step_case; binds v_*/w_* as :func:`_update_case_stmt`, e_* the entry's,
    d<i>_* the deadlines'."""
    case_cte = (update(cases_t)
                .where(cases_t.c.id == bindparam("w_id"), cases_t.c.version == bindparam("w_version"))
                .values({k: bindparam(f"v_{k}") for k in case_keys})
                .returning(cases_t.c.id).cte("step_case"))
    entry = select(*(bindparam(f"e_{c}", type_=timeline_t.c[c].type).label(c) for c in _ENTRY_KEYS)
                   ).select_from(case_cte)
    stmt = insert(timeline_t).from_select(list(_ENTRY_KEYS), entry)
    for i, keys in enumerate(deadline_keys):
        stmt = stmt.add_cte(insert(deadlines_t).values({k: bindparam(f"d{i}_{k}", type_=deadlines_t.c[k].type)
                                                       for k in keys}).cte(f"step_deadline_{i}"))
    return stmt


def _case_params(case_id: int, version: int, values: dict[str, Any]) -> dict[str, Any]:
    """The binds of a case row's update under its version (:func:`_update_case_stmt`, :func:`_step_stmt`)."""
    params = {f"v_{k}": (list(v) if k == "assignees" else v) for k, v in values.items()}
    params["w_id"], params["w_version"] = case_id, version
    return params


def case_row(r: Any) -> CaseRow:
    """A cases row (a mapping) as a :class:`CaseRow` (its stage_* columns left out)."""
    d = {f: r[f] for f in CASE_FIELDS}
    d["assignees"] = tuple(d.get("assignees") or ())
    return CaseRow(**d)


def _case_of(r: Any) -> CaseRow:
    """A row of :data:`_CASE_BY_ID` (its columns in CaseRow's order) as a :class:`CaseRow`."""
    values = list(r[:_N_CASE])
    values[_ASSIGNEES] = tuple(values[_ASSIGNEES] or ())
    return CaseRow(*values)


def entry_row(r: Any) -> Entry:
    """A timeline row as an :class:`Entry`."""
    d = dict(r)
    d.pop("id", None)
    d["targets"] = tuple(d.get("targets") or ())
    d["attachments"] = tuple(d.get("attachments") or ())
    d["facts"] = d.get("facts") or {}
    d["deadline_facts"] = d.get("deadline_facts") or {}
    d["recorded_at"] = d.get("recorded_at") or d["at"]
    d["actor_name"] = d.get("actor_name") or d["actor_id"]
    return Entry(**d)


def entry_values(e: Entry) -> dict[str, Any]:
    """An :class:`Entry` as timeline column values."""
    return {"case_id": e.case_id, "seq": e.seq, "at": e.at, "recorded_at": e.recorded_at, "actor_id": e.actor_id,
            "actor_name": e.actor_name, "actor_role": e.actor_role, "actor_unit": e.actor_unit,
            "trigger": e.trigger, "from_state": e.from_state, "to_state": e.to_state, "from_tier": e.from_tier,
            "to_tier": e.to_tier, "unit_code": e.unit_code, "targets": list(e.targets), "outcome": e.outcome,
            "note": e.note, "attachments": list(e.attachments), "facts": e.facts,
            "deadline_facts": e.deadline_facts, "on_behalf_of": e.on_behalf_of, "backfill": e.backfill,
            "prev_hash": e.prev_hash, "hash": e.hash, "hv": e.hv}


class CaseQueries:
    """Cases and their timelines."""

    conn: Connection
    _stages: dict[int, Any]  # the stage_* values of each case read here (see DeadlineQueries)

    # The hot path executes prepared statements with bound parameters: building a
    # statement with literal values costs more Python time than SQLite takes to run it.
    def case(self, case_id: int, *, for_update: bool = False) -> CaseRow | None:
        """One case; ``for_update`` locks its row on PostgreSQL until the transaction ends."""
        stmt = _CASE_FOR_UPDATE if for_update and self.conn.dialect.name == "postgresql" else _CASE_BY_ID
        rows = direct.run(self.conn, stmt, {"id": case_id})
        if not rows:
            return None
        row = rows[0]  # type: ignore[index]
        self._stages[case_id] = tuple(row[_N_CASE:_N_STAGE])
        return _case_of(row)

    def case_at_revision(self, case_id: int, *, for_update: bool = False,
                         first: bool = False) -> tuple[CaseRow | None, int]:
        """One case (as :meth:`case`) and the administrative revision, read together; ``first``: as the first
        statement of the transaction (:func:`casecraft.store.direct.run_first`)."""
        pg = for_update and self.conn.dialect.name == "postgresql"
        rows = (direct.run_first if first else direct.run)(
            self.conn, _CASE_AT_REVISION_FOR_UPDATE if pg else _CASE_AT_REVISION, {"id": case_id})
        if not rows:
            return None, self.admin_revision()  # type: ignore[attr-defined]
        row = rows[0]  # type: ignore[index]
        self._stages[case_id] = tuple(row[_N_CASE:_N_STAGE])
        return _case_of(row), int(row[-1])

    def insert_case(self, values: dict[str, Any]) -> int:
        """Insert a case row; its id.

        Raises:
            DuplicateKey: the (source, ref) ticket exists already.
        """
        try:
            with self.conn.begin_nested():
                return int(self.conn.execute(_INSERT_CASE, values).scalar_one())
        except IntegrityError as exc:
            raise DuplicateKey(str(exc.orig)) from None

    def case_by_ref(self, source: str, ref: str) -> int | None:
        return self.conn.execute(
            select(cases_t.c.id).where(cases_t.c.source == source, cases_t.c.ref == ref)
        ).scalar()

    def update_case(self, case_id: int, version: int, values: dict[str, Any]) -> bool:
        """Update if the case is still at ``version``; False if someone changed it first."""
        return direct.run(self.conn, _update_case_stmt(tuple(sorted(values))),
                          _case_params(case_id, version, values)) == 1

    def write_step(self, case_id: int, version: int, values: dict[str, Any], entry: Entry,
                   deadlines: Sequence[dict[str, Any]] = ()) -> bool:
        """A step's rows: the deadline rows it writes, the case row (if still at ``version``), the chained entry.

        ``deadlines`` are the limits the step opens: its step limit goes into the case row's stage columns, a
        whole case's limit is a deadlines row; the stage the step ended (:meth:`close_deadlines`) is written as
        a deadlines row, and a stage it changed into the case row. On PostgreSQL one statement (one round trip)
        writes them all. False, with no entry written, if the case was not at ``version`` (the caller raises,
        which rolls the deadline rows back).
        """
        values, deadlines = self._stage_writes(case_id, values, deadlines)  # type: ignore[attr-defined]
        if self.conn.dialect.name != "postgresql" or not STEP_IN_ONE_STATEMENT:
            for d in deadlines:
                self.insert_deadline(d)  # type: ignore[attr-defined]
            if not self.update_case(case_id, version, values):
                return False
            self.insert_entry(entry)
            return True
        params = _case_params(case_id, version, values)
        for k, v in entry_values(entry).items():
            params[f"e_{k}"] = v
        for i, d in enumerate(deadlines):
            for k, v in d.items():
                params[f"d{i}_{k}"] = v
        stmt = _step_stmt(tuple(sorted(values)), tuple(tuple(d) for d in deadlines))
        return direct.run(self.conn, stmt, params) == 1

    def insert_entry(self, entry: Entry) -> None:
        direct.run(self.conn, _INSERT_TIMELINE, entry_values(entry), keys=_ENTRY_KEYS)

    def timeline(self, case_id: int, *, facts: bool = True) -> list[Entry]:
        """A case's entries in order; ``facts=False`` leaves ``facts`` and ``deadline_facts`` empty (for views
        only: such entries do not verify)."""
        stmt, names = (_TIMELINE_OF, _TIMELINE_NAMES) if facts else (_TIMELINE_SHOWN, _SHOWN_NAMES)
        rows = direct.run(self.conn, stmt, {"case_id": case_id})  # a step's view reads it when it is not kept
        return [entry_row(zip(names, r, strict=True)) for r in rows]  # type: ignore[union-attr]

    def list_cases(
        self,
        *,
        states: Sequence[str] | None = None,
        tier: str | None = None,
        org: str | None = None,
        is_open: bool | None = None,
        limit: int = 200,
        offset: int = 0,
        ids: Sequence[int] | None = None,
        parked: bool | None = None,
        category: str | None = None,
        source: str | None = None,
        version_id: int | None = None,
        sort: str = "id",
    ) -> tuple[list[CaseRow], int]:
        """Cases matching every filter given, in a stable order, and how many match in all."""
        q = select(cases_t)
        conds: list[Any] = []
        if parked is not None:
            conds.append(cases_t.c.parked == parked)
        if ids is not None:
            conds.append(cases_t.c.id.in_(list(ids)))
        if states:
            conds.append(cases_t.c.state.in_(list(states)))
        if tier:
            conds.append(cases_t.c.tier == tier)
        if is_open is not None:
            conds.append(cases_t.c.is_open == is_open)
        if category:
            conds.append(cases_t.c.category_code == category)
        if source:
            conds.append(cases_t.c.source == source)
        if version_id is not None:
            conds.append(cases_t.c.workflow_version_id == version_id)
        if org:
            conds.append(cases_t.c.unit_code.in_(self._subtree(org)))
        total = int(self.conn.execute(select(func.count()).select_from(cases_t).where(*conds)).scalar_one())
        q = q.where(*conds).order_by(*SORTS[sort]).limit(limit).offset(offset)
        return [case_row(r) for r in self.conn.execute(q).mappings()], total

    def _subtree(self, code: str) -> Any:
        sub = select(units_t.c.code).where(units_t.c.code == code).cte("sub", recursive=True)
        sub = sub.union_all(select(units_t.c.code).join(sub, units_t.c.parent_code == sub.c.code))
        return select(sub.c.code)

    def table_rows(self, table: str) -> list[tuple[Any, ...]]:
        t = Case.metadata.tables[table]
        return [tuple(r) for r in self.conn.execute(select(t).order_by(*t.primary_key.columns))]


class Tx(CaseQueries, DeadlineQueries, AlertQueries, OrgQueries, IntakeQueries, LedgerQueries, LogQueries,
         CalendarQueries):
    """One open transaction and every query of the engine."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._stages: dict[int, Any] = {}
        self._changed: set[int] = set()
        self._ended: dict[int, list[dict[str, Any]]] = {}

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: an error inside undoes only what was done inside."""
        with self.conn.begin_nested():
            yield


class Store:
    """The database behind one engine.

    Args:
        url: an SQLAlchemy URL (default ``$CASECRAFT_DB`` or ``sqlite:///casecraft.db``).
        migrate: create or upgrade the schema on first use.
        read_only: open the database for reading only (an SQLite file is never created or
            changed; audits of evidence copies); writes are refused by the database.
    """

    def __init__(self, url: str | None = None, *, migrate: bool = True, read_only: bool = False) -> None:
        self.engine: Engine = make_engine(url, read_only=read_only)
        self.dialect = self.engine.dialect.name
        self.read_only = read_only
        # SQLite: this process's writes go through one connection (one writer at a time in any case)
        self._writer = SqliteWriter(self.engine) if self.dialect == "sqlite" and not read_only else None
        self.closed = False
        if migrate and not read_only:
            ensure_schema(self.engine)

    def _open(self) -> None:
        if self.closed:  # SQLAlchemy would open a new pool, never released: say so instead
            raise UnavailableError("this engine was closed; make a new one to use the database again")

    @contextmanager
    def _begin(self, *, first: bool = False) -> Iterator[Connection]:
        """A write transaction's connection: SQLite's writer connection, else a pooled one; ``first``: on
        PostgreSQL its BEGIN waits for the first statement (:func:`casecraft.store.direct.run_first`)."""
        self._open()
        if self._writer is not None:
            with self._writer.begin() as conn:
                yield conn
            return
        with self.engine.connect() as conn:
            with begin_with_first() if first else nullcontext():
                tx = conn.begin()
            with tx:
                yield conn

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """One write transaction; committed on success, rolled back on any error."""
        with translate_db_error(self.engine), self._begin() as conn:
            yield Tx(conn)

    @contextmanager
    def write_case(self, case_id: int) -> Iterator[tuple[Tx, CaseRow | None, int]]:
        """One write transaction that begins by reading case ``case_id`` (locked on PostgreSQL until the
        transaction ends) and the administrative revision; yields the transaction, the case (None: no such
        case) and the revision. On PostgreSQL the transaction's BEGIN goes with that read, in one round trip."""
        with translate_db_error(self.engine), self._begin(first=True) as conn:
            queries = Tx(conn)
            case, rev = queries.case_at_revision(case_id, for_update=True, first=True)
            yield queries, case, rev

    @contextmanager
    def read(self) -> Iterator[Tx]:
        self._open()
        with translate_db_error(self.engine), self.engine.connect() as conn:
            with sqlite_deferred():
                tx = conn.begin()
            with tx:
                yield Tx(conn)

    def dispose(self) -> None:
        """Give back every connection (the store opens new ones when next used)."""
        if self._writer is not None:
            self._writer.close()
        self.engine.dispose()

    def close(self) -> None:
        """Give back every connection; the store refuses any further use."""
        self.closed = True
        self.dispose()


__all__ = ["DBAPIError", "DuplicateKey", "Store", "Tx", "case_row", "entry_row", "entry_values"]
