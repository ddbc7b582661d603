"""Tamper evidence: `casecraft audit verify` names every entry edited, deleted or inserted with raw SQL.

The worked example's three cases are built through the engine, then someone
with database access changes the timeline behind the engine's back (plain SQL
through a connection of its own). The audit must name the case, the entry and
what happened; the CLI exits 1 and prints the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from casecraft import Engine, FixedClock, NotFound
from casecraft.audit import verify as audit
from casecraft.cases.timeline import entry_hash
from casecraft.cli.main import app
from casecraft.demo import run_demo
from casecraft.store.models import TimelineEntry
from tests.conftest import WORKFLOW, bj, sandbox, snapshot

runner = CliRunner()


@pytest.fixture
def demo(db_url: str) -> Iterator[tuple[Engine, dict[str, int]]]:
    def play() -> tuple[dict[str, int], datetime]:
        clock = FixedClock(bj(24, "08:30"))
        with sandbox(db_url, clock) as eng:
            cases = run_demo(eng, clock)
        return {k: v.id for k, v in cases.items()}, clock.now()

    ids, now = snapshot(db_url, ("the worked example",), play)  # played once per backend, then copied
    eng = Engine(db_url, WORKFLOW, FixedClock(now))
    yield eng, ids
    eng.close()


def sql(url: str, statement: str, **params: Any) -> list[Any]:
    """Run raw SQL on a connection of its own, as someone bypassing the engine would."""
    eng = sa.create_engine(url)
    try:
        with eng.begin() as conn:
            res = conn.execute(sa.text(statement), params)
            return [dict(r) for r in res.mappings()] if res.returns_rows else []
    finally:
        eng.dispose()


def url_of(eng: Engine) -> str:
    return eng.store.engine.url.render_as_string(hide_password=False)


def entry(eng: Engine, case: int, seq: int) -> dict[str, Any]:
    """A timeline row read with the table's column types (aware timestamps, decoded JSON)."""
    t = TimelineEntry.__table__
    raw = sa.create_engine(url_of(eng))
    try:
        with raw.connect() as conn:
            return dict(conn.execute(sa.select(t).where(t.c.case_id == case, t.c.seq == seq)).mappings().one())
    finally:
        raw.dispose()


def insert_entry(eng: Engine, values: dict[str, Any]) -> None:
    raw = sa.create_engine(url_of(eng))
    try:
        with raw.begin() as conn:
            conn.execute(sa.insert(TimelineEntry.__table__).values(**values))
    finally:
        raw.dispose()


def kinds(report: audit.AuditReport) -> list[tuple[int, int | None, str]]:
    return [(f.case, f.seq, f.kind) for f in report.findings]


def cli(eng: Engine, *args: str) -> Any:
    return runner.invoke(app, ["--db", url_of(eng), "--workflow", str(WORKFLOW), "audit", "verify", *args])


def test_untouched_chains_verify(demo: tuple[Engine, dict[str, int]]) -> None:
    eng, cases = demo
    report = audit.verify(eng)
    assert report.ok and report.cases == 3
    assert report.entries == sum(len(eng.get(i).timeline) for i in cases.values())
    result = cli(eng)
    assert result.exit_code == 0, result.output
    assert "3 case(s)" in result.stdout and "intact" in result.stdout
    one = cli(eng, "--case", str(cases["C"]), "--json")
    assert one.exit_code == 0
    assert '"ok": true' in one.stdout and '"cases": 1' in one.stdout


def test_an_edited_note_is_named(demo: tuple[Engine, dict[str, int]]) -> None:
    eng, cases = demo
    c = cases["B"]
    sql(url_of(eng), "UPDATE timeline SET note = '店主当场整改' WHERE case_id = :c AND seq = 4", c=c)
    assert kinds(audit.verify(eng)) == [(c, 4, "edited")]
    result = cli(eng)
    assert result.exit_code == 1
    assert f"edited: case {c} entry 4 (verify)" in result.stdout
    assert "1 problem(s) found" in result.stdout
    # the other cases are still fine on their own
    assert cli(eng, "--case", str(cases["A"])).exit_code == 0


EDITS = [("actor_id", "'lixia'"), ("to_state", "'closed'"), ("outcome", "'unsolved'"),
         ("targets", "'[\"chengang\"]'"), ("prev_hash", "NULL"),
         ("at", "(SELECT at FROM timeline WHERE case_id = :c AND seq = 5)")]


def test_any_edited_field_is_named(demo: tuple[Engine, dict[str, int]]) -> None:
    eng, cases = demo
    c = cases["B"]
    seq = 6  # the dispatched member's feedback
    for column, value in EDITS:
        before = sql(url_of(eng), f"SELECT {column} AS v FROM timeline WHERE case_id = :c AND seq = :s", c=c, s=seq)
        sql(url_of(eng), f"UPDATE timeline SET {column} = {value} WHERE case_id = :c AND seq = :s", c=c, s=seq)
        assert kinds(audit.verify(eng))[:1] == [(c, seq, "edited")], column
        sql(url_of(eng), f"UPDATE timeline SET {column} = :v WHERE case_id = :c AND seq = :s",
            v=before[0]["v"], c=c, s=seq)
        assert audit.verify(eng).ok, column  # put back exactly: the chain is whole again


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(demo: tuple[Engine, dict[str, int]]) -> None:
    eng, cases = demo
    c = cases["C"]
    e = entry(eng, c, 3)
    e["note"] = "当场处置完毕"
    sql(url_of(eng), "UPDATE timeline SET note = :n, hash = :h WHERE id = :i", n=e["note"], h=entry_hash(e),
        i=e["id"])
    assert kinds(audit.verify(eng)) == [(c, 4, "relinked")]


def test_a_deleted_entry_is_named(demo: tuple[Engine, dict[str, int]]) -> None:
    eng, cases = demo
    c = cases["C"]
    sql(url_of(eng), "DELETE FROM timeline WHERE case_id = :c AND seq IN (4, 5)", c=c)
    found = audit.verify(eng).findings
    assert [(f.case, f.seq, f.kind) for f in found] == [(c, 4, "deleted")]
    assert "entries 4-5 are missing" in found[0].message


def test_deleting_the_last_entries_shows_on_the_case_row(demo: tuple[Engine, dict[str, int]]) -> None:
    eng, cases = demo
    c = cases["A"]
    sql(url_of(eng), "DELETE FROM timeline WHERE case_id = :c AND seq = 4", c=c)  # the close
    found = kinds(audit.verify(eng))
    assert (c, 4, "deleted") in found
    assert (c, None, "case") in found  # head hash and state no longer match


def test_deleting_a_whole_history_is_named(demo: tuple[Engine, dict[str, int]]) -> None:
    eng, cases = demo
    c = cases["A"]
    sql(url_of(eng), "DELETE FROM timeline WHERE case_id = :c", c=c)
    assert kinds(audit.verify(eng)) == [(c, 1, "deleted")]


def test_an_entry_inserted_out_of_band_is_named(demo: tuple[Engine, dict[str, int]]) -> None:
    eng, cases = demo
    c = cases["A"]
    last = entry(eng, c, 4)
    forged = {**last, "seq": 5, "trigger": "rework", "from_state": "closed", "to_state": "grid_handling",
              "note": "补录", "prev_hash": last["hash"]}
    forged.pop("id")
    forged["hash"] = entry_hash(forged)  # a perfectly chained entry, but the case row never saw it
    insert_entry(eng, forged)
    assert kinds(audit.verify(eng)) == [(c, 5, "inserted")]
    result = cli(eng, "--case", str(c))
    assert result.exit_code == 1 and "inserted out of band" in result.stdout


def test_a_changed_case_row_is_named(demo: tuple[Engine, dict[str, int]]) -> None:
    eng, cases = demo
    c = cases["B"]
    sql(url_of(eng), "UPDATE cases SET state = 'grid_handling', is_open = :t WHERE id = :c", t=True, c=c)
    found = audit.verify(eng).findings
    assert [(f.case, f.kind) for f in found] == [(c, "case")]
    assert "state grid_handling" in found[0].message
    sql(url_of(eng), "UPDATE cases SET state = 'closed', version = version + 1 WHERE id = :c", c=c)
    assert (c, 9, "deleted") in kinds(audit.verify(eng))


def test_batches_see_the_same_as_one_pass(demo: tuple[Engine, dict[str, int]]) -> None:
    eng, cases = demo
    for _ in range(4):  # more cases than the batch, so findings sit in several batches
        eng.report(source="patrol", grid="110106004005005", category="0101", desc="小广告", actor="wangjg")
    sql(url_of(eng), "UPDATE timeline SET note = 'x' WHERE case_id = :c AND seq = 1", c=cases["C"])
    sql(url_of(eng), "DELETE FROM timeline WHERE case_id = (SELECT MAX(id) FROM cases)")
    whole = audit.verify(eng)
    for batch in (1, 2, 3):
        parts = audit.verify(eng, batch=batch)
        assert (parts.cases, parts.entries, kinds(parts), parts.digest) == (
            whole.cases, whole.entries, kinds(whole), whole.digest)
    assert whole.cases == 7 and len(whole.findings) == 2


def test_unknown_case(demo: tuple[Engine, dict[str, int]]) -> None:
    eng, _ = demo
    with pytest.raises(NotFound):
        audit.verify(eng, 999)
    result = cli(eng, "--case", "999")
    assert result.exit_code == 1 and "no case 999" in result.stderr


def test_entries_without_a_case_are_inserted() -> None:
    e = {"seq": 1, "trigger": "report"}
    (f,) = audit.check_case(None, [e], 42)
    assert (f.case, f.seq, f.kind) == (42, 1, "inserted")
