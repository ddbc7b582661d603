"""Run the casecraft benchmarks and print every figure beside its peer, with the ratio and the target.

    python bench/run.py            # the full run (large data sets are generated once, then cached)
    python bench/run.py --quick    # every row on small data, in about a minute
    python bench/run.py --only transitions,sweep --no-pg

Needs the ``bench`` extra (``pip install -e '.[bench]'``: SpiffWorkflow) and,
for the PostgreSQL rows, the server at $CASECRAFT_BENCH_PG or $CASECRAFT_TEST_PG
(default postgresql+psycopg://postgres@127.0.0.1:5432/test). See bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# run as a script, sys.path[0] is bench/ itself: put the checkout there instead, so that bench's
# module names never shadow a library's
sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench import common  # noqa: E402
from bench.common import Row  # noqa: E402

ITEMS = ["transitions", "spiff", "hotline", "hotline_rss", "sweep", "month", "startup", "memory", "scale"]


@dataclass
class Sizes:
    engine_cases: int  # cases walked along the 11-step escalation path, per round
    floor_txns: int
    rounds: int
    spiff_cases: int
    hotline_rows: int
    sweep_cases: int
    month_grid: int
    month_hotline: int
    startup_runs: int
    memory_transitions: int
    scale_cases: int  # per process
    month_districts: int = 16  # Beijing's 16 districts; fewer for --quick
    hotline_rss_rows: int = 1_000_000  # the file imported while RSS is watched


QUICK = Sizes(engine_cases=8, floor_txns=80, rounds=1, spiff_cases=3, hotline_rows=300, sweep_cases=20_000,
              month_grid=3_000, month_hotline=9_000, startup_runs=2, memory_transitions=1_000, scale_cases=2,
              month_districts=1, hotline_rss_rows=20_000)
FULL = Sizes(engine_cases=60, floor_txns=600, rounds=3, spiff_cases=20, hotline_rows=20_000,
             sweep_cases=1_000_000, month_grid=600_000, month_hotline=1_800_000, startup_runs=15,
             memory_transitions=1_000_000, scale_cases=150)


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def backends(use_pg: bool) -> list[str]:
    return ["sqlite", "postgresql"] if use_pg else ["sqlite"]


class Db:
    """A fresh database per scenario on either backend."""

    def __init__(self, backend: str, name: str) -> None:
        self.backend, self.name = backend, name
        self._ctx: Any = None

    def __enter__(self) -> str:
        if self.backend == "sqlite":
            return common.fresh_sqlite(self.name)
        self._ctx = common.fresh_pg(f"bench_{self.name}")
        return self._ctx.__enter__()

    def __exit__(self, *exc: object) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(*exc)


# ---------------------------------------------------------------------------------------------------------
def run_transitions(sz: Sizes, use_pg: bool) -> list[Row]:
    from bench import throughput as tr

    rows = []
    for b in backends(use_pg):
        eng_best = floor_best = replay_best = 0.0
        per_step = 0.0
        eng_cpu: dict[str, float] = {}
        floor_cpu: dict[str, float] = {}
        for r in range(sz.rounds):  # alternate, so that a noisy minute hurts both sides alike
            with Db(b, "floor") as url:
                spent: dict[str, float] = {}
                rate = tr.floor_rate(url, sz.floor_txns, spent)
                if rate > floor_best:
                    floor_best, floor_cpu = rate, spent
            with Db(b, "engine") as url:
                spent = {}
                rate = tr.engine_rate(url, sz.engine_cases, spent)[0]
                if rate > eng_best:
                    eng_best, eng_cpu = rate, spent
            with Db(b, "replay") as url, Db(b, "replay_twin") as twin:
                rate, per_step = tr.replay_rate(url, twin, sz.engine_cases)
                replay_best = max(replay_best, rate)
            say(f"transitions {b} round {r + 1}: engine {eng_best:.0f}/s, floor {floor_best:.0f}/s, "
                f"engine's statements replayed {replay_best:.0f}/s")
        ratio = eng_best / floor_best
        note = (f"the engine's own {per_step:.1f} statements per step replayed bare on the driver: "
                f"{replay_best:.0f}/s ({1000 / replay_best:.2f} ms a step; the engine's Python "
                f"{1000 / eng_best - 1000 / replay_best:.2f} ms)")
        note += (f"; CPU a step (best rounds): the engine's process {eng_cpu['client'] * 1e6:.0f} us, the floor's "
                 f"{floor_cpu['client'] * 1e6:.0f} us")
        if b == "postgresql":
            note += (f"; the server's {eng_cpu['server'] * 1e6:.0f} us and {floor_cpu['server'] * 1e6:.0f} us "
                     f"(every local postgres process)")
        if b == "sqlite":
            note += f"; fsync ceiling {common.fsync_rate():.0f} commits/s (os.fsync of a 4 KiB write)"
        else:
            note += f"; durable-commit ceiling {common.pg_commit_rate():.0f} commits/s (one-row INSERT + COMMIT)"
            idle, busy = common.pg_round_trips()
            note += (f"; a round trip {idle:.0f} us back to back, {busy:.0f} us after 0.3 ms of client work "
                     f"(the machine's wake-up of an idle server)")
        rows.append(Row("durable transitions/s: engine vs Core floor", b, eng_best, "/s", floor_best,
                        "Core select+update+insert", ratio, "ratio >= 0.8", ratio >= 0.8, note))
    return rows


def run_spiff(sz: Sizes, use_pg: bool) -> list[Row]:
    from bench import spiff
    from bench import throughput as tr

    rows = []
    for b in backends(use_pg):
        mine = peer = 0.0
        for r in range(sz.rounds):  # alternate, best of each, so that a noisy minute hurts both sides alike
            with Db(b, "spiff") as url:
                peer = max(peer, spiff.spiff_rate(url, sz.spiff_cases)[0])
            with Db(b, "engine") as url:
                mine = max(mine, tr.engine_rate(url, sz.spiff_cases)[0])
            say(f"escalation path {b} round {r + 1}: casecraft {mine:.0f}/s, SpiffWorkflow {peer:.0f}/s")
        ratio = mine / peer
        note = ""
        if b == "sqlite":  # one commit per step on both sides: the disk's fsync rate bounds every engine
            note = (f"2x SpiffWorkflow = {2 * peer:.0f} steps/s; fsync ceiling {common.fsync_rate():.0f} commits/s "
                    f"(os.fsync of a 4 KiB write)")
        else:
            note = (f"2x SpiffWorkflow = {2 * peer:.0f} steps/s; durable-commit ceiling {common.pg_commit_rate():.0f} "
                    f"commits/s (one-row INSERT + COMMIT on the driver)")
        rows.append(Row("escalation path steps/s vs SpiffWorkflow", b, mine, "/s", peer,
                        "SpiffWorkflow, state saved per step", ratio, "ratio >= 2", ratio >= 2, note))
    return rows


def run_hotline(sz: Sizes, use_pg: bool) -> list[Row]:
    from bench import hotline

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = hotline.write_csv(Path(tmp) / "orders.csv", sz.hotline_rows)
        for b in backends(use_pg):
            core = drv = mine = 0.0
            if not hotline.available():
                with Db(b, "rawimport") as url:
                    core = hotline.raw_rate(url, path)
                with Db(b, "drvimport") as url:
                    drv = hotline.driver_rate(url, path)
                say(f"hotline import {b}: Engine.import_hotline not on main yet; raw {core:.0f}/{drv:.0f} rows/s")
                for peer, label in ((core, "raw Core executemany"), (drv, "raw driver executemany")):
                    rows.append(Row("hotline import rows/s vs raw executemany", b, None, "rows/s", peer, label,
                                    None, "ratio >= 0.5", None, "not available yet"))
                continue
            same = 0.0
            for r in range(sz.rounds):  # alternate, best of each, so that a noisy minute hurts every side alike
                with Db(b, "rawimport") as url:
                    core = max(core, hotline.raw_rate(url, path))
                with Db(b, "drvimport") as url:
                    drv = max(drv, hotline.driver_rate(url, path))
                if b == "sqlite":
                    with Db(b, "rowsimport") as scratch, Db(b, "sameimport") as url:
                        same = max(same, hotline.same_rows_rate(url, scratch, path))
                with Db(b, "import") as url:
                    mine = max(mine, hotline.casecraft_rate(url, path))
                say(f"hotline import {b} round {r + 1}: casecraft {mine:.0f} rows/s, raw Core {core:.0f}, "
                    f"raw driver {drv:.0f} rows/s" + (f", the import's own rows on the driver {same:.0f} rows/s"
                                                      if same else "") + " (best so far)")
            for peer, label in ((core, "raw Core executemany"), (drv, "raw driver executemany")):
                rows.append(Row("hotline import rows/s vs raw executemany", b, mine, "rows/s", peer, label,
                                mine / peer, "ratio >= 0.5", mine / peer >= 0.5,
                                f"{sz.hotline_rows:,} rows; best of {sz.rounds} alternating"))
            if same:  # reported beside the row above, whose verdict stands: its peer's rows are narrower
                rows.append(Row("hotline import rows/s vs raw executemany", b, mine, "rows/s", same,
                                "raw driver executemany of the import's own rows", mine / same, "reported", None,
                                f"{sz.hotline_rows:,} rows; best of {sz.rounds} alternating; the rows the import "
                                "wrote, read back and inserted bare (the case row with its step limit's stage "
                                "columns; the chained entry's note, recorded time, name, case and deadline facts "
                                "included); the verdict is the row above's"))
    return rows


def run_hotline_rss(sz: Sizes, use_pg: bool) -> list[Row]:
    from bench import hotline

    n = sz.hotline_rss_rows
    path = hotline.cached_csv(n)
    warmup = min(50_000, max(2_000, n // 10))
    with Db("sqlite", "hotline_rss") as url:
        try:
            r = hotline.rss_in_child(url, path, warmup)
        finally:  # some GB at the full size: not kept
            for suffix in ("", "-wal", "-shm"):
                Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    growth = r["end"] - r["warm"]
    say(f"hotline RSS: {r['start']:.1f} MB before, {r['warm']:.1f} MB after {warmup:,} rows written, peak "
        f"{r['peak']:.1f} MB, {r['end']:.1f} MB at the end; {r['rows']:,.0f} rows in {r['seconds']:.0f} s")
    short = n < 1_000_000
    return [Row(f"RSS growth over a hotline import of {n:,} rows", "sqlite", growth, "MB", r["warm"],
                f"RSS after {warmup:,} rows written", growth / r["warm"], "< 20 MB over 1,000,000 rows",
                None if short else growth < 20,
                (f"only {n:,} rows: no verdict; " if short else "")
                + f"before the import {r['start']:.0f} MB, peak {r['peak']:.0f} MB; "
                f"{r['rows'] / r['seconds']:,.0f} rows/s, one child process")]


def _cached(b: str, name: str, tag: str, build: Callable[[str], dict[str, int]]) -> str:
    if b == "sqlite":
        url, built = common.cached_sqlite(name, tag)
    else:
        url, built = common.cached_pg(f"bench_cache_{name}", tag)
    if built:
        say(f"{name} {b}: cached data set {tag}")
        return url
    say(f"{name} {b}: generating {tag} (cached afterwards) ...")
    start = time.perf_counter()
    counts = build(url)
    say(f"{name} {b}: generated {counts} in {time.perf_counter() - start:.0f}s")
    if b == "sqlite":
        common.mark_sqlite_built(name, tag)
    else:
        common.mark_pg_built(f"bench_cache_{name}", tag)
    return url


def run_sweep(sz: Sizes, use_pg: bool) -> list[Row]:
    from bench import gen, sweep
    from casecraft.store.repo import Store

    rows = []
    tag = f"sweep-v{gen.SWEEP_GENERATOR}-{sz.sweep_cases}"
    for b in backends(use_pg):
        url = _cached(b, f"sweep{sz.sweep_cases}", tag, lambda u: gen.build_sweep(u, sz.sweep_cases))
        store = Store(url)
        try:
            text = sweep.plan(store)
            best, bare, med, bare_med, n = sweep.time_claims(store, 50)
            peer = sweep.time_without_index(store, 3)
        finally:
            store.dispose()
        ok = sweep.uses_index(text)
        say(f"sweep {b}: claim of {n} rows best {best:.2f} ms (median {med:.2f}), the bare statement best "
            f"{bare:.2f} ms (median {bare_med:.2f}), without the index {peer:.1f} ms; "
            f"plan: {' / '.join(line.strip() for line in text.splitlines())}")
        rows.append(Row(f"sweep: claim a 500 batch ({sz.sweep_cases:,} cases, 30% open)", b, best, "ms", bare,
                        "same statement bare on the DBAPI cursor", best / bare, "ratio <= 1.5, plan uses the index",
                        best / bare <= 1.5 and ok and n == 500,
                        f"best of 50 alternating; medians {med:.2f} / {bare_med:.2f} ms; without the index "
                        f"{peer:.1f} ms; plan {f'uses {sweep.INDEX}' if ok else 'NO INDEX'}"))
    return rows


def run_month(sz: Sizes, use_pg: bool) -> list[Row]:
    from bench import month

    rows = []
    tag = f"month-v{month.GENERATOR}-{sz.month_grid}-{sz.month_hotline}"
    if sz.month_districts != 16:
        tag += f"-d{sz.month_districts}"
    for b in backends(use_pg):
        url = _cached(b, f"month{sz.month_grid}", tag,
                      lambda u: month.build_month(u, sz.month_grid, sz.month_hotline, sz.month_districts))
        peer, levels = month.raw_evaluation(url)
        mine = month.casecraft_evaluation(url)
        serial, _ = month.raw_evaluation(url, connections=1)  # for the note: the same scans one after the other
        limit = 5.0 if b == "sqlite" else 2.0
        label = (f"Beijing month at every level ({sz.month_grid:,} grid + {sz.month_hotline:,} hotline cases, "
                 f"{sz.month_districts} district{'s' if sz.month_districts > 1 else ''})")
        say(f"month {b}: raw GROUP BY {peer:.2f}s ({levels}); casecraft "
            f"{'not available yet' if mine is None else f'{mine:.2f}s'}")
        if mine is None:
            rows.append(Row(label, b, None, "s", peer, "raw GROUP BY + roll-up", None, f"<= {limit:g} s", None,
                            "not available yet (casecraft.evaluation not on main)"))
        else:
            rows.append(Row(label, b, mine, "s", peer, "raw GROUP BY + roll-up", mine / peer,
                            f"ratio <= 1.5; idle: <= {limit:g} s", mine / peer <= 1.5,
                            f"{mine:.2f} s against {limit:g} s (that bar is for an idle machine); the peer reads on "
                            f"as many connections as casecraft ({min(os.cpu_count() or 1, 3)}); on one, "
                            f"{serial:.2f} s"))
    return rows


def run_startup(sz: Sizes, use_pg: bool) -> list[Row]:
    from bench import startup

    def note(p: startup.Pair, peer: str, libraries: str) -> str:
        text = (f"CPU time {p.mine_cpu:.3f} s vs {p.peer_cpu:.3f} s = {p.mine_cpu / p.peer_cpu:.2f}x; "
                f"its imports alone {p.imports:.3f} s = {p.imports / p.peer:.2f}x {peer}")
        if p.floor:
            text += f"; the libraries among them alone ({libraries}) {p.floor:.3f} s = {p.floor / p.peer:.2f}x"
        return text

    startup.precompile()
    h = startup.help_pair(sz.startup_runs)
    rows = [Row("casecraft --help", "-", h.mine, "s", h.peer, 'python -c "import typer"', h.mine / h.peer,
                "ratio <= 1.5", h.mine / h.peer <= 1.5, note(h, "import typer", ""))]
    with Db("sqlite", "cli") as url:
        f = startup.fire_pair(url, sz.startup_runs)
    rows.append(Row("one casecraft case fire (SQLite)", "sqlite", f.mine, "s", f.peer, 'python -c "import sqlalchemy"',
                    f.mine / f.peer, "ratio <= 1.3", f.mine / f.peer <= 1.3,
                    note(f, "import sqlalchemy", "SQLite dialect, Typer, transitions")))
    with Db("sqlite", "served") as url:
        c = startup.client_pair(url, sz.startup_runs)
    rows.append(Row("one client command over the server (case show)", "sqlite", c.mine, "s", c.peer,
                    'python -c "import httpx"', c.mine / c.peer, "ratio <= 2", c.mine / c.peer <= 2,
                    note(c, "import httpx", "httpcore, h11, Typer")))
    say(f"startup: --help {h.mine:.3f}s (import typer {h.peer:.3f}s), case fire {f.mine:.3f}s (import sqlalchemy "
        f"{f.peer:.3f}s), client case show {c.mine:.3f}s (import httpx {c.peer:.3f}s)")
    return rows


def run_memory(sz: Sizes, use_pg: bool) -> list[Row]:
    from bench import memory

    # RSS is the Python heap's business, not the disk's: synchronous=OFF lets more transitions fit the time
    sync = os.environ.get("CASECRAFT_SQLITE_SYNC")
    os.environ["CASECRAFT_SQLITE_SYNC"] = "OFF"
    try:
        with Db("sqlite", "memory") as url:
            base, end, growth, n = memory.rss_growth_in_child(
                url, sz.memory_transitions, min(2_000, max(500, sz.memory_transitions // 10)),
                progress=lambda done, rss: say(f"memory: {done:,} transitions, RSS {rss:.1f} MB"))
    finally:
        if sync is None:
            os.environ.pop("CASECRAFT_SQLITE_SYNC")
        else:
            os.environ["CASECRAFT_SQLITE_SYNC"] = sync
    say(f"memory: RSS {base:.1f} MB after warm-up, {end:.1f} MB after {n:,} more transitions")
    short = n < 1_000_000
    return [Row(f"RSS growth over {n:,} transitions", "sqlite", growth, "MB", base, "RSS after warm-up",
                growth / base, "< 20 MB over 1,000,000", None if short else growth < 20,
                (f"only {n:,} transitions run: no verdict; " if short else "")
                + "synchronous=OFF for this row; a fresh process")]


def run_scale(sz: Sizes, use_pg: bool) -> list[Row]:
    from bench import scale

    if not use_pg:
        return [Row("2 processes vs 1 on PostgreSQL", "postgresql", None, "/s", None, "", None, "ratio >= 1.6",
                    None, "skipped: no PostgreSQL")]
    rates: dict[int, float] = {}
    floor: dict[int, float] = {}
    idle: dict[int, float] = {}
    # best of `rounds`, 1, 2 and 4 processes alternating (one process moves by a quarter between runs of a few
    # seconds on a VM): a noisy minute hurts every side alike
    for r in range(sz.rounds):
        for n in (1, 2, 4):
            with Db("postgresql", f"scale{n}") as url:
                if r == 0:
                    idle[n] = max(0.0, (os.cpu_count() or 1) - os.getloadavg()[0])
                rates[n] = max(rates.get(n, 0.0), scale.rate(url, n, sz.scale_cases))
            if n < 4:  # the Core floor's own scaling, same run, same number of transitions per process
                with Db("postgresql", f"scalefloor{n}") as url:
                    floor[n] = max(floor.get(n, 0.0), scale.rate(url, n, sz.scale_cases, floor=True))
        say(f"scale round {r + 1}: 2 vs 1 {rates[2] / rates[1]:.2f} (best so far)")
    say("scale: " + ", ".join(f"{n} process(es) {r:.0f}/s" for n, r in rates.items())
        + "; the Core floor: " + ", ".join(f"{n} process(es) {r:.0f}/s" for n, r in floor.items()))
    cores = os.cpu_count()
    return [Row("2 processes vs 1 on PostgreSQL", "postgresql", rates[2], "/s", rates[1], "one process",
                rates[2] / rates[1], "ratio >= 1.6", rates[2] / rates[1] >= 1.6,
                f"best of {sz.rounds} alternating; {cores} cores, about {idle[2]:.1f} idle (cores - load average) at "
                f"the start; the Core floor's "
                f"durable transition, as many per process: 2 vs 1 = {floor[2] / floor[1]:.2f} "
                f"({floor[2]:,.0f} / {floor[1]:,.0f}/s)"),
            Row("4 processes vs 1 on PostgreSQL", "postgresql", rates[4], "/s", rates[1], "one process",
                rates[4] / rates[1], "reported", None,
                f"{cores} cores, about {idle[4]:.1f} idle (cores - load average) at the start")]


RUNNERS: dict[str, Callable[[Sizes, bool], list[Row]]] = {
    "transitions": run_transitions, "spiff": run_spiff, "hotline": run_hotline, "hotline_rss": run_hotline_rss,
    "sweep": run_sweep,
    "month": run_month, "startup": run_startup, "memory": run_memory, "scale": run_scale}


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()
    return (f"{os.cpu_count()} cores ({model}), {mem:.0f} GiB, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}; load average at start {load[0]:.1f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small data: every row in about a minute")
    ap.add_argument("--only", help=f"comma-separated items: {','.join(ITEMS)}")
    ap.add_argument("--no-pg", action="store_true", help="SQLite rows only")
    ap.add_argument("--memory-transitions", type=int, help="transitions for the RSS row (full run: 1,000,000)")
    ap.add_argument("--hotline-rss-rows", type=int, help="rows of the file the hotline RSS row imports (full run: "
                    "1,000,000)")
    ap.add_argument("--month-scale", type=float, default=1.0,
                    help="fraction of the Beijing month to generate (full run: 1 = 600,000 + 1,800,000 cases)")
    ap.add_argument("--json", help="also write the rows as JSON to this file")
    args = ap.parse_args(argv)
    sz = QUICK if args.quick else FULL
    if args.memory_transitions:
        sz.memory_transitions = args.memory_transitions
    if args.hotline_rss_rows:
        sz.hotline_rss_rows = args.hotline_rss_rows
    if args.month_scale != 1.0:
        sz.month_grid = int(sz.month_grid * args.month_scale)
        sz.month_hotline = int(sz.month_hotline * args.month_scale)
    items = args.only.split(",") if args.only else ITEMS
    unknown = [i for i in items if i not in RUNNERS]
    if unknown:
        ap.error(f"unknown item(s) {', '.join(unknown)}; use {', '.join(ITEMS)}")
    use_pg = not args.no_pg
    if use_pg and not common.pg_available():
        ap.error(f"PostgreSQL at {common.PG_URL} is unreachable; start it or pass --no-pg")
    os.environ.setdefault("CASECRAFT_SQLITE_SYNC", "FULL")  # the project's default durability
    import logging

    logging.getLogger("casecraft.alerts.decisions").setLevel(logging.ERROR)
    started = datetime.now(UTC)
    say(f"{'quick' if args.quick else 'full'} run: {', '.join(items)}; {machine()}")
    rows: list[Row] = []
    for item in items:
        t0 = time.perf_counter()
        try:
            rows += RUNNERS[item](sz, use_pg)
        except Exception as exc:  # one broken scenario must not hide the others' figures
            rows.append(Row(item, "-", None, "", note=f"FAILED: {exc!r}"[:200]))
            say(f"{item} failed: {exc!r}")
        say(f"{item} done in {time.perf_counter() - t0:.0f}s")
    print(f"casecraft benchmarks, {'quick' if args.quick else 'full'} run, {started:%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine()}")
    print(f"SQLite: WAL, synchronous={os.environ['CASECRAFT_SQLITE_SYNC']}; PostgreSQL: {common.PG_URL.split('@')[-1]}")
    print()
    print(common.table(rows))
    missed = [r for r in rows if r.met is False]
    print()
    print(f"{len(rows)} rows; {sum(r.met is True for r in rows)} targets met, {len(missed)} missed, "
          f"{sum(r.met is None for r in rows)} without a verdict")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
