"""The command line, end to end: help, the worked example, JSON output, exit codes.

Everything goes through the Typer app (``casecraft.cli.main:app``) with
``CliRunner``, plus a few real ``python -m casecraft`` subprocesses. Each test
has its own SQLite database in ``tmp_path``; global options (``--db``,
``--workflow``, ``--at``) go before the subcommand, as an operator types them.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from casecraft import CasecraftError
from casecraft.cli.main import app
from tests.conftest import sandbox_db

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "workflows.yaml"

GRID5 = "110106004005005"
COMM_E = "110106004005"
STREET = "110106004"
AQB = "110106004-aqb"
DAY = "2026-11-24"
LOOK_AT = "2026-11-24T12:00"  # reads run at a fixed time, so time-left fields are deterministic
TIERS = {"grid": "网格", "community": "社区", "street": "街道", "district": "区", "joint_meeting": "联席会"}


# --------------------------------------------------------------------------- helpers


def squash(text: str) -> str:
    """Whitespace-normalised text, so wrapped help and table cells compare as one line."""
    return " ".join(text.split())


def bj(at: str) -> str:
    """The JSON rendering of a Beijing time given as ``YYYY-MM-DDTHH:MM``."""
    return f"{at}:00+08:00"


def expect(result: Result, code: int) -> Result:
    """Assert the exit code, and that a user mistake never shows a crash or a traceback."""
    detail = f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.exit_code == code, detail
    # CliRunner turns an uncaught exception into exit code 1: make sure it was a deliberate exit
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"crashed with {result.exception!r}\n{detail}")
    assert "Traceback" not in result.output, detail
    return result


@dataclass
class CLI:
    """``cc(*args)`` runs ``casecraft --db DB --workflow WF [--at AT] *args`` in-process."""

    db_path: Path
    workflow: Path = WORKFLOW
    runner: CliRunner = field(default_factory=CliRunner)

    @property
    def db(self) -> str:
        return f"sqlite:///{self.db_path}"

    def __call__(self, *args: str, at: str | None = None, workflow: Path | str | None = None,
                 env: dict[str, str] | None = None) -> Result:
        head = ["--db", self.db, "--workflow", str(workflow or self.workflow)]
        if not self.db_path.exists() and args[:1] != ("init",) and "--help" not in args:  # a sandbox database
            with contextlib.suppress(CasecraftError):  # a bad workflow: the command itself says why
                sandbox_db(self.db, None, workflow or self.workflow)
        if args[:1] == ("init",) and not self.db_path.exists() and "--sandbox" not in args:
            args = (*args, "--sandbox")
        if at is not None:
            head += ["--at", at]
        return self.runner.invoke(app, [*head, *args], env=env)

    def ok(self, *args: str, at: str | None = None) -> Result:
        return expect(self(*args, at=at), 0)

    def json(self, *args: str, at: str | None = None) -> Any:
        """Run a ``--json`` command that must succeed; its stdout must be JSON and only JSON."""
        return json.loads(self.ok(*args, "--json", at=at).stdout)

    def show(self, case_id: int, at: str = LOOK_AT) -> dict[str, Any]:
        return self.json("case", "show", str(case_id), at=at)

    def cases(self, at: str = LOOK_AT) -> list[dict[str, Any]]:
        return self.json("case", "list", at=at)["cases"]

    def snapshot(self, *case_ids: int) -> tuple[Any, ...]:
        """Everything an operator can see of the database: the list and each case in full."""
        return (self.cases(), *(self.show(i) for i in case_ids))

    def report_patrol(self, at: str = f"{DAY}T09:15", category: str = "0101", actor: str = "wangjg",
                      desc: str = "巡查发现某楼门张贴非法小广告") -> int:
        case = self.json("case", "report", "--source", "patrol", "--grid", GRID5, "--category", category,
                         "--desc", desc, "--actor", actor, at=at)
        return int(case["id"])

    def fire(self, case_id: int, trigger: str, actor: str, *opts: str, at: str | None = None) -> dict[str, Any]:
        return self.json("case", "fire", str(case_id), trigger, "--actor", actor, *opts, at=at)


def _isolate(monkeypatch: pytest.MonkeyPatch, where: Path) -> None:
    monkeypatch.setenv("CASECRAFT_SQLITE_SYNC", "NORMAL")
    for var in ("CASECRAFT_NOW", "CASECRAFT_DB", "CASECRAFT_WORKFLOW", "CASECRAFT_DATA"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(where)  # nothing may land in the repository's working directory


@pytest.fixture
def cc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CLI:
    """A CLI runner on a fresh, empty database of this test's own."""
    _isolate(monkeypatch, tmp_path)
    return CLI(tmp_path / "casecraft.db")


def run_module(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A real ``python -m casecraft`` process with piped (non-terminal) stdout and stderr.

    A database given with ``--db sqlite:///PATH`` that does not exist yet is made a sandbox first.
    """
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CASECRAFT_")}
    full_env.update({"CASECRAFT_SQLITE_SYNC": "NORMAL", "PYTHONPATH": str(ROOT)}, **(env or {}))
    if "--db" in args and "init" not in args:
        url = args[args.index("--db") + 1]
        if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
            head = [a for a in args[:args.index("--db") + 2]]
            if "--workflow" in args:
                head += ["--workflow", args[args.index("--workflow") + 1]]
            if Path(url[len("sqlite:///"):]).is_absolute() and "--workflow" in args and not any(
                    k.startswith("CASECRAFT_") for k in (env or {})):  # what that init would make: a copy
                sandbox_db(url, None, cwd / args[args.index("--workflow") + 1])
            else:
                subprocess.run([sys.executable, "-m", "casecraft", *head, "init", "--sandbox"], cwd=cwd,
                               env={k: v for k, v in full_env.items() if k != "CASECRAFT_NOW"}, capture_output=True,
                               timeout=120, check=True)
    return subprocess.run([sys.executable, "-m", "casecraft", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, encoding="utf-8", timeout=120)


# --------------------------------------------------------------------------- 1. help everywhere


def _command_tree() -> list[tuple[tuple[str, ...], Any]]:
    """Every command and group under the app, found by walking the click tree."""
    found: list[tuple[tuple[str, ...], Any]] = []

    def walk(path: tuple[str, ...], cmd: Any) -> None:
        found.append((path, cmd))
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk((*path, name), sub)

    walk((), typer.main.get_command(app))
    return found


COMMANDS = _command_tree()


def test_the_command_tree_is_walked() -> None:
    paths = {" ".join(p) for p, _ in COMMANDS}
    assert {"", "init", "demo", "case", "case report", "case fire", "case show", "case list",
            "case triggers", "workflow", "workflow validate", "workflow show", "org", "org show"} <= paths


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[" ".join(p) or "casecraft" for p, _ in COMMANDS])
def test_every_command_has_help(cc: CLI, path: tuple[str, ...], cmd: Any) -> None:
    assert cmd.help and cmd.help.strip(), f"`casecraft {' '.join(path)}` has no help text"
    result = expect(cc.runner.invoke(app, [*path, "--help"]), 0)
    text = squash(result.stdout)
    assert text.startswith("Usage:"), result.stdout
    assert squash(cmd.help.split("\n\n")[0]) in text
    for name in getattr(cmd, "commands", {}):  # a group lists its subcommands
        assert name in result.stdout
    for param in cmd.params:  # every option is documented
        for opt in param.opts:
            if opt.startswith("--"):
                assert opt in result.stdout, (path, opt)


def test_help_does_not_touch_the_database(cc: CLI) -> None:
    expect(cc("case", "fire", "--help"), 0)
    assert not cc.db_path.exists()


# --------------------------------------------------------------------------- 2. the worked example


@dataclass(frozen=True)
class Step:
    """One operator action of the worked example and what the case looks like after it."""

    letter: str
    at: str
    trigger: str
    actor: str
    role: str
    opts: tuple[str, ...]
    state: str
    tier: str
    unit: str
    assignees: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    outcome: str | None = None
    note: str | None = None


def _step(letter: str, day_time: str, trigger: str, actor: str, role: str, state: str, tier: str, unit: str,
          *, to: tuple[str, ...] = (), assignees: tuple[str, ...] = (), targets: tuple[str, ...] | None = None,
          outcome: str | None = None, note: str | None = None, report: tuple[str, ...] = ()) -> Step:
    opts: list[str] = list(report)
    for t in to:
        opts += ["--to", t]
    if outcome:
        opts += ["--outcome", outcome]
    if note:
        opts += ["--note", note]
    return Step(letter, day_time, trigger, actor, role, tuple(opts), state, tier, unit, assignees,
                tuple(to) if targets is None else targets, outcome, note)


# The exact step list of casecraft/demo.py, Tuesday 24 and Wednesday 25 November 2026.
STEPS: list[Step] = [
    # 08:40 the 96005 hotline's work order reaches Dongaodi Street and is routed down by address
    _step("B", "2026-11-24T08:40", "report", "wujing", "operator", "street_intake", "street", STREET,
          report=("--source", "hotline", "--grid", GRID5, "--category", "0102", "--ref", "96005-20261124-0031",
                  "--address", "东高地街道E社区某商铺门前", "--desc", "居民来电：某商铺在门前摆摊经营，占用人行道")),
    _step("B", "2026-11-24T08:50", "assign", "wujing", "operator", "community_intake", "community", COMM_E,
          to=(COMM_E,), note="按案件地址下派E社区"),
    _step("B", "2026-11-24T09:02", "assign", "zhoumin", "operator", "reported", "grid", GRID5,
          to=(GRID5,), note="安排第5网格网格长前往查看"),
    # case A: flyers on a building door, self-handled
    _step("A", "2026-11-24T09:15", "report", "wangjg", "grid_leader", "grid_handling", "grid", GRID5,
          note="社管通拍照记录",
          report=("--source", "patrol", "--grid", GRID5, "--category", "0101",
                  "--desc", "巡查发现某楼门张贴非法小广告")),
    _step("A", "2026-11-24T09:20", "resolve", "wangjg", "grid_leader", "to_check", "grid", GRID5,
          note="已将小广告全部清除"),
    _step("A", "2026-11-24T09:21", "check", "wangjg", "grid_leader", "checked", "grid", GRID5,
          note="现场核查：已清除干净"),
    _step("A", "2026-11-24T09:22", "close", "wangjg", "grid_leader", "closed", "grid", GRID5),
    # case B: confirmed, the owner refuses, the urban-management officer persuades him
    _step("B", "2026-11-24T09:30", "verify", "wangjg", "grid_leader", "grid_handling", "grid", GRID5,
          note="现场核实属实；与店主沟通，店主拒绝整改"),
    _step("B", "2026-11-24T09:35", "dispatch", "wangjg", "grid_leader", "grid_dispatched", "grid", GRID5,
          to=("liuqiang",), assignees=("liuqiang",), note="联系网格城管派驻员协助处置"),
    _step("B", "2026-11-24T10:05", "feedback", "liuqiang", "dispatched_member", "to_check", "grid", GRID5,
          outcome="solved", note="经劝说，店主已将商品搬回店内"),
    _step("B", "2026-11-24T10:10", "check", "wangjg", "grid_leader", "checked", "grid", GRID5,
          note="现场核查：人行道已清理"),
    _step("B", "2026-11-24T10:12", "close", "wangjg", "grid_leader", "closed", "grid", GRID5),
    # case C: fire equipment, up to the community and the street's 安全办
    _step("C", "2026-11-24T10:30", "report", "wangjg", "grid_leader", "grid_handling", "grid", GRID5,
          note="社管通拍照、文字记录",
          report=("--source", "patrol", "--grid", GRID5, "--category", "0201",
                  "--desc", "某商铺消防设施可能存在安全隐患")),
    _step("C", "2026-11-24T10:35", "escalate", "wangjg", "grid_leader", "community_handling", "community", COMM_E,
          note="网格长对消防安全不熟悉，分类为消防安全类上报社区"),
    _step("C", "2026-11-24T10:50", "dispatch", "zhoumin", "operator", "community_dispatched", "community", COMM_E,
          to=("zhangwei", "chengang"), assignees=("zhangwei", "chengang"),
          note="分配给社区消防安全协管员与消防安全派驻员"),
    _step("C", "2026-11-24T15:05", "feedback", "chengang", "dispatched_member", "community_dispatched", "community",
          COMM_E, assignees=("zhangwei", "chengang"), outcome="unsolved", note="消防设施挂放位置错误，需打孔安装"),
    _step("C", "2026-11-24T15:10", "feedback", "zhangwei", "co_manager", "community_handling", "community", COMM_E,
          outcome="unsolved",
          note="消防设施挂放位置错误，需打孔安装；商铺租用地区单位房产无权决定，与出租单位协商无果"),
    _step("C", "2026-11-24T15:30", "escalate", "zhoumin", "operator", "street_handling", "street", STREET,
          note="需与地区单位协调，上报街道"),
    # no --to: routed by the catalogue, 消防安全隐患 → 安全办
    _step("C", "2026-11-24T15:45", "dispatch", "wujing", "operator", "street_dispatched", "street", STREET,
          assignees=(AQB,), targets=(AQB,), note="按案件分类转派公共安全办公室"),
    _step("C", "2026-11-25T10:30", "feedback", "zhenglei", "department", "street_resolved", "street", STREET,
          outcome="solved", note="地区单位已按消防法规要求重新挂放安装消防设施"),
    _step("C", "2026-11-25T10:40", "relay", "wujing", "operator", "community_resolved", "community", COMM_E,
          note="处理结果反馈社区"),
    _step("C", "2026-11-25T10:50", "relay", "zhangwei", "co_manager", "to_check", "grid", GRID5,
          note="协管员通知网格长"),
    _step("C", "2026-11-25T11:10", "check", "wangjg", "grid_leader", "checked", "grid", GRID5,
          note="现场核查：符合消防安全要求"),
    _step("C", "2026-11-25T11:15", "close", "wangjg", "grid_leader", "closed", "grid", GRID5),
]


def run_worked_example(cc: CLI) -> dict[str, int]:
    """Play every step through the CLI; check the case each command prints."""
    ids: dict[str, int] = {}
    for step in STEPS:
        if step.trigger == "report":
            case = cc.json("case", "report", "--actor", step.actor, *step.opts, at=step.at)
            ids[step.letter] = case["id"]
            assert case["version"] == 1 and case["created_at"] == bj(step.at)
        else:
            case = cc.fire(ids[step.letter], step.trigger, step.actor, *step.opts, at=step.at)
        assert case["id"] == ids[step.letter]
        got = (case["state"], case["tier"], case["tier_label"], case["unit"], tuple(case["assignees"]))
        assert got == (step.state, step.tier, TIERS[step.tier], step.unit, step.assignees), step
        assert case["open"] is (step.state != "closed"), step
    return ids


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CLI, dict[str, int]]]:
    """The worked example played once on its own database; the tests below only read it."""
    where = tmp_path_factory.mktemp("worked-example")
    with pytest.MonkeyPatch.context() as mp:
        _isolate(mp, where)
        cli = CLI(where / "casecraft.db")
        yield cli, run_worked_example(cli)


@pytest.fixture
def example(played: tuple[CLI, dict[str, int]], monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    _isolate(monkeypatch, played[0].db_path.parent)
    return played[1]


@pytest.fixture
def ex(played: tuple[CLI, dict[str, int]]) -> CLI:
    return played[0]


def test_worked_example_timelines(ex: CLI, example: dict[str, int]) -> None:
    assert example == {"B": 1, "A": 2, "C": 3}
    for letter, case_id in example.items():
        steps = [s for s in STEPS if s.letter == letter]
        case = ex.show(case_id)
        assert case["state"] == "closed" and case["state_label"] == "已结案"
        assert case["open"] is False
        assert case["tier"] == "grid" and case["unit"] == GRID5 and case["grid"] == GRID5
        assert case["closed_at"] == bj(steps[-1].at)
        assert case["created_at"] == bj(steps[0].at)
        assert case["version"] == len(steps)
        timeline = case["timeline"]
        assert [e["seq"] for e in timeline] == list(range(1, len(steps) + 1))
        prev_state = prev_tier = None
        for entry, step in zip(timeline, steps, strict=True):
            assert entry["trigger"] == step.trigger, step
            assert entry["at"] == bj(step.at), step
            assert entry["actor"] == step.actor and entry["actor_role"] == step.role, step
            assert (entry["from_state"], entry["to_state"]) == (prev_state, step.state), step
            assert (entry["from_tier"], entry["to_tier"]) == (prev_tier, step.tier), step
            assert entry["unit"] == step.unit, step
            assert entry["targets"] == list(step.targets), step
            assert entry["outcome"] == step.outcome, step
            assert entry["note"] == step.note, step
            assert entry["hash"] and len(entry["hash"]) == 64
            prev_state, prev_tier = step.state, step.tier
        assert len({e["hash"] for e in timeline}) == len(timeline)

    a, b, c = (ex.show(example[k]) for k in "ABC")
    assert (a["source"], a["category"], a["category_label"], a["resolved_tier"]) == (
        "patrol", "0101", "非法小广告", "grid")
    assert (b["source"], b["ref"], b["category"], b["resolved_tier"]) == (
        "hotline", "96005-20261124-0031", "0102", "grid")
    assert b["address"] == "东高地街道E社区某商铺门前" and b["reporter"] == "wujing"
    assert (c["source"], c["category"], c["urgency"], c["resolved_tier"]) == ("patrol", "0201", "urgent", "street")
    assert [e["unit_name"] for e in c["timeline"]][:3] == ["E社区第5网格", "E社区", "E社区"]
    assert c["timeline"][-1]["actor_name"] == "王建国"


def test_worked_example_lists(ex: CLI, example: dict[str, int]) -> None:
    closed = ex.json("case", "list", "--closed")["cases"]
    assert len(closed) == 3
    assert [c["id"] for c in closed] == sorted(example.values())  # oldest first
    assert all(c["state"] == "closed" and c["open"] is False for c in closed)
    assert "timeline" not in closed[0]
    assert ex.json("case", "list", "--open")["cases"] == []
    assert len(ex.json("case", "list", "--state", "closed", "--org", COMM_E)["cases"]) == 3
    assert ex.json("case", "list", "--tier", "street")["cases"] == []
    human = ex.ok("case", "list").stdout
    assert "3 case(s)" in human and "已结案" in human


def test_a_page_past_the_last_says_how_many_there_are(ex: CLI, example: dict[str, int]) -> None:
    assert "1-2 of 3; next: --page 2" in ex.ok("case", "list", "--limit", "2").stdout
    assert "3-3 of 3" in ex.ok("case", "list", "--limit", "2", "--page", "2").stdout
    past = ex.ok("case", "list", "--limit", "2", "--page", "100000000").stdout
    assert "none on page 100000000; 3 in all" in past and "of 3" not in past  # was "199999999-199999998 of 3"


def test_worked_example_human_show(ex: CLI, example: dict[str, int]) -> None:
    out = ex.ok("case", "show", str(example["C"])).stdout
    for text in ("已结案 (closed)", "E社区第5网格 (110106004005005)", "消防安全隐患", "王建国", "郑磊",
                 "公共安全办公室(安全办)", "反馈 feedback (unsolved)", "反馈 feedback (solved)", "逐级反馈 relay"):
        assert text in out, text
    assert out.count("\n") > 12  # a summary and a row per timeline entry


def test_report_json_prints_the_new_case(cc: CLI) -> None:
    case = cc.json("case", "report", "--source", "patrol", "--grid", GRID5, "--category", "0101",
                   "--desc", "巡查发现某楼门张贴非法小广告", "--actor", "wangjg", "--note", "社管通拍照记录",
                   at=f"{DAY}T09:15")
    assert case["id"] == 1 and case["version"] == 1 and case["open"] is True
    assert (case["state"], case["state_label"], case["tier"], case["unit"]) == (
        "grid_handling", "网格处置中", "grid", GRID5)
    assert (case["source"], case["reporter"], case["category_label"]) == ("patrol", "wangjg", "非法小广告")
    assert case["created_at"] == bj(f"{DAY}T09:15") and case["closed_at"] is None
    [entry] = case["timeline"]
    assert (entry["trigger"], entry["from_state"], entry["to_state"], entry["actor"], entry["note"]) == (
        "report", None, "grid_handling", "wangjg", "社管通拍照记录")
    shown = cc.show(1, at=f"{DAY}T09:15")
    assert {k: shown[k] for k in case} == case


def test_report_without_json_prints_only_the_id(cc: CLI) -> None:
    result = cc.ok("case", "report", "--source", "patrol", "--grid", GRID5, "--category", "0101",
                   "--desc", "小广告", "--actor", "wangjg", at=f"{DAY}T09:15")
    assert result.stdout.strip() == "1"
    fired = cc.ok("case", "fire", "1", "resolve", "--actor", "wangjg", at=f"{DAY}T09:20").stdout
    assert "case 1: 待核查 (to_check) at E社区第5网格 (110106004005005)" in fired


# --------------------------------------------------------------------------- 3. --json is only JSON


JSON_COMMANDS: dict[str, tuple[str, ...]] = {
    "case show": ("case", "show", "1"),
    "case list": ("case", "list"),
    "case triggers": ("case", "triggers", "1", "--actor", "wangjg"),
    "case report": ("case", "report", "--source", "patrol", "--grid", GRID5, "--category", "0102",
                    "--desc", "店外经营", "--actor", "wangjg"),
    "case fire": ("case", "fire", "1", "escalate", "--actor", "wangjg", "--note", "上报社区"),
    "org show": ("org", "show"),
    "workflow show": ("workflow", "show"),
    "workflow validate": ("workflow", "validate"),
    "init": ("init",),
}
CHINESE = {"case show": "网格", "case list": "网格", "case triggers": "网格长", "case report": "网格",
           "case fire": "社区", "org show": "网格", "workflow show": "网格", "workflow validate": None, "init": None}


@pytest.mark.parametrize("name", JSON_COMMANDS)
def test_json_output_is_only_json_with_chinese_unescaped(cc: CLI, name: str) -> None:
    cc.report_patrol()
    result = cc.ok(*JSON_COMMANDS[name], "--json", at=f"{DAY}T09:30")
    data = json.loads(result.stdout)  # nothing but JSON on stdout
    assert data
    assert "\\u" not in result.stdout
    if CHINESE[name]:
        assert CHINESE[name] in result.stdout


def test_demo_json_is_only_json(cc: CLI) -> None:
    result = cc.ok("demo", "--json")
    data = json.loads(result.stdout)
    cases = data.get("cases", data)  # {"cases": {A, B, C}, ...} or just {A, B, C}
    assert sorted(cases) == ["A", "B", "C"]
    assert all(c["state"] == "closed" for c in cases.values())
    assert "网格" in result.stdout and "\\u7f51" not in result.stdout


# --------------------------------------------------------------------------- 4. exit codes


@pytest.fixture
def handling(cc: CLI) -> int:
    """A fresh patrol case in grid 5, 网格处置中 (version 1)."""
    return cc.report_patrol()


@pytest.fixture
def dispatched(cc: CLI, handling: int) -> int:
    """The patrol case dispatched to the grid's urban-management officer (version 2)."""
    cc.fire(handling, "dispatch", "wangjg", "--to", "liuqiang", at=f"{DAY}T09:20")
    return handling


@dataclass(frozen=True)
class Refusal:
    name: str
    fixture: str  # which case to fire on: "handling" or "dispatched"
    args: tuple[str, ...]  # after `case fire ID`
    code: int
    says: tuple[str, ...]  # fragments of the message
    at: str = f"{DAY}T10:00"


REFUSALS = [
    Refusal("illegal trigger", "handling", ("close", "--actor", "wangjg"), 1,
            ("'close' is not allowed", "Allowed: dispatch, resolve, escalate")),
    Refusal("trigger from another state", "dispatched", ("resolve", "--actor", "wangjg"), 1,
            ("Allowed: feedback, return",)),
    Refusal("unknown trigger", "handling", ("frobnicate", "--actor", "wangjg"), 1, ("Allowed:",)),
    Refusal("forbidden role", "handling", ("resolve", "--actor", "liuqiang"), 1,
            ("刘强", "grid_leader")),
    Refusal("forbidden role at the same unit", "dispatched", ("feedback", "--actor", "wangjg", "--outcome", "solved"),
            1, ("王建国", "dispatched_member")),
    Refusal("actor from another unit", "handling", ("resolve", "--actor", "sunli"), 1,
            ("孙丽", "E社区第1网格", "E社区第5网格")),
    Refusal("not an assignee", "dispatched", ("feedback", "--actor", "chengang", "--outcome", "solved"), 1,
            ("陈刚", "刘强")),
    Refusal("stale version", "dispatched", ("return", "--actor", "liuqiang", "--note", "不属本人职责",
                                            "--expect-version", "1"), 1,
            ("changed by someone else", "version 2")),
    Refusal("bad --at", "handling", ("resolve", "--actor", "wangjg"), 2, ("bad time",), at="24/11/2026 9am"),
    Refusal("impossible --at", "handling", ("resolve", "--actor", "wangjg"), 2, ("bad time",), at="2026-13-45T25:00"),
    Refusal("unknown option", "handling", ("resolve", "--actor", "wangjg", "--bogus"), 2, ("No such option",)),
    Refusal("missing --actor", "handling", ("resolve",), 2, ("--actor",)),
    Refusal("unknown person", "handling", ("resolve", "--actor", "nobody"), 2, ("unknown person 'nobody'",)),
    Refusal("unknown target", "handling", ("dispatch", "--actor", "wangjg", "--to", "nobody"), 2,
            ("unknown person or unit 'nobody'",)),
    Refusal("target outside the unit", "handling", ("dispatch", "--actor", "wangjg", "--to", "zhenglei"), 2,
            ("zhenglei",)),
    Refusal("escalate without --note", "handling", ("escalate", "--actor", "wangjg"), 2, ("--note",)),
    Refusal("bad --outcome", "dispatched", ("feedback", "--actor", "liuqiang", "--outcome", "maybe"), 2,
            ("unknown outcome 'maybe'",)),
    Refusal("feedback without --outcome", "dispatched", ("feedback", "--actor", "liuqiang"), 2,
            ("--outcome", "solved", "unsolved")),
    Refusal("non-numeric case id", "handling", ("resolve", "--actor", "wangjg"), 2, ("CASE",)),
]


@pytest.mark.parametrize("refusal", REFUSALS, ids=[r.name for r in REFUSALS])
def test_refused_fire_changes_nothing(cc: CLI, request: pytest.FixtureRequest, refusal: Refusal) -> None:
    case_id: int = request.getfixturevalue(refusal.fixture)
    before = cc.snapshot(case_id)
    target = "abc" if refusal.name == "non-numeric case id" else str(case_id)
    result = expect(cc("case", "fire", target, *refusal.args, at=refusal.at), refusal.code)
    assert result.stdout == "" or refusal.code == 2 and "Usage:" in result.stderr + result.stdout
    message = squash(result.stderr)
    assert message, "a refusal says why on stderr"
    for fragment in refusal.says:
        assert fragment in message, (fragment, message)
    if refusal.code == 1:
        assert message.startswith("refused:")
    assert cc.snapshot(case_id) == before


def test_conflict_then_retry_with_the_current_version(cc: CLI, dispatched: int) -> None:
    seen = cc.show(dispatched)["version"]
    cc.fire(dispatched, "return", "liuqiang", "--note", "不属本人职责", "--expect-version", str(seen),
            at=f"{DAY}T10:00")
    before = cc.snapshot(dispatched)
    stale = expect(cc("case", "fire", str(dispatched), "resolve", "--actor", "wangjg",
                      "--expect-version", str(seen), at=f"{DAY}T10:05"), 1)
    assert "changed by someone else" in stale.stderr
    assert cc.snapshot(dispatched) == before
    done = cc.fire(dispatched, "resolve", "wangjg", "--expect-version", str(seen + 1), at=f"{DAY}T10:05")
    assert done["state"] == "to_check" and done["version"] == seen + 2


@pytest.mark.parametrize("args", [
    ("case", "show", "999"),
    ("case", "fire", "999", "resolve", "--actor", "wangjg"),
    ("case", "triggers", "999"),
], ids=["show", "fire", "triggers"])
def test_unknown_case_id_is_refused(cc: CLI, handling: int, args: tuple[str, ...]) -> None:
    before = cc.snapshot(handling)
    result = expect(cc(*args, at=f"{DAY}T10:00"), 1)
    assert "no case 999" in result.stderr and result.stdout == ""
    assert cc.snapshot(handling) == before


REPORT_BASE = {"--source": "patrol", "--grid": GRID5, "--category": "0101", "--desc": "小广告", "--actor": "wangjg"}


@pytest.mark.parametrize("change,says", [
    ({"--category": "9999"}, "unknown category '9999'"),
    ({"--grid": "110106004005999"}, "unknown grid '110106004005999'"),
    ({"--grid": COMM_E}, f"unknown grid '{COMM_E}'"),  # a community is not a grid
    ({"--actor": "nobody"}, "unknown person 'nobody'"),
    ({"--source": "rumour"}, "unknown source 'rumour'"),
    ({"--urgency": "whenever"}, "unknown urgency 'whenever'"),
    ({"--desc": "   "}, "description"),
], ids=["category", "grid", "community-as-grid", "person", "source", "urgency", "blank-desc"])
def test_bad_report_input_exits_2(cc: CLI, handling: int, change: dict[str, str], says: str) -> None:
    before = cc.snapshot(handling)
    opts = {**REPORT_BASE, **change}
    result = expect(cc("case", "report", *[x for kv in opts.items() for x in kv], "--json", at=f"{DAY}T10:00"), 2)
    assert says in result.stderr and result.stdout == ""
    assert cc.snapshot(handling) == before


def test_report_forbidden_role_exits_1(cc: CLI, handling: int) -> None:
    before = cc.snapshot(handling)
    opts = {**REPORT_BASE, "--actor": "zhenglei"}  # 安全办 staff may not report a patrol case
    result = expect(cc("case", "report", *[x for kv in opts.items() for x in kv], at=f"{DAY}T10:00"), 1)
    assert result.stderr.startswith("refused:") and "郑磊" in result.stderr
    assert cc.snapshot(handling) == before


def test_duplicate_hotline_ticket_is_refused(cc: CLI) -> None:
    args = ("case", "report", "--source", "hotline", "--grid", GRID5, "--category", "0102",
            "--ref", "96005-0031", "--desc", "门前摆摊", "--actor", "wujing")
    cc.ok(*args, at=f"{DAY}T08:40")
    before = cc.snapshot(1)
    result = expect(cc(*args, at=f"{DAY}T08:45"), 1)
    assert "96005-0031" in result.stderr and "case 1" in result.stderr
    assert cc.snapshot(1) == before


@pytest.mark.parametrize("args,says", [
    (("case", "frobnicate"), "No such command"),
    (("case", "list", "--bogus"), "No such option"),
    (("case", "report", "--source", "patrol"), "Missing option"),
    (("case", "show"), "Missing argument"),
    (("case", "list", "--limit", "many"), "--limit"),
    (("case", "report", "--at", f"{DAY}T09:00"), "No such option"),  # global options go first
], ids=["command", "option", "missing-option", "missing-argument", "bad-int", "global-after-subcommand"])
def test_usage_errors_exit_2(cc: CLI, handling: int, args: tuple[str, ...], says: str) -> None:
    before = cc.snapshot(handling)
    result = expect(cc(*args), 2)
    assert says in result.output
    assert cc.snapshot(handling) == before


@pytest.mark.parametrize("args,says", [
    (("case", "list", "--open", "--closed"), "exclude each other"),
    (("case", "list", "--tier", "planet"), "unknown tier 'planet'"),
    (("case", "list", "--state", "nowhere"), "unknown state 'nowhere'"),
    (("case", "list", "--org", "000"), "unknown unit '000'"),
    (("case", "list", "--limit", "0"), "--limit"),
    (("case", "triggers", "1", "--actor", "nobody"), "unknown person 'nobody'"),
], ids=["open-closed", "tier", "state", "org", "limit", "triggers-actor"])
def test_bad_filters_exit_2(cc: CLI, handling: int, args: tuple[str, ...], says: str) -> None:
    result = expect(cc(*args), 2)
    assert says in result.stderr and result.stdout == ""


BROKEN_WORKFLOWS = {
    "yaml syntax": "workflow:\n  id: [unclosed\n  name: x\n",
    "wrong shape": "workflow:\n  id: x\nstates: 3\n",
    "empty": "",
}


@pytest.mark.parametrize("text", BROKEN_WORKFLOWS.values(), ids=list(BROKEN_WORKFLOWS))
def test_invalid_workflow_exits_2(cc: CLI, tmp_path: Path, handling: int, text: str) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(text, encoding="utf-8")
    before = cc.snapshot(handling)
    validate = expect(cc("workflow", "validate", workflow=broken), 2)
    assert "broken.yaml:" in validate.stderr and "problem(s)" in validate.stderr
    as_json = expect(cc("workflow", "validate", "--json", workflow=broken), 2)
    assert json.loads(as_json.stdout)["valid"] is False
    assert json.loads(as_json.stdout)["problems"]
    expect(cc("workflow", "validate", str(broken)), 2)  # as an argument, too
    expect(cc("workflow", "show", workflow=broken), 2)
    # the rules are the published version's: a broken file on disk changes nothing for an operator (issue 14)
    report = expect(cc("case", "report", *[x for kv in REPORT_BASE.items() for x in kv], workflow=broken,
                       at=f"{DAY}T10:00", ), 0)
    assert cc.show(int(report.stdout))["workflow_version"] == 1
    assert cc.snapshot(handling)[1:] == before[1:]


def test_missing_workflow_file_exits_2(cc: CLI, tmp_path: Path) -> None:
    result = expect(cc("workflow", "validate", workflow=tmp_path / "nope.yaml"), 2)
    assert "nope.yaml" in result.stderr


# --------------------------------------------------------------------------- 5. demo


def test_demo_prints_three_timelines(cc: CLI) -> None:
    out = cc.ok("demo").stdout
    for title in ("案件A 非法小广告 — 网格自处置", "案件B 店外经营 (96005热线) — 网格自协调处置",
                  "案件C 消防安全隐患 — 社区、街道安全办协调处置"):
        assert title in out
    for label in ("上报案件 report", "下派 assign", "派遣 dispatch", "反馈 feedback (solved)",
                  "反馈 feedback (unsolved)", "逐级反馈 relay", "核查 check", "结案 close", "王建国", "郑磊"):
        assert label in out, label
    last = out.strip().splitlines()[-1]
    assert last.startswith("3 of 3 cases closed"), last
    assert str(cc.db_path) in last
    # the demo's database is an ordinary casecraft database
    assert len(cc.json("case", "list", "--closed")["cases"]) == 3


def test_demo_without_db_recreates_its_own_file(cc: CLI, tmp_path: Path) -> None:
    for _ in range(2):  # recreated on each run: always cases 1, 2, 3
        result = expect(cc.runner.invoke(app, ["--workflow", str(WORKFLOW), "demo", "--json"]), 0)
        data = json.loads(result.stdout)
        assert sorted(c["id"] for c in data.get("cases", data).values()) == [1, 2, 3]
    assert (tmp_path / "casecraft-demo.db").exists()


def test_demo_in_a_real_process(tmp_path: Path) -> None:
    proc = run_module("--db", f"sqlite:///{tmp_path / 'demo.db'}", "--workflow", str(WORKFLOW), "demo",
                      cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "案件C 消防安全隐患" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1].startswith("3 of 3 cases closed")


# --------------------------------------------------------------------------- 6. triggers


def test_triggers_for_the_grid_leader(cc: CLI, handling: int) -> None:
    options = cc.json("case", "triggers", str(handling), "--actor", "wangjg")
    by_trigger = {o["trigger"]: o for o in options}
    assert list(by_trigger) == ["dispatch", "resolve", "escalate"]
    assert all(o["allowed"] is True and o["reason"] is None for o in options)
    assert by_trigger["dispatch"]["requires"] == ["target"]
    assert by_trigger["escalate"]["requires"] == ["note"]
    assert by_trigger["escalate"]["dest"] == ["community_handling"]
    assert by_trigger["resolve"]["label"] == "办结" and "网格长" in by_trigger["resolve"]["role_labels"]


def test_triggers_for_another_grids_leader(cc: CLI, handling: int) -> None:
    options = cc.json("case", "triggers", str(handling), "--actor", "sunli")
    assert [o["trigger"] for o in options] == ["dispatch", "resolve", "escalate"]
    for o in options:
        assert o["allowed"] is False
        assert "孙丽" in o["reason"] and "E社区第1网格" in o["reason"]


def test_triggers_without_actor_and_when_finished(cc: CLI, handling: int) -> None:
    options = cc.json("case", "triggers", str(handling))
    assert [o["allowed"] for o in options] == [None, None, None]
    human = cc.ok("case", "triggers", str(handling), "--actor", "sunli").stdout
    assert "网格处置中 (grid_handling)" in human and "no:" in human
    for trigger, at in (("resolve", "09:20"), ("check", "09:21"), ("close", "09:22")):
        cc.fire(handling, trigger, "wangjg", at=f"{DAY}T{at}")
    assert cc.json("case", "triggers", str(handling), "--actor", "wangjg") == []
    assert "finished" in cc.ok("case", "triggers", str(handling)).stdout


# --------------------------------------------------------------------------- 7. workflow, org, init, module


def test_workflow_validate_default(cc: CLI) -> None:
    result = cc.ok("workflow", "validate")
    assert "valid" in result.stdout and "categories" in result.stdout
    summary = cc.json("workflow", "validate")
    assert summary["valid"] is True and summary["workflow"] == "dongaodi-grid"
    assert summary["categories"] >= 15 and summary["people"] >= 20
    assert cc.json("workflow", "validate", str(WORKFLOW))["hash"] == summary["hash"]


def test_workflow_show(cc: CLI) -> None:
    out = cc.ok("workflow", "show").stdout
    for tier_id, label in TIERS.items():
        assert f"{label} ({tier_id})" in out
    for text in ("东高地街道网格化案件处置流程", "网格处置中 (grid_handling)", "消防安全隐患", "网格长 (grid_leader)"):
        assert text in out, text
    data = cc.json("workflow", "show")
    assert [t["label"] for t in data["tiers"]] == list(TIERS.values())


def test_org_show(cc: CLI) -> None:
    out = cc.ok("org", "show").stdout
    for text in ("王建国 (wangjg)", "安全办", "郑磊 (zhenglei)", "E社区第5网格", "丰台区网格化联席会"):
        assert text in out, text
    data = cc.json("org", "show")
    people = {p["id"]: p for p in data["people"]}
    assert people["wangjg"]["name"] == "王建国" and people["wangjg"]["unit"] == GRID5
    assert AQB in {u["code"] for u in data["units"]}


def test_init_is_idempotent(cc: CLI) -> None:
    first = cc.json("init")
    assert first["workflow_version"] == 1 and first["units_added"] > 0 and first["people_added"] > 0
    again = cc.json("init")
    assert (again["workflow_version"], again["units_added"], again["people_added"]) == (1, 0, 0)
    assert "database ready" in cc.ok("init").stdout


def test_python_m_casecraft_help(tmp_path: Path) -> None:
    proc = run_module("--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Usage:" in proc.stdout and "网格化社会服务管理" in proc.stdout
    for name in ("case", "workflow", "org", "demo", "init"):
        assert name in proc.stdout


def test_real_process_json_and_refusal(tmp_path: Path) -> None:
    base = ("--db", f"sqlite:///{tmp_path / 'p.db'}", "--workflow", str(WORKFLOW))
    proc = run_module(*base, "--at", f"{DAY}T09:15", "case", "report", "--source", "patrol", "--grid", GRID5,
                      "--category", "0101", "--desc", "小广告", "--actor", "wangjg", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    case = json.loads(proc.stdout)
    assert case["tier_label"] == "网格" and "网格" in proc.stdout and "\\u" not in proc.stdout
    refused = run_module(*base, "case", "fire", str(case["id"]), "close", "--actor", "wangjg", cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stdout == "" and refused.stderr.startswith("refused:")
    assert "Allowed: dispatch, resolve, escalate" in refused.stderr
    bad = run_module(*base, "--at", "soon", "case", "show", "1", cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "bad time" in bad.stderr


# --------------------------------------------------------------------------- 8. CASECRAFT_NOW


@pytest.mark.parametrize("now,expected", [
    (f"{DAY}T09:15", bj(f"{DAY}T09:15")),  # no offset: Beijing time
    (f"{DAY}T01:15:00Z", bj(f"{DAY}T09:15")),
    (f"{DAY}T09:15:00+08:00", bj(f"{DAY}T09:15")),
])
def test_casecraft_now_acts_like_at(cc: CLI, monkeypatch: pytest.MonkeyPatch, now: str, expected: str) -> None:
    monkeypatch.setenv("CASECRAFT_NOW", now)
    case = cc.json("case", "report", *[x for kv in REPORT_BASE.items() for x in kv])
    assert case["created_at"] == expected and case["timeline"][0]["at"] == expected
    fired = cc.fire(case["id"], "resolve", "wangjg")
    assert fired["updated_at"] == expected


def test_at_overrides_casecraft_now(cc: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASECRAFT_NOW", f"{DAY}T09:15")
    case = cc.json("case", "report", *[x for kv in REPORT_BASE.items() for x in kv], at=f"{DAY}T11:00")
    assert case["created_at"] == bj(f"{DAY}T11:00")


def test_bad_casecraft_now_exits_2(cc: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASECRAFT_NOW", "tomorrow-ish")
    result = expect(cc("case", "report", *[x for kv in REPORT_BASE.items() for x in kv]), 2)
    assert "bad time" in result.stderr
    monkeypatch.delenv("CASECRAFT_NOW")
    assert cc.cases() == []


def test_casecraft_now_in_a_real_process(tmp_path: Path) -> None:
    proc = run_module("--db", f"sqlite:///{tmp_path / 'n.db'}", "--workflow", str(WORKFLOW), "case", "report",
                      *[x for kv in REPORT_BASE.items() for x in kv], "--json", cwd=tmp_path,
                      env={"CASECRAFT_NOW": f"{DAY}T09:15"})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["created_at"] == bj(f"{DAY}T09:15")


def test_casecraft_db_env_is_the_default_database(cc: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASECRAFT_DB", cc.db)
    cc.report_patrol()
    result = expect(cc.runner.invoke(app, ["--workflow", str(WORKFLOW), "case", "list", "--json"]), 0)
    assert [c["id"] for c in json.loads(result.stdout)["cases"]] == [1]



# --------------------------------------------------------------------------- hostile values


@pytest.mark.parametrize("args", [
    ("case", "show", "99999999999999999999"),
    ("case", "fire", "99999999999999999999", "resolve", "--actor", "wangjg"),
    ("case", "triggers", "99999999999999999999"),
], ids=["show", "fire", "triggers"])
def test_huge_case_id_is_an_unknown_case(cc: CLI, handling: int, args: tuple[str, ...]) -> None:
    result = expect(cc(*args, at=f"{DAY}T10:00"), 1)
    assert "no case 99999999999999999999" in result.stderr


def test_db_file_that_is_not_a_database_exits_2(cc: CLI, tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("not a database\n", encoding="utf-8")
    result = expect(cc.runner.invoke(app, ["--db", f"sqlite:///{junk}", "--workflow", str(WORKFLOW),
                                           "case", "list"]), 2)
    assert "cannot open the database" in result.stderr


@pytest.mark.parametrize("at", ["0001-01-01T00:00", "9999-12-31T23:59-10:00"])
def test_at_out_of_datetime_range_exits_2(cc: CLI, handling: int, at: str) -> None:
    before = cc.snapshot(handling)
    result = expect(cc("case", "fire", str(handling), "resolve", "--actor", "wangjg", at=at), 2)
    assert "bad time" in result.stderr
    assert cc.snapshot(handling) == before


@pytest.mark.parametrize("args", [
    ["case", "list"],  # a typo in --db: no such database
    ["import-backup", "/nonexistent/backup.jsonl"],
    ["init", "--admin", "nobody"],
    ["init", "--sandbox", "--admin", "liming"],
])
def test_a_failed_command_leaves_no_new_database_behind(tmp_path: Path, args: list[str]) -> None:
    """QA, 2026-12-01: each of these used to leave an empty migrated database (and its -wal, -shm) behind."""
    db = tmp_path / "typo.db"
    result = CliRunner().invoke(app, ["--db", f"sqlite:///{db}", *args])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_failed_command_keeps_the_database_that_was_there(tmp_path: Path) -> None:
    db = tmp_path / "work.db"
    assert CliRunner().invoke(app, ["--db", f"sqlite:///{db}", "init", "--sandbox"]).exit_code == 0
    result = CliRunner().invoke(app, ["--db", f"sqlite:///{db}", "case", "show", "999"])
    assert result.exit_code == 1 and db.exists()


def test_a_time_before_the_last_step_is_told_in_the_workflows_zone(cc: CLI) -> None:
    case_id = cc.report_patrol(at=f"{DAY}T10:00")
    result = cc("case", "fire", str(case_id), "resolve", "--actor", "wangjg", at=f"{DAY}T09:00")
    assert result.exit_code == 2
    assert f"{DAY}T09:00:00+08:00" in result.stderr and f"{DAY}T10:00:00+08:00" in result.stderr
    assert "+00:00" not in result.stderr  # QA, 2026-12-01: it said 01:00:00+00:00 and 02:00:00+00:00


def test_an_english_alert_list_keeps_an_urges_note_and_a_notice_has_no_case(cc: CLI) -> None:
    """QA, 2026-12-01: in English the urge's text was made again from its fields (its note lost), and a calendar
    notice's case column said None."""
    case_id = cc.report_patrol(at=f"{DAY}T09:15")
    cc.ok("case", "urge", str(case_id), "--note", "请尽快处理楼门小广告", "--actor", "duyan", at=f"{DAY}T10:00")
    cc.ok("calendar", "check", at="2026-12-02T10:00")
    shown = cc("--lang", "en", "alerts", "list", at="2026-12-02T10:00").stdout
    assert "请尽快处理楼门小广告" in shown and "None" not in shown, shown
