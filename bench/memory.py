"""Memory: RSS growth of one process over many transitions through the engine.

Cases walk the escalation path (a report and eleven fires each) until the count
is reached; RSS is read after a warm-up (caches, statement cache, calendar
filled) and at the end. The growth, not the warm-up, is the figure.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

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
