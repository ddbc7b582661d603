"""Organisation administration: add, move, deactivate, re-load — and history stays as it was.

Library tests run on SQLite and PostgreSQL; CLI tests on SQLite through CliRunner.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from casecraft import Engine, FixedClock, InputError, NotFound, PermissionDenied, RuleError, WorkflowError
from tests.conftest import ROOT, WORKFLOW, bj, sandbox_db

GRID5 = "110106004005005"
GRID1 = "110106004005001"
COMMUNITY_E = "110106004005"
STREET = "110106004"
HEADER = "ticket,channel,received_at,address,grid,category,description,contact"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(bj(24, "09:00"))


def patrol(engine: Engine, actor: str = "wangjg", grid: str = GRID5) -> int:
    return engine.report(source="patrol", grid=grid, category="0101", desc="小广告", actor=actor).id


def test_a_new_grid_and_its_leader_receive_a_hotline_ticket_by_address(engine: Engine, clock: FixedClock,
                                                                       tmp_path: Path) -> None:
    grid = engine.add_unit("110106004005006", "E社区第6网格", COMMUNITY_E, addresses=["E社区新建小区"])
    assert (grid.tier, grid.kind, grid.parent, grid.addresses) == ("grid", "platform", COMMUNITY_E, ("E社区新建小区",))
    engine.add_person("qianli", "钱立", grid.code, ["grid_leader"])
    dept = engine.add_unit("110106004-jsb", "建设科", STREET, kind="department")
    assert dept.tier == "street"
    src = tmp_path / "orders.csv"
    src.write_text(f"{HEADER}\nT-6,12345,2026-11-24T08:30,东高地街道E社区新建小区3号楼,,0104,垃圾,\n", encoding="utf-8")
    case_id = engine.import_hotline(src, actor="wujing").case_ids[0]
    assert engine.get(case_id).grid == "110106004005006"
    engine.fire(case_id, "assign", actor="wujing")
    engine.fire(case_id, "assign", actor="zhoumin")
    assert engine.fire(case_id, "verify", actor="qianli", note="属实").state == "grid_handling"
    assert "钱立" in [p.name for p in engine.organisation().people.values()]


def test_moves_and_deactivation_keep_history(engine: Engine, clock: FixedClock) -> None:
    first = patrol(engine, "wangjg")
    engine.move_person("wangjg", GRID1)
    clock.set(bj(24, "09:30"))
    # at the new grid he acts on that grid's cases; the old case's entry keeps his old unit
    second = patrol(engine, "wangjg", GRID1)
    with pytest.raises(PermissionDenied):
        engine.fire(first, "resolve", actor="wangjg")
    assert engine.get(first).timeline[0].actor_unit == GRID5
    assert engine.get(second).timeline[0].actor_unit == GRID1
    engine.fire(first, "resolve", actor="lixia")  # grid 5's assistant takes over
    engine.deactivate("lixia")
    with pytest.raises(PermissionDenied, match="deactivated"):
        engine.fire(first, "check", actor="lixia")
    entries = engine.get(first).timeline
    assert [(e.actor, e.actor_unit) for e in entries] == [("wangjg", GRID5), ("lixia", GRID5)]
    assert entries[1].actor_name == "李霞"  # a deactivated person's name still shows
    engine.activate("lixia")
    assert engine.fire(first, "check", actor="lixia").state == "checked"


def test_a_unit_in_use_cannot_be_deactivated(engine: Engine, tmp_path: Path) -> None:
    case_id = patrol(engine, "sunli", GRID1)
    with pytest.raises(RuleError) as err:
        engine.deactivate(GRID1)
    assert "sunli" in err.value.message and "1 open case" in err.value.message
    with pytest.raises(RuleError, match="below it"):
        engine.deactivate(COMMUNITY_E)
    engine.fire(case_id, "resolve", actor="sunli")
    engine.fire(case_id, "check", actor="sunli")
    engine.fire(case_id, "close", actor="sunli")
    engine.move_person("sunli", GRID5)
    assert engine.deactivate(GRID1).active is False
    # nothing new routes to it: a ticket naming it is a bad row; adding people there is refused
    src = tmp_path / "o.csv"
    src.write_text(f"{HEADER}\nT-1,12345,2026-11-24T08:00,E社区1号楼,,0101,小广告,\n"
                   f"T-2,12345,2026-11-24T08:00,,{GRID1},0101,小广告,\n", encoding="utf-8")
    result = engine.import_hotline(src, actor="wujing", skip_bad=True)
    assert result.new == 0
    assert [(p.row, p.field) for p in result.bad] == [(2, "address"), (3, "grid")]
    with pytest.raises(RuleError, match="deactivated"):
        engine.add_person("newbie", "新人", GRID1, ["grid_leader"])
    # the closed case still names the unit as it was
    assert engine.get(case_id).unit_name == "E社区第1网格"


def test_bad_admin_input_is_refused(engine: Engine) -> None:
    before = engine.snapshot()
    with pytest.raises(InputError, match="15 digits"):
        engine.add_unit("110106004005X", "坏网格", COMMUNITY_E)
    with pytest.raises(InputError, match="lowest tier"):
        engine.add_unit("110106004005005001", "网格下的网格", GRID5)
    with pytest.raises(InputError, match="exactly one below"):
        engine.add_unit("110106004009", "F社区", STREET, tier="grid")
    with pytest.raises(InputError, match="already exists"):
        engine.add_unit(GRID5, "重复", COMMUNITY_E)
    with pytest.raises(InputError, match="unknown parent"):
        engine.add_unit("110106004009", "F社区", "nowhere")
    with pytest.raises(InputError, match="unknown role 'grid_leadr'.*grid_leader"):
        engine.add_person("x1", "某人", GRID5, ["grid_leadr"])
    with pytest.raises(InputError, match="already exists"):
        engine.add_person("wangjg", "王建国", GRID5, ["grid_leader"])
    with pytest.raises(InputError, match="must be 1-64"):
        engine.add_person("有 空格", "某人", GRID5, ["grid_leader"])
    with pytest.raises(NotFound):
        engine.move_person("nobody", GRID5)
    with pytest.raises(InputError, match="already at"):
        engine.move_person("wangjg", GRID5)
    with pytest.raises(NotFound):
        engine.deactivate("nobody")
    assert engine.snapshot() == before


def test_reload_yaml_updates_adds_and_never_reactivates(engine: Engine, tmp_path: Path) -> None:
    engine.deactivate("heping")
    # `casecraft init` re-applies the file the workflow names, and does not re-activate either
    assert engine.init(sandbox=True)["people_changed"] == 0
    assert engine.organisation().people["heping"].active is False
    text = (ROOT / "organisation.yaml").read_text(encoding="utf-8")
    text = text.replace("name: E社区第5网格", "name: E社区第五网格").replace(
        "  - {id: lixia, name: 李霞,", "  - {id: newgl, name: 新网格员, unit: \"110106004005005\", "
        "roles: [grid_assistant]}\n  - {id: lixia, name: 李霞,")
    text = text.replace("  - {id: maliang, name: 马亮, unit: \"110106004001002\", roles: [grid_leader]}\n", "")
    org = tmp_path / "organisation.yaml"
    org.write_text(text, encoding="utf-8")
    r = engine.reload_organisation(org)
    assert (r.units_added, r.units_changed, r.people_added, r.people_changed) == (0, 1, 1, 0)
    assert r.not_in_file == ["maliang"]
    people = engine.organisation().people
    assert people["heping"].active is False  # reload never re-activates
    assert people["maliang"].active is True  # not in the file: kept
    assert engine.organisation().units[GRID5].name == "E社区第五网格"
    r = engine.reload_organisation(org, deactivate_missing=True)
    assert r.deactivated == ["maliang"] and engine.organisation().people["maliang"].active is False


def test_reload_yaml_problems_change_nothing(engine: Engine, tmp_path: Path) -> None:
    before = engine.snapshot()
    org = tmp_path / "org.yaml"
    org.write_text("units:\n  - {code: X, name: 坏, tier: nowhere}\npeople:\n"
                   "  - {id: a, name: A, unit: Y, roles: [boss]}\n", encoding="utf-8")
    with pytest.raises(WorkflowError) as err:
        engine.reload_organisation(org)
    assert len(err.value.problems) >= 3
    assert engine.snapshot() == before


def test_reload_people_csv(engine: Engine, tmp_path: Path) -> None:
    good = tmp_path / "people.csv"
    good.write_text("id,name,unit,roles,note\n"
                    f"wangjg,王建国,{GRID1},grid_leader,调往第1网格\n"
                    f"zhaoliu,赵六,{GRID5},grid_assistant;informant,\n", encoding="utf-8-sig")
    first = patrol(engine, "wangjg")
    r = engine.reload_organisation(good)
    assert (r.people_added, r.people_changed, r.units_added) == (1, 1, 0)
    people = engine.organisation().people
    assert people["wangjg"].unit == GRID1 and people["zhaoliu"].roles == ("grid_assistant", "informant")
    assert engine.get(first).timeline[0].actor_unit == GRID5
    before = engine.snapshot()
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,unit,roles\n"
                   f"ok1,甲,{GRID5},grid_leader\n"
                   f"ok1,乙,{GRID5},grid_leader\n"
                   f"x2,丙,nowhere,grid_leader\n"
                   f"x3,丁,{GRID5},\n"
                   f"x4,戊,{GRID5},chief\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        engine.reload_organisation(bad)
    for needle in ("bad.csv:3: duplicate person id 'ok1'", "bad.csv:5: roles is empty", "unknown role(s) chief"):
        assert needle in err.value.message
    assert engine.snapshot() == before
    with pytest.raises(InputError, match="unknown unit 'nowhere'"):
        bad.write_text("id,name,unit,roles\nx2,丙,nowhere,grid_leader\n", encoding="utf-8")
        engine.reload_organisation(bad)
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(f"id,name,unit,roles\nx5,王五,{GRID5},grid_leader\n".encode("gbk"))
    with pytest.raises(InputError, match="not UTF-8"):
        engine.reload_organisation(gbk)


# --------------------------------------------------------------------------- CLI


def cc(db: Path, *args: str) -> Result:
    if not db.exists() and "--help" not in args:  # a sandbox database
        sandbox_db(f"sqlite:///{db}", None)
    res = CliRunner().invoke(app_(), ["--db", f"sqlite:///{db}", "--workflow", str(WORKFLOW),
                                      "--at", "2026-11-24T09:00", *args])
    assert "Traceback" not in res.output
    return res


def app_():  # type: ignore[no-untyped-def]
    from casecraft.cli.main import app

    return app


def test_cli_org_commands(tmp_path: Path) -> None:
    db = tmp_path / "cc.db"
    for cmd in ("add-unit", "add-person", "move-person", "deactivate", "activate", "reload", "set-addresses"):
        assert CliRunner().invoke(app_(), ["org", cmd, "--help"]).exit_code == 0, cmd
    res = cc(db, "org", "add-unit", "110106004005006", "--name", "E社区第6网格", "--parent", COMMUNITY_E,
             "--address", "E社区新建小区")
    assert res.exit_code == 0 and "added unit E社区第6网格" in res.stdout
    res = cc(db, "org", "add-person", "qianli", "--name", "钱立", "--unit", "110106004005006",
             "--role", "grid_leader", "--json")
    assert json.loads(res.stdout)["unit"] == "110106004005006"
    assert cc(db, "org", "move-person", "qianli", "--to", GRID5, "--role", "grid_assistant").exit_code == 0
    res = cc(db, "case", "report", "--source", "patrol", "--grid", GRID5, "--category", "0101", "--desc", "小广告",
             "--actor", "qianli")
    assert res.exit_code == 0, res.output
    assert cc(db, "org", "deactivate", "qianli").exit_code == 0
    refused = cc(db, "case", "fire", "1", "resolve", "--actor", "qianli")
    assert refused.exit_code == 1 and "deactivated" in refused.stderr
    busy = cc(db, "org", "deactivate", GRID5)
    assert busy.exit_code == 1 and "still in use" in busy.stderr
    bad = cc(db, "org", "add-person", "x", "--name", "X", "--unit", GRID5, "--role", "boss")
    assert bad.exit_code == 2 and "unknown role" in bad.stderr
    shown = json.loads(cc(db, "org", "show", "--json").stdout)
    qianli = next(p for p in shown["people"] if p["id"] == "qianli")
    assert (qianli["unit"], qianli["active"]) == (GRID5, False)
    res = cc(db, "org", "set-addresses", GRID5, "--address", "E社区商业街", "--address", "E社区9号楼")
    assert res.exit_code == 0 and "E社区商业街, E社区9号楼" in res.stdout
    assert cc(db, "org", "reload").exit_code == 2  # no default file: reloading says which file it applies
    res = cc(db, "org", "reload", str(ROOT / "organisation.yaml"), "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["not_in_file"] == ["110106004005006"]
    res = cc(db, "org", "reload", str(tmp_path / "none.yaml"))
    assert res.exit_code == 2 and "no such file" in res.stderr
