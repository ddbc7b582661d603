"""Who may act on a case, and where a step sends it: the rules every case service shares.

Both read the organisation through the action's own transaction, so a
deactivation or a move made by another process is obeyed at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from casecraft.base.errors import InputError, PermissionDenied, render
from casecraft.base.records import CaseRow
from casecraft.cases.timeline import Actor
from casecraft.workflows.org import Organisation, OrgPerson
from casecraft.workflows.shape import Transition
from casecraft.workflows.spec import Workflow

ADMIN_ROLE = "admin"


class People(Protocol):
    def person(self, pid: str) -> OrgPerson | None: ...


def acting_person(people: People, actor: str) -> OrgPerson:
    """The person ``actor`` as stored now: read through a transaction (``Tx``), or from the organisation the
    process keeps (``OrgView``) once the transaction has checked it against the administrative revision (every
    change to a person is an administrative act, recorded in that chain in the same transaction).

    Raises:
        InputError: no such person.
        PermissionDenied: the person is deactivated.
    """
    p = people.person(actor)
    if p is None:
        raise InputError("unknown person '{actor}'", actor=actor)
    if not p.active:
        raise PermissionDenied("person '{actor}' is deactivated", actor=actor)
    return p


def actor_of(person: OrgPerson, roles: Sequence[str] = (), on_behalf_of: str | None = None) -> Actor:
    """The actor snapshot of an entry: the role used is the first of ``roles`` the person has."""
    role = next((r for r in person.roles if r in roles), person.roles[0] if person.roles else None)
    return Actor(id=person.id, name=person.name, role=role, unit=person.unit, on_behalf_of=on_behalf_of)


def may_act(wf: Workflow, org: Organisation, tr: Transition, person: OrgPerson, case: CaseRow) -> str | None:
    """None if ``person`` may fire ``tr`` on ``case``; else the reason why not."""
    roles = [r for r in person.roles if r in tr.roles]
    if not roles:
        allowed = ", ".join(f"{r}({wf.roles[r].label})" if r in wf.roles else r for r in tr.roles)
        return render("{name}({id}) has role(s) {roles}; '{trigger}' here needs one of: {allowed}",
                      {"name": person.name, "id": person.id, "roles": ", ".join(person.roles),
                       "trigger": tr.trigger, "allowed": allowed})
    if tr.actor == "assignee":
        if person.id in case.assignees or person.unit in case.assignees:
            return None
        return render("'{trigger}' is for the parties the case was dispatched to ({parties}); "
                      "{name} is not one of them",
                      {"trigger": tr.trigger, "parties": org.names(list(case.assignees)) or "none",
                       "name": person.name})
    unit = case.unit_code
    if person.unit == unit:
        return None
    if any(wf.roles[r].scope == "subtree" for r in roles if r in wf.roles) and org.within(unit, person.unit):
        return None
    return render("the case is at {unit_name}({unit}); {name} works at {own_name}({own}) and may act only on "
                  "that unit's cases", {"unit_name": org.label(unit), "unit": unit, "name": person.name,
                                        "own_name": org.label(person.unit), "own": person.unit})


def case_at(unit: str) -> CaseRow:
    """A case-shaped probe at ``unit``: may a person act there before a case exists (report, intake)?"""
    from datetime import UTC, datetime

    t = datetime(2000, 1, 1, tzinfo=UTC)
    return CaseRow(id=0, workflow_version_id=0, state="", tier="", unit_code=unit, grid_code=None, category_code="",
                   urgency="", source="", ref=None, description="", address=None, reporter_id="", assignees=(),
                   resolved_tier=None, is_open=True, created_at=t, updated_at=t, closed_at=None, version=0,
                   last_hash=None)


@dataclass(frozen=True)
class Route:
    """Where a step sends a case: its unit and grid after it, and the checked targets."""

    unit: str
    grid: str | None
    targets: tuple[str, ...]


def route(wf: Workflow, org: Organisation, tr: Transition, case: CaseRow, to_tier: str,
          targets: Sequence[str]) -> Route:
    """The case's unit and grid after ``tr``, and the parties it names.

    A change of tier goes to the platform of the case's grid at that tier
    (``route: by_grid``), or down to one unit chosen by the actor (``route:
    to_unit``: ``targets``, else the unit on the way to the case's grid). A
    same-tier step that requires a target dispatches to persons or units of the
    case's platform (the category's responsible department by default).

    Raises:
        InputError: a missing, unknown or misplaced target.
    """
    unit, grid, from_tier = case.unit_code, case.grid_code, case.tier
    picked = [t.strip() for t in targets if t and t.strip()]
    if to_tier != from_tier:
        if tr.route == "to_unit":
            if not picked and grid:
                picked = [c for c in [org.at_tier(grid, to_tier)] if c]
            if len(picked) != 1:
                raise InputError("'{trigger}' needs one {tier} unit to send the case to (a unit code)",
                                 trigger=tr.trigger, tier=to_tier)
            target = org.unit(picked[0])
            if target is None or target.kind != "platform" or target.tier != to_tier or target.parent != unit:
                raise InputError("'{target}' is not a {tier_label} unit under {unit_name}({unit})",
                                 target=picked[0], tier_label=wf.tier_labels.get(to_tier, to_tier),
                                 unit_name=org.label(unit), unit=unit)
            new_unit = target.code
            if to_tier == wf.tiers[0]:
                grid = new_unit
            elif grid and not org.within(grid, new_unit):
                grid = None  # routed elsewhere than the address suggested; the next hop picks the grid
            return Route(new_unit, grid, (new_unit,))
        new = org.at_tier(grid, to_tier) if grid else None
        if new is None:
            new = org.at_tier(unit, to_tier)  # going up without a known grid
        if new is None:
            raise InputError("no {tier} unit found for case {case} in the organisation", tier=to_tier, case=case.id)
        return Route(new, grid, tuple(picked))
    if "target" in tr.requires:
        if not picked:
            cat = wf.categories.get(case.category_code)
            routed = cat.responsible.get(from_tier) if cat else None
            if not routed:
                raise InputError("'{trigger}' needs a target (a person id or a department code); the catalogue names "
                                 "no responsible department at {tier} for category {category}",
                                 trigger=tr.trigger, tier=from_tier, category=case.category_code)
            picked = [routed]
        checked: list[str] = []
        for ref in picked:
            kind = org.resolve_party(ref)
            if kind is None:
                raise InputError("unknown person or unit '{ref}'", ref=ref)
            if kind[0] == "person":
                p = org.person(ref)
                assert p is not None
                party_unit = p.unit
            else:
                party_unit = ref
            if org.platform_of(party_unit) != unit:
                raise InputError("'{ref}' ({name}) is not part of {unit_name}({unit}); dispatch within the case's "
                                 "unit", ref=ref, name=org.label(ref), unit_name=org.label(unit), unit=unit)
            if ref not in checked:
                checked.append(ref)
        return Route(unit, grid, tuple(checked))
    return Route(unit, grid, tuple(picked))


def leader_check(wf: Workflow, org: Organisation, person: OrgPerson, case: CaseRow, what: str) -> None:
    """A side step only the platform's leader may take (``extension_roles`` of the case's own version).

    Raises:
        PermissionDenied: the person lacks the role, or the case is not in their unit's subtree.
    """
    roles = set(wf.file.workflow.extension_roles)
    if not roles & set(person.roles):
        raise PermissionDenied("{name} may not {what}: it needs one of {roles} (the platform's leader)",
                               name=person.name, what=what, roles=", ".join(sorted(roles)))
    if not org.within(case.unit_code, person.unit):
        raise PermissionDenied("{name} may {what} only for cases of {unit} and below", name=person.name, what=what,
                               unit=org.label(person.unit))


__all__ = ["ADMIN_ROLE", "Route", "acting_person", "actor_of", "case_at", "leader_check", "may_act", "route"]
