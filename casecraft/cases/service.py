"""Cases: report, fire, the triggers open now, and reading cases back — one unit of work each.

An operator action is one database transaction: load the case row (locked on
PostgreSQL), ask the version's compiled machine which transitions the trigger
has from here for this case, check the actor (read in the same transaction),
then append one step through :mod:`casecraft.cases.timeline`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC
from typing import Any

from casecraft.base.errors import (
    N_,
    ConflictError,
    InputError,
    NotFound,
    PermissionDenied,
    RuleError,
    TriggerNotAllowed,
    render,
)
from casecraft.base.records import CaseRow, Entry
from casecraft.base.text import check_id, clean_text
from casecraft.base.views import CaseView, Page, TimelineView, TriggerOption, maker, mask_contact
from casecraft.cases import deadlines as dl
from casecraft.cases import timeline as tl
from casecraft.cases.files import staged, store_staged
from casecraft.cases.rules import ADMIN_ROLE, acting_person, actor_of, case_at, may_act, route
from casecraft.context import Context
from casecraft.store.base import DuplicateKey, Tx
from casecraft.workflows.machine import ANY, MachineError
from casecraft.workflows.org import OrgPerson
from casecraft.workflows.shape import OUTCOMES, SOURCES, Transition
from casecraft.workflows.spec import Workflow

MAX_TEXT = 2000
MAX_NOTE = 2000
_TIMELINE_VIEW, _CASE_VIEW = maker(TimelineView), maker(CaseView)  # every read and step makes them
LIST_LIMIT = 100_000


def did_you_mean(word: str, choices: Any) -> str | None:
    """A "did you mean X?" hint (the workflow validator is loaded only when an action is refused)."""
    from casecraft.workflows.validate import did_you_mean as hint

    return hint(word, choices)


class ShownTimelines:
    """The timeline views of recently shown cases (a bounded LRU), reused while they are provably current.

    A timeline is append-only and each entry's hash chains every entry before it, so a case row whose
    ``last_hash`` and ``version`` are those the views were made for has exactly those entries; the views'
    unit and person names are those of the organisation they were labelled with, which is dropped whenever
    the administrative revision moves (so the same organisation object means the same names).
    """

    SIZE = 256  # cases; with their views about 2 MB at a dozen steps each (the RSS row)

    def __init__(self) -> None:
        self._d: OrderedDict[int, tuple[str | None, int, Any, Any, tuple[TimelineView, ...]]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._d)

    def get(self, case: CaseRow, org: Any) -> tuple[TimelineView, ...] | None:
        with self._lock:
            hit = self._d.get(case.id)
            if (hit is None or hit[0] != case.last_hash or hit[1] != case.version or hit[2] is not org.units
                    or hit[3] is not org.people):
                return None
            self._d.move_to_end(case.id)
            return hit[4]

    def put(self, case: CaseRow, org: Any, views: tuple[TimelineView, ...]) -> None:
        if case.last_hash is None or len(views) != case.version:
            return
        with self._lock:
            self._d[case.id] = (case.last_hash, case.version, org.units, org.people, views)
            self._d.move_to_end(case.id)
            if len(self._d) > self.SIZE:
                self._d.popitem(last=False)


class CaseService:
    """Report, fire, triggers, get, list — over a shared :class:`Context`."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.shown = ShownTimelines()

    # who acts, when ----------------------------------------------------------------------------
    def acting(self, tx: Tx, actor: str, on_behalf_of: str | None = None,
               roles: Sequence[str] = ()) -> tuple[OrgPerson, tl.Actor, tl.When]:
        """The acting person (read in ``tx``), their entry snapshot, and the step's time.

        A step entered by an admin for someone else records the admin (``on_behalf_of``);
        a time other than the writing machine's clock is allowed on a sandbox database
        or for an admin, and is recorded as a back-fill.

        Raises:
            InputError / PermissionDenied: unknown or deactivated person; a back-fill or an
                entry on behalf by someone who is not an admin.
        """
        people = self.ctx.org_in(tx)  # checked against the administrative revision when tx began
        person = acting_person(people, actor)
        when = self.ctx.when()
        authority = person
        if on_behalf_of is not None and on_behalf_of != person.id:
            authority = acting_person(people, on_behalf_of)
            if ADMIN_ROLE not in authority.roles:
                raise PermissionDenied("{name}({id}) may act only as themself; entering a step for {actor} needs "
                                       "the admin role", name=authority.name, id=authority.id, actor=actor)
        else:
            on_behalf_of = None
        if when.backfill and ADMIN_ROLE not in authority.roles:
            raise PermissionDenied("a time other than now is allowed only on a sandbox database or for an admin's "
                                   "back-fill; {name}({id}) is not an admin",
                                   name=authority.name, id=authority.id)
        return person, actor_of(person, roles, on_behalf_of), when

    # report -----------------------------------------------------------------------------------------
    def report(self, *, source: str, grid: str, category: str, desc: str, actor: str, ref: str | None = None,
               urgency: str | None = None, address: str | None = None, note: str | None = None,
               photos: Sequence[str] = (), on_behalf_of: str | None = None) -> CaseView:
        """Create a case and record its first timeline entry.

        Raises:
            InputError: an unknown source, grid, category or person; bad text.
            PermissionDenied: the actor may not report this kind of case here.
            RuleError: a hotline ticket already imported.
        """
        version = self.ctx.current()
        wf, vid = version.spec, version.id
        if source not in SOURCES:
            raise InputError("unknown source '{source}'; use one of: {allowed}", source=source,
                             allowed=", ".join(SOURCES))
        desc_clean = clean_text(desc, N_("the description"), MAX_TEXT, required=True)
        note = clean_text(note, N_("the note"), MAX_NOTE)
        address = clean_text(address, N_("the address"), 500)
        ref = clean_text(ref, N_("the ticket number"), 64, single_line=True)
        cat = wf.categories.get(category)
        if cat is None:
            hint = did_you_mean(category, wf.categories)
            raise InputError("unknown category '{category}'{hint}", category=category,
                             hint=f"; {hint}" if hint else "")
        urgency = urgency or cat.urgency
        if urgency not in {u.id for u in wf.file.urgencies}:
            raise InputError("unknown urgency '{urgency}'", urgency=urgency)
        machine = self.ctx.machine(vid)
        trigger = machine.report_trigger
        picked = machine.next_state(wf.initial, trigger, source=source)
        if picked is None:
            raise TriggerNotAllowed("the workflow has no '{trigger}' for source '{source}'", trigger=trigger,
                                    source=source)
        dest, tr = picked
        tier = wf.states[dest].tier
        with staged(photos) as staging, self.ctx.write() as tx:
            org = self.ctx.org_in(tx)
            unit = org.unit(grid)
            if unit is None or unit.tier != wf.tiers[0] or unit.kind != "platform":
                raise InputError("unknown grid '{grid}'; give a grid code (15 digits)",
                                 grid=grid)
            if not unit.active:
                raise InputError("grid '{grid}' ({name}) is deactivated; report it on the grid that covers the place "
                                 "now", grid=grid, name=unit.name)
            case_unit = org.at_tier(grid, tier)
            if case_unit is None:
                raise InputError("grid '{grid}' has no {tier} unit above it in the organisation", grid=grid,
                                 tier=tier)
            person, who, when = self.acting(tx, actor, on_behalf_of, tr.roles)
            probe = case_at(case_unit)
            why = may_act(wf, org, tr, person, probe)
            if why:
                raise PermissionDenied("{name} may not report a {source} case here: {why}", name=person.name,
                                       source=source, why=why, actor=actor)
            if ref is not None:
                existing = tx.case_by_ref(source, ref)
                if existing is not None:
                    raise RuleError("ticket {ref} was already reported as case {case}", case=existing, ref=ref)
            files = store_staged(tx, staging, when.recorded_at)
            now = when.at
            values: dict[str, Any] = {
                "workflow_version_id": vid, "state": dest, "tier": tier, "unit_code": case_unit, "grid_code": grid,
                "category_code": category, "urgency": urgency, "source": source, "ref": ref,
                "description": desc_clean, "address": address, "reporter_id": person.id, "assignees": [],
                "resolved_tier": None, "is_open": not wf.is_final(dest), "created_at": now, "updated_at": now,
                "closed_at": None, "registered_at": None, "deadline_at": None, "parked": False, "channel": None,
                "received_at": None, "contact": None, "feedback": None, "extension_request": None,
            }
            ops: list[tl.DeadlineOp] = []
            cal = self.ctx.calendar(wf)
            step_dl = dl.open_step(wf, cal, dest, tier, case_unit, category, urgency, now)
            if step_dl is not None:
                ops.append(step_dl)
            if tr.registers:
                values["registered_at"] = now
                case_dl = dl.open_case(wf, cal, dest, tier, case_unit, category, now)
                if case_dl is not None:
                    values["deadline_at"] = case_dl.due_at
                    ops.append(case_dl)
            step = tl.Step(trigger=tr.trigger, changes=values, deadlines=tuple(ops), note=note, attachments=files)
            try:
                case_id = tl.create(tx, values, step, who, when)
            except DuplicateKey:
                raise RuleError("ticket {ref} was already reported", ref=ref) from None
            return self._read_back(tx, case_id)

    # fire -------------------------------------------------------------------------------------------
    def fire(self, case_id: int, trigger: str, *, actor: str, note: str | None = None, to: Sequence[str] = (),
             outcome: str | None = None, photos: Sequence[str] = (), expected_version: int | None = None,
             on_behalf_of: str | None = None) -> CaseView:
        """Fire ``trigger`` on a case as ``actor``: one transaction, all or nothing.

        Raises:
            NotFound: no such case.
            TriggerNotAllowed: the trigger is unknown, or the case's state does not allow it (lists what does).
            PermissionDenied: the actor's role or unit may not fire it.
            ConflictError: someone else changed the case first.
            InputError: a missing note/target/outcome, bad text or an unknown target.
        """
        check_id(case_id)
        note = clean_text(note, N_("the note"), MAX_NOTE)
        if outcome is not None and outcome not in OUTCOMES:
            raise InputError("unknown outcome '{outcome}'; use {allowed}", outcome=outcome,
                             allowed=" or ".join(OUTCOMES))
        with staged(photos) as staging, self.ctx.write_case(case_id) as (tx, row):
            case = _found(row, case_id)
            if expected_version is not None and case.version != expected_version:
                raise ConflictError("case {case} was changed by someone else (now at version {version}, you saw "
                                    "{expected}); look at it again", case=case_id, version=case.version,
                                    expected=expected_version)
            vid = case.workflow_version_id
            wf, machine = self.ctx.spec(vid), self.ctx.machine(vid)
            org = self.ctx.org_in(tx)
            if not machine.knows(trigger):
                hint = did_you_mean(trigger, machine.machine.events)
                here = machine.triggers_from(case.state)
                raise TriggerNotAllowed("'{trigger}' is not a trigger of this workflow{hint}. Allowed: {listed}",
                                        case=case_id, trigger=trigger, hint=f" ({hint})" if hint else "",
                                        state=case.state, listed=", ".join(here) or N_("none (the case is finished)"),
                                        allowed=here)
            if case.parked:
                raise TriggerNotAllowed("case {case} is parked (挂账) and its clock is stopped; a leader unparks it "
                                        "before anyone acts on it", case=case_id, trigger=trigger, state=case.state,
                                        allowed=[])
            allowed = machine.triggers_from(case.state)
            ctx = {"source": case.source, "outcome": outcome, "resolved_tier": case.resolved_tier}
            try:
                picked = machine.next_state(case.state, trigger, **ctx)
            except MachineError:
                listed = ", ".join(allowed) or N_("none (the case is finished)")
                raise TriggerNotAllowed("case {case} is {state_label}({state}); '{trigger}' is not allowed there. "
                                        "Allowed: {listed}", case=case_id, trigger=trigger, state=case.state,
                                        state_label=wf.state_label(case.state), listed=listed,
                                        allowed=allowed) from None
            if picked is None:
                needs = machine.candidates(case.state, trigger, **{**ctx, "outcome": ANY})
                if needs and outcome is None and any(t.when and t.when.outcome for t in needs):
                    raise InputError("'{trigger}' needs an outcome: {allowed}", case=case_id, trigger=trigger,
                                     allowed=" or ".join(OUTCOMES))
                raise TriggerNotAllowed("no '{trigger}' transition from {state} applies to this case (source "
                                        "{source}, outcome {outcome}, resolved at {resolved})", case=case_id,
                                        trigger=trigger, state=case.state, source=case.source, outcome=outcome,
                                        resolved=case.resolved_tier, allowed=allowed)
            dest, tr = picked
            person, who, when = self.acting(tx, actor, on_behalf_of, tr.roles)
            why = may_act(wf, org, tr, person, case)
            if why:
                raise PermissionDenied("{name} may not '{trigger}' case {case}: {why}", name=person.name,
                                       trigger=trigger, case=case_id, why=why, actor=actor, roles=list(tr.roles))
            if "note" in tr.requires and not note:
                raise InputError("'{trigger}' needs a note (a reason or a record of what was done)", case=case_id,
                                 trigger=trigger)
            if "outcome" in tr.requires and outcome is None:
                raise InputError("'{trigger}' needs an outcome: {allowed}", case=case_id, trigger=trigger,
                                 allowed=" or ".join(OUTCOMES))
            joint = _joint_feedback(tr, case, person, outcome, org)
            files = store_staged(tx, staging, when.recorded_at)
            if joint is not None and joint[0] is None:
                # other parties have yet to feed back: record this one only, the state stays
                step = tl.Step(trigger=tr.trigger, changes={"feedback": joint[1]}, outcome=outcome, note=note,
                               attachments=files)
            else:
                if joint is not None and joint[0] != outcome:
                    # every party fed back: the joint outcome decides the step
                    outcome = joint[0]
                    again = machine.next_state(case.state, trigger, **{**ctx, "outcome": outcome})
                    if again is None:
                        raise TriggerNotAllowed("no '{trigger}' transition from {state} for outcome {outcome}",
                                                case=case_id, trigger=trigger, state=case.state, outcome=outcome,
                                                allowed=allowed)
                    dest, tr = again
                step = self._transition(tx, wf, org, tr, case, dest, to, outcome, note, files, when)
            return self._append(tx, case, step, who, when, expected_version)

    def _transition(self, tx: Tx, wf: Workflow, org: Any, tr: Transition, case: CaseRow, dest: str, to: Sequence[str],
                    outcome: str | None, note: str | None, files: tuple[dict[str, Any], ...],
                    when: tl.When) -> tl.Step:
        """The step of a state change: where the case goes, its assignees, its deadlines."""
        from_tier, to_tier = case.tier, wf.states[dest].tier
        where = route(wf, org, tr, case, to_tier, to)
        # a same-tier hand-over to named parties (派遣) makes them the assignees
        assignees = list(where.targets) if ("target" in tr.requires and to_tier == from_tier) else []
        final = wf.is_final(dest)
        changes: dict[str, Any] = {"state": dest, "tier": to_tier, "unit_code": where.unit, "grid_code": where.grid,
                                   "assignees": assignees, "is_open": not final, "feedback": None}
        if tr.resolves:
            changes["resolved_tier"] = from_tier
        if final:
            changes["closed_at"] = when.at
        changes = {k: v for k, v in changes.items() if getattr(case, k) != (tuple(v) if k == "assignees" else v)}
        ops = self.timekeeping(tx, wf, case, tr, dest, to_tier, where.unit, when.at, changes)
        return tl.Step(trigger=tr.trigger, changes=changes, deadlines=tuple(ops), targets=where.targets,
                       outcome=outcome, note=note, attachments=files)

    def timekeeping(self, tx: Tx, wf: Workflow, case: CaseRow, tr: Transition, dest: str, tier: str, unit: str,
                    now: Any, changes: dict[str, Any]) -> list[tl.DeadlineOp]:
        """Close the step deadline being left, open the one entered; start/close/pause the case clock.

        Adds the case fields this sets (registration, the case deadline) to ``changes``.
        """
        ops: list[tl.DeadlineOp] = [tl.CloseDeadlines(("step",))]
        cal = self.ctx.calendar(wf)
        if not case.parked:
            opened = dl.open_step(wf, cal, dest, tier, unit, case.category_code, case.urgency, now)
            if opened is not None:
                ops.append(opened)
        if tr.registers and case.registered_at is None:
            changes["registered_at"] = now
            opened_case = dl.open_case(wf, cal, dest, tier, unit, case.category_code, now)
            if opened_case is not None:
                changes["deadline_at"] = opened_case.due_at
                ops.append(opened_case)
        if not case.parked:
            was_paused, now_paused = wf.states[case.state].paused, wf.states[dest].paused
            if now_paused and not was_paused:  # a waiting state stops the case's clock
                ops.append(tl.CloseDeadlines(("case",), "paused"))
            elif was_paused and not now_paused:
                resumed, due = self.resume_ops(tx, case, wf, now, ("case",))
                ops.extend(resumed)
                if due is not None:
                    changes["deadline_at"] = due
        if wf.is_final(dest):
            ops.append(tl.CloseDeadlines(("case",)))
        return ops

    def resume_ops(self, tx: Tx, case: CaseRow, wf: Workflow, now: Any,
                   kinds: tuple[str, ...]) -> tuple[list[tl.DeadlineOp], Any]:
        """Re-open the case's paused deadlines of ``kinds`` with the time that was left; the case deadline's new due."""
        rows = tx.paused_deadlines(case.id, kinds)
        cal = self.ctx.calendar(wf)
        ops: list[tl.DeadlineOp] = []
        case_due = None
        for row in rows:
            values = dl.resumed(cal, row, now)
            ops.append(tl.SetDeadline(row, values))
            if row.kind == "case":
                case_due = values["due_at"]
        return ops, case_due

    # reads --------------------------------------------------------------------------------------------
    def _case(self, tx: Tx, case_id: int) -> CaseRow:
        return _found(tx.case(case_id), case_id)

    def _read_back(self, tx: Tx, case_id: int) -> CaseView:
        """The case as this transaction wrote it (not as a later writer may have left it)."""
        case = tx.case(case_id)
        assert case is not None
        return self._shown_view(tx, case, self.ctx.org_in(tx))

    def _append(self, tx: Tx, case: CaseRow, step: tl.Step, who: tl.Actor, when: tl.When,
                expected_version: int | None = None) -> CaseView:
        """Append ``step`` to ``case`` and return the case as this transaction left it: its timeline is the one
        shown for ``case`` (when that is current) plus the entry just written, else read through ``tx``."""
        left, entry = tl.append_step(tx, case, step, who, when, expected_version=expected_version,
                                     zone=self.ctx.spec(case.workflow_version_id).timezone)
        org = self.ctx.org_in(tx)
        prior = self.shown.get(case, org)
        timeline = None
        if prior is not None:
            timeline = (*prior, self._entry_view(self.ctx.spec(case.workflow_version_id), org, entry))
        return self._shown_view(tx, left, org, timeline)

    def _shown_view(self, tx: Tx, case: CaseRow, org: Any,
                    timeline: tuple[TimelineView, ...] | None = None) -> CaseView:
        """The view of ``case`` with its whole timeline: ``timeline`` if given, else the shown one when it is
        current, else read through ``tx``."""
        if timeline is None:
            timeline = self.shown.get(case, org)
        if timeline is None:
            wf = self.ctx.spec(case.workflow_version_id)
            timeline = tuple(self._entry_view(wf, org, e) for e in tx.timeline(case.id, facts=False))
        self.shown.put(case, org, timeline)
        return self.view(case, None, org=org, timeline=timeline)

    def get(self, case_id: int) -> CaseView:
        """A case with its whole timeline.

        Raises:
            NotFound: no such case.
        """
        check_id(case_id)
        with self.ctx.read() as tx:
            return self._shown_view(tx, self._case(tx, case_id), self.ctx.org_in(tx))

    def page(self, *, state: str | None = None, tier: str | None = None, org: str | None = None,
             is_open: bool | None = None, limit: int = 200, offset: int = 0, ids: Sequence[int] | None = None,
             parked: bool | None = None, category: str | None = None, source: str | None = None,
             sort: str = "id") -> Page:
        """Cases filtered by state, tier, organisation subtree, open/closed, parked (挂账), category, source
        and ids, in a stable order (``id``, ``-id`` newest first, ``updated``, ``-updated``), one page at a time."""
        wf = self.ctx.workflow
        if not 1 <= limit <= LIST_LIMIT:
            raise InputError("the page size must be between 1 and {max}", max=LIST_LIMIT)
        if offset < 0:
            raise InputError("the offset must be 0 or more")
        if sort not in ("id", "-id", "updated", "-updated"):
            raise InputError("unknown sort '{sort}'; use id, -id (newest first), updated or -updated", sort=sort)
        if tier is not None and tier not in wf.tiers:
            raise InputError("unknown tier '{tier}'; use one of: {allowed}", tier=tier, allowed=", ".join(wf.tiers))
        if state is not None and state not in wf.states:
            hint = did_you_mean(state, wf.states)
            raise InputError("unknown state '{state}'{hint}", state=state, hint=f"; {hint}" if hint else "")
        if source is not None and source not in SOURCES:
            raise InputError("unknown source '{source}'; use one of: {allowed}", source=source,
                             allowed=", ".join(SOURCES))
        with self.ctx.read() as tx:
            view_org = self.ctx.org_in(tx)
            if org is not None and view_org.unit(org) is None:
                raise InputError("unknown unit '{unit}'", unit=org)
            rows, total = tx.list_cases(states=[state] if state else None, tier=tier, org=org, is_open=is_open,
                                        limit=limit, offset=offset, ids=ids, parked=parked, category=category,
                                        source=source, sort=sort)
            views = [self.view(r, None, org=view_org) for r in rows]
        return Page(views, total, limit, offset)

    def triggers(self, case_id: int, actor: str | None = None) -> list[TriggerOption]:
        """What may happen next to a case and who may do it (and whether ``actor`` may), from the machine."""
        check_id(case_id)
        with self.ctx.read() as tx:
            case = self._case(tx, case_id)
            wf, machine = self.ctx.spec(case.workflow_version_id), self.ctx.machine(case.workflow_version_id)
            org = self.ctx.org_in(tx)
            person = acting_person(tx, actor) if actor else None
            out: list[TriggerOption] = []
            ctx = {"source": case.source, "resolved_tier": case.resolved_tier, "outcome": ANY}
            for trig in machine.triggers_from(case.state):
                applicable = machine.candidates(case.state, trig, **ctx)
                if not applicable:
                    continue
                conds = tuple(f"outcome={t.when.outcome}" for t in applicable if t.when and t.when.outcome)
                roles = tuple(dict.fromkeys(r for t in applicable for r in t.roles))
                requires = tuple(dict.fromkeys(r for t in applicable for r in t.requires))
                allowed = reason = None
                if person is not None:
                    reasons = [may_act(wf, org, t, person, case) for t in applicable]
                    if case.parked:
                        reasons = [render("the case is parked (挂账)", {})]
                    allowed = any(r is None for r in reasons)
                    reason = None if allowed else reasons[0]
                out.append(TriggerOption(
                    trigger=trig, label=wf.trigger_label(trig), dest=tuple(t.dest for t in applicable),
                    dest_labels=tuple(wf.state_label(t.dest) for t in applicable), roles=roles,
                    role_labels=tuple(wf.roles[r].label if r in wf.roles else r for r in roles), requires=requires,
                    conditions=conds, actor=applicable[0].actor, allowed=allowed, reason=reason))
        return out

    @staticmethod
    def _entry_view(wf: Workflow, org: Any, e: Entry) -> TimelineView:
        """One entry as an operator sees it (times in UTC, as the store gives them back)."""
        return _TIMELINE_VIEW(
            seq=e.seq, at=e.at.astimezone(UTC), actor=e.actor_id, actor_name=e.actor_name or e.actor_id,
            actor_role=e.actor_role, actor_unit=e.actor_unit, trigger=e.trigger,
            trigger_label=wf.trigger_label(e.trigger), from_state=e.from_state, to_state=e.to_state,
            to_state_label=wf.state_label(e.to_state), from_tier=e.from_tier, to_tier=e.to_tier, unit=e.unit_code,
            unit_name=org.label(e.unit_code), targets=tuple(e.targets), target_names=org.names(list(e.targets)),
            outcome=e.outcome, note=e.note, attachments=tuple(e.attachments), hash=e.hash,
            recorded_at=(e.recorded_at or e.at).astimezone(UTC), backfill=e.backfill, on_behalf_of=e.on_behalf_of)

    def view(self, case: CaseRow, entries: list[Entry] | None, *, org: Any = None,
             timeline: tuple[TimelineView, ...] | None = None) -> CaseView:
        """A case as an operator sees it (labels from its own workflow version and the organisation);
        its timeline made from ``entries``, or ``timeline`` as already made."""
        org = org or self.ctx.org
        wf = self.ctx.spec(case.workflow_version_id)
        cat = wf.categories.get(case.category_code)
        if timeline is None:
            timeline = tuple(self._entry_view(wf, org, e) for e in entries or ())
        return _CASE_VIEW(
            id=case.id, state=case.state, state_label=wf.state_label(case.state), tier=case.tier,
            tier_label=wf.tier_labels.get(case.tier, case.tier), unit=case.unit_code,
            unit_name=org.label(case.unit_code), grid=case.grid_code, category=case.category_code,
            category_label=cat.label if cat else case.category_code, urgency=case.urgency, source=case.source,
            ref=case.ref, description=case.description, address=case.address, reporter=case.reporter_id,
            assignees=case.assignees, resolved_tier=case.resolved_tier, open=case.is_open,
            created_at=case.created_at, updated_at=case.updated_at, closed_at=case.closed_at, version=case.version,
            workflow_version=self.ctx.version_number(case.workflow_version_id), deadline_at=case.deadline_at,
            timezone=wf.timezone, timeline=timeline, parked=case.parked, feedback=dict(case.feedback or {}),
            extension_request=case.extension_request, channel=case.channel, received_at=case.received_at,
            contact=mask_contact(case.contact), registered_at=case.registered_at)

    # side steps (the state stays) ----------------------------------------------------------------------
    def side_step(self, case_id: int, trigger: str, *, actor: str, note: str | None,
                  build: Callable[[Tx, Workflow, CaseRow, OrgPerson, tl.When], tuple[str, dict[str, Any],
                                                                                    list[tl.DeadlineOp]]],
                  on_behalf_of: str | None = None, role_hint: Sequence[str] = ()) -> CaseView:
        """Record a step that keeps the state (urge, extend, park, extension requests) through the one write path.

        ``build(tx, wf, case, person, when)`` checks what it must (raising to refuse) and
        returns (text for the note, case fields to set, deadline operations).
        """
        check_id(case_id)
        note = clean_text(note, N_("the note"), MAX_NOTE)
        with self.ctx.write_case(case_id) as (tx, row):
            case = _found(row, case_id)
            if not case.is_open:
                raise ConflictError("case {case} is finished; nothing to {trigger}", case=case_id, trigger=trigger)
            wf = self.ctx.spec(case.workflow_version_id)
            person, who, when = self.acting(tx, actor, on_behalf_of, role_hint)
            extra_note, changes, ops = build(tx, wf, case, person, when)
            full_note = " ".join(x for x in (extra_note, note) if x) or None
            step = tl.Step(trigger=trigger, changes=changes, deadlines=tuple(ops), note=full_note)
            return self._append(tx, case, step, who, when)


def _found(case: CaseRow | None, case_id: int) -> CaseRow:
    if case is None:
        raise NotFound("no case {case}", case=case_id)
    return case


def _joint_feedback(tr: Transition, case: CaseRow, person: OrgPerson, outcome: str | None,
                    org: Any) -> tuple[str | None, dict[str, str]] | None:
    """For a joint feedback on a case dispatched to several parties: (the joint outcome, or None while others
    are pending; the feedback so far); None when only one party acts or the transition is not joint."""
    assignees = list(case.assignees)
    if not tr.joint or len(assignees) < 2 or outcome is None:
        return None
    party = person.id if person.id in assignees else person.unit
    fed = dict(case.feedback or {})
    if party in fed:
        raise ConflictError("{party_name}({party}) already fed back on case {case} ({outcome}); waiting for "
                            "{pending}", party_name=org.label(party), party=party, case=case.id, outcome=fed[party],
                            pending=org.names([a for a in assignees if a not in fed]))
    fed[party] = outcome
    if any(a not in fed for a in assignees):
        return None, fed
    return ("solved" if all(v == "solved" for v in fed.values()) else "unsolved"), fed


__all__ = ["CaseService", "Page"]
