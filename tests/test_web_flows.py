"""The workbench in a real browser (Playwright driving Debian's Chromium): the worked example's people at work.

One live server over one seeded sandbox for the module; each test moves the
shared FixedClock forward only. Every page visited is screenshotted under the
test's output directory and checked with axe-core (no serious or critical
violation).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.server_support import COMM_E, GRID5, STREET, cli_app
from tests.web_support import DESKTOP, PHONE, T0, Site, browser_or_skip, check_page, live_site, login, logout

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "samples" / "after.jpg"
HOTLINE = ROOT / "samples" / "hotline-sample.csv"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with live_site(tmp_path_factory.mktemp("web")) as s:
        # one closed case in another grid, so November has a scored unit whichever tests run
        s.clock.set(T0 - timedelta(hours=1))
        seeded = s.engine.report(source="patrol", grid="110106004005001", category="0101", desc="小广告（种子）",
                                 actor="sunli")
        for trigger in ("resolve", "check", "close"):
            s.engine.fire(seeded.id, trigger, actor="sunli", note="已清除" if trigger == "resolve" else None)
        yield s


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    with browser_or_skip()() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def desk(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    try:
        yield ctx.new_page()
    finally:
        ctx.close()


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    try:
        yield ctx.new_page()
    finally:
        ctx.close()


def at(site: Site, minutes: int, days: int = 0) -> None:
    site.clock.set(T0 + timedelta(days=days, minutes=minutes))


def fire(page: Any, trigger: str, note: str | None = None, to: str | None = None, outcome: str | None = None) -> None:
    form = page.locator(f"form[data-trigger={trigger}]")
    if to is not None:
        form.locator("input[name=to]").fill(to)
    if outcome is not None:
        form.locator("select[name=outcome]").select_option(outcome)
    if note is not None:
        form.locator("textarea[name=note]").fill(note)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()


def test_an_english_browser_gets_english_pages_and_the_switch_keeps_chinese(site: Site, browser: Any) -> None:
    ctx = browser.new_context(viewport=DESKTOP, locale="en-US")
    try:
        page = ctx.new_page()
        login(page, site, "wangjg")
        assert page.inner_text("h1").startswith("Inbox") and page.get_attribute("html", "lang") == "en"
        check_page(page, site, "inbox-en")
        # at phone width each cell says its column; in English with ": ", not the full-width "："
        site.engine.report(source="patrol", grid="110106004005005", category="0101", desc="英文页面", actor="wangjg")
        page.set_viewport_size(PHONE)
        page.reload()
        label = page.evaluate("getComputedStyle(document.querySelector('td[data-label]'), '::before').content")
        assert label.endswith(': "') and "：" not in label, label
        page.set_viewport_size(DESKTOP)
        with page.expect_navigation():
            page.click("footer a[lang=zh-CN]")  # the language switch at the foot of every page
        assert page.inner_text("h1").startswith("待办案件") and page.get_attribute("html", "lang") == "zh-CN"
        assert {c["name"]: c["value"] for c in ctx.cookies()}["casecraft_lang"] == "zh"
        page.goto(site.page_url("/org"))  # the choice is kept over the browser's English
        assert page.inner_text("h1") == "组织架构"
        check_page(page, site, "org-chosen-zh")
    finally:
        ctx.close()


def test_login_refuses_a_wrong_password_and_pages_need_a_session(site: Site, desk: Any) -> None:
    desk.goto(site.page_url("/"))
    assert desk.url.startswith(site.page_url("/login"))  # no session: sent to the login page
    check_page(desk, site, "login")
    desk.fill("#person", "wangjg")
    desk.fill("#password", "wrong password!")
    desk.click("button[type=submit]")
    assert "账号或密码错误" in desk.inner_text("main")
    cookies = {c["name"]: c for c in desk.context.cookies()}
    assert "casecraft_session" not in cookies
    login(desk, site, "wangjg")
    session = {c["name"]: c for c in desk.context.cookies()}["casecraft_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    logout(desk)
    desk.goto(site.page_url("/org"))
    assert desk.url.startswith(site.page_url("/login"))


def test_the_workbench_is_usable_with_the_keyboard_alone(site: Site, desk: Any) -> None:
    eng = site.engine
    at(site, -30)
    case = eng.report(source="patrol", grid=GRID5, category="0101", desc="键盘测试", actor="wangjg")
    desk.goto(site.page_url("/login"))
    desk.keyboard.press("Tab")  # the skip link first
    assert desk.evaluate("() => document.activeElement.className") == "skip"
    desk.keyboard.press("Tab")
    assert desk.evaluate("() => document.activeElement.id") == "person"
    desk.keyboard.type("wangjg")
    desk.keyboard.press("Tab")
    desk.keyboard.type("correct-horse-battery")
    desk.keyboard.press("Enter")
    desk.wait_for_url(site.page_url("/"))
    for _ in range(60):  # tab through the page to the case's link, then open it with Enter
        desk.keyboard.press("Tab")
        if desk.evaluate("() => document.activeElement.getAttribute('href')") == f"/web/cases/{case.id}":
            break
    else:
        pytest.fail("the case's link cannot be reached with Tab")
    desk.keyboard.press("Enter")
    desk.wait_for_url(f"**/web/cases/{case.id}")
    desk.focus("form[data-trigger=resolve] textarea[name=note]")
    desk.keyboard.type("已清除")
    for _ in range(5):  # past the photo input to the button
        desk.keyboard.press("Tab")
        if desk.evaluate("() => document.activeElement.tagName") == "BUTTON":
            break
    assert desk.evaluate("() => document.activeElement.closest('form').dataset.trigger") == "resolve"
    with desk.expect_navigation():
        desk.keyboard.press("Enter")
    assert eng.get(case.id).state == "to_check"
    eng.fire(case.id, "check", actor="wangjg")
    eng.fire(case.id, "close", actor="wangjg")


def test_grid_leader_reports_case_a_with_a_photo_on_a_phone_and_closes_it(site: Site, phone: Any) -> None:
    at(site, -20)  # 08:40
    login(phone, site, "wangjg")
    check_page(phone, site, "inbox-phone")
    phone.goto(site.page_url("/report"))
    assert phone.locator("#grid").input_value() == GRID5  # the grid preselected from my unit
    assert phone.locator("#photos").get_attribute("capture") == "environment"
    check_page(phone, site, "report-phone")
    width = phone.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the report page scrolls sideways on a phone ({width} px)"
    phone.select_option("#category", "0101")
    phone.fill("#desc", "楼门张贴小广告")
    phone.set_input_files("#photos", str(PHOTO))
    phone.click("#report-form button[type=submit]")
    phone.wait_for_url(re.compile(r".*/web/cases/\d+$"))
    case_id = int(phone.url.rsplit("/", 1)[1])
    at(site, -15)
    phone.reload()
    assert phone.locator("#timeline img").count() == 1  # the photo as a thumbnail
    assert phone.locator("#timeline img").evaluate("img => img.naturalWidth") > 0
    phone.wait_for_function("() => { const i = document.getElementById('case-diagram'); "
                            "return i.complete && i.naturalWidth > 0; }")  # the workflow drawn with the path
    for name in ("case", "inbox"):  # readable at 360 px: nothing scrolls sideways
        width = phone.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the {name} page scrolls sideways on a phone ({width} px)"
        if name == "case":
            phone.goto(site.page_url("/"))
            assert phone.locator(f"#inbox tr[data-case='{case_id}'] .light-green").count() == 1
            check_page(phone, site, "inbox-phone-with-case")
    phone.goto(site.page_url(f"/cases/{case_id}"))
    check_page(phone, site, "case-phone")
    fire(phone, "resolve", note="已清除")
    at(site, -14)
    phone.reload()
    fire(phone, "check")
    at(site, -13)
    phone.reload()
    fire(phone, "close")
    assert "结案" in phone.inner_text("#case-state")
    case = site.engine.get(case_id)
    assert not case.open and case.state == "closed"
    assert [e.trigger for e in case.timeline] == ["report", "resolve", "check", "close"]
    assert all(e.actor == "wangjg" for e in case.timeline)
    assert len(case.timeline[0].attachments) == 1


def test_a_hotline_case_goes_street_community_grid_through_the_inboxes(site: Site, desk: Any) -> None:
    at(site, -5)
    login(desk, site, "wujing")
    desk.goto(site.page_url("/hotline"))
    desk.set_input_files("#hotline-file", str(HOTLINE))
    desk.evaluate("() => { window.notReloaded = true; }")
    desk.click("#hotline-form button[type=submit]")
    desk.wait_for_selector("#hotline-result")
    assert desk.inner_text("#hotline-new") == "3"
    assert desk.evaluate("() => window.notReloaded === true")  # uploaded by XHR with its progress bar
    check_page(desk, site, "hotline")
    ticket = "96005-20261124-0031"
    case_id = next(c.id for c in site.engine.list(source="hotline") if c.ref == ticket)
    for person, unit in (("wujing", STREET), ("zhoumin", COMM_E), ("wangjg", GRID5)):
        if person == "wujing":
            desk.goto(site.page_url("/"))
        else:
            logout(desk)
            login(desk, site, person)
        row = desk.locator(f"#inbox tr[data-case='{case_id}']")
        assert row.count() == 1, f"case {case_id} is not in {person}'s inbox"
        if person == "wujing":
            check_page(desk, site, "inbox-street")
        row.locator("a").click()
        desk.wait_for_url(f"**/web/cases/{case_id}")
        assert site.engine.get(case_id).unit == unit
        if person == "wangjg":
            fire(desk, "verify", note="现场核实属实")
        else:
            fire(desk, "assign")
        at(site, 1)
    case = site.engine.get(case_id)
    assert [(e.trigger, e.actor) for e in case.timeline] == [
        ("report", "wujing"), ("assign", "wujing"), ("assign", "zhoumin"), ("verify", "wangjg")]
    assert case.state == "grid_handling"
    # and on to the end, as the seed has it: the grid's 城管派驻员 handles it, the grid leader checks and closes
    who = Who(desk, site, "wangjg")
    who.act(case_id, "wangjg", "dispatch", to="liuqiang")
    who.act(case_id, "liuqiang", "feedback", outcome="solved", note="已劝离")
    who.act(case_id, "wangjg", "check")
    who.act(case_id, "wangjg", "close")
    assert not site.engine.get(case_id).open


class Who:
    """Acts in the browser as one person after another (logging in again only when the person changes)."""

    def __init__(self, page: Any, site: Site, current: str) -> None:
        self.page, self.site, self.current = page, site, current

    def be(self, person: str) -> None:
        if person != self.current:
            logout(self.page)
            login(self.page, self.site, person)
            self.current = person

    def open(self, case_id: int, person: str) -> None:
        self.be(person)
        self.site.clock.set(self.site.clock.now() + timedelta(minutes=5))
        self.page.goto(self.site.page_url(f"/cases/{case_id}"))

    def act(self, case_id: int, person: str, trigger: str, **inputs: Any) -> None:
        self.open(case_id, person)
        assert self.page.locator(f"form[data-trigger={trigger}]").count() == 1, (
            f"{person} is not offered {trigger} on case {case_id}: {self.page.inner_text('#actions')}")
        fire(self.page, trigger, **inputs)
        assert self.page.url.endswith(f"/web/cases/{case_id}"), self.page.inner_text("main")

    def side(self, case_id: int, person: str, form: str, note: str, button: str | None = None) -> None:
        self.open(case_id, person)
        f = self.page.locator(f"form[data-side={form}]")
        f.locator("textarea[name=note]").fill(note)
        with self.page.expect_navigation():
            (f.locator(f"button:has-text('{button}')") if button else f.locator("button").first).click()
        assert self.page.url.endswith(f"/web/cases/{case_id}"), self.page.inner_text("main")


def test_case_c_goes_up_to_the_street_and_back_down_in_the_browser(site: Site, desk: Any) -> None:
    at(site, 0, days=1)  # Wednesday 25 November 09:00
    login(desk, site, "wangjg")
    desk.goto(site.page_url("/report"))
    desk.select_option("#category", "0201")
    desk.fill("#desc", "商铺灭火器悬挂位置不当")
    with desk.expect_navigation():
        desk.click("#report-form button[type=submit]")
    case_id = int(desk.url.rsplit("/", 1)[1])
    who = Who(desk, site, "wangjg")
    who.act(case_id, "wangjg", "escalate", note="需专业人员检查")
    who.act(case_id, "zhoumin", "dispatch", to="zhangwei, chengang")
    who.act(case_id, "chengang", "feedback", outcome="unsolved", note="需产权单位打孔安装")
    who.act(case_id, "zhangwei", "feedback", outcome="unsolved", note="同上")
    who.act(case_id, "zhoumin", "escalate", note="涉及地区单位，上报街道")
    who.act(case_id, "wujing", "dispatch")  # by category: 消防安全隐患 → 安全办
    who.side(case_id, "zhenglei", "extension-request", "需地区单位配合")
    who.side(case_id, "fengzr", "extension-decide", "同意", button="批准延期")
    check_page(desk, site, "case-extension")
    who.act(case_id, "zhenglei", "feedback", outcome="solved", note="地区单位已重新安装")
    who.act(case_id, "wujing", "relay")
    who.act(case_id, "zhoumin", "relay")
    who.act(case_id, "wangjg", "check")
    who.act(case_id, "wangjg", "close")
    case = site.engine.get(case_id)
    assert not case.open and case.state == "closed"
    steps = [(e.trigger, e.actor) for e in case.timeline]
    assert ("dispatch", "wujing") in steps and ("feedback", "zhenglei") in steps
    assert any("延期" in (e.note or "") or e.trigger.startswith("extension") for e in case.timeline)
    assert "安全办" in " ".join(e.target_names for e in case.timeline)


def test_an_overdue_alert_appears_on_the_board_without_reload_and_is_acknowledged(site: Site, desk: Any) -> None:
    eng = site.engine
    at(site, 10)
    case = eng.report(source="hotline", grid=GRID5, category="0102", desc="占道经营（告警测试）", actor="wujing",
                      ref="12345-WEB-ALERT")
    eng.fire(case.id, "assign", actor="wujing")  # now at the community, with its time limit running
    login(desk, site, "wujing")
    desk.goto(site.page_url("/alerts"))
    desk.wait_for_function("() => document.getElementById('live-status').textContent.includes('实时')")
    desk.evaluate("() => { window.notReloaded = true; }")
    before = desk.locator("#alert-rows tr[data-alert]").count()
    at(site, 0, days=2)
    eng.sweep()
    raised = [a for a in eng.alerts(org=STREET, only_open=True) if a.case == case.id]
    assert raised, "the sweep raised no alert at the street for the community's overdue case"
    row = desk.locator(f"#alert-{raised[-1].id}")
    row.wait_for(timeout=15_000)  # pushed by server-sent events
    assert desk.evaluate("() => window.notReloaded === true")
    assert desk.locator("#alert-rows tr[data-alert]").count() > before
    ids = desk.eval_on_selector_all("#alert-rows tr[data-alert]", "rows => rows.map(r => r.id)")
    assert len(ids) == len(set(ids)), f"an alert shown twice: {ids}"
    check_page(desk, site, "alerts")
    row.locator("form[action$='/ack'] button").click()
    desk.locator(f"#alert-{raised[-1].id} .ack-done").wait_for()
    assert desk.evaluate("() => window.notReloaded === true")  # htmx swapped the row in place
    done = [a for a in eng.alerts(org=STREET) if a.id == raised[-1].id][0]
    assert done.acked_by == "wujing" and done.acked_at is not None
    # urge the case from the board (督办)
    desk.locator(f"#alert-{raised[-1].id} input[name=note]").fill("请今日办结")
    desk.locator(f"#alert-{raised[-1].id} form[action$='/urge'] button").click()
    desk.wait_for_url("**/web/alerts")
    assert eng.get(case.id).timeline[-1].trigger == "urge"


def test_a_person_without_the_role_sees_no_action_and_is_refused_when_posting_it(site: Site, desk: Any) -> None:
    eng = site.engine
    at(site, 0, days=2)
    case = eng.report(source="patrol", grid=GRID5, category="0101", desc="权限测试", actor="wangjg")
    login(desk, site, "zhoumin")  # a community operator: may not resolve a case at the grid
    desk.goto(site.page_url(f"/cases/{case.id}"))
    assert desk.locator("form[data-trigger=resolve]").count() == 0
    assert desk.locator("#no-actions").count() == 1
    check_page(desk, site, "case-no-actions")
    csrf = desk.locator("header input[name=csrf]").input_value()
    url = site.page_url(f"/cases/{case.id}/fire/resolve")
    refused = desk.request.post(url, multipart={"csrf": csrf, "note": "越权"}, max_redirects=0)
    assert refused.status == 403
    assert "无权操作" in refused.text()
    forged = desk.request.post(url, multipart={"note": "无令牌"}, max_redirects=0)  # no CSRF token
    assert forged.status == 403
    desk.goto(url.replace("/fire/resolve", "/nope"))
    check_page(desk, site, "error")
    after = eng.get(case.id)
    assert after.state == case.state and after.version == case.version and len(after.timeline) == 1


def test_logs_org_and_a_hotline_file_with_bad_rows(site: Site, phone: Any, tmp_path: Path) -> None:
    at(site, 30, days=2)
    login(phone, site, "wangjg")
    phone.goto(site.page_url("/logs"))
    phone.fill("#log-text", "走访3户，楼道照明不足")
    phone.click("form[action$='/logs'] button[type=submit]")
    phone.wait_for_selector("#log-list li:has-text('楼道照明不足')")
    check_page(phone, site, "logs-phone")
    assert [e.text for e in site.engine.logs(grid=GRID5)][-1] == "走访3户，楼道照明不足"
    phone.goto(site.page_url("/org"))
    assert "王建国" in phone.inner_text("main")
    check_page(phone, site, "org-phone")
    logout(phone)
    login(phone, site, "wujing")
    bad = tmp_path / "bad.csv"
    bad.write_text(HOTLINE.read_text(encoding="utf-8").splitlines()[0] + "\n"
                   "12345-WEB-BAD,12345,not-a-time,,,9999,坏行,\n", encoding="utf-8")
    phone.goto(site.page_url("/hotline"))
    phone.set_input_files("#hotline-file", str(bad))
    phone.click("#hotline-form button[type=submit]")
    phone.wait_for_selector("#hotline-result")
    assert phone.inner_text("#hotline-bad") == "1"
    with phone.expect_download() as dl:
        phone.click("#rejects-link")
    rejected = Path(dl.value.path()).read_text(encoding="utf-8")
    assert "12345-WEB-BAD" in rejected


def test_the_monthly_page_matches_report_monthly_json(site: Site, desk: Any, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    at(site, 0, days=7)  # 2026-12-01 09:00: November is over
    run = CliRunner().invoke(cli_app(), ["--db", site.db, "--at", "2026-12-01T09:00", "report", "monthly", "--month",
                                         "2026-11", "--level", "grid", "--json"])
    assert run.exit_code == 0, run.output
    expected = json.loads(run.stdout)
    login(desk, site, "wujing")
    desk.goto(site.page_url("/reports/monthly?month=2026-11&level=grid"))
    check_page(desk, site, "monthly")
    rows = desk.locator("#monthly tbody tr[data-unit]")
    shown = [{"unit": r.get_attribute("data-unit"), "rank": int(r.get_attribute("data-rank")),
              "grade": r.get_attribute("data-grade"), "score": r.get_attribute("data-score")}
             for r in rows.all()]
    want = [{"unit": r["unit"], "rank": r["rank"], "grade": str(r["grade"]), "score": str(r["score"])}
            for r in expected["rows"]]
    assert shown == want
    figures = {(r.get_attribute("data-unit"), c.get_attribute("data-indicator")):
               (c.get_attribute("data-num"), c.get_attribute("data-den"))
               for r in rows.all() for c in r.locator("td[data-indicator]").all()}
    assert figures == {(r["unit"], i): (str(f["num"]), str(f["den"])) for r in expected["rows"]
                       for i, f in r["figures"].items() if i in {x["id"] for x in expected["indicators"]}}
    first = next(f for r in expected["rows"] for i, f in r["figures"].items()
                 if f["den"] and i in {x["id"] for x in expected["indicators"]})
    shown_rate = f"{first['value'] * 100:.1f}% ({first['num']}/{first['den']})"  # rates shown as the CLI shows them
    assert shown_rate in desk.inner_text("#monthly")
    desk.wait_for_function("() => { const i = document.querySelector(\"img[src*='monthly.png']\"); "
                           "return i && i.complete && i.naturalWidth > 0; }")  # the chart drawn
    assert any(r["score"] not in ("None", "0", "0.0") for r in want), "the month has no scored unit"
    with desk.expect_download() as dl:
        desk.click("a[href*='monthly.xlsx']")
    from openpyxl import load_workbook

    desk.locator("#monthly tbody tr[data-unit] a").first.click()
    desk.wait_for_url("**/web/reports/history?org=*")
    check_page(desk, site, "history")
    # a bulk action from the street's inbox, and its result page (a work order of its own in that inbox, whichever
    # tests ran before)
    orders = tmp_path / "orders.csv"
    orders.write_text("ticket,channel,received_at,address,grid,category,description,contact\n"
                      f"12345-20261201-0001,12345,2026-12-01T08:30,,{GRID5},0101,楼道堆物,\n", encoding="utf-8")
    assert site.engine.import_hotline(orders, actor="wujing").new == 1
    desk.goto(site.page_url("/"))
    assert desk.locator("#inbox input[name=ids]").count() > 0
    desk.locator("#inbox input[name=ids]").first.check()
    desk.select_option("#bulk select[name=action]", "urge")
    desk.fill("#bulk input[name=note]", "请今日办结")
    with desk.expect_navigation():
        desk.click("#bulk button[type=submit]")
    assert desk.locator("#bulk-results tr[data-case]").count() == 1
    check_page(desk, site, "bulk")
    assert dl.value.suggested_filename == "monthly-2026-11.xlsx"
    with open(dl.value.path(), "rb") as f:
        book = load_workbook(f, read_only=True)
    assert len(book.sheetnames) == 3


def test_the_boards_stream_ends_when_the_session_does(site: Site) -> None:
    import httpx

    from casecraft.admin.auth import set_password
    from tests.web_support import PASSWORD

    with httpx.Client(base_url=site.url, timeout=15) as c:
        assert c.get("/web/alerts/stream").status_code == 303  # no session: to the login page
        form = c.get("/web/login").text
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert token is not None
        c.post("/web/login", data={"person": "lixia", "password": PASSWORD, "csrf": token.group(1)})
        with c.stream("GET", "/web/alerts/stream") as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            lines = r.iter_lines()
            assert next(lines).startswith("retry:")
            set_password(site.engine.ctx, "lixia", PASSWORD + "-new", actor=None)  # an admin's new password
            seen = []
            for line in lines:  # ends within one heartbeat (2 s in this module)
                seen.append(line)
                if line.startswith("data:") and seen[-2:-1] == ["event: error"]:
                    break
            assert seen[-2] == "event: error" and json.loads(seen[-1][5:])["code"] == "unauthenticated", seen
