"""The command line as the server's client: every operator command, through --server and directly, same output.

Two sandbox databases get the same actions at the same (fixed) time: one
through the CLI in direct database mode (``--db ... --at T``), the other
through the CLI talking to a real uvicorn serving that database
(``CASECRAFT_SERVER``, the acting person's ``CASECRAFT_TOKEN``). After each
command, stdout, stderr and the exit code must be identical.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from casecraft import i18n
from casecraft.base.clock import FixedClock
from casecraft.server import create_app
from tests.server_support import GRID5, ROOT, T0, WORKFLOW, clean_env, cli_app, sandbox, tokens, uvicorn_thread

AT = "2026-11-24T09:00"


def _png() -> bytes:
    """A small well-formed PNG photo (attachments are decoded before they are stored)."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()
PNG = _png()


class Pair:
    """Runs a command in direct mode on one database and over the server on the other."""

    def __init__(self, direct_url: str, server_url: str, toks: dict[str, str], home: Path) -> None:
        self.direct_url, self.server_url, self.toks, self.home = direct_url, server_url, toks, home
        self.runner = CliRunner()
        self.app = cli_app()

    def direct(self, args: list[str]) -> Any:
        return self.runner.invoke(self.app, ["--db", self.direct_url, "--workflow", str(WORKFLOW), "--at", AT, *args],
                                  env={"CASECRAFT_SERVER": None, "CASECRAFT_TOKEN": None, "CASECRAFT_NOW": None,
                                       "XDG_CONFIG_HOME": str(self.home)})

    def remote(self, args: list[str], person: str) -> Any:
        return self.runner.invoke(self.app, args, env={
            "CASECRAFT_SERVER": self.server_url, "CASECRAFT_TOKEN": self.toks[person], "CASECRAFT_NOW": None,
            "CASECRAFT_DB": None, "XDG_CONFIG_HOME": str(self.home)})

    def same(self, *args: str, person: str = "zhoumin", code: int = 0) -> str:
        """Run ``args`` both ways (as ``person``: their ``--actor`` is given if the command takes one)."""
        a, b = self.direct(list(args)), self.remote(list(args), person)
        for r in (a, b):
            assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
            assert "Traceback" not in r.output
        assert (a.exit_code, a.stdout, a.stderr) == (b.exit_code, b.stdout, b.stderr), (
            f"{args}\n--- direct ({a.exit_code}):\n{a.stdout}{a.stderr}\n--- server ({b.exit_code}):\n"
            f"{b.stdout}{b.stderr}")
        assert a.exit_code == code, f"{args}: exit {a.exit_code}\n{a.stdout}{a.stderr}"
        return str(a.stdout)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    with _pair(tmp_path_factory.mktemp("cli")) as made:
        yield made


@contextmanager
def _pair(where: Path) -> Iterator[Pair]:
    """Two sandboxes with the same administrative history, one served; the current folder is ``where``."""
    direct_url, served_url = f"sqlite:///{where / 'direct.db'}", f"sqlite:///{where / 'served.db'}"
    direct = sandbox(direct_url, FixedClock(T0))
    tokens(direct)  # the same administrative history on both databases
    direct.close()
    served = sandbox(served_url, FixedClock(T0))
    toks = tokens(served)
    (where / "现场.png").write_bytes(PNG)
    old = os.getcwd()
    os.chdir(where)
    try:
        with uvicorn_thread(create_app(served, rate_limit=None)) as url:
            yield Pair(direct_url, url, toks, where / "config")
    finally:
        os.chdir(old)
        served.close()


def test_every_operator_command_gives_the_same_output_and_exit_code(pair: Pair) -> None:  # noqa: PLR0915
    s = pair.same
    w = ("--actor", "wangjg")
    report = ("case", "report", "--source", "patrol", "--grid", GRID5, "--category", "0101")
    assert s(*report, "--desc", "楼门张贴非法小广告", *w, person="wangjg").strip() == "1"
    s(*report, "--desc", "店外经营", "--address", "东高地三角地", "--json", *w, person="wangjg")
    s(*report, "--desc", "带照片", "--photo", "现场.png", "--note", "现场照片", *w, person="wangjg")
    s("case", "show", "3")
    s("case", "show", "1", "--json")
    s("case", "triggers", "1")
    s("case", "triggers", "1", "--json")
    s("case", "triggers", "1", "--actor", "wangjg", person="wangjg")
    s("case", "fire", "1", "resolve", "--note", "已清除", *w, person="wangjg")
    s("case", "fire", "1", "close", *w, person="wangjg", code=1)  # not allowed from to_check
    s("case", "fire", "1", "check", "--json", *w, person="wangjg")
    s("case", "fire", "1", "close", *w, person="wangjg")
    s("case", "fire", "2", "dispatch", "--to", "liuqiang", "--note", "请劝离", "--json", *w, person="wangjg")
    s("case", "fire", "2", "feedback", "--outcome", "solved", "--note", "已劝离", "--actor", "liuqiang",
      person="liuqiang")
    s("case", "fire", "2", "check", "--expect-version", "1", *w, person="wangjg", code=1)  # stale version
    s("case", "fire", "3", "resolve", "--actor", "sunli", person="sunli", code=1)  # another grid's leader
    s("case", "fire", "999", "resolve", *w, person="wangjg", code=1)
    s("case", "fire", "3", "escalate", *w, person="wangjg", code=2)  # needs a note
    s("case", "park", "3", "--note", "需等待产权单位", "--actor", "fengzr", person="fengzr")
    s("case", "unpark", "3", "--json", "--actor", "fengzr", person="fengzr")
    s("case", "request-extension", "3", "--by", "1 working day", "--note", "材料未到", *w, person="wangjg")
    s("case", "deny-extension", "3", "--note", "不予延期", "--actor", "fengzr", person="fengzr")
    s("case", "request-extension", "3", "--by", "1 working day", "--note", "材料未到", "--json", *w,
      person="wangjg")
    s("case", "approve-extension", "3", "--actor", "fengzr", person="fengzr")
    s("case", "extend", "3", "--by", "4 working hours", "--note", "再延", "--json", "--actor", "fengzr",
      person="fengzr")
    s("case", "extend", "3", "--by", "4 working hours", "--note", "再延", *w, person="wangjg", code=1)
    s("case", "urge", "3", "--note", "请尽快处理", "--actor", "duyan", person="duyan")
    s("case", "urge", "3", "--note", "请尽快处理", "--json", "--actor", "duyan", person="duyan")
    s("case", "show", "2")
    s("case", "show", "3")
    s("case", "show", "3", "--json")
    s("case", "list")
    s("case", "list", "--json")
    s("case", "list", "--open", "--limit", "1", "--page", "2", "--sort", "-id")
    s("case", "list", "--state", "grid_handling", "--json")
    s("case", "list", "--due-within", "2h")
    s("case", "list", "--overdue", "--json")
    s("case", "list", "--parked")
    s("case", "list", "--closed", "--org", GRID5)
    s("case", "list", "--page", "0", code=2)
    s("case", "list", "--sort", "name", code=2)
    s("case", "show", "999", code=1)
    s("alerts", "list")
    s("alerts", "list", "--org", GRID5, "--json")
    s("alerts", "list", "--open", "--case", "3")
    s("alerts", "ack", "1", *w, person="wangjg")
    s("alerts", "ack", "1", "--json", *w, person="wangjg", code=1)  # already acknowledged
    s("alerts", "ack", "2", "--actor", "sunli", person="sunli", code=1)  # not at their platform
    s("alerts", "list", "--open")
    s("log", "add", "--grid", GRID5, "--text", "走访3户居民", *w, person="wangjg")
    s("log", "add", "--grid", GRID5, "--text", "反映楼道照明损坏", "--photo", "现场.png", "--json", *w,
      person="wangjg")
    s("log", "add", "--grid", GRID5, "--text", "x", "--actor", "zhoumin", person="zhoumin", code=1)
    s("log", "list")
    s("log", "list", "--grid", GRID5, "--month", "2026-11", "--json")
    s("log", "list", "--month", "2026-13", code=2)
    s("org", "show")
    s("org", "show", "--json")
    s("workflow", "versions")
    s("workflow", "versions", "--json")


def test_over_the_server_actor_may_only_name_the_token_holder(pair: Pair) -> None:
    r = pair.remote(["case", "fire", "1", "resolve", "--actor", "lixia"], "wangjg")
    assert r.exit_code == 1 and "logged-in person's (wangjg), not lixia's" in r.stderr


def test_a_case_diagram_over_the_server_is_the_one_drawn_directly(tmp_path: Path) -> None:
    with _pair(tmp_path) as pair:  # its own databases: the module's pair numbers its cases from 1
        _diagrams_alike(pair)


def _diagrams_alike(pair: Pair) -> None:
    w = ("--actor", "wangjg")
    cid = pair.same("case", "report", "--source", "patrol", "--grid", GRID5, "--category", "0101", "--desc",
                    "楼道堆物", *w, person="wangjg").strip()
    pair.same("case", "fire", cid, "escalate", "--note", "上报社区", *w, person="wangjg")
    direct = pair.direct(["case", "show", cid, "--diagram", f"direct-{cid}.mmd"])
    remote = pair.remote(["case", "show", cid, "--diagram", f"served-{cid}.mmd"], "zhoumin")
    assert direct.exit_code == remote.exit_code == 0, (direct.output, remote.output)
    drawn = Path(f"served-{cid}.mmd").read_text(encoding="utf-8")
    assert drawn == Path(f"direct-{cid}.mmd").read_text(encoding="utf-8")
    assert "stateDiagram-v2" in drawn and "class community_handling current" in drawn
    assert Path(f"served-{cid}.mmd").stat().st_mode & 0o777 == 0o600
    again = pair.remote(["case", "show", cid, "--diagram", f"served-{cid}.mmd"], "zhoumin")  # exists: --force
    assert again.exit_code == 2 and "--force" in again.stderr
    odd = pair.remote(["case", "show", cid, "--diagram", f"served-{cid}.txt"], "zhoumin")  # refused before asking
    assert odd.exit_code == 2 and "diagram format" in odd.stderr and not Path(f"served-{cid}.txt").exists()


@pytest.mark.parametrize("args", [["sweep"], ["org", "add-unit", "1101060040050099", "--name", "x", "--parent",
                                                               GRID5]])
def test_what_the_server_does_not_offer_says_to_use_direct_mode(pair: Pair, args: list[str]) -> None:
    r = pair.remote(args, "wangjg")
    assert r.exit_code == 2, r.output
    assert "direct database mode" in r.stderr and "Traceback" not in r.output


def test_refusals_of_the_server_keep_their_exit_codes(pair: Pair) -> None:
    bad = pair.runner.invoke(pair.app, ["case", "list"], env={
        "CASECRAFT_SERVER": pair.server_url, "CASECRAFT_TOKEN": "cct_" + "0" * 16 + "_" + "A" * 43,
        "XDG_CONFIG_HOME": str(pair.home)})
    assert bad.exit_code == 1 and "authentication failed: unknown token" in bad.stderr
    none = pair.runner.invoke(pair.app, ["case", "list"], env={
        "CASECRAFT_SERVER": pair.server_url, "CASECRAFT_TOKEN": None, "XDG_CONFIG_HOME": str(pair.home / "empty")})
    assert none.exit_code == 1 and "casecraft --server" in none.stderr and "login" in none.stderr
    down = pair.runner.invoke(pair.app, ["case", "list"], env={
        "CASECRAFT_SERVER": "http://127.0.0.1:9", "CASECRAFT_TOKEN": pair.toks["wangjg"],
        "XDG_CONFIG_HOME": str(pair.home)})
    assert down.exit_code == 3 and "cannot be reached" in down.stderr
    at = pair.runner.invoke(pair.app, ["--at", AT, "case", "list"], env={
        "CASECRAFT_SERVER": pair.server_url, "CASECRAFT_TOKEN": pair.toks["wangjg"]})
    assert at.exit_code == 2 and "--at" in at.stderr


def test_login_keeps_the_token_in_a_private_file_and_logout_drops_it(pair: Pair, tmp_path: Path) -> None:
    env = {"CASECRAFT_SERVER": pair.server_url, "CASECRAFT_TOKEN": None, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    old = os.umask(0o022)
    try:
        r = pair.runner.invoke(pair.app, ["login", "--token-stdin"], input=pair.toks["wangjg"] + "\n", env=env)
    finally:
        os.umask(old)
    assert r.exit_code == 0, r.output
    assert "as 王建国 (wangjg" in r.stdout and pair.toks["wangjg"] not in r.output
    file = tmp_path / "xdg" / "casecraft" / "tokens.json"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(file.parent.stat().st_mode) == 0o700
    listed = pair.runner.invoke(pair.app, ["case", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    wrong = pair.runner.invoke(pair.app, ["login", "--token-stdin"], input="nope\n", env=env)
    assert wrong.exit_code == 1 and "malformed" in wrong.stderr
    out = pair.runner.invoke(pair.app, ["logout"], env=env)
    assert out.exit_code == 0 and "logged out" in out.stdout
    after = pair.runner.invoke(pair.app, ["case", "list"], env=env)
    assert after.exit_code == 1 and "login" in after.stderr
    direct = pair.runner.invoke(pair.app, ["login"], env={"CASECRAFT_SERVER": None, "XDG_CONFIG_HOME": str(tmp_path)})
    assert direct.exit_code == 2 and "--server" in direct.stderr


def test_a_client_command_imports_no_sqlalchemy(pair: Pair) -> None:
    """A real `case list` over the server: SQLAlchemy (and the engine) are never imported."""
    code = ("import sys; sys.argv = ['casecraft', 'case', 'list', '--json']\n"
            "from tests.server_support import cli_app\n"
            "try:\n    cli_app()()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "finally:\n    bad = sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy'"
            " or m in ('casecraft.engine', 'casecraft.store.repo'))\n"
            "    print('IMPORTED', bad, file=sys.stderr)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env=clean_env(CASECRAFT_SERVER=pair.server_url, CASECRAFT_TOKEN=pair.toks["zhoumin"]))
    assert r.returncode == 0, r.stderr
    assert "IMPORTED []" in r.stderr, r.stderr
    assert '"total"' in r.stdout


def _client_process(server_url: str, token: str, *args: str) -> tuple[str, list[str]]:
    """A real ``casecraft`` process over the server (the entry point, as the installed command runs it): its
    output, and which of pydantic and Typer's pydantic adapters it imported."""
    code = (f"import sys; sys.argv = ['casecraft', *{list(args)!r}]\n"
            "from casecraft.cli.main import main\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "finally:\n    print('IMPORTED', sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic'"
            " or m == 'typer._adapters'), file=sys.stderr)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env=clean_env(CASECRAFT_SERVER=server_url, CASECRAFT_TOKEN=token))
    assert r.returncode == 0, r.stderr
    return r.stdout, json.loads(r.stderr.rpartition("IMPORTED ")[2].replace("'", '"'))


def test_client_commands_import_no_pydantic(tmp_path: Path) -> None:
    """``case report``, ``show``, ``fire`` and ``list`` over the server (an int argument, texts, flags) never
    import pydantic: Typer's conversion of such values needs none (casecraft.cli.coerce), and a page of the
    list is a view (casecraft.base.views.Page), not the case service's (which imports the workflow's models)."""
    served = sandbox(f"sqlite:///{tmp_path / 'served.db'}", FixedClock(T0))  # its own: the module's pair stays as is
    token = tokens(served, ("wangjg",))["wangjg"]
    try:
        with uvicorn_thread(create_app(served, rate_limit=None)) as url:
            out, imported = _client_process(url, token, "case", "report", "--source", "patrol", "--grid", GRID5,
                                            "--category", "0101", "--desc", "楼门张贴小广告", "--json")
            assert imported == []
            case = json.loads(out)["id"]
            out, imported = _client_process(url, token, "case", "show", f"00{case}")
            assert imported == [] and "楼门张贴小广告" in out
            out, imported = _client_process(url, token, "case", "fire", str(case), "resolve", "--note", "已清除")
            assert imported == [] and f"case {case}: 待核查 (to_check)" in out
            out, imported = _client_process(url, token, "case", "list", "--open", "--limit", "5")
            assert imported == [] and "1-1 of 1" in out
    finally:
        served.close()


def test_a_mistyped_number_gets_typers_own_message(pair: Pair) -> None:
    """A value the plain conversion does not take goes to Typer's adapter: the message is Typer's."""
    for args in (["case", "show", "1x"], ["case", "list", "--limit", "-"]):
        r = pair.remote(args, "zhoumin")
        assert r.exit_code == 2
        assert "Input should be a valid integer, unable to parse string as an integer" in r.stderr
    listed = pair.remote(["case", "list", "--limit", " 2", "--json"], "zhoumin")  # as pydantic reads it
    assert listed.exit_code == 0 and json.loads(listed.stdout)["limit"] == 2


def test_a_client_of_a_plain_http_server_loads_no_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx loads a CA bundle for each client (some 20 ms of a command); a client of an http:// server makes
    no TLS connection and loads none, one of an https:// server loads it as before."""
    import ssl

    from casecraft.client.http import Http

    loaded: list[Any] = []
    real = ssl.SSLContext.load_verify_locations

    def counted(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loaded.append((args, kwargs))
        real(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    Http("http://127.0.0.1:9", "token").close()
    assert loaded == []
    Http("https://grid.example.org", "token").close()
    assert len(loaded) == 1


def test_reports_over_the_server_are_the_librarys(pair: Pair, tmp_path: Path) -> None:
    """What `report monthly/case-stats/history` will render over the server (once cli/report.py calls the engine)."""
    from casecraft import Engine
    from casecraft.client.engine import RemoteEngine
    from casecraft.evaluation import case_stats, history, monthly_report

    direct = Engine(pair.direct_url, WORKFLOW, FixedClock(T0), token="")
    try:
        with RemoteEngine(pair.server_url, pair.toks["zhoumin"]) as remote:
            for level in ("grid", "community", "street"):
                mine, theirs = remote.monthly_report("2026-11", level), monthly_report(direct, "2026-11", level)
                assert mine.to_dict() == json.loads(json.dumps(theirs.to_dict(), default=str))
                assert [i.is_rate for i in mine.indicators] == [i.is_rate for i in theirs.indicators]
                assert [(r.rank, r.change) for r in mine.rows] == [(r.rank, r.change) for r in theirs.rows]
                assert mine.period.start == theirs.period.start and mine.period.complete == theirs.period.complete
            assert remote.case_stats("2026-11") == json.loads(json.dumps(case_stats(direct, "2026-11"), default=str))
            assert [r.to_dict() for r in remote.history(GRID5)] == [r.to_dict() for r in history(direct, GRID5)]
            written = remote.export_report("csv", tmp_path / "r.csv", month="2026-11")
            assert written.read_bytes().startswith(b"\xef\xbb\xbfmonth,level,rank")  # in the client's language
            i18n.set_language(i18n.CHINESE)
            try:
                written = remote.export_report("csv", tmp_path / "r.csv", month="2026-11")
            finally:
                i18n.set_language(i18n.ENGLISH)
            assert written.read_bytes().startswith("月份".encode("utf-8-sig"))
    finally:
        direct.close()
