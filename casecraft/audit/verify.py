"""Tamper evidence: recompute every case's hash chain and name what was changed out of band.

Each timeline entry stores a SHA-256 over its content and the previous
entry's hash (:func:`casecraft.engine.entry_hash`); the case row keeps the
head (``last_hash``) and the number of steps (``version``). Anyone who edits,
deletes or inserts a timeline row with SQL instead of through the engine
leaves a trace this module finds:

* ``edited``: the entry's content no longer matches its stored hash;
* ``deleted``: a sequence number is missing, or the case row counts more
  steps than its timeline holds;
* ``relinked``: the entry does not point at the entry before it (that one was
  rewritten with a recomputed hash, or this one was inserted out of band);
* ``inserted``: the entry lies beyond the step the case row records, or
  belongs to no case;
* ``case``: the case row's state, version or head hash disagree with its
  timeline.

A chain cannot prove that someone who rewrote both the timeline and the
case row (recomputing every hash) did not: export the heads (``audit
verify --json`` prints them) to somewhere the database's writers cannot reach.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from casecraft.base.errors import NotFound

if TYPE_CHECKING:
    from casecraft.engine import Engine


@dataclass(frozen=True)
class Finding:
    """One trace of tampering: which case, which entry (sequence number), what kind, and why."""

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

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "cases": self.cases, "entries": self.entries, "digest": self.digest,
                "findings": [f.to_dict() for f in self.findings]}


def check_case(case: dict[str, Any] | None, entries: list[dict[str, Any]], case_id: int) -> list[Finding]:
    """Every finding of one case's chain (``case`` None: entries without a case row).

    Args:
        case: the case row's ``id``, ``state``, ``version`` and ``last_hash``.
        entries: the case's timeline rows in sequence order.
        case_id: the case id (for messages when the row is missing).
    """
    from casecraft.engine import entry_hash

    out: list[Finding] = []
    if case is None:
        for e in entries:
            out.append(Finding(case_id, e["seq"], "inserted",
                               f"case {case_id} entry {e['seq']} ({e['trigger']}) belongs to no case: "
                               "inserted out of band, or the case row was deleted"))
        return out
    prev: dict[str, Any] | None = None
    for e in entries:
        seq = e["seq"]
        expected = 1 if prev is None else prev["seq"] + 1
        if entry_hash(e) != e["hash"]:
            out.append(Finding(case_id, seq, "edited",
                               f"case {case_id} entry {seq} ({e['trigger']}): its content does not match "
                               "its hash; it was edited after it was written"))
        if seq > expected:
            missing = f"entry {expected} is" if seq == expected + 1 else f"entries {expected}-{seq - 1} are"
            out.append(Finding(case_id, expected, "deleted",
                               f"case {case_id} {missing} missing before entry {seq}: deleted"))
        want_prev = prev["hash"] if prev is not None else None
        if e["prev_hash"] != want_prev and seq == expected:
            what = f"entry {prev['seq']}'s hash" if prev is not None else "nothing (it is the first entry)"
            out.append(Finding(case_id, seq, "relinked",
                               f"case {case_id} entry {seq} ({e['trigger']}) does not point at {what}: "
                               "the entry before it was rewritten, or this one was inserted out of band"))
        if seq > case["version"]:
            out.append(Finding(case_id, seq, "inserted",
                               f"case {case_id} entry {seq} ({e['trigger']}) lies beyond the case's version "
                               f"{case['version']}: inserted out of band"))
        prev = e
    in_range = [e for e in entries if e["seq"] <= case["version"]]
    last = in_range[-1] if in_range else None
    last_seq = last["seq"] if last else 0
    if last_seq < case["version"]:
        missing = (f"entry {last_seq + 1} was" if last_seq + 1 == case["version"]
                   else f"entries {last_seq + 1}-{case['version']} were")
        out.append(Finding(case_id, last_seq + 1, "deleted",
                           f"case {case_id} is at version {case['version']} but its timeline ends at entry "
                           f"{last_seq}: {missing} deleted"))
    if last is not None:
        if case["last_hash"] != last["hash"]:
            out.append(Finding(case_id, None, "case",
                               f"case {case_id}'s head hash does not match its entry {last['seq']}: the case row "
                               "or the entry was changed out of band"))
        if case["state"] != last["to_state"]:
            out.append(Finding(case_id, None, "case",
                               f"case {case_id} is in state {case['state']} but its timeline ends in "
                               f"{last['to_state']}: the case row was changed out of band"))
    return out


def verify(engine: Engine, case: int | None = None, *, batch: int = 1000) -> AuditReport:
    """Recompute the hash chains of every case (or one) in one consistent read.

    Args:
        engine: the engine whose database is checked.
        case: only this case.
        batch: cases read per query (memory stays bounded on large databases).

    Raises:
        NotFound: ``case`` has neither a case row nor timeline entries.
    """
    from casecraft.store import dump

    report = AuditReport()
    digest = hashlib.sha256()
    with dump.snapshot_connection(engine.store) as conn:
        for cases, entries in dump.chain_batches(conn, case, batch):
            by_case: dict[int, list[dict[str, Any]]] = {}
            for e in entries:
                by_case.setdefault(e["case_id"], []).append(e)
            rows = {c["id"]: c for c in cases}
            for cid in sorted(set(rows) | set(by_case)):
                row = rows.get(cid)
                chain = by_case.get(cid, [])
                report.findings.extend(check_case(row, chain, cid))
                report.entries += len(chain)
                if row is not None:
                    report.cases += 1
                    digest.update(f"{cid}:{row['last_hash']}\n".encode())
    if case is not None and report.cases == 0 and report.entries == 0:
        raise NotFound(f"no case {case}", case=case)
    report.digest = digest.hexdigest()
    return report


__all__ = ["AuditReport", "Finding", "check_case", "verify"]
