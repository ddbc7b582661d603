"""Bulk writes for hotline import: existing tickets, case ids, batched inserts.

A case's first timeline entry is hash-chained and its hash covers the case id,
so a batch takes its ids first (one ``nextval`` round trip on PostgreSQL; on
SQLite the next ids under the ``BEGIN IMMEDIATE`` write lock the batch
already holds) and then writes complete rows: three executemany inserts per
batch (cases, timeline, deadlines), no per-row update.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError

from casecraft.store.models import Case, Deadline, TimelineEntry
from casecraft.store.repo import DuplicateKey, Tx

cases_t = Case.__table__
timeline_t = TimelineEntry.__table__
deadlines_t = Deadline.__table__
CHUNK = 500


def existing_refs(tx: Tx, source: str, refs: Sequence[str]) -> dict[str, int]:
    """The case id of each of ``refs`` already imported from ``source``."""
    found: dict[str, int] = {}
    for i in range(0, len(refs), CHUNK):
        part = list(refs[i:i + CHUNK])
        rows = tx.conn.execute(select(cases_t.c.ref, cases_t.c.id).where(
            cases_t.c.source == source, cases_t.c.ref.in_(part)))
        found.update({r: int(cid) for r, cid in rows})
    return found


def reserve_case_ids(tx: Tx, n: int) -> list[int]:
    """``n`` new case ids, safe against concurrent writers (see the module docstring)."""
    if n <= 0:
        return []
    if tx.conn.dialect.name == "postgresql":
        rows = tx.conn.execute(text("SELECT nextval(pg_get_serial_sequence('cases', 'id')) "
                                    "FROM generate_series(1, :n)"), {"n": n})
        return [int(r[0]) for r in rows]
    top = int(tx.conn.execute(select(func.coalesce(func.max(cases_t.c.id), 0))).scalar_one())
    return list(range(top + 1, top + n + 1))


def insert_batch(tx: Tx, cases: list[dict[str, Any]], entries: list[dict[str, Any]],
                 deadlines: list[dict[str, Any]]) -> None:
    """Insert a batch of complete cases, their first timeline entries and deadline rows.

    Raises:
        DuplicateKey: a ticket was imported by someone else meanwhile (the batch is void).
    """
    try:
        if cases:
            tx.conn.execute(insert(cases_t), cases)
        if entries:
            tx.conn.execute(insert(timeline_t), entries)
        if deadlines:
            tx.conn.execute(insert(deadlines_t), deadlines)
    except IntegrityError as exc:
        raise DuplicateKey(str(exc.orig)) from None
