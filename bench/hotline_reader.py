"""Hotline reader: peak RSS and seconds of the validation pass and the batch pass on 1,000,000 rows.

Files (cached under ``bench/.data``): a 1,000,000-row CSV and the same orders as JSON
Lines, each also with one bad last row (an unknown category on row 1,000,001 of the
CSV, line 1,000,000 of the JSON Lines). Each figure is measured in a fresh child
process: its peak resident set (``VmHWM``) before the pass (imports, the workflow)
and after it — the growth is what the pass costs — and its wall and CPU seconds
(CPU time is the steadier figure on a shared machine). ``--old`` measures the whole-file
reader of ``main`` (``read_tickets`` before streaming) for comparison.

    .venv/bin/python -m bench.hotline_reader [--rows N] [--old]

Measured on the shared 2-core machine (load 3-6), 1,000,000 rows (CSV 147 MB, JSON Lines
259 MB), RSS growth over the 36 MB of a process with casecraft and the workflow loaded:
validation +9 MB (CSV 26.9 s CPU, JSON Lines 39 s), the batch pass +0 MB (28.5 s, 33.8 s),
the same with one bad last row; main's whole-file reader +1,831 MB (CSV, 37 s) and
+2,904 MB (JSON Lines, 42 s). 100,000 rows: the same +9 MB. The index: 66 MB on disk.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from bench.common import DATA, ROOT, SEED, WORKFLOW, at

NOW = at(24, "17:00")
GRIDS = ["110106004005001", "110106004005005", "110106004001002"]
CATS = ["0101", "0102", "0103", "0104", "0201", "0301"]
HEADER = ["ticket", "channel", "received_at", "address", "grid", "category", "description", "contact"]


def generate(rows: int, bad_last: bool, fmt: str) -> Path:
    """The cached file of ``rows`` orders (the last one with an unknown category if ``bad_last``)."""
    import csv

    DATA.mkdir(exist_ok=True)
    path = DATA / f"hotline-{rows}{'-badlast' if bad_last else ''}.{fmt}"
    if path.exists():
        return path
    rng = random.Random(SEED)
    tmp = path.with_suffix(".part")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        if fmt == "csv":
            w.writerow(HEADER)
        for i in range(rows):
            ch = rng.choice(("12345", "96005"))
            received = (NOW - timedelta(minutes=rng.randrange(1, 600))).strftime("%Y-%m-%dT%H:%M")
            cat = "0999" if bad_last and i == rows - 1 else rng.choice(CATS)
            row = [f"{ch}-20261124-{i:07d}", ch, received, "", rng.choice(GRIDS), cat,
                   f"居民来电反映问题{i}，商铺门前摆摊经营占用人行道", f"139****{i % 10000:04d}"]
            if fmt == "csv":
                w.writerow(row)
            else:
                fh.write(json.dumps(dict(zip(HEADER, row, strict=True)), ensure_ascii=False) + "\n")
    tmp.rename(path)
    return path


def _peak_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(path: str, phase: str) -> None:
    """In a fresh process: one pass over ``path``, printed as JSON."""
    from casecraft.intake import hotline
    from casecraft.workflows.loader import load_workflow

    wf = load_workflow(WORKFLOW)
    rules = {"categories": wf.categories, "now": NOW, "timezone": wf.timezone}
    before = _peak_mb()
    start, cpu = time.perf_counter(), time.process_time()
    out: dict[str, object] = {}
    if phase == "old":
        old = _old_reader()
        parsed = old.read_tickets(path, **rules)
        out.update(rows=parsed.rows, problems=len(parsed.problems), tickets=len(parsed.tickets))
    else:
        with hotline.open_hotline(path) as src, src.validate(**rules) as v:
            out.update(rows=v.rows, problems=v.problem_count, bad_rows=v.bad_rows)
            if phase == "batches":
                start, cpu = time.perf_counter(), time.process_time()
                before = _peak_mb()
                out["tickets"] = sum(len(b) for b in v.iter_batches(500))
    out.update(seconds=round(time.perf_counter() - start, 1), cpu=round(time.process_time() - cpu, 1),
               base_mb=round(before), peak_mb=round(_peak_mb()))
    print(json.dumps(out))


def _old_reader():  # type: ignore[no-untyped-def]
    """``casecraft/intake/hotline.py`` as it was on main before streaming (commit e921114)."""
    import importlib.util

    src = subprocess.run(["git", "-C", str(ROOT), "show", "e921114:casecraft/intake/hotline.py"],
                         check=True, capture_output=True, text=True).stdout
    where = DATA / "hotline_old.py"
    where.write_text(src, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("hotline_old", where)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["hotline_old"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def measure(path: Path, phase: str) -> dict[str, object]:
    res = subprocess.run([sys.executable, "-m", "bench.hotline_reader", "--child", str(path), phase],
                         cwd=ROOT, capture_output=True, text=True)
    if res.returncode:
        return {"error": res.stderr.strip().splitlines()[-1]}
    return dict(json.loads(res.stdout))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--old", action="store_true", help="also measure main's whole-file reader")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    print(f"{'file':<30} {'pass':<9} {'rows':>9} {'bad':>4} {'seconds':>8} {'cpu s':>6} {'base MB':>8} "
          f"{'peak MB':>8} {'growth':>7}")
    for fmt in ("csv", "jsonl"):
        for bad_last in (False, True):
            path = generate(args.rows, bad_last, fmt)
            phases = ["validate"] + ([] if bad_last else ["batches"]) + (["old"] if args.old else [])
            for phase in phases:
                m = measure(path, phase)
                if "error" in m:
                    print(f"{path.name:<30} {phase:<9} {m['error']}")
                    continue
                bad = m.get("bad_rows", m.get("problems"))
                growth = float(str(m["peak_mb"])) - float(str(m["base_mb"]))
                print(f"{path.name:<30} {phase:<9} {m['rows']:>9} {bad:>4} {m['seconds']:>8} {m['cpu']:>6} "
                      f"{m['base_mb']:>8} {m['peak_mb']:>8} {growth:>7.0f}", flush=True)


if __name__ == "__main__":
    main()
