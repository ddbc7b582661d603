"""Workflow versions: publish one, list them with their open cases, compare two, move open cases between them.

A version comes into force only when an admin publishes it (``casecraft
workflow publish``, an entry of the admin chain); a process with another file
on disk changes nothing. New cases run on the newest published version; a case
keeps the version it started on until an admin migrates it explicitly.
A migration is **all or nothing**: every open case of the old version is
checked first (a state with no place in the new version refuses the whole
migration, naming every such case), then all of them move in one transaction,
each with a hash-chained ``migrate`` entry on its timeline. A concurrent
change to any of them rolls the whole migration back. Moving a case keeps its
unit, tier and running clock: the open step deadline follows the state's new
name, its times stay as they were.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from casecraft.admin import log as adminlog
from casecraft.base.errors import N_, ConflictError, InputError, Joined, NotFound, RuleError, render
from casecraft.cases import timeline as tl
from casecraft.cases.rules import acting_person, actor_of
from casecraft.context import Context
from casecraft.store.base import DuplicateKey
from casecraft.workflows.spec import Workflow

MIGRATE = "migrate"


@dataclass(frozen=True)
class VersionInfo:
    """One registered workflow version."""

    id: int
    workflow_id: str
    number: int
    content_hash: str
    created_at: datetime
    source_path: str | None
    open_cases: int
    current: bool
    published_by: str | None = None
    timezone: str = "Asia/Shanghai"

    def to_dict(self) -> dict[str, Any]:
        from zoneinfo import ZoneInfo

        return {"id": self.id, "workflow_id": self.workflow_id, "number": self.number,
                "hash": self.content_hash,
                "created_at": self.created_at.astimezone(ZoneInfo(self.timezone)).isoformat(),
                "published_by": self.published_by, "source_path": self.source_path, "open_cases": self.open_cases,
                "current": self.current}


def _context(source: Any) -> Context:
    """The context of an Engine (library users pass one) or a Context itself."""
    return source if isinstance(source, Context) else source.ctx  # type: ignore[no-any-return]


def list_versions(source: Any) -> list[VersionInfo]:
    """Every published version, with its open-case count (the newest is current)."""
    ctx = _context(source)
    current = ctx.current()
    with ctx.read() as tx:
        rows = tx.versions()
    return [VersionInfo(id=r["id"], workflow_id=r["workflow_id"], number=r["number"],
                        content_hash=r["content_hash"], created_at=r["created_at"], source_path=r["source_path"],
                        open_cases=int(r["open_cases"]), current=r["id"] == current.id,
                        published_by=r.get("published_by"), timezone=current.spec.timezone) for r in rows]


def publish(ctx: Context, wf: Workflow, *, actor: str | None = None, note: str | None = None) -> VersionInfo:
    """Bring a validated workflow into force as the next version (an admin's act, recorded).

    Publishing content identical to the version in force changes nothing and returns that version.

    Raises:
        PermissionDenied: the actor is not an admin.
        ConflictError: the content is an older version's, which a later one replaced (a version is published
            once; publishing it again would not bring it back into force).
    """
    with ctx.write() as tx:
        latest = tx.latest_version()
        admin = adminlog.require_admin(ctx, tx, actor) if latest else (actor or "init")
        when = ctx.when()
        found = tx.version_by_hash(wf.id, wf.content_hash)
        if found is not None and latest is not None and latest["id"] != found[0]:
            raise ConflictError("this file is {workflow} v{number}, which v{current} replaced; a version is "
                                "published once, so publishing it again would not bring it back. To go back to "
                                "its rules, change anything in the file (its name, say) and publish that as a new "
                                "version", workflow=wf.id, number=found[1], current=latest["number"])
        if found is None:
            try:
                vid, number = tx.insert_version(wf.id, wf.content_hash, wf.spec_json,
                                                wf.path.name if wf.path else None, when.at, admin)
            except DuplicateKey:
                raise ConflictError("another admin published a version at the same moment; look at the versions and "
                                    "publish again if needed") from None
            adminlog.record(tx, admin, "workflow.publish", {"workflow": wf.id, "version": number, "hash":
                                                            wf.content_hash, "note": note}, when)
    ctx.forget_versions()
    return next(v for v in list_versions(ctx) if v.content_hash == wf.content_hash and v.workflow_id == wf.id)


def resolve(source: Any, ref: str | int) -> VersionInfo:
    """A version by number (``2``, ``v2``) of the current workflow, or ``current``.

    Raises:
        InputError: a malformed reference.
        NotFound: no such version.
    """
    ctx = _context(source)
    versions = list_versions(ctx)
    text = str(ref).strip().lower()
    if text in ("current", "latest"):
        return next(v for v in versions if v.current)
    m = re.fullmatch(r"v?(\d{1,9})", text)
    if not m:
        raise InputError("bad version '{ref}': give a version number such as 1 or v1", ref=ref)
    number = int(m.group(1))
    wid = ctx.workflow.id
    found = next((v for v in versions if v.workflow_id == wid and v.number == number), None)
    if found is None:
        known = ", ".join(f"v{v.number}" for v in versions if v.workflow_id == wid)
        raise NotFound("workflow {workflow} has no version {number}; known: {known}", workflow=wid, number=number,
                       known=known)
    return found


# --- diff --------------------------------------------------------------------------------------

SECTIONS = {"tiers": "id", "roles": "id", "triggers": "id", "states": "id", "urgencies": "id", "classes": "id",
            "categories": "code"}


@dataclass
class WorkflowDiff:
    """What changed between two workflow definitions, section by section."""

    added: dict[str, list[str]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)
    changed: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    renamed: list[tuple[str, str]] = field(default_factory=list)  # state id pairs with the same label

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_dict(self) -> dict[str, Any]:
        return {"added": self.added, "removed": self.removed, "changed": self.changed,
                "renamed_states": [{"from": a, "to": b} for a, b in self.renamed]}

    def lines(self) -> list[str]:
        """A readable, line-per-change rendering (``+`` added, ``-`` removed, ``~`` changed).

        Each line is a rendered template (the section's word, the ids and values as details), so the
        edges show it in the operator's language.
        """
        out: list[str] = []
        for section in [*SECTIONS, "transitions", "workflow", "evaluation"]:
            word = render(SECTION_WORDS[section], {})
            for item in self.removed.get(section, []):
                out.append(render("- {section}: {item}", {"section": word, "item": _item(section, item)}))
            for item in self.added.get(section, []):
                out.append(render("+ {section}: {item}", {"section": word, "item": _item(section, item)}))
            for item, changes in self.changed.get(section, {}).items():
                shown = word if section == item and section in ("workflow", "evaluation") else _item(section, item)
                for c in changes:
                    out.append(render("~ {section}: {item}: {change}", {"section": word, "item": shown, "change": c}))
        for a, b in self.renamed:
            out.append(render("? state '{old}' looks renamed to '{new}' (same label): migrate with --map {old}={new}",
                              {"old": a, "new": b}))
        return out


# the sections of a workflow file as a version diff names them
SECTION_WORDS = {"tiers": N_("tiers"), "roles": N_("roles"), "triggers": N_("triggers"), "states": N_("states"),
                 "urgencies": N_("urgencies"), "classes": N_("classes"), "categories": N_("categories"),
                 "transitions": N_("transitions"), "workflow": N_("workflow"), "evaluation": N_("evaluation")}


def _item(section: str, item: str) -> str:
    """A changed item as a line shows it: a transition's condition (``... when source=patrol``) in words."""
    key, sep, when = item.partition(" when ")
    if section == "transitions" and sep:
        return render("{transition} when {conditions}", {"transition": key, "conditions": when})
    return item


def _show(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, sort_keys=True) if not isinstance(v, str) else v


def _change(name: str, a: dict[str, Any], b: dict[str, Any]) -> str:
    """One field's change, ``label: 网格 → 网格员`` (``(unset)`` where a side lacks it)."""
    old = _show(a[name]) if name in a else render("(unset)", {})
    new = _show(b[name]) if name in b else render("(unset)", {})
    return render("{field}: {old} → {new}", {"field": name, "old": old, "new": new})


def _transition_key(t: dict[str, Any]) -> str:
    src = t["source"] if isinstance(t["source"], str) else "|".join(t["source"])
    when = ",".join(f"{k}={v}" for k, v in sorted((t.get("when") or {}).items()) if v is not None)
    return f"{t['trigger']} {src} -> {t['dest']}" + (f" when {when}" if when else "")


def diff_workflows(old: Workflow, new: Workflow) -> WorkflowDiff:
    """Compare two workflows by identifier in each section; transitions by trigger, source, dest and condition."""
    d = WorkflowDiff()
    a_data, b_data = old.data, new.data
    for section, key in SECTIONS.items():
        a = {str(i[key]): i for i in a_data.get(section, [])}
        b = {str(i[key]): i for i in b_data.get(section, [])}
        if gone := [k for k in a if k not in b]:
            d.removed[section] = gone
        if new_ := [k for k in b if k not in a]:
            d.added[section] = new_
        for k in a.keys() & b.keys():
            if a[k] != b[k]:
                fields = sorted(set(a[k]) | set(b[k]))
                d.changed.setdefault(section, {})[k] = [_change(f, a[k], b[k]) for f in fields
                                                        if a[k].get(f) != b[k].get(f)]
    ta = {_transition_key(t): t for t in a_data.get("transitions", [])}
    tb = {_transition_key(t): t for t in b_data.get("transitions", [])}
    if gone := [k for k in ta if k not in tb]:
        d.removed["transitions"] = gone
    if new_ := [k for k in tb if k not in ta]:
        d.added["transitions"] = new_
    for k in ta.keys() & tb.keys():
        if ta[k] != tb[k]:
            fields = sorted(set(ta[k]) | set(tb[k]))
            d.changed.setdefault("transitions", {})[k] = [_change(f, ta[k], tb[k]) for f in fields
                                                          if ta[k].get(f) != tb[k].get(f)]
    for section in ("workflow", "evaluation"):
        a, b = a_data.get(section) or {}, b_data.get(section) or {}
        changes = [_change(f, a, b) for f in sorted(set(a) | set(b)) if a.get(f) != b.get(f)]
        if changes:
            d.changed[section] = {section: changes}
    old_labels = {s.label: s.id for s in old.file.states}
    for sid in d.added.get("states", []):
        was = old_labels.get(new.states[sid].label)
        if was is not None and was in d.removed.get("states", []):
            d.renamed.append((was, sid))
    return d


def diff(source: Any, a: str | int, b: str | int) -> tuple[VersionInfo, VersionInfo, WorkflowDiff]:
    """Compare two published versions (see :func:`resolve` for the references)."""
    ctx = _context(source)
    va, vb = resolve(ctx, a), resolve(ctx, b)
    return va, vb, diff_workflows(ctx.spec(va.id), ctx.spec(vb.id))


# --- migrate -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """One open case moved (or to be moved) from one version to another."""

    case_id: int
    from_state: str
    to_state: str
    tier: str

    def to_dict(self) -> dict[str, Any]:
        return {"case": self.case_id, "from_state": self.from_state, "to_state": self.to_state, "tier": self.tier}


@dataclass(frozen=True)
class Migration:
    """The result of :func:`migrate`: what moved (or would move, on a dry run)."""

    from_version: int
    to_version: int
    moves: tuple[Move, ...]
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        return {"from_version": self.from_version, "to_version": self.to_version, "dry_run": self.dry_run,
                "moved": 0 if self.dry_run else len(self.moves), "cases": [m.to_dict() for m in self.moves]}


def parse_mapping(items: list[str] | None) -> dict[str, str]:
    """``["old=new", ...]`` → ``{"old": "new"}``.

    Raises:
        InputError: an item without ``=`` or a state mapped twice.
    """
    out: dict[str, str] = {}
    for item in items or []:
        old, sep, new = item.partition("=")
        old, new = old.strip(), new.strip()
        if not sep or not old or not new:
            raise InputError("bad state mapping '{item}': write OLD_STATE=NEW_STATE", item=item)
        if old in out and out[old] != new:
            raise InputError("the state mapping maps '{old}' twice ({first}, {second})", old=old, first=out[old],
                             second=new)
        out[old] = new
    return out


def plan_migration(old: Workflow, new: Workflow, cases: list[Any],
                   mapping: dict[str, str]) -> list[Move]:
    """Where each open case goes; refuses (naming every case) when any has no place in ``new``.

    Raises:
        InputError: a mapping names a state unknown to either version.
        RuleError: cases whose state is not in ``new`` and has no mapping, or maps elsewhere than its tier.
    """
    from casecraft.workflows.validate import did_you_mean

    for src, dst in mapping.items():
        if src not in old.states:
            hint = did_you_mean(src, old.states)
            raise InputError("state mapping {src}={dst}: '{src}' is not a state of the old version{suggestion}",
                             src=src, dst=dst, suggestion=f"; {hint}" if hint else "")
        if dst not in new.states:
            hint = did_you_mean(dst, new.states)
            raise InputError("state mapping {src}={dst}: '{dst}' is not a state of the new version{suggestion}",
                             src=src, dst=dst, suggestion=f"; {hint}" if hint else "")
    moves: list[Move] = []
    unmapped: dict[str, list[int]] = {}
    wrong: list[str] = []
    for c in cases:
        target = mapping.get(c.state, c.state)
        st = new.states.get(target)
        if st is None:
            unmapped.setdefault(c.state, []).append(c.id)
            continue
        if st.final:
            wrong.append(render("case {case}: '{state}' is final in the new version (a migration never closes a case)",
                                {"case": c.id, "state": target}))
            continue
        if st.tier != c.tier:
            wrong.append(render("case {case} is at tier {tier}, but '{state}' is at {new_tier} (a migration keeps a "
                                "case where it is)", {"case": c.id, "tier": c.tier, "state": target,
                                                       "new_tier": st.tier}))
            continue
        moves.append(Move(c.id, c.state, target, c.tier))
    if unmapped or wrong:
        parts = [render("state '{state}' (cases {cases})", {"state": s, "cases": ", ".join(map(str, ids))})
                 if len(ids) > 1 else render("state '{state}' (case {cases})", {"state": s, "cases": ids[0]})
                 for s, ids in sorted(unmapped.items())]
        pieces = [render("these open cases are in states the new version does not have: {states}. Map each with "
                         "--map OLD=NEW", {"states": Joined(parts)})] if parts else []
        text = Joined([*pieces, *wrong])
        raise RuleError("nothing migrated: {reason}", reason=text, unmapped=sorted(unmapped), cases=sorted(
            i for ids in unmapped.values() for i in ids))
    return moves


def migrate(source: Any, from_ref: str | int, to_ref: str | int, *, actor: str | None = None,
            mapping: dict[str, str] | None = None, note: str | None = None, dry_run: bool = False) -> Migration:
    """Move every open case of one version to another, all or nothing (an admin's act, recorded).

    Args:
        actor: the admin doing it (recorded on each case's timeline and in the admin chain).
        mapping: old state → new state, for states the new version renamed or dropped.
        dry_run: only plan; change nothing.

    Raises:
        InputError: bad versions or mapping.
        PermissionDenied: the actor is not an admin.
        RuleError: a case with no place in the new version (nothing is changed).
        ConflictError: someone changed a case meanwhile (nothing is changed).
    """
    ctx = _context(source)
    va, vb = resolve(ctx, from_ref), resolve(ctx, to_ref)
    if va.id == vb.id:
        raise InputError("the two versions are the same (v{number})", number=va.number)
    old, new = ctx.spec(va.id), ctx.spec(vb.id)
    mapping = mapping or {}
    with ctx.read() as tx:
        cases, _ = tx.list_cases(is_open=True, limit=10**9, version_id=va.id)
    moves = plan_migration(old, new, cases, mapping)
    if dry_run or not moves:
        return Migration(va.number, vb.number, tuple(moves), dry_run)
    text = f"工作流版本 v{va.number} → v{vb.number}" + (f"：{note.strip()}" if note and note.strip() else "")
    with ctx.write() as tx:
        admin = adminlog.require_admin(ctx, tx, actor)
        when = ctx.when()
        who = actor_of(acting_person(tx, admin)) if admin != adminlog.SANDBOX_ACTOR else tl.Actor(
            id=admin, name="沙盒管理员", role="admin", unit=None)
        for m in moves:
            case = tx.case(m.case_id, for_update=True)
            if case is None or case.workflow_version_id != va.id or not case.is_open or case.state != m.from_state:
                raise ConflictError("case {case} changed while migrating; nothing was migrated, run it again",
                                    case=m.case_id)
            ops: list[tl.DeadlineOp] = []
            if m.from_state != m.to_state:
                step_dl = tx.open_deadlines([m.case_id]).get(m.case_id)
                if step_dl is not None:
                    ops.append(tl.SetDeadline(step_dl, {"state": m.to_state}))
            step = tl.Step(trigger=MIGRATE, changes={"workflow_version_id": vb.id, "state": m.to_state},
                           deadlines=tuple(ops), note=text)
            try:
                tl.append(tx, case, step, who, when)
            except ConflictError:
                raise ConflictError("case {case} changed while migrating; nothing was migrated, run it again",
                                    case=m.case_id) from None
        adminlog.record(tx, admin, "workflow.migrate", {"from": va.number, "to": vb.number, "mapping": mapping,
                                                        "cases": [m.case_id for m in moves], "note": note}, when)
    return Migration(va.number, vb.number, tuple(moves), False)


__all__ = ["Migration", "Move", "VersionInfo", "WorkflowDiff", "diff", "diff_workflows", "list_versions",
           "migrate", "parse_mapping", "plan_migration", "publish", "resolve"]
