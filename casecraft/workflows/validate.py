"""Semantic validation of a workflow and its organisation: every problem, at once.

The checks read the plain data as parsed, not the pydantic models, so that they
run on whatever parts of a file are well-typed even when the structure check
(pydantic) refused others: a trigger with a bad ``direction`` does not hide a
duplicate tier or a malformed duration elsewhere. Each value is used only when
it has the right type; a section that is not a list, or has an item without a
usable id, is not used to judge references into it (that would only repeat
the structure problem as a cascade of unknown names). The checks of the state
machine's shape (reachability, dead ends, a final state) run only when the
states and transitions are structurally sound, since a broken transition could
be the very way into a state.

Every problem carries the file, line and column of the offending node and a
hint where one helps.
"""

from __future__ import annotations

import difflib
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from typing import Any

from casecraft.base.duration import Duration
from casecraft.base.errors import Problem, render
from casecraft.workflows.model import OrganisationFile, Settings, WorkflowFile
from casecraft.workflows.yamlio import Loc, YamlDocument

DIRECTIONS = {"up": 1, "down": -1, "none": 0}


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A "did you mean X?" hint for the closest of ``choices``, if one is close enough."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return render("did you mean {choice}?", {"choice": close[0]}) if close else None


class Dirty:
    """Where the structure check found problems, to know which parts are sound."""

    def __init__(self, locs: Iterable[Loc] = ()) -> None:
        self.exact: set[Loc] = set()
        self.prefixes: set[Loc] = set()
        for loc in locs:
            self.exact.add(loc)
            self.prefixes.update(loc[:i] for i in range(1, len(loc) + 1))

    def clean(self, *loc: str | int) -> bool:
        """No problem at ``loc``, below it, or at any node above it."""
        if not self.exact:
            return True  # the common case: the structure is sound
        return loc not in self.prefixes and not any(loc[:i] in self.exact for i in range(1, len(loc)))

    def fields_clean(self, loc: Loc, *fields: str) -> bool:
        """The node at ``loc`` is there as a whole and each of ``fields`` under it is sound."""
        if any(loc[:i] in self.exact for i in range(1, len(loc) + 1)):
            return False
        return all(self.clean(*loc, f) for f in fields)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _items(raw: dict[str, Any], section: str) -> list[tuple[int, dict[str, Any]]]:
    value = raw.get(section)
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def _known(raw: dict[str, Any], section: str, key: str = "id") -> list[str] | None:
    """The ids of a section in file order; None when some item has none usable (references are not judged)."""
    value = raw.get(section)
    if not isinstance(value, list):
        return None
    out = []
    for item in value:
        ident = _text(item.get(key)) if isinstance(item, dict) else None
        if ident is None:
            return None
        out.append(ident)
    return out


def _index(ids: list[str] | None) -> dict[str, int]:
    """Position of each id; a duplicate (reported on its own) does not move the first."""
    out: dict[str, int] = {}
    for i, ident in enumerate(ids or []):
        out.setdefault(ident, i)
    return out


def _by_id(raw: dict[str, Any], section: str) -> dict[str, dict[str, Any]] | None:
    if _known(raw, section) is None:
        return None
    return {item["id"]: item for _, item in _items(raw, section)}


class _Collector:
    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def add(self, loc: Sequence[str | int], message: str, hint: str | None = None, *, key: bool = False) -> None:
        self.problems.append(self.doc.problem(loc, message, hint, key=key))

    def unknown(self, loc: Sequence[str | int], what: str, value: str, choices: Iterable[str] | None,
                *, key: bool = False) -> None:
        if choices is None:
            return  # the section it refers to is broken: its own problems say so
        names = list(choices)
        if value in names:
            return
        hint = did_you_mean(value, names) or (render("known: {names}", {"names": ", ".join(names[:12])})
                                              if names else None)
        self.add(loc, render("unknown {what} '{code}'", {"what": what, "code": value}), hint, key=key)

    def line(self, loc: Sequence[str | int]) -> int:
        return self.doc.where(loc)[0]

    def duplicates(self, raw: dict[str, Any], section: str, key: str, what: str) -> None:
        seen: dict[str, int] = {}
        for i, item in _items(raw, section):
            value = _text(item.get(key))
            if value is None:
                continue
            if value in seen:
                self.add((section, i, key), render("duplicate {what} '{value}' (first defined on line {line})",
                                                   {"what": what, "value": value,
                                                    "line": self.line((section, seen[value]))}))
            else:
                seen[value] = i

    def duration(self, loc: Sequence[str | int], text: Any) -> None:
        if not isinstance(text, str):
            return  # absent, or the wrong type (the structure check reports that)
        try:
            Duration.parse(text)
        except ValueError as exc:
            self.add(loc, str(exc))


def _setting(settings: dict[str, Any], name: str) -> Any:
    """A setting as written, else its default (pydantic is not asked: the section may be broken)."""
    if name in settings:
        return settings[name]
    return Settings.model_fields[name].get_default(call_default_factory=True)


def check_workflow(raw: dict[str, Any], doc: YamlDocument, dirty: Dirty | None = None,
                   org: dict[str, Any] | None = None) -> list[Problem]:
    """Check every reference and rule of a workflow file's data (structurally sound or not).

    Args:
        raw: the parsed file (a mapping).
        doc: where its nodes are, for the problems' positions.
        dirty: where the structure check found problems (those parts are judged with care).
        org: the organisation file's data, to check the categories' responsible units.
    """
    dirty = dirty or Dirty()
    c = _Collector(doc)
    tiers = _known(raw, "tiers")
    tier_index = _index(tiers)
    roles = _known(raw, "roles")
    triggers = _by_id(raw, "triggers")
    states = _by_id(raw, "states")

    for section, key, what in (("tiers", "id", "tier id"), ("roles", "id", "role id"), ("triggers", "id", "trigger id"),
                               ("states", "id", "state id"), ("urgencies", "id", "urgency id"),
                               ("classes", "id", "class id"), ("categories", "code", "category code")):
        c.duplicates(raw, section, key, what)

    _check_settings(c, raw, states, roles)

    for i, st in _items(raw, "states"):
        tier = _text(st.get("tier"))
        if tier is not None:
            c.unknown(("states", i, "tier"), "tier", tier, tiers)
        c.duration(("states", i, "limit"), st.get("limit"))
        if st.get("final") is True and st.get("limit"):
            c.add(("states", i, "limit"),
                  render("final state '{state}' cannot have a time limit", {"state": st.get("id")}))

    edges, ends_known = _check_transitions(c, raw, dirty, tiers, tier_index, roles, triggers, states)
    # a typo in a transition's end would show again as unreachable states and dead ends: judge the
    # shape only when every end is a known state
    if states is not None and ends_known and _shape_sound(raw, dirty):
        _check_shape(c, raw, edges, states)

    for i, urg in _items(raw, "urgencies"):
        limits = urg.get("limits")
        for st, text in limits.items() if isinstance(limits, dict) else ():
            c.unknown(("urgencies", i, "limits", st), "state", st, states, key=True)
            c.duration(("urgencies", i, "limits", st), text)
    _check_categories(c, raw, tiers, tier_index, states, org)
    return c.problems


def _shape_sound(raw: dict[str, Any], dirty: Dirty) -> bool:
    """Whether every state's id and finality and every transition's ends are sound (a bad label is no matter)."""
    if not dirty.clean("workflow", "initial"):
        return False
    states, transitions = raw.get("states"), raw.get("transitions")
    if not isinstance(states, list) or not isinstance(transitions, list):
        return False
    return (all(dirty.fields_clean(("states", i), "id", "final") for i in range(len(states)))
            and all(dirty.fields_clean(("transitions", i), "source", "dest") for i in range(len(transitions))))


def _check_settings(c: _Collector, raw: dict[str, Any], states: dict[str, Any] | None,
                    roles: list[str] | None) -> None:
    s = raw.get("workflow")
    if not isinstance(s, dict):
        return
    timezone = _setting(s, "timezone")
    if isinstance(timezone, str):
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(timezone)
        except Exception:  # ZoneInfoNotFoundError, ValueError for odd strings
            c.add(("workflow", "timezone"), render("unknown timezone '{timezone}'", {"timezone": timezone}),
                  render("e.g. Asia/Shanghai", {}))
    hours = _setting(s, "working_hours")
    if isinstance(hours, list) and all(isinstance(h, str) for h in hours):
        from casecraft.timing.calendar import parse_periods

        try:
            parse_periods(hours)
        except ValueError as exc:
            c.add(("workflow", "working_hours"), str(exc))
    c.duration(("workflow", "reescalate_after"), _setting(s, "reescalate_after"))
    initial = _text(_setting(s, "initial"))
    if initial is not None and states is not None:
        if initial not in states:
            c.unknown(("workflow", "initial"), "state", initial, states)
        elif states[initial].get("final") is True:
            c.add(("workflow", "initial"), render("the initial state '{state}' is final", {"state": initial}))
    for field_name in ("extension_roles", "urge_roles", "contact_roles"):
        # the defaults name roles a workflow may not have; only check what the admin wrote
        written = s.get(field_name)
        for j, role in enumerate(written if isinstance(written, list) else []):
            if isinstance(role, str):
                c.unknown(("workflow", field_name, j), "role", role, roles)


def _sources(tr: dict[str, Any]) -> list[tuple[Loc, str]]:
    src = tr.get("source")
    if isinstance(src, str):
        return [(("source",), src)]
    if isinstance(src, list):
        return [(("source", j), s) for j, s in enumerate(src) if isinstance(s, str)]
    return []


def _check_transitions(c: _Collector, raw: dict[str, Any], dirty: Dirty, tiers: list[str] | None,
                       tier_index: dict[str, int], roles: list[str] | None,
                       triggers: dict[str, dict[str, Any]] | None,
                       states: dict[str, dict[str, Any]] | None) -> tuple[dict[str, set[str]], bool]:
    """Check each transition; return the edges between states and whether every end is a known state."""
    edges: dict[str, set[str]] = defaultdict(set)
    ends_known = True
    seen_keys: dict[tuple[str, str, tuple[Any, ...]], int] = {}
    steps_sound = tiers is not None and dirty.clean("tiers")
    for i, tr in _items(raw, "transitions"):
        loc: Loc = ("transitions", i)
        trigger = _text(tr.get("trigger"))
        dest = _text(tr.get("dest"))
        trig = triggers.get(trigger) if triggers is not None and trigger is not None else None
        if trigger is not None:
            c.unknown((*loc, "trigger"), "trigger", trigger, triggers)
        if dest is not None:
            c.unknown((*loc, "dest"), "state", dest, states)
            ends_known = ends_known and states is not None and dest in states
        when = tr.get("when")
        sound = dirty.fields_clean(loc, "trigger", "source", "when")  # an ambiguity needs all three sound
        for src_loc, src in _sources(tr):
            if states is None or src not in states:
                c.unknown((*loc, *src_loc), "state", src, states)
                ends_known = False
                continue
            if states[src].get("final") is True:
                c.add((*loc, *src_loc), render("transition '{trigger}' leaves the final state '{state}'",
                             {"trigger": trigger, "state": src}),
                      render("final states have no way out; remove the transition or make the state non-final",
                             {}))
            if dest is not None:
                edges[src].add(dest)
            if sound and trigger is not None:
                cond = when if isinstance(when, dict) else {}
                key = (trigger, src, tuple(sorted((k, repr(v)) for k, v in cond.items() if v is not None)))
                if key in seen_keys:
                    c.add(loc, render("transition '{trigger}' from '{state}' is defined twice with the same conditions "
                                 "(first on line {line}); which one applies would be ambiguous",
                                 {"trigger": trigger, "state": src,
                                  "line": c.line(("transitions", seen_keys[key]))}))
                else:
                    seen_keys[key] = i
            direction = _text(trig.get("direction", "none")) if isinstance(trig, dict) else None
            step = DIRECTIONS.get(direction) if direction is not None else None  # a bad one: not judged
            if step and steps_sound and dest is not None and states is not None and dest in states:
                a = tier_index.get(_text(states[src].get("tier")) or "")
                b = tier_index.get(_text(states[dest].get("tier")) or "")
                if a is not None and b is not None and b - a != step and tiers is not None:
                    moved = {"trigger": trigger, "src": src, "src_tier": states[src].get("tier"),
                             "dest": dest, "dest_tier": states[dest].get("tier")}
                    c.add((*loc, "dest"),
                          render("'{trigger}' must go exactly one tier up, but '{src}' is at {src_tier} and "
                                 "'{dest}' at {dest_tier}", moved) if step == 1 else
                          render("'{trigger}' must go exactly one tier down, but '{src}' is at {src_tier} and "
                                 "'{dest}' at {dest_tier}", moved),
                          render("a state at {tier} is expected", {"tier": tiers[a + step]})
                          if 0 <= a + step < len(tiers) else None)
        tr_roles = tr.get("roles")
        for j, role in enumerate(tr_roles if isinstance(tr_roles, list) else []):
            if isinstance(role, str):
                c.unknown((*loc, "roles", j), "role", role, roles)
        resolved_tier = _text(when.get("resolved_tier")) if isinstance(when, dict) else None
        if resolved_tier:
            c.unknown((*loc, "when", "resolved_tier"), "tier", resolved_tier, tiers)
    return edges, ends_known


def _check_shape(c: _Collector, raw: dict[str, Any], edges: dict[str, set[str]],
                 states: dict[str, dict[str, Any]]) -> None:
    """Reachability from the initial state, a final state, and a way to one from every state."""
    s = raw.get("workflow")
    initial = _text(_setting(s, "initial")) if isinstance(s, dict) else None
    items = _items(raw, "states")
    if initial is not None and initial in states:
        _check_report_trigger(c, raw, initial)
        reach = _reachable(initial, edges)
        for i, st in items:
            if st["id"] not in reach:
                c.add(("states", i, "id"), render("state '{state}' cannot be reached from '{initial}'",
                             {"state": st["id"], "initial": initial}),
                      render("add a transition into it or remove it", {}))
    finals = {st["id"] for _, st in items if st.get("final") is True}
    if not finals:
        c.add(("states",), render("no state is final", {}), render("mark the closing states with final: true", {}))
    reverse: dict[str, set[str]] = defaultdict(set)
    for src, dests in edges.items():
        for d in dests:
            reverse[d].add(src)
    can_finish: set[str] = set()
    for f in finals:
        can_finish |= _reachable(f, reverse)
    for i, st in items:
        if st.get("final") is not True and st["id"] not in can_finish:
            c.add(("states", i, "id"),
                  render("state '{state}' is not final and has no path to a final state", {"state": st["id"]}),
                  render("a case entering it could never be closed", {}))


def _check_report_trigger(c: _Collector, raw: dict[str, Any], initial: str) -> None:
    """The initial state is left by exactly one trigger: the one that reports a case (the engine relies on it)."""
    found: list[str] = []
    for _, tr in _items(raw, "transitions"):
        if initial in (src for _, src in _sources(tr)):
            trigger = _text(tr.get("trigger"))
            if trigger is None:
                return  # a broken trigger: its own problem says so
            if trigger not in found:
                found.append(trigger)
    if not found:
        c.add(("workflow", "initial"), render("no transition leaves the initial state '{state}'", {"state": initial}),
              render("add the transition that reports a case, e.g. `{example}`",
                     {"example": "{trigger: report, source: new, ...}"}))
    elif len(found) > 1:
        c.add(("workflow", "initial"),
              render("the initial state '{state}' is left by {count} triggers ({triggers}); "
                     "a case is reported by exactly one",
                     {"state": initial, "count": len(found), "triggers": ", ".join(found)}),
              render("give every transition out of it the same trigger, with `when:` conditions to tell them "
                     "apart", {}))


def _check_categories(c: _Collector, raw: dict[str, Any], tiers: list[str] | None, tier_index: dict[str, int],
                      states: dict[str, Any] | None, org: dict[str, Any] | None) -> None:
    classes = _known(raw, "classes")
    urgencies = _known(raw, "urgencies")
    units = _flatten(org) if org is not None else None
    for i, cat in _items(raw, "categories"):
        loc: Loc = ("categories", i)
        event_class = _text(cat.get("class"))
        if event_class is not None:
            c.unknown((*loc, "class"), "class", event_class, classes)
        urgency = _text(cat.get("urgency"))
        if urgency is not None:
            c.unknown((*loc, "urgency"), "urgency", urgency, urgencies)
        c.duration((*loc, "limit"), cat.get("limit"))
        limits = cat.get("limits")
        for st, text in limits.items() if isinstance(limits, dict) else ():
            c.unknown((*loc, "limits", st), "state", st, states, key=True)
            c.duration((*loc, "limits", st), text)
        responsible = cat.get("responsible")
        for tier, code in responsible.items() if isinstance(responsible, dict) else ():
            if tiers is not None and tier not in tier_index:
                c.unknown((*loc, "responsible", tier), "tier", tier, tiers, key=True)
            elif units is not None and isinstance(code, str):
                if code not in units:
                    c.unknown((*loc, "responsible", tier), "unit", code, units)
                elif units[code] is not None and units[code] != tier:
                    c.add((*loc, "responsible", tier), render("unit '{code}' is at tier {actual}, not {tier}",
                                 {"code": code, "actual": units[code], "tier": tier}))


def _reachable(start: str, edges: dict[str, set[str]]) -> set[str]:
    seen = {start}
    queue = deque([start])
    while queue:
        for nxt in edges.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _walk_units(org: dict[str, Any]) -> list[tuple[Loc, dict[str, Any], dict[str, Any] | None]]:
    """Every unit mapping of the tree with its path and parent, parents first (no recursion)."""
    out: list[tuple[Loc, dict[str, Any], dict[str, Any] | None]] = []
    stack: list[tuple[Loc, Any, dict[str, Any] | None]] = [(("units",), org.get("units"), None)]
    while stack:
        loc, items, parent = stack.pop()
        if not isinstance(items, list):
            continue
        batch = []
        for i, u in enumerate(items):
            if isinstance(u, dict):
                out.append(((*loc, i), u, parent))
                batch.append(((*loc, i, "children"), u.get("children"), u))
        stack.extend(reversed(batch))
    return out


def _flatten(org: dict[str, Any]) -> dict[str, str | None]:
    """Unit code -> the tier it is at (a department or area unit shares its parent's)."""
    tiers: dict[int, str | None] = {}
    out: dict[str, str | None] = {}
    for _, u, parent in _walk_units(org):
        ptier = tiers.get(id(parent)) if parent is not None else None
        tier = _text(u.get("tier")) or (ptier if u.get("kind", "platform") != "platform" else None)
        tiers[id(u)] = tier
        code = _text(u.get("code"))
        if code is not None:
            out.setdefault(code, tier)
    return out


def check_organisation(org: dict[str, Any], doc: YamlDocument, wf: dict[str, Any]) -> list[Problem]:
    """Check the organisation tree and people against the workflow's tiers and roles (as parsed)."""
    c = _Collector(doc)
    tiers = _known(wf, "tiers")
    tier_index = _index(tiers)
    roles = _known(wf, "roles")
    codes: dict[str, int] = {}
    resolved: dict[int, str | None] = {}  # id(unit mapping) -> its tier, for its children
    units_known = isinstance(org.get("units"), list)  # every unit has a code: people's units can be judged
    for here, u, parent in _walk_units(org):
        code = _text(u.get("code"))
        units_known = units_known and code is not None
        kind = u.get("kind", "platform")
        if code is not None:
            if code in codes:
                c.add((*here, "code"), render("duplicate unit code '{code}' (first defined on line {line})",
                                                 {"code": code, "line": codes[code]}))
            else:
                codes[code] = c.line(here)
        tier = _text(u.get("tier"))
        if tier is not None and tiers is not None and tier not in tier_index:
            c.unknown((*here, "tier"), "tier", tier, tiers)
            tier = None
        ptier = resolved.get(id(parent)) if parent is not None else None
        pcode = parent.get("code") if parent is not None else None
        if kind == "platform":
            if u.get("tier") is None:
                c.add(here, render("unit '{code}' needs a tier", {"code": code}),
                      render("one of: {choices}", {"choices": ", ".join(tiers)}) if tiers else None)
            elif tier is not None and ptier is not None and tier in tier_index and ptier in tier_index:
                if tier_index[tier] != tier_index[ptier] - 1:
                    c.add((*here, "tier"),
                          render("unit '{code}' at tier {tier} sits under '{parent}' at tier {parent_tier}; "
                                 "a platform unit must be exactly one tier below its parent",
                                 {"code": code, "tier": tier, "parent": pcode, "parent_tier": ptier}))
        elif kind in ("department", "area_unit"):
            if parent is None:
                c.add(here, render("{kind} '{code}' must sit inside a platform unit", {"kind": kind, "code": code}))
            if tier is not None and ptier is not None and tier != ptier:
                c.add((*here, "tier"), render("{kind} '{code}' must share its parent's tier {tier}",
                                                {"kind": kind, "code": code, "tier": ptier}))
            tier = tier or ptier
            if u.get("children"):
                c.add((*here, "children"),
                      render("{kind} '{code}' cannot have child units", {"kind": kind, "code": code}))
        resolved[id(u)] = tier
    seen: dict[str, int] = {}
    for i, p in _items(org, "people"):
        pid = _text(p.get("id"))
        if pid is not None:
            if pid in seen:
                c.add(("people", i, "id"), render("duplicate person id '{person}' (first defined on line {line})",
                                                    {"person": pid, "line": seen[pid]}))
            else:
                seen[pid] = c.line(("people", i))
        unit = _text(p.get("unit"))
        if unit is not None:
            c.unknown(("people", i, "unit"), "unit", unit, codes if units_known else None)
        person_roles = p.get("roles")
        for j, r in enumerate(person_roles if isinstance(person_roles, list) else []):
            if isinstance(r, str):
                c.unknown(("people", i, "roles", j), "role", r, roles)
    return c.problems


def _doc_of(raw: Any, file: str) -> YamlDocument:
    doc = getattr(raw, "doc", None)
    return doc if isinstance(doc, YamlDocument) else YamlDocument(file)


def validate_workflow(wf: WorkflowFile, raw: Any, file: str, org: OrganisationFile | None = None) -> list[Problem]:
    """Compatibility: check a structurally valid workflow (``raw`` from :func:`~.yamlio.read_yaml` gives positions)."""
    data = dict(raw) if isinstance(raw, dict) else wf.model_dump(by_alias=True, exclude_unset=True)
    org_data = org.model_dump(by_alias=True, exclude_unset=True) if org is not None else None
    return check_workflow(data, _doc_of(raw, file), None, org_data)


def validate_organisation(org: OrganisationFile, raw: Any, file: str, wf: WorkflowFile) -> list[Problem]:
    """Compatibility: check a structurally valid organisation against a workflow."""
    data = dict(raw) if isinstance(raw, dict) else org.model_dump(by_alias=True, exclude_unset=True)
    return check_organisation(data, _doc_of(raw, file), wf.model_dump(by_alias=True, exclude_unset=True))
