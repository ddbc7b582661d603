"""民情日志 rows: insert and list (the chain of each entry is in the ledger, chain ``logs``)."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from sqlalchemy import Connection, Table, insert, select

from casecraft.store.models import SentimentLog, Unit

logs_t = cast(Table, SentimentLog.__table__)
units_t = cast(Table, Unit.__table__)


class LogQueries:
    """The grid leaders' daily logs."""

    conn: Connection

    def insert_log(self, values: dict[str, Any]) -> int:
        return int(self.conn.execute(insert(logs_t).values(**values).returning(logs_t.c.id)).scalar_one())

    def logs(self, *, grid: str | None = None, org: str | None = None, start: date | None = None,
             end: date | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Entries oldest first, of one grid or of the grids under ``org``, with ``start <= day < end``."""
        q = select(logs_t)
        if grid is not None:
            q = q.where(logs_t.c.grid_code == grid)
        if org is not None:
            sub = select(units_t.c.code).where(units_t.c.code == org).cte("sub", recursive=True)
            sub = sub.union_all(select(units_t.c.code).join(sub, units_t.c.parent_code == sub.c.code))
            q = q.where(logs_t.c.grid_code.in_(select(sub.c.code)))
        if start is not None:
            q = q.where(logs_t.c.day >= start)
        if end is not None:
            q = q.where(logs_t.c.day < end)
        q = q.order_by(logs_t.c.day, logs_t.c.id).limit(limit)
        return [dict(r) for r in self.conn.execute(q).mappings()]


__all__ = ["LogQueries"]
