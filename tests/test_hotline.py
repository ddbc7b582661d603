"""Hotline import (12345, 96005): the worked example's case B routed down, idempotency, bad rows, encodings.

Library tests run on SQLite and PostgreSQL (``db_url``); CLI tests go through
the Typer app with CliRunner on SQLite. Times are Beijing times on Tuesday
24 November 2026; the clock is fixed, nothing sleeps.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from casecraft import Engine, FixedClock, InputError, PermissionDenied
from casecraft.cases.timeline import entry_hash
from casecraft.cli.main import app
from casecraft.intake.service import BadRowsError
from casecraft.store.models import Case
from tests.conftest import ROOT, WORKFLOW, bj, sandbox_db

GRID5 = "110106004005005"
GRID1 = "110106004005001"
COMMUNITY_E = "110106004005"
STREET = "110106004"
HEADER = "ticket,channel,received_at,address,grid,category,description,contact"
CASE_B = ("96005-20261124-0031,96005,2026-11-24T08:31,东高地街道E社区商业街12号某商铺门前,,0102,"
          "居民来电：某商铺在门前摆摊经营，占用人行道,138****5678")


def write(path: Path, *lines: str, encoding: str = "utf-8") -> Path:
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def rows(engine: Engine, table: str) -> list[tuple[object, ...]]:
    with engine.store.read() as tx:
        return tx.table_rows(table)


def running(engine: Engine) -> int:
    """How many cases have a running step limit (on the case row, since 0006); the import writes one each."""
    with engine.store.read() as tx:
        return len(tx.open_deadlines([int(str(r[0])) for r in tx.table_rows("cases")]))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(bj(24, "08:40"))


# --------------------------------------------------------------------------- library, both backends


def test_case_b_arrives_by_address_and_is_routed_down_to_grid_5(engine: Engine, clock: FixedClock,
                                                                tmp_path: Path) -> None:
    src = write(tmp_path / "orders.csv", HEADER, CASE_B)
    result = engine.import_hotline(src, actor="wujing")
    assert (result.new, result.existing, result.bad) == (1, 0, [])
    case = engine.get(result.case_ids[0])
    assert (case.source, case.ref, case.state, case.unit, case.grid, case.category) == (
        "hotline", "96005-20261124-0031", "street_intake", STREET, GRID5, "0102")
    with engine.store.read() as tx:
        row = tx.case(case.id)
    assert row is not None
    assert (row.channel, row.received_at, row.contact) == ("96005", bj(24, "08:31"), "138****5678")
    # routed down by the case's grid code: street → Community E → grid 5, no --to needed
    clock.set(bj(24, "08:50"))
    engine.fire(case.id, "assign", actor="wujing", note="按案件地址下派E社区")
    clock.set(bj(24, "09:02"))
    engine.fire(case.id, "assign", actor="zhoumin", note="安排第5网格网格长前往查看")
    clock.set(bj(24, "09:30"))
    engine.fire(case.id, "verify", actor="wangjg", note="现场核实属实")
    clock.set(bj(24, "09:35"))
    engine.fire(case.id, "dispatch", actor="wangjg", to=["liuqiang"], note="联系网格城管派驻员协助处置")
    clock.set(bj(24, "10:05"))
    engine.fire(case.id, "feedback", actor="liuqiang", outcome="solved", note="店主已将商品搬回店内")
    done = engine.get(case.id)
    hops = [(e.trigger, e.actor, e.actor_unit, e.unit, e.to_state) for e in done.timeline[:3]]
    assert hops == [
        ("report", "wujing", STREET, STREET, "street_intake"),
        ("assign", "wujing", STREET, COMMUNITY_E, "community_intake"),
        ("assign", "zhoumin", COMMUNITY_E, GRID5, "reported"),
    ]
    assert [e.trigger for e in done.timeline[3:]] == ["verify", "dispatch", "feedback"]
    assert done.state == "to_check" and done.grid == GRID5
    # the import wrote a first entry that chains like any other
    with engine.store.read() as tx:
        entries = tx.timeline(case.id)
    assert entries[0].prev_hash is None
    for prev, entry in zip([None, *entries], entries, strict=False):
        assert entry.hash == entry_hash(entry)
        assert entry.prev_hash == (prev.hash if prev else None)


def test_import_writes_what_report_writes(engine: Engine, tmp_path: Path) -> None:
    """Same state, unit, deadline rows and timeline shape as Engine.report for the same order."""
    by_hand = engine.report(source="hotline", grid=GRID5, category="0102", desc="手工录入", actor="wujing",
                            ref="manual-1")
    src = write(tmp_path / "orders.csv", HEADER, f"T-1,12345,2026-11-24T08:00,,{GRID5},0102,导入,")
    imported = engine.get(engine.import_hotline(src, actor="wujing").case_ids[0])
    for field in ("state", "tier", "unit", "grid", "urgency", "version", "open", "created_at"):
        assert getattr(imported, field) == getattr(by_hand, field), field
    deadlines: dict[object, list[tuple[object, ...]]] = {}
    for r in rows(engine, "deadlines"):  # case_id -> the rest, minus the row id (a whole case's limit, if any)
        deadlines.setdefault(r[1], []).append(r[2:])
    assert deadlines.get(imported.id) == deadlines.get(by_hand.id)
    # the running step limit, on the case row (0006): the same
    stage = [c.name for c in Case.__table__.columns].index("stage_seq")
    cases = {r[0]: r[stage:] for r in rows(engine, "cases")}
    assert cases[imported.id][0] == 1 and cases[imported.id] == cases[by_hand.id]
    a, b = imported.timeline[0], by_hand.timeline[0]
    assert (a.trigger, a.actor, a.actor_role, a.actor_unit, a.unit, a.to_state) == (
        b.trigger, b.actor, b.actor_role, b.actor_unit, b.unit, b.to_state)
    assert "12345热线工单 T-1" in (a.note or "")


def test_reimport_creates_nothing_new(engine: Engine, tmp_path: Path) -> None:
    src = write(tmp_path / "orders.csv", HEADER, CASE_B,
                f"12345-1,12345,2026-11-24T08:05,,{GRID1},0104,垃圾,")
    first = engine.import_hotline(src, actor="wujing")
    before = engine.snapshot()
    again = engine.import_hotline(src, actor="wujing")
    assert (first.new, first.existing) == (2, 0)
    assert (again.new, again.existing, again.case_ids) == (0, 2, [])
    assert engine.snapshot() == before
    # a later file that repeats one ticket adds only the new one
    more = write(tmp_path / "more.jsonl", json.dumps({
        "ticket": "12345-2", "channel": 12345, "received_at": "2026-11-24T08:20:00+08:00", "grid": GRID5,
        "category": "0101", "description": "小广告"}, ensure_ascii=False), json.dumps({
        "ticket": "12345-1", "channel": "12345", "received_at": "2026-11-24T08:05", "grid": GRID1,
        "category": "0104", "description": "垃圾"}, ensure_ascii=False))
    third = engine.import_hotline(more, actor="wujing")
    assert (third.new, third.existing) == (1, 1)


BAD_ROWS = [
    "ok-1,12345,2026-11-24T08:00,,110106004005005,0101,小广告,",                   # line 2: good
    "bad-cat,12345,2026-11-24T08:00,,110106004005005,0109,未知类别,",              # 3 category
    "bad-ch,110,2026-11-24T08:00,,110106004005005,0101,报警电话,",                 # 4 channel
    "bad-time,12345,24/11/2026 8:00,,110106004005005,0101,时间格式,",              # 5 received_at
    "bad-grid,12345,2026-11-24T08:00,,1101060040,0101,网格编码太短,",              # 6 grid
    "no-where,12345,2026-11-24T08:00,,,0101,没有地址,",                             # 7 address
    "dup,12345,2026-11-24T08:00,,110106004005005,0101,第一次,",                     # 8 ticket
    "dup,12345,2026-11-24T08:00,,110106004005005,0101,第二次,",                     # 9 ticket
    "vague,12345,2026-11-24T08:00,E社区某处,,0101,只匹配到社区,",                  # 10 address: a community
    "nowhere,12345,2026-11-24T08:00,朝阳区某街道,,0101,无匹配,",                    # 11 address: none
    "unknown-grid,12345,2026-11-24T08:00,,110106004009009,0101,不存在的网格,",     # 12 grid
    "future,12345,2026-11-24T09:00,,110106004005005,0101,受理时间晚于导入,",       # 13 received_at
    ",12345,2026-11-24T08:00,,110106004005005,0101,没有工单号,",                    # 14 ticket
    "ok-2,96005,2026-11-24T08:10,东高地街道E社区9号楼门前,,0104,垃圾,139",         # 15 good (by address)
]
EXPECTED = {3: "category", 4: "channel", 5: "received_at", 6: "grid", 7: "address", 8: "ticket", 9: "ticket",
            10: "address", 11: "address", 12: "grid", 13: "received_at", 14: "ticket"}


def test_bad_rows_refuse_the_whole_file(engine: Engine, tmp_path: Path) -> None:
    src = write(tmp_path / "orders.csv", HEADER, *BAD_ROWS)
    before = engine.snapshot()
    with pytest.raises(BadRowsError) as err:
        engine.import_hotline(src, actor="wujing")
    assert {(p.row, p.field) for p in err.value.problems} == set(EXPECTED.items())
    assert err.value.exit_code == 2
    for row in EXPECTED:
        assert f"row {row}, {EXPECTED[row]}:" in err.value.message
    assert engine.snapshot() == before
    assert not (tmp_path / "orders.rejects.csv").exists()


def test_skip_bad_imports_the_good_rows_and_writes_rejects(engine: Engine, tmp_path: Path) -> None:
    src = write(tmp_path / "orders.csv", HEADER, *BAD_ROWS)
    result = engine.import_hotline(src, actor="wujing", skip_bad=True)
    assert (result.new, result.existing, result.bad_rows) == (2, 0, len(EXPECTED))
    assert sorted(c.ref or "" for c in engine.list()) == ["ok-1", "ok-2"]
    assert engine.get(result.case_ids[1]).grid == GRID5  # ok-2 routed by "E社区9号楼"
    assert result.rejects == str(tmp_path / "orders.rejects.csv")
    with open(result.rejects, encoding="utf-8-sig", newline="") as fh:
        rejected = list(csv.DictReader(fh))
    assert [int(r["rejected_row"]) for r in rejected] == sorted(EXPECTED)
    assert [r["rejected_field"] for r in rejected] == [EXPECTED[k] for k in sorted(EXPECTED)]
    assert "0109" in rejected[0]["rejected_reason"] and rejected[0]["description"] == "未知类别"
    # fix one rejected row in the reject file and import it: the extra columns are ignored
    fixed = tmp_path / "fixed.csv"
    with fixed.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rejected[0]))
        w.writeheader()
        w.writerow({**rejected[0], "category": "0101"})
    assert engine.import_hotline(fixed, actor="wujing").new == 1


def test_rejects_path_and_jsonl(engine: Engine, tmp_path: Path) -> None:
    src = write(tmp_path / "orders.jsonl",
                json.dumps({"ticket": "j-1", "channel": "96005", "received_at": "2026-11-24T08:00",
                            "grid": GRID5, "category": "0102", "description": "店外经营"}, ensure_ascii=False),
                "{not json",
                "",
                json.dumps(["a", "list"]),
                json.dumps({"ticket": "j-2", "channel": 96005, "received_at": "2026-11-24T08:00",
                            "grid": 110106004005005, "category": "0102", "description": "网格编码写成了数字"}))
    with pytest.raises(BadRowsError) as err:
        engine.import_hotline(src, actor="wujing")
    assert [(p.row, p.field) for p in err.value.problems] == [(2, "-"), (4, "-")]
    out = tmp_path / "elsewhere" / "bad.jsonl"
    out.parent.mkdir()
    result = engine.import_hotline(src, actor="wujing", skip_bad=True, rejects=out)
    assert result.new == 2 and result.rejects == str(out)
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [x["rejected_row"] for x in lines] == [2, 4] and lines[0]["raw_line"] == "{not json"


def _blind_on_the_second_look(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The import's second look for existing tickets finds none (as if another importer took one just after);
    the sizes of every look, in order."""
    from casecraft.store import intake_repo

    real = intake_repo.IntakeQueries.existing_refs
    calls: list[int] = []

    def blind_once(tx, source, refs):  # type: ignore[no-untyped-def]
        calls.append(len(refs))
        return {} if len(calls) == 2 else real(tx, source, refs)

    monkeypatch.setattr(intake_repo.IntakeQueries, "existing_refs", blind_once)
    return calls


def test_batches_progress_and_a_lost_race(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [f"b-{i},12345,2026-11-24T08:00,,{GRID5},0101,第{i}条," for i in range(7)]
    src = write(tmp_path / "orders.csv", HEADER, *lines)
    engine.import_hotline(write(tmp_path / "one.csv", HEADER, lines[3]), actor="wujing")
    # another importer took b-3 after we looked: the first look misses it, the batch retries
    calls = _blind_on_the_second_look(monkeypatch)
    seen: list[tuple[int, int]] = []
    result = engine.import_hotline(src, actor="wujing", batch_size=3, progress=lambda d, t: seen.append((d, t)))
    assert (result.new, result.existing) == (6, 1)
    assert seen == [(0, 7), (3, 7), (6, 7), (7, 7)]
    # batch 2 looked twice: again when its write failed, which is after batch 3 was looked at (a batch is
    # looked at while the one ahead of it is written)
    assert calls == [3, 3, 1, 3]
    assert sorted(c.ref or "" for c in engine.list()) == [f"b-{i}" for i in range(7)]


def test_a_lost_race_in_a_batch_written_in_one_statement(engine: Engine, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of 4 (on SQLite each batch's cases go in one statement, written without a savepoint): the batch
    that meets a ticket taken meanwhile leaves nothing behind and is written again without it."""
    from casecraft.audit.verify import verify

    lines = [f"c-{i},12345,2026-11-24T08:00,,{GRID5},0101,第{i}条," for i in range(9)]
    src = write(tmp_path / "orders.csv", HEADER, *lines)
    engine.import_hotline(write(tmp_path / "one.csv", HEADER, lines[5]), actor="wujing")
    calls = _blind_on_the_second_look(monkeypatch)
    result = engine.import_hotline(src, actor="wujing", batch_size=4)
    assert (result.new, result.existing) == (8, 1)
    assert calls == [4, 4, 1, 4]  # batch 2 looked at again after batch 3 was
    assert sorted(c.ref or "" for c in engine.list()) == [f"c-{i}" for i in range(9)]
    assert len(rows(engine, "timeline")) == running(engine) == len(rows(engine, "cases")) == 9
    assert verify(engine).ok


def test_duplicates_across_batches_are_left_out_under_skip_bad(engine: Engine, tmp_path: Path) -> None:
    """A ticket repeated in the file, batches apart, is a bad row each time: under --skip-bad no copy is written,
    the counts leave them out, and a ticket imported before stays as it was (its chain verifies)."""
    from casecraft.audit.verify import verify

    engine.import_hotline(write(tmp_path / "before.csv", HEADER,
                                f"old,12345,2026-11-24T08:00,,{GRID5},0101,早先导入,"), actor="wujing")
    lines = [f"d-{i},12345,2026-11-24T08:00,,{GRID5},0101,第{i}条," for i in range(8)]
    lines[6] = f"d-1,12345,2026-11-24T08:00,,{GRID5},0101,又一次d-1,"    # row 9: d-1 again, three batches later
    lines.insert(3, f"old,12345,2026-11-24T08:00,,{GRID5},0101,重复的旧单,")  # row 5: imported before
    lines.append(f"old,12345,2026-11-24T08:00,,{GRID5},0101,又一次旧单,")     # row 11: and again
    src = write(tmp_path / "orders.csv", HEADER, *lines)
    seen: list[tuple[int, int]] = []
    result = engine.import_hotline(src, actor="wujing", skip_bad=True, batch_size=2,
                                   progress=lambda d, t: seen.append((d, t)))
    assert {p.row: p.field for p in result.bad} == {3: "ticket", 5: "ticket", 9: "ticket", 11: "ticket"}
    assert (result.rows, result.new, result.existing, result.bad_rows) == (10, 6, 0, 4)
    refs = sorted(c.ref or "" for c in engine.list())
    assert refs == ["d-0", "d-2", "d-3", "d-4", "d-5", "d-7", "old"]
    assert sorted(result.case_ids) == sorted(c.id for c in engine.list() if c.ref != "old")
    assert len(rows(engine, "timeline")) == running(engine) == len(rows(engine, "cases")) == 7
    assert engine.get(next(c.id for c in engine.list() if c.ref == "old")).description == "早先导入"
    assert verify(engine).ok
    assert seen[0] == (0, 6) and seen[-1] == (6, 6) and seen == sorted(seen)
    # without --skip-bad the same file is refused whole
    before = engine.snapshot()
    with pytest.raises(BadRowsError) as err:
        engine.import_hotline(src, actor="wujing", batch_size=2)
    assert {p.row for p in err.value.problems} == {3, 5, 9, 11}
    assert engine.snapshot() == before


def test_a_late_bad_row_refuses_the_file_and_every_problem_is_listed(engine: Engine, tmp_path: Path) -> None:
    """Bad rows in later batches (a routing problem, a bad channel): the file is refused whole, every problem listed."""
    lines = [f"g-{i},12345,2026-11-24T08:00,,{GRID5},0101,第{i}条," for i in range(9)]
    lines[4] = "g-4,12345,2026-11-24T08:00,,110106004009009,0101,不存在的网格,"  # row 6: a routing problem
    lines[8] = "g-8,110,2026-11-24T08:00,,110106004005005,0101,报警电话,"        # row 10: a bad channel
    src = write(tmp_path / "orders.csv", HEADER, *lines)
    before = engine.snapshot()
    with pytest.raises(BadRowsError) as err:
        engine.import_hotline(src, actor="wujing", batch_size=2)
    assert [(p.row, p.field) for p in err.value.problems] == [(6, "grid"), (10, "channel")]
    assert engine.snapshot() == before
    result = engine.import_hotline(src, actor="wujing", batch_size=2, skip_bad=True)
    assert (result.new, result.bad_rows) == (7, 2)


def test_the_actor_must_be_the_streets_operator(engine: Engine, tmp_path: Path) -> None:
    src = write(tmp_path / "orders.csv", HEADER, CASE_B)
    with pytest.raises(PermissionDenied, match="operator"):
        engine.import_hotline(src, actor="wangjg")
    with pytest.raises(BadRowsError, match="not 高飞's to receive"):
        engine.import_hotline(src, actor="gaofei")  # a community operator: the street is not theirs
    with pytest.raises(InputError, match="unknown person"):
        engine.import_hotline(src, actor="nobody")
    engine.deactivate("wujing")
    with pytest.raises(PermissionDenied, match="deactivated"):
        engine.import_hotline(src, actor="wujing")
    assert engine.list() == []


def test_encodings(engine: Engine, tmp_path: Path) -> None:
    gbk = write(tmp_path / "gbk.csv", HEADER, CASE_B, encoding="gbk")
    with pytest.raises(InputError, match=r"not UTF-8.*GBK") as err:
        engine.import_hotline(gbk, actor="wujing")
    assert "iconv" in err.value.message
    utf16 = write(tmp_path / "u16.csv", HEADER, CASE_B, encoding="utf-16")
    with pytest.raises(InputError, match="UTF-16"):
        engine.import_hotline(utf16, actor="wujing")
    bom = write(tmp_path / "bom.csv", HEADER, CASE_B, encoding="utf-8-sig")
    assert engine.import_hotline(bom, actor="wujing").new == 1


def test_file_level_problems(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="lacks category"):
        engine.import_hotline(write(tmp_path / "h.csv", "ticket,channel,received_at,grid,description"),
                              actor="wujing")
    with pytest.raises(InputError, match="empty"):
        engine.import_hotline(write(tmp_path / "e.csv", ""), actor="wujing")
    with pytest.raises(InputError, match="cannot read"):
        engine.import_hotline(tmp_path / "missing.csv", actor="wujing")
    # Chinese header names work too
    zh = write(tmp_path / "zh.csv", "工单号,渠道,受理时间,地址,网格编码,事件类别,问题描述,联系方式",
               f"zh-1,12345,2026-11-24T08:00,,{GRID5},0101,小广告,")
    assert engine.import_hotline(zh, actor="wujing").new == 1


# --------------------------------------------------------------------------- CLI


def cc(db: Path, *args: str, at: str = "2026-11-24T08:40") -> Result:
    if not db.exists() and args[:1] != ("init",) and "--help" not in args:  # a sandbox database
        sandbox_db(f"sqlite:///{db}", None)
    res = CliRunner().invoke(app, ["--db", f"sqlite:///{db}", "--workflow", str(WORKFLOW), "--at", at, *args])
    assert "Traceback" not in res.output
    return res


def test_cli_worked_example_case_b(tmp_path: Path) -> None:
    db = tmp_path / "cc.db"
    assert cc(db, "init", "--sandbox").exit_code == 0
    src = write(tmp_path / "orders.csv", HEADER, CASE_B)
    first = cc(db, "hotline", "import", str(src), "--actor", "wujing")
    assert first.exit_code == 0, first.output
    assert "1 new, 0 already imported" in first.stdout
    again = cc(db, "hotline", "import", str(src), "--actor", "wujing")
    assert "0 new, 1 already imported" in again.stdout
    assert cc(db, "case", "fire", "1", "assign", "--actor", "wujing", at="2026-11-24T08:50").exit_code == 0
    assert cc(db, "case", "fire", "1", "assign", "--actor", "zhoumin", at="2026-11-24T09:02").exit_code == 0
    shown = json.loads(cc(db, "case", "show", "1", "--json").stdout)
    assert shown["grid"] == GRID5 and shown["ref"] == "96005-20261124-0031"
    assert [(e["trigger"], e["unit"]) for e in shown["timeline"]] == [
        ("report", STREET), ("assign", COMMUNITY_E), ("assign", GRID5)]


def test_cli_bad_rows_skip_bad_and_json(tmp_path: Path) -> None:
    db = tmp_path / "cc.db"
    src = write(tmp_path / "orders.csv", HEADER, *BAD_ROWS)
    refused = cc(db, "hotline", "import", str(src), "--actor", "wujing")
    assert refused.exit_code == 2
    for row, field in EXPECTED.items():
        assert f"row {row}, {field}:" in refused.stderr
    assert "nothing was imported" in refused.stderr
    assert json.loads(cc(db, "case", "list", "--json").stdout)["cases"] == []
    out = tmp_path / "rej.csv"
    done = cc(db, "hotline", "import", str(src), "--actor", "wujing", "--skip-bad", "--rejects", str(out), "--json")
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert (data["new"], data["existing"], data["bad"], data["rejects"]) == (2, 0, len(EXPECTED), str(out))
    gbk = write(tmp_path / "gbk.csv", HEADER, CASE_B, encoding="gbk")
    res = cc(db, "hotline", "import", str(gbk), "--actor", "wujing")
    assert res.exit_code == 2 and "not UTF-8" in res.stderr


def test_cli_help_and_samples(tmp_path: Path) -> None:
    assert "--skip-bad" in CliRunner().invoke(app, ["hotline", "import", "--help"]).stdout
    db = tmp_path / "cc.db"
    for sample in ("hotline-sample.csv", "hotline-sample.jsonl"):
        res = cc(db, "hotline", "import", str(ROOT / "samples" / sample), "--actor", "wujing", "--json")
        assert res.exit_code == 0, res.output
        data = json.loads(res.stdout)
        assert data["rows"] == 3 and data["bad"] == 0
    assert data["existing"] == 3  # the JSON Lines sample holds the CSV sample's tickets


def test_readme_shows_the_sample_file() -> None:
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```csv\n(.*?)```", readme, flags=re.S)
    assert (ROOT / "samples" / "hotline-sample.csv").read_text(encoding="utf-8") in blocks
    for column in ("ticket", "channel", "received_at", "address", "grid", "category", "description", "contact"):
        assert f"| `{column}` |" in readme


def test_cli_large_file_in_batches(tmp_path: Path) -> None:
    db = tmp_path / "cc.db"
    lines = [f"L-{i:05d},12345,2026-11-24T08:00,{'E社区9号楼' if i % 2 else ''},{'' if i % 2 else GRID1},0101,第{i}条,"
             for i in range(2100)]
    src = write(tmp_path / "big.csv", HEADER, *lines)
    res = cc(db, "hotline", "import", str(src), "--actor", "wujing")
    assert res.exit_code == 0, res.output
    assert "2100 new, 0 already imported" in res.stdout and "rows/s" in res.stdout
    grids = json.loads(cc(db, "case", "list", "--json", "--limit", "5000").stdout)["cases"]
    assert len(grids) == 2100 and {c["grid"] for c in grids} == {GRID1, GRID5}
    assert len({c["id"] for c in grids}) == 2100
