"""Workflow versions with cases in flight: old cases keep their version, new ones use the newest,
an admin lists, compares and migrates them (all or nothing, hash-chained timeline entries).

Version 2 of the default workflow renames the state ``community_handling`` to
``community_working`` (same label 社区处置中); everything else is unchanged.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

# Import alembic.config before any CliRunner swaps sys.stdout: its Config binds
# `stdout=sys.stdout` as a default argument at import time, and a stream CliRunner
# later closes breaks alembic for every later test (test_migrations).
import alembic.config  # noqa: F401
import pytest
from typer.testing import CliRunner

from casecraft import ConflictError, Engine, FixedClock, InputError, NotFound, RuleError
from casecraft.admin.versions import diff, list_versions, migrate, parse_mapping, resolve
from casecraft.cases.timeline import entry_hash
from casecraft.cli.main import app
from tests.conftest import ROOT, WORKFLOW, bj, sandbox

GRID5 = "110106004005005"


def write_v2(folder: Path) -> Path:
    """The default workflow with one state renamed, beside a copy of its organisation."""
    folder.mkdir(parents=True, exist_ok=True)
    text = WORKFLOW.read_text(encoding="utf-8")
    assert text.count("community_handling") >= 5
    (folder / "workflows.yaml").write_text(text.replace("community_handling", "community_working"), encoding="utf-8")
    (folder / "organisation.yaml").write_text((ROOT / "organisation.yaml").read_text(encoding="utf-8"),
                                              encoding="utf-8")
    return folder / "workflows.yaml"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(bj(24, "09:00"))


@pytest.fixture
def engines(db_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    """An engine on version 1 (the default workflow) and one on version 2, over one database."""
    v1 = sandbox(db_url, clock)
    v2 = Engine(db_url, write_v2(tmp_path / "v2"), clock)
    yield v1, v2
    v1.close()
    v2.close()


def patrol(engine: Engine) -> int:
    return engine.report(source="patrol", grid=GRID5, category="0101", desc="小广告", actor="wangjg").id


def escalate(engine: Engine, case_id: int) -> None:
    engine.fire(case_id, "escalate", actor="wangjg", note="网格无法处置")


def assert_chain(engine: Engine, case_id: int) -> None:
    with engine.store.read() as tx:
        entries = tx.timeline(case_id)
        case = tx.case(case_id)
    prev = None
    for e in entries:
        assert e.prev_hash == prev and e.hash == entry_hash(e)
        prev = e.hash
    assert case is not None and case.last_hash == prev and case.version == len(entries)


def test_cases_in_flight_keep_their_version_then_migrate(engines: tuple[Engine, Engine], clock: FixedClock) -> None:
    v1, v2 = engines
    a, b = patrol(v1), patrol(v1)
    escalate(v1, a)  # a waits at the community in community_handling, a state v2 does not have
    clock.advance(minutes=10)

    # version 2 comes into force when it is published (a sandbox needs no admin for it); new cases use it
    v2.publish()
    assert v2.current_version()[1] == 2
    c = patrol(v2)
    assert [v2.get(i).workflow_version for i in (a, b, c)] == [1, 1, 2]
    # old cases keep working on version 1, through the engine of version 2
    escalate(v2, b)
    assert v2.get(b).state == "community_handling" and v2.get(b).workflow_version == 1
    escalate(v2, c)
    assert v2.get(c).state == "community_working" and v2.get(c).workflow_version == 2

    counts = {v.number: (v.open_cases, v.current) for v in list_versions(v2)}
    assert counts == {1: (2, False), 2: (1, True)}

    va, vb, d = diff(v2, "v1", "2")
    assert (va.number, vb.number) == (1, 2)
    assert d.removed["states"] == ["community_handling"] and d.added["states"] == ["community_working"]
    assert d.renamed == [("community_handling", "community_working")]
    assert any("grid_handling -> community_working" in t for t in d.added["transitions"])
    assert not diff(v2, 1, 1)[2].lines()

    # without a mapping nothing moves, and the refusal names every stranded case
    before = v2.snapshot()
    with pytest.raises(RuleError) as info:
        migrate(v2, 1, 2, actor="wujing")
    assert "community_handling" in info.value.message and f"cases {a}, {b}" in info.value.message
    assert "--map" in info.value.message
    assert v2.snapshot() == before

    plan = migrate(v2, 1, 2, actor="wujing", mapping={"community_handling": "community_working"}, dry_run=True)
    assert [(m.case_id, m.from_state, m.to_state) for m in plan.moves] == [
        (a, "community_handling", "community_working"), (b, "community_handling", "community_working")]
    assert v2.snapshot() == before

    clock.advance(minutes=5)
    with v2.store.read() as tx:
        due_before = tx.open_deadlines([a])[a].due_at
    done = migrate(v2, "v1", "current", actor="wujing", mapping=parse_mapping(["community_handling=community_working"]),
                   note="状态改名")
    assert len(done.moves) == 2 and not done.dry_run
    for case_id in (a, b):
        view = v2.get(case_id)
        assert (view.state, view.workflow_version) == ("community_working", 2)
        last = view.timeline[-1]
        assert (last.trigger, last.from_state, last.to_state, last.actor) == (
            "migrate", "community_handling", "community_working", "wujing")
        assert last.note == "工作流版本 v1 → v2：状态改名" and last.at == clock.now()
        assert_chain(v2, case_id)
    with v2.store.read() as tx:
        step = tx.open_deadlines([a])[a]
    assert step.state == "community_working" and step.due_at == due_before  # the clock kept running

    # migrated cases go on under version 2
    v2.fire(a, "resolve", actor="zhoumin")
    assert v2.get(a).state == "community_resolved"
    assert {v.number: v.open_cases for v in list_versions(v2)} == {1: 0, 2: 3}
    # a second run finds nothing left to move
    assert migrate(v2, 1, 2, actor="wujing").moves == ()


def test_publishing_an_older_version_again_is_refused_not_reported_as_in_force(
        engines: tuple[Engine, Engine]) -> None:
    """QA, 2026-12-01: publishing the v1 file after v2 printed "v1 is in force" and changed nothing."""
    v1, v2 = engines
    v2.publish()
    before = [(v.number, v.current) for v in v1.versions()]
    with pytest.raises(ConflictError, match="v1, which v2 replaced"):
        v1.publish()
    assert [(v.number, v.current) for v in v1.versions()] == before == [(1, False), (2, True)]
    assert v2.publish().number == 2  # the version in force, published again: nothing changes


def test_migration_refusals(engines: tuple[Engine, Engine]) -> None:
    v1, v2 = engines
    a = patrol(v1)
    v2.publish()
    with pytest.raises(InputError, match="versions are the same"):
        migrate(v2, 2, 2, actor="wujing")
    with pytest.raises(NotFound, match="no version 7"):
        migrate(v2, 1, 7, actor="wujing")
    with pytest.raises(InputError, match="bad version"):
        resolve(v2, "latest-but-one")
    with pytest.raises(InputError, match="unknown person"):
        migrate(v2, 1, 2, actor="nobody")
    with pytest.raises(InputError, match="not a state of the new version.*did you mean community_working"):
        migrate(v2, 1, 2, actor="wujing", mapping={"community_handling": "community_workin"})
    with pytest.raises(InputError, match="not a state of the old version"):
        migrate(v2, 1, 2, actor="wujing", mapping={"nowhere": "closed"})
    with pytest.raises(RuleError, match="tier grid.*street"):
        migrate(v2, 1, 2, actor="wujing", mapping={"grid_handling": "street_handling"})
    with pytest.raises(RuleError, match="final"):
        migrate(v2, 1, 2, actor="wujing", mapping={"grid_handling": "closed"})
    with pytest.raises(InputError, match="OLD_STATE=NEW_STATE"):
        parse_mapping(["community_handling"])
    assert v2.get(a).workflow_version == 1


def test_migration_is_all_or_nothing_under_a_concurrent_change(engines: tuple[Engine, Engine],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    v1, v2 = engines
    a, b = patrol(v1), patrol(v1)
    v2.publish()
    before = v2.snapshot()
    from casecraft.store.repo import Tx

    real = Tx.write_step
    calls = {"n": 0}

    def racing(self: Tx, case_id: int, version: int, *args: object) -> bool:
        calls["n"] += 1
        if calls["n"] == 2:  # someone else acted on the second case meanwhile: its row is not at `version`
            return False
        return real(self, case_id, version, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Tx, "write_step", racing)
    with pytest.raises(ConflictError, match="nothing was migrated"):
        migrate(v2, 1, 2, actor="wujing")
    monkeypatch.undo()
    assert v2.snapshot() == before
    assert [v2.get(i).workflow_version for i in (a, b)] == [1, 1]


def test_cli_versions_diff_migrate(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CASECRAFT_NOW", "CASECRAFT_DB", "CASECRAFT_WORKFLOW", "CASECRAFT_DATA"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    v2 = write_v2(tmp_path / "v2")

    def run(workflow: Path, *args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["--db", sqlite_url, "--workflow", str(workflow), "--at", "2026-11-24T09:30",
                                     *args])
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result.stdout

    run(WORKFLOW, "init", "--sandbox")
    case = json.loads(run(WORKFLOW, "case", "report", "--source", "patrol", "--grid", GRID5, "--category", "0101",
                          "--desc", "小广告", "--actor", "wangjg", "--json"))["id"]
    run(WORKFLOW, "case", "fire", str(case), "escalate", "--actor", "wangjg", "--note", "上报")
    run(v2, "workflow", "publish")
    listed = json.loads(run(v2, "workflow", "versions", "--json"))
    assert [(v["number"], v["open_cases"], v["current"]) for v in listed] == [(1, 1, False), (2, 0, True)]
    assert "* dongaodi-grid v2" in run(v2, "workflow", "versions")
    text = run(v2, "workflow", "diff", "1", "2")
    assert "- states: community_handling" in text and "+ states: community_working" in text
    assert "--map community_handling=community_working" in text
    assert json.loads(run(v2, "workflow", "diff", "v1", "v2", "--json"))["renamed_states"] == [
        {"from": "community_handling", "to": "community_working"}]
    refused = runner.invoke(app, ["--db", sqlite_url, "--workflow", str(v2), "workflow", "migrate", "--from", "1",
                                  "--to", "2", "--actor", "wujing"])
    assert refused.exit_code == 1 and "community_handling" in refused.stderr and "nothing migrated" in refused.stderr
    dry = run(v2, "workflow", "migrate", "--from", "1", "--to", "2", "--actor", "wujing", "--map",
              "community_handling=community_working", "--dry-run")
    assert "would move 1" in dry and f"case {case}: community_handling → community_working" in dry
    assert json.loads(run(v2, "case", "show", str(case), "--json"))["workflow_version"] == 1
    moved = json.loads(run(v2, "workflow", "migrate", "--from", "1", "--to", "2", "--actor", "wujing", "--map",
                           "community_handling=community_working", "--json"))
    assert moved["moved"] == 1 and moved["cases"][0]["to_state"] == "community_working"
    shown = json.loads(run(v2, "case", "show", str(case), "--json"))
    assert shown["workflow_version"] == 2 and shown["state"] == "community_working"
    assert shown["timeline"][-1]["trigger"] == "migrate"
    bad = runner.invoke(app, ["--db", sqlite_url, "--workflow", str(v2), "workflow", "migrate", "--from", "1",
                              "--to", "2", "--actor", "wujing", "--map", "oops"])
    assert bad.exit_code == 2 and "OLD_STATE=NEW_STATE" in bad.stderr
