"""The ledger (chains other than cases'), database settings, stored files, workflow versions, credentials.

The admin chain's length is the administrative revision: every process reads
it at the start of a unit of work and drops what it cached (organisation,
current workflow version, working calendar) when it moved.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, func, insert, literal, select, text, update
from sqlalchemy.exc import IntegrityError

from casecraft.base.records import LedgerEntry
from casecraft.store import direct
from casecraft.store.base import DuplicateKey
from casecraft.store.models import (
    CalendarDay,
    Case,
    Credential,
    LedgerRow,
    Meta,
    StoredFile,
    WorkflowVersion,
)

ledger_t = cast(Table, LedgerRow.__table__)
meta_t = cast(Table, Meta.__table__)
files_t = cast(Table, StoredFile.__table__)
versions_t = cast(Table, WorkflowVersion.__table__)
cases_t = cast(Table, Case.__table__)
days_t = cast(Table, CalendarDay.__table__)
credentials_t = cast(Table, Credential.__table__)
_CHAIN_LOCKS = {"admin": 0x636301, "alerts": 0x636302, "logs": 0x636303}
# read by every unit of work: built once (building a statement costs more Python time than SQLite takes to run it)
ADMIN_REVISION = select(func.coalesce(func.max(ledger_t.c.seq), 0)).where(ledger_t.c.chain == "admin")
_CREDENTIAL = select(credentials_t).where(credentials_t.c.id == bindparam("id"))


def ledger_entry(r: Any) -> LedgerEntry:
    return LedgerEntry(chain=r["chain"], seq=r["seq"], at=r["at"], recorded_at=r["recorded_at"],
                       actor_id=r["actor_id"], kind=r["kind"], body=r["body"] or {}, prev_hash=r["prev_hash"],
                       hash=r["hash"], id=r["id"])


class LedgerQueries:
    """Chains, settings, files, versions, credentials and the calendar table."""

    conn: Connection

    # the ledger ---------------------------------------------------------------------
    def ledger_head(self, chain: str, *, lock: bool = False) -> tuple[int, str | None]:
        """(seq, hash) of the chain's newest entry, (0, None) when empty.

        ``lock`` serialises appenders of this chain until the transaction ends
        (an advisory lock on PostgreSQL; SQLite's writers are serialised already).
        """
        if lock and self.conn.dialect.name == "postgresql":
            self.conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCKS.get(chain, 0x636300)})
        r = self.conn.execute(select(ledger_t.c.seq, ledger_t.c.hash).where(ledger_t.c.chain == chain)
                              .order_by(ledger_t.c.seq.desc()).limit(1)).first()
        return (int(r[0]), str(r[1])) if r else (0, None)

    def insert_ledger(self, entries: Sequence[LedgerEntry]) -> None:
        if not entries:
            return
        rows = [{"chain": e.chain, "seq": e.seq, "at": e.at, "recorded_at": e.recorded_at, "actor_id": e.actor_id,
                 "kind": e.kind, "body": e.body, "prev_hash": e.prev_hash, "hash": e.hash} for e in entries]
        try:
            with self.conn.begin_nested():
                self.conn.execute(insert(ledger_t), rows)
        except IntegrityError as exc:
            raise DuplicateKey(str(exc.orig)) from None

    def ledger(self, chain: str, *, after: int = 0, limit: int = 1000) -> list[LedgerEntry]:
        q = (select(ledger_t).where(ledger_t.c.chain == chain, ledger_t.c.seq > after)
             .order_by(ledger_t.c.seq).limit(limit))
        return [ledger_entry(r) for r in self.conn.execute(q).mappings()]

    def admin_revision(self) -> int:
        return int(direct.run(self.conn, ADMIN_REVISION, {})[0][0])  # type: ignore[index]

    # settings -----------------------------------------------------------------------
    def meta(self, key: str) -> Any:
        return self.conn.execute(select(meta_t.c.value).where(meta_t.c.key == key)).scalar()

    def set_meta(self, key: str, value: Any) -> None:
        if self.conn.execute(select(meta_t.c.key).where(meta_t.c.key == key)).first() is None:
            self.conn.execute(insert(meta_t).values(key=key, value=value))
        else:
            self.conn.execute(update(meta_t).where(meta_t.c.key == key).values(value=value))

    # files ------------------------------------------------------------------------------
    def put_file(self, sha256: str, media_type: str, data: bytes, now: datetime) -> None:
        """Store a file's bytes under their hash (once: the same bytes are the same file)."""
        if self.conn.execute(select(files_t.c.sha256).where(files_t.c.sha256 == sha256)).first() is None:
            self.conn.execute(insert(files_t).values(sha256=sha256, type=media_type, size=len(data), data=data,
                                                     created_at=now))

    def file(self, sha256: str) -> tuple[str, bytes] | None:
        r = self.conn.execute(select(files_t.c.type, files_t.c.data).where(files_t.c.sha256 == sha256)).first()
        return (str(r[0]), bytes(r[1])) if r else None

    def file_hashes(self) -> list[tuple[str, int]]:
        return [(str(r[0]), int(r[1])) for r in self.conn.execute(select(files_t.c.sha256, files_t.c.size))]

    # workflow versions --------------------------------------------------------------
    def latest_version(self) -> dict[str, Any] | None:
        r = self.conn.execute(select(versions_t).order_by(versions_t.c.id.desc()).limit(1)).mappings().first()
        return dict(r) if r else None

    def version_by_hash(self, workflow_id: str, content_hash: str) -> tuple[int, int] | None:
        r = self.conn.execute(
            select(versions_t.c.id, versions_t.c.number).where(
                versions_t.c.workflow_id == workflow_id, versions_t.c.content_hash == content_hash)
        ).first()
        return (int(r[0]), int(r[1])) if r else None

    def insert_version(self, workflow_id: str, content_hash: str, spec: str, path: str | None,
                       now: datetime, published_by: str | None) -> tuple[int, int]:
        nxt = select(func.coalesce(func.max(versions_t.c.number), 0) + literal(1)).where(
            versions_t.c.workflow_id == workflow_id).scalar_subquery()
        try:
            with self.conn.begin_nested():
                r = self.conn.execute(
                    insert(versions_t).values(workflow_id=workflow_id, number=nxt, content_hash=content_hash,
                                              spec=spec, source_path=path, created_at=now,
                                              published_by=published_by)
                    .returning(versions_t.c.id, versions_t.c.number)
                ).first()
        except IntegrityError:
            raise DuplicateKey("workflow version") from None
        assert r is not None
        return int(r[0]), int(r[1])

    def version(self, version_id: int) -> dict[str, Any] | None:
        r = self.conn.execute(select(versions_t).where(versions_t.c.id == version_id)).mappings().first()
        return dict(r) if r else None

    def versions(self) -> list[dict[str, Any]]:
        open_counts = (
            select(cases_t.c.workflow_version_id, func.count().label("open_cases"))
            .where(cases_t.c.is_open.is_(True)).group_by(cases_t.c.workflow_version_id).subquery()
        )
        q = (select(versions_t, func.coalesce(open_counts.c.open_cases, 0).label("open_cases"))
             .outerjoin(open_counts, open_counts.c.workflow_version_id == versions_t.c.id)
             .order_by(versions_t.c.workflow_id, versions_t.c.number))
        return [dict(r) for r in self.conn.execute(q).mappings()]

    # credentials ----------------------------------------------------------------------
    def insert_credential(self, values: dict[str, Any]) -> None:
        self.conn.execute(insert(credentials_t).values(**values))

    def credential(self, cred_id: str) -> dict[str, Any] | None:
        r = self.conn.execute(_CREDENTIAL, {"id": cred_id}).mappings().first()
        return dict(r) if r else None

    def credentials(self, person_id: str | None = None) -> list[dict[str, Any]]:
        q = select(credentials_t).order_by(credentials_t.c.created_at, credentials_t.c.id)
        if person_id is not None:
            q = q.where(credentials_t.c.person_id == person_id)
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def revoke_credentials(self, ids: Sequence[str], actor: str, now: datetime) -> int:
        res = self.conn.execute(update(credentials_t).where(credentials_t.c.id.in_(list(ids)),
                                                            credentials_t.c.revoked_at.is_(None))
                                .values(revoked_at=now, revoked_by=actor))
        return int(res.rowcount or 0)

    # the calendar table ---------------------------------------------------------------
    def calendar_days(self, start: date, end: date) -> dict[date, tuple[bool, str]]:
        """(workday, source) of each stored date in [start, end]."""
        rows = self.conn.execute(select(days_t.c.day, days_t.c.workday, days_t.c.source)
                                 .where(days_t.c.day >= start, days_t.c.day <= end))
        return {r[0]: (bool(r[1]), str(r[2])) for r in rows}

    def count_calendar_days(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(days_t)).scalar_one())


__all__ = ["ADMIN_REVISION", "DuplicateKey", "LedgerQueries", "ledger_entry"]
