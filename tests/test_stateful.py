"""Random operators against the engine (hypothesis stateful testing): no sequence breaks an invariant.

The machine reports cases of every source, fires triggers both sensibly (an
option ``Engine.triggers`` lists, tried by people in a random order) and at
random (any trigger, any person, any outcome), urges, moves the clock by
minutes to days, sweeps and imports hotline files (twice, sometimes). After
every step:

* every case is in a state the workflow has, and its timeline replays to it:
  the first entry is the report, each entry starts where the one before ended,
  each step is a transition of the workflow (or an urge that keeps the state);
* a refused action changes nothing;
* a closed case passed its on-site check (核查) just before it was closed;
* tiers change at most one step at a time, and each entry's tier is its state's;
* right after a sweep, every open deadline has exactly one alert per level that
  is due (warning, overdue, re-escalation) and none that is not;
* the monthly indicator rates stay in [0, 1] (when ``casecraft.evaluation`` exists).

Each example runs on a copy of one initialised SQLite database.
``CASECRAFT_STATEFUL_EXAMPLES`` sets the number of examples (default 10).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import tempfile
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, precondition, rule

from casecraft import CasecraftError, Engine, FixedClock, PermissionDenied
from casecraft.store.models import Alert, Deadline, TimelineEntry
from tests.conftest import WORKFLOW, bj

START = bj(24, "09:00")
LATEST = bj(15, "00:00", month=12)  # the clock stays in 2026: the seeded calendar ends with it
GRIDS = ["110106004005005", "110106004005001", "110106004001001"]
REPORTERS = {  # who reports each kind of case, per grid
    "patrol": {"110106004005005": "wangjg", "110106004005001": "sunli", "110106004001001": "heping"},
    "informant": {"110106004005005": "zhaomin", "110106004005001": "sunli", "110106004001001": "heping"},
    "hotline": dict.fromkeys(GRIDS, "wujing"),
    "order": dict.fromkeys(GRIDS, "fengzr"),
}
CATEGORIES = ["0101", "0102", "0104", "0201", "0203", "0301", "0501"]
PARTIES = {"grid": ["liuqiang", "zhaomin"], "community": ["zhangwei", "chengang"], "street": [],
           "district": ["songjie", "110106-zzb"], "joint_meeting": []}
SIDE_STEPS = {"urge", "extend", "request_extension", "approve_extension", "deny_extension", "park", "unpark",
              "feedback"}
TIER_ORDER = ["grid", "community", "street", "district", "joint_meeting"]
EXAMPLES = int(os.environ.get("CASECRAFT_STATEFUL_EXAMPLES", "10"))
HAS_EVALUATION = importlib.util.find_spec("casecraft.evaluation") is not None
TOTALS: Counter[str] = Counter()  # over all examples, printed after each (the last line is the total)


@functools.cache
def template() -> Path:
    """One initialised database, copied for every example."""
    path = Path(tempfile.mkdtemp(prefix="casecraft-stateful-")) / "template.db"
    with Engine(f"sqlite:///{path}", WORKFLOW, FixedClock(START)) as eng:
        eng.init(sandbox=True)
    return path


@functools.cache
def workflow() -> Any:
    with Engine(f"sqlite:///{template()}", WORKFLOW) as eng:
        return eng.workflow


class Operators(RuleBasedStateMachine):
    cases = Bundle("cases")

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="casecraft-example-"))
        shutil.copyfile(template(), self.dir / "db.sqlite")
        self.clock = FixedClock(START)
        self.engine = Engine(f"sqlite:///{self.dir / 'db.sqlite'}", workflow(), self.clock,
                             data_dir=self.dir / "data")
        self.wf = workflow()
        self.people = sorted(self.engine.organisation().people)
        self.allowed = {(t.trigger, s, t.dest) for t in self.wf.file.transitions
                        for s in ([t.source] if isinstance(t.source, str) else t.source)}
        self.swept = False
        self.sweep_times: list[Any] = []
        self.tickets = 0
        self.stats: Counter[str] = Counter()

    def teardown(self) -> None:
        with self.engine.store.read() as tx:
            for row in tx.list_cases(limit=100_000)[0]:
                self.stats[f"ended {row.state}"] += 1
        TOTALS.update(self.stats)
        TOTALS["examples"] += 1
        print("stateful totals:", dict(sorted(TOTALS.items())))
        self.engine.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # actions ---------------------------------------------------------------
    @rule(target=cases, source=st.sampled_from(sorted(REPORTERS)), grid=st.sampled_from(GRIDS),
          category=st.sampled_from(CATEGORIES))
    def report(self, source: str, grid: str, category: str) -> int:
        self.tickets += 1
        ref = f"12345-{self.tickets:06d}" if source in ("hotline", "order") else None
        view = self.engine.report(source=source, grid=grid, category=category, desc="随机案件",
                                  actor=REPORTERS[source][grid], ref=ref)
        self.stats["reported"] += 1
        return view.id

    @precondition(lambda self: self.stats["imported"] < 4)  # a few files: cases should move, not pile up
    @rule(target=cases, n=st.integers(min_value=1, max_value=2), again=st.booleans(),
          grid=st.sampled_from(GRIDS))
    def import_tickets(self, n: int, again: bool, grid: str) -> Any:
        """A hotline file; importing the same file again creates nothing (idempotent by ticket)."""
        received = (self.clock.now() - timedelta(minutes=10)).isoformat()
        refs = [f"96005-{self.tickets + i + 1:06d}" for i in range(n)]
        self.tickets += n
        path = self.dir / f"tickets-{self.tickets}.csv"
        path.write_text("ticket,channel,received_at,address,grid,category,description,contact\n" + "".join(
            f"{r},96005,{received},,{grid},0104,热线反映暴露垃圾,\n" for r in refs), encoding="utf-8")
        before = len(self.engine.list(limit=100_000))
        first = self.engine.import_hotline(path, actor="wujing")
        assert first.new == n and first.existing == 0
        if again:
            second = self.engine.import_hotline(path, actor="wujing")
            assert second.new == 0 and second.existing == n
        assert len(self.engine.list(limit=100_000)) == before + n
        self.stats["imported"] += n
        return multiple(*first.case_ids)

    @rule(case=cases, data=st.data())
    def act(self, case: int, data: st.DataObject) -> None:
        """A sensible step: an option the case offers, tried by people in a random order."""
        options = self.engine.triggers(case)
        if not options:
            return
        opt = data.draw(st.sampled_from(options))
        view = self.engine.get(case)
        kwargs: dict[str, Any] = {"note": "处置记录"}
        if "outcome" in opt.requires or opt.conditions:
            kwargs["outcome"] = data.draw(st.sampled_from(["solved", "unsolved"]))
        if "target" in opt.requires:
            kwargs["to"] = self._targets(view, opt, data)
        roles = set(opt.roles)
        candidates = [p for p in self.people if roles & set(self.engine.org.person(p).roles)]
        for person in data.draw(st.permutations(candidates)):
            before = self.engine.get(case)
            try:
                self.engine.fire(case, opt.trigger, actor=person, **kwargs)
            except PermissionDenied:
                assert self.engine.get(case) == before
                self.stats["denied"] += 1
                continue
            except CasecraftError:
                assert self.engine.get(case) == before
                self.stats["refused"] += 1
                return
            self.stats["fired"] += 1
            return

    @rule(case=cases, data=st.data())
    def act_again(self, case: int, data: st.DataObject) -> None:
        """The same as ``act``: listed twice so that cases move more often than the clock does."""
        self.act(case, data)

    def _targets(self, view: Any, opt: Any, data: st.DataObject) -> list[str]:
        dest_tiers = {self.wf.states[d].tier for d in opt.dest}
        if dest_tiers != {view.tier}:  # assign: a unit one tier down, under the case's unit
            below = [u.code for u in self.engine.organisation().units.values()
                     if u.parent == view.unit and u.kind == "platform"]
            return [data.draw(st.sampled_from(below))] if below else []
        parties = PARTIES.get(view.tier, [])
        if not parties:
            return []  # the street routes by the category's responsible department
        return data.draw(st.lists(st.sampled_from(parties), min_size=1, max_size=2, unique=True))

    @rule(case=cases, trigger=st.sampled_from(["report", "verify", "reject", "assign", "dispatch", "feedback",
                                               "return", "escalate", "resolve", "relay", "check", "rework",
                                               "close", "convene", "bogus"]),
          actor=st.sampled_from(["wangjg", "zhoumin", "wujing", "liuqiang", "zhenglei", "fengzr", "xuming",
                                 "ghost"]),
          outcome=st.sampled_from([None, "solved", "unsolved", "maybe"]), note=st.sampled_from([None, "", "x"]))
    def random_fire(self, case: int, trigger: str, actor: str, outcome: str | None, note: str | None) -> None:
        """Any trigger by anyone: it happens only if the rules allow it; a refusal changes nothing."""
        before = self.engine.get(case)
        try:
            self.engine.fire(case, trigger, actor=actor, outcome=outcome, note=note)
            self.stats["random_fired"] += 1
        except CasecraftError:
            assert self.engine.get(case) == before
            self.stats["random_refused"] += 1

    @rule(case=cases)
    def urge(self, case: int) -> None:
        try:
            self.engine.urge(case, actor="duyan", note="请尽快办理")
        except CasecraftError:
            pass  # a finished case: nothing to urge

    @precondition(lambda self: self.clock.now() < LATEST)
    @rule(minutes=st.integers(min_value=1, max_value=3 * 24 * 60))
    def advance(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))
        self.swept = False

    @rule()
    def sweep(self) -> None:
        self.engine.sweep()
        self.swept = True
        self.sweep_times.append(self.clock.now())
        self.stats["sweeps"] += 1

    @precondition(lambda self: HAS_EVALUATION)
    @rule(level=st.sampled_from(["grid", "community", "street"]))
    def indicators(self, level: str) -> None:
        from casecraft.evaluation import monthly_report

        month = self.clock.now().astimezone(bj(1, "00:00").tzinfo).strftime("%Y-%m")
        report = monthly_report(self.engine, month, level=level)
        for row in report.rows:
            for name, fig in row.figures.items():
                value = fig.get("value") if isinstance(fig, dict) else None
                if name.endswith("_rate") and value is not None:
                    assert 0 <= value <= 1, (row.unit, name, fig)
                    assert fig["num"] <= fig["den"], (row.unit, name, fig)

    # invariants --------------------------------------------------------------
    @invariant()
    def timelines_replay_to_the_stored_state(self) -> None:
        entries: dict[int, list[Any]] = defaultdict(list)
        with self.engine.store.read() as tx:
            t = TimelineEntry.__table__
            for e in tx.conn.execute(sa.select(t).order_by(t.c.case_id, t.c.seq)).mappings():
                entries[e["case_id"]].append(e)
            rows = tx.list_cases(limit=100_000)[0]
        for case in rows:
            chain = entries[case.id]
            assert case.state in self.wf.states
            assert chain and chain[0]["trigger"] == "report" and chain[0]["from_state"] is None
            assert [e["seq"] for e in chain] == list(range(1, case.version + 1))
            for prev, e in zip(chain, chain[1:], strict=False):
                assert e["from_state"] == prev["to_state"], (case.id, e["seq"])
                step = (e["trigger"], e["from_state"], e["to_state"])
                # steps that keep the state: urging, extensions, parking, one party's share of a joint feedback
                assert step in self.allowed or (e["trigger"] in SIDE_STEPS and e["from_state"] == e["to_state"]), step
                gap = abs(TIER_ORDER.index(e["to_tier"]) - TIER_ORDER.index(e["from_tier"]))
                assert gap <= 1, (case.id, e["seq"], e["from_tier"], e["to_tier"])
            for e in chain:
                assert e["to_tier"] == self.wf.states[e["to_state"]].tier
            assert chain[-1]["to_state"] == case.state and chain[-1]["hash"] == case.last_hash
            if case.state == "closed":
                moves = [e for e in chain if e["from_state"] != e["to_state"]]
                assert moves[-1]["trigger"] == "close" and moves[-2]["trigger"] == "check", case.id
            assert bool(case.is_open) == (not self.wf.is_final(case.state))

    @invariant()
    def after_a_sweep_every_due_alert_exactly_once(self) -> None:
        if not self.swept:
            return
        now = self.clock.now()
        with self.engine.store.read() as tx:
            a = Alert.__table__
            per = Counter((r.deadline_id, r.kind) for r in tx.conn.execute(
                sa.select(a.c.deadline_id, a.c.kind).where(a.c.deadline_id.is_not(None))))
            assert max(per.values(), default=1) == 1
            d = Deadline.__table__
            for row in tx.conn.execute(sa.select(d).where(d.c.closed_at.is_(None), d.c.kind == "step",
                                                          d.c.extended == 0)).mappings():
                times = {"warning": row["warn_at"], "overdue": row["due_at"], "reescalation": row["escalate_at"]}
                for kind, at in times.items():
                    want = 1 if at is not None and at <= now else 0
                    if kind == "warning" and at is not None:
                        # a yellow warning goes out only from a sweep before the limit itself passed
                        want = int(any(at <= t < row["due_at"] for t in self.sweep_times))
                    assert per[(row["id"], kind)] == want, (row["id"], kind, at, now)


Operators.TestCase.settings = settings(max_examples=EXAMPLES, stateful_step_count=30, deadline=None,
                                       suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TestOperators = Operators.TestCase
