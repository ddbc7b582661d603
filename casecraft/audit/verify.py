"""Tamper evidence: recompute every chain and name what was changed out of band.

Each timeline entry stores a SHA-256 over its content and the previous
entry's hash (:func:`casecraft.cases.timeline.entry_hash`); the case row keeps
the head (``last_hash``) and the number of steps (``version``). Since hash
version 2 an entry also commits to the case fields it set and the deadline
rows it opened or changed, so the audit rebuilds each case row and its
deadlines from the chain and names every disagreement. Anyone who edits,
deletes or inserts rows with SQL instead of through the engine leaves a trace:

* ``edited``: the entry's content no longer matches its stored hash;
* ``deleted``: a sequence number is missing, or the case row counts more
  steps than its timeline holds;
* ``relinked``: the entry does not point at the entry before it;
* ``inserted``: the entry lies beyond the step the case row records, or
  belongs to no case;
* ``case``: the case row disagrees with what its timeline says it is;
* ``deadline``: a deadline row disagrees with the timeline, or is missing or extra.

The other chains (administration, alerts, 民情日志) are checked the same way
by :mod:`casecraft.audit.chains`. A chain cannot prove that someone who
rewrote it whole (recomputing every hash) did not: ``casecraft audit seal``
signs the heads with a key kept outside the database, and ``audit verify
--against SEAL`` finds truncation, deletion and consistent rewrites.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from casecraft.base.errors import NotFound
from casecraft.base.records import DEADLINE_FACTS, FACT_FIELDS, CaseRow, DeadlineRow, Entry
from casecraft.cases.timeline import as_entry, deadline_key, entry_hash

if TYPE_CHECKING:
    from casecraft.context import EngineView as Engine


@dataclass(frozen=True)
class Finding:
    """One trace of tampering: which case (or chain item), which entry (sequence number), what kind, and why."""

    case: int
    seq: int | None
    kind: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"case": self.case, "seq": self.seq, "kind": self.kind, "message": self.message}


@dataclass
class AuditReport:
    """The result of :func:`verify`: how much was checked and every finding."""

    cases: int = 0
    entries: int = 0
    findings: list[Finding] = field(default_factory=list)
    digest: str = ""  # SHA-256 over every case's id and head hash, to compare with a copy kept elsewhere
    chains: dict[str, int] = field(default_factory=dict)  # entries checked per ledger chain

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "cases": self.cases, "entries": self.entries, "digest": self.digest,
                "chains": self.chains, "findings": [f.to_dict() for f in self.findings]}


def _get(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, Mapping) else getattr(row, name)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def _same(a: Any, b: Any) -> bool:
    """Stored and committed values agree (times compared as instants, sequences as lists)."""
    if isinstance(a, str) and isinstance(b, datetime):
        a, b = b, a
    if isinstance(a, datetime) and isinstance(b, str):
        try:
            return a == datetime.fromisoformat(b)
        except ValueError:
            return False
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a == b
    return _plain(a) == _plain(b)


def _chain(case_id: int, entries: list[Entry], version: int | None) -> list[Finding]:
    out: list[Finding] = []
    prev: Entry | None = None
    for e in entries:
        seq = e.seq
        expected = 1 if prev is None else prev.seq + 1
        if entry_hash(e) != e.hash:
            out.append(Finding(case_id, seq, "edited", f"case {case_id} entry {seq} ({e.trigger}): its content does "
                               "not match its hash; it was edited after it was written"))
        if seq > expected:
            missing = f"entry {expected} is" if seq == expected + 1 else f"entries {expected}-{seq - 1} are"
            out.append(Finding(case_id, expected, "deleted",
                               f"case {case_id} {missing} missing before entry {seq}: deleted"))
        want_prev = prev.hash if prev is not None else None
        if e.prev_hash != want_prev and seq == expected:
            what = f"entry {prev.seq}'s hash" if prev is not None else "nothing (it is the first entry)"
            out.append(Finding(case_id, seq, "relinked",
                               f"case {case_id} entry {seq} ({e.trigger}) does not point at {what}: the entry "
                               "before it was rewritten, or this one was inserted out of band"))
        if version is not None and seq > version:
            out.append(Finding(case_id, seq, "inserted",
                               f"case {case_id} entry {seq} ({e.trigger}) lies beyond the case's version {version}: "
                               "inserted out of band"))
        prev = e
    return out


def _rebuild(entries: list[Entry]) -> tuple[dict[str, Any], dict[str, dict[str, Any]], bool]:
    """The case fields and deadline rows the chain committed to, and whether it committed to all of them
    (a chain begun before hash version 2 commits only to what later entries set)."""
    facts: dict[str, Any] = {}
    deadlines: dict[str, dict[str, Any]] = {}
    complete = bool(entries) and entries[0].hv >= 2
    for e in entries:
        if e.hv < 2:
            continue
        facts.update(e.facts)
        for key, values in e.deadline_facts.items():
            deadlines.setdefault(key, {}).update(values)
    return facts, deadlines, complete


def check_case(case: CaseRow | Mapping[str, Any] | None, entries: Sequence[Entry | Mapping[str, Any]],
               case_id: int, deadlines: Sequence[DeadlineRow] | None = None) -> list[Finding]:
    """Every finding of one case: its chain, and its row and deadlines against what the chain committed to.

    Args:
        case: the case row (None: entries without a case row).
        entries: the case's timeline rows in sequence order.
        case_id: the case id (for messages when the row is missing).
        deadlines: the case's deadline rows (None: not checked).
    """
    chain = [as_entry(e) for e in entries]
    if case is None:
        return [Finding(case_id, e.seq, "inserted", f"case {case_id} entry {e.seq} ({e.trigger}) belongs to no "
                        "case: inserted out of band, or the case row was deleted") for e in chain]
    version = int(_get(case, "version"))
    out = _chain(case_id, chain, version)
    in_range = [e for e in chain if e.seq <= version]
    last = in_range[-1] if in_range else None
    last_seq = last.seq if last else 0
    if last_seq < version:
        missing = (f"entry {last_seq + 1} was" if last_seq + 1 == version
                   else f"entries {last_seq + 1}-{version} were")
        out.append(Finding(case_id, last_seq + 1, "deleted", f"case {case_id} is at version {version} but its "
                           f"timeline ends at entry {last_seq}: {missing} deleted"))
    if last is None:
        return out
    structural = bool(out)
    if _get(case, "last_hash") != last.hash:
        out.append(Finding(case_id, None, "case", f"case {case_id}'s head hash does not match its entry {last.seq}: "
                           "the case row or the entry was changed out of band"))
    facts, dfacts, complete = _rebuild(in_range)
    fields = FACT_FIELDS if complete else tuple(facts)
    differ = [f for f in fields if f in facts and not _same(_get(case, f), facts[f])]
    if _get(case, "state") != last.to_state and "state" not in differ:
        differ.insert(0, "state")
        facts.setdefault("state", last.to_state)
    if differ and not structural:
        shown = ", ".join(f"{f} {_shown(f, _get(case, f))} (timeline: {_shown(f, facts.get(f, last.to_state))})"
                          for f in differ)
        out.append(Finding(case_id, None, "case", f"case {case_id} is in state {_get(case, 'state')} but its "
                           f"timeline says otherwise: {shown}; the case row was changed out of band"
                           if "state" in differ else f"case {case_id}'s row disagrees with its timeline: {shown}; "
                           "the case row was changed out of band"))
    if deadlines is not None and not structural:
        out.extend(_check_deadlines(case_id, deadlines, dfacts, complete, {e.seq for e in in_range if e.hv >= 2}))
    return out


def _shown(name: str, value: Any) -> Any:
    """A field's value for a finding: a citizen's contact masked, like every other output."""
    from casecraft.base.views import mask_contact

    return mask_contact(str(value)) if name == "contact" and value is not None else _plain(value)


def _check_deadlines(case_id: int, rows: Sequence[DeadlineRow], dfacts: dict[str, dict[str, Any]],
                     complete: bool, hv2_seqs: set[int]) -> list[Finding]:
    out: list[Finding] = []
    seen: set[str] = set()
    for row in rows:
        key = deadline_key(row.kind, row.seq)
        seen.add(key)
        committed = dfacts.get(key)
        if committed is None:
            if complete or row.seq in hv2_seqs:
                out.append(Finding(case_id, row.seq, "deadline", f"case {case_id}'s {row.kind} deadline of entry "
                                   f"{row.seq} is not in its timeline: inserted out of band"))
            continue
        differ = [f for f in DEADLINE_FACTS if f in committed and not _same(getattr(row, f), committed[f])]
        if differ:
            shown = ", ".join(f"{f} {_plain(getattr(row, f))} (timeline: {committed[f]})" for f in differ)
            out.append(Finding(case_id, row.seq, "deadline", f"case {case_id}'s {row.kind} deadline of entry "
                               f"{row.seq} disagrees with its timeline: {shown}; it was changed out of band"))
    for key in sorted(set(dfacts) - seen):
        kind, _, seq = key.partition(":")
        if "kind" in dfacts[key]:  # opened by a recorded step
            out.append(Finding(case_id, int(seq), "deadline", f"case {case_id}'s {kind} deadline of entry {seq} is "
                               "in its timeline but not in the database: deleted"))
    return out


def verify(engine: Engine, case: int | None = None, *, batch: int = 1000) -> AuditReport:
    """Recompute the hash chains of every case (or one) in one consistent read, and the other chains.

    Args:
        engine: the engine whose database is checked.
        case: only this case (the other chains are not checked then).
        batch: cases read per query (memory stays bounded on large databases).

    Raises:
        NotFound: ``case`` has neither a case row nor timeline entries.
    """
    from casecraft.base.text import check_id
    from casecraft.store import dump

    if case is not None:
        check_id(case)
    with dump.snapshot(engine.store) as tx:
        return verify_tx(tx, case, batch=batch)


def verify_tx(tx: Any, case: int | None = None, *, batch: int = 1000) -> AuditReport:
    """:func:`verify` over an open transaction (a restore checks what it wrote before committing it)."""
    from casecraft.audit import chains
    from casecraft.store import dump

    report = AuditReport()
    digest = hashlib.sha256()
    attached: dict[str, tuple[int, int]] = {}  # sha256 -> (case, seq) naming it
    for cases, entries, deadlines in dump.chain_batches(tx, case, batch):
        by_case: dict[int, list[Entry]] = {}
        for e in entries:
            by_case.setdefault(e.case_id, []).append(e)
            if e.hv >= 2:
                for a in e.attachments:
                    attached.setdefault(a.get("sha256", ""), (e.case_id, e.seq))
        dl_by_case: dict[int, list[DeadlineRow]] = {}
        for d in deadlines:
            dl_by_case.setdefault(d.case_id, []).append(d)
        rows = {c.id: c for c in cases}
        for cid in sorted(set(rows) | set(by_case)):
            row = rows.get(cid)
            chain = by_case.get(cid, [])
            report.findings.extend(check_case(row, chain, cid, dl_by_case.get(cid, [])))
            report.entries += len(chain)
            if row is not None:
                report.cases += 1
                digest.update(f"{cid}:{row.last_hash}\n".encode())
    for sha in chains.missing_files(tx, [{"sha256": s} for s in attached]):
        cid, seq = attached[sha]
        report.findings.append(Finding(cid, seq, "file", f"case {cid} entry {seq} names attachment {sha[:12]}…, "
                                       "which is no longer stored: deleted"))
    if case is None:
        report.findings.extend(chains.check_all(tx, report.chains))
    if case is not None and report.cases == 0 and report.entries == 0:
        raise NotFound("no case {case}", case=case)
    report.digest = digest.hexdigest()
    return report


__all__ = ["AuditReport", "Finding", "check_case", "verify", "verify_tx"]
