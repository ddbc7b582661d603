"""Semantic validation of a workflow and its organisation.

Every problem is collected, never the first one only, each with the file,
line and column of the offending node and a hint where one helps.
"""

from __future__ import annotations

import difflib
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from typing import Any

from casecraft.base.duration import Duration
from casecraft.base.errors import Problem
from casecraft.workflows.model import OrganisationFile, Unit, WorkflowFile
from casecraft.workflows.yamlio import locate


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"did you mean {close[0]}?" if close else None


class _Collector:
    def __init__(self, file: str, raw: Any) -> None:
        self.file = file
        self.raw = raw
        self.problems: list[Problem] = []

    def add(self, loc: Sequence[str | int], message: str, hint: str | None = None, *, key: bool = False) -> None:
        line, col = locate(self.raw, loc, key=key)
        self.problems.append(
            Problem(self.file, line, col, message, hint=hint, path=".".join(str(p) for p in loc))
        )

    def unknown(self, loc: Sequence[str | int], what: str, value: str, choices: Iterable[str],
                *, key: bool = False) -> None:
        choices = list(choices)
        hint = did_you_mean(value, choices) or (f"known: {', '.join(choices[:12])}" if choices else None)
        self.add(loc, f"unknown {what} '{value}'", hint, key=key)


def _duplicates(c: _Collector, section: str, items: Sequence[Any], attr: str, what: str) -> None:
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        value = getattr(item, attr)
        if value in seen:
            first_line, _ = locate(c.raw, (section, seen[value]))
            c.add((section, i, attr if attr != "event_class" else "class"),
                  f"duplicate {what} '{value}' (first defined on line {first_line})")
        else:
            seen[value] = i


def _duration(c: _Collector, loc: Sequence[str | int], text: str | None) -> None:
    if text is None:
        return
    try:
        Duration.parse(text)
    except ValueError as exc:
        c.add(loc, str(exc))


def validate_workflow(
    wf: WorkflowFile, raw: Any, file: str, org: OrganisationFile | None = None
) -> list[Problem]:
    """Check every reference and rule of a structurally valid workflow."""
    c = _Collector(file, raw)
    tiers = [t.id for t in wf.tiers]
    tier_index = {t: i for i, t in enumerate(tiers)}
    roles = {r.id for r in wf.roles}
    triggers = {t.id: t for t in wf.triggers}
    states = {s.id: s for s in wf.states}

    _duplicates(c, "tiers", wf.tiers, "id", "tier id")
    _duplicates(c, "roles", wf.roles, "id", "role id")
    _duplicates(c, "triggers", wf.triggers, "id", "trigger id")
    _duplicates(c, "states", wf.states, "id", "state id")
    _duplicates(c, "urgencies", wf.urgencies, "id", "urgency id")
    _duplicates(c, "classes", wf.classes, "id", "class id")
    _duplicates(c, "categories", wf.categories, "code", "category code")

    s = wf.workflow
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(s.timezone)
    except Exception:  # ZoneInfoNotFoundError, ValueError for odd strings
        c.add(("workflow", "timezone"), f"unknown timezone '{s.timezone}'", "e.g. Asia/Shanghai")
    from casecraft.timing.calendar import parse_periods

    try:
        parse_periods(s.working_hours)
    except ValueError as exc:
        c.add(("workflow", "working_hours"), str(exc))
    _duration(c, ("workflow", "reescalate_after"), s.reescalate_after)
    if s.initial not in states:
        c.unknown(("workflow", "initial"), "state", s.initial, states)
    elif states[s.initial].final:
        c.add(("workflow", "initial"), f"the initial state '{s.initial}' is final")

    for i, st in enumerate(wf.states):
        if st.tier not in tier_index:
            c.unknown(("states", i, "tier"), "tier", st.tier, tiers)
        _duration(c, ("states", i, "limit"), st.limit)
        if st.final and st.limit:
            c.add(("states", i, "limit"), f"final state '{st.id}' cannot have a time limit")

    edges: dict[str, set[str]] = defaultdict(set)
    seen_keys: dict[tuple[str, str, tuple[Any, ...]], int] = {}
    for i, tr in enumerate(wf.transitions):
        loc = ("transitions", i)
        trig = triggers.get(tr.trigger)
        if trig is None:
            c.unknown((*loc, "trigger"), "trigger", tr.trigger, triggers)
        if tr.dest not in states:
            c.unknown((*loc, "dest"), "state", tr.dest, states)
        for j, src in enumerate(tr.sources):
            src_loc = (*loc, "source") if isinstance(tr.source, str) else (*loc, "source", j)
            if src not in states:
                c.unknown(src_loc, "state", src, states)
                continue
            if states[src].final:
                c.add(src_loc, f"transition '{tr.trigger}' leaves the final state '{src}'",
                      "final states have no way out; remove the transition or make the state non-final")
            edges[src].add(tr.dest)
            cond = tr.when.model_dump() if tr.when else {}
            key = (tr.trigger, src, tuple(sorted((k, v) for k, v in cond.items() if v is not None)))
            if key in seen_keys:
                first_line, _ = locate(raw, ("transitions", seen_keys[key]))
                c.add(loc, f"transition '{tr.trigger}' from '{src}' is defined twice with the same "
                      f"conditions (first on line {first_line}); which one applies would be ambiguous")
            else:
                seen_keys[key] = i
            if trig is not None and trig.direction != "none" and tr.dest in states:
                a, b = tier_index.get(states[src].tier), tier_index.get(states[tr.dest].tier)
                if a is not None and b is not None:
                    step = 1 if trig.direction == "up" else -1
                    if b - a != step:
                        word = "up" if step == 1 else "down"
                        c.add((*loc, "dest"),
                              f"'{tr.trigger}' must go exactly one tier {word}, but '{src}' is at "
                              f"{states[src].tier} and '{tr.dest}' at {states[tr.dest].tier}",
                              f"a state at {tiers[a + step]} is expected" if 0 <= a + step < len(tiers) else None)
        for j, role in enumerate(tr.roles):
            if role not in roles:
                c.unknown((*loc, "roles", j), "role", role, roles)
        if tr.when and tr.when.resolved_tier and tr.when.resolved_tier not in tier_index:
            c.unknown((*loc, "when", "resolved_tier"), "tier", tr.when.resolved_tier, tiers)

    if s.initial in states:
        reach = _reachable(s.initial, edges)
        for i, st in enumerate(wf.states):
            if st.id not in reach:
                c.add(("states", i, "id"), f"state '{st.id}' cannot be reached from '{s.initial}'",
                      "add a transition into it or remove it")
    finals = {st.id for st in wf.states if st.final}
    if not finals:
        c.add(("states",), "no state is final", "mark the closing states with final: true")
    reverse: dict[str, set[str]] = defaultdict(set)
    for src, dests in edges.items():
        for d in dests:
            reverse[d].add(src)
    can_finish = set()
    for f in finals:
        can_finish |= _reachable(f, reverse)
    for i, st in enumerate(wf.states):
        if not st.final and st.id not in can_finish:
            c.add(("states", i, "id"), f"state '{st.id}' is not final and has no path to a final state",
                  "a case entering it could never be closed")

    for field_name in ("extension_roles", "urge_roles"):
        if field_name not in s.model_fields_set:
            continue  # the defaults name roles a workflow may not have; only check what the admin wrote
        for j, role in enumerate(getattr(s, field_name)):
            if role not in roles:
                c.unknown(("workflow", field_name, j), "role", role, roles)
    for j, sink in enumerate(s.sinks):
        if sink.type == "webhook" and not sink.url:
            c.add(("workflow", "sinks", j), "a webhook sink needs a url", "e.g. url: https://alerts.example/hook")
    for i, urg in enumerate(wf.urgencies):
        for st, text in urg.limits.items():
            if st not in states:
                c.unknown(("urgencies", i, "limits", st), "state", st, states, key=True)
            _duration(c, ("urgencies", i, "limits", st), text)
    classes = {k.id for k in wf.classes}
    urgencies = {u.id for u in wf.urgencies}
    units = _flatten(org.units) if org else {}
    for i, cat in enumerate(wf.categories):
        loc = ("categories", i)
        if cat.event_class not in classes:
            c.unknown((*loc, "class"), "class", cat.event_class, classes)
        if cat.urgency not in urgencies:
            c.unknown((*loc, "urgency"), "urgency", cat.urgency, urgencies)
        _duration(c, (*loc, "limit"), cat.limit)
        for st, text in cat.limits.items():
            if st not in states:
                c.unknown((*loc, "limits", st), "state", st, states, key=True)
            _duration(c, (*loc, "limits", st), text)
        for tier, code in cat.responsible.items():
            if tier not in tier_index:
                c.unknown((*loc, "responsible", tier), "tier", tier, tiers, key=True)
            elif org is not None:
                if code not in units:
                    c.unknown((*loc, "responsible", tier), "unit", code, units)
                elif units[code][1] != tier:
                    c.add((*loc, "responsible", tier),
                          f"unit '{code}' is at tier {units[code][1]}, not {tier}")
    return c.problems


def _reachable(start: str, edges: dict[str, set[str]]) -> set[str]:
    seen = {start}
    queue = deque([start])
    while queue:
        for nxt in edges.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _flatten(units: Sequence[Unit], parent_tier: str | None = None) -> dict[str, tuple[Unit, str | None]]:
    out: dict[str, tuple[Unit, str | None]] = {}

    def walk(items: Sequence[Unit], ptier: str | None) -> None:
        for u in items:
            tier = u.tier or (ptier if u.kind != "platform" else None)
            out.setdefault(u.code, (u, tier))
            walk(u.children, tier)

    walk(units, parent_tier)
    return out


def validate_organisation(org: OrganisationFile, raw: Any, file: str, wf: WorkflowFile) -> list[Problem]:
    """Check the organisation tree and people against the workflow's tiers and roles."""
    c = _Collector(file, raw)
    tiers = [t.id for t in wf.tiers]
    tier_index = {t: i for i, t in enumerate(tiers)}
    roles = {r.id for r in wf.roles}
    codes: dict[str, int] = {}

    def walk(items: Sequence[Unit], loc: tuple[str | int, ...], parent: Unit | None, ptier: str | None) -> None:
        for i, u in enumerate(items):
            here = (*loc, i)
            if u.code in codes:
                c.add((*here, "code"), f"duplicate unit code '{u.code}' (first defined on line {codes[u.code]})")
            else:
                codes[u.code] = locate(raw, here)[0]
            tier = u.tier
            if tier is not None and tier not in tier_index:
                c.unknown((*here, "tier"), "tier", tier, tiers)
                tier = None
            if u.kind == "platform":
                if u.tier is None:
                    c.add(here, f"unit '{u.code}' needs a tier", f"one of: {', '.join(tiers)}")
                elif tier is not None and ptier is not None and parent is not None:
                    if tier_index[tier] != tier_index[ptier] - 1:
                        c.add((*here, "tier"),
                              f"unit '{u.code}' at tier {tier} sits under '{parent.code}' at tier {ptier}; "
                              "a platform unit must be exactly one tier below its parent")
            else:
                if parent is None:
                    c.add(here, f"{u.kind} '{u.code}' must sit inside a platform unit")
                if tier is not None and ptier is not None and tier != ptier:
                    c.add((*here, "tier"), f"{u.kind} '{u.code}' must share its parent's tier {ptier}")
                tier = tier or ptier
                if u.children:
                    c.add((*here, "children"), f"{u.kind} '{u.code}' cannot have child units")
            walk(u.children, (*here, "children"), u, tier)

    walk(org.units, ("units",), None, None)
    seen: dict[str, int] = {}
    for i, p in enumerate(org.people):
        if p.id in seen:
            c.add(("people", i, "id"), f"duplicate person id '{p.id}' (first defined on line {seen[p.id]})")
        else:
            seen[p.id] = locate(raw, ("people", i))[0]
        if p.unit not in codes:
            c.unknown(("people", i, "unit"), "unit", p.unit, codes)
        for j, r in enumerate(p.roles):
            if r not in roles:
                c.unknown(("people", i, "roles", j), "role", r, roles)
    return c.problems
