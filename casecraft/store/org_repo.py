"""Queries behind the organisation: units with their address keywords, people, and their history.

Rows are never deleted: a unit or person leaves by being deactivated, so every
timeline entry that names them (``actor_id``, ``actor_unit``, ``unit_code``)
still resolves. Every change also closes the current ``org_history`` row of
the unit or person and opens a new one, so what they were at any time can be
looked up (a rename never rewrites who did what).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, func, insert, select, update

from casecraft.base.records import OrgPerson, OrgUnit
from casecraft.store import direct
from casecraft.store.models import Case, OrgHistory, Person, Unit

units_t = cast(Table, Unit.__table__)
people_t = cast(Table, Person.__table__)
cases_t = cast(Table, Case.__table__)
history_t = cast(Table, OrgHistory.__table__)


def unit_from(r: Any) -> OrgUnit:
    return OrgUnit(code=r["code"], name=r["name"], tier=r["tier"], kind=r["kind"], parent=r["parent_code"],
                   active=bool(r["active"]), addresses=tuple(r["addresses"] or ()))


_UNIT = select(units_t).where(units_t.c.code == bindparam("code"))
# what a person is as the services see them (read by every step: no more columns than OrgPerson has)
_PERSON = (select(people_t.c.id, people_t.c.name, people_t.c.unit_code, people_t.c.roles, people_t.c.note,
                  people_t.c.active).where(people_t.c.id == bindparam("id")))


def person_from(r: Any) -> OrgPerson:
    return OrgPerson(id=r["id"], name=r["name"], unit=r["unit_code"], roles=tuple(r["roles"] or ()),
                     note=r["note"], active=bool(r["active"]))


class OrgQueries:
    """Units, people and their effective-dated history."""

    conn: Connection

    def unit(self, code: str) -> OrgUnit | None:
        r = self.conn.execute(_UNIT, {"code": code}).mappings().first()
        return unit_from(r) if r else None

    def person(self, pid: str) -> OrgPerson | None:
        rows = direct.run(self.conn, _PERSON, {"id": pid})
        if not rows:
            return None
        pid_, name, unit, roles, note, active = rows[0]  # type: ignore[index]
        return OrgPerson(id=pid_, name=name, unit=unit, roles=tuple(roles or ()), note=note, active=bool(active))

    def all_units(self) -> list[OrgUnit]:
        return [unit_from(r) for r in self.conn.execute(select(units_t).order_by(units_t.c.code)).mappings()]

    def all_people(self) -> list[OrgPerson]:
        return [person_from(r) for r in self.conn.execute(select(people_t).order_by(people_t.c.id)).mappings()]

    def count_units(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(units_t)).scalar_one())

    def save_unit(self, u: OrgUnit, now: datetime) -> str:
        """Add a unit, or update its name, place and addresses; its active flag is kept.

        Returns:
            "added", "changed" or "same".
        """
        values = {"name": u.name, "tier": u.tier, "kind": u.kind, "parent_code": u.parent,
                  "addresses": list(u.addresses), "updated_at": now}
        old = self.unit(u.code)
        if old is None:
            self.conn.execute(insert(units_t).values(code=u.code, active=u.active, **values))
            return "added"
        if (old.name, old.tier, old.kind, old.parent, old.addresses) != (u.name, u.tier, u.kind, u.parent,
                                                                         u.addresses):
            self.conn.execute(update(units_t).where(units_t.c.code == u.code).values(**values))
            return "changed"
        return "same"

    def save_person(self, p: OrgPerson, now: datetime) -> str:
        """Add a person, or update name, unit, roles and note; the active flag is kept.

        Returns:
            "added", "changed" or "same".
        """
        values = {"name": p.name, "unit_code": p.unit, "roles": list(p.roles), "note": p.note, "updated_at": now}
        old = self.person(p.id)
        if old is None:
            self.conn.execute(insert(people_t).values(id=p.id, active=p.active, **values))
            return "added"
        if (old.name, old.unit, old.roles, old.note) != (p.name, p.unit, p.roles, p.note):
            self.conn.execute(update(people_t).where(people_t.c.id == p.id).values(**values))
            return "changed"
        return "same"

    def set_active(self, kind: str, ref: str, active: bool, now: datetime) -> None:
        """Activate or deactivate one unit (``kind`` "unit") or person ("person")."""
        t, key = (units_t, units_t.c.code) if kind == "unit" else (people_t, people_t.c.id)
        self.conn.execute(update(t).where(key == ref).values(active=active, updated_at=now))

    def set_addresses(self, code: str, addresses: list[str], now: datetime) -> None:
        self.conn.execute(update(units_t).where(units_t.c.code == code).values(addresses=addresses,
                                                                             updated_at=now))

    def active_people_in(self, code: str) -> list[str]:
        return list(self.conn.execute(
            select(people_t.c.id).where(people_t.c.unit_code == code, people_t.c.active.is_(True))
            .order_by(people_t.c.id)).scalars())

    def active_children(self, code: str) -> list[str]:
        return list(self.conn.execute(
            select(units_t.c.code).where(units_t.c.parent_code == code, units_t.c.active.is_(True))
            .order_by(units_t.c.code)).scalars())

    def open_cases_at(self, code: str) -> int:
        """Open cases whose handling unit or grid is ``code``."""
        return int(self.conn.execute(
            select(func.count()).select_from(cases_t).where(
                cases_t.c.is_open.is_(True), (cases_t.c.unit_code == code) | (cases_t.c.grid_code == code))
        ).scalar_one())

    def record_history(self, kind: str, ref: str, data: dict[str, Any], now: datetime,
                       admin_seq: int | None) -> None:
        """Close the current history row of a unit or person and open one with ``data`` from ``now``."""
        self.conn.execute(update(history_t).where(history_t.c.kind == kind, history_t.c.ref == ref,
                                                  history_t.c.valid_to.is_(None)).values(valid_to=now))
        self.conn.execute(insert(history_t).values(kind=kind, ref=ref, valid_from=now, valid_to=None, data=data,
                                                   admin_seq=admin_seq))

    def all_history(self) -> list[dict[str, Any]]:
        """Every history row, by unit/person and time (the audit's view)."""
        q = select(history_t).order_by(history_t.c.kind, history_t.c.ref, history_t.c.id)
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def history(self, kind: str, ref: str) -> list[dict[str, Any]]:
        q = select(history_t).where(history_t.c.kind == kind, history_t.c.ref == ref).order_by(history_t.c.id)
        return [dict(r) for r in self.conn.execute(q).mappings()]


__all__ = ["OrgQueries", "person_from", "unit_from"]
