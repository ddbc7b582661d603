"""Never stop at the year's end (issue 13 §1): a provisional next year, marked; the official notice corrects it.

* On 30 December 2026 a 20-working-day case (0105 私搭乱建) can be reported: its deadline is computed over
  the provisional 2027 and marked provisional (library, `case show --json`, `case list --json`).
* From 1 December, while next year is provisional, the district platform gets one alert saying so and
  what command imports the notice; once, however often the check runs.
* Importing the official 2027 notice replaces the provisional days and recomputes, in one transaction, every
  open deadline on or after a changed day, each recomputation a step on the case's timeline; alerts stay.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from casecraft import Engine, FixedClock
from casecraft.audit import verify as audit
from casecraft.cli.main import app
from tests.conftest import WORKFLOW, bj

NOTICE_2027 = """\
year: 2027
title: 国务院办公厅关于2027年部分节假日安排的通知（测试用）
holidays:
  - name: 元旦
    from: 2027-01-01
    to: 2027-01-03
  - name: 春节
    from: 2027-02-05
    to: 2027-02-11
    makeup_workdays: [2027-02-14]
  - name: 清明节
    from: 2027-04-05
    to: 2027-04-05
  - name: 劳动节
    from: 2027-05-01
    to: 2027-05-02
  - name: 端午节
    from: 2027-06-09
    to: 2027-06-09
  - name: 中秋节
    from: 2027-09-15
    to: 2027-09-15
  - name: 国庆节
    from: 2027-10-01
    to: 2027-10-03
"""


def test_reporting_on_the_30th_of_december_works_and_is_marked_provisional(sandbox_url: str) -> None:
    clock = FixedClock(bj(30, "16:00", month=12))
    eng = Engine(sandbox_url, WORKFLOW, clock)
    case = eng.report(source="patrol", grid="110106004005005", category="0105", desc="私搭乱建", actor="wangjg")
    assert case.deadline_at is not None and case.deadline_at.year == 2027
    step = eng.deadline(case.id)
    # 4 working hours from 30 Dec 16:00 are due on 31 Dec, but the re-escalation a working day later falls in
    # the provisional 2027: the step's times depend on it, so it is marked too
    assert step is not None and step.due_at.year == 2026 and step.provisional
    with eng.store.read() as tx:
        rows = tx.case_deadlines(case.id)
    assert [(d.kind, d.provisional) for d in rows] == [("step", True), ("case", True)]
    eng.close()
    runner = CliRunner()
    shown = json.loads(runner.invoke(app, ["--db", sandbox_url, "--at", "2026-12-30T16:05", "case", "show",
                                           str(case.id), "--json"]).stdout)
    assert shown["deadline_at"].startswith("2027-01-")
    assert shown["deadline"]["provisional"] is True
    human = runner.invoke(app, ["--db", sandbox_url, "--at", "2026-12-30T16:05", "case", "show", str(case.id)])
    assert "provisional calendar" in human.stdout, human.stdout
    # a step deadline that runs into 2027 is marked in the list, too
    clock = FixedClock(bj(31, "17:00", month=12))
    eng = Engine(sandbox_url, WORKFLOW, clock)
    eng.fire(case.id, "escalate", actor="wangjg", note="上报社区")  # 1 working day: into 2027
    eng.close()
    listed = json.loads(runner.invoke(app, ["--db", sandbox_url, "--at", "2026-12-31T17:05", "case", "list",
                                            "--json"]).stdout)
    (row,) = listed["cases"]
    assert row["deadline"]["provisional"] is True
    table = runner.invoke(app, ["--db", sandbox_url, "--at", "2026-12-31T17:05", "case", "list"],
                          env={"COLUMNS": "250"})
    assert "provisional" in table.stdout, table.stdout


def test_the_district_platform_is_told_once_from_the_first_of_december(sandbox_url: str) -> None:
    clock = FixedClock(bj(30, "10:00", month=11))
    eng = Engine(sandbox_url, WORKFLOW, clock)
    assert eng.check_calendar()["raised"] == 0  # not yet December
    clock.set(bj(1, "08:00", month=12))
    first = eng.check_calendar()
    assert first["provisional"] is True and first["raised"] == 1
    (alert,) = eng.alerts(org="110106")
    assert alert.kind == "calendar" and "2027" in alert.message and "casecraft calendar import" in alert.message
    clock.set(bj(2, "08:00", month=12))
    assert eng.check_calendar()["raised"] == 0  # once
    eng.close()


def test_importing_the_notice_recomputes_open_deadlines_on_their_timelines(sandbox_url: str, tmp_path: Path) -> None:
    clock = FixedClock(bj(1, "10:00", month=2, year=2027))
    eng = Engine(sandbox_url, WORKFLOW, clock)
    long = eng.report(source="patrol", grid="110106004005005", category="0105", desc="私搭乱建", actor="wangjg")
    early = eng.report(source="patrol", grid="110106004005005", category="0101", desc="小广告", actor="wangjg")
    before = eng.get(long.id).deadline_at
    early_due = eng.get(early.id).deadline_at
    assert before is not None
    clock.set(bj(1, "16:00", month=2, year=2027))
    eng.sweep()  # the short case's alerts are raised before the import
    alerts_before = [(a.id, a.kind) for a in eng.alerts()]
    assert alerts_before
    notice = tmp_path / "holidays-2027.yaml"
    notice.write_text(NOTICE_2027, encoding="utf-8")
    result = CliRunner().invoke(app, ["--db", sandbox_url, "--at", "2027-02-01T17:00", "calendar", "import",
                                      str(notice), "--json"])
    assert result.exit_code == 0, result.output
    change = json.loads(result.stdout)
    assert change["changed"][:3] == ["2027-02-09", "2027-02-10", "2027-02-11"] and "2027-02-14" in change["changed"]
    assert change["recomputed"] == [long.id]  # the 4-hour case's limit fell before the changed days
    eng.ctx.refresh_now()
    assert eng.get(early.id).deadline_at == early_due  # its limit fell before the changed days
    view = eng.get(long.id)
    last = view.timeline[-1]
    assert last.trigger == "recompute" and "工作日历更正" in (last.note or "")
    assert view.deadline_at is not None and view.deadline_at > before  # 3 more rest days, 1 more working Sunday
    with eng.store.read() as tx:
        (case_dl,) = [d for d in tx.case_deadlines(long.id) if d.kind == "case"]
    assert case_dl.due_at == view.deadline_at and case_dl.provisional is False
    assert [(a.id, a.kind) for a in eng.alerts()] == alerts_before  # alerts already raised stay
    shown = CliRunner().invoke(app, ["--db", sandbox_url, "--at", "2027-02-01T17:00", "calendar", "show", "2027",
                                     "--json"])
    assert json.loads(shown.stdout)["provisional"] is False
    assert audit.verify(eng).ok
    eng.close()
