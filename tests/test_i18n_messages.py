"""The rest of issue 17's messages in Chinese under LANG=zh_CN.UTF-8, and unchanged English under LANG=C.

An organisation file's bad rows, a hotline file's address routing, a unit still in use, YAML and
schema problems of a workflow file (as `workflow validate` and the API's problem document show
them), a refused migration, a refused restore and a failed alert delivery. Each is checked with
the English-word checker of test_i18n_cli.py (ids, codes and units may stay).
"""

# ruff: noqa: F811 - `sandbox` is test_i18n_cli.py's fixture, imported to be used by name
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.test_i18n_cli import EN, ROOT, english, run, sandbox  # noqa: F401 - sandbox is a fixture

NOW = {"CASECRAFT_NOW": "2026-11-24T09:00"}


def _han(text: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", text))


def _shown(text: str, *names: str) -> str:
    """The output without the file names it quotes (a temporary path is not prose)."""
    for name in names:
        text = text.replace(name, "FILE")
    return text


# --- a. organisation file rows, address routing, a unit in use -------------------------------------------------

def test_bad_rows_of_a_people_file_are_chinese(sandbox: CliRunner) -> None:
    Path("people.csv").write_text("id,name,unit,roles\nzz,张三,110106004005005,operator\n,李四,,\n"
                                  "zz,王五,110106004005005,operator\n", encoding="utf-8")
    result = run(sandbox, "org", "reload", "people.csv")
    assert result.exit_code == 2, result.output
    shown = _shown(result.output, "people.csv")
    assert "FILE:3：`unit` 列为空" in shown and "FILE:4：人员编号 'zz' 重复（首次出现在第 2 行）" in shown
    assert "FILE:3：`roles` 列为空（多个角色用 ';' 分隔）" in shown
    assert not english(shown), shown
    plain = run(sandbox, "org", "reload", "people.csv", env=EN)
    assert plain.exit_code == 2
    assert "people.csv:4: duplicate person id 'zz' (first on line 2)" in plain.output
    assert "people.csv:3: roles is empty (separate several with ';')" in plain.output
    assert not _han(plain.output.replace("张三", "").replace("李四", "").replace("王五", ""))


def test_unknown_units_and_roles_of_a_people_file_are_chinese(sandbox: CliRunner) -> None:
    Path("units.csv").write_text("id,name,unit,roles\nzz1,张三,nowhere,operator\n", encoding="utf-8")
    Path("roles.csv").write_text("id,name,unit,roles\nyy1,王五,110106004005005,badrole\n", encoding="utf-8")
    unit = run(sandbox, "org", "reload", "units.csv")
    assert unit.exit_code == 2 and "FILE：人员 zz1：未知单位 'nowhere'" in _shown(unit.output, "units.csv")
    role = run(sandbox, "org", "reload", "roles.csv")
    assert role.exit_code == 2 and "FILE：人员 yy1：未知角色 badrole；可用角色：" in _shown(role.output, "roles.csv")
    for result, name in ((unit, "units.csv"), (role, "roles.csv")):
        assert not english(_shown(result.output, name).replace("badrole", "")), result.output
    assert "units.csv: person zz1: unknown unit 'nowhere'" in run(sandbox, "org", "reload", "units.csv", env=EN).output
    assert "roles.csv: person yy1: unknown role(s) badrole; roles: " in run(sandbox, "org", "reload", "roles.csv",
                                                                        env=EN).output


def test_schema_problems_of_an_organisation_file_are_chinese(sandbox: CliRunner) -> None:
    text = (ROOT / "organisation.yaml").read_text(encoding="utf-8")
    old = '  - {id: zhoumin, name: 周敏, unit: "110106004005", roles: [operator]}'
    assert old in text
    Path("org-bad.yaml").write_text(text.replace(old, old.replace("name:", "nmae: x, name:").replace(
        "[operator]", "operator")), encoding="utf-8")
    result = run(sandbox, "org", "reload", "org-bad.yaml")
    assert result.exit_code == 2, result.output
    assert "`people.4.nmae` 处有未知的键 'nmae' (是否指 name？)" in result.output
    assert "`people.4.roles`：应为列表（实际为 'operator'）" in result.output
    assert not english(result.output.replace("nmae", "").replace("name？", "？")), english(result.output)  # keys
    plain = run(sandbox, "org", "reload", "org-bad.yaml", env=EN).output
    assert "error: people.4.roles: Input should be a valid list (got 'operator')" in plain
    assert "error: unknown key 'nmae' at people.4.nmae (did you mean name?)" in plain


def _hotline() -> None:
    Path("hot.csv").write_text(
        "ticket,channel,received_at,address,grid,category,description\n"
        "T1,12345,2026-11-24T08:05,火星基地,,0104,垃圾\n"
        "T2,12345,2026-11-24T08:05,,999999999999999,0104,垃圾\n"
        "T3,12345,2026-11-24T08:05,东高地南街,,0104,垃圾\n", encoding="utf-8")


def test_bad_rows_whose_reasons_hold_values_are_chinese_line_by_line(sandbox: CliRunner) -> None:
    """QA, 2026-12-01: "row 2, ticket: 'T 2' must not contain spaces" was matched back to the ticket message with
    the row as its ticket ("row 2, ticket: 'T 2'" 不能含有空格), "必须填写row 4, description:"."""
    Path("rows.csv").write_text(
        "ticket,channel,received_at,address,grid,category,description\n"
        "T 2,12345,2026-11-24T08:05,东高地南街,,0104,垃圾\n"
        "T3,12345,2031-01-01T08:05,东高地南街,,0104,垃圾\n"
        "T4,12345,2026-11-24T08:05,东高地南街,,0104,\n", encoding="utf-8")
    refused = run(sandbox, "hotline", "import", "rows.csv", "--actor", "wujing", env=NOW)
    assert refused.exit_code == 2, refused.output
    shown = _shown(refused.output, "rows.csv")
    for line in ("第 2 行，工单号：'T 2' 不能含有空格", "第 3 行，受理时间：2031-01-01T08:05 晚于导入时间",
                 "第 4 行，问题描述：为必填项"):
        assert line in shown, shown
    assert not english(shown), shown


def test_address_routing_reasons_are_chinese(sandbox: CliRunner) -> None:
    """A hotline file refused for rows whose address or grid routes nowhere: the whole list in Chinese."""
    _hotline()
    refused = run(sandbox, "hotline", "import", "hot.csv", "--actor", "wujing", env=NOW)
    assert refused.exit_code == 2, refused.output
    shown = _shown(refused.output, "hot.csv")
    assert "FILE：3 行中有 2 行有误；未导入任何内容" in shown
    assert "第 2 行，地址：地址中没有出现任何单位的地址关键词；请给出网格编码或添加关键词" in shown
    assert "第 3 行，网格编码：未知网格 '999999999999999'" in shown
    assert not english(shown), shown
    plain = run(sandbox, "hotline", "import", "hot.csv", "--actor", "wujing", env={**EN, **NOW})
    assert plain.exit_code == 2
    assert ("  row 2, address: no unit's address keywords occur in the address; give the grid code or add a keyword "
            "(`casecraft org set-addresses`)\n  row 3, grid: unknown grid '999999999999999'; see `casecraft org show`"
            ) in plain.output
    skipped = run(sandbox, "hotline", "import", "hot.csv", "--actor", "wujing", "--skip-bad", env=NOW)
    assert skipped.exit_code == 0, skipped.output
    assert "已跳过 第 2 行，地址：地址中没有出现任何单位的地址关键词" in skipped.output
    assert not english(_shown(skipped.output, "hot.csv", "hot.rejects.csv")), skipped.output


def test_a_unit_still_in_use_says_why_in_chinese(sandbox: CliRunner) -> None:
    result = run(sandbox, "org", "deactivate", "110106004005")
    assert result.exit_code == 1
    assert "仍在使用中：在岗人员 chengang, zhangwei, zhoumin（请调走或停用他们）；下级在用单位" in result.output
    assert not english(result.output), result.output
    plain = run(sandbox, "org", "deactivate", "110106004005", env=EN)
    assert "is still in use: active people chengang, zhangwei, zhoumin (move or deactivate them); active units " \
           "110106004005001, 110106004005005 below it (deactivate them first)" in plain.output


# --- b, g. YAML and schema problems of a workflow file ----------------------------------------------------------

BROKEN_YAML = {  # (the change to the default workflow, the Chinese, the English as before)
    "ruamel_mapping": (("  name: 东高地街道网格化案件处置流程", "  name: a: b"), "YAML：此处不能出现映射的值",
                       "YAML: mapping values are not allowed here"),
    "ruamel_tab": (("tiers:", "tiers:\n\t- x"), "YAML：制表符不能用于缩进，请改用空格",
                   "YAML: found character '\\t' that cannot start any token"),
    "duplicate_key": (("{id: grid, label: 网格}", "{id: grid, label: 网格, label: 格}"),
                      'YAML：键 "label" 重复（首次出现在第', 'YAML: duplicate key "label" (first on line'),
    "unknown_alias": (("{id: grid, label: 网格}", "{id: grid, label: *nowhere}"), "YAML：未知的别名 *nowhere",
                      "YAML: unknown alias *nowhere (define the anchor (&name) before using it)"),
    "bad_tag": (("  name: 东高地街道网格化案件处置流程", "  name: !!binary 5pyA5bCP"), "YAML：不支持的标签 '!!binary'",
                "YAML: unsupported tag '!!binary'"),
    "bool": (("final: true", "final: yes"), "应为 `true` 或 `false`（实际为 'yes'）",
             "Input should be a valid boolean (got 'yes')"),
    "literal": (("direction: up}", "direction: upward}"), "应为 'up', 'down' 或 'none' 之一（实际为 'upward'）",
                "Input should be 'up', 'down' or 'none' (got 'upward')"),
    "sink_secret": (("    - {type: log}", "    - {type: webhook, url: 'https://x.example/h'}"),
                    "通道的 `url` 是机密，不写在流程文件中",
                    "Value error, a sink's url is a secret and is not written in the workflow file"),
}


@pytest.mark.parametrize("name", sorted(BROKEN_YAML))
def test_yaml_and_schema_problems_are_chinese(sandbox: CliRunner, name: str) -> None:
    (old, new), chinese, plain_words = BROKEN_YAML[name]
    text = (ROOT / "workflows.yaml").read_text(encoding="utf-8")
    assert old in text, old
    Path("broken.yaml").write_text(text.replace(old, new, 1), encoding="utf-8")
    result = run(sandbox, "workflow", "validate", "broken.yaml")
    assert result.exit_code == 2, result.output
    assert chinese in result.output, result.output
    assert not english(result.output.replace("nowhere", "")), english(result.output)
    plain = run(sandbox, "workflow", "validate", "broken.yaml", env=EN)
    assert plain.exit_code == 2 and plain_words in plain.output, plain.output


def test_a_problem_carries_its_template_and_details(sandbox: CliRunner) -> None:
    """`workflow validate --json`: the English message, its template and details, and the label in Chinese."""
    text = (ROOT / "workflows.yaml").read_text(encoding="utf-8")
    Path("broken.yaml").write_text(text.replace("final: true", "final: yes", 1), encoding="utf-8")
    found = json.loads(run(sandbox, "workflow", "validate", "broken.yaml", "--json").stdout)["problems"][0]
    assert found["message"].endswith(": Input should be a valid boolean (got 'yes')")
    assert found["template"] == "{where}: Input should be a valid boolean (got {shown})"
    assert found["details"]["shown"] == "'yes'"
    assert found["message_label"].endswith("：应为 `true` 或 `false`（实际为 'yes'）")


# --- c. the API's problem document of an invalid workflow --------------------------------------------------------

def test_the_apis_workflow_problems_follow_accept_language() -> None:
    from starlette.requests import Request

    from casecraft.base.errors import WorkflowError
    from casecraft.server.problems import problem_body
    from casecraft.workflows.loader import load_workflow

    bad = ROOT / "tests" / "data" / "workflows" / "bad" / "unknown_role.yaml"
    with pytest.raises(WorkflowError) as caught:
        load_workflow(bad)

    def body(lang: str | None) -> dict[str, object]:
        headers = [(b"accept-language", lang.encode())] if lang else []
        return problem_body(caught.value, Request({"type": "http", "method": "GET", "path": "/", "headers": headers}))

    zh, en = body("zh-CN,zh;q=0.9"), body(None)
    assert zh["status"] == en["status"] == 422 and zh["title"] == "流程无效"
    first_zh, first_en = zh["problems"][0], en["problems"][0]  # type: ignore[index]
    assert first_en["message"] == "unknown role 'operater'" and first_en["hint"] == "did you mean operator?"
    assert first_zh["message"] == "未知角色 'operater'" and first_zh["hint"] == "是否指 operator？"
    assert first_zh["template"] == "unknown {what} '{code}'" and first_zh["details"] == {"what": "role",
                                                                                          "code": "operater"}
    assert str(zh["detail"]).startswith("流程中有 1 个问题：\n") and "未知角色 'operater'" in str(zh["detail"])
    assert not english(str(zh["detail"]).replace(str(bad), "FILE"))
    assert str(en["detail"]).startswith("1 problem in the workflow:\n")
    assert en["details"]["problems"] == [str(p) for p in caught.value.problems]  # type: ignore[index]


# --- d. a refused migration ---------------------------------------------------------------------------------------

def test_nothing_migrated_says_why_in_chinese(sandbox: CliRunner, tmp_path: Path) -> None:
    from tests.test_authoring_versions import write_v2

    v2 = str(write_v2(tmp_path / "v2"))
    at = {"CASECRAFT_NOW": "2026-11-24T09:30"}
    case = run(sandbox, "case", "report", "--source", "patrol", "--grid", "110106004005005", "--category", "0101",
               "--desc", "小广告", "--actor", "wangjg", env=at).stdout.strip()
    assert run(sandbox, "case", "fire", case, "escalate", "--actor", "wangjg", "--note", "上报", env=at).exit_code == 0
    assert run(sandbox, "--workflow", v2, "workflow", "publish", env=at).exit_code == 0
    args = ("--workflow", v2, "workflow", "migrate", "--from", "1", "--to", "2", "--actor", "wujing")
    refused = run(sandbox, *args, env=at)
    assert refused.exit_code == 1
    assert ("未迁移任何案件：以下未结案件所处的状态在新版本中不存在：状态 'community_handling'（案件 1）。"
            "请用 --map OLD=NEW 逐一映射") in refused.output
    assert not english(refused.output), refused.output
    plain = run(sandbox, *args, env={**EN, **at})
    assert ("nothing migrated: these open cases are in states the new version does not have: state "
            "'community_handling' (case 1). Map each with --map OLD=NEW") in plain.output


# --- e. a refused restore -----------------------------------------------------------------------------------------

def test_a_restore_into_a_database_with_rows_lists_them_in_chinese(sandbox: CliRunner) -> None:
    assert run(sandbox, "export", "backup.jsonl").exit_code == 0
    refused = run(sandbox, "import-backup", "backup.jsonl")
    assert refused.exit_code == 1
    assert "不是空的（" in refused.output and "、units（21 行）、" in refused.output, refused.output
    assert not english(refused.output), refused.output
    plain = run(sandbox, "import-backup", "backup.jsonl", env=EN)
    assert "is not empty (" in plain.output and "units (21 rows)" in plain.output


def test_a_row_the_database_refuses_is_told_in_chinese(sandbox: CliRunner) -> None:
    """A backup whose timeline points at a case it lacks: `import-backup` says why in our words, in Chinese."""
    import hashlib

    from casecraft.audit.backup import _line  # the writer's own line format, to build a valid checksum

    assert run(sandbox, "case", "report", "--source", "patrol", "--grid", "110106004005005", "--category", "0101",
               "--desc", "小广告", "--actor", "wangjg", env=NOW).exit_code == 0
    assert run(sandbox, "export", "backup.jsonl").exit_code == 0
    lines = [json.loads(x) for x in Path("backup.jsonl").read_text(encoding="utf-8").splitlines()]
    rows = [x for x in lines[1:-1] if x["table"] not in ("cases", "deadlines", "alerts", "deliveries")]
    digest, out = hashlib.sha256(), []
    counts: dict[str, int] = {}
    for obj in [lines[0], *rows]:
        text = _line(obj)
        digest.update(text.encode())
        out.append(text)
    for x in rows:
        counts[x["table"]] = counts.get(x["table"], 0) + 1
    out.append(_line({"end": {"rows": counts, "sha256": digest.hexdigest()}}))
    Path("broken.jsonl").write_text("".join(out), encoding="utf-8")
    fresh = ("--db", "sqlite:///fresh.db")
    refused = run(sandbox, *fresh, "import-backup", "broken.jsonl")
    assert refused.exit_code == 2, refused.output
    assert "broken.jsonl：数据库拒绝了一行（有一行引用了备份中没有的行）；未导入任何内容" in refused.output
    assert not english(refused.output), refused.output
    plain = run(sandbox, *fresh, "import-backup", "broken.jsonl", env=EN)
    assert "broken.jsonl: the database refused a row (a row refers to a row that is not in the backup); nothing " \
           "was imported" in plain.output


@pytest.mark.parametrize(("database", "chinese", "plain"), [
    ("FOREIGN KEY constraint failed", "有一行引用了备份中没有的行", "a row refers to a row that is not in the backup"),
    ('duplicate key value violates unique constraint "cases_pkey"\nDETAIL: ...', "必须唯一的值出现了重复（cases_pkey）",
     "a value that must be unique is repeated (cases_pkey)"),
    ("NOT NULL constraint failed: people.name", "缺少必填的值（people.name）",
     "a required value is missing (people.name)"),
])
def test_a_refused_row_is_told_in_our_words(database: str, chinese: str, plain: str) -> None:
    from casecraft import i18n
    from casecraft.base.errors import InputError
    from casecraft.store.dump import RowRefused

    exc = RowRefused(database.splitlines()[0])
    error = InputError("{file}: the database refused a row ({reason}); nothing was imported", file="b.jsonl",
                       reason=exc.reason)
    assert error.message == f"b.jsonl: the database refused a row ({plain}); nothing was imported"
    assert i18n.error_message(error, "zh_CN") == f"b.jsonl：数据库拒绝了一行（{chinese}）；未导入任何内容"


# --- f. a failed alert delivery -----------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_failed_delivery_is_told_in_the_operators_language(sandbox: CliRunner, lang: str) -> None:
    text = (ROOT / "workflows.yaml").read_text(encoding="utf-8")
    assert "    - {type: log}\n" in text
    Path("hooked.yaml").write_text(text.replace(
        "    - {type: log}\n", "    - {type: log}\n    - {type: webhook, name: hook, url_env: HOOK_URL}\n"),
        encoding="utf-8")
    env = {} if lang == "zh" else EN
    wf = ("--workflow", "hooked.yaml")
    assert run(sandbox, *wf, "workflow", "publish", env=env).exit_code == 0
    assert run(sandbox, *wf, "case", "report", "--source", "patrol", "--grid", "110106004005005", "--category",
               "0101", "--desc", "小广告", "--actor", "wangjg", env={**env, "CASECRAFT_NOW": "2026-11-24T08:40"}
               ).exit_code == 0
    assert run(sandbox, *wf, "sweep", env={**env, "CASECRAFT_NOW": "2026-11-27T08:40"}).exit_code == 0
    result = run(sandbox, *wf, "alerts", "deliver", env={**env, "HOOK_URL": "http://127.0.0.1:9/hook",
                                                          "CASECRAFT_NOW": "2026-11-27T08:41"})
    assert result.exit_code == 0, result.output
    if lang == "zh":
        assert "告警 1：推送到通道 hook 失败（连接失败）；第 1 次尝试，下次于" in result.stderr
        assert not english(result.output.replace("hook", "")), english(result.output)  # the sink's name is an id
    else:
        assert "alert 1: delivery to sink hook failed (connection failed); attempt 1, next at" in result.stderr
        assert not _han(result.output)


def test_a_failed_deliverys_next_attempt_is_iso_in_the_workflows_zone(sandbox: CliRunner) -> None:
    """QA, 2026-12-01: ``alerts deliver --json`` gave ``"2026-12-01 17:39:37.427141+00:00"``."""
    import json

    text = (ROOT / "workflows.yaml").read_text(encoding="utf-8")
    Path("hooked.yaml").write_text(text.replace(
        "    - {type: log}\n", "    - {type: log}\n    - {type: webhook, name: hook, url_env: HOOK_URL}\n"),
        encoding="utf-8")
    wf = ("--workflow", "hooked.yaml")
    assert run(sandbox, *wf, "workflow", "publish").exit_code == 0
    assert run(sandbox, *wf, "case", "report", "--source", "patrol", "--grid", "110106004005005", "--category",
               "0101", "--desc", "小广告", "--actor", "wangjg", env={"CASECRAFT_NOW": "2026-11-24T08:40"}
               ).exit_code == 0
    assert run(sandbox, *wf, "sweep", env={"CASECRAFT_NOW": "2026-11-27T08:40"}).exit_code == 0
    result = run(sandbox, *wf, "alerts", "deliver", "--json", env={"HOOK_URL": "http://127.0.0.1:9/hook",
                                                                   "CASECRAFT_NOW": "2026-11-27T08:41"})
    retry = [f["retry_at"] for f in json.loads(result.stdout)["failures"]]
    assert retry and all(r.endswith("+08:00") and "T" in r for r in retry), result.stdout


def test_a_durations_unit_is_translated_in_its_limit() -> None:
    """QA, 2026-12-01: "最多允许 3660 个day"."""
    from casecraft import i18n
    from casecraft.base.duration import Duration

    for text, shown in (("99999999999 working days", "最多允许 3660 天（约十年）"),
                        ("999999999 hours", "最多允许 87840 小时（约十年）")):
        with pytest.raises(ValueError) as refused:
            Duration.parse(text)
        assert shown in i18n.text(refused.value.args[0], "zh_CN")
        assert "at most" in str(refused.value)  # English as before
