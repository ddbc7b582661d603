"""The organisation at run time: units in a tree and the people in them.

Built from organisation.yaml when loading a workflow, and from the database
rows by the engine (the database is the truth once ``casecraft init`` ran).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from casecraft.base.errors import render
from casecraft.base.records import OrgPerson, OrgUnit


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


@dataclass(frozen=True)
class AddressMatch:
    """Where an address points: the unit whose keyword matched (``code``), or why none did."""

    code: str | None
    keyword: str | None = None
    reason: str | None = None


class AddressIndex:
    """Address keywords of active units; the longest keyword found in an address wins.

    Two different units matching with keywords of the same (longest) length make
    the address ambiguous: nothing is guessed.
    """

    def __init__(self, units: Iterable[OrgUnit]) -> None:
        self._by_keyword: dict[str, set[str]] = {}
        for u in units:
            if not u.active:
                continue
            for kw in u.addresses:
                kw = kw.strip()
                if kw:
                    self._by_keyword.setdefault(kw, set()).add(u.code)
        # longest first, so the first length with a hit decides
        self._keywords = sorted(self._by_keyword, key=len, reverse=True)

    def __len__(self) -> int:
        return len(self._by_keyword)

    def match(self, address: str) -> AddressMatch:
        """The unit an address belongs to, by the longest keyword it contains."""
        best_len = 0
        hits: dict[str, str] = {}
        for kw in self._keywords:
            if len(kw) < best_len:
                break
            if kw in address:
                best_len = len(kw)
                for code in self._by_keyword[kw]:
                    hits.setdefault(code, kw)
        if not hits:
            return AddressMatch(None, reason=render("no unit's address keywords occur in the address; give the grid "
                                                    "code or add a keyword (`casecraft org set-addresses`)", {}))
        if len(hits) > 1:
            listed = ", ".join(f"{code} ('{kw}')" for code, kw in sorted(hits.items()))
            return AddressMatch(None, reason=render("the address is ambiguous: it matches {listed} equally; give the "
                                                    "grid code or a longer keyword", {"listed": listed}))
        code, kw = next(iter(hits.items()))
        return AddressMatch(code, kw)


PEOPLE_COLUMNS = ("id", "name", "unit", "roles", "note")


def people_from_csv(text: str, source: str = "people.csv") -> tuple[list[OrgPerson], list[str]]:
    """People from CSV text with columns id,name,unit,roles[,note]; roles separated by ``;`` or ``|``.

    Returns:
        the people, and the problems found (each ``FILE:LINE: message``); people
        on lines with problems are left out.
    """
    import csv
    import io
    import re

    problems: list[str] = []
    people: list[OrgPerson] = []
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        return [], [render("{place}: the file is empty; the header is {header}",
                           {"place": f"{source}:1", "header": ",".join(PEOPLE_COLUMNS)})]
    names = [h.strip().lower() for h in header]
    missing = [c for c in PEOPLE_COLUMNS[:4] if c not in names]
    if missing:
        return [], [render("{place}: missing column(s) {missing}; the header is {header} (note is optional)",
                           {"place": f"{source}:1", "missing": ", ".join(missing), "header": ",".join(PEOPLE_COLUMNS)})]
    seen: dict[str, int] = {}
    line = 1
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        row = {names[i]: cell.strip() for i, cell in enumerate(record) if i < len(names)}
        pid = row.get("id", "")
        here = f"{source}:{line}"
        bad = False
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", pid):
            problems.append(render("{place}: id {id!r} must be 1-64 letters, digits, '_', '.' or '-'",
                                   {"place": here, "id": pid}))
            bad = True
        elif pid in seen:
            problems.append(render("{place}: duplicate person id '{id}' (first on line {first})",
                                   {"place": here, "id": pid, "first": seen[pid]}))
            bad = True
        else:
            seen[pid] = line
        for col in ("name", "unit"):
            if not row.get(col):
                problems.append(render("{place}: {column} is empty", {"place": here, "column": col}))
                bad = True
        roles = tuple(r.strip() for r in re.split(r"[;|]", row.get("roles", "")) if r.strip())
        if not roles:
            problems.append(render("{place}: roles is empty (separate several with ';')", {"place": here}))
            bad = True
        if not bad:
            people.append(OrgPerson(id=pid, name=row["name"], unit=row["unit"], roles=roles,
                                    note=row.get("note") or None))
    return people, problems
