"""The API's figures (issue 15): fire over HTTP vs the library, 50 clients on 2 servers, client start-up.

    python -m bench.api [--quick] [--no-pg] [--clients 50] [--seconds 20]

1. ``case fire`` through the API (a keep-alive httpx client to one ``casecraft
   serve`` process) against the same action through the library in this
   process, on SQLite and PostgreSQL: fires/s each, ratio (target >= 0.7).
2. Dispatch: an engine call through the threadpool vs a process pool (each
   worker process with its own engine, arguments and views pickled).
3. 50 concurrent clients (threads, each its own keep-alive client) against two
   ``serve`` processes on PostgreSQL, round-robin as a proxy would: reads
   (show, list, triggers) and fires on each client's own cases; p50/p99
   latency, throughput, errors; afterwards every case's timeline is checked
   against the steps the clients saw succeed (no lost or duplicated step).
4. Start-up: ``casecraft case list`` over the server against
   ``python -c "import httpx"`` (target <= 2x), best of several runs.

Printed figures, not timed tests. The load average is printed beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import PG_URL, WORKFLOW  # noqa: E402

GRID5 = "110106004005005"
STEPS = (("resolve", "已清除"), ("rework", "未清除干净"))  # grid_handling <-> to_check, forever


def say(text: str) -> None:
    print(text, flush=True)


@contextmanager
def database(backend: str, where: Path, name: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{where / f'{name}.db'}"
        return
    import sqlalchemy as sa

    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    schema = f"bench_api_{name}_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def prepare(url: str, people: tuple[str, ...] = ("wangjg",)) -> tuple[Any, dict[str, str]]:
    from casecraft import Engine
    from casecraft.admin.auth import issue_token

    eng = Engine(url, WORKFLOW, token="")
    eng.init(sandbox=True)
    return eng, {p: issue_token(eng.ctx, p, actor=None)[0] for p in people}


def report(eng: Any, n: int) -> list[int]:
    me = eng.bound("wangjg")
    return [me.report(source="patrol", grid=GRID5, category="0101", desc=f"小广告{i}").id for i in range(n)]


@contextmanager
def serve(url: str, workers: int = 1) -> Iterator[str]:
    from tests.server_support import serve_process

    with serve_process(url, "--workers", str(workers), "--rate-limit", "off") as (base, _proc):
        yield base


# 1. fire through the API vs the library ---------------------------------------------------------------
def fire_library(eng: Any, cases: list[int], rounds: int) -> float:
    me = eng.bound("wangjg")
    start = time.perf_counter()
    for r in range(rounds):
        trigger, note = STEPS[r % 2]
        for cid in cases:
            me.fire(cid, trigger, note=note)
    return rounds * len(cases) / (time.perf_counter() - start)


def fire_api(base: str, token: str, cases: list[int], rounds: int) -> float:
    import httpx

    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        client.get("/me").raise_for_status()  # connect and verify the token once, as a long-lived client would
        start = time.perf_counter()
        for r in range(rounds):
            trigger, note = STEPS[r % 2]
            for cid in cases:
                client.post(f"/cases/{cid}/fire/{trigger}", json={"note": note}).raise_for_status()
        return rounds * len(cases) / (time.perf_counter() - start)


@contextmanager
def bare_server(payload: dict[str, Any], where: Path) -> Iterator[str]:
    """bench/bare_app.py on uvicorn (the floor: HTTP, FastAPI, one threadpool hop, the same response)."""
    import json

    import httpx

    from tests.server_support import free_port

    file = where / "bare-payload.json"
    file.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    port = free_port()
    env = {**os.environ, "CASECRAFT_BARE_PAYLOAD": str(file), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--port", str(port),
                             "--log-level", "warning"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.post(f"{base}/fire", json={}, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def fire_bare(base: str, n: int) -> float:
    import httpx

    with httpx.Client(base_url=base, timeout=60) as client:
        client.post("/fire", json={"note": "warm"})
        start = time.perf_counter()
        for i in range(n):
            client.post("/fire", json={"note": STEPS[i % 2][1]}).raise_for_status()
        return n / (time.perf_counter() - start)


def section_fire(backend: str, where: Path, n_cases: int, rounds: int, reps: int = 5) -> None:
    """Library, API and the bare floor in alternating rounds (so all see the same machine load); medians of each
    and of the per-round ratios. The ceiling is what the ratio would be if the API added nothing to the library
    call but the floor: library time / (library time + floor time)."""
    import httpx

    with database(backend, where, "fire") as url:
        eng, toks = prepare(url)
        lib_cases, api_cases, (typical,) = report(eng, n_cases), report(eng, n_cases), report(eng, 1)
        fire_library(eng, lib_cases[:2], 2)  # warm the caches
        # the floor answers a case as long as the average answer of the run (its timeline grows by one per fire)
        fire_library(eng, [typical], 2 + reps * rounds // 2)
        libs, apis, bares = [], [], []
        with serve(url) as base:
            fire_api(base, toks["wangjg"], api_cases[:2], 2)
            sample = httpx.get(f"{base}/cases/{typical}", headers={"Authorization": f"Bearer {toks['wangjg']}"})
            with bare_server(sample.json(), where) as bare:
                for _ in range(reps):
                    apis.append(fire_api(base, toks["wangjg"], api_cases, rounds))
                    libs.append(fire_library(eng, lib_cases, rounds))
                    bares.append(fire_bare(bare, rounds * len(api_cases)))
        eng.close()
    ratio = statistics.median(a / b for a, b in zip(apis, libs, strict=True))
    ceiling = statistics.median((1 / lb) / (1 / lb + 1 / fb) for lb, fb in zip(libs, bares, strict=True))
    say(f"fire {backend}: API {statistics.median(apis):.0f}/s, library {statistics.median(libs):.0f}/s (medians of "
        f"{reps} alternating rounds of {rounds * n_cases} fires), ratio {ratio:.2f} (target >= 0.7: "
        f"{'met' if ratio >= 0.7 else 'MISSED'}); per round: "
        + ", ".join(f"{a / b:.2f}" for a, b in zip(apis, libs, strict=True)))
    say(f"fire {backend} floor: a bare FastAPI round trip with one threadpool hop and the same response "
        f"{1000 / statistics.median(bares):.2f} ms, library fire {1000 / statistics.median(libs):.2f} ms, API fire "
        f"{1000 / statistics.median(apis):.2f} ms: ceiling {ceiling:.2f} (the ratio if the API added nothing but "
        f"the floor); the API's own cost beyond the floor "
        f"{1000 / statistics.median(apis) - 1000 / statistics.median(libs) - 1000 / statistics.median(bares):.2f} ms")


# 2. threadpool vs process pool --------------------------------------------------------------------------
_worker_engine: Any = None


def _init_worker(url: str) -> None:
    global _worker_engine
    from casecraft import Engine

    _worker_engine = Engine(url, token="")


def _worker_fire(cid: int, trigger: str, note: str) -> Any:
    return _worker_engine.bound("wangjg").fire(cid, trigger, note=note)


def section_dispatch(where: Path, n_cases: int, rounds: int) -> None:
    import anyio.to_thread

    with database("sqlite", where, "dispatch") as url:
        eng, _ = prepare(url)
        a, b = report(eng, n_cases), report(eng, n_cases)
        me = eng.bound("wangjg")

        async def threads() -> float:
            start = time.perf_counter()
            for r in range(rounds):
                trigger, note = STEPS[r % 2]
                for cid in a:
                    await anyio.to_thread.run_sync(lambda c=cid, t=trigger, n=note: me.fire(c, t, note=n))
            return rounds * len(a) / (time.perf_counter() - start)

        async def processes(pool: ProcessPoolExecutor) -> float:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(pool, _worker_fire, b[0], "resolve", "warm")
            await loop.run_in_executor(pool, _worker_fire, b[0], "rework", "warm")
            start = time.perf_counter()
            for r in range(rounds):
                trigger, note = STEPS[r % 2]
                for cid in b:
                    await loop.run_in_executor(pool, _worker_fire, cid, trigger, note)
            return rounds * len(b) / (time.perf_counter() - start)

        t = asyncio.run(threads())
        with ProcessPoolExecutor(2, initializer=_init_worker, initargs=(url,)) as pool:
            p = asyncio.run(processes(pool))
        eng.close()
    say(f"dispatch (SQLite, fire): threadpool {t:.0f}/s, process pool {p:.0f}/s ({p / t:.2f} x)")


# 3. 50 clients, 2 servers, PostgreSQL ------------------------------------------------------------------------
def section_load(where: Path, clients: int, seconds: float, cases_per_client: int) -> None:
    import httpx

    with database("postgresql", where, "load") as url:
        eng, toks = prepare(url, ("wangjg", "zhoumin"))
        owned = [report(eng, cases_per_client) for _ in range(clients)]
        with serve(url) as a, serve(url) as b:
            lat: dict[str, list[float]] = {"show": [], "list": [], "triggers": [], "fire": []}
            fired: dict[int, list[str]] = {c: [] for cs in owned for c in cs}
            errors: list[str] = []
            lock = threading.Lock()
            stop = [float("inf")]  # set when every client is connected and the run begins
            start_gate = threading.Barrier(clients + 1, action=lambda: stop.__setitem__(0, time.monotonic() + seconds))

            def client(i: int) -> None:
                base = (a, b)[i % 2]
                mine = owned[i]
                n = 0
                local: dict[str, list[float]] = {k: [] for k in lat}
                with httpx.Client(base_url=base, timeout=60, headers={
                        "Authorization": f"Bearer {toks['wangjg']}"}) as c:
                    c.get("/me")
                    start_gate.wait()
                    while time.monotonic() < stop[0]:
                        cid = mine[n % len(mine)]
                        kind = ("show", "fire", "list", "triggers", "show", "fire", "show", "list", "fire",
                                "show")[n % 10]
                        t0 = time.perf_counter()
                        if kind == "fire":
                            trigger, note = STEPS[len(fired[cid]) % 2]
                            r = c.post(f"/cases/{cid}/fire/{trigger}", json={"note": note})
                            if r.status_code == 200:
                                fired[cid].append(trigger)
                        elif kind == "show":
                            r = c.get(f"/cases/{cid}")
                        elif kind == "list":
                            r = c.get("/cases", params={"limit": 20, "sort": "-updated"})
                        else:
                            r = c.get(f"/cases/{cid}/triggers")
                        local[kind].append(time.perf_counter() - t0)
                        if r.status_code >= 400:
                            with lock:
                                errors.append(f"{kind} {r.status_code} {r.text[:120]}")
                        n += 1
                with lock:
                    for k, v in local.items():
                        lat[k].extend(v)

            threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
            for t in threads:
                t.start()
            start_gate.wait()
            began = time.perf_counter()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - began
        # every step the clients saw succeed is in the timeline once, in order, and nothing else
        lost = dup = 0
        for cid, steps in fired.items():
            seen = [e.trigger for e in eng.get(cid).timeline][1:]
            if seen != steps:
                lost += max(0, len(steps) - len(seen))
                dup += max(0, len(seen) - len(steps))
                if len(seen) == len(steps):
                    lost += 1  # same length, different steps
        eng.close()
    every = [x for v in lat.values() for x in v]
    total = len(every)

    def pct(xs: list[float], q: float) -> float:
        return statistics.quantiles(xs, n=100)[q - 1] * 1000 if len(xs) >= 2 else float("nan")

    say(f"load PostgreSQL, {clients} clients, 2 serve processes, {elapsed:.1f} s: {total} requests, "
        f"{total / elapsed:.0f} req/s; p50 {pct(every, 50):.1f} ms, p99 {pct(every, 99):.1f} ms; "
        f"errors {len(errors)}; steps {sum(len(s) for s in fired.values())} fired, lost {lost}, duplicated {dup}")
    for kind, xs in lat.items():
        if xs:
            say(f"    {kind:9s} n={len(xs):6d}  p50 {pct(xs, 50):7.1f} ms  p99 {pct(xs, 99):7.1f} ms")
    for e in errors[:5]:
        say(f"    error: {e}")


# 4. start-up ---------------------------------------------------------------------------------------------
def _wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    return time.perf_counter() - start


def section_startup(where: Path, runs: int) -> None:
    with database("sqlite", where, "startup") as url:
        eng, toks = prepare(url, ("wangjg",))
        report(eng, 3)
        eng.close()
        with serve(url) as base:
            env = {k: v for k, v in os.environ.items() if not k.startswith("CASECRAFT_")}
            env.update(CASECRAFT_SERVER=base, CASECRAFT_TOKEN=toks["wangjg"], PYTHONPATH=str(ROOT))
            exe = Path(sys.executable).with_name("casecraft")
            if exe.exists() and _registered():
                cmd = [str(exe)]
            else:  # before main.py registers --server: the same app through the tests' shim
                cmd = [sys.executable, "-c", "import sys; from tests.server_support import cli_app; cli_app()()"]
            client = min(_wall([*cmd, "case", "list"], env) for _ in range(runs))
            fire = min(_wall([*cmd, "case", "fire", "1", STEPS[i % 2][0], "--note", "x"], env) for i in range(runs))
            httpx_t = min(_wall([sys.executable, "-c", "import httpx"], env) for _ in range(runs))
            help_t = min(_wall([*cmd, "--help"], env) for _ in range(runs))
    say(f"start-up: `case list` over the server {client * 1000:.0f} ms, `case fire` {fire * 1000:.0f} ms, "
        f"`import httpx` {httpx_t * 1000:.0f} ms (ratio {client / httpx_t:.2f} / {fire / httpx_t:.2f}, target <= 2: "
        f"{'met' if max(client, fire) <= 2 * httpx_t else 'MISSED'}); `--help` {help_t * 1000:.0f} ms")


def _registered() -> bool:
    from casecraft.cli.main import app

    return any((c.name or "") == "login" for c in app.registered_commands)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer fires, a shorter load run")
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--only", choices=("fire", "dispatch", "load", "startup"))
    args = ap.parse_args()
    os.environ.setdefault("CASECRAFT_SQLITE_SYNC", "NORMAL")
    n, rounds = (20, 2) if args.quick else (30, 4)
    say(f"bench/api.py on {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} "
        f"(CASECRAFT_SQLITE_SYNC={os.environ['CASECRAFT_SQLITE_SYNC']})")
    with tempfile.TemporaryDirectory(prefix="casecraft-bench-api-") as tmp:
        where = Path(tmp)
        if args.only in (None, "fire"):
            for backend in ("sqlite",) + (() if args.no_pg else ("postgresql",)):
                section_fire(backend, where, n, rounds)
        if args.only in (None, "dispatch"):
            section_dispatch(where, n // 2, rounds)
        if args.only in (None, "load") and not args.no_pg:
            section_load(where, args.clients, 8.0 if args.quick else args.seconds, 4)
        if args.only in (None, "startup"):
            section_startup(where, 3 if args.quick else 7)
    say(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
