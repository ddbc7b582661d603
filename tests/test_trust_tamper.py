"""Every tampering of issue 14 item 4 is found; seals find what chains alone cannot; forged backups never restore.

The worked example's three cases are built through the engine; then someone
with write access to the database changes it behind the engine's back (raw
SQL on a connection of their own). Each kind of change must be named by
``audit verify`` (or by ``audit verify --against SEAL`` for the changes that
leave every chain consistent: a whole history rewritten, truncated, deleted).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from casecraft import Engine, FixedClock, InputError, RuleError
from casecraft.audit import backup
from casecraft.audit import seal as sealing
from casecraft.audit import verify as audit
from casecraft.cases.timeline import entry_hash
from casecraft.cli.main import app
from casecraft.demo import run_demo
from tests.conftest import WORKFLOW, bj, migrated, sandbox, snapshot

runner = CliRunner()


@pytest.fixture
def demo(db_url: str, tmp_path: Path) -> Iterator[tuple[Engine, dict[str, int]]]:
    def play() -> dict[str, int]:
        clock = FixedClock(bj(24, "08:30"))
        with sandbox(db_url, clock) as eng:
            cases = run_demo(eng, clock)
            photo = tmp_path / "after.png"
            from PIL import Image

            Image.new("RGB", (16, 16), (10, 200, 60)).save(photo, "PNG")
            clock.set(bj(25, "09:00"))
            eng.add_log(grid="110106004005005", actor="wangjg", text="走访商户", photos=[str(photo)])
            eng.sweep()
        return {k: v.id for k, v in cases.items()}

    ids = snapshot(db_url, ("the worked example, a log, a sweep",), play)  # once per backend, then copied
    eng = Engine(db_url, WORKFLOW, FixedClock(bj(25, "09:00")))
    yield eng, ids
    eng.close()


def sql(eng: Engine, statement: str, **params: Any) -> list[dict[str, Any]]:
    raw = sa.create_engine(eng.store.engine.url.render_as_string(hide_password=False))
    try:
        with raw.begin() as conn:
            res = conn.execute(sa.text(statement), params)
            return [dict(r) for r in res.mappings()] if res.returns_rows else []
    finally:
        raw.dispose()


def kinds(eng: Engine) -> set[str]:
    return {f.kind for f in audit.verify(eng).findings}


def test_the_untouched_database_verifies(demo: tuple[Engine, dict[str, int]]) -> None:
    eng, _ = demo
    report = audit.verify(eng)
    assert report.ok, report.findings
    assert report.chains["admin"] >= 1 and report.chains["logs"] == 1 and report.chains["alerts"] >= 1


@pytest.mark.parametrize("column,value", [
    ("source", "'hotline'"), ("reporter_id", "'lixia'"), ("category_code", "'0104'"),
    ("created_at", ""), ("resolved_tier", "'community'"), ("is_open", ":t"), ("grid_code", "'110106004005001'"),
])
def test_case_fields_the_evaluation_reads_are_covered(demo: tuple[Engine, dict[str, int]], column: str,
                                                       value: str) -> None:
    eng, cases = demo
    if column == "created_at":  # a day earlier
        earlier = ("created_at - INTERVAL '1 day'" if eng.store.dialect == "postgresql"
                   else "datetime(created_at, '-1 day')")
        sql(eng, f"UPDATE cases SET created_at = {earlier} WHERE id = :c", c=cases["A"])
    else:
        sql(eng, f"UPDATE cases SET {column} = {value} WHERE id = :c", t=True, c=cases["A"])
    found = audit.verify(eng).findings
    assert any(f.case == cases["A"] and f.kind == "case" and column in f.message for f in found), found


def test_closing_a_case_without_a_step_is_found(demo: tuple[Engine, dict[str, int]]) -> None:
    eng, _ = demo
    other = eng.report(source="patrol", grid="110106004005005", category="0101", desc="小广告", actor="wangjg")
    sql(eng, "UPDATE cases SET state = 'closed', is_open = :f, closed_at = updated_at WHERE id = :c", f=False,
        c=other.id)
    assert "case" in kinds(eng)


def test_an_edited_deadline_is_found(demo: tuple[Engine, dict[str, int]]) -> None:
    eng, cases = demo
    sql(eng, "UPDATE deadlines SET due_at = due_at + INTERVAL '1 day' WHERE case_id = :c AND kind = 'case'"
        if eng.store.dialect == "postgresql" else
        "UPDATE deadlines SET due_at = datetime(due_at, '+1 day') WHERE case_id = :c AND kind = 'case'",
        c=cases["C"])
    found = [f for f in audit.verify(eng).findings if f.kind == "deadline"]
    assert found and found[0].case == cases["C"] and "due_at" in found[0].message


def test_a_forged_acknowledgement_is_found(demo: tuple[Engine, dict[str, int]]) -> None:
    eng, _ = demo
    alert = eng.alerts()[0]
    sql(eng, "UPDATE alerts SET acked_by = 'zhoumin', acked_at = raised_at WHERE id = :a", a=alert.id)
    found = [f for f in audit.verify(eng).findings if f.kind == "ack"]
    assert found and "forged" in found[0].message


def test_renaming_a_person_is_found_and_history_keeps_the_name(demo: tuple[Engine, dict[str, int]]) -> None:
    eng, cases = demo
    sql(eng, "UPDATE people SET name = '王二' WHERE id = 'wangjg'")
    assert any(f.kind == "org" and "wangjg" in f.message for f in audit.verify(eng).findings)
    # the timeline still says who acted, as they were
    assert {e.actor_name for e in eng.get(cases["A"]).timeline if e.actor == "wangjg"} == {"王建国"}


def test_changing_an_attachment_is_found(demo: tuple[Engine, dict[str, int]]) -> None:
    eng, _ = demo
    (row,) = sql(eng, "SELECT sha256 FROM files")
    sql(eng, "UPDATE files SET data = :d WHERE sha256 = :s", d=b"not the photo", s=row["sha256"])
    assert "file" in kinds(eng)
    sql(eng, "DELETE FROM files")
    assert "file" in kinds(eng)


def test_a_backfilled_log_day_inserted_by_sql_is_found(demo: tuple[Engine, dict[str, int]]) -> None:
    eng, _ = demo
    sql(eng, "INSERT INTO sentiment_logs (grid_code, actor_id, day, at, text, attachments, backfill) "
        "VALUES ('110106004005005', 'wangjg', '2026-11-20', :at, '补记', '[]', :f)", at=bj(20, "18:00"), f=False)
    assert "log" in kinds(eng)


def test_the_sandbox_flag_set_by_sql_is_found(db_url: str) -> None:
    eng = sandbox(db_url, FixedClock(bj(24, "09:00")))
    sql(eng, "DELETE FROM ledger WHERE chain = 'admin' AND kind = 'db.sandbox'")
    assert "meta" in kinds(eng)
    eng.close()


# ------------------------------------------------------------------------------------------- seals
def test_a_seal_finds_consistent_rewrites_truncation_and_deletion(demo: tuple[Engine, dict[str, int]],
                                                                  tmp_path: Path) -> None:
    eng, cases = demo
    key = bytes.fromhex(sealing.new_key())
    sealed = sealing.seal(eng, key)
    seal_file = tmp_path / "seal.json"
    seal_file.write_text(json.dumps(sealed), encoding="utf-8")
    assert sealing.check_against(eng, sealing.read_seal(seal_file, key)) == []

    # truncation: the newest entry of case B removed, the case row put back to match (the chain stays consistent)
    b = cases["B"]
    last = sql(eng, "SELECT seq, prev_hash, from_state FROM timeline WHERE case_id = :c ORDER BY seq DESC", c=b)[0]
    sql(eng, "DELETE FROM timeline WHERE case_id = :c AND seq = :s", c=b, s=last["seq"])
    sql(eng, "UPDATE cases SET version = :v, last_hash = :h, state = :st, is_open = :t, closed_at = NULL "
        "WHERE id = :c", v=last["seq"] - 1, h=last["prev_hash"], st=last["from_state"], t=True, c=b)
    # a consistent rewrite of case A's note, every hash recomputed down the chain and on the case row
    a = cases["A"]
    rows = sql(eng, "SELECT * FROM timeline WHERE case_id = :c ORDER BY seq", c=a)
    prev = None
    for r in rows:
        r["prev_hash"] = prev
        if r["seq"] == 2:
            r["note"] = "改写的记录"
        for k in ("targets", "attachments", "facts", "deadline_facts"):
            if isinstance(r[k], str):
                r[k] = json.loads(r[k])
        r["hash"] = entry_hash(r)
        prev = r["hash"]
        sql(eng, "UPDATE timeline SET note = :n, prev_hash = :p, hash = :h WHERE id = :i", n=r["note"],
            p=r["prev_hash"], h=r["hash"], i=r["id"])
    sql(eng, "UPDATE cases SET last_hash = :h WHERE id = :c", h=prev, c=a)
    # deletion of case C with everything that names it
    c = cases["C"]
    for table in ("deliveries",):
        sql(eng, f"DELETE FROM {table} WHERE alert_id IN (SELECT id FROM alerts WHERE case_id = :c)", c=c)
    for table in ("alerts", "deadlines", "timeline"):
        sql(eng, f"DELETE FROM {table} WHERE case_id = :c", c=c)
    sql(eng, "DELETE FROM cases WHERE id = :c", c=c)

    found = {(f.case, f.kind) for f in sealing.check_against(eng, sealing.read_seal(seal_file, key))}
    assert {(b, "truncated"), (a, "rewritten"), (c, "deleted")} <= found
    # the CLI says the same and exits 1
    key_file = tmp_path / "seal.key"
    key_file.write_text(key.hex(), encoding="ascii")
    result = runner.invoke(app, ["--db", eng.store.engine.url.render_as_string(hide_password=False), "audit",
                                 "verify", "--against", str(seal_file), "--key-file", str(key_file)])
    assert result.exit_code == 1 and "truncated" in result.stdout and "rewritten" in result.stdout


def test_an_edited_seal_or_a_wrong_key_is_refused(demo: tuple[Engine, dict[str, int]], tmp_path: Path) -> None:
    eng, _ = demo
    key = bytes.fromhex(sealing.new_key())
    doc = sealing.seal(eng, key)
    doc["cases"] = {}
    path = tmp_path / "seal.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(InputError, match="does not match its signature"):
        sealing.read_seal(path, key)
    path.write_text(json.dumps(sealing.seal(eng, key)), encoding="utf-8")
    with pytest.raises(InputError, match="does not match its signature"):
        sealing.read_seal(path, bytes.fromhex(sealing.new_key()))
    with pytest.raises(InputError, match="cannot use .*missing.json.*No such file"):  # not "is not a seal"
        sealing.read_seal(tmp_path / "missing.json", key)


def test_sealing_a_tampered_database_is_refused(demo: tuple[Engine, dict[str, int]]) -> None:
    eng, cases = demo
    sql(eng, "UPDATE timeline SET note = 'x' WHERE case_id = :c AND seq = 1", c=cases["A"])
    with pytest.raises(RuleError, match="does not verify"):
        sealing.seal(eng, bytes.fromhex(sealing.new_key()))


# ------------------------------------------------------------------------------------------- backups
def _forge(src: Path, dst: Path, change: Any) -> None:
    """Edit rows of a backup and recompute its checksum (what a forger can do without the key)."""
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    body = [json.loads(x) for x in lines[:-1]]
    end = json.loads(lines[-1])
    for item in body:
        change(item)
    text = [json.dumps(x, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n" for x in body]
    end["end"]["sha256"] = hashlib.sha256("".join(text).encode()).hexdigest()
    dst.write_text("".join(text) + json.dumps(end, sort_keys=True) + "\n", encoding="utf-8")


def _edit_note(item: dict[str, Any]) -> None:
    if item.get("table") == "timeline" and item["row"]["seq"] == 2:
        item["row"]["note"] = "伪造的记录"


def test_a_forged_backup_never_restores(demo: tuple[Engine, dict[str, int]], tmp_path: Path) -> None:
    eng, _ = demo
    good = tmp_path / "good.jsonl"
    backup.export(eng, good)
    forged = tmp_path / "forged.jsonl"
    _forge(good, forged, _edit_note)
    target = migrated(f"sqlite:///{tmp_path / 'target.db'}")
    with pytest.raises(RuleError, match="do not verify"):
        backup.import_backup(target, forged)
    with target.store.read() as tx:  # rolled back whole: nothing at all was kept
        assert tx.count_units() == 0 and tx.latest_version() is None
    backup.import_backup(target, good)
    assert audit.verify(target).ok
    target.close()


def test_signed_backups_need_their_key_and_refuse_a_recomputed_checksum(demo: tuple[Engine, dict[str, int]],
                                                                         tmp_path: Path) -> None:
    eng, _ = demo
    key = bytes.fromhex(sealing.new_key())
    signed = tmp_path / "signed.jsonl"
    backup.export(eng, signed, key=key)
    assert (signed.stat().st_mode & 0o777) == 0o600

    def change(item: dict[str, Any]) -> None:  # a change no chain covers: one calendar day's note
        if item.get("table") == "calendar_days" and item["row"]["day"] == "2026-12-25":
            item["row"]["note"] = "圣诞"

    forged = tmp_path / "forged.jsonl"
    _forge(signed, forged, change)
    # keep the signature line as it was: the forger cannot make a new one
    lines = forged.read_text(encoding="utf-8").splitlines(keepends=True)
    end = json.loads(lines[-1])
    end["end"]["hmac_sha256"] = json.loads(signed.read_text(encoding="utf-8").splitlines()[-1])["end"]["hmac_sha256"]
    forged.write_text("".join(lines[:-1]) + json.dumps(end, sort_keys=True) + "\n", encoding="utf-8")
    unsigned = tmp_path / "unsigned.jsonl"
    backup.export(eng, unsigned)
    for name, path, with_key, phrase in [("wrong key", signed, bytes.fromhex(sealing.new_key()), "not signed with"),
                                         ("no key", signed, None, "is signed"),
                                         ("forged", forged, key, "not signed with"),
                                         ("unsigned", unsigned, key, "is not signed, but a key was given")]:
        target = migrated(f"sqlite:///{tmp_path / (name.replace(' ', '_') + '.db')}")
        with pytest.raises(InputError, match=phrase):
            backup.import_backup(target, path, key=with_key)
        target.close()
    target = migrated(f"sqlite:///{tmp_path / 'ok.db'}")
    backup.import_backup(target, signed, key=key)
    assert audit.verify(target).ok
    target.close()
