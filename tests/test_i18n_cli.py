"""The command line in Chinese (LANG=zh_CN.UTF-8): help pages, the README tour, refusals, tables, the API.

A checker finds English words in the output; what may remain is an allow-list of ids
(the workflow's triggers, states, tiers, roles, people and unit codes), codes (option
names, environment variables, metavars, file names) and units. English under LANG=C
is unchanged: the existing CLI tests run in English, and a few checks here pin it.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result
from wcwidth import wcswidth

from casecraft.cli.main import app
from tests.conftest import sandbox_db

ROOT = Path(__file__).resolve().parents[1]
ZH = {"LANG": "zh_CN.UTF-8", "LC_ALL": "", "LC_MESSAGES": "", "CASECRAFT_LANG": "", "COLUMNS": "200"}
EN = {"LANG": "C", "LC_ALL": "", "LC_MESSAGES": "", "CASECRAFT_LANG": "", "COLUMNS": "200"}

# codes, formats and product names an operator types or reads as they are
ALLOWED = {
    # formats, protocols and products, as written
    "casecraft", "sqlite", "postgresql", "psycopg", "json", "jsonl", "lines", "yaml", "csv", "xlsx", "excel", "png",
    "svg", "pdf", "jpeg", "jpg", "gif", "webp", "heic", "avif", "mermaid", "mmd", "dot", "bpmn", "graphviz", "utf",
    "iso", "cron", "ctrl", "tls", "api", "http", "https", "fastapi", "uvicorn", "apscheduler", "oidc", "authlib",
    "pygraphviz", "chinesecalendar", "wgs", "tcp", "mib", "kib", "cjk", "debian", "wecombot", "dingtalk", "mailto",
    "apprise", "dongaodi", "cr", "lf", "crlf", "draft", "utc", "mm", "dd", "yyyy", "id", "ids", "path",
    # values an option takes, typed as they are (solved|unsolved, log levels, 'current', kind platform, off)
    "solved", "unsolved", "critical", "error", "warning", "info", "debug", "updated", "current", "platform", "off",
    "workday", "holiday", "sandbox",
    # units of time as workflow files write them ("limit: 2 working hours") and the keys a version diff names
    "working", "hour", "hours", "day", "days", "minutes", "limit", "states",
    # table names of a backup (ids)
    "files", "ledger", "meta", "people", "units", "cases", "deadlines", "timeline", "alerts", "deliveries",
}


def _workflow_ids() -> set[str]:
    """Every id the workflow and the organisation define: triggers, states, tiers, roles, people, units."""
    words: set[str] = set()
    for name in ("workflows.yaml", "organisation.yaml"):
        text = re.sub(r"(?m)^\s*#.*$", "", (ROOT / name).read_text(encoding="utf-8"))  # comments are prose
        for key in ("id", "trigger", "tier", "code", "source", "dest", "class", "scope", "kind", "unit", "roles"):
            for found in re.finditer(rf"\b{key}: *\[?([\w-]+(?:, *[\w-]+(?![\w:-]))*)", text):
                words.update(w.lower() for w in re.findall(r"[A-Za-z_]+", found[1]))
    return words


def _command_names() -> set[str]:
    """The command names an operator types (`case fire`, `import-backup`): ids, not prose."""
    import typer.main

    names: set[str] = set()

    def walk(group: Any) -> None:
        for name, cmd in getattr(group, "commands", {}).items():
            names.update(name.split("-"))
            walk(cmd)

    walk(typer.main.get_command(app))
    return names


IDS = _workflow_ids() | _command_names() | {"zh", "en"}


def english(text: str) -> list[str]:
    """English words in ``text`` that are not ids, codes or units."""
    text = re.sub(r"`[^`]*`", " ", text)  # a command to type
    text = re.sub(r"\w+://\S*", " ", text)  # URLs
    text = re.sub(r"\b[A-Z][a-z]+/[A-Za-z_]+", " ", text)  # time zones (Asia/Shanghai)
    text = re.sub(r"'[^'\s]*'|\"[^\"\s]*\"", " ", text)  # a quoted value ('--db', 'CASE', "1")
    text = re.sub(r"(?<![\w])--?[A-Za-z][\w-]*", " ", text)  # option names
    text = re.sub(r"\$?\b[A-Z][A-Z0-9_]{1,}\b(\.\.\.)?", " ", text)  # env vars and metavars (CASE, FILE, ...)
    text = re.sub(r"[\w./~-]+\.(yaml|yml|json|jsonl|csv|db|mmd|png|svg|jpg|jpeg|pdf|md|txt|xlsx|bpmn|dot|py)\b",
                  " ", text)  # file names
    text = re.sub(r"\b\d+(?:-\w+)+", " ", text)  # unit codes (110106004-aqb)
    text = re.sub(r"\b\w*[_\d]\w*\b", " ", text)  # ids with an underscore or a digit, hashes, codes
    text = re.sub(r"[\w.-]+/", " ", text)  # folders (casecraft-data/)
    text = re.sub(r"\b\w+(?:,\w+)+\b", " ", text)  # CSV columns (date,status,note)
    text = re.sub(r"\bv\d+\b", " ", text)
    words = re.findall(r"[A-Za-z]+", text)
    return [w for w in words if w.lower() not in ALLOWED and w.lower() not in IDS and len(w) > 1]


def run(runner: CliRunner, *args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, list(args), env={**ZH, **(env or {})})


def _every_command(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [path]
    for name, cmd in getattr(group, "commands", {}).items():
        out += _every_command(cmd, (*path, name)) if hasattr(cmd, "commands") else [(*path, name)]
    return out


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A fresh sandbox database in an empty working directory with the repository's workflow."""
    for name in ("workflows.yaml", "organisation.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    monkeypatch.chdir(tmp_path)
    for var in ("CASECRAFT_NOW", "CASECRAFT_DB", "CASECRAFT_WORKFLOW", "CASECRAFT_DATA", "CASECRAFT_SERVER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CASECRAFT_SQLITE_SYNC", "NORMAL")
    # what `casecraft init --sandbox` makes here, copied from the session's template (tests/test_templates.py)
    sandbox_db(f"sqlite:///{tmp_path / 'casecraft.db'}", None, tmp_path / "workflows.yaml")
    return CliRunner()


def test_the_checker_finds_english_and_allows_ids() -> None:
    assert english("拒绝：案件 1 处于网格处置中(grid_handling)；此时不允许 'close'。可用操作：dispatch, resolve") == []
    assert english("refused: the case is closed") == ["refused", "the", "is"]
    assert english("用法：casecraft case fire [选项] {CASE} {TRIGGER}") == []


def test_every_help_page_is_chinese() -> None:
    import typer.main

    runner = CliRunner()
    commands = _every_command(typer.main.get_command(app))
    assert len(commands) > 50
    leaks: dict[str, list[str]] = {}
    for path in commands:
        result = run(runner, *path, "--help")
        assert result.exit_code == 0, (path, result.output)
        assert "用法：" in result.output and "显示本帮助后退出。" in result.output
        found = english(result.output)
        if found:
            leaks[" ".join(path) or "casecraft"] = found
    assert not leaks, leaks


def _tour() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- tour -->", 1)[1].split("<!-- /tour -->", 1)[0]
    script = re.findall(r"```bash\n(.*?)```", block, flags=re.S)[0]
    return [c for c in script.replace("\\\n", " ").splitlines() if c.strip() and not c.lstrip().startswith("#")]


@pytest.mark.slow
def test_the_readme_tour_speaks_chinese(sandbox: CliRunner, tmp_path: Path) -> None:
    """Every command of the README's tour, run in order under LANG=zh_CN.UTF-8: all output Chinese but ids."""
    env: dict[str, str] = {}
    leaks: list[tuple[str, list[str]]] = []
    ran = 0
    for line in _tour():
        words = shlex.split(line, comments=True)
        if words[0] == "export":
            key, _sep, value = words[1].partition("=")
            env[key] = value
            continue
        local = dict(env)
        while "=" in words[0] and not words[0].startswith("-"):
            key, _sep, value = words.pop(0).partition("=")
            local[key] = value
        if words[0] != "casecraft":  # the sed that writes workflows-v2.yaml
            subprocess.run(["bash", "-c", line], cwd=tmp_path, check=True, timeout=60)
            continue
        if ">" in words:
            words = words[:words.index(">")]
        if words[1:3] == ["init", "--sandbox"]:
            continue  # the fixture made the sandbox database
        result = run(sandbox, *words[1:], env=local)
        assert result.exit_code == 0, (line, result.output)
        ran += 1
        found = english(result.output)
        if found:
            leaks.append((line, found))
    assert ran >= 50  # every casecraft command of the tour but `init --sandbox`
    assert not leaks, leaks


@pytest.mark.parametrize(("args", "code", "expected"), [
    (("case", "fire", "1", "close", "--actor", "wangjg"), 1, "此时不允许 'close'"),
    (("case", "fire", "1", "resolve", "--actor", "zhoumin"), 1, "不能对案件 1 执行 'resolve'"),
    (("case", "fire", "1", "escalate", "--actor", "wangjg"), 2, "需要 --note"),
    (("case", "show", "999"), 1, "没有案件 999"),
    (("case", "show", "abc"), 2, "应为整数"),
    (("case", "fire", "1"), 2, "缺少参数 'TRIGGER'"),
    (("case", "list", "--bogus"), 2, "没有选项"),
    (("case", "report", "--source"), 2, "需要一个值"),
    (("case", "report", "--source", "radio", "--grid", "110106004005005", "--category", "0101", "--desc", "x",
      "--actor", "wangjg"), 2, "未知来源 'radio'"),
    (("nope",), 2, "没有命令 'nope'"),
    (("--lang", "xx", "case", "list"), 2, "不是可用的语言"),
    (("case", "fire", "1", "x", "y", "z"), 2, "多余的参数"),
    (("--at", "yesterday", "case", "list"), 2, "时间 'yesterday' 有误"),
    (("case", "request-extension", "1", "--actor", "wangjg", "--by", "0工作日", "--note", "需配合"), 2, "必须大于零"),
    (("case", "fire", "1", "dispatch", "--actor", "wangjg", "--to", "nobody"), 2, "未知人员或单位 'nobody'"),
    (("case", "fire", "1", "resolv", "--actor", "wangjg"), 1, "(是否指 resolve？)"),  # the hint in the details
])
def test_refusals_are_chinese(sandbox: CliRunner, args: tuple[str, ...], code: int, expected: str) -> None:
    report = run(sandbox, "case", "report", "--source", "patrol", "--grid", "110106004005005", "--category", "0101",
                 "--desc", "楼门张贴小广告", "--actor", "wangjg", env={"CASECRAFT_NOW": "2026-11-24T08:40"})
    assert report.exit_code == 0, report.output
    result = run(sandbox, *args, env={"CASECRAFT_NOW": "2026-11-24T09:00"})
    assert result.exit_code == code, result.output
    assert expected in result.output
    assert not english(result.output), result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("args", "code", "expected"), [
    (("org", "add-unit", "110106004099", "--name", "测试", "--parent", "110106004", "--kind", "bogus"), 2,
     "未知单位类型 'bogus'"),
    (("org", "add-person", "zz1", "--name", "张三", "--unit", "110106004-aqb", "--role", "grid_leadr"), 2,
     "未知角色 'grid_leadr'；是否指 grid_leader？"),
    (("workflow", "diff", "v1", "v9"), 1, "没有版本 9；已有版本：v1"),
    (("import-backup", "nothere.jsonl"), 2, "没有备份文件 'nothere.jsonl'"),
    (("calendar", "import", "nothere.csv"), 2, "没有文件 'nothere.csv'"),
    (("workflow", "diagram", "out.xyz", "--format", "bogus"), 2, "未知流程图格式 'bogus'"),
    (("--db", "sqlite:///fresh.db", "import-backup", "garbage.jsonl"), 2,
     "garbage.jsonl:1：不是 casecraft 备份的 JSON 行；未导入任何内容"),  # a reason nested in the error, translated
])
def test_engine_refusals_once_fstrings_are_chinese(sandbox: CliRunner, args: tuple[str, ...], code: int,
                                                    expected: str) -> None:
    """Refusals the library used to build as f-strings now come from the catalogue, with their details."""
    Path("garbage.jsonl").write_text("garbage\n", encoding="utf-8")
    result = run(sandbox, *args)
    assert result.exit_code == code, result.output
    assert expected in result.output
    assert not english(result.output), result.output
    english_run = run(sandbox, *args, env=EN)
    assert english_run.exit_code == code
    assert not re.search(r"[\u4e00-\u9fff]", english_run.output.replace("测试", "").replace("张三", "")), \
        english_run.output


def test_a_workflow_problems_hint_is_chinese(sandbox: CliRunner) -> None:
    bad = str(ROOT / "tests" / "data" / "workflows" / "bad" / "unknown_state_tier.yaml")
    result = run(sandbox, "workflow", "validate", bad)
    assert result.exit_code == 2
    assert "'comunity' (是否指 community？)" in result.output and "did you mean" not in result.output
    assert "(did you mean community?)" in run(sandbox, "workflow", "validate", bad, env=EN).output


BROKEN = {  # a broken workflow file: a phrase of its problem in Chinese, and the English one under LANG=C
    "leaves_final": ("流转 'report' 离开了终态 'closed'", "transition 'report' leaves the final state 'closed' "
                     "(final states have no way out; remove the transition or make the state non-final)"),
    "ambiguous_transition": ("以相同条件定义了两次（首次在第 49 行）", "transition 'close' from 'to_close' is defined "
                             "twice with the same conditions (first on line 49); which one applies would be ambiguous"),
    "duplicate_state_id": ("状态编号 'closed' 重复（首次定义于第 36 行）",
                           "duplicate state id 'closed' (first defined on line 36)"),
    "unknown_role": ("未知角色 'operater'", "unknown role 'operater' (did you mean operator?)"),
    "no_final_state": ("没有终态 (请用 `final: true` 标记结案状态)",
                       "no state is final (mark the closing states with final: true)"),
    "unreachable_state": ("从 'new' 无法到达状态 'orphan' (请增加进入它的流转，或删除它)",
                          "state 'orphan' cannot be reached from 'new' (add a transition into it or remove it)"),
    "escalate_skips_tier": ("'escalate' 必须正好上升一个层级", "'escalate' must go exactly one tier up, but "
                            "'grid_handling' is at grid and 'street_handling' at street (a state at community is "
                            "expected)"),
    "responsible_wrong_tier": ("单位 'S1C1' 位于层级 community，而不是 street",
                               "unit 'S1C1' is at tier community, not street"),
    "bad_timezone": ("未知时区 'Asia/Shanghia' (例如 Asia/Shanghai)",
                     "unknown timezone 'Asia/Shanghia' (e.g. Asia/Shanghai)"),
    "not_utf8": ("文件不是 UTF-8 文本 (请另存为 UTF-8)", "file is not UTF-8 text (save it as UTF-8)"),
    "not_mapping": ("流程文件必须是包含 `workflow`、", "the workflow file must be a mapping with keys workflow, tiers, "
                    "roles, triggers, states, transitions, ..."),
    "missing_key": ("`transitions.1.dest` 缺少必需的键 'dest'", "missing required key 'dest' at transitions.1.dest"),
}


def test_workflow_lint_warnings_are_chinese(sandbox: CliRunner, tmp_path: Path) -> None:
    """A lint warning (no warn_at) in Chinese but its code; the English one unchanged under LANG=C."""
    text = (tmp_path / "workflows.yaml").read_text(encoding="utf-8")
    (tmp_path / "nowarn.yaml").write_text(re.sub(r"(?m)^\s*warn_at:.*$", "", text), encoding="utf-8")
    result = run(sandbox, "workflow", "validate", "nowarn.yaml")
    assert result.exit_code == 0, result.output
    assert "个计时状态没有预警阈值" in result.output and "[no-warn-threshold]" in result.output
    assert not english(result.output.replace("[no-warn-threshold]", "")), result.output
    plain = run(sandbox, "workflow", "validate", "nowarn.yaml", env=EN).output
    assert ("timed state(s) have no warning threshold: workflow.warn_at is not set, so the yellow warning silently "
            "comes at the default 80% of each limit [no-warn-threshold] (add e.g. `warn_at: 0.8` under workflow:)"
            ) in plain


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_workflow_validation_problems_are_chinese(sandbox: CliRunner, name: str) -> None:
    """`workflow validate` on a broken file: every problem in Chinese but its ids; English unchanged under LANG=C."""
    bad = str(ROOT / "tests" / "data" / "workflows" / "bad" / f"{name}.yaml")
    chinese, english_words = BROKEN[name]
    result = run(sandbox, "workflow", "validate", bad)
    assert result.exit_code == 2, result.output
    shown = result.output.replace(bad, "FILE")
    assert chinese in shown and not english(shown), shown
    plain = run(sandbox, "workflow", "validate", bad, env=EN)
    assert plain.exit_code == 2
    assert f": error: {english_words}\n" in plain.output.replace(bad, "FILE"), plain.output
    assert not re.search(r"[\u4e00-\u9fff]", plain.output), plain.output


def test_english_is_unchanged_under_lang_c(sandbox: CliRunner) -> None:
    r = run(sandbox, "case", "report", "--source", "patrol", "--grid", "110106004005005", "--category", "0101",
            "--desc", "楼门张贴小广告", "--actor", "wangjg", env={**EN, "CASECRAFT_NOW": "2026-11-24T08:40"})
    assert r.stdout.strip() == "1"
    refused = run(sandbox, "case", "fire", "1", "close", "--actor", "wangjg", env=EN)
    assert refused.exit_code == 1
    assert refused.stderr.strip() == ("refused: case 1 is 网格处置中(grid_handling); 'close' is not allowed there. "
                                      "Allowed: dispatch, resolve, escalate")
    shown = run(sandbox, "case", "show", "1", env={**EN, "CASECRAFT_NOW": "2026-11-24T09:00"}).stdout
    assert "(5h 30m left, 时限 4 working hours)" in shown and "by wangjg" in shown and "(patrol)" in shown
    helped = run(sandbox, "case", "fire", "--help", env=EN).stdout
    assert helped.startswith("Usage: ") and "Show this message and exit." in helped and "Options" in helped
    missing = run(sandbox, "case", "fire", "1", env=EN)
    assert "Error: Missing argument 'TRIGGER'." in missing.output
    # CASECRAFT_LANG and --lang choose English over a Chinese locale, and Chinese over C
    assert "refused: " in run(sandbox, "case", "fire", "1", "close", "--actor", "wangjg",
                              env={"CASECRAFT_LANG": "en"}).stderr
    assert "拒绝：" in run(sandbox, "--lang", "zh", "case", "fire", "1", "close", "--actor", "wangjg", env=EN).stderr
    assert "refused: " in run(sandbox, "--lang", "en", "case", "fire", "1", "close", "--actor", "wangjg").stderr


def test_chinese_case_details_names_durations_and_json_labels(sandbox: CliRunner) -> None:
    import json

    run(sandbox, "case", "report", "--source", "patrol", "--grid", "110106004005005", "--category", "0102",
        "--desc", "店外经营", "--actor", "wangjg", env={"CASECRAFT_NOW": "2026-11-24T08:40"})
    shown = run(sandbox, "case", "show", "1", env={"CASECRAFT_NOW": "2026-11-24T08:41"}).stdout
    assert "巡查发现" in shown and "上报人 王建国 (wangjg)" in shown
    assert "（剩余5小时49分，时限 4工作时）" in shown
    data = json.loads(run(sandbox, "case", "show", "1", "--json").stdout)
    assert data["source"] == "patrol" and data["source_label"] == "巡查发现" and data["urgency_label"] == "一般"
    data_en = json.loads(run(sandbox, "case", "show", "1", "--json", env=EN).stdout)
    assert data_en["source"] == "patrol" and data_en["source_label"] == "patrol"
    assert set(data) == set(data_en)  # the same keys in both languages


def test_time_limits_read_as_operators_say_them() -> None:
    from casecraft import i18n
    from casecraft.cli.render import limit_label

    i18n.set_language(i18n.CHINESE)
    try:
        assert limit_label("1 working day") == "1个工作日"
        assert limit_label("4 working hours") == "4工作时"
        assert limit_label("30 minutes") == "30分钟"
    finally:
        i18n.set_language(i18n.ENGLISH)
    assert limit_label("1 working day") == "1 working day"


def _columns(line: str) -> list[int]:
    """Display columns (wcwidth) of the table's vertical rules in one line."""
    cols, at = [], 0
    for ch in line:
        if ch in "┃│┏┓┗┛┡┩└┘┳┻╇┼╋┴┬":
            cols.append(at)
        at += max(wcswidth(ch), 0)
    return cols


def test_chinese_tables_are_aligned(sandbox: CliRunner) -> None:
    for desc in ("楼门张贴小广告，影响市容", "x", "占道经营"):
        run(sandbox, "case", "report", "--source", "patrol", "--grid", "110106004005005", "--category", "0101",
            "--desc", desc, "--actor", "wangjg", env={"CASECRAFT_NOW": "2026-11-24T08:40"})
    for args in (("case", "list"), ("case", "show", "1"), ("case", "triggers", "1", "--actor", "zhoumin")):
        out = run(sandbox, *args, env={"CASECRAFT_NOW": "2026-11-24T09:00"}).stdout
        rows = [ln for ln in out.splitlines() if ln[:1] in "┏┃┡│└"]
        assert len(rows) >= 4, out
        assert len({wcswidth(r) for r in rows}) == 1, out  # every row as wide as the others
        assert len({tuple(_columns(r)) for r in rows}) == 1, out  # the rules line up in display columns
    helped = run(sandbox, "case", "fire", "--help").stdout
    starts = {wcswidth(ln[:ln.index("  ", 4)].rstrip()) * 0 + _help_column(ln)
              for ln in helped.splitlines() if ln.startswith("  --")}
    assert len(starts) == 1, helped  # option help texts start in one display column


def _help_column(line: str) -> int:
    """The display column where an option's help text starts (after the name and its type)."""
    found = re.match(r"(\s+--\S+(?: <[^>]+>)?)(\s+)", line)
    assert found
    return wcswidth(found[1]) + len(found[2])


def test_the_api_answers_in_the_language_asked(sandbox: CliRunner) -> None:
    from starlette.requests import Request

    from casecraft.base.errors import NotFound
    from casecraft.server.problems import problem_body, problem_response

    def request(lang: str | None) -> Request:
        headers = [(b"accept-language", lang.encode())] if lang else []
        return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})

    exc = NotFound("no case {case}", case=7)
    zh = problem_body(exc, request("zh-CN,zh;q=0.9,en;q=0.5"))
    assert zh["title"] == "未找到" and zh["detail"] == "没有案件 7"
    assert zh["code"] == "not_found" and zh["template"] == "no case {case}" and zh["details"] == {"case": 7}
    en = problem_body(exc, request("en-GB"))
    assert en["title"] == "Not found" and en["detail"] == "no case 7"
    assert problem_body(exc, request(None))["detail"] == "no case 7"
    response = problem_response(exc, request("zh"))
    assert response.headers["content-language"] == "zh-CN" and "Accept-Language" in response.headers["vary"]


@pytest.mark.parametrize("args", [
    ("calendar", "show", "2026"), ("calendar", "show", "2031"), ("workflow", "show"), ("org", "show"),
    ("workflow", "versions"), ("audit", "verify"), ("alerts", "list"), ("case", "list"), ("log", "list"),
    ("demo",),
])
def test_other_pages_are_chinese(sandbox: CliRunner, args: tuple[str, ...]) -> None:
    result = run(sandbox, *args, env={"CASECRAFT_NOW": "2026-11-24T09:00"})
    assert result.exit_code == 0, result.output
    assert not english(result.output), english(result.output)


def test_an_alert_reads_in_the_operators_language(sandbox: CliRunner) -> None:
    """The alert table's headers, kinds and levels in the chosen language; the stored (Chinese) alert text as it
    was raised for a Chinese reader, and made again from the alert's fields for an English one."""
    assert run(sandbox, "demo", env=EN).exit_code == 0
    db = "sqlite:///casecraft-demo.db"
    table = run(sandbox, "--db", db, "alerts", "list")
    assert table.exit_code == 0, table.output
    assert "级别" in table.output and "上一级" in table.output and "已超期" in table.output
    assert not english(table.output), english(table.output)
    plain = run(sandbox, "--db", db, "alerts", "list", env=EN).output
    assert "alert level" in plain and "one level up" in plain and "overdue" in plain
    assert "case 3 (community_dispatched): overdue, due 11-24" in plain
    assert "已超期" not in plain and "级别" not in plain
