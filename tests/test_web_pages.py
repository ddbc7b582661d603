"""The workbench's pages over HTTP (no browser): sessions, CSRF, the inbox's order, paging and filters, escaping.

One app over one seeded sandbox for the module, driven by Starlette's test client.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.server_support import GRID5, T0, sandbox

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from casecraft.admin.auth import set_password
    from casecraft.base.clock import FixedClock
    from casecraft.server import create_app

    clock = FixedClock(T0)
    eng = sandbox(f"sqlite:///{tmp_path_factory.mktemp('webpages') / 'w.db'}", clock)
    for p in ("wangjg", "zhoumin", "wujing", "sunli"):
        set_password(eng.ctx, p, PASSWORD, actor=None)
    app = create_app(eng, rate_limit=None)
    try:
        yield {"engine": eng, "clock": clock, "app": app}
    finally:
        eng.close()


def client(world: dict[str, Any], person: str | None = None) -> TestClient:
    c = TestClient(world["app"], base_url="http://testserver", follow_redirects=False)
    if person is not None:
        token = csrf(c.get("/web/login").text)
        r = c.post("/web/login", data={"person": person, "password": PASSWORD, "csrf": token, "next": "/web/"})
        assert r.status_code == 303, r.text
    return c


def csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m is not None
    return m.group(1)


def inbox_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<tr data-case="(\d+)"', html)]


def test_the_session_cookie_is_httponly_samesite_and_checked_against_the_database(world: dict[str, Any]) -> None:
    from casecraft.admin.auth import set_password

    c = TestClient(world["app"], base_url="http://testserver", follow_redirects=False)
    login = c.get("/web/login")
    r = c.post("/web/login", data={"person": "sunli", "password": PASSWORD, "csrf": csrf(login.text)})
    cookie = r.headers["set-cookie"]
    assert "casecraft_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert c.get("/web/").status_code == 200
    # a forged signature, then a malformed cookie: back to the login page
    value = c.cookies["casecraft_session"]
    body, sig = value.split(".")
    bare = TestClient(world["app"], base_url="http://testserver", follow_redirects=False)
    assert bare.get("/web/", headers={"cookie": f"casecraft_session={value}"}).status_code == 200
    forged = body + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
    assert bare.get("/web/", headers={"cookie": f"casecraft_session={forged}"}).headers["location"].startswith(
        "/web/login")
    garbage = bare.get("/web/org", headers={"cookie": "casecraft_session=garbage"})
    assert garbage.headers["location"].startswith("/web/login?next=/web/org")
    # a new password (an admin's act) ends the session at once
    c2 = client(world, "sunli")
    assert c2.get("/web/").status_code == 200
    set_password(world["engine"].ctx, "sunli", PASSWORD + "!", actor=None)
    assert c2.get("/web/").status_code == 303
    set_password(world["engine"].ctx, "sunli", PASSWORD, actor=None)


def test_login_needs_its_form_token_and_never_redirects_off_the_workbench(world: dict[str, Any]) -> None:
    c = TestClient(world["app"], base_url="http://testserver", follow_redirects=False)
    c.get("/web/login")
    refused = c.post("/web/login", data={"person": "wangjg", "password": PASSWORD, "csrf": "forged"})
    assert refused.status_code == 403 and "casecraft_session" not in refused.headers.get("set-cookie", "")
    wrong = c.post("/web/login", data={"person": "wangjg", "password": "nope", "csrf": csrf(c.get("/web/login").text)})
    assert wrong.status_code == 401 and "账号或密码错误" in wrong.text
    token = csrf(c.get("/web/login").text)
    r = c.post("/web/login", data={"person": "wangjg", "password": PASSWORD, "csrf": token,
                                   "next": "//evil.example.org/"})
    assert r.status_code == 303 and r.headers["location"] == "/web/"


def test_every_post_needs_the_sessions_csrf_token(world: dict[str, Any]) -> None:
    eng = world["engine"]
    case = eng.report(source="patrol", grid=GRID5, category="0101", desc="CSRF", actor="wangjg")
    c = client(world, "wangjg")
    for token in (None, "x" * 32):
        data = {"note": "已清除"} | ({"csrf": token} if token else {})
        r = c.post(f"/web/cases/{case.id}/fire/resolve", data=data)
        assert r.status_code == 403 and "表单的安全令牌缺失或已过期" in r.text  # the workbench speaks Chinese
    assert eng.get(case.id).version == case.version
    page = c.get(f"/web/cases/{case.id}").text
    assert '<option value="liuqiang">' in page  # the grid's dispatched member suggested as a target
    assert 'data-trigger="dispatch"' in page and 'data-trigger="resolve"' in page
    token = csrf(page)
    assert c.post(f"/web/cases/{case.id}/fire/resolve", data={"note": "已清除", "csrf": token}).status_code == 303
    assert eng.get(case.id).state == "to_check"
    # another person's token is not mine
    other = csrf(client(world, "zhoumin").get("/web/").text)
    assert c.post(f"/web/cases/{case.id}/fire/check", data={"csrf": other}).status_code == 403


def test_the_inbox_is_sorted_by_due_time_paged_and_filtered(world: dict[str, Any]) -> None:
    eng, clock = world["engine"], world["clock"]
    made = []
    for i in range(23):
        clock.set(T0 + timedelta(minutes=i))
        made.append(eng.report(source="patrol", grid="110106004005001", category="0101" if i % 2 else "0102",
                               desc=f"第{i}件", actor="sunli").id)
    clock.set(T0 + timedelta(minutes=30))
    c = client(world, "sunli")
    first = c.get("/web/").text
    second = c.get("/web/?page=2").text
    ids = inbox_ids(first) + inbox_ids(second)
    assert len(inbox_ids(first)) == 20 and sorted(ids) == sorted(made)
    due = eng.deadlines(ids)
    assert [due[i].due_at for i in ids] == sorted(due[i].due_at for i in ids)  # soonest first
    assert "第 1 / 2 页" in first and 'rel="next"' in first and 'rel="prev"' in second
    only = inbox_ids(c.get("/web/?category=0102").text)
    assert only and all(eng.get(i).category == "0102" for i in only)
    assert inbox_ids(c.get("/web/?source=hotline").text) == []
    assert inbox_ids(c.get("/web/?overdue=1").text) == []
    clock.set(T0 + timedelta(days=3))
    late = inbox_ids(c.get("/web/?overdue=1").text)
    assert late and all(eng.deadline(i).due_at <= eng.now() for i in late)
    assert 'class="light light-red"' in c.get("/web/").text
    state = eng.get(made[0]).state
    assert set(inbox_ids(c.get(f"/web/?state={state}&page=2").text)) <= set(made)


def test_text_is_escaped_and_the_templates_speak_the_requests_language(world: dict[str, Any]) -> None:
    eng = world["engine"]
    case = eng.report(source="patrol", grid=GRID5, category="0101", desc="<script>alert(1)</script>", actor="wangjg")
    c = client(world, "wangjg")
    page = c.get(f"/web/cases/{case.id}").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # the templates' messages come from the catalogue (tests/test_web_i18n.py checks every page)
    assert "<h1>Inbox" in c.get("/web/", headers={"Accept-Language": "en"}).text
    assert "<h1>待办案件" in c.get("/web/").text


def test_unknown_pages_and_files_are_html_refusals(world: dict[str, Any]) -> None:
    c = client(world, "wangjg")
    assert c.get("/web").headers["location"] == "/web/"
    missing = c.get("/web/no/such/page")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert c.get("/web/files/" + "0" * 64).status_code == 404
    assert c.get("/web/cases/999999").status_code == 404
    for bad, status in (("/web/cases/abc", 422), ("/web/files/nothex", 422)):
        r = c.get(bad)
        assert r.status_code == status and r.headers["content-type"].startswith("text/html"), (bad, r.status_code)
    wrong_method = c.put("/web/logout")
    assert wrong_method.status_code == 405 and wrong_method.headers["content-type"].startswith("text/html")
    assert c.get("/cases/abc").headers["content-type"].startswith("application/problem+json")  # the API unchanged
    assert c.get("/web/alerts?unit=110106004005001").status_code == 403  # another grid's board
    static = c.get("/web/static/htmx.min.js")
    assert static.status_code == 200 and "htmx" in static.text[:2000]
    assert (Path(__file__).resolve().parents[1] / "casecraft" / "web" / "static" / "htmx.LICENSE").exists()


def test_engine_refusals_are_chinese_unless_the_browser_puts_english_first(world: dict[str, Any]) -> None:
    c = client(world, "wangjg")
    for header in (None, "fr-FR, fr;q=0.9", "zh-CN,zh;q=0.9,en;q=0.8", "*"):
        r = c.get("/web/cases/999999", headers={"Accept-Language": header} if header else {})
        assert r.status_code == 404 and "没有案件 999999" in r.text, header
        assert "no case 999999" not in r.text
    english = c.get("/web/cases/999999", headers={"Accept-Language": "en-US,en;q=0.9,zh;q=0.5"})
    assert english.status_code == 404 and "no case 999999" in english.text
    assert "没有案件" not in english.text
    api = c.get("/cases/999999")  # the API keeps English by default (no bearer token here)
    assert api.json()["detail"].startswith("authentication failed")


def test_bulk_actions_act_on_each_case_under_the_rules(world: dict[str, Any]) -> None:
    eng, clock = world["engine"], world["clock"]
    clock.set(clock.now() + timedelta(minutes=5))
    street = [eng.report(source="hotline", grid=GRID5, category="0102", desc=f"批量{i}", actor="wujing",
                         ref=f"12345-BULK-{i}").id for i in range(2)]
    grid = eng.report(source="patrol", grid=GRID5, category="0101", desc="网格的案件", actor="wangjg").id
    c = client(world, "wujing")
    page = c.get("/web/").text
    assert all(f'value="{i}" form="bulk"' in page for i in street)
    r = c.post("/web/bulk", data={"csrf": csrf(page), "action": "assign", "ids": [str(i) for i in (*street, grid)]})
    assert r.status_code == 200
    done = dict(re.findall(r'data-case="(\d+)" data-ok="(\d)"', r.text))
    assert done == {str(street[0]): "1", str(street[1]): "1", str(grid): "0"}
    assert all(eng.get(i).unit == "110106004005" for i in street)  # down to Community E by address
    assert len(eng.get(grid).timeline) == 1  # refused: nothing written
    assert c.post("/web/bulk", data={"csrf": csrf(page), "action": "close", "ids": [str(grid)]}).status_code == 422


def test_a_units_history_page(world: dict[str, Any]) -> None:
    eng, clock = world["engine"], world["clock"]
    c = client(world, "wujing")
    empty = c.get(f"/web/reports/history?org={GRID5}")
    assert empty.status_code == 200 and "还没有记录的月份" in empty.text
    clock.set(T0 + timedelta(days=7))  # December: November can be recorded
    eng.record_month("2026-11")
    rows = c.get(f"/web/reports/history?org={GRID5}").text
    assert 'data-period="2026-11"' in rows
    assert c.get("/web/reports/history?org=nope").status_code == 404


def test_logout_needs_the_form_token_and_forgets_the_session(world: dict[str, Any]) -> None:
    c = client(world, "zhoumin")
    token = csrf(c.get("/web/").text)
    assert c.post("/web/logout", data={"csrf": "forged"}).status_code == 403
    assert c.get("/web/").status_code == 200  # still logged in
    out = c.post("/web/logout", data={"csrf": token})
    assert out.status_code == 303 and out.headers["location"] == "/web/login"
    assert 'casecraft_session=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    assert c.get("/web/").headers["location"].startswith("/web/login")
    bare = TestClient(world["app"], base_url="http://testserver", follow_redirects=False)
    assert bare.post("/web/logout", data={}).headers["location"] == "/web/login"  # no session: nothing to end


# ------------------------------------------------------------------- hostile forms and the board (QA, 2026-12-01)

def test_a_forged_cookie_with_an_infinite_time_is_a_login_not_a_fault(world: dict[str, Any]) -> None:
    import base64

    body = base64.urlsafe_b64encode(b'{"p":"x","c":"y","i":Infinity}').decode().rstrip("=")
    bare = TestClient(world["app"], base_url="http://testserver", follow_redirects=False)
    for path in ("/web/", "/web/alerts/rows"):
        r = bare.get(path, headers={"cookie": f"casecraft_session={body}.x"})
        assert r.status_code == 303 and r.headers["location"].startswith("/web/login"), (path, r.status_code)


def test_numbers_a_form_cannot_hold_are_refused_as_pages(world: dict[str, Any]) -> None:
    eng = world["engine"]
    case = eng.report(source="patrol", grid=GRID5, category="0101", desc="数字检查", actor="wangjg")
    c = client(world, "wangjg")
    token = csrf(c.get(f"/web/cases/{case.id}").text)
    for version in ("²", "9" * 5000):
        r = c.post(f"/web/cases/{case.id}/fire/resolve", data={"csrf": token, "note": "已清除",
                                                               "expected_version": version})
        assert r.status_code == 422 and r.headers["content-type"].startswith("text/html"), r.status_code
        assert "不是数字" in r.text
    assert eng.get(case.id).version == case.version  # nothing written
    r = c.post("/web/bulk", data={"csrf": token, "action": "urge", "note": "x", "ids": ["²", "9" * 5000]})
    assert r.status_code < 500
    big = c.get("/web/alerts/rows", params={"after_id": "99999999999999999999"})
    assert big.status_code == 422 and big.headers["content-type"].startswith("text/html")


def test_a_refused_attachment_and_an_unreadable_form_are_422_pages(world: dict[str, Any]) -> None:
    eng = world["engine"]
    before = eng.page(limit=1).total
    c = client(world, "wangjg")
    token = csrf(c.get("/web/report").text)
    form = {"csrf": token, "grid": GRID5, "category": "0101", "desc": "带附件"}
    r = c.post("/web/report", data=form, files=[("photos", ("note.txt", b"just text", "text/plain"))])
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html"), r.status_code
    many = [("photos", (f"p{i}.png", b"x", "image/png")) for i in range(21)]
    r = c.post("/web/report", data=form, files=many)
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html") and "20" in r.text
    assert eng.page(limit=1).total == before
    assert 'accept="image/*,application/pdf"' not in c.get(f"/web/cases/{eng.page(limit=1).cases[0].id}").text


def test_the_timeline_names_the_actors_own_unit_and_a_due_date_in_another_year_has_its_year(
        world: dict[str, Any]) -> None:
    eng = world["engine"]
    case = eng.report(source="patrol", grid=GRID5, category="0101", desc="跨年的期限", actor="wangjg")
    eng.fire(case.id, "escalate", actor="wangjg", note="上报社区")  # the case moves to the community
    eng.extend(case.id, actor="fengzr", by="60 working days", note="跨年")
    page = client(world, "wangjg").get(f"/web/cases/{case.id}").text
    story = page[page.index('id="timeline"'):]
    escalated = story[:story.index("上报社区")].rsplit("<li>", 1)[1]
    # wangjg worked at the grid when he escalated; the case went on to the community (its unit after the step)
    assert f"（网格长 · {eng.org.label(GRID5)}）" in escalated and eng.get(case.id).unit == "110106004005"
    due = eng.deadline(case.id)
    assert due is not None and due.due_at.year == 2027
    assert "2027-" in page[page.index("<dl"):page.index("</dl>")]


def test_a_log_entry_is_posted_then_redirected(world: dict[str, Any]) -> None:
    c = client(world, "wangjg")
    token = csrf(c.get("/web/logs").text)
    r = c.post("/web/logs", data={"csrf": token, "grid": GRID5, "text": "走访2户，反映噪音"})
    assert r.status_code == 303 and r.headers["location"] == "/web/logs?recorded=1"
    assert "已记录" in c.get(r.headers["location"]).text or "recorded" in c.get(r.headers["location"]).text


def test_an_urge_is_named_on_the_board_and_a_second_acknowledgement_says_why_in_the_row(
        world: dict[str, Any]) -> None:
    eng = world["engine"]
    case = eng.report(source="patrol", grid=GRID5, category="0101", desc="督办的案件", actor="wangjg")
    eng.urge(case.id, actor="duyan", note="请尽快处理")
    alert = [a for a in eng.alerts(case_id=case.id) if a.kind == "urge"][0]
    c = client(world, "wangjg")
    board = c.get("/web/alerts").text
    row = board[board.index(f'id="alert-{alert.id}"'):]
    row = row[:row.index("</tr>")]
    assert "督办" in row and f"#{alert.id} urge" not in board
    assert f"/cases/{case.id}/urge" not in row  # the case is at his own grid: 督办 is not his to give here
    community = client(world, "zhoumin").get("/web/alerts", params={"unit": GRID5}).text
    assert f"/cases/{case.id}/urge" in community  # the platform above may urge it
    token = csrf(board)
    hx = {"HX-Request": "true"}
    assert c.post(f"/web/alerts/{alert.id}/ack", data={"csrf": token}, headers=hx).status_code == 200
    again = c.post(f"/web/alerts/{alert.id}/ack", data={"csrf": token}, headers=hx)
    assert again.status_code == 200 and 'role="alert"' in again.text and "王建国" in again.text
