"""Issue 17 for the working calendar and workflow versions: a holiday notice's problems, a calendar CSV's bad rows
and `workflow diff` in Chinese under LANG=zh_CN.UTF-8, and the English unchanged under LANG=C.

Each Chinese output is checked with the English-word checker of test_i18n_cli.py; what may stay is what an
admin types as it is (the notice's keys, ids, dates, file names).
"""

# ruff: noqa: F811 - `sandbox` is test_i18n_cli.py's fixture, imported to be used by name
from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from tests.test_i18n_cli import EN, ROOT, english, run, sandbox  # noqa: F401 - sandbox is a fixture

NOTICE_KEYS = {"name", "date", "from", "to", "year", "holidays", "title"}  # the notice's keys, typed as they are


def _prose(text: str) -> list[str]:
    """English words in ``text`` other than the notice's keys."""
    return [w for w in english(text) if w not in NOTICE_KEYS]


def _han(text: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", text))


# --- 1. the holiday notice --------------------------------------------------------------------------------------

BAD_NOTICE = """\
year: 2027
titel: x
holidays:
  - name: 春节
    from: 2027-02-06
    to: 2027-02-03
    makeup_workdays: [2027-02-10, 2026-02-14]
  - name: 春节
    date: 2027-13-01
  - name: 劳动节
    date: 2027-05-01
    from: 2027-05-01
  - name: 国庆节
    from: 2027-10-01
    to: 2027-10-07
    makeup_workdays: [2027-10-09, 2027-10-02, 2027-10-09]
    extra: 1
  - name: 元旦
    date: 2027-10-03
  - date: 2027-01-01
  - name: 端午节
    from: 2027-06-09
  - 7
"""

NOTICE_LINES = [  # (Chinese, English as before issue 17)
    ("2:1: 通知中有未知的键 'titel'（是否指 'title'？）",
     "2:1: unknown key 'titel' in the notice (did you mean 'title'?)"),
    ("6:9: 春节：结束日期 2027-02-03 早于开始日期 2027-02-06", "6:9: 春节: to 2027-02-03 is before from 2027-02-06"),
    ("7:23: 春节：调休上班日 2027-02-10 是周三，不是周末（调休上班日应是需要上班的周六或周日）",
     "7:23: 春节: make-up working day 2027-02-10 is a Wed, not a weekend (a make-up working day (调休上班) is a "
     "Saturday or Sunday worked)"),
    ("7:35: 春节的调休上班日：2026-02-14 不在 2027 年（通知只安排本年的日期；",
     "7:35: 春节 make-up working day: 2026-02-14 is not in 2027 (a notice gives the dates of its own year; set a "
     "date of another year with `casecraft calendar set DATE workday|holiday`)"),
    ("8:11: 节假日 春节 重复出现（另见第 1 项）（每个节假日只写一次，列出它的全部日期）",
     "8:11: holiday 春节 is listed twice (also item 1) (give each holiday once, with all its dates)"),
    ("9:11: 春节的 `date`：'2027-13-01' 不是日期（请写作 YYYY-MM-DD，例如 2026-10-01）",
     "9:11: 春节 date: '2027-13-01' is not a date (write it as YYYY-MM-DD, e.g. 2026-10-01)"),
    ("11:5: 劳动节：`date` 与 `from`/`to` 只能写一种", "11:5: 劳动节: give either date or from/to, not both"),
    ("16:22: 2027-10-02 既是节假日（国庆节）又是调休上班日（国庆节）（一个日期要么放假，要么上班）",
     "16:22: 2027-10-02 is both a holiday (国庆节) and a make-up working day (国庆节) (a date is either off or "
     "worked)"),
    ("16:47: 国庆节：调休上班日 2027-10-09 重复出现", "16:47: 国庆节: make-up working day 2027-10-09 is listed twice"),
    ("17:5: 节假日中有未知的键 'extra'（可用的键：name, date, from, to, makeup_workdays）",
     "17:5: unknown key 'extra' in a holiday (the keys are name, date, from, to, makeup_workdays)"),
    ("19:11: 2027-10-03 被算作两个节假日：国庆节 和 元旦（每个日期只能属于一个节假日）",
     "19:11: 2027-10-03 is a holiday twice: in 国庆节 and 元旦 (give each date to one holiday)"),
    ("20:5: 第 6 个节假日：请写名称，例如 `name: 春节`", "20:5: holiday 6: give its name, e.g. name: 春节"),
    ("22:5: 端午节：缺少 `to`（只放一天写 `date: YYYY-MM-DD`；放多天写 `from:` 和 `to:`）",
     "22:5: 端午节: to is missing (a single day: date: YYYY-MM-DD; several: from: and to:)"),
    ("23:5: 每个节假日都是一个映射：先写 `name`，再写 `date` 或 `from`/`to`",
     "23:5: each holiday is a mapping: name, then date or from/to (e.g. - name: 端午节\n      date: 2027-06-09)"),
]


def test_the_problems_of_a_holiday_notice_are_chinese(sandbox: CliRunner) -> None:
    Path("通知.yaml").write_text(BAD_NOTICE, encoding="utf-8")
    result = run(sandbox, "calendar", "import", "通知.yaml")
    assert result.exit_code == 2, result.output
    assert "通知.yaml：放假通知中有 14 个问题，未导入任何内容：\n  通知.yaml:2:1:" in result.output
    for chinese, _english in NOTICE_LINES:
        assert f"\n  通知.yaml:{chinese}" in result.output, (chinese, result.output)
    assert result.output.rstrip().endswith("请修正后再次导入（格式见 docs/calendar.md）")
    assert not _prose(result.output), _prose(result.output)

    plain = run(sandbox, "calendar", "import", "通知.yaml", env=EN)
    assert plain.exit_code == 2
    assert "通知.yaml: 14 problem(s) in the holiday notice, nothing imported:\n  通知.yaml:2:1:" in plain.output
    for _chinese, words in NOTICE_LINES:
        assert f"\n  通知.yaml:{words}" in plain.output, (words, plain.output)
    assert "fix them and import the file again (the format is described in docs/calendar.md)" in plain.output


YAML_PROBLEMS = [  # (the file, the Chinese, the English as before)
    ("year: [[[[[[[[[[1]]]]]]]]]]\n", "1:1: 括号嵌套了 10 层；放假通知最多只需 2 层",
     "1:1: brackets nested 10 deep; a notice needs at most 2"),
    ("year: 2027\nyear: 2028\n", "2:1: YAML：有键重复出现（同一映射中每个键只能出现一次）",
     "2:1: YAML: a key appears twice (each key may appear once in a mapping)"),
    ("year: 2027\n  holidays: a: b\n", "2:11: YAML：此处不能出现映射的值",
     "2:11: YAML: mapping values are not allowed here"),
    ("- 2027\n", "1:1: 放假通知应是包含 `year` 和 `holidays` 的映射（示例见 docs/calendar.md）",
     "1:1: the notice must be a mapping with year and holidays (see docs/calendar.md for an example)"),
    ("year: 二〇二七\nholidays: []\n", "1:7: `year`：'二〇二七' 不是年份（例如 `year: 2027`）",
     "1:7: year: '二〇二七' is not a year (e.g. year: 2027)"),
    ("title: x\n", "1:1: 缺少键 'year'（例如 `year: 2027`）", "1:1: the key 'year' is missing (e.g. year: 2027)"),
    ("year: 2027\nholidays:\n  - name: 春节\n    from: 2027-01-01\n    to: 2027-03-01\n",
     "5:9: 春节：从 2027-01-01 到 2027-03-01 共 60 天；一个节假日最多 31 天（请核对日期）",
     "5:9: 春节: 60 days from 2027-01-01 to 2027-03-01; a holiday is at most 31 (check the dates)"),
]


def test_yaml_and_limit_problems_of_a_notice_are_chinese(sandbox: CliRunner) -> None:
    for text, chinese, words in YAML_PROBLEMS:
        Path("n.yaml").write_text(text, encoding="utf-8")
        result = run(sandbox, "calendar", "import", "n.yaml")
        assert result.exit_code == 2 and f"\n  n.yaml:{chinese}" in result.output, (chinese, result.output)
        assert not _prose(result.output), (text, _prose(result.output))
        plain = run(sandbox, "calendar", "import", "n.yaml", env=EN)
        assert plain.exit_code == 2 and f"\n  n.yaml:{words}" in plain.output, (words, plain.output)


def test_a_notices_warnings_and_kept_dates_are_chinese(sandbox: CliRunner) -> None:
    """A notice that leaves out statutory holidays is imported with a warning for each; a date set by hand stays."""
    Path("n2027.yaml").write_text("year: 2027\nholidays:\n  - name: 元旦\n    date: 2027-01-01\n"
                                  "    makeup_workdays: 2027-02-14\n", encoding="utf-8")
    assert run(sandbox, "calendar", "set", "2027-02-14", "holiday").exit_code == 0
    result = run(sandbox, "calendar", "import", "n2027.yaml")
    assert result.exit_code == 0, result.output
    assert "注意：按《全国年节及纪念日放假办法》2027-02-05 是春节，但通知中未放假；请核对日期" in result.output
    assert "注意：2027-02-14 已手动设为休息日，予以保留；与通知不一致" in result.output
    assert not _prose(result.output), _prose(result.output)
    plain = run(sandbox, "calendar", "import", "n2027.yaml", env=EN)
    assert "note: 2027-02-05 is 春节 by the rules on public holidays but not a holiday in the notice; check its " \
           "dates" in plain.output
    assert "note: 2027-02-14 is set by hand as a holiday and kept; the notice says otherwise" in plain.output


# --- 2. a calendar CSV --------------------------------------------------------------------------------------------

def test_bad_rows_of_a_calendar_csv_are_chinese(sandbox: CliRunner) -> None:
    Path("days.csv").write_text("date,status,note\n2026-13-01,x\n2026-01-01,workday,a,b\n2026-01-01,holiday\n"
                                "abc\n2026-01-02,holiday," + "长" * 101 + "\n", encoding="utf-8")
    result = run(sandbox, "calendar", "import", "days.csv")
    assert result.exit_code == 2, result.output
    for line in ("days.csv：7 行有误，未导入任何内容：\n  第 2 行，日期：'2026-13-01'：没有这个日期；请写作 YYYY-MM-DD",
                 "\n  第 2 行，状态：'x'：请写 工作日 / 休息日 / 节假日（也可写 workday 或 holiday）",
                 "\n  第 3 行，行：有 4 个字段，最多应为 3 个（多出 'b'；含逗号的备注请加引号）",
                 "\n  第 4 行，日期：2026-01-01 已在第 3 行出现",
                 "\n  第 5 行，状态：缺失；请写 工作日 / 休息日 / 节假日",
                 "\n  第 5 行，日期：'abc'：日期请写作 YYYY-MM-DD，例如 2026-10-01",
                 "\n  第 6 行，说明：101 个字符；最多 100 个\n请修正后再次导入"):
        assert line in result.output, (line, result.output)
    assert not english(result.output.replace("date,status[,note]", "")), english(result.output)
    plain = run(sandbox, "calendar", "import", "days.csv", env=EN)
    assert plain.exit_code == 2
    assert ("days.csv: 7 bad row(s), nothing imported:\n"
            "  row 2, date: '2026-13-01': no such date; write YYYY-MM-DD, e.g. 2026-10-01\n"
            "  row 2, status: 'x': write workday or holiday (also 工作日 / 休息日 / 节假日)\n"
            "  row 3, row: 4 fields, expected at most 3 (extra 'b'; quote a note that contains commas)\n"
            "  row 4, date: 2026-01-01 is also on row 3\n"
            "  row 5, status: missing; write workday or holiday (also 工作日 / 休息日 / 节假日)\n"
            "  row 5, date: 'abc': write the date as YYYY-MM-DD, e.g. 2026-10-01\n"
            "  row 6, note: 101 characters; at most 100 fit\n"
            "fix them and import the file again") in plain.output


def test_an_empty_or_headless_calendar_csv_is_told_in_chinese(sandbox: CliRunner) -> None:
    for text, chinese, words in (
            ("\n", "第 1 行，表头：文件是空的；第一行应为 date,status[,note]",
             "row 1, header: the file is empty; the first line must be date,status[,note]"),
            ("day,state\n", "第 1 行，表头：表头为 'day,state'；第一行应为 date,status 或 date,status,note",
             "row 1, header: found 'day,state'; the first line must be date,status or date,status,note"),
            ("date,status\n\n", "第 1 行，文件：表头之后没有日期", "row 1, file: no dates after the header")):
        Path("d.csv").write_text(text, encoding="utf-8")
        result = run(sandbox, "calendar", "import", "d.csv")
        assert result.exit_code == 2 and f"\n  {chinese}\n" in result.output, (chinese, result.output)
        assert not english(result.output.replace("date,status[,note]", "")), english(result.output)
        plain = run(sandbox, "calendar", "import", "d.csv", env=EN)
        assert f"\n  {words}\n" in plain.output, plain.output


def test_a_bad_day_status_is_chinese(sandbox: CliRunner) -> None:
    result = run(sandbox, "calendar", "set", "2027-01-04", "bogus")
    assert result.exit_code == 2
    assert "日期状态 'bogus' 有误：请写 工作日 / 休息日 / 节假日（也可写 workday 或 holiday）" in result.output
    plain = run(sandbox, "calendar", "set", "2027-01-04", "bogus", env=EN)
    assert "bad day status 'bogus': write workday or holiday (also 工作日 / 休息日 / 节假日)" in plain.output


def test_setting_a_day_is_told_in_chinese(sandbox: CliRunner) -> None:
    result = run(sandbox, "calendar", "set", "2027-01-09", "workday", "--note", "调休")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("2027-01-09（周六）已设为工作日：调休："), result.output
    assert not english(result.output), english(result.output)
    plain = run(sandbox, "calendar", "set", "2027-01-10", "holiday", env=EN)
    assert plain.output.startswith("2027-01-10 (Sun) is now a holiday: 1 date(s)"), plain.output


# --- 3. workflow diff ---------------------------------------------------------------------------------------------

def test_workflow_diff_speaks_chinese(sandbox: CliRunner) -> None:
    text = (ROOT / "workflows.yaml").read_text(encoding="utf-8")
    for old in ("{id: grid, label: 网格}", "label: 网格督导员, scope: subtree}", "timezone: Asia/Shanghai"):
        assert old in text, old
    v2 = (text.replace("community_handling", "community_working").replace("{id: grid, label: 网格}",
                                                                          "{id: grid, label: 网格员}")
          .replace("label: 网格督导员, scope: subtree}", "label: 网格督导员}")
          .replace("timezone: Asia/Shanghai", "timezone: Asia/Urumqi"))
    Path("v2").mkdir()
    Path("v2/workflows.yaml").write_text(v2, encoding="utf-8")
    Path("v2/organisation.yaml").write_text((ROOT / "organisation.yaml").read_text(encoding="utf-8"),
                                            encoding="utf-8")
    assert run(sandbox, "--workflow", "v2/workflows.yaml", "workflow", "publish").exit_code == 0
    result = run(sandbox, "workflow", "diff", "1", "2")
    assert result.exit_code == 0, result.output
    for line in ("~ 层级：grid：label：网格 → 网格员", "~ 角色：supervisor：scope：subtree → （未设置）",
                 "- 状态：community_handling", "+ 状态：community_working",
                 "- 流转：escalate grid_handling -> community_handling",
                 "+ 流转：feedback community_dispatched -> community_working（条件 outcome=unsolved）",
                 "~ 流程设置：流程设置：timezone：Asia/Shanghai → Asia/Urumqi",
                 "? 状态 'community_handling' 似乎改名为 'community_working'（名称相同）：迁移时用 "
                 "--map community_handling=community_working"):
        assert f"\n{line}\n" in result.output, (line, result.output)
    # what stays are the ids, the changed keys (label, scope, timezone) and the condition as the file writes it
    assert set(english(result.output)) <= {"label", "scope", "timezone", "outcome"}, english(result.output)
    plain = run(sandbox, "workflow", "diff", "1", "2", env=EN)
    assert plain.exit_code == 0
    for line in ("~ tiers: grid: label: 网格 → 网格员", "~ roles: supervisor: scope: subtree → (unset)",
                 "- states: community_handling", "+ states: community_working",
                 "- transitions: escalate grid_handling -> community_handling",
                 "+ transitions: feedback community_dispatched -> community_working when outcome=unsolved",
                 "~ workflow: workflow: timezone: Asia/Shanghai → Asia/Urumqi",
                 "? state 'community_handling' looks renamed to 'community_working' (same label): migrate with "
                 "--map community_handling=community_working"):
        assert f"\n{line}\n" in plain.output, (line, plain.output)
    assert not _han(plain.output.replace("网格员", "").replace("网格", ""))
