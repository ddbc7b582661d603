"""What every benchmark shares: rows of the results table, databases, timing, memory.

Every figure is printed beside its peer or raw limit measured in the same run,
with the ratio and the target from issues 6 and 16, and the load average, so a slow machine shows as a slow
machine on both sides and a missed target shows as missed.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / ".data"
WORKFLOW = ROOT / "workflows.yaml"
TZ = ZoneInfo("Asia/Shanghai")
PG_URL = os.environ.get("CASECRAFT_BENCH_PG") or os.environ.get(
    "CASECRAFT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SEED = 20261124


@dataclass
class Row:
    """One line of the results table.

    ``ratio`` is always figure / peer; ``target`` is the bar of issue 6, on the
    ratio (``ratio >= 0.75``) or on the figure itself (``<= 2 ms``).
    """

    item: str
    backend: str
    figure: float | None
    unit: str
    peer: float | None = None
    peer_label: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""
    # the 1-minute load average when the row's figures were taken (2 cores: above 2, nothing is idle)
    load: float = field(default_factory=lambda: os.getloadavg()[0])

    def cells(self) -> list[str]:
        return [self.item, self.backend, _fmt(self.figure, self.unit), _fmt(self.peer, self.unit),
                self.peer_label, "" if self.ratio is None else f"{self.ratio:.2f}", self.target,
                {True: "met", False: "MISSED", None: "-"}[self.met], f"{self.load:.1f}", self.note]


HEADER = ["item", "db", "casecraft", "peer/limit", "peer is", "ratio", "target", "verdict", "load", "note"]


def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f} {unit}"
    if abs(v) >= 10:
        return f"{v:.1f} {unit}"
    return f"{v:.3g} {unit}"


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table (readable in a terminal and in RESULTS.md)."""
    cells = [HEADER] + [r.cells() for r in rows]
    widths = [max(_width(c[i]) for c in cells) for i in range(len(HEADER))]
    lines = []
    for k, c in enumerate(cells):
        lines.append("| " + " | ".join(v + " " * (widths[i] - _width(v)) for i, v in enumerate(c)) + " |")
        if k == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _width(s: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def at(day: int, hhmm: str, month: int = 11, year: int = 2026) -> datetime:
    h, m = hhmm.split(":")
    return datetime(year, month, day, int(h), int(m), tzinfo=TZ)


def rss_mb() -> float:
    """This process's resident set size now (Linux /proc), in MB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def best_of(n: int, fn: Callable[[], float]) -> float:
    """The smallest of ``n`` timings (noise only ever adds time)."""
    return min(fn() for _ in range(n))


@contextmanager
def timer() -> Iterator[Callable[[], float]]:
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def fresh_sqlite(name: str) -> str:
    """A new, empty SQLite file under bench/.data/tmp (WAL files removed too)."""
    d = DATA / "tmp"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return sqlite_url(path)


def pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


def pg_admin():  # noqa: ANN201 - an sqlalchemy Engine
    import sqlalchemy as sa

    return sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")


def pg_available() -> bool:
    import sqlalchemy as sa

    try:
        admin = pg_admin()
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        admin.dispose()
        return True
    except Exception:
        return False


@contextmanager
def fresh_pg(prefix: str = "bench") -> Iterator[str]:
    """A new, empty PostgreSQL schema for one scenario; dropped afterwards."""
    import sqlalchemy as sa

    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = pg_admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield pg_schema_url(schema)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def cached_pg(schema: str, tag: str) -> tuple[str, bool]:
    """A kept PostgreSQL schema for a large generated data set: (url, already built with ``tag``)."""
    import sqlalchemy as sa

    admin = pg_admin()
    with admin.connect() as conn:
        have = conn.execute(sa.text("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace "
                                    "WHERE nspname = :s"), {"s": schema}).scalar()
        built = have == tag
        if not built:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return pg_schema_url(schema), built


def mark_pg_built(schema: str, tag: str) -> None:
    import sqlalchemy as sa

    admin = pg_admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f"COMMENT ON SCHEMA \"{schema}\" IS '{tag}'"))
    admin.dispose()


def cached_sqlite(name: str, tag: str) -> tuple[str, bool]:
    """A kept SQLite file under bench/.data for a large data set: (url, already built with ``tag``)."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"{name}.db"
    stamp = DATA / f"{name}.tag"
    if path.exists() and stamp.exists() and stamp.read_text() == tag:
        return sqlite_url(path), True
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    stamp.unlink(missing_ok=True)
    return sqlite_url(path), False


def mark_sqlite_built(name: str, tag: str) -> None:
    (DATA / f"{name}.tag").write_text(tag)


def fsync_rate(n: int = 30) -> float:
    """fsyncs/s of this machine's disk where the SQLite files live: each a 4 KiB write then ``os.fsync``
    (a commit at WAL+FULL does at least one; no engine commits durably faster)."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / "tmp-fsync"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        start = time.perf_counter()
        for i in range(n):
            os.pwrite(fd, b"x" * 4096, i * 4096)
            os.fsync(fd)
        return n / (time.perf_counter() - start)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)


def _server_cpu() -> dict[int, float]:
    """CPU seconds used so far by each process of the local PostgreSQL server (every ``postgres`` process this
    user may read in /proc: backends, WAL writer, checkpointer), by pid; empty where there is none (SQLite, a
    remote server)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # ended meanwhile
        if stat[stat.index(b"(") + 1:stat.rindex(b")")] != b"postgres":
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        out[int(pid)] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime (fields 14 and 15 of stat)
    return out


@contextmanager
def cpu_split(into: dict[str, float] | None) -> Iterator[None]:
    """Measure the CPU seconds of this process (the client: the engine or the floor with its driver) and of
    the local PostgreSQL server over the block, into ``into["client"]`` and ``into["server"]`` (nothing when
    ``into`` is None). Wall time minus both is waiting: the disk's flush, wake-ups, the other core's work."""
    if into is None:
        yield
        return
    client, server = time.process_time(), _server_cpu()
    yield
    into["client"] = time.process_time() - client
    # per process: a backend that ended meanwhile is left out, one that started counts whole
    into["server"] = sum(used - server.get(pid, 0.0) for pid, used in _server_cpu().items())


def pg_round_trips(n: int = 1000, work_us: float = 300.0) -> tuple[float, float]:
    """Microseconds of one ``SELECT 1`` round trip to the PostgreSQL server: sent back to back, and sent after
    ``work_us`` of the client's own CPU work (as an engine's Python runs between its statements). The second
    is the first plus the time this machine takes to wake the idle server process and the client again: a
    property of the machine (its scheduler, a VM's idle wake-ups), paid by every round trip that follows work."""
    import psycopg

    dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.cursor()
        for _ in range(50):
            cur.execute("SELECT 1")  # warm: the connection, the server's plan of it
        out = []
        for gap in (0.0, work_us / 1e6):
            spent = 0.0
            for _ in range(n):
                if gap:
                    end = time.perf_counter() + gap
                    while time.perf_counter() < end:
                        pass
                start = time.perf_counter()
                cur.execute("SELECT 1")
                spent += time.perf_counter() - start
            out.append(spent / n * 1e6)
    return out[0], out[1]


def pg_commit_rate(n: int = 300) -> float:
    """Durable commits/s of the PostgreSQL server: each ``INSERT`` of one small row then ``COMMIT`` (with the
    driver's BEGIN three round trips; the WAL flushed at ``synchronous_commit=on``), straight on the driver in a
    schema of its own. No engine commits a step durably faster on this server."""
    import psycopg

    with fresh_pg("commit") as url:
        schema = url.rsplit("%3D", 1)[1]
        dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(dsn) as conn:
            cur = conn.cursor()
            cur.execute(f'CREATE TABLE "{schema}".c (id int PRIMARY KEY, v text)')
            conn.commit()
            sql = f'INSERT INTO "{schema}".c VALUES (%s, %s)'
            cur.execute(sql, (0, "x" * 100))  # warm: the statement, the table's first page
            conn.commit()
            start = time.perf_counter()
            for i in range(1, n + 1):
                cur.execute(sql, (i, "x" * 100))
                conn.commit()
            return n / (time.perf_counter() - start)
