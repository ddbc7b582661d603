"""The durable-transition and escalation-path rows on SQLite as if the disk's flush were slower.

Issue 16 measures both rows at WAL+FULL "where a commit's fsync bounds every engine". On a machine
whose fsync is fast (thousands of commits/s) the floor and SpiffWorkflow are bound by the CPU
instead, and the two ratios follow each engine's CPU per step. This runs
``bench/run.py --only transitions,spiff --no-pg`` once per delay with ``bench/slowsync.c`` preloaded
(built here with the C compiler into a private temporary folder): every ``fsync``/``fdatasync`` of the
benchmark's processes first sleeps that long, as a disk whose flush takes that much longer would. Each
row's fsync ceiling is measured under the same delay, so the table says which ceiling each pair of
ratios was taken at.

    python -m bench.fsync_sweep [DELAY_US ...]      (default 0 250 500 1000 2000 4000; about a minute each)

SQLite only: PostgreSQL's server flushes in its own processes, which this cannot reach.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT = (0, 250, 500, 1000, 2000, 4000)


def build(folder: str) -> str:
    """The shim, compiled into ``folder``; its path."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise SystemExit("a C compiler (cc or gcc) is needed to build bench/slowsync.c")
    out = os.path.join(folder, "slowsync.so")
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", out, str(HERE / "slowsync.c"), "-ldl"], check=True)
    return out


def row(rows: list[dict[str, object]], start: str) -> dict[str, object]:
    return next(r for r in rows if str(r["item"]).startswith(start))


def ceiling(note: object) -> str:
    m = re.search(r"fsync ceiling (\d+) commits/s", str(note))
    return m[1] if m else "?"


def main(argv: list[str]) -> None:
    delays = [int(a) for a in argv] or list(DEFAULT)
    with tempfile.TemporaryDirectory(prefix="casecraft-fsync-") as folder:  # 0700
        shim = build(folder)
        print("| fsync delay | fsync ceiling | engine | Core floor | durable ratio (>= 0.8) | casecraft | "
              "SpiffWorkflow | escalation ratio (>= 2) |")
        print("|---|---|---|---|---|---|---|---|")
        for us in delays:
            out = os.path.join(folder, f"rows-{us}.json")
            env = {**os.environ, "LD_PRELOAD": shim, "FSYNC_DELAY_US": str(us)}
            subprocess.run([sys.executable, str(HERE / "run.py"), "--only", "transitions,spiff", "--no-pg",
                            "--json", out], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            rows = json.loads(Path(out).read_text(encoding="utf-8"))
            dur, esc = row(rows, "durable transitions"), row(rows, "escalation path")
            print(f"| {us} µs | {ceiling(dur['note'])} /s | {dur['figure']:,.0f} /s | {dur['peer']:,.0f} /s | "
                  f"{dur['ratio']:.2f} | {esc['figure']:,.0f} /s | {esc['peer']:,.0f} /s | {esc['ratio']:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
