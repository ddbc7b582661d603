"""Memory: RSS growth of one process over many transitions through the engine.

Cases walk the escalation path (a report and eleven fires each) until the count
is reached; RSS is read after a warm-up (caches, statement cache, calendar
filled) and at the end. The growth, not the warm-up, is the figure. The full run
takes it in a fresh process (``python -m bench.memory URL TRANSITIONS WARMUP``):
the process that ran the month's row holds a heap of its own, which the
transitions would reuse and so hide their growth.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bench.common import WORKFLOW, at, rss_mb
from bench.throughput import GRID5, PATH


def rss_growth(url: str, transitions: int, warmup: int = 2_000,
               progress: Callable[[int, float], None] | None = None) -> tuple[float, float, float, int]:
    """(RSS after warm-up MB, RSS at the end MB, growth MB, transitions done)."""
    from casecraft import Engine, FixedClock

    eng = Engine(url, WORKFLOW, FixedClock(at(24, "10:30")))
    eng.init(sandbox=True)
    done = start = 0
    base = None
    try:
        while base is None or done - start < transitions:  # at least ``transitions`` after the warm-up
            cid = eng.report(source="patrol", grid=GRID5, category="0201", desc=f"消防设施隐患{done}",
                             actor="wangjg").id
            done += 1
            for trigger, actor, kw in PATH:
                eng.fire(cid, trigger, actor=actor, **kw)
                done += 1
            if base is None and done >= warmup:
                gc.collect()
                base = rss_mb()
                start = done
            if progress and done % 50_000 < len(PATH) + 1:
                progress(done, rss_mb())
        gc.collect()
        end = rss_mb()
    finally:
        eng.close()
    assert base is not None
    return base, end, end - base, done - start


def rss_growth_in_child(url: str, transitions: int, warmup: int,
                        progress: Callable[[int, float], None] | None = None) -> tuple[float, float, float, int]:
    """:func:`rss_growth` in a fresh process (its RSS is the transitions' alone); progress as it goes."""
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (str(root), os.environ.get("PYTHONPATH")))))
    child = subprocess.Popen([sys.executable, "-m", "bench.memory", url, str(transitions), str(warmup)], cwd=root,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    result = None
    assert child.stdout is not None
    for line in child.stdout:
        got = json.loads(line)
        if "progress" in got and progress is not None:
            progress(*got["progress"])
        elif "result" in got:
            result = got["result"]
    err = child.stderr.read() if child.stderr is not None else ""
    if child.wait() or result is None:
        raise RuntimeError(f"the memory row's child process failed: {err[-1000:]}")
    return result[0], result[1], result[2], result[3]


if __name__ == "__main__":
    def _say(done: int, rss: float) -> None:
        print(json.dumps({"progress": [done, rss]}), flush=True)

    print(json.dumps({"result": rss_growth(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), progress=_say)}),
          flush=True)
