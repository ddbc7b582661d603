"""Identity (issue 14): the first admin, tokens issued and revoked by an admin, the admin log.

Through the command line (typer's CliRunner) on production databases made with
``init --admin``, and through the engine for the first-admin race.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from casecraft import Engine, PermissionDenied
from casecraft.cli.main import app
from tests.conftest import WORKFLOW

GRID5 = "110106004005005"


def run(db: Path, *args: str, token: str | None = None, stdin: str | None = None) -> Result:
    env = {"CASECRAFT_TOKEN": token or "", "CASECRAFT_NOW": ""}
    result = CliRunner().invoke(app, ["--db", f"sqlite:///{db}", "--workflow", str(WORKFLOW), *args], env=env,
                                input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def prod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A production database with its first admin (liming); the admin's token."""
    monkeypatch.chdir(tmp_path)
    for var in ("CASECRAFT_NOW", "CASECRAFT_DB", "CASECRAFT_WORKFLOW", "CASECRAFT_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    db = tmp_path / "prod.db"
    result = run(db, "init", "--admin", "liming", "--token-file", str(tmp_path / "admin.tok"))
    assert result.exit_code == 0, result.output
    return db, (tmp_path / "admin.tok").read_text().strip()


def test_a_new_database_needs_an_admin_or_a_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "new.db"
    result = run(db, "init")
    assert result.exit_code == 2
    assert "init --admin PERSON" in result.stderr and "--sandbox" in result.stderr
    assert not db.exists()  # refused before anything was made
    result = run(db, "init", "--admin", "wangjg")  # a grid leader, not an admin
    assert result.exit_code == 2 and "does not have the admin role" in result.stderr
    assert run(db, "init", "--admin", "nobody").exit_code == 2
    assert run(db, "init", "--sandbox", "--admin", "liming").exit_code == 2


def test_init_admin_issues_the_first_token_once(prod: tuple[Path, str], tmp_path: Path) -> None:
    db, token = prod
    assert stat.S_IMODE(os.stat(tmp_path / "admin.tok").st_mode) == 0o600
    assert token.startswith("cct_")
    with Engine(f"sqlite:///{db}", WORKFLOW, token=token) as eng:
        assert eng.principal() == "liming" and not eng.sandbox
        log = eng.admin_log()
        issued = [e for e in log if e.kind == "auth.issue"]
        assert len(issued) == 1 and issued[0].actor == "init" and issued[0].body["bootstrap"] is True
        stored = eng.snapshot()["credentials"]
        assert len(stored) == 1 and token.split("_", 2)[2] not in json.dumps(stored, default=str)  # only a hash
    # a second bootstrap, by anyone, is refused: the first admin exists
    again = run(db, "init", "--admin", "liming")
    assert again.exit_code == 1 and "already holds credentials" in again.stderr
    with Engine(f"sqlite:///{db}", WORKFLOW) as eng:
        assert len(eng.snapshot()["credentials"]) == 1
    # the database is upgraded idempotently without --admin
    assert run(db, "init").exit_code == 0


def test_init_admin_prints_the_token_once_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(tmp_path / "p.db", "init", "--admin", "liming", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["admin"] == "liming" and data["token"].startswith("cct_") and data["sandbox"] is False
    with Engine(f"sqlite:///{tmp_path / 'p.db'}", WORKFLOW, token=data["token"]) as eng:
        assert eng.principal() == "liming"


def test_two_first_admins_at_once_only_one_wins(db_url: str) -> None:
    """The check "no admin holds a credential" is inside the issuing transaction, after the admin chain's lock."""
    with Engine(db_url, WORKFLOW) as eng:
        eng.init(admin="liming")
    results: list[Any] = []
    barrier = threading.Barrier(4)

    def bootstrap() -> None:
        with Engine(db_url, WORKFLOW) as e:
            barrier.wait()
            try:
                results.append(e.bootstrap_admin("liming")[0])
            except PermissionDenied as exc:
                results.append(exc)

    threads = [threading.Thread(target=bootstrap) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    tokens = [r for r in results if isinstance(r, str)]
    assert len(results) == 4 and len(tokens) == 1, results
    with Engine(db_url, WORKFLOW) as eng:
        assert len(eng.snapshot()["credentials"]) == 1
        assert [e.kind for e in eng.admin_log()].count("auth.issue") == 1


def test_tokens_issued_listed_and_revoked_by_the_admin(prod: tuple[Path, str], tmp_path: Path) -> None:
    db, admin = prod
    issued = run(db, "auth", "token", "issue", "wangjg", "--label", "phone", "--token-file",
                 str(tmp_path / "w.tok"), token=admin)
    assert issued.exit_code == 0, issued.output
    wang = (tmp_path / "w.tok").read_text().strip()
    assert stat.S_IMODE(os.stat(tmp_path / "w.tok").st_mode) == 0o600
    assert wang not in issued.output
    # the file is not replaced without --force, and nothing is issued then
    refused = run(db, "auth", "token", "issue", "wangjg", "--token-file", str(tmp_path / "w.tok"), token=admin)
    assert refused.exit_code == 2 and "already exists" in refused.stderr
    # wangjg acts as himself
    report = run(db, "case", "report", "--source", "patrol", "--grid", GRID5, "--category", "0101", "--desc",
                 "小广告", "--json", token=wang)
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout)["timeline"][0]["actor"] == "wangjg"
    # a grid leader cannot issue or list tokens
    assert run(db, "auth", "token", "issue", "lixia", token=wang).exit_code == 1
    assert run(db, "auth", "token", "list", token=wang).exit_code == 1
    # nobody without a token administers anything
    assert run(db, "auth", "token", "issue", "lixia").exit_code == 1
    listed = run(db, "auth", "token", "list", "--json", token=admin)
    assert listed.exit_code == 0
    creds = json.loads(listed.stdout)
    assert {c["person"] for c in creds} == {"liming", "wangjg"}
    assert all("secret" not in json.dumps(c) and wang.split("_", 2)[2] not in json.dumps(c) for c in creds)
    wang_id = next(c["id"] for c in creds if c["person"] == "wangjg")
    # printed once on stdout without a file
    printed = run(db, "auth", "token", "issue", "lixia", "--json", token=admin)
    assert json.loads(printed.stdout)["token"].startswith("cct_")
    # revoked: it stops working at once
    revoked = run(db, "auth", "token", "revoke", wang_id, token=admin)
    assert revoked.exit_code == 0 and wang_id in revoked.stdout
    after = run(db, "case", "fire", "1", "resolve", token=wang)
    assert after.exit_code == 1 and "revoked" in after.stderr
    text = run(db, "auth", "token", "list", token=admin)
    assert "wangjg" in text.stdout and "3 credential(s)" in text.stdout
    assert run(db, "auth", "token", "revoke", "nosuch", token=admin).exit_code == 1


def test_credentials_are_administered_on_the_database_not_through_a_server(prod: tuple[Path, str]) -> None:
    db, admin = prod
    for args in (("auth", "token", "list"), ("auth", "token", "issue", "wangjg"), ("auth", "token", "revoke", "x")):
        result = run(db, "--server", "http://127.0.0.1:9", *args, token=admin)
        assert result.exit_code == 2 and "on the database itself" in result.stderr, result.output


def test_passwords_are_set_by_the_admin_from_stdin(prod: tuple[Path, str]) -> None:
    db, admin = prod
    short = run(db, "auth", "password", "set", "wujing", "--password-stdin", token=admin, stdin="short\n")
    assert short.exit_code == 2 and "12 characters" in short.stderr
    ok = run(db, "auth", "password", "set", "wujing", "--password-stdin", token=admin,
             stdin="a long enough secret\n")
    assert ok.exit_code == 0, ok.output
    assert "a long enough secret" not in ok.output
    with Engine(f"sqlite:///{db}", WORKFLOW) as eng:
        from casecraft.admin.auth import check_password

        assert check_password(eng.ctx, "wujing", "a long enough secret").person_id == "wujing"
        with pytest.raises(PermissionDenied):
            check_password(eng.ctx, "wujing", "wrong password!!")


def test_the_admin_log_shows_every_administrative_act(prod: tuple[Path, str]) -> None:
    db, admin = prod
    assert run(db, "auth", "token", "issue", "wangjg", "--json", token=admin).exit_code == 0
    assert run(db, "auth", "token", "revoke", "wangjg", token=admin).exit_code == 0
    result = run(db, "admin", "log", "--json")
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    kinds = [e["kind"] for e in entries]
    assert kinds[0] == "workflow.publish" and kinds[-2:] == ["auth.issue", "auth.revoke"]
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    assert entries[-1]["actor"] == "liming" and all(len(e["hash"]) == 64 for e in entries)
    text = run(db, "admin", "log", "--after", str(len(entries) - 1))
    assert text.exit_code == 0 and "auth.revoke" in text.stdout and "1 entry" in text.stdout
    assert run(db, "admin", "log", "--limit", "0").exit_code == 2
    audit = run(db, "audit", "verify")  # every credential was issued and revoked by an admin-chain entry
    assert audit.exit_code == 0 and "intact" in audit.stdout, audit.output


def test_the_sandbox_administers_without_logins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "s.db"
    assert run(db, "init", "--sandbox").exit_code == 0
    issued = run(db, "auth", "token", "issue", "wangjg", "--json")
    assert issued.exit_code == 0, issued.output
    assert json.loads(issued.stdout)["created_by"] == "sandbox"
    refused = run(db, "init", "--admin", "liming")
    assert refused.exit_code == 2 and "sandbox" in refused.stderr


# --------------------------------------------------------------------------- back-fills


def test_an_admins_back_fill_is_stored_flagged_and_counted_apart(prod: tuple[Path, str], tmp_path: Path) -> None:
    db, admin = prod
    assert run(db, "auth", "token", "issue", "wangjg", "--token-file", "w.tok", token=admin).exit_code == 0
    wang = (tmp_path / "w.tok").read_text().strip()
    report = ("case", "report", "--source", "patrol", "--grid", GRID5, "--category", "0101", "--desc", "小广告")
    # a grid leader cannot set the clock on a production database
    refused = run(db, "--at", "2026-11-24T09:15", *report, token=wang)
    assert refused.exit_code == 1 and "back-fill" in refused.stderr
    # the admin enters it for him, for the time it happened: both times kept, flagged
    done = run(db, "--at", "2026-11-24T09:15", *report, "--actor", "wangjg", "--json", token=admin)
    assert done.exit_code == 0, done.output
    entry = json.loads(done.stdout)["timeline"][0]
    assert entry["at"] == "2026-11-24T09:15:00+08:00" and entry["backfill"] is True
    assert entry["recorded_at"] != entry["at"] and entry["actor"] == "wangjg" and entry["on_behalf_of"] == "liming"
    shown = run(db, "case", "show", "1")
    assert "补录 back-fill, recorded" in shown.stdout and "代录 entered by liming" in shown.stdout
    assert "补录 back-filled" in shown.stdout and "1 entry (#1)" in shown.stdout
    # a back-filled 民情日志 entry is counted apart, never toward the 登记率
    logged = run(db, "--at", "2026-11-24T18:00", "log", "add", "--grid", GRID5, "--actor", "wangjg", "--text",
                 "补录走访记录", token=admin)
    assert logged.exit_code == 0, logged.output
    stats = run(db, "report", "case-stats", "--month", "2026-11", "--json")
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.stdout)["backfilled"] == {"cases": 1, "entries": 1, "logs": 1}
    assert "补录 back-filled by an admin" in run(db, "report", "case-stats", "--month", "2026-11").stdout
    monthly = run(db, "report", "monthly", "--month", "2026-11", "--level", "grid", "--json")
    assert monthly.exit_code == 0, monthly.output
    row = next(r for r in json.loads(monthly.stdout)["rows"] if r["unit"] == GRID5)
    assert row["figures"]["log_rate"]["num"] == 0


# --------------------------------------------------------------------------- the sandbox says so


def _stderr_on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run ``python -m casecraft ARGS`` with stderr on a pseudo-terminal and stdout on a pipe."""
    import pty
    import subprocess
    import sys

    from tests.conftest import ROOT

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASECRAFT_")}
    env.update(PYTHONPATH=str(ROOT), CASECRAFT_SQLITE_SYNC="NORMAL")
    proc = subprocess.Popen([sys.executable, "-m", "casecraft", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    out, _ = proc.communicate(timeout=120)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return proc.returncode, out.decode(), b"".join(chunks).decode(errors="replace")


def test_a_sandbox_says_so_on_a_terminal_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    sandbox, prod = tmp_path / "s.db", tmp_path / "p.db"
    assert run(sandbox, "init", "--sandbox").exit_code == 0
    assert run(prod, "init", "--admin", "liming", "--token-file", "a.tok").exit_code == 0
    base = ["--workflow", str(WORKFLOW)]
    code, out, err = _stderr_on_a_terminal(["--db", f"sqlite:///{sandbox}", *base, "case", "list", "--json"],
                                           tmp_path)
    assert code == 0 and "sandbox database" in err
    assert json.loads(out)["total"] == 0  # stdout untouched
    code, _out, err = _stderr_on_a_terminal(["--db", f"sqlite:///{prod}", *base, "case", "list"], tmp_path)
    assert code == 0 and "sandbox" not in err
    # in a pipe (scripts, cron, tests) nothing is added
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("CASECRAFT_")}
    env.update(PYTHONPATH=str(ROOT))
    piped = subprocess.run([sys.executable, "-m", "casecraft", "--db", f"sqlite:///{sandbox}", *base, "case",
                            "list"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and piped.stderr == ""
