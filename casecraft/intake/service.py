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
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from casecraft.base.errors import (
    N_,
    ConflictError,
    InputError,
    Joined,
    PermissionDenied,
    Rendered,
    TriggerNotAllowed,
    render,
)
from casecraft.base.records import STAGE_COLUMNS, CaseRow, stage_columns
from casecraft.cases import deadlines as dl
from casecraft.cases import timeline as tl
from casecraft.cases.rules import case_at, may_act
from casecraft.cases.service import CaseService
from casecraft.context import Context
from casecraft.intake.hotline import ROW_LINE, RowProblem, Ticket
from casecraft.store.base import DuplicateKey
from casecraft.workflows.org import Organisation, OrgPerson
from casecraft.workflows.shape import Transition
from casecraft.workflows.spec import Workflow

BATCH = 500
Progress = Callable[[int, int], None]

# a work order for a street whose hotline cases the importing account may not receive
NOT_THEIRS = N_("{name}({code}) is not {person}'s to receive: {why}")


class BadRowsError(InputError):
    """A work-order file has bad rows and was refused whole; ``problems`` lists them (the first 1,000)."""

    def __init__(self, path: str, problems: list[RowProblem], rows: int, *, total: int | None = None,
                 bad_rows: int | None = None) -> None:
        self.problems = problems
        count = bad_rows if bad_rows is not None else len({p.row for p in problems})
        more = (total or len(problems)) - len(problems)
        # each line keeps what it was made of, so an edge translates it whole: matched back from its text, "row 2,
        # ticket: 'T 2' must not contain spaces" was taken for the ticket message with the row as the ticket
        lines = [Rendered(str(p), ROW_LINE, {"row": p.row, "field": p.field,
                                             "reason": Rendered(p.reason, p.template, dict(p.details))})
                 for p in problems]
        if more > 0:
            lines.append(Rendered(render("... and {more} more", {"more": more}), "... and {more} more", {"more": more}))
        super().__init__(N_("{file}: {count} bad row(s) of {rows}; nothing was imported. Fix them, or import the "
                            "good rows with --skip-bad (the bad ones go to a reject file):\n  {listed}"), file=path,
                         count=count, rows=rows, listed=Joined(lines, "\n  "),
                         problems=[p.to_dict() for p in problems])


class CaseIds(Sequence[int]):
    """The ids of the cases an import made, in order, kept as runs of consecutive ids.

    A batch takes consecutive ids (on PostgreSQL nearly always), so a million new cases take a few
    thousand runs, not a million integers: the import's memory stays flat. Compares equal to a list of
    the same ids.
    """

    def __init__(self, ids: Iterable[int] = ()) -> None:
        self._runs: list[range] = []
        self._len = 0
        self.extend(ids)

    def extend(self, ids: Iterable[int]) -> None:
        runs = self._runs
        for i in ids:
            last = runs[-1] if runs else None
            if last is not None and last.stop == i:
                runs[-1] = range(last.start, i + 1)
            else:
                runs.append(range(i, i + 1))
            self._len += 1

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[int]:
        for r in self._runs:
            yield from r

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> list[int]: ...

    def __getitem__(self, index: int | slice) -> int | list[int]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._len))]
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError(index)
        for r in self._runs:
            if index < len(r):
                return r[index]
            index -= len(r)
        raise IndexError(index)  # pragma: no cover - counted above

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CaseIds | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, as a list

    def __repr__(self) -> str:
        if self._len <= 20:
            return f"CaseIds({list(self)!r})"
        return f"CaseIds(<{self._len} ids in {len(self._runs)} runs>)"


@dataclass
class ImportResult:
    """What a hotline import did."""

    file: str
    rows: int
    new: int = 0
    existing: int = 0
    bad: list[RowProblem] = field(default_factory=list)
    case_ids: CaseIds = field(default_factory=CaseIds)
    rejects: str | None = None
    seconds: float = 0.0

    @property
    def bad_rows(self) -> int:
        return len({p.row for p in self.bad})

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "rows": self.rows, "new": self.new, "existing": self.existing,
                "bad": self.bad_rows, "problems": [p.to_dict() for p in self.bad], "case_ids": list(self.case_ids),
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
        again. The file is streamed (memory stays flat whatever its size): one pass
        checks and routes every row, keeping the good ones as checked (on disk); a second
        writes them, without reading the file again; a file with bad rows is refused
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
        with open_hotline(path, fmt=fmt) as src:
            with self.ctx.read() as tx:  # who receives the orders, and where each goes (no writes yet)
                person = self._receiver(tx, actor, tr)
                org = self.ctx.org_in(tx).load_all()
            first = _Router(wf, org, tr, person, tier)

            def route(tickets: list[Ticket]) -> list[RowProblem]:
                found: list[RowProblem] = []
                first(tickets, found)
                return found

            # one pass checks and routes every row (keeping the good ones as checked); a second one writes them
            with src.validate(categories=wf.categories, now=now, timezone=wf.timezone, route=route,
                              batch_size=batch_size, keep=True) as checked:
                result = ImportResult(file=str(src.path), rows=checked.rows)
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
                    build = _Batch(wf, self.ctx.calendar(wf), vid, tr, dest, who, when)
                    again = _Router(wf, org, tr, person, tier)
                    # Pipelined, one batch on the connection at a time: while a batch is written (on a second
                    # thread: the database works outside Python's lock), the next one's rows are built and the one
                    # after it read, checked and routed. A batch's tickets are looked up (and its ids taken) before
                    # the batch ahead of it is written: no ticket is in both (the file's duplicates were refused)
                    writing: tuple[Future[None], _Looked] | None = None
                    ready: _Looked | None = None
                    with ThreadPoolExecutor(1, thread_name_prefix="casecraft-import") as pool:
                        try:
                            for batch in checked.iter_kept(batch_size):
                                late: list[RowProblem] = []
                                routed = again(batch, late)
                                if late:
                                    raise ConflictError("the organisation changed while the file was imported; "
                                                        "nothing was imported, run the import again")
                                if writing is not None:
                                    done += self._written(tx, *writing, build, result)
                                    writing = None
                                    if progress:
                                        progress(done, total)
                                looked = self._look(tx, routed, build, len(batch))
                                if ready is not None:
                                    writing, ready = (pool.submit(self._insert, tx, build, ready), ready), None
                                looked.rows = build.rows(tx, looked.todo, looked.ids)
                                ready = looked
                            for last in (ready, None):
                                if writing is not None:
                                    done += self._written(tx, *writing, build, result)
                                    writing = None
                                    if progress:
                                        progress(done, total)
                                if last is not None:
                                    writing = pool.submit(self._insert, tx, build, last), last
                        finally:  # nothing may use the connection once the transaction ends
                            if writing is not None:
                                wait([writing[0]])
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

    def _look(self, tx: Any, routed: list[tuple[Ticket, str]], build: _Batch, size: int) -> _Looked:
        """Which tickets of a batch exist already; ids for the others."""
        found = tx.existing_refs("hotline", [t.ticket for t, _ in routed])
        todo = [(t, unit) for t, unit in routed if t.ticket not in found] if found else routed
        ids = tx.reserve_case_ids(len(todo), after=build.last_id)
        if ids:
            build.last_id = max(build.last_id, ids[-1])
        return _Looked(routed, size, found, todo, ids)

    def _insert(self, tx: Any, build: _Batch, looked: _Looked) -> None:
        """Write a batch's rows; a ticket taken meanwhile by another importer voids them (DuplicateKey)."""
        assert looked.rows is not None
        (cases_writer, cases), *rest = zip(build.writers, looked.rows, strict=True)
        if not cases_writer.undone_whole(cases):
            with tx.savepoint():
                for writer, rows in ((cases_writer, cases), *rest):
                    tx.insert_rows(writer, rows)
            return
        # the cases go in one statement, which SQLite undoes whole when a ticket was taken meanwhile: no savepoint
        # (two statements fewer a batch on the writing thread). Once they are in, no other row can meet a ticket
        tx.insert_rows(cases_writer, cases)
        try:
            for writer, rows in rest:
                tx.insert_rows(writer, rows)
        except DuplicateKey:  # the batch is half written: the transaction must not go on
            raise ConflictError("another import of the same tickets kept getting in the way; nothing was "
                                "imported, run the import again (tickets already imported are skipped)") from None

    def _written(self, tx: Any, writing: Future[None], looked: _Looked, build: _Batch, result: ImportResult) -> int:
        """Wait for a batch's write, write it again (looking again) if a ticket was taken meanwhile; count it."""
        try:
            writing.result()
        except DuplicateKey:
            for _attempt in range(2):  # another importer took some of these tickets: look again
                try:
                    looked = self._look(tx, looked.routed, build, looked.size)
                    looked.rows = build.rows(tx, looked.todo, looked.ids)
                    self._insert(tx, build, looked)
                    break
                except DuplicateKey:
                    continue
            else:
                raise ConflictError("another import of the same tickets kept getting in the way; nothing was "
                                    "imported, run the import again (tickets already imported are skipped)") from None
        result.case_ids.extend(looked.ids)
        result.new += len(looked.ids)
        result.existing += len(looked.found)
        return looked.size


@dataclass
class _Looked:
    """A batch on its way: its routed tickets, how many rows it had, the tickets found, the new ones and their
    ids, and (once built) its rows for the cases, timeline and deadlines."""

    routed: list[tuple[Ticket, str]]
    size: int
    found: dict[str, int]
    todo: list[tuple[Ticket, str]]
    ids: list[int]
    rows: tuple[Any, Any, Any] | None = None  # made ready for the writers (see _Batch.rows)


class _Router:
    """Each good ticket with its grid filled in (from the address if needed) and its street unit.

    What it finds out about a grid of the organisation is kept (one entry per grid: bounded by the
    organisation, whatever the file's size); the address index is built once, when an address is met.
    """

    def __init__(self, wf: Workflow, org: Organisation, tr: Transition, person: OrgPerson, tier: str) -> None:
        self.wf, self.org, self.tr, self.person, self.tier = wf, org, tr, person, tier
        self.grid_tier = wf.tiers[0]
        self._index: Any = None
        self._grids: dict[str, tuple[str | None, str | None, str, dict[str, Any]]] = {}
        self._may: dict[str, str | None] = {}

    def _grid(self, code: str) -> tuple[str | None, str | None, str, dict[str, Any]]:
        """The case unit of a grid, or None, the field to blame (None: the row's own) and why (template, details)."""
        got = self._grids.get(code)
        if got is not None:
            return got
        org, tier = self.org, self.tier
        u = org.unit(code)
        if u is None or u.kind != "platform" or u.tier != self.grid_tier:  # not kept: not the organisation's
            return None, "grid", N_("unknown grid '{grid}'; see `casecraft org show`"), {"grid": code}
        case_unit = org.at_tier(u.code, tier)
        if not u.active:
            got = None, None, N_("grid {name}({code}) is deactivated"), {"name": u.name, "code": u.code}
        elif case_unit is None:
            got = None, None, N_("grid {code} has no {tier} unit above it"), {"code": u.code, "tier": tier}
        else:
            if case_unit not in self._may:
                self._may[case_unit] = may_act(self.wf, org, self.tr, self.person, case_at(case_unit))
            why = self._may[case_unit]
            got = (None, None, NOT_THEIRS,
                   {"name": u.name, "code": u.code, "person": self.person.name, "why": why}) if why \
                else (case_unit, None, "", {})
        self._grids[code] = got
        return got

    def __call__(self, tickets: list[Ticket], problems: list[RowProblem]) -> list[tuple[Ticket, str]]:
        out: list[tuple[Ticket, str]] = []
        for t in tickets:
            if t.grid:
                fld = "grid"
            else:
                fld = "address"
                if self._index is None:
                    from casecraft.workflows.org import AddressIndex

                    self._index = AddressIndex(list(self.org.units.values()))
                m = self._index.match(t.address or "")
                if m.code is None:
                    reason = m.reason if isinstance(m.reason, Rendered) else render("no match", {})
                    assert isinstance(reason, Rendered)
                    problems.append(RowProblem.of(t.row, "address", reason.template, t.ticket, **reason.details))
                    continue
                u = self.org.unit(m.code)
                assert u is not None
                if u.kind != "platform" or u.tier != self.grid_tier:
                    problems.append(RowProblem.of(
                        t.row, "address", "the address matches {name}({code}, {tier}) by '{keyword}', not a grid; "
                        "give the grid code or add the grid's address keyword", t.ticket, name=u.name, code=u.code,
                        tier=u.tier, keyword=m.keyword))
                    continue
                t.grid = u.code
            case_unit, blame, template, details = self._grid(t.grid)
            if case_unit is None:
                problems.append(RowProblem.of(t.row, blame or fld, template, t.ticket, **details))
                continue
            out.append((t, case_unit))
        return out


# the columns of the rows an import writes, in the order its row tuples give them (the cases' in the
# order of a case's values: its facts are stored in that order, as a report stores them)
CASE_COLUMNS = ("id", "workflow_version_id", "state", "tier", "unit_code", "grid_code", "category_code", "urgency",
                "source", "ref", "description", "address", "reporter_id", "assignees", "resolved_tier", "is_open",
                "created_at", "updated_at", "closed_at", "version", "last_hash", "registered_at", "deadline_at",
                "parked", "channel", "received_at", "contact", "feedback", "extension_request", *STAGE_COLUMNS)
# the values that differ between the cases of one import, in the order FirstRows.make takes them
VARYING = ("unit_code", "grid_code", "category_code", "urgency", "ref", "description", "address", "deadline_at",
           "channel", "received_at", "contact")
ENTRY_COLUMNS = ("case_id", "seq", "at", "actor_id", "actor_role", "actor_unit", "trigger", "from_state", "to_state",
                 "from_tier", "to_tier", "unit_code", "targets", "outcome", "note", "attachments", "prev_hash", "hash",
                 "recorded_at", "actor_name", "facts", "deadline_facts", "on_behalf_of", "backfill", "hv")
DEADLINE_COLUMNS = ("case_id", "kind", "seq", "state", "tier", "unit_code", "limit_text", "calendar", "started_at",
                    "warn_at", "due_at", "escalate_at", "next_alert_at", "extended", "closed_at", "outcome",
                    "provisional")
_Plan = tuple[str, tuple[tl.OpenDeadline, ...], Any, str, Any, Any, list[tuple[Any, ...]], tuple[Any, ...]]
_NO_STAGE = (None,) * len(STAGE_COLUMNS)


@dataclass
class _Batch:
    """What every case of one import shares: its step, actor and time, the deadline plans made so far
    (one per category and unit: a few hundred at most, whatever the file's size), and the row templates.

    A case's rows are tuples of the driver's values, made as :func:`casecraft.cases.timeline.first_entry`
    and a report's insert would make them: the shared values are converted once per import, a plan's
    deadline rows and facts once per plan, a time received once per distinct minute.
    """

    wf: Workflow
    cal: Any
    vid: int
    tr: Transition
    dest: str
    who: tl.Actor
    when: tl.When
    tier: str = ""
    is_open: bool = True
    tz: str = ""
    now: Any = None
    plans: dict[tuple[str, str], _Plan] = field(default_factory=dict)
    shown: dict[Any, tuple[str, Any]] = field(default_factory=dict)  # a time received: as the note shows it, stored
    writers: tuple[Any, ...] = ()  # the bulk writers of the transaction, set by rows()
    last_id: int = 0  # the highest case id taken so far
    first: tl.FirstRows = field(init=False)

    def __post_init__(self) -> None:
        self.tier = self.wf.states[self.dest].tier
        self.is_open = not self.wf.is_final(self.dest)
        self.tz = self.wf.timezone
        self.now = self.when.at
        self.shared: dict[str, Any] = {
            "workflow_version_id": self.vid, "state": self.dest, "tier": self.tier, "source": "hotline",
            "reporter_id": self.who.id, "assignees": [], "resolved_tier": None, "is_open": self.is_open,
            "created_at": self.now, "updated_at": self.now, "closed_at": None, "version": 1, "last_hash": None,
            "registered_at": self.now if self.tr.registers else None, "parked": False, "feedback": None,
            "extension_request": None}
        self.first = tl.FirstRows(self.tr.trigger, self.who, self.when, CASE_COLUMNS, self.shared, VARYING)

    def _bind(self, tx: Any) -> None:
        """The writers of this transaction's dialect, and the shared values in its form."""
        cw, ew, dw = self.writers = (tx.bulk_table("cases", CASE_COLUMNS), tx.bulk_table("timeline", ENTRY_COLUMNS),
                                     tx.bulk_table("deadlines", DEADLINE_COLUMNS))
        c = {k: cw.value(k, v) for k, v in self.shared.items()}
        self._case_consts = (c["workflow_version_id"], c["state"], c["tier"], c["source"], c["reporter_id"],
                             c["assignees"], c["is_open"], c["created_at"], c["updated_at"], c["version"],
                             c["registered_at"], c["parked"])
        who, when = self.who, self.when
        self._entry_consts = (ew.value("at", when.at), who.id, who.role, who.unit, self.tr.trigger,
                              cw.value("state", self.dest), cw.value("tier", self.tier), ew.value("targets", []),
                              ew.value("attachments", []), ew.value("recorded_at", when.recorded_at), who.name,
                              who.on_behalf_of, ew.value("backfill", when.backfill), ew.value("hv", tl.HASH_VERSION))

    def plan(self, category: str, unit: str) -> _Plan:
        """The urgency, deadlines (step, then case), case deadline of a case of ``category`` at ``unit``;
        its deadline facts as hashed, as stored, its case deadline as stored, its deadline rows (the whole
        case's limit; without the case id) as stored, and its step limit as the case row's stage columns."""
        wf, now = self.wf, self.now
        urgency = wf.categories[category].urgency
        ops: list[tl.OpenDeadline] = []
        step = dl.open_step(wf, self.cal, self.dest, self.tier, unit, category, urgency, now)
        if step is not None:
            ops.append(step)
        due = None
        if self.tr.registers:
            opened = dl.open_case(wf, self.cal, self.dest, self.tier, unit, category, now)
            if opened is not None:
                due = opened.due_at
                ops.append(opened)
        cw, ew, dw = self.writers
        dfacts, rows = self.first.plan(tuple(ops))
        stored = [tuple(dw.value(k, row[k]) for k in DEADLINE_COLUMNS[1:]) for row in rows if row["kind"] != "step"]
        stage = next((tuple(cw.value(c, v) for c, v in stage_columns(row).items()) for row in rows
                      if row["kind"] == "step"), _NO_STAGE)
        got = self.plans[(category, unit)] = (urgency, tuple(ops), due, self.first.facts_text(dfacts),
                                              ew.value("deadline_facts", dfacts), cw.value("deadline_at", due),
                                              stored, stage)
        return got

    def rows(self, tx: Any, todo: list[tuple[Ticket, str]], ids: list[int]) -> tuple[Any, Any, Any]:
        """The case, timeline and deadline rows of a batch, as a report would write them one by one, made ready
        for the writers (their statements and parameters: the writing thread only hands them to the driver)."""
        if not self.writers:
            self._bind(tx)
        cases: list[tuple[Any, ...]] = []
        entries: list[tuple[Any, ...]] = []
        deadlines: list[tuple[Any, ...]] = []
        shown, plans, tz, make = self.shown, self.plans, self.tz, self.first.make
        if len(shown) > 10_000:  # kept across batches, bounded
            shown.clear()
        stored_time = self.writers[0].value
        vid, state, tier, source, reporter, assignees, is_open, created, updated, version, registered, parked = \
            self._case_consts
        at, actor_id, role, actor_unit, trigger, to_state, to_tier, targets, attachments, recorded, name, behalf, \
            backfill, hv = self._entry_consts
        add_case, add_entry, add_deadline = cases.append, entries.append, deadlines.append
        give_way = time.sleep
        for k, ((t, unit), case_id) in enumerate(zip(todo, ids, strict=True)):
            if not k & 127:
                # let the writing thread have Python's lock back (it waits for it after each statement): without
                # this it waits for the interpreter's switch interval (5 ms) each time, and the two threads take
                # turns instead of working side by side (a batch's writing 46 -> 36 us a row, SQLite)
                give_way(0)
            plan = plans.get((t.category, unit))
            if plan is None:
                plan = self.plan(t.category, unit)
            urgency, _, deadline_at, dfacts_text, dfacts, deadline_stored, drows, stage = plan
            received = t.received_at
            got = shown.get(received)
            if got is None:
                got = shown[received] = (_local(received, tz), stored_time("received_at", received))
            note = f"{t.channel}热线工单 {t.ticket}，受理于 {got[0]}"
            digest, facts = make(case_id, (unit, t.grid, t.category, urgency, t.ticket, t.description, t.address,
                                           deadline_at, t.channel, received, t.contact), dfacts_text, note)
            add_case((case_id, vid, state, tier, unit, t.grid, t.category, urgency, source, t.ticket, t.description,
                      t.address, reporter, assignees, None, is_open, created, updated, None, version, digest,
                      registered, deadline_stored, parked, t.channel, got[1], t.contact, None, None, *stage))
            add_entry((case_id, 1, at, actor_id, role, actor_unit, trigger, None, to_state, None, to_tier, unit,
                       targets, None, note, attachments, None, digest, recorded, name, facts, dfacts, behalf,
                       backfill, hv))
            for r in drows:
                add_deadline((case_id, *r))
        cw, ew, dw = self.writers
        return cw.prepare(cases), ew.prepare(entries), dw.prepare(deadlines)


def _local(at: Any, tz: str) -> str:
    from zoneinfo import ZoneInfo

    return str(at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M"))


__all__ = ["BadRowsError", "CaseIds", "CaseRow", "ImportResult", "Intake"]
