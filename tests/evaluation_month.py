"""A constructed month (November 2026) for the evaluation tests, built only through the public Engine API.

Dongaodi Street (110106004) has two communities with two grids each:
Community E (005: grids G5 = 005005, G51 = 005001) and Dongaodi Community
D (001: grids G11 = 001001, G12 = 001002). November 2026 has 21 working days
(2-6, 9-13, 16-20, 23-27, 30) and no holiday. Limits: 待核实 1 working hour,
待核查 1 working day; category 0102 (店外经营) 1 working day for the case,
0103 1 working day, 0101 and 0104 4 working hours, 0105 20 working days.
Working hours 09:00-12:00, 13:30-17:30. Every case is dispatched to one
party at a time.

Each case below lists what the indicators see; tests/test_evaluation.py adds them up.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from casecraft import Engine, FixedClock
from casecraft.workflows.org import Organisation, OrgPerson
from tests.conftest import bj, sandbox, snapshot

G5, G51, G11, G12 = "110106004005005", "110106004005001", "110106004001001", "110106004001002"
COMM_E, COMM_D, STREET, DISTRICT = "110106004005", "110106004001", "110106004", "110106"
NOVEMBER_WORKDAYS = [d for d in range(1, 31) if date(2026, 11, d).weekday() < 5]  # 21 days, no holiday


class Month:
    """Acts on the engine at given Beijing times."""

    def __init__(self, engine: Engine, clock: FixedClock) -> None:
        self.engine = engine
        self.clock = clock

    def at(self, day: int, hhmm: str, month: int = 11) -> None:
        self.clock.set(bj(day, hhmm, month))

    def report(self, day: int, hhmm: str, source: str, grid: str, actor: str, category: str = "0102",
               month: int = 11) -> int:
        self.at(day, hhmm, month)
        return self.engine.report(source=source, grid=grid, category=category, desc=f"{source} {category}",
                                  actor=actor).id

    def fire(self, case_id: int, day: int, hhmm: str, trigger: str, actor: str, month: int = 11,
             **kw: Any) -> None:
        self.at(day, hhmm, month)
        if trigger in ("escalate", "reject", "rework", "convene") and "note" not in kw:
            kw["note"] = trigger
        self.engine.fire(case_id, trigger, actor=actor, **kw)

    def steps(self, case_id: int, *items: tuple[Any, ...]) -> None:
        for item in items:
            day, hhmm, trigger, actor, *rest = item
            self.fire(case_id, day, hhmm, trigger, actor, **(rest[0] if rest else {}))

    def log(self, day: int, grid: str, actor: str, month: int = 11, hhmm: str = "17:00") -> None:
        self.at(day, hhmm, month)
        self.engine.add_log(grid=grid, actor=actor, text=f"{month}月{day}日走访居民")


def built(url: str) -> tuple[dict[str, int], datetime]:
    """The month built on the new sandbox at ``url``: the case ids, and the time its clock ends at (Dec 2 12:00).

    Built once per session and backend; later databases get a copy (see ``tests.conftest.snapshot``).
    """
    def play() -> tuple[dict[str, int], datetime]:
        clock = FixedClock(bj(30, "08:00", month=10))
        with sandbox(url, clock) as eng:
            ids = build(eng, clock)
        return ids, clock.now()

    return snapshot(url, ("the evaluation month",), play)


def build(engine: Engine, clock: FixedClock) -> dict[str, int]:
    """Build the month; returns the case ids by name (C0 ... C23)."""
    engine.load_organisation(Organisation(units={}, people={
        "inf11": OrgPerson(id="inf11", name="钱信息员", unit=G11, roles=("informant",))}))
    m = Month(engine, clock)
    ids: dict[str, int] = {}

    # ---- grid G12 (maliang): one October case and nothing in November --------------------------------------
    # C23: 暴露垃圾 (0104) reported, solved, checked and closed on Fri Oct 30 15:00-15:30. Its case limit (Mon Nov 2
    # 10:30) and its check's limit (Mon Nov 2 15:10) fall in November, but both were met in October: due, closed,
    # on time and self-handled in October; nothing of it is due in November (issue 13, 2c).
    ids["C23"] = c = m.report(30, "15:00", "patrol", G12, "maliang", category="0104", month=10)
    m.steps(c, *((30, hhmm, trigger, "maliang", {"month": 10})
                 for hhmm, trigger in (("15:10", "resolve"), ("15:20", "check"), ("15:30", "close"))))

    # ---- grid G5 (wangjg leader, zhaomin informant, liuqiang 城管派驻员) -----------------------------------
    # C0: reported in October, closed on Nov 2 within its limit: not registered in November, but due (closed
    # in it), closed, grassroots, on time; its check (due Mon Nov 2 16:30) is done at 09:30: met.
    ids["C0"] = c = m.report(30, "16:00", "patrol", G5, "wangjg", month=10)  # case limit Mon Nov 2 16:00
    m.fire(c, 30, "16:30", "resolve", "wangjg", month=10, note="已处置")
    m.steps(c, (2, "09:30", "check", "wangjg"), (2, "09:40", "close", "wangjg"))
    # C1: patrol, self-handled in an hour. Check due Nov 4 10:30, done 11:00 Nov 3: met. On time.
    ids["C1"] = c = m.report(3, "10:00", "patrol", G5, "wangjg")
    m.steps(c, (3, "10:30", "resolve", "wangjg"), (3, "11:00", "check", "wangjg"), (3, "11:10", "close", "wangjg"))
    # C2: patrol, 自协调处置 with the 城管派驻员 (one party). Check due Nov 5 11:00: met. On time.
    ids["C2"] = c = m.report(4, "10:00", "patrol", G5, "wangjg")
    m.steps(c, (4, "10:10", "dispatch", "wangjg", {"to": ["liuqiang"]}),
            (4, "11:00", "feedback", "liuqiang", {"outcome": "solved"}),
            (4, "14:00", "check", "wangjg"), (4, "14:05", "close", "wangjg"))
    # C3: informant report, verified in time (due 10:30, done 10:00), self-handled, on time. Public.
    ids["C3"] = c = m.report(5, "09:30", "informant", G5, "zhaomin")
    m.steps(c, (5, "10:00", "verify", "wangjg"), (5, "10:30", "resolve", "wangjg"),
            (5, "11:00", "check", "wangjg"), (5, "11:05", "close", "wangjg"))
    # C4: informant report rejected in time (due 10:30, done 09:50): an invalid report, a verification met.
    ids["C4"] = c = m.report(9, "09:30", "informant", G5, "zhaomin")
    m.fire(c, 9, "09:50", "reject", "wangjg", note="现场无此问题")
    # C5: informant report verified late (due 10:30, done 11:30; limit then Nov 11 11:30), escalated to the
    # community, solved there (grassroots, not self-handled), checked late (due Nov 11 15:10, done Nov 12
    # 09:30), closed late.
    ids["C5"] = c = m.report(10, "09:30", "informant", G5, "zhaomin")
    m.steps(c, (10, "11:30", "verify", "wangjg"), (10, "13:40", "escalate", "wangjg"),
            (10, "15:00", "resolve", "zhoumin"), (10, "15:10", "relay", "zhoumin"),
            (12, "09:30", "check", "wangjg"), (12, "09:40", "close", "wangjg"))
    # C6: patrol, category 0101 (limit 4 working hours: Nov 16 14:30); handled the next day: overdue, closed
    # late; still self-handled; check due Nov 18 10:00, done Nov 17 10:30: met.
    ids["C6"] = c = m.report(16, "09:00", "patrol", G5, "wangjg", category="0101")
    m.at(16, "15:00")
    engine.sweep()  # the overdue alert goes to Community E; it changes no indicator
    m.steps(c, (17, "10:00", "resolve", "wangjg"), (17, "10:30", "check", "wangjg"), (17, "10:40", "close", "wangjg"))
    # C7: patrol, reworked: check 1 (due Nov 19 10:30) failed at 11:00 = a check done in time; check 2 (due
    # Nov 19 14:00) done at 15:00: late. Closed late (limit Nov 19 10:00). Self-handled.
    ids["C7"] = c = m.report(18, "10:00", "patrol", G5, "wangjg")
    m.steps(c, (18, "10:30", "resolve", "wangjg"), (18, "11:00", "rework", "wangjg"),
            (18, "14:00", "resolve", "wangjg"), (19, "15:00", "check", "wangjg"), (19, "15:05", "close", "wangjg"))
    # C8: patrol on the month's last afternoon; limit Dec 1 16:00, check due Dec 1 16:30, closed Dec 1:
    # registered and a valid report in November, nothing else there.
    ids["C8"] = c = m.report(30, "16:00", "patrol", G5, "wangjg")
    m.fire(c, 30, "16:30", "resolve", "wangjg")

    # ---- grid G51 (sunli leader): hotline cases and escalations to every tier -----------------------------
    # C11: 12345 hotline routed street → Community E → G51; verified in time (due 10:20, done 09:50);
    # self-handled (not the grid's own report); check met; on time. Public.
    ids["C11"] = c = m.report(3, "09:00", "hotline", G51, "wujing")
    m.steps(c, (3, "09:10", "assign", "wujing", {"to": [COMM_E]}), (3, "09:20", "assign", "zhoumin", {"to": [G51]}),
            (3, "09:50", "verify", "sunli"), (3, "10:30", "resolve", "sunli"), (3, "11:00", "check", "sunli"),
            (3, "11:10", "close", "sunli"))
    # C12: hotline 0103, verified late (due 10:10, done 10:30; limit Nov 12 10:30), escalated to the street,
    # dispatched to 城管分队; the street leader extends it by 1 working day (limit Nov 13 10:30); solved at
    # the street; check due Nov 13 15:20, done 09:30: met; closed Nov 13 09:40: on time thanks to the extension.
    ids["C12"] = c = m.report(11, "09:00", "hotline", G51, "wujing", category="0103")
    m.steps(c, (11, "09:05", "assign", "wujing", {"to": [COMM_E]}), (11, "09:10", "assign", "zhoumin", {"to": [G51]}),
            (11, "10:30", "verify", "sunli"), (11, "11:00", "escalate", "sunli"), (11, "13:40", "escalate", "zhoumin"),
            (11, "14:00", "dispatch", "wujing", {"to": ["hanbing"]}))
    m.at(12, "09:00")
    engine.extend(c, actor="fengzr", by="1 working day", note="需协调产权单位")
    m.steps(c, (12, "15:00", "feedback", "hanbing", {"outcome": "solved"}), (12, "15:10", "relay", "wujing"),
            (12, "15:20", "relay", "zhoumin"), (13, "09:30", "check", "sunli"), (13, "09:40", "close", "sunli"))
    # C13: patrol escalated to the community, solved by the fire co-manager (one party): grassroots, not
    # self-handled; check due Nov 18 14:10, done 09:30: met; closed 09:40 within the limit Nov 18 10:00.
    ids["C13"] = c = m.report(17, "10:00", "patrol", G51, "sunli")
    m.steps(c, (17, "10:30", "escalate", "sunli"), (17, "11:00", "dispatch", "zhoumin", {"to": ["zhangwei"]}),
            (17, "14:00", "feedback", "zhangwei", {"outcome": "solved"}), (17, "14:10", "relay", "zhoumin"),
            (18, "09:30", "check", "sunli"), (18, "09:40", "close", "sunli"))
    # C14: patrol escalated to the district (区综治办 solves it): not grassroots; check due Nov 24 10:30, done
    # 11:00: late; closed Nov 24 after its limit Nov 23 10:00: late.
    ids["C14"] = c = m.report(20, "10:00", "patrol", G51, "sunli")
    m.steps(c, (20, "10:30", "escalate", "sunli"), (20, "11:00", "escalate", "zhoumin"),
            (20, "13:40", "escalate", "wujing"), (20, "14:00", "dispatch", "qianhao", {"to": ["songjie"]}),
            (23, "10:00", "feedback", "songjie", {"outcome": "solved"}), (23, "10:10", "relay", "qianhao"),
            (23, "10:20", "relay", "wujing"), (23, "10:30", "relay", "zhoumin"),
            (24, "11:00", "check", "sunli"), (24, "11:10", "close", "sunli"))
    # C15: 私搭乱建 (0105, 20 working days) sent on to the joint meeting; open at the month's end, limit in
    # December: registered, a valid report, nothing else.
    ids["C15"] = c = m.report(24, "10:00", "patrol", G51, "sunli", category="0105")
    m.steps(c, (24, "10:30", "escalate", "sunli"), (24, "11:00", "escalate", "zhoumin"),
            (24, "13:40", "escalate", "wujing"), (24, "14:00", "convene", "yangfq"))

    # ---- grid G11 (heping leader, inf11 informant) ---------------------------------------------------------
    # C16, C17: patrol, self-handled, checks met, on time.
    ids["C16"] = c = m.report(2, "10:00", "patrol", G11, "heping")
    m.steps(c, (2, "10:30", "resolve", "heping"), (2, "11:00", "check", "heping"), (2, "11:10", "close", "heping"))
    ids["C17"] = c = m.report(2, "14:00", "patrol", G11, "heping")
    m.steps(c, (2, "14:30", "resolve", "heping"), (2, "15:00", "check", "heping"), (2, "15:10", "close", "heping"))
    # C18: rejected in time (due 10:00, done 09:30); C19: rejected late (due 10:10, done 11:00).
    ids["C18"] = c = m.report(6, "09:00", "informant", G11, "inf11")
    m.fire(c, 6, "09:30", "reject", "heping")
    ids["C19"] = c = m.report(6, "09:10", "informant", G11, "inf11")
    m.fire(c, 6, "11:00", "reject", "heping")
    # C20: never verified (due Nov 12 10:00): a verification due and not done; a report not (yet) valid.
    ids["C20"] = m.report(12, "09:00", "informant", G11, "inf11")
    # C21: resolved but never checked (check due Nov 20 10:30); limit Nov 20 10:00 passes: due, not closed.
    ids["C21"] = c = m.report(19, "10:00", "patrol", G11, "heping")
    m.fire(c, 19, "10:30", "resolve", "heping")
    # C22: escalated to Community D, solved by its operator: grassroots, not self-handled; check met; on time.
    ids["C22"] = c = m.report(25, "10:00", "patrol", G11, "heping")
    m.steps(c, (25, "10:30", "escalate", "heping"), (25, "11:00", "resolve", "gaofei"),
            (25, "11:10", "relay", "gaofei"), (26, "09:00", "check", "heping"), (26, "09:10", "close", "heping"))

    # ---- 民情日志 -------------------------------------------------------------------------------------------
    # G5: Nov 2, 3, 4, 5, 9 (twice) and 30 are working days; Sat Nov 7 is not; Dec 1 is another month: 6 days
    for day in (2, 3, 4, 5, 7, 9, 30):
        m.log(day, G5, "wangjg")
    m.log(9, G5, "lixia", hhmm="17:20")
    m.log(1, G5, "wangjg", month=12)
    # G51: every working day, 21 of 21
    for day in NOVEMBER_WORKDAYS:
        m.log(day, G51, "sunli")
    # G11: two days
    m.log(2, G11, "heping")
    m.log(3, G11, "heping")

    m.at(30, "18:00")
    engine.sweep()
    # December: C8 is checked and closed; this must not change November's figures
    m.steps(ids["C8"], (1, "10:00", "check", "wangjg", {"month": 12}), (1, "10:05", "close", "wangjg", {"month": 12}))
    m.at(2, "12:00", month=12)
    return ids


def workdays_between(first: date, last: date) -> int:
    return sum(1 for i in range((last - first).days + 1) if (first + timedelta(days=i)).weekday() < 5)
