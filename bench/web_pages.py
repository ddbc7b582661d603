"""The workbench's page load times on a sample database (issue 18: each page under 300 ms).

    python -m bench.web_pages [--cases 10000] [--rounds 10]

The sample database is bench.gen's sweep data set (``--cases`` cases over the
four grids of the default organisation, 30 % open, on SQLite in a temporary
folder) plus one case with a photo. One ``serve`` app runs in a thread; a
keep-alive client logged in as each page's person fetches every page
``--rounds`` times. Printed: the median and the slowest time to the last byte
of each page, against the 300 ms target. Printed figures, not timed tests.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_MS = 300.0
PASSWORD = "bench-password-123"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args(argv)

    import httpx

    from bench.gen import SWEEP_NOW, build_sweep
    from casecraft import Engine
    from casecraft.admin.auth import set_password
    from casecraft.base.clock import FixedClock
    from casecraft.server import create_app
    from tests.server_support import uvicorn_thread

    with tempfile.TemporaryDirectory(prefix="casecraft-bench-web-") as tmp:
        url = f"sqlite:///{tmp}/sample.db"
        started = time.perf_counter()
        build_sweep(url, args.cases)
        eng = Engine(url, ROOT / "workflows.yaml", FixedClock(SWEEP_NOW), token="")
        for person in ("wangjg", "wujing"):
            set_password(eng.ctx, person, PASSWORD, actor=None)
        case = eng.report(source="patrol", grid="110106004005005", category="0101", desc="带照片的案件",
                          actor="wangjg", photos=[str(ROOT / "samples" / "after.jpg")])
        print(f"sample database: {args.cases} cases (+1 with a photo), built in {time.perf_counter() - started:.1f} s; "
              f"load average {os.getloadavg()[0]:.1f}")
        pages = {
            "wangjg": ["/web/", f"/web/cases/{case.id}", f"/web/cases/{case.id}/diagram.svg", "/web/report",
                       "/web/logs", "/web/org"],
            "wujing": ["/web/?scope=all", "/web/?scope=all&overdue=1", "/web/alerts", "/web/reports/monthly",
                       "/web/hotline"],
        }
        app = create_app(eng, rate_limit=None)
        rows: list[tuple[str, str, float, float]] = []
        try:
            with uvicorn_thread(app) as base, httpx.Client(base_url=base, timeout=60) as client:
                for person, paths in pages.items():
                    client.cookies.clear()
                    form = client.get("/web/login").text
                    token = re.search(r'name="csrf" value="([^"]+)"', form)
                    assert token is not None
                    client.post("/web/login", data={"person": person, "password": PASSWORD,
                                                    "csrf": token.group(1), "next": "/web/"})
                    for path in paths:
                        client.get(path).raise_for_status()  # warm: templates compiled, caches filled
                        times = []
                        for _ in range(args.rounds):
                            t0 = time.perf_counter()
                            r = client.get(path)
                            times.append((time.perf_counter() - t0) * 1000)
                            r.raise_for_status()
                        rows.append((person, path, statistics.median(times), max(times)))
        finally:
            eng.close()
    print(f"{'person':8} {'page':32} {'median ms':>10} {'max ms':>8}  target {TARGET_MS:.0f} ms")
    for person, path, med, worst in rows:
        verdict = "met" if med <= TARGET_MS else "MISSED"
        print(f"{person:8} {path:32} {med:10.1f} {worst:8.1f}  {verdict}")


if __name__ == "__main__":
    main()
