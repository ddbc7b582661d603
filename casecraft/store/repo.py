"""All queries of the engine, behind one small class.

Only this package imports SQLAlchemy. The engine opens a unit of work with
:meth:`Store.write` (one transaction; ``BEGIN IMMEDIATE`` on SQLite) or
:meth:`Store.read`, and calls the methods of the returned :class:`Tx`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from casecraft.store.db import ensure_schema, make_engine
from casecraft.store.models import Case, Person, TimelineEntry, Unit, WorkflowVersion
from casecraft.workflows.org import Organisation, OrgPerson, OrgUnit

cases_t = Case.__table__
timeline_t = TimelineEntry.__table__
units_t = Unit.__table__
people_t = Person.__table__
versions_t = WorkflowVersion.__table__

CASE_COLUMNS = [c.name for c in cases_t.columns]

_CASE_BY_ID = select(cases_t).where(cases_t.c.id == bindparam("id"))
_INSERT_CASE = insert(cases_t).returning(cases_t.c.id)
_INSERT_TIMELINE = insert(timeline_t)
_TIMELINE_OF = select(timeline_t).where(timeline_t.c.case_id == bindparam("case_id")).order_by(timeline_t.c.seq)


@lru_cache(maxsize=256)
def _update_case_stmt(keys: tuple[str, ...]) -> Any:
    """UPDATE cases SET <keys> WHERE id = :w_id AND version = :w_version, built once per set of keys."""
    return (update(cases_t)
            .where(cases_t.c.id == bindparam("w_id"), cases_t.c.version == bindparam("w_version"))
            .values({k: bindparam(f"v_{k}") for k in keys}))


class DuplicateKey(Exception):
    """A unique key was violated (internal; the engine translates it)."""


class Tx:
    """One open transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # cases -------------------------------------------------------------
    # The hot path executes prepared statements with bound parameters: building a
    # statement with literal values costs more Python time than SQLite takes to run it.
    def case(self, case_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(_CASE_BY_ID, {"id": case_id}).mappings().first()
        return dict(row) if row else None

    def insert_case(self, values: dict[str, Any]) -> int:
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
        keys = tuple(sorted(values))
        params = {f"v_{k}": v for k, v in values.items()}
        params["w_id"], params["w_version"] = case_id, version
        res = self.conn.execute(_update_case_stmt(keys), params)
        return res.rowcount == 1

    def insert_timeline(self, values: dict[str, Any]) -> None:
        self.conn.execute(_INSERT_TIMELINE, values)

    def timeline(self, case_id: int) -> list[dict[str, Any]]:
        rows = self.conn.execute(_TIMELINE_OF, {"case_id": case_id}).mappings()
        return [dict(r) for r in rows]

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
    ) -> list[dict[str, Any]]:
        q = select(cases_t)
        if parked is not None:
            q = q.where(cases_t.c.parked == parked)
        if ids is not None:
            q = q.where(cases_t.c.id.in_(list(ids)))
        if states:
            q = q.where(cases_t.c.state.in_(list(states)))
        if tier:
            q = q.where(cases_t.c.tier == tier)
        if is_open is not None:
            q = q.where(cases_t.c.is_open == is_open)
        if org:
            q = q.where(cases_t.c.unit_code.in_(self._subtree(org)))
        q = q.order_by(cases_t.c.id).limit(limit).offset(offset)
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def _subtree(self, code: str) -> Any:
        sub = select(units_t.c.code).where(units_t.c.code == code).cte("sub", recursive=True)
        sub = sub.union_all(select(units_t.c.code).join(sub, units_t.c.parent_code == sub.c.code))
        return select(sub.c.code)

    # organisation -------------------------------------------------------
    def unit(self, code: str) -> OrgUnit | None:
        r = self.conn.execute(select(units_t).where(units_t.c.code == code)).mappings().first()
        return _unit(r) if r else None

    def person(self, pid: str) -> OrgPerson | None:
        r = self.conn.execute(select(people_t).where(people_t.c.id == pid)).mappings().first()
        return _person(r) if r else None

    def all_units(self) -> list[OrgUnit]:
        return [_unit(r) for r in self.conn.execute(select(units_t).order_by(units_t.c.code)).mappings()]

    def all_people(self) -> list[OrgPerson]:
        return [_person(r) for r in self.conn.execute(select(people_t).order_by(people_t.c.id)).mappings()]

    def count_calendar_days(self) -> int:
        from casecraft.store.models import CalendarDay

        return int(self.conn.execute(select(func.count()).select_from(CalendarDay.__table__)).scalar_one())

    def count_units(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(units_t)).scalar_one())

    def upsert_unit(self, u: OrgUnit, now: datetime) -> str:
        # with its address keywords; the active flag stays as `casecraft org deactivate` left it
        from casecraft.store import org_repo

        return org_repo.save_unit(self, u, now)

    def upsert_person(self, p: OrgPerson, now: datetime) -> str:
        from casecraft.store import org_repo

        return org_repo.save_person(self, p, now)

    # workflow versions ---------------------------------------------------
    def version_by_hash(self, workflow_id: str, content_hash: str) -> tuple[int, int] | None:
        r = self.conn.execute(
            select(versions_t.c.id, versions_t.c.number).where(
                versions_t.c.workflow_id == workflow_id, versions_t.c.content_hash == content_hash)
        ).first()
        return (int(r[0]), int(r[1])) if r else None

    def insert_version(self, workflow_id: str, content_hash: str, spec: str, path: str | None,
                       now: datetime) -> tuple[int, int]:
        nxt = select(func.coalesce(func.max(versions_t.c.number), 0) + literal(1)).where(
            versions_t.c.workflow_id == workflow_id).scalar_subquery()
        try:
            with self.conn.begin_nested():
                r = self.conn.execute(
                    insert(versions_t).values(workflow_id=workflow_id, number=nxt, content_hash=content_hash,
                                              spec=spec, source_path=path, created_at=now)
                    .returning(versions_t.c.id, versions_t.c.number)
                ).first()
        except IntegrityError:
            raise DuplicateKey("workflow version") from None
        assert r is not None
        return int(r[0]), int(r[1])

    def version(self, version_id: int) -> dict[str, Any] | None:
        r = self.conn.execute(select(versions_t).where(versions_t.c.id == version_id)).mappings().first()
        return dict(r) if r else None

    def versions(self) -> list[dict[str, Any]]:
        open_counts = (
            select(cases_t.c.workflow_version_id, func.count().label("open_cases"))
            .where(cases_t.c.is_open.is_(True)).group_by(cases_t.c.workflow_version_id).subquery()
        )
        q = (select(versions_t, func.coalesce(open_counts.c.open_cases, 0).label("open_cases"))
             .outerjoin(open_counts, open_counts.c.workflow_version_id == versions_t.c.id)
             .order_by(versions_t.c.workflow_id, versions_t.c.number))
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def table_rows(self, table: str) -> list[tuple[Any, ...]]:
        t = Case.metadata.tables[table]
        return [tuple(r) for r in self.conn.execute(select(t).order_by(*t.primary_key.columns))]


def _unit(r: Any) -> OrgUnit:
    return OrgUnit(code=r["code"], name=r["name"], tier=r["tier"], kind=r["kind"],
                   parent=r["parent_code"], active=bool(r["active"]), addresses=tuple(r["addresses"] or ()))


def _person(r: Any) -> OrgPerson:
    return OrgPerson(id=r["id"], name=r["name"], unit=r["unit_code"], roles=tuple(r["roles"] or ()),
                     note=r["note"], active=bool(r["active"]))


class Store:
    """The database behind one engine."""

    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.engine: Engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        if migrate:
            ensure_schema(self.engine)

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """One write transaction; committed on success, rolled back on any error."""
        with self.engine.begin() as conn:
            yield Tx(conn)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self.engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
            with conn.begin():
                yield Tx(conn)

    def dispose(self) -> None:
        self.engine.dispose()


class DbOrganisation(Organisation):
    """The organisation read from the database on demand, cached per engine."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self._store = store
        self._missing: set[tuple[str, str]] = set()

    def unit(self, code: str) -> OrgUnit | None:
        if code in self.units:
            return self.units[code]
        if ("unit", code) in self._missing:
            return None
        with self._store.read() as tx:
            u = tx.unit(code)
        if u is None:
            self._missing.add(("unit", code))
        else:
            self.units[code] = u
        return u

    def person(self, pid: str) -> OrgPerson | None:
        # labels try a person first, then a unit: remember misses so a unit code costs one query
        if pid in self.people:
            return self.people[pid]
        if ("person", pid) in self._missing:
            return None
        with self._store.read() as tx:
            p = tx.person(pid)
        if p is None:
            self._missing.add(("person", pid))
        else:
            self.people[pid] = p
        return p

    def load_all(self) -> None:
        with self._store.read() as tx:
            self.units = {u.code: u for u in tx.all_units()}
            self.people = {p.id: p for p in tx.all_people()}

    def forget(self) -> None:
        self.units.clear()
        self.people.clear()
        self._missing.clear()


__all__ = ["DbOrganisation", "DuplicateKey", "Store", "Tx"]
