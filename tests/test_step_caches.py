"""What a step keeps between steps gives the answers it gave when it was computed every time.

The compiled machine keeps its answers per (state, trigger, context), a duration text is
parsed once, a calendar makes a date's working periods once, and the store's JSON serialiser
writes empty lists and dicts without its encoder: each is checked here against the uncached way.
"""

from __future__ import annotations

import datetime as dt
import json
from itertools import product

import pytest

from casecraft.base.duration import Duration
from casecraft.store.db import _dumps
from casecraft.timing.calendar import WorkingCalendar, parse_periods
from casecraft.workflows import load_workflow
from casecraft.workflows.machine import ANY, CompiledMachine, MachineError
from casecraft.workflows.shape import OUTCOMES, SOURCES
from tests.conftest import WORKFLOW


def _ask(machine: CompiledMachine, state: str, trigger: str, **context: object) -> object:
    try:
        return machine.next_state(state, trigger, **context)
    except MachineError as exc:
        return ("error", str(exc))


def test_kept_machine_answers_are_the_machines() -> None:
    wf = load_workflow(WORKFLOW)
    kept, asked = CompiledMachine(wf), CompiledMachine(wf)
    asked.KEPT = 0  # keeps nothing: the Machine is asked every time
    triggers = sorted({t.trigger for t in wf.file.transitions}) + ["no_such_trigger"]
    for state, trigger, source, outcome, tier in product(wf.states, triggers, SOURCES, [None, *OUTCOMES],
                                                         [None, wf.tiers[0], wf.tiers[-1]]):
        context = {"source": source, "outcome": outcome, "resolved_tier": tier}
        first = _ask(kept, state, trigger, **context)
        assert _ask(kept, state, trigger, **dict(reversed(context.items()))) == first  # kept, keyword order aside
        assert _ask(asked, state, trigger, **context) == first
    assert not asked._next
    for state in wf.states:
        assert kept.triggers_from(state) == kept.triggers_from(state) == list(kept.machine.get_triggers(state))
    # a context value that cannot be a key is asked, not kept
    size = len(kept._next)
    assert _ask(kept, wf.initial, kept.report_trigger, source=["grid"]) == _ask(
        asked, wf.initial, kept.report_trigger, source=["grid"])
    assert len(kept._next) == size
    assert kept.candidates(wf.initial, kept.report_trigger, source=ANY)


def test_a_duration_is_parsed_once_and_a_bad_one_always_refused() -> None:
    assert Duration.parse("4 working hours") is Duration.parse("4 working hours")
    assert Duration.parse("4 working hours") == Duration(4.0, "hour", True)
    for _ in range(2):
        with pytest.raises(ValueError):
            Duration.parse("4 fortnights")


def test_working_periods_made_once_give_the_same_deadlines() -> None:
    days = {dt.date(2026, 11, 1) + dt.timedelta(days=i): (dt.date(2026, 11, 1) + dt.timedelta(days=i)).weekday() < 5
            for i in range(60)}
    periods = parse_periods(["09:00-12:00", "13:30-17:30"])
    warm = WorkingCalendar(days, periods)
    start = dt.datetime(2026, 11, 24, 2, 30, tzinfo=dt.UTC)
    for limit in ("2 working hours", "1 working day", "7 working hours", "3 days"):
        d = Duration.parse(limit)
        first = warm.add(start, d)
        assert warm.add(start, d) == first == WorkingCalendar(days, periods).add(start, d)
        assert warm.working_seconds_between(start, first) == WorkingCalendar(days, periods).working_seconds_between(
            start, first)


@pytest.mark.parametrize("value", [[], {}, (), "", 0, 0.0, None, False, [1, "中"], {"a": "文"}, {"k": []}])
def test_store_json_is_json_dumps(value: object) -> None:
    assert _dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))
