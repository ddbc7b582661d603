"""Organisation administration: add, move, deactivate, re-load units and people.

Mixed into :class:`casecraft.engine.Engine` (through :class:`casecraft.intake.Intake`).
Nothing is ever deleted. Timeline entries store the acting person, their unit
and the case's unit as they were at the time, so a move or a deactivation
never rewrites history; a deactivated person can no longer act.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casecraft.base.errors import InputError, NotFound, RuleError
from casecraft.workflows.org import OrgPerson, OrgUnit

if TYPE_CHECKING:
    from casecraft.engine import Engine

    _Base = Engine
else:
    _Base = object

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


class OrgAdmin(_Base):
    """Engine methods that change the organisation; each is one transaction."""

    # helpers -------------------------------------------------------------------
    def _org_changed(self) -> None:
        forget = getattr(self.org, "forget", None)
        if forget is not None:
            forget()

    def _check_roles(self, roles: list[str] | tuple[str, ...]) -> tuple[str, ...]:
        from casecraft.workflows.validate import did_you_mean

        clean = tuple(dict.fromkeys(r.strip() for r in roles if r and r.strip()))
        if not clean:
            raise InputError("give at least one role (--role), see `casecraft workflow show`")
        known = self.workflow.roles
        for r in clean:
            if r not in known:
                hint = did_you_mean(r, known)
                raise InputError(f"unknown role '{r}'" + (f"; {hint}" if hint else "")
                                 + f"; roles: {', '.join(known)}")
        return clean

    @staticmethod
    def _name(value: str, what: str, limit: int) -> str:
        value = (value or "").strip()
        if not value:
            raise InputError(f"{what} must not be empty")
        if len(value) > limit or any(ord(c) < 32 for c in value):
            raise InputError(f"{what} must be at most {limit} characters without control characters")
        return value

    def _live_unit(self, tx: Any, code: str, what: str = "unit") -> OrgUnit:
        from casecraft.store import org_repo

        u = org_repo.unit(tx, code)
        if u is None:
            raise InputError(f"unknown {what} '{code}'; see `casecraft org show`")
        if not u.active:
            raise RuleError(f"{what} {u.name}({code}) is deactivated; activate it first with "
                            f"`casecraft org activate {code}`")
        return u

    def _placed(self, code: str, parent: OrgUnit, tier: str | None, kind: str) -> str:
        """The tier of a new unit under ``parent``; raises if the place breaks the tier ladder."""
        tiers = self.workflow.tiers
        if kind not in ("platform", "department", "area_unit"):
            raise InputError(f"unknown kind '{kind}'; use platform, department or area_unit")
        if parent.kind != "platform":
            raise InputError(f"{parent.name}({parent.code}) is a {parent.kind}; units sit under platform units")
        if tier is not None and tier not in tiers:
            raise InputError(f"unknown tier '{tier}'; use one of: {', '.join(tiers)}")
        if kind != "platform":
            if tier is not None and tier != parent.tier:
                raise InputError(f"a {kind} shares its platform's tier ({parent.tier}), not {tier}")
            return parent.tier or ""
        idx = tiers.index(parent.tier) if parent.tier in tiers else -1
        if idx <= 0:
            raise InputError(f"{parent.name}({parent.code}) is at the lowest tier; no platform unit goes below it")
        below = tiers[idx - 1]
        if tier is not None and tier != below:
            raise InputError(f"a platform unit under {parent.name}({parent.code}, {parent.tier}) is at tier "
                             f"{below}, exactly one below; not {tier}")
        if below == tiers[0] and not GRID_CODE.fullmatch(code):
            raise InputError(f"a grid's code is 15 digits (6 district + 3 street + 3 community + 3 grid); "
                             f"got '{code}'")
        return below

    # commands ------------------------------------------------------------------
    def add_unit(self, code: str, name: str, parent: str, *, tier: str | None = None,
                 kind: str = "platform", addresses: list[str] | tuple[str, ...] = ()) -> OrgUnit:
        """Add a unit under ``parent``: a platform one tier below it, or a department/area unit inside it.

        Raises:
            InputError: a taken or malformed code, an unknown parent, a place off the tier ladder.
        """
        from casecraft.store import org_repo

        self._ensure_org()
        code = (code or "").strip()
        if not _ID.fullmatch(code):
            raise InputError(f"unit code {code!r} must be 1-64 letters, digits, '_', '.' or '-'")
        name = self._name(name, "the unit's name", 200)
        kws = tuple(dict.fromkeys(self._name(a, "an address keyword", 200) for a in addresses))
        with self.store.write() as tx:
            old = org_repo.unit(tx, code)
            if old is not None:
                raise InputError(f"unit {code} already exists ({old.name}); units are never re-used: "
                                 "pick a new code")
            up = self._live_unit(tx, parent, "parent unit")
            placed = self._placed(code, up, tier, kind)
            unit = OrgUnit(code=code, name=name, tier=placed, kind=kind, parent=up.code, addresses=kws)
            org_repo.save_unit(tx, unit, self.now())
        self._org_changed()
        return unit

    def set_addresses(self, code: str, addresses: list[str] | tuple[str, ...]) -> OrgUnit:
        """Replace a unit's address keywords (those route hotline tickets that have no grid code)."""
        from casecraft.store import org_repo

        self._ensure_org()
        kws = [self._name(a, "an address keyword", 200) for a in addresses]
        with self.store.write() as tx:
            u = org_repo.unit(tx, code)
            if u is None:
                raise InputError(f"unknown unit '{code}'; see `casecraft org show`")
            org_repo.set_addresses(tx, code, list(dict.fromkeys(kws)), self.now())
            u = org_repo.unit(tx, code)
        self._org_changed()
        assert u is not None
        return u

    def add_person(self, pid: str, name: str, unit: str, roles: list[str] | tuple[str, ...], *,
                   note: str | None = None) -> OrgPerson:
        """Add a person to a unit with roles.

        Raises:
            InputError: a taken or malformed id, an unknown unit or role.
        """
        from casecraft.store import org_repo

        self._ensure_org()
        pid = (pid or "").strip()
        if not _ID.fullmatch(pid):
            raise InputError(f"person id {pid!r} must be 1-64 letters, digits, '_', '.' or '-'")
        name = self._name(name, "the person's name", 100)
        checked = self._check_roles(list(roles))
        note = self._name(note, "the note", 500) if note else None
        with self.store.write() as tx:
            old = tx.person(pid)
            if old is not None:
                raise InputError(f"person {pid} already exists ({old.name} at {old.unit}); "
                                 f"use `casecraft org move-person {pid} --to UNIT` to move them")
            self._live_unit(tx, unit)
            person = OrgPerson(id=pid, name=name, unit=unit, roles=checked, note=note)
            org_repo.save_person(tx, person, self.now())
        self._org_changed()
        return person

    def move_person(self, pid: str, unit: str, *, roles: list[str] | tuple[str, ...] | None = None,
                    note: str | None = None) -> OrgPerson:
        """Move a person to another unit (optionally with new roles and note).

        Their past timeline entries keep the unit they acted from.

        Raises:
            NotFound: no such person.
            InputError: an unknown unit or role, or the person is already there with those roles.
        """
        from casecraft.store import org_repo

        self._ensure_org()
        checked = self._check_roles(list(roles)) if roles else None
        with self.store.write() as tx:
            old = tx.person(pid)
            if old is None:
                raise NotFound(f"no person '{pid}'; see `casecraft org show`")
            self._live_unit(tx, unit)
            new = OrgPerson(id=old.id, name=old.name, unit=unit, roles=checked or old.roles,
                            note=self._name(note, "the note", 500) if note else old.note, active=old.active)
            if (new.unit, new.roles, new.note) == (old.unit, old.roles, old.note):
                raise InputError(f"{old.name}({pid}) is already at {unit} with roles {', '.join(old.roles)}")
            org_repo.save_person(tx, new, self.now())
        self._org_changed()
        return new

    def deactivate(self, ref: str) -> OrgPerson | OrgUnit:
        """Deactivate a person (they can no longer act) or a unit (no new cases route to it).

        A unit is refused while it has active people, active child units or open cases.

        Raises:
            NotFound: no person or unit ``ref``.
            RuleError: the unit is still in use; the message says what to move first.
        """
        return self._set_active(ref, False)

    def activate(self, ref: str) -> OrgPerson | OrgUnit:
        """Re-activate a deactivated person or unit."""
        return self._set_active(ref, True)

    def _set_active(self, ref: str, active: bool) -> OrgPerson | OrgUnit:
        from dataclasses import replace

        from casecraft.store import org_repo

        self._ensure_org()
        now = self.now()
        with self.store.write() as tx:
            person = tx.person(ref)
            if person is not None:
                if active:
                    self._live_unit(tx, person.unit)
                org_repo.set_active(tx, "person", ref, active, now)
                result: OrgPerson | OrgUnit = replace(person, active=active)
            else:
                u = org_repo.unit(tx, ref)
                if u is None:
                    raise NotFound(f"no person or unit '{ref}'; see `casecraft org show`")
                if not active:
                    self._check_unused(tx, u)
                elif u.parent is not None:
                    self._live_unit(tx, u.parent, "parent unit")
                org_repo.set_active(tx, "unit", ref, active, now)
                result = replace(u, active=active)
        self._org_changed()
        return result

    def _check_unused(self, tx: Any, u: OrgUnit, leaving: set[str] | frozenset[str] = frozenset()) -> None:
        from casecraft.store import org_repo

        people = [p for p in org_repo.active_people_in(tx, u.code) if p not in leaving]
        children = [c for c in org_repo.active_children(tx, u.code) if c not in leaving]
        cases = org_repo.open_cases_at(tx, u.code)
        why = []
        if people:
            why.append(f"active people {', '.join(people)} (move or deactivate them)")
        if children:
            why.append(f"active units {', '.join(children)} below it (deactivate them first)")
        if cases:
            why.append(f"{cases} open case(s) (close or route them elsewhere first)")
        if why:
            raise RuleError(f"{u.name}({u.code}) is still in use: " + "; ".join(why), unit=u.code)

    def reload_organisation(self, path: str | os.PathLike[str] | None = None, *,
                            deactivate_missing: bool = False) -> ReloadResult:
        """Re-load units and people from organisation YAML, or people from a CSV file.

        What the file names is added or updated (name, place, roles, addresses);
        active flags are left as they are; whatever the file does not name is
        kept, or deactivated with ``deactivate_missing``. All in one transaction.

        Args:
            path: organisation.yaml or a people CSV (``id,name,unit,roles[,note]``);
                default: the organisation file the workflow names.

        Raises:
            WorkflowError: the YAML is invalid (every problem, FILE:LINE:COL).
            InputError: the CSV has bad lines or names unknown units or roles (every one listed).
        """
        from casecraft.store import org_repo

        self._ensure_org()
        if path is None:
            if self.workflow.org_path is None:
                raise InputError("the workflow names no organisation file; give the file to re-load")
            path = self.workflow.org_path
        p = Path(path)
        if not p.is_file():
            raise InputError(f"cannot read {p}: no such file")
        csv = p.suffix.lower() == ".csv"
        units_in: list[OrgUnit] = []
        people_in: list[OrgPerson]
        if csv:
            people_in = self._people_csv(p)
        else:
            units_in, people_in = self._org_yaml(p)
        result = ReloadResult(source=str(p))
        now = self.now()
        with self.store.write() as tx:
            stored_units = {u.code: u for u in org_repo.units(tx)}
            if csv:
                problems = []
                for person in people_in:
                    u = stored_units.get(person.unit)
                    if u is None:
                        problems.append(f"{p}: person {person.id}: unknown unit '{person.unit}'")
                    elif not u.active:
                        problems.append(f"{p}: person {person.id}: unit {person.unit} is deactivated")
                if problems:
                    raise InputError(f"{len(problems)} problem(s) in {p}; nothing was loaded:\n" + "\n".join(problems))
            for u in units_in:
                r = org_repo.save_unit(tx, u, now)
                if r != "same":
                    setattr(result, f"units_{r}", getattr(result, f"units_{r}") + 1)
            for person in people_in:
                r = org_repo.save_person(tx, person, now)
                if r != "same":
                    setattr(result, f"people_{r}", getattr(result, f"people_{r}") + 1)
            named = {u.code for u in units_in} | {x.id for x in people_in}
            missing_people = [x for x in tx.all_people() if x.id not in named and x.active]
            missing_units = [] if csv else [u for u in stored_units.values() if u.code not in named and u.active]
            result.not_in_file = [x.id for x in missing_people] + [u.code for u in missing_units]
            if deactivate_missing:
                leaving = set(result.not_in_file)
                for u in missing_units:
                    self._check_unused(tx, u, leaving)
                for x in missing_people:
                    org_repo.set_active(tx, "person", x.id, False, now)
                for u in missing_units:
                    org_repo.set_active(tx, "unit", u.code, False, now)
                result.deactivated, result.not_in_file = result.not_in_file, []
        self._org_changed()
        return result

    def _org_yaml(self, path: Path) -> tuple[list[OrgUnit], list[OrgPerson]]:
        from pydantic import ValidationError

        from casecraft.base.errors import Problem, WorkflowError
        from casecraft.workflows.loader import _pydantic_problems, organisation_from_file
        from casecraft.workflows.model import OrganisationFile
        from casecraft.workflows.validate import validate_organisation
        from casecraft.workflows.yamlio import plain, read_yaml

        raw, _ = read_yaml(path)
        if not isinstance(raw, dict):
            raise WorkflowError([Problem(str(path), 1, 1, "the organisation file must be a mapping with keys "
                                         "units and people")])
        try:
            org_file = OrganisationFile.model_validate(plain(raw))
        except ValidationError as exc:
            raise WorkflowError(_pydantic_problems(exc, raw, str(path), OrganisationFile)) from None
        problems = validate_organisation(org_file, raw, str(path), self.workflow.file)
        if problems:
            raise WorkflowError(problems)
        org = organisation_from_file(org_file)
        return list(org.units.values()), list(org.people.values())

    def _people_csv(self, path: Path) -> list[OrgPerson]:
        from casecraft.intake.hotline import decode_utf8
        from casecraft.workflows.org import people_from_csv

        people, problems = people_from_csv(decode_utf8(path.read_bytes(), str(path)), str(path))
        known = self.workflow.roles
        for person in people:
            bad = [r for r in person.roles if r not in known]
            if bad:
                problems.append(f"{path}: person {person.id}: unknown role(s) {', '.join(bad)}; "
                                f"roles: {', '.join(known)}")
        if problems:
            raise InputError(f"{len(problems)} problem(s) in {path}; nothing was loaded:\n" + "\n".join(problems))
        return people
