"""The engine: report, fire, get, list, triggers — one unit of work each.

An operator action is one database transaction: load the case row, let the
workflow's shared state machine pick the transition, check the actor's role
and unit, then update the case under its optimistic version and append a
hash-chained timeline entry. Either everything commits or nothing does.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from casecraft.attachments import Attachment, AttachmentStore
from casecraft.base.clock import Clock, SystemClock
from casecraft.base.errors import (
    ConflictError,
    InputError,
    NotFound,
    PermissionDenied,
    RuleError,
    TriggerNotAllowed,
)
from casecraft.base.views import CaseView, TimelineView, TriggerOption
from casecraft.cases.fieldloop import FieldLoop
from casecraft.intake.service import Intake
from casecraft.store import alerts_repo, pause_repo
from casecraft.store.repo import DbOrganisation, DuplicateKey, Store, Tx
from casecraft.timing import deadlines as dl
from casecraft.timing.supervision import Supervision
from casecraft.workflows.loader import load_workflow
from casecraft.workflows.machine import CompiledMachine, MachineError
from casecraft.workflows.model import OUTCOMES, SOURCES, Transition
from casecraft.workflows.org import Organisation, OrgPerson
from casecraft.workflows.spec import Workflow
from casecraft.workflows.validate import did_you_mean

MAX_TEXT = 2000
MAX_ID = 2**63 - 1


def _check_id(case_id: int) -> None:
    if not 1 <= case_id <= MAX_ID:
        raise NotFound(f"no case {case_id}", case=case_id)
MAX_NOTE = 2000


def _text(value: str | None, what: str, limit: int, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise InputError(f"{what} is required")
        return None
    value = value.strip()
    if required and not value:
        raise InputError(f"{what} must not be empty")
    if len(value) > limit:
        raise InputError(f"{what} is {len(value)} characters; at most {limit} are allowed")
    bad = [c for c in value if ord(c) < 32 and c not in "\n\t"]
    if bad:
        raise InputError(f"{what} contains control characters; remove them")
    return value or None


def entry_hash(entry: dict[str, Any]) -> str:
    """The hash chaining a timeline entry to the one before it."""
    fields = {
        "case_id": entry["case_id"], "seq": entry["seq"], "at": entry["at"].isoformat(),
        "actor_id": entry["actor_id"], "actor_role": entry["actor_role"], "actor_unit": entry["actor_unit"],
        "trigger": entry["trigger"], "from_state": entry["from_state"], "to_state": entry["to_state"],
        "from_tier": entry["from_tier"], "to_tier": entry["to_tier"], "unit_code": entry["unit_code"],
        "targets": list(entry["targets"] or []), "outcome": entry["outcome"], "note": entry["note"],
        "attachments": list(entry["attachments"] or []), "prev_hash": entry["prev_hash"],
    }
    blob = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class Engine(FieldLoop, Supervision, Intake):
    """The casecraft engine over one database and one current workflow.

    Args:
        db: an SQLAlchemy URL; default ``$CASECRAFT_DB`` or ``sqlite:///casecraft.db``.
        workflow: a loaded :class:`Workflow` or a path to workflows.yaml; default:
            ``$CASECRAFT_WORKFLOW``, ./workflows.yaml, else the packaged default.
        clock: where "now" comes from; default the system clock.
        data_dir: where attachments are stored; default beside an SQLite file,
            else ``$CASECRAFT_DATA`` or ./casecraft-data.
    """

    def __init__(
        self,
        db: str | None = None,
        workflow: Workflow | str | os.PathLike[str] | None = None,
        clock: Clock | None = None,
        *,
        data_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self._workflow_arg = workflow
        self._workflow: Workflow | None = workflow if isinstance(workflow, Workflow) else None
        self.store = Store(db)
        self.org: Organisation = DbOrganisation(self.store)
        self._version: tuple[int, int] | None = None
        self._specs: dict[int, Workflow] = {}
        self._machines: dict[int, CompiledMachine] = {}
        self._data_dir = Path(data_dir) if data_dir else self._default_data_dir(db)
        self._org_checked = False
        self._calendar: Any = None
        self._numbers: dict[int, int] = {}

    # setup ---------------------------------------------------------------
    @staticmethod
    def _default_data_dir(db: str | None) -> Path:
        env = os.environ.get("CASECRAFT_DATA")
        if env:
            return Path(env)
        from casecraft.store.db import default_url

        url = db or default_url()
        if url.startswith("sqlite:///") and not url.endswith(":memory:"):
            return Path(url[len("sqlite:///"):]).expanduser().resolve().parent / "casecraft-data"
        return Path("casecraft-data").resolve()

    @property
    def workflow(self) -> Workflow:
        """The current workflow (new cases use it)."""
        if self._workflow is None:
            self._workflow = load_workflow(self._workflow_arg)  # type: ignore[arg-type]
        return self._workflow

    @property
    def timezone(self) -> str:
        return self.workflow.timezone

    def now(self) -> datetime:
        return self.clock.now()

    def close(self) -> None:
        """Release the database connections."""
        self.store.dispose()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def init(self, *, load_org: bool = True) -> dict[str, Any]:
        """Create or upgrade the database, register the workflow version, load the organisation
        (into an empty database only: afterwards `org reload` re-applies the file).

        Returns:
            counts of what changed: units/people added and changed, the version number.
        """
        counts: dict[str, Any] = {"units_added": 0, "units_changed": 0, "people_added": 0, "people_changed": 0}
        if load_org and self.workflow.org is not None:
            with self.store.read() as tx:
                has_units = tx.count_units() > 0
            # the database is the truth once loaded: changes made with `casecraft org ...` must not be
            # undone by the YAML; `casecraft org reload` re-applies the file on purpose
            if not has_units:
                counts.update(self.load_organisation(self.workflow.org))
        with self.store.read() as tx:
            empty = tx.count_calendar_days() == 0
        if empty:
            from casecraft.store.calendar_repo import seed_calendar

            counts["calendar_days_added"] = seed_calendar(self.store, None, self.now())
            self._calendar = None
        vid, number = self.current_version()
        counts["workflow_version"] = number
        counts["workflow_version_id"] = vid
        return counts

    def load_organisation(self, org: Organisation) -> dict[str, int]:
        """Add or update units and people; nothing is deleted, so history keeps its references."""
        counts = {"units_added": 0, "units_changed": 0, "people_added": 0, "people_changed": 0}
        now = self.now()
        with self.store.write() as tx:
            for u in org.units.values():
                r = tx.upsert_unit(u, now)
                if r != "same":
                    counts[f"units_{r}"] += 1
            for p in org.people.values():
                r = tx.upsert_person(p, now)
                if r != "same":
                    counts[f"people_{r}"] += 1
        if isinstance(self.org, DbOrganisation):
            self.org.forget()
        self._org_checked = True
        return counts

    def organisation(self) -> Organisation:
        """The whole organisation as stored (units and people)."""
        self._ensure_org()
        org = DbOrganisation(self.store)
        org.load_all()
        return org

    def _ensure_org(self) -> None:
        if self._org_checked:
            return
        self.calendar()  # load (or seed) the calendar outside any write transaction
        with self.store.read() as tx:
            empty = tx.count_units() == 0
        if empty and self.workflow.org is not None:
            self.load_organisation(self.workflow.org)
        self._org_checked = True

    def current_version(self) -> tuple[int, int]:
        """(id, number) of the current workflow's version, registering it if new."""
        if self._version is None:
            wf = self.workflow
            for _ in range(3):
                with self.store.write() as tx:
                    found = tx.version_by_hash(wf.id, wf.content_hash)
                    if found is None:
                        try:
                            found = tx.insert_version(wf.id, wf.content_hash, wf.spec_json,
                                                      str(wf.path) if wf.path else None, self.now())
                        except DuplicateKey:
                            continue  # another process registered a version at once; look again
                self._version = found
                break
            else:
                raise ConflictError("could not register the workflow version; try again")
            self._specs[self._version[0]] = wf
        return self._version

    def spec_for(self, version_id: int) -> Workflow:
        """The workflow a case runs on (its version), compiled once per process."""
        spec = self._specs.get(version_id)
        if spec is None:
            with self.store.read() as tx:
                row = tx.version(version_id)
            if row is None:
                raise NotFound(f"workflow version {version_id} is not in the database")
            spec = Workflow.from_data(json.loads(row["spec"]))
            if self._workflow is not None and spec.content_hash == self._workflow.content_hash:
                spec = self._workflow
            self._specs[version_id] = spec
        return spec

    def machine_for(self, version_id: int) -> CompiledMachine:
        m = self._machines.get(version_id)
        if m is None:
            m = self._machines[version_id] = CompiledMachine(self.spec_for(version_id))
        return m

    # helpers ---------------------------------------------------------------
    def _person(self, actor: str) -> OrgPerson:
        p = self.org.person(actor)
        if p is None:
            raise InputError(f"unknown person '{actor}'; see `casecraft org show`", actor=actor)
        if not p.active:
            raise PermissionDenied(f"person '{actor}' is deactivated", actor=actor)
        return p

    def _may_act(self, wf: Workflow, tr: Transition, person: OrgPerson, case: dict[str, Any]) -> str | None:
        """None if ``person`` may fire ``tr`` on ``case``; else the reason why not."""
        roles = [r for r in person.roles if r in tr.roles]
        if not roles:
            allowed = ", ".join(f"{r}({wf.roles[r].label})" if r in wf.roles else r for r in tr.roles)
            return (f"{person.name}({person.id}) has role(s) {', '.join(person.roles)}; "
                    f"'{tr.trigger}' here needs one of: {allowed}")
        if tr.actor == "assignee":
            assignees = case.get("assignees") or []
            if person.id in assignees or person.unit in assignees:
                return None
            return (f"'{tr.trigger}' is for the parties the case was dispatched to "
                    f"({self.org.names(assignees) or 'none'}); {person.name} is not one of them")
        unit = case["unit_code"]
        if person.unit == unit:
            return None
        if any(wf.roles[r].scope == "subtree" for r in roles if r in wf.roles) and self.org.within(unit, person.unit):
            return None
        return (f"the case is at {self.org.label(unit)}({unit}); {person.name} works at "
                f"{self.org.label(person.unit)}({person.unit}) and may act only on that unit's cases")

    def _attachments(self, photos: Sequence[str]) -> list[Attachment]:
        if not photos:
            return []
        return AttachmentStore(self._data_dir).put_files(list(photos))

    # commands ----------------------------------------------------------------
    def report(
        self,
        *,
        source: str,
        grid: str,
        category: str,
        desc: str,
        actor: str,
        ref: str | None = None,
        urgency: str | None = None,
        address: str | None = None,
        note: str | None = None,
        photos: Sequence[str] = (),
    ) -> CaseView:
        """Create a case and record its first timeline entry.

        Raises:
            InputError: an unknown source, grid, category or person; bad text.
            PermissionDenied: the actor may not report this kind of case here.
            RuleError: a hotline ticket already imported.
        """
        self._ensure_org()
        vid, _ = self.current_version()
        wf = self.spec_for(vid)
        if source not in SOURCES:
            raise InputError(f"unknown source '{source}'; use one of: {', '.join(SOURCES)}")
        desc_clean = _text(desc, "the description", MAX_TEXT, required=True)
        note = _text(note, "the note", MAX_NOTE)
        address = _text(address, "the address", 500)
        ref = _text(ref, "the ticket number", 64)
        cat = wf.categories.get(category)
        if cat is None:
            hint = did_you_mean(category, wf.categories)
            raise InputError(f"unknown category '{category}'" + (f"; {hint}" if hint else "")
                             + "; see `casecraft workflow show`", category=category)
        urgency = urgency or cat.urgency
        if urgency not in {u.id for u in wf.file.urgencies}:
            raise InputError(f"unknown urgency '{urgency}'")
        unit = self.org.unit(grid)
        if unit is None or unit.tier != wf.tiers[0] or unit.kind != "platform":
            raise InputError(f"unknown grid '{grid}'; give a grid code (15 digits), see `casecraft org show`",
                             grid=grid)
        if not unit.active:
            raise InputError(f"grid '{grid}' ({unit.name}) is deactivated; report it on the grid that covers "
                             "the place now", grid=grid)
        person = self._person(actor)
        machine = self.machine_for(vid)
        picked = machine.next_state(wf.initial, "report", source=source)
        if picked is None:
            raise TriggerNotAllowed(f"the workflow has no 'report' for source '{source}'")
        dest, tr = picked
        tier = wf.states[dest].tier
        case_unit = self.org.at_tier(grid, tier)
        if case_unit is None:
            raise InputError(f"grid '{grid}' has no {tier} unit above it in the organisation")
        probe = {"unit_code": case_unit, "assignees": []}
        why = self._may_act(wf, tr, person, probe)
        if why:
            raise PermissionDenied(f"{person.name} may not report a {source} case here: {why}", actor=actor)
        files = self._attachments(photos)
        now = self.now()
        with self.store.write() as tx:
            if ref is not None:
                existing = tx.case_by_ref(source, ref)
                if existing is not None:
                    raise RuleError(f"ticket {ref} was already reported as case {existing}",
                                    case=existing, ref=ref)
            values = {
                "workflow_version_id": vid, "state": dest, "tier": tier, "unit_code": case_unit,
                "grid_code": grid, "category_code": category, "urgency": urgency, "source": source,
                "ref": ref, "description": desc_clean, "address": address, "reporter_id": person.id,
                "assignees": [], "resolved_tier": None, "is_open": not wf.is_final(dest),
                "created_at": now, "updated_at": now, "closed_at": None, "version": 1,
            }
            try:
                case_id = tx.insert_case(values)
            except DuplicateKey:
                raise RuleError(f"ticket {ref} was already reported", ref=ref) from None
            entry = self._entry(case_id, 1, now, person, tr, None, None, dest, tier, case_unit, [],
                                None, note, files, None)
            extra = self._timekeeping(tx, wf, {**values, "id": case_id}, tr, 1, dest, tier, case_unit, now)
            tx.update_case(case_id, 1, {"last_hash": entry["hash"], **extra})
            tx.insert_timeline(entry)
            written = self._read_back(tx, case_id)
        return self._view(*written)

    def _entry(self, case_id: int, seq: int, now: datetime, person: OrgPerson, tr: Transition,
               from_state: str | None, from_tier: str | None, to_state: str, to_tier: str, unit: str,
               targets: list[str], outcome: str | None, note: str | None, files: list[Attachment],
               prev_hash: str | None) -> dict[str, Any]:
        role = next((r for r in person.roles if r in tr.roles), person.roles[0] if person.roles else None)
        entry: dict[str, Any] = {
            "case_id": case_id, "seq": seq, "at": now, "actor_id": person.id, "actor_role": role,
            "actor_unit": person.unit, "trigger": tr.trigger, "from_state": from_state, "to_state": to_state,
            "from_tier": from_tier, "to_tier": to_tier, "unit_code": unit, "targets": targets,
            "outcome": outcome, "note": note, "attachments": [a.to_dict() for a in files],
            "prev_hash": prev_hash,
        }
        entry["hash"] = entry_hash(entry)
        return entry

    def fire(
        self,
        case_id: int,
        trigger: str,
        *,
        actor: str,
        note: str | None = None,
        to: Sequence[str] = (),
        outcome: str | None = None,
        photos: Sequence[str] = (),
        expected_version: int | None = None,
    ) -> CaseView:
        """Fire ``trigger`` on a case as ``actor``: one transaction, all or nothing.

        Args:
            expected_version: the case version the operator saw; if the case has
                changed since, the action is refused with :class:`ConflictError`.

        Raises:
            NotFound: no such case.
            TriggerNotAllowed: the case's state does not allow the trigger (lists what does).
            PermissionDenied: the actor's role or unit may not fire it.
            ConflictError: someone else changed the case first.
            InputError: a missing note/target/outcome, bad text or an unknown target.
        """
        _check_id(case_id)
        self._ensure_org()
        note = _text(note, "the note", MAX_NOTE)
        if outcome is not None and outcome not in OUTCOMES:
            raise InputError(f"unknown outcome '{outcome}'; use {' or '.join(OUTCOMES)}")
        person = self._person(actor)
        targets_in = [t.strip() for t in to if t and t.strip()]
        now = self.now()
        with self.store.write() as tx:
            case = tx.case(case_id)
            if case is None:
                raise NotFound(f"no case {case_id}", case=case_id)
            if expected_version is not None and case["version"] != expected_version:
                raise ConflictError(
                    f"case {case_id} was changed by someone else (now at version {case['version']}, "
                    f"you saw {expected_version}); look at it again with `casecraft case show {case_id}`",
                    case=case_id, version=case["version"])
            vid = case["workflow_version_id"]
            wf = self.spec_for(vid)
            state = case["state"]
            if case["parked"]:
                raise TriggerNotAllowed(
                    f"case {case_id} is parked (挂账) and its clock is stopped; a leader unparks it with "
                    f"`casecraft case unpark {case_id}` before anyone acts on it",
                    case=case_id, trigger=trigger, state=state, allowed=[])
            allowed = wf.triggers_from(state)
            if trigger not in allowed:
                listed = ", ".join(allowed) or "none (the case is finished)"
                raise TriggerNotAllowed(
                    f"case {case_id} is {wf.state_label(state)}({state}); '{trigger}' is not allowed there. "
                    f"Allowed: {listed}",
                    case=case_id, trigger=trigger, state=state, allowed=allowed)
            ctx = {"source": case["source"], "outcome": outcome, "resolved_tier": case["resolved_tier"]}
            try:
                picked = self.machine_for(vid).next_state(state, trigger, **ctx)
            except MachineError:
                raise TriggerNotAllowed(f"'{trigger}' is not allowed from {state}", case=case_id,
                                        trigger=trigger, state=state, allowed=allowed) from None
            if picked is None:
                needs = [t for t in wf.transitions_from(state, trigger) if t.when is not None]
                if any(t.when and t.when.outcome for t in needs) and outcome is None:
                    raise InputError(f"'{trigger}' needs --outcome {' or '.join(OUTCOMES)}",
                                     case=case_id, trigger=trigger)
                raise TriggerNotAllowed(
                    f"no '{trigger}' transition from {state} applies to this case "
                    f"(source {case['source']}, outcome {outcome}, resolved at {case['resolved_tier']})",
                    case=case_id, trigger=trigger, state=state, allowed=allowed)
            dest, tr = picked
            why = self._may_act(wf, tr, person, case)
            if why:
                raise PermissionDenied(f"{person.name} may not '{trigger}' case {case_id}: {why}",
                                       case=case_id, trigger=trigger, actor=actor, roles=list(tr.roles))
            if "note" in tr.requires and not note:
                raise InputError(f"'{trigger}' needs --note (a reason or a record of what was done)",
                                 case=case_id, trigger=trigger)
            if "outcome" in tr.requires and outcome is None:
                raise InputError(f"'{trigger}' needs --outcome {' or '.join(OUTCOMES)}", case=case_id)
            joint = self._joint_feedback(wf, tr, case, person, outcome)
            if joint is not None and joint[0] is None:
                # other parties have yet to feed back: record this one only
                self._record_feedback(tx, case, person, tr, outcome, note, self._attachments(photos), joint[1], now)
            else:
                if joint is not None and joint[0] != outcome:
                    # every party fed back: the joint outcome decides the step
                    outcome = joint[0]
                    picked = self.machine_for(vid).next_state(state, trigger, **{**ctx, "outcome": outcome})
                    if picked is None:
                        raise TriggerNotAllowed(f"no '{trigger}' transition from {state} for outcome {outcome}",
                                                case=case_id, trigger=trigger, state=state, allowed=allowed)
                    dest, tr = picked
                self._transition(tx, wf, tr, case, person, dest, targets_in, outcome, note, photos, now)
            written = self._read_back(tx, case_id)
        return self._view(*written)

    @staticmethod
    def _read_back(tx: Tx, case_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The case as this transaction wrote it (not as a later writer may have left it)."""
        case = tx.case(case_id)
        assert case is not None
        return case, tx.timeline(case_id)

    def _transition(self, tx: Tx, wf: Workflow, tr: Transition, case: dict[str, Any], person: OrgPerson,
                    dest: str, targets_in: list[str], outcome: str | None, note: str | None,
                    photos: Sequence[str], now: datetime) -> None:
        """Write one state change: the case row under its version, the timeline entry, the deadlines."""
        case_id, state = case["id"], case["state"]
        from_tier = case["tier"]
        to_tier = wf.states[dest].tier
        unit, grid, targets = self._route(wf, tr, case, to_tier, targets_in)
        # a same-tier hand-over to named parties (派遣) makes them the assignees
        assignees = targets if ("target" in tr.requires and to_tier == from_tier) else []
        files = self._attachments(photos)
        final = wf.is_final(dest)
        seq = case["version"] + 1
        entry = self._entry(case_id, seq, now, person, tr, state, from_tier, dest, to_tier, unit,
                            targets, outcome, note, files, case["last_hash"])
        values: dict[str, Any] = {
            "state": dest, "tier": to_tier, "unit_code": unit, "grid_code": grid,
            "assignees": assignees, "updated_at": now, "version": seq, "last_hash": entry["hash"],
            "is_open": not final, "feedback": None,
        }
        if tr.resolves:
            values["resolved_tier"] = from_tier
        if final:
            values["closed_at"] = now
        values.update(self._timekeeping(tx, wf, case, tr, seq, dest, to_tier, unit, now))
        if not tx.update_case(case_id, case["version"], values):
            raise ConflictError(
                f"case {case_id} was changed by someone else while you worked; "
                f"look at it again with `casecraft case show {case_id}`", case=case_id)
        tx.insert_timeline(entry)

    # joint hand-overs (several parties act together) -------------------------------
    def _party_of(self, person: OrgPerson, assignees: Sequence[str]) -> str:
        """Which of the dispatched parties ``person`` answers for (themself or their unit)."""
        if person.id in assignees:
            return person.id
        return person.unit

    def _joint_feedback(self, wf: Workflow, tr: Transition, case: dict[str, Any], person: OrgPerson,
                        outcome: str | None) -> tuple[str | None, dict[str, str], str] | None:
        """For a feedback on a case dispatched to several parties: (joint outcome or None while
        others are pending, the feedback so far, a summary); None when only one party acts."""
        assignees = list(case["assignees"] or [])
        if tr.trigger != "feedback" or tr.actor != "assignee" or len(assignees) < 2 or outcome is None:
            return None
        party = self._party_of(person, assignees)
        fed = dict(case.get("feedback") or {})
        if party in fed:
            raise ConflictError(f"{self.org.label(party)}({party}) already fed back on case {case['id']} "
                                f"({fed[party]}); waiting for {self.org.names([a for a in assignees if a not in fed])}",
                                case=case["id"])
        fed[party] = outcome
        pending = [a for a in assignees if a not in fed]
        done = len(assignees) - len(pending)
        if pending:
            return None, fed, ""
        joint = "solved" if all(v == "solved" for v in fed.values()) else "unsolved"
        return joint, fed, f"{done} parties"

    def _record_feedback(self, tx: Tx, case: dict[str, Any], person: OrgPerson, tr: Transition,
                         outcome: str | None, note: str | None, files: list[Attachment],
                         fed: dict[str, str], now: datetime) -> None:
        seq = case["version"] + 1
        entry = self._entry(case["id"], seq, now, person, tr, case["state"], case["tier"], case["state"],
                            case["tier"], case["unit_code"], [], outcome, note, files, case["last_hash"])
        if not tx.update_case(case["id"], case["version"], {"feedback": fed, "version": seq, "updated_at": now,
                                                            "last_hash": entry["hash"]}):
            raise ConflictError(f"case {case['id']} was changed by someone else while you worked; "
                                f"look at it again with `casecraft case show {case['id']}`", case=case["id"])
        tx.insert_timeline(entry)

    # time limits ---------------------------------------------------------------
    def calendar(self) -> Any:
        """The working calendar from the database (seeded from chinesecalendar when empty).

        Only the years from last year on are loaded (a deadline starts now and
        runs forward); the cache is rebuilt if the clock moves before them.
        """
        from datetime import date

        from casecraft.store.calendar_repo import calendar_days, seed_calendar
        from casecraft.timing.calendar import WorkingCalendar

        first = date(self.now().year - 1, 1, 1)
        if self._calendar is None or self._calendar[0] > first:
            settings = self.workflow.file.workflow
            days = calendar_days(self.store, first, date(9999, 12, 31))
            if not days:
                with self.store.read() as tx:
                    empty = tx.count_calendar_days() == 0
                if empty:
                    seed_calendar(self.store, None, self.now())
                    days = calendar_days(self.store, first, date(9999, 12, 31))
            from casecraft.timing.calendar import parse_periods

            self._calendar = (first, WorkingCalendar(days, parse_periods(settings.working_hours), settings.timezone))
        return self._calendar[1]

    def _timekeeping(self, tx: Tx, wf: Workflow, case: dict[str, Any], tr: Transition, seq: int, dest: str,
                     tier: str, unit: str, now: datetime) -> dict[str, Any]:
        """Close the step deadline being left, open the one entered; start/close the case clock."""
        out: dict[str, Any] = {}
        if seq > 1:
            alerts_repo.close_deadlines(tx, case["id"], now)
        limit = None if case.get("parked") else dl.step_limit(wf, dest, case["category_code"], case["urgency"])
        if limit is not None:
            cal = self.calendar()
            p = dl.plan(wf, cal, now, limit)
            alerts_repo.insert_deadline(tx, {
                "case_id": case["id"], "kind": "step", "seq": seq, "state": dest, "tier": tier, "unit_code": unit,
                "limit_text": str(limit), "calendar": "calendar_days", "started_at": now, "warn_at": p.warn_at,
                "due_at": p.due_at, "escalate_at": p.escalate_at, "next_alert_at": p.warn_at or p.due_at,
                "extended": 0, "closed_at": None, "outcome": None})
        if tr.registers and case.get("registered_at") is None:
            out["registered_at"] = now
            climit = dl.case_limit(wf, case["category_code"])
            if climit is not None:
                due = self.calendar().add(now, climit)
                out["deadline_at"] = due
                alerts_repo.insert_deadline(tx, {
                    "case_id": case["id"], "kind": "case", "seq": seq, "state": dest, "tier": tier,
                    "unit_code": unit, "limit_text": str(climit), "calendar": "calendar_days", "started_at": now,
                    "warn_at": None, "due_at": due, "escalate_at": None, "next_alert_at": None, "extended": 0,
                    "closed_at": None, "outcome": None})
        if seq > 1 and not case.get("parked"):
            was_paused = wf.states[case["state"]].paused
            now_paused = wf.states[dest].paused
            if now_paused and not was_paused:  # a waiting state stops the case's clock
                pause_repo.pause(tx, case["id"], now, kinds=("case",))
            elif was_paused and not now_paused:
                out.update(self._resume_clock(tx, case, now, kinds=("case",)))
        if wf.is_final(dest):
            alerts_repo.close_deadlines(tx, case["id"], now, kinds=("case",))
        return out

    def _route(self, wf: Workflow, tr: Transition, case: dict[str, Any], to_tier: str,
               targets: list[str]) -> tuple[str, str | None, list[str]]:
        """The case's unit and grid after ``tr``, and the checked targets."""
        unit: str = case["unit_code"]
        grid: str | None = case["grid_code"]
        from_tier: str = case["tier"]
        if to_tier != from_tier:
            if tr.trigger == "assign" or ("target" in tr.requires and targets):
                if not targets and grid:
                    targets = [c for c in [self.org.at_tier(grid, to_tier)] if c]
                if len(targets) != 1:
                    raise InputError(f"'{tr.trigger}' needs --to with one {to_tier} unit "
                                     f"(a unit code, see `casecraft org show`)")
                target = self.org.unit(targets[0])
                if target is None or target.kind != "platform" or target.tier != to_tier \
                        or target.parent != unit:
                    raise InputError(f"'{targets[0]}' is not a {wf.tier_labels.get(to_tier, to_tier)} "
                                     f"unit under {self.org.label(unit)}({unit})")
                new_unit = target.code
                if to_tier == wf.tiers[0]:
                    grid = new_unit
                elif grid and not self.org.within(grid, new_unit):
                    grid = None  # routed elsewhere than the address suggested; the next hop picks the grid
                return new_unit, grid, [new_unit]
            new = self.org.at_tier(grid, to_tier) if grid else None
            if new is None:
                new = self.org.at_tier(unit, to_tier)  # going up without a known grid
            if new is None:
                raise InputError(f"no {to_tier} unit found for case {case['id']} in the organisation")
            return new, grid, targets
        if "target" in tr.requires:
            if not targets:
                cat = wf.categories.get(case["category_code"])
                routed = cat.responsible.get(from_tier) if cat else None
                if routed:
                    targets = [routed]
                else:
                    raise InputError(f"'{tr.trigger}' needs --to (a person id or a department code); "
                                     f"the catalogue names no responsible department at {from_tier} "
                                     f"for category {case['category_code']}")
            checked: list[str] = []
            for ref in targets:
                kind = self.org.resolve_party(ref)
                if kind is None:
                    raise InputError(f"unknown person or unit '{ref}'; see `casecraft org show`")
                party_unit = self.org.person(ref).unit if kind[0] == "person" else ref  # type: ignore[union-attr]
                if self.org.platform_of(party_unit) != unit:
                    raise InputError(f"'{ref}' ({self.org.label(ref)}) is not part of "
                                     f"{self.org.label(unit)}({unit}); dispatch within the case's unit")
                if ref not in checked:
                    checked.append(ref)
            return unit, grid, checked
        return unit, grid, targets

    # reads ---------------------------------------------------------------------
    def get(self, case_id: int) -> CaseView:
        """A case with its whole timeline.

        Raises:
            NotFound: no such case.
        """
        _check_id(case_id)
        with self.store.read() as tx:
            case = tx.case(case_id)
            if case is None:
                raise NotFound(f"no case {case_id}", case=case_id)
            entries = tx.timeline(case_id)
        return self._view(case, entries)

    def list(
        self,
        *,
        state: str | None = None,
        tier: str | None = None,
        org: str | None = None,
        is_open: bool | None = None,
        limit: int = 200,
        offset: int = 0,
        ids: Sequence[int] | None = None,
        parked: bool | None = None,
    ) -> list[CaseView]:
        """Cases filtered by state, tier, organisation subtree, open/closed, parked (挂账) and ids, oldest first."""
        if org is not None and self.org.unit(org) is None:
            raise InputError(f"unknown unit '{org}'; see `casecraft org show`")
        if tier is not None and tier not in self.workflow.tiers:
            raise InputError(f"unknown tier '{tier}'; use one of: {', '.join(self.workflow.tiers)}")
        if state is not None and state not in self.workflow.states:
            hint = did_you_mean(state, self.workflow.states)
            raise InputError(f"unknown state '{state}'" + (f"; {hint}" if hint else ""))
        if limit < 1 or limit > 100_000:
            raise InputError("--limit must be between 1 and 100000")
        with self.store.read() as tx:
            rows = tx.list_cases(states=[state] if state else None, tier=tier, org=org, is_open=is_open,
                                 limit=limit, offset=offset, ids=ids, parked=parked)
        return [self._view(r, None) for r in rows]

    def triggers(self, case_id: int, actor: str | None = None) -> list[TriggerOption]:
        """What may happen next to a case and who may do it (and whether ``actor`` may)."""
        _check_id(case_id)
        with self.store.read() as tx:
            case = tx.case(case_id)
        if case is None:
            raise NotFound(f"no case {case_id}", case=case_id)
        wf = self.spec_for(case["workflow_version_id"])
        person = self._person(actor) if actor else None
        out: list[TriggerOption] = []
        for trig in wf.triggers_from(case["state"]):
            trs = wf.transitions_from(case["state"], trig)
            ctx = {"source": case["source"], "resolved_tier": case["resolved_tier"]}
            applicable = [t for t in trs if not t.when or all(
                getattr(t.when, k) in (None, v) for k, v in ctx.items())]
            if not applicable:
                continue
            conds = tuple(f"outcome={t.when.outcome}" for t in applicable if t.when and t.when.outcome)
            roles = tuple(dict.fromkeys(r for t in applicable for r in t.roles))
            requires = tuple(dict.fromkeys(r for t in applicable for r in t.requires))
            allowed = reason = None
            if person is not None:
                reasons = [self._may_act(wf, t, person, case) for t in applicable]
                allowed = any(r is None for r in reasons)
                reason = None if allowed else reasons[0]
            out.append(TriggerOption(
                trigger=trig, label=wf.trigger_label(trig),
                dest=tuple(t.dest for t in applicable), dest_labels=tuple(wf.state_label(t.dest) for t in applicable),
                roles=roles, role_labels=tuple(wf.roles[r].label if r in wf.roles else r for r in roles),
                requires=requires, conditions=conds, actor=applicable[0].actor, allowed=allowed, reason=reason))
        return out

    def _view(self, case: dict[str, Any], entries: list[dict[str, Any]] | None) -> CaseView:
        wf = self.spec_for(case["workflow_version_id"])
        cat = wf.categories.get(case["category_code"])
        timeline: tuple[TimelineView, ...] = ()
        if entries:
            timeline = tuple(
                TimelineView(
                    seq=e["seq"], at=e["at"], actor=e["actor_id"], actor_name=self.org.label(e["actor_id"]),
                    actor_role=e["actor_role"], actor_unit=e["actor_unit"], trigger=e["trigger"],
                    trigger_label=wf.trigger_label(e["trigger"]), from_state=e["from_state"],
                    to_state=e["to_state"], to_state_label=wf.state_label(e["to_state"]),
                    from_tier=e["from_tier"], to_tier=e["to_tier"],
                    unit=e["unit_code"], unit_name=self.org.label(e["unit_code"]),
                    targets=tuple(e["targets"] or ()), target_names=self.org.names(e["targets"] or []),
                    outcome=e["outcome"], note=e["note"], attachments=tuple(e["attachments"] or ()),
                    hash=e["hash"])
                for e in entries)
        number = self._version_number(case["workflow_version_id"])
        return CaseView(
            id=case["id"], state=case["state"], state_label=wf.state_label(case["state"]), tier=case["tier"],
            tier_label=wf.tier_labels.get(case["tier"], case["tier"]), unit=case["unit_code"],
            unit_name=self.org.label(case["unit_code"]), grid=case["grid_code"], category=case["category_code"],
            category_label=cat.label if cat else case["category_code"], urgency=case["urgency"],
            source=case["source"], ref=case["ref"], description=case["description"], address=case["address"],
            reporter=case["reporter_id"], assignees=tuple(case["assignees"] or ()),
            resolved_tier=case["resolved_tier"], open=bool(case["is_open"]), created_at=case["created_at"],
            updated_at=case["updated_at"], closed_at=case["closed_at"], version=case["version"],
            workflow_version=number, deadline_at=case.get("deadline_at"), timezone=wf.timezone, timeline=timeline,
            parked=bool(case.get("parked")), feedback=dict(case.get("feedback") or {}),
            extension_request=case.get("extension_request"), channel=case.get("channel"),
            received_at=case.get("received_at"), contact=case.get("contact"),
            registered_at=case.get("registered_at"))

    def _version_number(self, version_id: int) -> int:
        if self._version and self._version[0] == version_id:
            return self._version[1]
        if version_id not in self._numbers:
            with self.store.read() as tx:
                row = tx.version(version_id)
            self._numbers[version_id] = row["number"] if row else 0
        return self._numbers[version_id]

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table (for tests and audits that compare before/after)."""
        with self.store.read() as tx:
            return {t: tx.table_rows(t) for t in ("workflow_versions", "units", "people", "cases", "timeline",
                                                  "deadlines", "alerts", "deliveries", "calendar_days",
                                                  "sentiment_logs",
                                                  "evaluation_runs", "evaluation_results")}


__all__ = ["Engine", "Tx"]
