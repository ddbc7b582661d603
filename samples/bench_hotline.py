"""Time `import_hotline` on N generated work orders against raw executemany of the same case rows.

    python samples/bench_hotline.py --rows 100000 --db sqlite:////tmp/bench.db
    python samples/bench_hotline.py --rows 100000 --db postgresql+psycopg://postgres@127.0.0.1:5432/test

The database must be empty (or new). "raw" inserts the same number of case rows
with one SQLAlchemy Core executemany per 500 rows and nothing else (no checks,
no timeline, no deadlines); "driver" inserts them once more with the DBAPI
executemany, values converted beforehand; "import" is the
whole import: read and check the file, route by grid or address, skip tickets
already there, write cases + first timeline entries + deadline rows.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
GRIDS = ["110106004005005", "110106004005001", "110106004001001", "110106004001002"]
ADDRESSES = ["东高地街道E社区商业街{}号", "东高地南街{}号楼", "E社区9号楼{}单元"]


def make_file(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ticket", "channel", "received_at", "address", "grid", "category", "description", "contact"])
        for i in range(n):
            by_address = i % 4 == 0
            w.writerow([f"12345-B-{i:07d}", "12345" if i % 3 else "96005", "2026-11-24T08:00",
                        ADDRESSES[i % 3].format(i % 50) if by_address else "", "" if by_address else GRIDS[i % 4],
                        ["0101", "0102", "0104", "0201"][i % 4], f"居民来电反映问题 第{i}条", "138****0000"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--db", required=True)
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import insert

    from casecraft import Engine, FixedClock
    from casecraft.store.models import Case

    at = datetime(2026, 11, 24, 8, 40, tzinfo=ZoneInfo("Asia/Shanghai"))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "orders.csv"
        make_file(src, args.rows)
        eng = Engine(args.db, ROOT / "workflows.yaml", FixedClock(at))
        eng.init()
        eng.reload_organisation()
        vid, _ = eng.current_version()
        now = datetime.now(UTC)
        rows = [{"workflow_version_id": vid, "state": "street_intake", "tier": "street", "unit_code": "110106004",
                 "grid_code": GRIDS[i % 4], "category_code": "0101", "urgency": "normal", "source": "raw",
                 "ref": f"raw-{i}", "description": f"居民来电反映问题 第{i}条", "address": None,
                 "reporter_id": "wujing", "assignees": [], "resolved_tier": None, "is_open": True,
                 "created_at": now, "updated_at": now, "closed_at": None, "version": 1, "last_hash": "0" * 64,
                 "channel": "12345", "received_at": now, "contact": "138****0000"} for i in range(args.rows)]
        t0 = time.perf_counter()
        for i in range(0, len(rows), args.batch):
            with eng.store.write() as tx:
                tx.conn.execute(insert(Case.__table__), rows[i:i + args.batch])
        raw = time.perf_counter() - t0
        # the same rows once more, straight to the driver: values converted beforehand, one
        # executemany per 500 rows (the floor any import over these tables can reach)
        from casecraft.store.intake_repo import _Writer

        for r in rows:
            r["source"] = "driver"
        with eng.store.write() as tx:
            writer = _Writer(tx.conn, Case.__table__, list(rows[0]))
            params = writer.params(rows)
        t0 = time.perf_counter()
        for i in range(0, len(params), args.batch):
            with eng.store.write() as tx:
                tx.conn.exec_driver_sql(writer.sql, params[i:i + args.batch])
        driver = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = eng.import_hotline(src, actor="wujing", batch_size=args.batch)
        full = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = eng.import_hotline(src, actor="wujing", batch_size=args.batch)
        redo = time.perf_counter() - t0
        eng.close()
    n = args.rows
    print(f"{eng.store.dialect}: {n} rows, batch {args.batch}")
    print(f"  raw executemany (cases only): {raw:6.2f} s  {n / raw:8,.0f} rows/s")
    print(f"  raw driver executemany (cases only, values pre-converted): {driver:6.2f} s  "
          f"{n / driver:8,.0f} rows/s")
    print(f"  import_hotline (new={result.new}):  {full:6.2f} s  {n / full:8,.0f} rows/s  "
          f"= {raw / full:.0%} of Core executemany, {driver / full:.0%} of driver executemany")
    print(f"  re-import (existing={again.existing}): {redo:6.2f} s  {n / redo:8,.0f} rows/s")


if __name__ == "__main__":
    main()
