"""Citizens' contacts (issue 14): masked in every output; revealed only to the workflow's contact_roles, logged.

A hotline work order brings a caller's clear contact (``13912345678 张女士``);
every command that prints the case — text and JSON — shows ``139****5678 张**``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
import typer
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from casecraft import Engine
from casecraft.base.views import mask_contact
from casecraft.cli.main import app
from tests.conftest import ROOT, WORKFLOW, snapshot

CLEAR = "13912345678 张女士"
MASKED = "139****5678 张**"
SECRETS = ("13912345678", "12345678", "女士")
GRID5 = "110106004005005"
HOTLINE = ("ticket,channel,received_at,address,grid,category,description,contact\n"
           f"T-1,12345,2026-11-24T08:05,,{GRID5},0103,路边摊占道,{CLEAR}\n")


def run(db: Path, *args: str, at: str | None = "2026-11-24T09:30", token: str | None = None) -> Result:
    env = {"CASECRAFT_NOW": at or "", "CASECRAFT_TOKEN": token or ""}
    result = CliRunner().invoke(app, ["--db", f"sqlite:///{db}", "--workflow", str(WORKFLOW), *args], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def no_clear_contact(result: Result, what: str) -> None:
    for secret in SECRETS:
        assert secret not in result.output, f"`{what}` printed the contact in clear:\n{result.output}"


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A sandbox with case 1, a hotline work order carrying a caller's clear contact."""
    monkeypatch.chdir(tmp_path)
    for var in ("CASECRAFT_NOW", "CASECRAFT_DB", "CASECRAFT_WORKFLOW", "CASECRAFT_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    db = tmp_path / "s.db"
    (tmp_path / "h.csv").write_text(HOTLINE, encoding="utf-8")

    def build() -> None:
        assert run(db, "init", "--sandbox", at=None).exit_code == 0
        imported = run(db, "hotline", "import", "h.csv", "--actor", "wujing", at="2026-11-24T09:00")
        assert imported.exit_code == 0, imported.output

    # made by those two commands once per session, then copied (conftest.snapshot)
    snapshot(f"sqlite:///{db}", ("privacy: a sandbox with the hotline order imported",), build)
    return db


# every command that prints a case, in an order the workflow allows (case 1 sits at the street platform)
CASE_COMMANDS: list[tuple[str, ...]] = [
    ("case", "show", "1"),
    ("case", "list"),
    ("case", "triggers", "1", "--actor", "wujing"),
    ("case", "urge", "1", "--actor", "duyan", "--note", "请尽快办理"),
    ("case", "request-extension", "1", "--actor", "wujing", "--by", "1 working hour", "--note", "需核实地址"),
    ("case", "approve-extension", "1", "--actor", "fengzr"),
    ("case", "request-extension", "1", "--actor", "wujing", "--by", "1 working hour", "--note", "再核实"),
    ("case", "deny-extension", "1", "--actor", "fengzr", "--note", "不同意"),
    ("case", "extend", "1", "--actor", "fengzr", "--by", "1 working hour", "--note", "领导批准"),
    ("case", "park", "1", "--actor", "fengzr", "--note", "涉及产权纠纷"),
    ("case", "unpark", "1", "--actor", "fengzr"),
    ("case", "fire", "1", "assign", "--actor", "wujing"),
    ("case", "report", "--source", "patrol", "--grid", GRID5, "--category", "0101", "--desc", "小广告", "--actor",
     "wangjg"),
]
NOT_PRINTING_A_CASE = {"photo"}  # writes an attachment to a file


def test_every_case_command_is_covered() -> None:
    group = typer.main.get_command(app).commands["case"]  # type: ignore[attr-defined]
    covered = {c[1] for c in CASE_COMMANDS}
    assert set(group.commands) - NOT_PRINTING_A_CASE <= covered


def test_no_command_prints_a_clear_contact(sandbox: Path) -> None:
    db = sandbox
    for i, args in enumerate(CASE_COMMANDS):
        at = f"2026-11-24T09:{30 + i:02d}"
        if args[1] in ("show", "list", "triggers"):
            for variant in (args, (*args, "--json")):
                result = run(db, *variant, at=at)
                assert result.exit_code == 0, (variant, result.output)
                no_clear_contact(result, " ".join(variant))
            continue
        result = run(db, *args, "--json", at=at)
        assert result.exit_code == 0, (args, result.output)
        no_clear_contact(result, " ".join(args))
        data = json.loads(result.stdout)
        if data["id"] == 1:
            assert data["contact"] == MASKED
    shown = run(db, "case", "show", "1")
    assert MASKED in shown.stdout
    assert json.loads(run(db, "case", "show", "1", "--json").stdout)["contact"] == MASKED
    listed = json.loads(run(db, "case", "list", "--json").stdout)["cases"]
    assert [c["contact"] for c in listed] == [MASKED, None]
    for args in (("alerts", "list", "--json"), ("audit", "verify"), ("audit", "verify", "--json"),
                 ("admin", "log", "--json"), ("report", "case-stats", "--month", "2026-11", "--json")):
        result = run(db, *args, at="2026-12-01T09:00")
        assert result.exit_code == 0, (args, result.output)
        no_clear_contact(result, " ".join(args))
    with Engine(f"sqlite:///{db}", WORKFLOW) as eng:  # still stored in full
        assert eng.snapshot()["cases"][0].count(CLEAR) == 1


def test_audit_verify_masks_the_contact_it_names(sandbox: Path) -> None:
    raw = sa.create_engine(f"sqlite:///{sandbox}")
    with raw.begin() as conn:
        conn.execute(sa.text("UPDATE cases SET contact = '13800001111 李四' WHERE id = 1"))
    raw.dispose()
    for args in (("audit", "verify"), ("audit", "verify", "--json")):
        result = run(sandbox, *args)
        assert result.exit_code == 1 and "contact" in result.output
        no_clear_contact(result, " ".join(args))
        assert "13800001111" not in result.output and "李四" not in result.output
        assert "138****1111" in result.output and MASKED in result.output


def test_a_reveal_is_for_contact_roles_in_the_subtree_and_logged(sandbox: Path) -> None:
    db = sandbox
    shown = run(db, "case", "show", "1", "--reveal-contact", "--actor", "wujing", "--json")  # the street operator
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["contact"] == CLEAR
    text = run(db, "case", "show", "1", "--reveal-contact", "--actor", "fengzr")  # the street leader
    assert text.exit_code == 0 and CLEAR in text.stdout
    for actor, why in (("wangjg", "contact_roles"), ("liming", "contact_roles"), ("zhoumin", "and below")):
        refused = run(db, "case", "show", "1", "--reveal-contact", "--actor", actor)
        assert refused.exit_code == 1 and why in refused.stderr, refused.output
        no_clear_contact(refused, f"reveal by {actor}")
    assert run(db, "case", "show", "1", "--reveal-contact").exit_code == 2  # who asks?
    assert run(db, "case", "show", "9", "--reveal-contact", "--actor", "wujing").exit_code == 1
    reveals = [e for e in json.loads(run(db, "admin", "log", "--json").stdout) if e["kind"] == "case.reveal_contact"]
    assert [(e["actor"], e["body"]) for e in reveals] == [("wujing", {"case": 1, "role": "operator"}),
                                                          ("fengzr", {"case": 1, "role": "leader"})]
    # once routed down to Community E, its operator may see it too
    assert run(db, "case", "fire", "1", "assign", "--actor", "wujing").exit_code == 0
    assert CLEAR in run(db, "case", "show", "1", "--reveal-contact", "--actor", "zhoumin").stdout
    assert run(db, "audit", "verify").exit_code == 0  # the reveals are a sound part of the admin chain


def test_a_reveal_on_a_production_database_is_the_authenticated_persons(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "p.db"
    assert run(db, "init", "--admin", "liming", "--token-file", "admin.tok", at=None).exit_code == 0
    admin = (tmp_path / "admin.tok").read_text().strip()
    for person in ("wujing", "wangjg"):
        assert run(db, "auth", "token", "issue", person, "--token-file", f"{person}.tok", token=admin,
                   at=None).exit_code == 0
    wu, wang = ((tmp_path / f"{p}.tok").read_text().strip() for p in ("wujing", "wangjg"))
    (tmp_path / "h.csv").write_text(HOTLINE.replace("2026-11-24T08:05", "2026-11-24T08:05+08:00"), encoding="utf-8")
    with Engine(f"sqlite:///{db}", WORKFLOW, token=wu) as eng:
        eng.import_hotline(tmp_path / "h.csv")
    assert run(db, "case", "show", "1", "--reveal-contact", at=None).exit_code == 1  # nobody authenticated
    assert run(db, "case", "show", "1", "--reveal-contact", token=wang, at=None).exit_code == 1
    # acting "as" someone else is no way around it
    assert run(db, "case", "show", "1", "--reveal-contact", "--actor", "wujing", token=wang, at=None).exit_code == 1
    ok = run(db, "case", "show", "1", "--reveal-contact", "--json", token=wu, at=None)
    assert ok.exit_code == 0 and json.loads(ok.stdout)["contact"] == CLEAR
    assert json.loads(run(db, "case", "show", "1", "--json", token=wu, at=None).stdout)["contact"] == MASKED


def test_export_redact_masks_contacts_and_is_never_restored(sandbox: Path, tmp_path: Path) -> None:
    full = run(sandbox, "export", "full.jsonl")
    redacted = run(sandbox, "export", "red.jsonl", "--redact")
    assert full.exit_code == 0 and redacted.exit_code == 0, redacted.output
    text = (tmp_path / "red.jsonl").read_text(encoding="utf-8")
    for secret in SECRETS:
        assert secret not in text
    assert MASKED in text and text.count(MASKED) == 2  # the case row and the facts of its first entry
    assert "13912345678" in (tmp_path / "full.jsonl").read_text(encoding="utf-8")
    for name in ("full.jsonl", "red.jsonl"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600
    refused = run(tmp_path / "other.db", "import-backup", "red.jsonl")
    assert refused.exit_code == 2 and "redacted" in refused.stderr
    assert run(tmp_path / "third.db", "import-backup", "full.jsonl").exit_code == 0


def test_contact_roles_are_validated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(ROOT / "organisation.yaml", tmp_path / "organisation.yaml")
    text = (ROOT / "workflows.yaml").read_text(encoding="utf-8")
    assert "contact_roles: [operator, leader]" in text
    (tmp_path / "workflows.yaml").write_text(text.replace("contact_roles: [operator, leader]",
                                                          "contact_roles: [operater, leader]"), encoding="utf-8")
    result = CliRunner().invoke(app, ["--workflow", str(tmp_path / "workflows.yaml"), "workflow", "validate"])
    assert result.exit_code == 2
    assert re.search(r"workflows.yaml:\d+:\d+: .*operater", result.output) and "operator" in result.output
    schema = json.loads((ROOT / "workflows.schema.json").read_text(encoding="utf-8"))
    assert schema["definitions"]["Settings"]["properties"]["contact_roles"]["type"] == "array"


@pytest.mark.parametrize("value,masked", [
    ("13912345678", "139****5678"), ("138****5678", "138****5678"), (CLEAR, MASKED),
    ("010-12345678", "010****5678"), ("张先生，13800001111", "张**，138****1111"),
    ("li.si@example.com", "l***@example.com"),
    ("12345", "****"), ("", ""), (None, None),
    # a name written against the number is a part of its own (QA, 2026-12-01: 张三丰****78李四 showed both names)
    ("13812345678张三", "138****5678张*"), ("张三丰13812345678李四", "张**138****5678李*"),
    ("张三13812345678", "张*138****5678"), ("13812345678@qq.com", "1***@qq.com"),
])
def test_mask_contact(value: str | None, masked: str | None) -> None:
    assert mask_contact(value) == masked


@given(st.text(alphabet=st.sampled_from("0123456789 -+,;张女士@a."), max_size=60))
def test_a_masked_contact_keeps_no_run_of_five_digits(value: str) -> None:
    out = mask_contact(value)
    assert out is not None and not re.search(r"\d{5}", out)
    if "@" not in value:  # (an e-mail's domain is kept: z***@example.com)
        # a name keeps only its first character, whatever stands against it (13812345678张三 -> 138****5678张*)
        assert not re.search("[张女士]{2}", out.replace("张**", "").replace("女**", "").replace("士**", ""))
    assert mask_contact(out) == out or not re.search(r"\d{5}", mask_contact(out) or "")


def test_the_server_shows_the_contact_masked(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from casecraft.base.clock import FixedClock
    from casecraft.server import create_app
    from tests.server_support import T0, sandbox, tokens

    (tmp_path / "h.csv").write_text(HOTLINE, encoding="utf-8")
    eng = sandbox(f"sqlite:///{tmp_path / 'api.db'}", FixedClock(T0))
    try:
        eng.import_hotline(tmp_path / "h.csv", actor="wujing")
        toks = tokens(eng, ("wujing",))
        with TestClient(create_app(eng, rate_limit=None), raise_server_exceptions=False) as client:
            auth = {"Authorization": f"Bearer {toks['wujing']}"}
            one, many = client.get("/cases/1", headers=auth), client.get("/cases", headers=auth)
        assert one.status_code == 200 and many.status_code == 200, (one.text, many.text)
        assert one.json()["contact"] == MASKED and many.json()["cases"][0]["contact"] == MASKED
        for secret in SECRETS:
            assert secret not in one.text + many.text
    finally:
        eng.close()
