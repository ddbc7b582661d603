"""Queries behind organisation administration: units with their address keywords, people, moves.

Rows are never deleted: a unit or person leaves by being deactivated, so every
timeline entry that names them (``actor_id``, ``actor_unit``, ``unit_code``)
still resolves to who they were.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from casecraft.store.models import Case, Person, Unit
from casecraft.store.repo import Tx
from casecraft.workflows.org import OrgPerson, OrgUnit

units_t = Unit.__table__
people_t = Person.__table__
cases_t = Case.__table__


def _unit(r: Any) -> OrgUnit:
    return OrgUnit(code=r["code"], name=r["name"], tier=r["tier"], kind=r["kind"], parent=r["parent_code"],
                   active=bool(r["active"]), addresses=tuple(r["addresses"] or ()))


def units(tx: Tx) -> list[OrgUnit]:
    """Every unit, with its address keywords."""
    return [_unit(r) for r in tx.conn.execute(select(units_t).order_by(units_t.c.code)).mappings()]


def unit(tx: Tx, code: str) -> OrgUnit | None:
    r = tx.conn.execute(select(units_t).where(units_t.c.code == code)).mappings().first()
    return _unit(r) if r else None


def save_unit(tx: Tx, u: OrgUnit, now: datetime) -> str:
    """Add a unit, or update its name, place and addresses; its active flag is kept.

    Returns:
        "added", "changed" or "same".
    """
    values = {"name": u.name, "tier": u.tier, "kind": u.kind, "parent_code": u.parent,
              "addresses": list(u.addresses), "updated_at": now}
    old = unit(tx, u.code)
    if old is None:
        tx.conn.execute(insert(units_t).values(code=u.code, active=u.active, **values))
        return "added"
    if (old.name, old.tier, old.kind, old.parent, old.addresses) != (u.name, u.tier, u.kind, u.parent, u.addresses):
        tx.conn.execute(update(units_t).where(units_t.c.code == u.code).values(**values))
        return "changed"
    return "same"


def save_person(tx: Tx, p: OrgPerson, now: datetime) -> str:
    """Add a person, or update name, unit, roles and note; the active flag is kept.

    Returns:
        "added", "changed" or "same".
    """
    values = {"name": p.name, "unit_code": p.unit, "roles": list(p.roles), "note": p.note, "updated_at": now}
    old = tx.person(p.id)
    if old is None:
        tx.conn.execute(insert(people_t).values(id=p.id, active=p.active, **values))
        return "added"
    if (old.name, old.unit, old.roles, old.note) != (p.name, p.unit, p.roles, p.note):
        tx.conn.execute(update(people_t).where(people_t.c.id == p.id).values(**values))
        return "changed"
    return "same"


def set_active(tx: Tx, kind: str, ref: str, active: bool, now: datetime) -> None:
    """Activate or deactivate one unit (``kind`` "unit") or person ("person")."""
    t, key = (units_t, units_t.c.code) if kind == "unit" else (people_t, people_t.c.id)
    tx.conn.execute(update(t).where(key == ref).values(active=active, updated_at=now))


def set_addresses(tx: Tx, code: str, addresses: list[str], now: datetime) -> None:
    tx.conn.execute(update(units_t).where(units_t.c.code == code).values(addresses=addresses, updated_at=now))


def active_people_in(tx: Tx, code: str) -> list[str]:
    return list(tx.conn.execute(
        select(people_t.c.id).where(people_t.c.unit_code == code, people_t.c.active.is_(True))
        .order_by(people_t.c.id)).scalars())


def active_children(tx: Tx, code: str) -> list[str]:
    return list(tx.conn.execute(
        select(units_t.c.code).where(units_t.c.parent_code == code, units_t.c.active.is_(True))
        .order_by(units_t.c.code)).scalars())


def open_cases_at(tx: Tx, code: str) -> int:
    """Open cases whose handling unit or grid is ``code``."""
    return int(tx.conn.execute(
        select(func.count()).select_from(cases_t).where(
            cases_t.c.is_open.is_(True), (cases_t.c.unit_code == code) | (cases_t.c.grid_code == code))
    ).scalar_one())
