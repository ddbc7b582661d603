"""Organisation administration: add, move, deactivate, re-load units and people.

Every change needs an admin, is an entry of the admin chain and a new row of
the units' and people's effective-dated history. Nothing is ever deleted.
Timeline entries store the acting person, their unit and the case's unit as
they were at the time, so a move or a deactivation never rewrites history; a
deactivated person can no longer act.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from casecraft.admin import log as adminlog
from casecraft.base.acting import When
from casecraft.base.errors import InputError, Joined, NotFound, RuleError, render
from casecraft.base.text import clean_text
from casecraft.context import Context
from casecraft.store.base import Tx
from casecraft.workflows.org import Organisation, OrgPerson, OrgUnit

_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
GRID_CODE = re.compile(r"\d{15}")


@dataclass
class ReloadResult:
    """What an organisation re-load changed."""

    source: str
    units_added: int = 0
    units_changed: int = 0
    people_added: int = 0
    people_changed: int = 0
    deactivated: list[str] = field(default_factory=list)
    not_in_file: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _unit_data(u: OrgUnit) -> dict[str, Any]:
    return {"code": u.code, "name": u.name, "tier": u.tier, "kind": u.kind, "parent": u.parent, "active": u.active,
            "addresses": list(u.addresses)}


def _person_data(p: OrgPerson) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "unit": p.unit, "roles": list(p.roles), "note": p.note, "active": p.active}


class OrgAdmin:
    """Changes to the organisation; each is one transaction, recorded in the admin chain."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @property
    def workflow(self) -> Any:
        return self.ctx.workflow

    # helpers -------------------------------------------------------------------
    def _record(self, tx: Tx, admin: str, kind: str, when: When, *, units: list[OrgUnit] = (),  # type: ignore[assignment]
                people: list[OrgPerson] = (), extra: dict[str, Any] | None = None) -> int:  # type: ignore[assignment]
        """One admin-chain entry for the change, and the history rows of what it changed."""
        body: dict[str, Any] = {"units": [_unit_data(u) for u in units], "people": [_person_data(p) for p in people]}
        body.update(extra or {})
        seq = adminlog.record(tx, admin, kind, body, when)
        for u in units:
            tx.record_history("unit", u.code, _unit_data(u), when.at, seq)
        for p in people:
            tx.record_history("person", p.id, _person_data(p), when.at, seq)
        return seq

    def load_organisation(self, org: Organisation, *, actor: str | None = None) -> dict[str, int]:
        """Add or update units and people (``casecraft init``); nothing is deleted, so history keeps its references."""
        counts = {"units_added": 0, "units_changed": 0, "people_added": 0, "people_changed": 0}
        with self.ctx.write() as tx:
            admin = adminlog.require_admin(self.ctx, tx, actor) if tx.count_units() else (actor or "init")
            when = self.ctx.when()
            changed_units, changed_people = [], []
            for u in org.units.values():
                r = tx.save_unit(u, when.at)
                if r != "same":
                    counts[f"units_{r}"] += 1
                    changed_units.append(tx.unit(u.code) or u)
            for p in org.people.values():
                r = tx.save_person(p, when.at)
                if r != "same":
                    counts[f"people_{r}"] += 1
                    changed_people.append(tx.person(p.id) or p)
            if changed_units or changed_people:
                self._record(tx, admin, "org.load", when, units=changed_units, people=changed_people)
        return counts

    def _check_roles(self, roles: list[str] | tuple[str, ...]) -> tuple[str, ...]:
        clean = tuple(dict.fromkeys(r.strip() for r in roles if r and r.strip()))
        if not clean:
            raise InputError("give at least one role of the workflow")
        known = self.workflow.roles
        for r in clean:
            if r not in known:
                close = difflib.get_close_matches(r, list(known), n=1, cutoff=0.6)  # as did_you_mean
                if close:
                    raise InputError("unknown role '{role}'; did you mean {suggestion}?; roles: {roles}", role=r,
                                     suggestion=close[0], roles=", ".join(known))
                raise InputError("unknown role '{role}'; roles: {roles}", role=r, roles=", ".join(known))
        return clean

    @staticmethod
    def _name(value: str, what: str, limit: int) -> str:
        clean = clean_text(value, what, limit, required=True, single_line=True)
        assert clean is not None
        return clean

    def _live_unit(self, tx: Tx, code: str, what: str = "unit") -> OrgUnit:
        u = tx.unit(code)
        if u is None:
            raise InputError("unknown {what} '{code}'", what=what, code=code)
        if not u.active:
            raise RuleError("{what} {name}({code}) is deactivated; activate it first", what=what, name=u.name,
                            code=code)
        return u

    def _placed(self, code: str, parent: OrgUnit, tier: str | None, kind: str) -> str:
        """The tier of a new unit under ``parent``; raises if the place breaks the tier ladder."""
        tiers = self.workflow.tiers
        if kind not in ("platform", "department", "area_unit"):
            raise InputError("unknown kind '{kind}'; use platform, department or area_unit", kind=kind)
        if parent.kind != "platform":
            raise InputError("{name}({unit}) is a {kind}; units sit under platform units", name=parent.name,
                             unit=parent.code, kind=parent.kind)
        if tier is not None and tier not in tiers:
            raise InputError("unknown tier '{tier}'; use one of: {tiers}", tier=tier, tiers=", ".join(tiers))
        if kind != "platform":
            if tier is not None and tier != parent.tier:
                raise InputError("a {kind} shares its platform's tier ({parent}), not {tier}", kind=kind,
                                 parent=parent.tier, tier=tier)
            return parent.tier or ""
        idx = tiers.index(parent.tier) if parent.tier in tiers else -1
        if idx <= 0:
            raise InputError("{name}({unit}) is at the lowest tier; no platform unit goes below it", name=parent.name,
                             unit=parent.code)
        below = tiers[idx - 1]
        if tier is not None and tier != below:
            raise InputError("a platform unit under {name}({unit}, {parent}) is at tier {below}, exactly one below; "
                             "not {tier}", name=parent.name, unit=parent.code, parent=parent.tier, below=below,
                             tier=tier)
        if below == tiers[0] and not GRID_CODE.fullmatch(code):
            raise InputError("a grid's code is 15 digits (6 district + 3 street + 3 community + 3 grid); got '{unit}'",
                             unit=code)
        return below

    # commands ------------------------------------------------------------------
    def add_unit(self, code: str, name: str, parent: str, *, tier: str | None = None, kind: str = "platform",
                 addresses: list[str] | tuple[str, ...] = (), actor: str | None = None) -> OrgUnit:
        """Add a unit under ``parent``: a platform one tier below it, or a department/area unit inside it.

        Raises:
            InputError: a taken or malformed code, an unknown parent, a place off the tier ladder.
        """
        code = (code or "").strip()
        if not _ID.fullmatch(code):
            raise InputError("unit code {code!r} must be 1-64 letters, digits, '_', '.' or '-'", code=code)
        name = self._name(name, "the unit's name", 200)
        kws = tuple(dict.fromkeys(self._name(a, "an address keyword", 200) for a in addresses))
        with self.ctx.write() as tx:
            admin = adminlog.require_admin(self.ctx, tx, actor)
            when = self.ctx.when()
            old = tx.unit(code)
            if old is not None:
                raise InputError("unit {code} already exists ({name}); units are never re-used: pick a new code",
                                 code=code, name=old.name)
            up = self._live_unit(tx, parent, "parent unit")
            placed = self._placed(code, up, tier, kind)
            unit = OrgUnit(code=code, name=name, tier=placed, kind=kind, parent=up.code, addresses=kws)
            tx.save_unit(unit, when.at)
            self._record(tx, admin, "org.add_unit", when, units=[unit])
        return unit

    def set_addresses(self, code: str, addresses: list[str] | tuple[str, ...], *,
                      actor: str | None = None) -> OrgUnit:
        """Replace a unit's address keywords (those route hotline tickets that have no grid code)."""
        kws = [self._name(a, "an address keyword", 200) for a in addresses]
        with self.ctx.write() as tx:
            admin = adminlog.require_admin(self.ctx, tx, actor)
            when = self.ctx.when()
            if tx.unit(code) is None:
                raise InputError("unknown unit '{code}'", code=code)
            tx.set_addresses(code, list(dict.fromkeys(kws)), when.at)
            u = tx.unit(code)
            assert u is not None
            self._record(tx, admin, "org.set_addresses", when, units=[u])
        return u

    def add_person(self, pid: str, name: str, unit: str, roles: list[str] | tuple[str, ...], *,
                   note: str | None = None, actor: str | None = None) -> OrgPerson:
        """Add a person to a unit with roles.

        Raises:
            InputError: a taken or malformed id, an unknown unit or role.
        """
        pid = (pid or "").strip()
        if not _ID.fullmatch(pid):
            raise InputError("person id {id!r} must be 1-64 letters, digits, '_', '.' or '-'", id=pid)
        name = self._name(name, "the person's name", 100)
        checked = self._check_roles(list(roles))
        note = self._name(note, "the note", 500) if note else None
        with self.ctx.write() as tx:
            admin = adminlog.require_admin(self.ctx, tx, actor)
            when = self.ctx.when()
            old = tx.person(pid)
            if old is not None:
                raise InputError("person {id} already exists ({name} at {unit}); move them instead",
                                 id=pid, name=old.name, unit=old.unit)
            self._live_unit(tx, unit)
            person = OrgPerson(id=pid, name=name, unit=unit, roles=checked, note=note)
            tx.save_person(person, when.at)
            self._record(tx, admin, "org.add_person", when, people=[person])
        return person

    def move_person(self, pid: str, unit: str, *, roles: list[str] | tuple[str, ...] | None = None,
                    note: str | None = None, actor: str | None = None) -> OrgPerson:
        """Move a person to another unit (optionally with new roles and note).

        Their past timeline entries keep the unit and role they acted with.

        Raises:
            NotFound: no such person.
            InputError: an unknown unit or role, or the person is already there with those roles.
        """
        checked = self._check_roles(list(roles)) if roles else None
        with self.ctx.write() as tx:
            admin = adminlog.require_admin(self.ctx, tx, actor)
            when = self.ctx.when()
            old = tx.person(pid)
            if old is None:
                raise NotFound("no person '{id}'", id=pid)
            self._live_unit(tx, unit)
            new = OrgPerson(id=old.id, name=old.name, unit=unit, roles=checked or old.roles,
                            note=self._name(note, "the note", 500) if note else old.note, active=old.active)
            if (new.unit, new.roles, new.note) == (old.unit, old.roles, old.note):
                raise InputError("{name}({id}) is already at {unit} with roles {roles}", name=old.name, id=pid,
                                 unit=unit, roles=", ".join(old.roles))
            tx.save_person(new, when.at)
            self._record(tx, admin, "org.move_person", when, people=[new],
                         extra={"from": {"unit": old.unit, "roles": list(old.roles)}})
        return new

    def deactivate(self, ref: str, *, actor: str | None = None) -> OrgPerson | OrgUnit:
        """Deactivate a person (they can no longer act) or a unit (no new cases route to it).

        A unit is refused while it has active people, active child units or open cases.

        Raises:
            NotFound: no person or unit ``ref``.
            RuleError: the unit is still in use; the message says what to move first.
        """
        return self._set_active(ref, False, actor)

    def activate(self, ref: str, *, actor: str | None = None) -> OrgPerson | OrgUnit:
        """Re-activate a deactivated person or unit (an admin's act, recorded)."""
        return self._set_active(ref, True, actor)

    def _set_active(self, ref: str, active: bool, actor: str | None) -> OrgPerson | OrgUnit:
        from dataclasses import replace

        with self.ctx.write() as tx:
            admin = adminlog.require_admin(self.ctx, tx, actor)
            when = self.ctx.when()
            kind = "org.activate" if active else "org.deactivate"
            person = tx.person(ref)
            if person is not None:
                if active:
                    self._live_unit(tx, person.unit)
                tx.set_active("person", ref, active, when.at)
                p2 = replace(person, active=active)
                self._record(tx, admin, kind, when, people=[p2])
                return p2
            u = tx.unit(ref)
            if u is None:
                raise NotFound("no person or unit '{ref}'", ref=ref)
            if not active:
                self._check_unused(tx, u)
            elif u.parent is not None:
                self._live_unit(tx, u.parent, "parent unit")
            tx.set_active("unit", ref, active, when.at)
            u2 = replace(u, active=active)
            self._record(tx, admin, kind, when, units=[u2])
            return u2

    def _check_unused(self, tx: Tx, u: OrgUnit, leaving: set[str] | frozenset[str] = frozenset()) -> None:
        people = [p for p in tx.active_people_in(u.code) if p not in leaving]
        children = [c for c in tx.active_children(u.code) if c not in leaving]
        cases = tx.open_cases_at(u.code)
        why = []
        if people:
            why.append(render("active people {people} (move or deactivate them)", {"people": ", ".join(people)}))
        if children:
            why.append(render("active units {units} below it (deactivate them first)",
                              {"units": ", ".join(children)}))
        if cases:
            why.append(render("{count} open case(s) (close or route them elsewhere first)", {"count": cases}))
        if why:
            raise RuleError("{name}({code}) is still in use: {why}", name=u.name, code=u.code, why=Joined(why),
                            unit=u.code)

    def reload_organisation(self, path: str | os.PathLike[str], *, deactivate_missing: bool = False,
                            actor: str | None = None) -> ReloadResult:
        """Re-load units and people from organisation YAML, or people from a CSV file.

        What the file names is added or updated (name, place, roles, addresses);
        active flags are left as they are; whatever the file does not name is
        kept, or deactivated with ``deactivate_missing``. All in one transaction,
        one admin-chain entry.

        Args:
            path: organisation.yaml or a people CSV (``id,name,unit,roles[,note]``).

        Raises:
            WorkflowError: the YAML is invalid (every problem, FILE:LINE:COL).
            InputError: the CSV has bad lines or names unknown units or roles (every one listed).
        """
        p = Path(path)
        if not p.is_file():
            raise InputError("cannot read {path}: no such file", path=str(p))
        csv = p.suffix.lower() == ".csv"
        units_in: list[OrgUnit] = []
        people_in: list[OrgPerson]
        if csv:
            people_in = self._people_csv(p)
        else:
            units_in, people_in = self._org_yaml(p)
        result = ReloadResult(source=str(p))
        with self.ctx.write() as tx:
            admin = adminlog.require_admin(self.ctx, tx, actor)
            when = self.ctx.when()
            now = when.at
            stored_units = {u.code: u for u in tx.all_units()}
            if csv:
                problems = []
                for person in people_in:
                    u = stored_units.get(person.unit)
                    if u is None:
                        problems.append(render("{path}: person {id}: unknown unit '{unit}'",
                                               {"path": str(p), "id": person.id, "unit": person.unit}))
                    elif not u.active:
                        problems.append(render("{path}: person {id}: unit {unit} is deactivated",
                                               {"path": str(p), "id": person.id, "unit": person.unit}))
                if problems:
                    raise InputError("{count} problem(s) in {path}; nothing was loaded:\n{listed}",
                                     count=len(problems), path=str(p), listed="\n".join(problems))
            changed_units: list[OrgUnit] = []
            changed_people: list[OrgPerson] = []
            for u in units_in:
                r = tx.save_unit(u, now)
                if r != "same":
                    setattr(result, f"units_{r}", getattr(result, f"units_{r}") + 1)
                    changed_units.append(tx.unit(u.code) or u)
            for person in people_in:
                r = tx.save_person(person, now)
                if r != "same":
                    setattr(result, f"people_{r}", getattr(result, f"people_{r}") + 1)
                    changed_people.append(tx.person(person.id) or person)
            named = {u.code for u in units_in} | {x.id for x in people_in}
            missing_people = [x for x in tx.all_people() if x.id not in named and x.active]
            missing_units = [] if csv else [u for u in stored_units.values() if u.code not in named and u.active]
            result.not_in_file = [x.id for x in missing_people] + [u.code for u in missing_units]
            if deactivate_missing:
                from dataclasses import replace

                leaving = set(result.not_in_file)
                for u in missing_units:
                    self._check_unused(tx, u, leaving)
                for x in missing_people:
                    tx.set_active("person", x.id, False, now)
                    changed_people.append(replace(x, active=False))
                for u in missing_units:
                    tx.set_active("unit", u.code, False, now)
                    changed_units.append(replace(u, active=False))
                result.deactivated, result.not_in_file = result.not_in_file, []
            if changed_units or changed_people:
                self._record(tx, admin, "org.reload", when, units=changed_units, people=changed_people,
                             extra={"file": p.name})
        return result

    def _org_yaml(self, path: Path) -> tuple[list[OrgUnit], list[OrgPerson]]:
        from casecraft.workflows.loader import load_organisation

        org = load_organisation(path, self.workflow)
        return list(org.units.values()), list(org.people.values())

    def _people_csv(self, path: Path) -> list[OrgPerson]:
        from casecraft.intake.hotline import decode_utf8
        from casecraft.workflows.org import people_from_csv

        people, problems = people_from_csv(decode_utf8(path.read_bytes(), str(path)), str(path))
        known = self.workflow.roles
        for person in people:
            bad = [r for r in person.roles if r not in known]
            if bad:
                problems.append(render("{path}: person {id}: unknown role(s) {bad}; roles: {roles}",
                                       {"path": str(path), "id": person.id, "bad": ", ".join(bad),
                                        "roles": ", ".join(known)}))
        if problems:
            raise InputError("{count} problem(s) in {file}; nothing was loaded:\n{problems}", count=len(problems),
                             file=str(path), problems="\n".join(problems))
        return people
