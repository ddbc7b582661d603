"""WorkingCalendar.add over a provisional year against an official one (a micro-benchmark, printed).

The calendar holds the official years 2025-2026 (seeded from chinesecalendar);
2027 is absent, so its dates come from the provisional rule, computed once on
first use and then looked up like the table's. The same deadlines are timed
from starts in 2026 and in 2027 (same weekdays and times, a year apart), plus
the one-off cost of computing a provisional year and of crosses_provisional.

Run: ``python -m bench.calendar_provisional``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from casecraft.base.duration import Duration
from casecraft.timing import provisional
from casecraft.timing.calendar import WorkingCalendar, parse_periods, seed_rows

TZ = ZoneInfo("Asia/Shanghai")
PERIODS = parse_periods(["09:00-12:00", "13:30-17:30"])
LIMITS = [Duration(1, "hour", True), Duration(4, "hour", True), Duration(2, "day", True),
          Duration(5, "day", True), Duration(20, "day", True)]
N = 4000
RUNS = 5


def starts(year: int, seed: int = 20261130) -> list[datetime]:
    """N moments between 1 January and 15 November of ``year`` (weekday-aligned across years)."""
    rng = random.Random(seed)
    base = datetime(year, 1, 4, tzinfo=TZ)
    base -= timedelta(days=base.weekday())  # a Monday, so 2026 and 2027 starts fall on the same weekdays
    return [base + timedelta(minutes=rng.randrange(0, 310 * 24 * 60)) for _ in range(N)]


def best(fn: Callable[[], object]) -> float:
    """The best of RUNS wall times (noise on a shared machine only ever adds)."""
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    official = {r.day: r.workday for r in seed_rows([2025, 2026])}
    t0 = time.perf_counter()
    provisional.provisional_workdays(2027)
    first_year = time.perf_counter() - t0
    t0 = time.perf_counter()
    provisional.provisional_workdays(2028)
    next_year = time.perf_counter() - t0
    print(f"computing a provisional year: {first_year * 1e3:.1f} ms the first time (imports the lunar library), "
          f"{next_year * 1e3:.1f} ms for another year; then cached")

    fills = []
    for _ in range(21):  # a fresh calendar each time; the median, as a GC pass may land in any one
        cal = WorkingCalendar(official, PERIODS)
        t0 = time.perf_counter()
        cal.is_workday(datetime(2027, 6, 1).date())
        fills.append(time.perf_counter() - t0)
    print(f"first lookup in 2027 (fills the cached year into one calendar): "
          f"{sorted(fills)[len(fills) // 2] * 1e3:.3f} ms (median of {len(fills)})")

    print(f"\nWorkingCalendar.add, {N} starts per row, best of {RUNS}:")
    print(f"{'limit':>10} {'official 2026':>15} {'provisional 2027':>18} {'ratio':>7}")
    s2026, s2027 = starts(2026), starts(2027)
    for limit in LIMITS:
        off = best(lambda limit=limit: [cal.add(s, limit) for s in s2026]) / N
        pro = best(lambda limit=limit: [cal.add(s, limit) for s in s2027]) / N
        label = f"{limit.amount:g} {limit.unit}{'s' if limit.amount != 1 else ''}"
        print(f"{label:>10} {off * 1e6:12.1f} us {pro * 1e6:15.1f} us {pro / off:7.2f}")

    ends = [cal.add(s, LIMITS[3]) for s in s2026]
    off = best(lambda: [cal.crosses_provisional(s, e) for s, e in zip(s2026, ends, strict=True)]) / N
    ends = [cal.add(s, LIMITS[3]) for s in s2027]
    pro = best(lambda: [cal.crosses_provisional(s, e) for s, e in zip(s2027, ends, strict=True)]) / N
    print(f"\ncrosses_provisional over a 5-working-day deadline: official {off * 1e6:.1f} us "
          f"(scans every date: none is provisional), provisional {pro * 1e6:.1f} us (stops at the first)")


if __name__ == "__main__":
    main()
