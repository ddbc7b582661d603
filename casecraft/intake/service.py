"""Bulk intake of cases: hotline work orders (12345, 96005) and superior orders.

Mixed into :class:`casecraft.engine.Engine`. A work order becomes a case at the
street platform (source ``hotline``), with the ticket number as its ``ref``, a
hash-chained first timeline entry and its deadline rows, exactly as
:meth:`Engine.report` makes them. From there the street operator routes it
down by its grid: ``assign`` to the community, ``assign`` to the grid.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casecraft.admin.org import OrgAdmin
from casecraft.base.errors import ConflictError, InputError, PermissionDenied, TriggerNotAllowed
from casecraft.intake.hotline import RowProblem, Ticket

if TYPE_CHECKING:
    from casecraft.engine import Engine

    _Base = Engine
else:
    _Base = object

BATCH = 500
Progress = Callable[[int, int], None]


class BadRowsError(InputError):
    """A work-order file has bad rows and was refused whole; ``problems`` lists every one."""

    def __init__(self, path: str, problems: list[RowProblem], rows: int) -> None:
        self.problems = problems
        count = len({p.row for p in problems})
        listed = "\n".join(f"  {p}" for p in problems)
        super().__init__(
            f"{path}: {count} bad row(s) of {rows}; nothing was imported. Fix them, or import the good "
            f"rows with --skip-bad (the bad ones go to a reject file):\n{listed}",
            problems=[p.to_dict() for p in problems])


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


class Intake(OrgAdmin, _Base):
    """Engine methods that create many cases at once (hotline import).

    Organisation administration (:class:`casecraft.orgadmin.OrgAdmin`) comes in
    through this class too.
    """

    def import_hotline(
        self,
        path: str | os.PathLike[str],
        *,
        actor: str,
        skip_bad: bool = False,
        rejects: str | os.PathLike[str] | None = None,
        fmt: str | None = None,
        progress: Progress | None = None,
        batch_size: int = BATCH,
    ) -> ImportResult:
        """Import hotline work orders from CSV or JSON Lines as cases at the street platform.

        Idempotent by ticket: a ticket already imported is counted, never created
        again. Rows are checked first; a file with bad rows is refused whole
        unless ``skip_bad``, which imports the good rows and writes the bad ones
        to ``rejects`` (default: beside the file, ``NAME.rejects.csv|jsonl``).

        Args:
            actor: the street operator who receives the orders (e.g. ``wujing``).
            fmt: ``csv`` or ``jsonl``; default by the file's suffix or content.
            progress: called as ``progress(done, total)`` after each batch.
            batch_size: rows per transaction.

        Raises:
            BadRowsError: bad rows and not ``skip_bad`` (nothing written).
            InputError: an unreadable or non-UTF-8 file, a header without a needed column, an unknown actor.
            PermissionDenied: the actor may not receive hotline cases.
        """
        from casecraft.intake.hotline import default_rejects_path, read_tickets, write_rejects

        started = time.perf_counter()
        if not 1 <= batch_size <= 10_000:
            raise InputError("the batch size must be between 1 and 10000")
        self._ensure_org()
        vid, _ = self.current_version()
        wf = self.spec_for(vid)
        person = self._person(actor)
        picked = self.machine_for(vid).next_state(wf.initial, "report", source="hotline")
        if picked is None:
            raise TriggerNotAllowed("the workflow has no 'report' for source 'hotline'")
        dest, tr = picked
        if not any(r in tr.roles for r in person.roles):
            raise PermissionDenied(f"{person.name}({person.id}) has role(s) {', '.join(person.roles)}; receiving "
                                   f"hotline orders needs one of: {', '.join(tr.roles)}", actor=actor)
        now = self.now()
        parsed = read_tickets(path, categories=wf.categories, now=now, timezone=wf.timezone, fmt=fmt)
        problems = list(parsed.problems)
        routed = self._route_tickets(wf, tr, person, wf.states[dest].tier, parsed.tickets, problems)
        result = ImportResult(file=str(parsed.path), rows=parsed.rows)
        if problems:
            problems.sort(key=lambda p: p.row)
            if not skip_bad:
                raise BadRowsError(str(parsed.path), problems, parsed.rows)
            dest_path = Path(rejects) if rejects else default_rejects_path(parsed.path, parsed.format)
            write_rejects(parsed, problems, dest_path)
            result.bad, result.rejects = problems, str(dest_path)
        self.calendar()  # load (or seed) the calendar before any write transaction
        total = len(routed)
        done = 0
        if progress:
            progress(0, total)
        for i in range(0, total, batch_size):
            batch = routed[i:i + batch_size]
            new_ids, existing = self._write_batch(wf, vid, tr, dest, person, batch, now)
            result.case_ids.extend(new_ids)
            result.new += len(new_ids)
            result.existing += existing
            done += len(batch)
            if progress:
                progress(done, total)
        result.seconds = time.perf_counter() - started
        return result

    def _route_tickets(self, wf: Any, tr: Any, person: Any, tier: str, tickets: list[Ticket],
                       problems: list[RowProblem]) -> list[tuple[Ticket, str]]:
        """Each good ticket with its grid filled in (from the address if needed) and its street unit."""
        from casecraft.store import org_repo
        from casecraft.workflows.org import AddressIndex, Organisation

        with self.store.read() as tx:
            units = org_repo.units(tx)
        org = Organisation.build(units, [])
        index = AddressIndex(units)
        grid_tier = wf.tiers[0]
        may: dict[str, str | None] = {}
        out: list[tuple[Ticket, str]] = []
        for t in tickets:
            fld = "grid" if t.grid else "address"
            if t.grid:
                u = org.unit(t.grid)
                if u is None or u.kind != "platform" or u.tier != grid_tier:
                    problems.append(RowProblem(t.row, "grid", f"unknown grid '{t.grid}'; see `casecraft org show`",
                                               t.ticket))
                    continue
            else:
                m = index.match(t.address or "")
                if m.code is None:
                    problems.append(RowProblem(t.row, "address", m.reason or "no match", t.ticket))
                    continue
                u = org.unit(m.code)
                assert u is not None
                if u.kind != "platform" or u.tier != grid_tier:
                    problems.append(RowProblem(
                        t.row, "address", f"the address matches {u.name}({u.code}, {u.tier}) by '{m.keyword}', "
                        "not a grid; give the grid code or add the grid's address keyword", t.ticket))
                    continue
                t.grid = u.code
            if not u.active:
                problems.append(RowProblem(t.row, fld, f"grid {u.name}({u.code}) is deactivated", t.ticket))
                continue
            case_unit = org.at_tier(u.code, tier)
            if case_unit is None:
                problems.append(RowProblem(t.row, fld, f"grid {u.code} has no {tier} unit above it", t.ticket))
                continue
            if case_unit not in may:
                may[case_unit] = self._may_act(wf, tr, person, {"unit_code": case_unit, "assignees": []})
            if may[case_unit]:
                problems.append(RowProblem(t.row, fld, f"{u.name}({u.code}) is not {person.name}'s to receive: "
                                           f"{may[case_unit]}", t.ticket))
                continue
            out.append((t, case_unit))
        return out

    def _write_batch(self, wf: Any, vid: int, tr: Any, dest: str, person: Any,
                     batch: list[tuple[Ticket, str]], now: Any) -> tuple[list[int], int]:
        """One transaction: skip tickets already imported, insert the rest. Returns (new ids, existing)."""
        from casecraft.store import intake_repo
        from casecraft.store.repo import DuplicateKey

        for _attempt in range(3):
            try:
                with self.store.write() as tx:
                    found = intake_repo.existing_refs(tx, "hotline", [t.ticket for t, _ in batch])
                    todo = [(t, unit) for t, unit in batch if t.ticket not in found]
                    ids = intake_repo.reserve_case_ids(tx, len(todo))
                    cases, entries, deadlines = self._rows(wf, vid, tr, dest, person, todo, ids, now)
                    intake_repo.insert_batch(tx, cases, entries, deadlines)
                return ids, len(found)
            except DuplicateKey:
                continue  # another importer took some of these tickets meanwhile: look again
        raise ConflictError("another import of the same tickets kept getting in the way; run the import "
                            "again (tickets already imported are skipped)")

    def _rows(self, wf: Any, vid: int, tr: Any, dest: str, person: Any, todo: list[tuple[Ticket, str]],
              ids: list[int], now: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """The case, timeline and deadline rows of a batch, as Engine.report would write them one by one."""
        from casecraft.timing import deadlines as dl

        tier = wf.states[dest].tier
        is_open = not wf.is_final(dest)
        plans: dict[str, Any] = {}
        limits: dict[tuple[str, str], Any] = {}
        shown: dict[Any, str] = {}
        cases: list[dict[str, Any]] = []
        entries: list[dict[str, Any]] = []
        deadlines: list[dict[str, Any]] = []
        tz = wf.timezone
        for (t, unit), case_id in zip(todo, ids, strict=True):
            cat = wf.categories[t.category]
            urgency = cat.urgency
            if t.received_at not in shown:
                shown[t.received_at] = _local(t.received_at, tz)
            note = f"{t.channel}热线工单 {t.ticket}，受理于 {shown[t.received_at]}"
            entry = self._entry(case_id, 1, now, person, tr, None, None, dest, tier, unit, [], None, note, [], None)
            values: dict[str, Any] = {
                "id": case_id, "workflow_version_id": vid, "state": dest, "tier": tier, "unit_code": unit,
                "grid_code": t.grid, "category_code": t.category, "urgency": urgency, "source": "hotline",
                "ref": t.ticket, "description": t.description, "address": t.address, "reporter_id": person.id,
                "assignees": [], "resolved_tier": None, "is_open": is_open, "created_at": now, "updated_at": now,
                "closed_at": None, "version": 1, "last_hash": entry["hash"], "registered_at": None,
                "deadline_at": None, "parked": False, "channel": t.channel, "received_at": t.received_at,
                "contact": t.contact,
            }
            lkey = (t.category, urgency)
            if lkey not in limits:
                limits[lkey] = dl.step_limit(wf, dest, t.category, urgency)
            limit = limits[lkey]
            if limit is not None:
                if limit not in plans:
                    plans[limit] = (dl.plan(wf, self.calendar(), now, limit), str(limit))
                p, text = plans[limit]
                deadlines.append({
                    "case_id": case_id, "kind": "step", "seq": 1, "state": dest, "tier": tier, "unit_code": unit,
                    "limit_text": text, "calendar": "calendar_days", "started_at": now, "warn_at": p.warn_at,
                    "due_at": p.due_at, "escalate_at": p.escalate_at, "next_alert_at": p.warn_at or p.due_at,
                    "extended": 0, "closed_at": None, "outcome": None})
            if tr.registers:
                values["registered_at"] = now
                climit = dl.case_limit(wf, t.category)
                if climit is not None:
                    key = f"case:{climit}"
                    if key not in plans:
                        plans[key] = self.calendar().add(now, climit)
                    values["deadline_at"] = plans[key]
                    deadlines.append({
                        "case_id": case_id, "kind": "case", "seq": 1, "state": dest, "tier": tier,
                        "unit_code": unit, "limit_text": str(climit), "calendar": "calendar_days",
                        "started_at": now, "warn_at": None, "due_at": plans[key], "escalate_at": None,
                        "next_alert_at": None, "extended": 0, "closed_at": None, "outcome": None})
            cases.append(values)
            entries.append(entry)
        return cases, entries, deadlines


def _local(at: Any, tz: str) -> str:
    from zoneinfo import ZoneInfo

    return str(at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M"))
