"""Backup and restore: `casecraft export` then `import-backup` reproduces every row of every table.

The source database holds the worked example (cases, timelines, deadlines,
alerts, deliveries, the calendar, the organisation) plus a row in each table
the example does not fill, so every table of the schema is covered. The
restored database must equal the source row for row (all tables of
``models.metadata``, not only those ``Engine.snapshot`` lists), its chains must
verify, and the engine must carry on there (new ids follow the restored ones).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from casecraft import Engine, FixedClock, InputError, RuleError
from casecraft.audit import backup
from casecraft.audit import verify as audit
from casecraft.cli.main import app
from casecraft.demo import run_demo
from casecraft.store import db as dbmod
from casecraft.store import models
from tests.conftest import WORKFLOW, bj, migrated, sandbox, snapshot

runner = CliRunner()
GRID5 = "110106004005005"
TABLES = [t.name for t in models.metadata.sorted_tables]


def full_snapshot(eng: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the schema, in primary-key order."""
    with eng.store.read() as tx:
        return {name: tx.table_rows(name) for name in TABLES}


def url_of(eng: Engine) -> str:
    return eng.store.engine.url.render_as_string(hide_password=False)


def fill(url: str) -> Engine:
    """The worked example, plus one row in each table it leaves empty and a JSON null."""
    clock = FixedClock(bj(24, "08:30"))
    eng = sandbox(url, clock)
    cases = run_demo(eng, clock)
    from casecraft.admin.auth import issue_token

    issue_token(eng.ctx, "wangjg", actor=None)  # a credential
    photo = Path(tempfile.mkdtemp()) / "stairs.png"
    from PIL import Image

    Image.new("RGB", (8, 8), (200, 30, 30)).save(photo, "PNG")
    eng.add_log(grid=GRID5, actor="wangjg", text="楼道照明不足", photos=[str(photo)])  # a stored file
    raw = sa.create_engine(url_of(eng))
    with raw.begin() as conn:
        run = conn.execute(sa.insert(models.EvaluationRun.__table__).values(
            key="monthly:2026-11", period="2026-11", workflow_version_id=1, computed_at=bj(30, "20:00"),
            trigger="manual").returning(models.EvaluationRun.__table__.c.id)).scalar_one()
        conn.execute(sa.insert(models.EvaluationResult.__table__).values(
            run_id=run, period="2026-11", level="grid", unit_code=GRID5, parent_code="110106004005",
            figures={"self_handling_rate": {"num": 2, "den": 3, "value": 2 / 3}}, score=87.5, grade="B", rank=1))
        # a JSON null (not SQL NULL) in a nullable JSON column must survive as such
        conn.execute(sa.text("UPDATE cases SET feedback = 'null' WHERE id = :c"), {"c": cases["A"].id})
    raw.dispose()
    assert all(full_snapshot(eng)[t] for t in TABLES), "every table should hold a row"
    return eng


def sql_nulls(eng: Engine) -> tuple[int, int]:
    with sa.create_engine(url_of(eng)).connect() as conn:
        return (conn.execute(sa.text("SELECT COUNT(*) FROM cases WHERE feedback IS NULL")).scalar_one(),
                conn.execute(sa.text("SELECT COUNT(*) FROM cases WHERE extension_request IS NULL")).scalar_one())


@pytest.fixture
def source(db_url: str) -> Iterator[Engine]:
    def filled() -> datetime:
        eng = fill(db_url)
        eng.close()
        return eng.clock.now()

    now = snapshot(db_url, ("backup source",), filled)  # filled once per backend, then copied
    eng = Engine(db_url, WORKFLOW, FixedClock(now))
    yield eng
    eng.close()


@pytest.fixture
def target_sqlite(tmp_path: Path) -> Iterator[Engine]:
    eng = migrated(f"sqlite:///{tmp_path / 'restored.db'}", FixedClock(bj(26, "09:00")))
    yield eng
    eng.close()


@pytest.fixture
def target_pg(pg_url: str) -> Iterator[Engine]:
    eng = migrated(pg_url, FixedClock(bj(26, "09:00")))
    yield eng
    eng.close()


def carry_on(eng: Engine, before: dict[str, list[tuple[Any, ...]]]) -> None:
    """The restored database works: a new case gets the next id, an alert the next alert id."""
    new = eng.report(source="patrol", grid=GRID5, category="0104", desc="暴露垃圾", actor="wangjg")
    assert new.id == max(r[0] for r in before["cases"]) + 1
    eng.fire(new.id, "resolve", actor="wangjg")
    eng.urge(new.id, actor="duyan", note="请尽快核查")
    assert max(a.id for a in eng.alerts()) == max(r[0] for r in before["alerts"]) + 1
    assert audit.verify(eng).ok


@pytest.mark.parametrize("to", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_export_then_import_reproduces_every_row(source: Engine, to: str, tmp_path: Path,
                                                request: pytest.FixtureRequest) -> None:
    """Same backend and across backends (SQLite → PostgreSQL is how a deployment moves)."""
    target: Engine = request.getfixturevalue(f"target_{'pg' if to == 'postgresql' else 'sqlite'}")
    before = full_snapshot(source)
    file = tmp_path / "backup.jsonl"
    written = backup.export(source, file)
    assert written.rows == {t: len(before[t]) for t in TABLES}
    restored = backup.import_backup(target, file)
    assert restored.rows == written.rows
    assert full_snapshot(target) == before
    assert sql_nulls(target) == sql_nulls(source)
    report = audit.verify(target)
    assert report.ok and report.cases == 3 and report.digest == audit.verify(source).digest
    carry_on(target, before)


def test_the_file_is_json_lines_with_utc_times(source: Engine, tmp_path: Path) -> None:
    file = tmp_path / "b.jsonl"
    backup.export(source, file)
    lines = [json.loads(x) for x in file.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["casecraft_backup"] == 1 and lines[0]["schema"] == dbmod.HEAD
    assert lines[0]["tables"] == TABLES
    assert set(lines[-1]["end"]) == {"rows", "sha256"}
    rows = [x for x in lines[1:-1]]
    assert [x["table"] for x in rows] == sorted((x["table"] for x in rows), key=TABLES.index)
    entry = next(x["row"] for x in rows if x["table"] == "timeline")
    assert entry["at"].endswith("+00:00") and entry["at"].startswith("2026-11-24T00:40")  # 08:40 Beijing
    assert any(x["table"] == "cases" and x.get("json_null") == ["feedback"] for x in rows)
    assert "居民来电" in file.read_text(encoding="utf-8")  # Chinese stays readable


def test_a_backup_taken_before_an_index_only_migration_restores(source: Engine, target_sqlite: Engine,
                                                               tmp_path: Path) -> None:
    """Migration 0005 added indexes only: last week's backup (schema 0004, taken before the upgrade) holds
    the rows of this schema and restores; an older one is refused (test_a_damaged_file_is_refused_...)."""
    assert dbmod.SAME_ROWS[-1] == dbmod.HEAD  # a new migration decides whether older backups still fit
    file = tmp_path / "b.jsonl"
    backup.export(source, file)
    lines = file.read_text(encoding="utf-8").splitlines(keepends=True)
    header = json.loads(lines[0])
    body = [json.dumps({**header, "schema": "0004"}, ensure_ascii=False) + "\n", *lines[1:-1]]
    end = json.loads(lines[-1])
    end["end"]["sha256"] = hashlib.sha256("".join(body).encode("utf-8")).hexdigest()
    old = tmp_path / "last-week.jsonl"
    old.write_text("".join(body) + json.dumps(end) + "\n", encoding="utf-8")
    before = full_snapshot(source)
    backup.import_backup(target_sqlite, old)
    assert full_snapshot(target_sqlite) == before
    assert audit.verify(target_sqlite).ok


def test_a_backup_taken_before_0006_restores_with_its_running_limits_on_the_cases(
        source: Engine, target_sqlite: Engine, tmp_path: Path) -> None:
    """A backup of schema 0005 holds a running step limit as an open deadlines row and no stage columns on the
    cases: it restores with each running limit moved onto its case row, keeping the row's id (as migration
    0006 moves them), and the chain verifies."""
    source.report(source="patrol", grid=GRID5, category="0101", desc="小广告", actor="wangjg")  # still running
    file = tmp_path / "b.jsonl"
    backup.export(source, file)
    lines = [json.loads(x) for x in file.read_text(encoding="utf-8").splitlines()]
    rows = lines[1:-1]
    next_id = 1 + max((r["row"]["id"] for r in rows if r["table"] == "deadlines"), default=0)
    moved: dict[int, int] = {}  # case id -> the id its running limit's row gets
    old_rows: list[dict[str, Any]] = []
    for r in rows:
        if r["table"] != "cases":
            continue
        stage = {k.removeprefix("stage_"): r["row"].pop(k) for k in list(r["row"]) if k.startswith("stage_")}
        if stage["seq"] is not None:
            del stage["row_id"]
            moved[r["row"]["id"]] = next_id
            old_rows.append({"table": "deadlines",
                             "row": {"id": next_id, "case_id": r["row"]["id"], "kind": "step", **stage}})
            next_id += 1
    assert moved  # the example has running limits
    last = max(i for i, r in enumerate(rows) if TABLES.index(r["table"]) <= TABLES.index("deadlines"))
    rows[last + 1:last + 1] = old_rows
    body = [json.dumps({**lines[0], "schema": "0005"}, ensure_ascii=False) + "\n",
            *(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)]
    end = lines[-1]
    end["end"]["rows"]["deadlines"] = end["end"]["rows"].get("deadlines", 0) + len(old_rows)
    end["end"]["sha256"] = hashlib.sha256("".join(body).encode("utf-8")).hexdigest()
    old = tmp_path / "before-0006.jsonl"
    old.write_text("".join(body) + json.dumps(end) + "\n", encoding="utf-8")

    backup.import_backup(target_sqlite, old)
    before, after = full_snapshot(source), full_snapshot(target_sqlite)
    assert after["deadlines"] == before["deadlines"]  # the running limits' rows are gone again
    row_id = [c.name for c in models.Case.__table__.columns].index("stage_row_id")
    for was, now in zip(before["cases"], after["cases"], strict=True):
        assert now[row_id] == moved.get(int(str(now[0])))
        assert now[:row_id] + now[row_id + 1:] == was[:row_id] + was[row_id + 1:]
    assert audit.verify(target_sqlite).ok


def test_import_refuses_a_database_that_is_not_empty(source: Engine, tmp_path: Path) -> None:
    file = tmp_path / "b.jsonl"
    backup.export(source, file)
    before = full_snapshot(source)
    with pytest.raises(RuleError, match="is not empty"):
        backup.import_backup(source, file)
    assert full_snapshot(source) == before


def _broken(lines: list[str]) -> dict[str, str]:
    body = "".join(lines)
    edited = body.replace("已将小广告全部清除", "未清除", 1)
    header = json.loads(lines[0])
    return {
        "truncated": "".join(lines[:-5]),
        "no end line": "".join(lines[:-1]),
        "edited row": edited,
        "crlf": body.replace("\n", "\r\n"),
        "old schema": json.dumps({**header, "schema": "0002"}) + "\n" + "".join(lines[1:]),
        "not a backup": '{"hello": "world"}\n',
        "not json": "id,state\n1,closed\n",
        "empty": "",
        "text after the end": body + lines[1],
    }


def test_a_damaged_file_is_refused_and_nothing_is_written(source: Engine, target_sqlite: Engine,
                                                          tmp_path: Path) -> None:
    file = tmp_path / "b.jsonl"
    backup.export(source, file)
    lines = file.read_text(encoding="utf-8").splitlines(keepends=True)
    for name, text in _broken(lines).items():
        bad = tmp_path / "bad.jsonl"
        bad.write_bytes(text.encode("utf-8"))
        with pytest.raises(InputError) as info:
            backup.import_backup(target_sqlite, bad)
        assert "nothing was imported" in info.value.message, name
        assert not any(full_snapshot(target_sqlite).values()), name
    with pytest.raises(InputError, match="no backup file"):
        backup.import_backup(target_sqlite, tmp_path / "missing.jsonl")


def test_a_row_the_database_refuses_rolls_everything_back(source: Engine, target_sqlite: Engine,
                                                          tmp_path: Path) -> None:
    """A consistent file whose timeline points at a case that is not in it: the foreign key refuses."""
    file = tmp_path / "b.jsonl"
    backup.export(source, file)
    lines = [json.loads(x) for x in file.read_text(encoding="utf-8").splitlines()]
    rows = [x for x in lines[1:-1] if not (x["table"] == "cases" and x["row"]["id"] == 1)
            and x["table"] not in ("deadlines", "alerts", "deliveries")]
    import hashlib

    from casecraft.audit.backup import _line  # the writer's own line format, to build a valid checksum

    digest = hashlib.sha256()
    out = []
    for obj in [lines[0], *rows]:
        text = _line(obj)
        digest.update(text.encode())
        out.append(text)
    counts: dict[str, int] = {}
    for x in rows:
        counts[x["table"]] = counts.get(x["table"], 0) + 1
    out.append(_line({"end": {"rows": counts, "sha256": digest.hexdigest()}}))
    file.write_text("".join(out), encoding="utf-8")
    with pytest.raises(InputError, match="the database refused a row"):
        backup.import_backup(target_sqlite, file)
    assert not any(full_snapshot(target_sqlite).values())


def test_the_cli_exports_and_imports(source: Engine, tmp_path: Path) -> None:
    file = tmp_path / "cli.jsonl"
    out = runner.invoke(app, ["--db", url_of(source), "export", str(file), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["rows"]["cases"] == 3
    target = f"sqlite:///{tmp_path / 'cli.db'}"
    got = runner.invoke(app, ["--db", target, "import-backup", str(file)])
    assert got.exit_code == 0, got.output
    assert "every chain intact" in got.stdout
    again = runner.invoke(app, ["--db", target, "import-backup", str(file)])
    assert again.exit_code == 1 and "is not empty" in again.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text("garbage\n", encoding="utf-8")
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    refused = runner.invoke(app, ["--db", fresh, "import-backup", str(bad)])
    assert refused.exit_code == 2 and "nothing was imported" in refused.stderr
    unwritable = runner.invoke(app, ["--db", url_of(source), "export", str(tmp_path / "no" / "such" / "x.jsonl")])
    assert unwritable.exit_code == 2 and "cannot write the backup" in unwritable.stderr
    assert not list(tmp_path.glob(".*.tmp*"))  # no half-written file left behind
