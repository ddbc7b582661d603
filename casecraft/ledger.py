"""Chains other than a case's timeline: administration, alerts, 民情日志 — appended here only.

Each chain is a sequence of hash-linked entries in the ``ledger`` table;
appenders of one chain are serialised (an advisory lock on PostgreSQL,
SQLite's single writer), and the unique (chain, seq) key refuses a lost race.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from casecraft.base.acting import When
from casecraft.base.records import LedgerEntry
from casecraft.store.base import Tx

ADMIN, ALERTS, LOGS = "admin", "alerts", "logs"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def ledger_hash(e: LedgerEntry) -> str:
    """The hash of a ledger entry over its content and the previous entry's hash."""
    blob = json.dumps(_plain({"chain": e.chain, "seq": e.seq, "at": e.at, "recorded_at": e.recorded_at,
                              "actor_id": e.actor_id, "kind": e.kind, "body": e.body, "prev_hash": e.prev_hash}),
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def append(tx: Tx, chain: str, items: Sequence[tuple[str, str, dict[str, Any]]], when: When) -> list[LedgerEntry]:
    """Append entries ``(kind, actor_id, body)`` to ``chain`` in ``tx``; returns them as written.

    Bodies are stored as JSON values (times as ISO text), exactly as hashed.
    """
    if not items:
        return []
    seq, prev = tx.ledger_head(chain, lock=True)
    out: list[LedgerEntry] = []
    for kind, actor, body in items:
        seq += 1
        e = LedgerEntry(chain=chain, seq=seq, at=when.at, recorded_at=when.recorded_at, actor_id=actor, kind=kind,
                        body=_plain(body), prev_hash=prev, hash="")
        e = replace(e, hash=ledger_hash(e))
        out.append(e)
        prev = e.hash
    tx.insert_ledger(out)
    return out


__all__ = ["ADMIN", "ALERTS", "LOGS", "append", "ledger_hash"]
