"""The organisation at run time: units in a tree and the people in them.

Built from organisation.yaml when loading a workflow, and from the database
rows by the engine (the database is the truth once ``casecraft init`` ran).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class OrgUnit:
    code: str
    name: str
    tier: str | None
    kind: str = "platform"
    parent: str | None = None
    active: bool = True


@dataclass(frozen=True)
class OrgPerson:
    id: str
    name: str
    unit: str
    roles: tuple[str, ...]
    note: str | None = None
    active: bool = True


@dataclass
class Organisation:
    """Units by code and people by id, with the tree walks the engine needs."""

    units: dict[str, OrgUnit] = field(default_factory=dict)
    people: dict[str, OrgPerson] = field(default_factory=dict)

    @classmethod
    def build(cls, units: Iterable[OrgUnit], people: Iterable[OrgPerson]) -> Organisation:
        return cls({u.code: u for u in units}, {p.id: p for p in people})

    def unit(self, code: str) -> OrgUnit | None:
        """One unit by code (subclasses may fetch lazily)."""
        return self.units.get(code)

    def person(self, pid: str) -> OrgPerson | None:
        """One person by id (subclasses may fetch lazily)."""
        return self.people.get(pid)

    def ancestors(self, code: str) -> list[str]:
        """The unit itself and every unit above it, bottom first."""
        out: list[str] = []
        cur: str | None = code
        while cur is not None and cur not in out:
            u = self.unit(cur)
            if u is None:
                break
            out.append(cur)
            cur = u.parent
        return out

    def platform_of(self, code: str) -> str:
        """The platform unit a department or area unit belongs to (itself for a platform)."""
        for anc in self.ancestors(code):
            u = self.unit(anc)
            if u is not None and u.kind == "platform":
                return anc
        return code

    def at_tier(self, code: str, tier: str) -> str | None:
        """The platform unit at ``tier`` on the way up from ``code`` (or None)."""
        for anc in self.ancestors(code):
            u = self.unit(anc)
            if u is not None and u.kind == "platform" and u.tier == tier:
                return anc
        return None

    def within(self, code: str, root: str) -> bool:
        """Whether unit ``code`` is ``root`` or lies below it."""
        return root in self.ancestors(code)

    def children(self, code: str) -> list[OrgUnit]:
        return [u for u in self.units.values() if u.parent == code]

    def roots(self) -> list[OrgUnit]:
        return [u for u in self.units.values() if u.parent is None or u.parent not in self.units]

    def below(self, code: str, tier: str) -> list[str]:
        """Platform units at ``tier`` in the subtree of ``code``."""
        return [u.code for u in self.units.values()
                if u.kind == "platform" and u.tier == tier and self.within(u.code, code)]

    def resolve_party(self, ref: str) -> tuple[str, str] | None:
        """Classify a dispatch target: ('person', id) or ('unit', code)."""
        if self.person(ref) is not None:
            return ("person", ref)
        if self.unit(ref) is not None:
            return ("unit", ref)
        return None

    def label(self, ref: str | None) -> str:
        if ref is None:
            return ""
        p = self.person(ref)
        if p is not None:
            return p.name
        u = self.unit(ref)
        if u is not None:
            return u.name
        return ref

    def names(self, refs: Sequence[str]) -> str:
        return "、".join(self.label(r) for r in refs)
