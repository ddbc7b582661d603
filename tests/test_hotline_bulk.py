"""The bulk form of the write path used by the hotline import: the same entries, hashes and rows as one by one.

``FirstEntries.make`` must give exactly the timeline row (and its hash) and the
deadline rows that ``first_entry`` gives, whatever the case's values; the
import's case ids, kept as runs, behave as the list they stand for.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from casecraft.cases import timeline as tl
from casecraft.intake.service import CaseIds
from casecraft.store.repo import entry_values

AT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
STEP = tl.OpenDeadline(kind="step", state="street_intake", tier="street", unit_code="110106004",
                       limit_text="1 working hour", started_at=AT, warn_at=AT + timedelta(minutes=48),
                       due_at=AT + timedelta(hours=1), escalate_at=AT + timedelta(days=1))
CASE = tl.OpenDeadline(kind="case", state="street_intake", tier="street", unit_code="110106004",
                       limit_text="15 working days", started_at=AT, warn_at=None, due_at=AT + timedelta(days=21),
                       escalate_at=None, provisional=True)
text = st.one_of(st.none(), st.text(max_size=40))


def values(case_id: int, **over: object) -> dict[str, object]:
    v: dict[str, object] = {
        "id": case_id, "workflow_version_id": 3, "state": "street_intake", "tier": "street",
        "unit_code": "110106004", "grid_code": "110106004005005", "category_code": "0102", "urgency": "normal",
        "source": "hotline", "ref": f"12345-{case_id}", "description": "居民来电反映问题", "address": None,
        "reporter_id": "wujing", "assignees": [], "resolved_tier": None, "is_open": True, "created_at": AT,
        "updated_at": AT, "closed_at": None, "version": 1, "last_hash": None, "registered_at": AT,
        "deadline_at": CASE.due_at, "parked": False, "channel": "12345", "received_at": AT - timedelta(hours=1),
        "contact": None, "feedback": None, "extension_request": None}
    v.update(over)
    return v


def one_by_one(case_id: int, vals: dict[str, object], ops: tuple[tl.OpenDeadline, ...], note: str | None,
               actor: tl.Actor, when: tl.When) -> tuple[dict[str, object], list[dict[str, object]]]:
    entry, rows = tl.first_entry(case_id, vals, tl.Step(trigger="report", changes=vals, deadlines=ops, note=note),
                                 actor, when)
    assert entry.hash == tl.entry_hash(entry)
    return entry_values(entry), rows


@settings(max_examples=60, deadline=None)
@given(case_id=st.integers(1, 2**40), description=st.text(min_size=1, max_size=60), address=text, contact=text,
       note=text, ops=st.sampled_from([(), (STEP,), (STEP, CASE)]), behalf=st.sampled_from([None, "admin"]),
       backfill=st.booleans(), minutes=st.integers(0, 10_000))
def test_bulk_entries_are_the_one_by_one_entries(case_id: int, description: str, address: str | None,
                                                 contact: str | None, note: str | None,
                                                 ops: tuple[tl.OpenDeadline, ...], behalf: str | None,
                                                 backfill: bool, minutes: int) -> None:
    actor = tl.Actor(id="wujing", name="吴静", role="operator", unit="110106004", on_behalf_of=behalf)
    when = tl.When(at=AT, recorded_at=AT + timedelta(minutes=minutes), backfill=backfill)
    vals = values(case_id, description=description, address=address, contact=contact,
                  feedback={"result": "满意"} if minutes % 2 else None, assignees=["a", "b"] if minutes % 3 else [])
    bulk = tl.FirstEntries("report", actor, when)
    for cid in (case_id, case_id + 1):  # a second case of the same plan: the shared parts stay right
        vals = {**vals, "id": cid}
        assert bulk.make(cid, vals, ops, note) == one_by_one(cid, vals, ops, note, actor, when)


def test_bulk_entries_keep_the_order_of_the_facts() -> None:
    """The facts are stored as JSON text on SQLite: their keys keep the order of the case's values."""
    actor = tl.Actor(id="wujing", name="吴静", role="operator", unit="110106004")
    when = tl.When(at=AT, recorded_at=AT)
    vals = values(7)
    row, _ = tl.FirstEntries("report", actor, when).make(7, vals, (STEP,), "note")
    assert list(row["facts"]) == [k for k in vals if k in tl._FACT_SET]


def test_case_ids_are_the_list_they_stand_for() -> None:
    ids = CaseIds()
    ids.extend(range(1, 501))
    ids.extend([501, 502, 900, 901, 7])
    expected = [*range(1, 503), 900, 901, 7]
    assert ids == expected and list(ids) == expected and len(ids) == len(expected)
    assert ids[0] == 1 and ids[501] == 502 and ids[502] == 900 and ids[-1] == 7 and ids[:3] == [1, 2, 3]
    assert ids[500:504] == expected[500:504]
    assert ids != expected[:-1] and CaseIds() == [] and not CaseIds()
    assert len(ids._runs) == 3  # consecutive ids share a run


SHARED_KEYS = ("workflow_version_id", "state", "tier", "source", "reporter_id", "assignees", "resolved_tier",
               "is_open", "created_at", "updated_at", "closed_at", "version", "last_hash", "registered_at", "parked",
               "feedback", "extension_request")


@settings(max_examples=60, deadline=None)
@given(case_id=st.integers(1, 2**40), description=st.text(min_size=1, max_size=60), address=text, contact=text,
       note=text, ops=st.sampled_from([(), (STEP,), (STEP, CASE)]), behalf=st.sampled_from([None, "admin"]),
       backfill=st.booleans(), minutes=st.integers(0, 10_000), unit=st.sampled_from(["110106004", "{0}", "}{"]))
def test_first_rows_hash_and_facts_are_the_one_by_one_entrys(case_id: int, description: str, address: str | None,
                                                              contact: str | None, note: str | None,
                                                              ops: tuple[tl.OpenDeadline, ...], behalf: str | None,
                                                              backfill: bool, minutes: int, unit: str) -> None:
    """The text form of the bulk path: same hash as entry_hash, facts as the engine's serialiser stores them."""
    from casecraft.store.db import _dumps

    actor = tl.Actor(id="wujing", name="吴静{x}", role="operator", unit="110106004", on_behalf_of=behalf)
    when = tl.When(at=AT, recorded_at=AT + timedelta(minutes=minutes), backfill=backfill)
    vals = values(case_id, description=description, address=address, contact=contact, unit_code=unit,
                  feedback={"result": "满意", "a": [1]} if minutes % 2 else None,
                  assignees=["b", "a"] if minutes % 3 else [], received_at=AT - timedelta(minutes=minutes))
    shared = {k: vals[k] for k in SHARED_KEYS}
    varying = [k for k in vals if k not in shared and k != "id"]
    bulk = tl.FirstRows("report", actor, when, list(vals), shared, varying)
    dfacts, _ = bulk.plan(ops)
    for cid in (case_id, case_id + 1):  # a second case: the templates stay right
        vals = {**vals, "id": cid}
        row, _ = one_by_one(cid, vals, ops, note, actor, when)
        got = bulk.make(cid, [vals[k] for k in varying], bulk.facts_text(dfacts), note)
        assert got == (row["hash"], _dumps(row["facts"]))
        assert dfacts == row["deadline_facts"]
