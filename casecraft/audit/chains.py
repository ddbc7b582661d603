"""The audit of everything outside the case timelines: the ledger chains and the rows they vouch for.

* every ledger chain (``admin``, ``alerts``, ``logs``): hashes and links, no gaps;
* alerts: each alert row matches the chain entry that raised it; an
  acknowledgement on a row matches an ``ack`` entry (a forged ack is found);
* 民情日志: each row matches its chain entry (text, day, grid, person, time);
* the organisation: each unit and person is what the newest row of its
  effective-dated history says, and each history row was made by an admin-chain
  entry (a rename or role change behind casecraft's back is found);
* credentials: each was issued by an admin-chain entry, and stays revoked;
* workflow versions: each stored spec still matches its hash;
* files: each attachment named by a timeline or log entry is stored, with the
  bytes its hash says; the sandbox flag was set by the admin chain.

Findings use ``case`` 0 for what belongs to no case, and ``seq`` for the chain
entry (or the row id) concerned.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from casecraft.audit.verify import Finding
from casecraft.base.records import LedgerEntry
from casecraft.ledger import ADMIN, ALERTS, LOGS, ledger_hash

_ALERT_FIELDS = ("key", "case_id", "deadline_id", "kind", "level", "unit_code", "state", "due_at", "raised_at",
                 "message")
_LOG_FIELDS = ("grid_code", "actor_id", "day", "at", "text", "attachments")


def _plain(v: Any) -> Any:
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    return v


def _same(a: Any, b: Any) -> bool:
    from casecraft.audit.verify import _same as same

    return same(a, b)


def _chain(name: str, entries: list[LedgerEntry]) -> list[Finding]:
    out: list[Finding] = []
    prev: LedgerEntry | None = None
    for e in entries:
        expected = 1 if prev is None else prev.seq + 1
        if ledger_hash(e) != e.hash:
            out.append(Finding(0, e.seq, "edited", f"{name} chain entry {e.seq} ({e.kind}): its content does not "
                               "match its hash; it was edited after it was written"))
        if e.seq > expected:
            out.append(Finding(0, expected, "deleted", f"{name} chain entries {expected}-{e.seq - 1} are missing: "
                               "deleted"))
        elif e.prev_hash != (prev.hash if prev else None):
            out.append(Finding(0, e.seq, "relinked", f"{name} chain entry {e.seq} does not point at the entry "
                               "before it: rewritten or inserted out of band"))
        prev = e
    return out


def _all(tx: Any, chain: str) -> list[LedgerEntry]:
    out: list[LedgerEntry] = []
    after = 0
    while True:
        part = tx.ledger(chain, after=after, limit=5000)
        out.extend(part)
        if len(part) < 5000:
            return out
        after = part[-1].seq


def check_all(tx: Any, counts: dict[str, int]) -> list[Finding]:
    """Every finding outside the case timelines (``counts`` receives the entries checked per chain)."""
    out: list[Finding] = []
    chains = {name: _all(tx, name) for name in (ADMIN, ALERTS, LOGS)}
    for name, entries in chains.items():
        counts[name] = len(entries)
        out.extend(_chain(name, entries))
    out.extend(_alerts(tx, chains[ALERTS]))
    out.extend(_logs(tx, chains[LOGS]))
    out.extend(_organisation(tx, chains[ADMIN]))
    out.extend(_credentials(tx, chains[ADMIN]))
    out.extend(_versions(tx))
    out.extend(_files(tx))
    if tx.meta("sandbox") and not any(e.kind == "db.sandbox" for e in chains[ADMIN]):
        out.append(Finding(0, None, "meta", "the database is marked as a sandbox, but no admin-chain entry made it "
                           "one: the flag was set out of band (it would allow back-dating without an admin)"))
    return out


def _alerts(tx: Any, entries: list[LedgerEntry]) -> list[Finding]:
    raised = {e.body.get("id"): e for e in entries if e.kind == "alert"}
    acks = {e.body.get("alert"): e for e in entries if e.kind == "ack"}
    out: list[Finding] = []
    for a in tx.alerts(limit=10**9):
        e = raised.pop(a.id, None)
        if e is None:
            out.append(Finding(a.case_id or 0, None, "alert", f"alert {a.id} ({a.kind}) is not in the alerts chain: "
                               "inserted out of band"))
            continue
        differ = [f for f in _ALERT_FIELDS if not _same(getattr(a, f), e.body.get(f))]
        if differ:
            out.append(Finding(a.case_id or 0, e.seq, "alert", f"alert {a.id} disagrees with the alerts chain ("
                               f"{', '.join(differ)}): changed out of band"))
        ack = acks.get(a.id)
        if a.acked_at is not None and (ack is None or ack.body.get("by") != a.acked_by
                                       or not _same(a.acked_at, ack.body.get("at"))):
            out.append(Finding(a.case_id or 0, ack.seq if ack else None, "ack", f"alert {a.id} shows an "
                               f"acknowledgement by {a.acked_by} that the alerts chain does not hold: forged"))
        elif a.acked_at is None and ack is not None:
            out.append(Finding(a.case_id or 0, ack.seq, "ack", f"alert {a.id} was acknowledged by "
                               f"{ack.body.get('by')}, but its row says it was not: the acknowledgement was erased"))
    for alert_id, e in raised.items():
        out.append(Finding(int(e.body.get("case_id") or 0), e.seq, "alert", f"alert {alert_id} raised in the alerts "
                           "chain is not in the database: deleted"))
    return out


def _logs(tx: Any, entries: list[LedgerEntry]) -> list[Finding]:
    made = {e.body.get("id"): e for e in entries if e.kind == "log"}
    out: list[Finding] = []
    for r in tx.logs(limit=10**9):
        e = made.pop(r["id"], None)
        if e is None:
            out.append(Finding(0, None, "log", f"民情日志 entry {r['id']} ({r['grid_code']} {r['day']}) is not in the "
                               "logs chain: inserted out of band (a back-filled log day?)"))
            continue
        differ = [f for f in _LOG_FIELDS if not _same(r[f], e.body.get(f))]
        if differ:
            out.append(Finding(0, e.seq, "log", f"民情日志 entry {r['id']} disagrees with the logs chain "
                               f"({', '.join(differ)}): changed out of band"))
    for log_id, e in made.items():
        out.append(Finding(0, e.seq, "log", f"民情日志 entry {log_id} is in the logs chain but not in the database: "
                           "deleted"))
    named = [a for e in entries if e.kind == "log" for a in (e.body.get("attachments") or [])]
    for sha in missing_files(tx, named):
        out.append(Finding(0, None, "file", f"a 民情日志 entry names attachment {sha[:12]}…, which is no longer "
                           "stored: deleted"))
    return out


def _organisation(tx: Any, admin: list[LedgerEntry]) -> list[Finding]:
    by_seq = {e.seq: e for e in admin}
    current: dict[tuple[str, str], dict[str, Any]] = {}
    out: list[Finding] = []
    for h in tx.all_history():
        e = by_seq.get(h["admin_seq"]) if h["admin_seq"] is not None else None
        listed = (e.body.get("units", []) if h["kind"] == "unit" else e.body.get("people", [])) if e else []
        if e is None or h["data"] not in listed:
            out.append(Finding(0, h["admin_seq"], "org", f"the history of {h['kind']} {h['ref']} from "
                               f"{_plain(h['valid_from'])} was not made by an admin-chain entry: changed out of band"))
        if h["valid_to"] is None:
            current[(h["kind"], h["ref"])] = h["data"]
    for u in tx.all_units():
        want = current.get(("unit", u.code))
        have = {"code": u.code, "name": u.name, "tier": u.tier, "kind": u.kind, "parent": u.parent,
                "active": u.active, "addresses": list(u.addresses)}
        if want is not None and want != have:
            differ = [k for k in have if have[k] != want.get(k)]
            out.append(Finding(0, None, "org", f"unit {u.code} is not what its history says ({', '.join(differ)}): "
                               "changed out of band"))
    for p in tx.all_people():
        want = current.get(("person", p.id))
        have = {"id": p.id, "name": p.name, "unit": p.unit, "roles": list(p.roles), "note": p.note, "active": p.active}
        if want is not None and want != have:
            differ = [k for k in have if have[k] != want.get(k)]
            out.append(Finding(0, None, "org", f"person {p.id} is not what their history says ({', '.join(differ)}): "
                               "changed out of band (a rename or a role given behind the admin's back)"))
        elif want is None and current:
            out.append(Finding(0, None, "org", f"person {p.id} has no history: inserted out of band"))
    return out


def _credentials(tx: Any, admin: list[LedgerEntry]) -> list[Finding]:
    issued = {e.body.get("credential") for e in admin if e.kind in ("auth.issue", "auth.password")}
    revoked: set[str] = set()
    for e in admin:
        if e.kind == "auth.revoke":
            revoked.update(e.body.get("credentials", []))
        if e.kind == "auth.password":
            revoked.update(e.body.get("replaced", []))
    out: list[Finding] = []
    for c in tx.credentials():
        if c["id"] not in issued:
            out.append(Finding(0, None, "credential", f"credential {c['id']} of {c['person_id']} was not issued by an "
                               "admin-chain entry: inserted out of band"))
        if c["id"] in revoked and c["revoked_at"] is None:
            out.append(Finding(0, None, "credential", f"credential {c['id']} of {c['person_id']} was revoked but "
                               "works again: un-revoked out of band"))
    return out


def _versions(tx: Any) -> Iterable[Finding]:
    for v in tx.versions():
        spec = v["spec"]
        if hashlib.sha256(json.dumps(json.loads(spec), sort_keys=True, ensure_ascii=False,
                                     separators=(",", ":")).encode()).hexdigest() != v["content_hash"]:
            yield Finding(0, None, "workflow", f"workflow version {v['number']}'s rules no longer match their hash: "
                          "changed out of band")


def _files(tx: Any) -> Iterable[Finding]:
    for sha, _size in tx.file_hashes():
        found = tx.file(sha)
        if found is None or hashlib.sha256(found[1]).hexdigest() != sha:
            yield Finding(0, None, "file", f"attachment {sha[:12]}… no longer has the bytes its hash names: "
                          "replaced out of band")


def missing_files(tx: Any, attachments: Iterable[dict[str, Any]]) -> list[str]:
    """The hashes of ``attachments`` whose bytes are not stored."""
    stored = {sha for sha, _ in tx.file_hashes()}
    return [a["sha256"] for a in attachments if a.get("sha256") not in stored]


__all__ = ["check_all", "missing_files"]
