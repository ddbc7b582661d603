"""Seals: the heads of every chain, signed with a key kept outside the database.

A hash chain proves that nothing was changed in the middle of a history; it
cannot prove that someone with write access did not rewrite a whole history
consistently, cut off its newest entries or delete a case outright. A seal
records, at a moment, the head (sequence number and hash) of every case's
timeline and of every ledger chain, signed with HMAC-SHA256 under a key held
by the auditor (never in the database). ``audit verify --against SEAL`` then
names every sealed history that no longer reaches its sealed head:

* ``truncated``: the history now ends before the sealed entry;
* ``rewritten``: the sealed entry now has another hash (the history was rewritten);
* ``deleted``: a sealed case is gone altogether.

Backups are signed with the same key (:mod:`casecraft.audit.backup`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from casecraft.audit.verify import Finding, verify_tx
from casecraft.base.errors import InputError, RuleError
from casecraft.context import EngineView as Engine
from casecraft.ledger import ADMIN, ALERTS, LOGS

FORMAT = 1
KEY_ENV = "CASECRAFT_SEAL_KEY_FILE"
_CHAINS = (ADMIN, ALERTS, LOGS)


def new_key() -> str:
    """A fresh signing key (64 hex digits: 256 random bits)."""
    return secrets.token_hex(32)


def load_key(path: str | os.PathLike[str] | None) -> bytes:
    """The signing key from a file (default ``$CASECRAFT_SEAL_KEY_FILE``).

    Raises:
        InputError: no key file given, unreadable, or not a key written by ``casecraft audit keygen``.
    """
    where = path or os.environ.get(KEY_ENV)
    if not where:
        raise InputError("no seal key was given (set {env}, or give the key's file)",
                         env=KEY_ENV)
    try:
        text = Path(where).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        raise InputError("cannot read the key file {path}", path=str(where)) from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 32:
        raise InputError("{path} is not a seal key (64 hex digits)",
                         path=str(where))
    return key


def sign(key: bytes, body: dict[str, Any]) -> str:
    blob = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    return hmac.new(key, blob, hashlib.sha256).hexdigest()


def seal(engine: Engine, key: bytes) -> dict[str, Any]:
    """The signed heads of every chain, from one consistent read (refused if the audit finds tampering).

    Raises:
        RuleError: the database does not verify now; sealing it would vouch for the tampering.
    """
    from casecraft.store import dump

    with dump.snapshot(engine.store) as tx:
        report = verify_tx(tx)
        if not report.ok:
            raise RuleError("the database does not verify ({count} problem(s)); resolve them before sealing",
                            count=len(report.findings))
        cases: dict[str, list[Any]] = {}
        for rows, _entries, _dl in dump.chain_batches(tx, None, 5000):
            for c in rows:
                cases[str(c.id)] = [c.version, c.last_hash]
        chains = {name: list(tx.ledger_head(name)) for name in _CHAINS}
    body = {"casecraft_seal": FORMAT, "sealed_at": datetime.now(UTC).isoformat(), "cases": cases,
            "chains": chains, "digest": report.digest}
    return {**body, "hmac_sha256": sign(key, body)}


def read_seal(path: str | os.PathLike[str], key: bytes) -> dict[str, Any]:
    """A seal file, its signature checked.

    Raises:
        InputError: not a seal, or its signature does not match (a wrong key, or an edited seal).
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:  # missing, a folder, unreadable: say so, not "not a seal"
        raise InputError("cannot use {file!r}: {reason}", file=str(path),
                         reason=exc.strerror or type(exc).__name__) from None
    except (UnicodeDecodeError, ValueError):
        raise InputError("{path} is not a casecraft seal", path=str(path)) from None
    if not isinstance(doc, dict) or doc.get("casecraft_seal") != FORMAT or "hmac_sha256" not in doc:
        raise InputError("{path} is not a casecraft seal", path=str(path))
    body = {k: v for k, v in doc.items() if k != "hmac_sha256"}
    if not hmac.compare_digest(sign(key, body), str(doc["hmac_sha256"])):
        raise InputError("the seal {path} does not match its signature: a wrong key, or the seal was edited",
                         path=str(path))
    return body


def check_against(engine: Engine, sealed: dict[str, Any]) -> list[Finding]:
    """Every sealed history that no longer reaches its sealed head."""
    from casecraft.store import dump

    want = {int(k): (int(v[0]), str(v[1])) for k, v in sealed.get("cases", {}).items()}
    seen: set[int] = set()
    out: list[Finding] = []
    with dump.snapshot(engine.store) as tx:
        for _rows, entries, _dl in dump.chain_batches(tx, None, 2000):
            by_case: dict[int, dict[int, str]] = {}
            for e in entries:
                if e.case_id in want:
                    by_case.setdefault(e.case_id, {})[e.seq] = e.hash
            for cid, hashes in by_case.items():
                seen.add(cid)
                seq, head = want[cid]
                found = hashes.get(seq)
                if found is None:
                    last = max(hashes)
                    out.append(Finding(cid, seq, "truncated", f"case {cid}'s history ends at entry {last}, before "
                                       f"the sealed entry {seq}: its newest entries were removed"))
                elif found != head:
                    out.append(Finding(cid, seq, "rewritten", f"case {cid}'s entry {seq} is not the one sealed: the "
                                       "history was rewritten"))
        for cid in sorted(set(want) - seen):
            out.append(Finding(cid, None, "deleted", f"case {cid} was sealed but is gone: deleted"))
        for name, (seq, head) in (sealed.get("chains") or {}).items():
            if not seq:
                continue
            entries = tx.ledger(name, after=int(seq) - 1, limit=1)
            if not entries or entries[0].seq != seq:
                out.append(Finding(0, seq, "truncated", f"the {name} chain ends before the sealed entry {seq}: "
                                   "its newest entries were removed"))
            elif entries[0].hash != head:
                out.append(Finding(0, seq, "rewritten", f"the {name} chain's entry {seq} is not the one sealed: "
                                   "the chain was rewritten"))
    return out


__all__ = ["FORMAT", "KEY_ENV", "check_against", "load_key", "new_key", "read_seal", "seal", "sign"]
