"""Bulk intake of cases: hotline work orders (12345, 96005).

A work order becomes a case at the street platform (source ``hotline``), with
the ticket number as its ``ref``, a hash-chained first timeline entry and its
deadline rows, built by the one write path (:func:`casecraft.cases.timeline.first_entry`)
exactly as a report makes them, only many at once. From there the street
operator routes it down by its grid: ``assign`` to the community, ``assign``
to the grid.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from casecraft.base.errors import N_, ConflictError, InputError, PermissionDenied, Rendered, TriggerNotAllowed, render
from casecraft.base.records import CaseRow
from casecraft.cases import deadlines as dl
from casecraft.cases import timeline as tl
from casecraft.cases.rules import case_at, may_act
from casecraft.cases.service import CaseService
from casecraft.context import Context
from casecraft.intake.hotline import RowProblem, Ticket
from casecraft.store.base import DuplicateKey
from casecraft.workflows.model import Transition
from casecraft.workflows.org import Organisation, OrgPerson
from casecraft.workflows.spec import Workflow

BATCH = 500
Progress = Callable[[int, int], None]


class BadRowsError(InputError):
    """A work-order file has bad rows and was refused whole; ``problems`` lists them (the first 1,000)."""

    def __init__(self, path: str, problems: list[RowProblem], rows: int, *, total: int | None = None,
                 bad_rows: int | None = None) -> None:
        self.problems = problems
        count = bad_rows if bad_rows is not None else len({p.row for p in problems})
        more = (total or len(problems)) - len(problems)
        listed = "\n".join(f"  {p}" for p in problems) + (
            "\n  " + render("... and {more} more", {"more": more}) if more > 0 else "")
        super().__init__(N_("{file}: {count} bad row(s) of {rows}; nothing was imported. Fix them, or import the "
                            "good rows with --skip-bad (the bad ones go to a reject file):\n{listed}"), file=path,
                         count=count, rows=rows, listed=listed, problems=[p.to_dict() for p in problems])


@dataclass
class ImportResult:
    """What a hotline import did."""

    file: str
    rows: int
    new: int = 0
    existing: int = 0
    bad: list[RowProblem] = field(default_factory=list)
    case_ids: list[int] = field(default_factory=list)
    rejects: str | None = None
    seconds: float = 0.0

    @property
    def bad_rows(self) -> int:
        return len({p.row for p in self.bad})

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "rows": self.rows, "new": self.new, "existing": self.existing,
                "bad": self.bad_rows, "problems": [p.to_dict() for p in self.bad], "case_ids": self.case_ids,
                "rejects": self.rejects, "seconds": round(self.seconds, 3)}


class Intake:
    """Hotline import over the shared context."""

    def __init__(self, ctx: Context, cases: CaseService) -> None:
        self.ctx = ctx
        self.cases = cases

    def import_hotline(self, path: str | os.PathLike[str], *, actor: str, skip_bad: bool = False,
                       rejects: str | os.PathLike[str] | None = None, fmt: str | None = None,
                       progress: Progress | None = None, batch_size: int = BATCH,
                       on_behalf_of: str | None = None, rejects_force: bool = False) -> ImportResult:
        """Import hotline work orders from CSV or JSON Lines as cases at the street platform.

        Idempotent by ticket: a ticket already imported is counted, never created
        again. The file is streamed (memory stays flat whatever its size): a first
        pass checks every row, a second routes them; a file with bad rows is refused
        whole unless ``skip_bad``, which imports the good rows and writes the bad ones
        to ``rejects`` (default: beside the file, ``NAME.rejects.csv|jsonl``, created
        0600; an existing one only with ``rejects_force``). Every row is written in
        ONE transaction: a failure leaves nothing half-imported.

        Raises:
            BadRowsError: bad rows and not ``skip_bad`` (nothing written).
            InputError: an unreadable, oversized or non-UTF-8 file, a header without a needed column,
                an unknown actor.
            PermissionDenied: the actor may not receive hotline cases.
        """
        from casecraft.intake.hotline import default_rejects_path, open_hotline

        started = time.perf_counter()
        if not 1 <= batch_size <= 10_000:
            raise InputError("the batch size must be between 1 and 10000")
        version = self.ctx.current()
        wf, vid = version.spec, version.id
        machine = self.ctx.machine(vid)
        picked = machine.next_state(wf.initial, machine.report_trigger, source="hotline")
        if picked is None:
            raise TriggerNotAllowed("the workflow has no '{trigger}' for source 'hotline'",
                                    trigger=machine.report_trigger)
        dest, tr = picked
        tier = wf.states[dest].tier
        now = self.ctx.now()
        with open_hotline(path, fmt=fmt) as src, \
                src.validate(categories=wf.categories, now=now, timezone=wf.timezone) as checked:
            result = ImportResult(file=str(src.path), rows=checked.rows)
            with self.ctx.read() as tx:  # who receives the orders, and where each goes (no writes yet)
                person = self._receiver(tx, actor, tr)
                org = self.ctx.org_in(tx).load_all()
            for batch in checked.iter_batches(batch_size):
                found: list[RowProblem] = []
                self._route_tickets(wf, org, tr, person, tier, batch, found)
                checked.add_problems(found)
            if checked.problem_count:
                if not skip_bad:
                    raise BadRowsError(src.name, checked.problems, checked.rows, total=checked.problem_count,
                                       bad_rows=checked.bad_rows)
                result.bad = checked.problems
            total = checked.rows - checked.bad_rows
            done = 0
            if progress:
                progress(0, total)
            with self.ctx.write() as tx:
                person, who, when = self.cases.acting(tx, actor, on_behalf_of, tr.roles)
                self._receiver(tx, actor, tr)
                org = self.ctx.org_in(tx).load_all()
                cal = self.ctx.calendar(wf)
                for batch in checked.iter_batches(batch_size):
                    late: list[RowProblem] = []
                    routed = self._route_tickets(wf, org, tr, person, tier, batch, late)
                    if late:
                        raise ConflictError("the organisation changed while the file was imported; nothing was "
                                            "imported, run the import again")
                    self._write(tx, routed, wf, cal, vid, tr, dest, who, when, result)
                    done += len(batch)
                    if progress:
                        progress(done, total)
            if result.bad:
                target = Path(rejects) if rejects else default_rejects_path(src.path, src.format)
                checked.write_rejects(target, force=rejects_force)
                result.rejects = str(target)
        result.seconds = time.perf_counter() - started
        return result

    def _receiver(self, tx: Any, actor: str, tr: Transition) -> OrgPerson:
        from casecraft.cases.rules import acting_person

        person = acting_person(tx, actor)
        if not any(r in tr.roles for r in person.roles):
            raise PermissionDenied("{name}({id}) has role(s) {roles}; receiving hotline orders needs one of: "
                                   "{allowed}", name=person.name, id=person.id, roles=", ".join(person.roles),
                                   allowed=", ".join(tr.roles), actor=actor)
        return person

    def _write(self, tx: Any, routed: list[tuple[Ticket, str]], wf: Workflow, cal: Any, vid: int, tr: Transition,
               dest: str, who: tl.Actor, when: tl.When, result: ImportResult) -> None:
        """One batch inside the import's transaction; a ticket taken meanwhile retries the batch."""
        for _attempt in range(3):
            try:
                with tx.savepoint():
                    found = tx.existing_refs("hotline", [t.ticket for t, _ in routed])
                    todo = [(t, unit) for t, unit in routed if t.ticket not in found]
                    ids = tx.reserve_case_ids(len(todo))
                    cases, entries, deadlines = self._rows(wf, cal, vid, tr, dest, who, todo, ids, when)
                    tx.insert_batch(cases, entries, deadlines)
                break
            except DuplicateKey:
                continue  # another importer took some of these tickets meanwhile: look again
        else:
            raise ConflictError("another import of the same tickets kept getting in the way; nothing was imported, "
                                "run the import again (tickets already imported are skipped)")
        result.case_ids.extend(ids)
        result.new += len(ids)
        result.existing += len(found)

    def _route_tickets(self, wf: Workflow, org: Organisation, tr: Transition, person: OrgPerson, tier: str,
                       tickets: list[Ticket], problems: list[RowProblem]) -> list[tuple[Ticket, str]]:
        """Each good ticket with its grid filled in (from the address if needed) and its street unit."""
        from casecraft.workflows.org import AddressIndex

        index = AddressIndex(list(org.units.values()))
        grid_tier = wf.tiers[0]
        may: dict[str, str | None] = {}
        out: list[tuple[Ticket, str]] = []
        for t in tickets:
            fld = "grid" if t.grid else "address"
            if t.grid:
                u = org.unit(t.grid)
                if u is None or u.kind != "platform" or u.tier != grid_tier:
                    problems.append(RowProblem.of(t.row, "grid", "unknown grid '{grid}'; see `casecraft org show`",
                                                  t.ticket, grid=t.grid))
                    continue
            else:
                m = index.match(t.address or "")
                if m.code is None:
                    reason = m.reason if isinstance(m.reason, Rendered) else render("no match", {})
                    assert isinstance(reason, Rendered)
                    problems.append(RowProblem.of(t.row, "address", reason.template, t.ticket, **reason.details))
                    continue
                u = org.unit(m.code)
                assert u is not None
                if u.kind != "platform" or u.tier != grid_tier:
                    problems.append(RowProblem.of(
                        t.row, "address", "the address matches {name}({code}, {tier}) by '{keyword}', not a grid; "
                        "give the grid code or add the grid's address keyword", t.ticket, name=u.name, code=u.code,
                        tier=u.tier, keyword=m.keyword))
                    continue
                t.grid = u.code
            if not u.active:
                problems.append(RowProblem.of(t.row, fld, "grid {name}({code}) is deactivated", t.ticket, name=u.name,
                                              code=u.code))
                continue
            case_unit = org.at_tier(u.code, tier)
            if case_unit is None:
                problems.append(RowProblem.of(t.row, fld, "grid {code} has no {tier} unit above it", t.ticket,
                                              code=u.code, tier=tier))
                continue
            if case_unit not in may:
                may[case_unit] = may_act(wf, org, tr, person, case_at(case_unit))
            if may[case_unit]:
                problems.append(RowProblem.of(t.row, fld, "{name}({code}) is not {person}'s to receive: {why}",
                                              t.ticket, name=u.name, code=u.code, person=person.name,
                                              why=may[case_unit]))
                continue
            out.append((t, case_unit))
        return out

    def _rows(self, wf: Workflow, cal: Any, vid: int, tr: Transition, dest: str, who: tl.Actor,
              todo: list[tuple[Ticket, str]], ids: list[int], when: tl.When
              ) -> tuple[list[dict[str, Any]], list[Any], list[dict[str, Any]]]:
        """The case, timeline and deadline rows of a batch, as a report would write them one by one."""
        tier = wf.states[dest].tier
        is_open = not wf.is_final(dest)
        now = when.at
        step_plans: dict[tuple[str, str, str], tl.OpenDeadline | None] = {}
        case_plans: dict[str, tl.OpenDeadline | None] = {}
        shown: dict[Any, str] = {}
        cases: list[dict[str, Any]] = []
        entries: list[Any] = []
        deadlines: list[dict[str, Any]] = []
        tz = wf.timezone
        for (t, unit), case_id in zip(todo, ids, strict=True):
            urgency = wf.categories[t.category].urgency
            if t.received_at not in shown:
                shown[t.received_at] = _local(t.received_at, tz)
            note = f"{t.channel}热线工单 {t.ticket}，受理于 {shown[t.received_at]}"
            values: dict[str, Any] = {
                "id": case_id, "workflow_version_id": vid, "state": dest, "tier": tier, "unit_code": unit,
                "grid_code": t.grid, "category_code": t.category, "urgency": urgency, "source": "hotline",
                "ref": t.ticket, "description": t.description, "address": t.address, "reporter_id": who.id,
                "assignees": [], "resolved_tier": None, "is_open": is_open, "created_at": now, "updated_at": now,
                "closed_at": None, "version": 1, "last_hash": None, "registered_at": None, "deadline_at": None,
                "parked": False, "channel": t.channel, "received_at": t.received_at, "contact": t.contact,
                "feedback": None, "extension_request": None,
            }
            ops: list[tl.DeadlineOp] = []
            key = (t.category, urgency, unit)
            if key not in step_plans:
                step_plans[key] = dl.open_step(wf, cal, dest, tier, unit, t.category, urgency, now)
            if step_plans[key] is not None:
                ops.append(step_plans[key])  # type: ignore[arg-type]
            if tr.registers:
                values["registered_at"] = now
                ckey = f"{t.category}:{unit}"
                if ckey not in case_plans:
                    case_plans[ckey] = dl.open_case(wf, cal, dest, tier, unit, t.category, now)
                opened = case_plans[ckey]
                if opened is not None:
                    values["deadline_at"] = opened.due_at
                    ops.append(opened)
            step = tl.Step(trigger=tr.trigger, changes=values, deadlines=tuple(ops), note=note)
            entry, rows = tl.first_entry(case_id, values, step, who, when)
            values["last_hash"] = entry.hash
            cases.append(values)
            entries.append(entry)
            deadlines.extend(rows)
        return cases, entries, deadlines


def _local(at: Any, tz: str) -> str:
    from zoneinfo import ZoneInfo

    return str(at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M"))


__all__ = ["BadRowsError", "CaseRow", "ImportResult", "Intake"]
