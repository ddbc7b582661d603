"""The workbench in the operator's language: every page from the one catalogue, Chinese or English per request.

Chinese when the browser prefers it (and when it asks for no language casecraft has: the operators'
language); English when the browser puts English first; an explicit choice (``?lang=zh|en``) is kept in
a cookie and wins over the browser. A Chinese page has no English word but ids and codes (the CLI's
checker, :func:`tests.test_i18n_cli.english`); an English page shows none of the catalogue's Chinese.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from casecraft import i18n
from tests.server_support import GRID5, STREET, T0, sandbox
from tests.test_i18n_cli import english

PASSWORD = "correct-horse-battery"
TEMPLATES = Path(__file__).resolve().parents[1] / "casecraft" / "web" / "templates"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
EN = {"Accept-Language": "en-US,en;q=0.9"}
READ_ATTRIBUTES = frozenset({"aria-label", "alt", "title", "placeholder", "label", "data-label", "data-open",
                             "data-lost", "data-new", "data-failed", "data-uploading", "data-importing",
                             "data-network"})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from casecraft.admin.auth import set_password
    from casecraft.base.clock import FixedClock
    from casecraft.server import create_app

    clock = FixedClock(T0)
    eng = sandbox(f"sqlite:///{tmp_path_factory.mktemp('webi18n') / 'w.db'}", clock)
    for p in ("wangjg", "wujing"):
        set_password(eng.ctx, p, PASSWORD, actor=None)
    case = eng.report(source="patrol", grid=GRID5, category="0101", desc="小广告", actor="wangjg")
    clock.set(T0 + timedelta(minutes=20))
    eng.fire(case.id, "resolve", actor="wangjg", note="已清除")
    clock.set(T0 + timedelta(minutes=30))
    eng.add_log(grid=GRID5, text="走访3户", actor="wangjg")
    app = create_app(eng, rate_limit=None)
    try:
        yield {"engine": eng, "app": app, "case": case.id, "clock": clock}
    finally:
        eng.close()


def client(world: dict[str, Any], person: str | None = None) -> TestClient:
    c = TestClient(world["app"], base_url="http://testserver", follow_redirects=False)
    if person is not None:
        token = re.search(r'name="csrf" value="([^"]+)"', c.get("/web/login").text)
        assert token is not None
        r = c.post("/web/login", data={"person": person, "password": PASSWORD, "csrf": token[1], "next": "/web/"})
        assert r.status_code == 303, r.text
    return c


class _Reader(HTMLParser):
    """What a person reads on a page: its text and the attributes read aloud or shown (labels, alt texts,
    the scripts' status texts), without scripts, hidden inputs, or what is marked as another language
    (the language switch names each language in itself)."""

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang, self.parts, self._skip = lang, [], 0
        self._stack: list[bool] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        other = a.get("lang") not in (None, self.lang) and tag != "html"
        if tag not in ("input", "img", "meta", "link", "br", "hr", "source"):
            self._stack.append(other or tag in ("script", "style"))
            self._skip += self._stack[-1]
        if self._skip or other:
            return
        # a script's status text: its {placeholder} is filled with a number where it is shown
        self.parts += [re.sub(r"\{\w+\}", "1", v) for k, v in attrs if k in READ_ATTRIBUTES and v]
        if tag == "input" and a.get("type", "text") == "text" and a.get("value"):
            self.parts.append(a["value"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag not in ("input", "img", "meta", "link", "br", "hr", "source") and self._stack:
            self._skip -= self._stack.pop()

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def read(html: str, lang: str) -> list[str]:
    reader = _Reader(lang)
    reader.feed(html)
    return reader.parts


def _pages(world: dict[str, Any]) -> list[str]:
    return ["/web/", f"/web/cases/{world['case']}", "/web/alerts", "/web/reports/monthly", "/web/logs",
            "/web/hotline", "/web/org", "/web/report", f"/web/reports/history?org={GRID5}", "/web/cases/999999",
            "/web/no/such/page"]


def _chinese_of_the_templates() -> set[str]:
    """The Chinese of every message the templates write (placeholders cut out: the fixed parts)."""
    out: set[str] = set()
    for path in TEMPLATES.glob("*.html"):
        for _q, msgid in re.findall(r"""_\((["'])(.*?)\1""", path.read_text(encoding="utf-8")):
            zh = i18n.gettext(msgid, i18n.CHINESE)
            assert zh != msgid, msgid
            out.update(p.strip(" ：，（）") for p in re.split(r"%\(\w+\)s|\{\w+\}", zh) if p.strip(" ：，（）"))
    return out


def test_the_pages_in_chinese_have_no_english_but_ids_and_codes(world: dict[str, Any]) -> None:
    c = client(world, "wangjg")
    anonymous = client(world)
    pages = [(c, p) for p in _pages(world)] + [(anonymous, "/web/login")]
    for who, path in pages:
        r = who.get(path, headers=ZH)
        assert r.status_code in (200, 404), (path, r.status_code)
        assert '<html lang="zh-CN">' in r.text and r.headers["content-language"] == "zh-CN"
        shown = " \n".join(read(r.text, "zh-CN")).replace(path, "")  # the address asked for is the reader's own
        assert shown and not english(shown), (path, english(shown))
    wrong = c.put("/web/logout", headers=ZH)  # a refusal made by the web framework, not the engine
    assert wrong.status_code == 405 and "此页面不接受 PUT 请求" in wrong.text
    case = c.get(f"/web/cases/{world['case']}", headers=ZH).text
    assert "巡查发现" in case and "案件 #" in case and "上一环节用时 20分钟" in case  # source and durations too


def test_the_same_pages_in_english_show_none_of_the_catalogues_chinese(world: dict[str, Any]) -> None:
    c = client(world, "wangjg")
    chrome = _chinese_of_the_templates()
    assert {"待办案件", "状态", "上一环节用时"} <= chrome
    for who, path in [(c, p) for p in _pages(world)] + [(client(world), "/web/login")]:
        r = who.get(path, headers=EN)
        assert '<html lang="en">' in r.text and r.headers["content-language"] == "en", path
        shown = read(r.text, "en")
        # what stays Chinese is the data: names, units, categories, descriptions, the workflow's labels
        assert not [s for s in shown if s in chrome or any(len(z) >= 6 and z in s for z in chrome)], path
    inbox = c.get("/web/", headers=EN).text
    assert "<h1>Inbox" in inbox and "Page 1 of 1" in inbox and "Log out" in inbox
    case = c.get(f"/web/cases/{world['case']}", headers=EN).text
    assert "patrol" in case and "the step before took 20m" in case
    assert re.search(r"\(to_check\)", case)  # the workflow's (Chinese) label with its English id, as the CLI shows
    missing = c.get("/web/cases/999999", headers=EN)
    assert missing.status_code == 404 and "no case 999999" in missing.text and "<h1>Not found" in missing.text


def test_the_browsers_language_decides_unless_the_operator_chose(world: dict[str, Any]) -> None:
    c = client(world, "wangjg")
    for header, h1 in (("zh", "待办案件"), ("zh-Hans-CN", "待办案件"), ("en-GB,zh;q=0.5", "Inbox"),
                       ("fr-FR,fr;q=0.9", "待办案件"), (None, "待办案件")):
        page = c.get("/web/", headers={"Accept-Language": header} if header else {})
        assert f"<h1>{h1}" in page.text, header
        assert "Accept-Language" in page.headers["vary"]
    # the switch: ?lang=en answers English and keeps the choice in a cookie, over the browser's Chinese
    chosen = c.get("/web/?scope=all&lang=en", headers=ZH)
    assert "<h1>Inbox" in chosen.text
    cookie = chosen.headers["set-cookie"]
    assert "casecraft_lang=en" in cookie and "Path=/web" in cookie and "HttpOnly" in cookie
    assert "<h1>Organisation" in c.get("/web/org", headers=ZH).text
    refused = c.get("/web/cases/999999", headers=ZH)
    assert "no case 999999" in refused.text  # the engine's refusal in the chosen language too
    back = c.get("/web/?lang=zh", headers=EN)
    assert "casecraft_lang=zh" in back.headers["set-cookie"] and "<h1>待办案件" in back.text
    assert "<h1>待办案件" in c.get("/web/", headers=EN).text
    # the switch on every page: this page in the other language, its parameters kept
    links = re.findall(r'<a href="([^"]+)" lang="(\w+(?:-\w+)?)"', c.get("/web/?scope=all&state=x", headers=EN).text)
    assert ("/web/?scope=all&amp;state=x&amp;lang=en", "en") in links
    login = client(world).get("/web/login", headers=ZH).text
    assert 'href="/web/login?lang=en" lang="en"' in login  # before logging in too
    assert "casecraft_lang" not in client(world).get("/web/login?lang=klingon").headers.get("set-cookie", "")
    assert client(world).get("/web/org?lang=en").headers["location"] == "/web/login?next=/web/org&lang=en"


def test_the_login_pages_refusals_follow_the_language(world: dict[str, Any]) -> None:
    for headers, text in ((ZH, "账号或密码错误"), (EN, "wrong account or password")):
        c = client(world)
        token = re.search(r'name="csrf" value="([^"]+)"', c.get("/web/login", headers=headers).text)
        assert token is not None
        r = c.post("/web/login", data={"person": "wangjg", "password": "nope", "csrf": token[1]}, headers=headers)
        assert r.status_code == 401 and text in r.text


def test_bulk_results_and_labels_in_english(world: dict[str, Any]) -> None:
    eng = world["engine"]
    street = eng.report(source="hotline", grid=GRID5, category="0102", desc="热线", actor="wujing",
                        ref="12345-I18N-1").id
    c = client(world, "wujing")
    page = c.get("/web/?lang=en").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None and '<option value="assign">assign down</option>' in page
    r = c.post("/web/bulk", data={"csrf": token[1], "action": "assign", "ids": [str(street), str(world["case"])]})
    assert r.status_code == 200 and "Bulk action results · assign down" in r.text
    rows = dict(re.findall(r'<tr data-case="(\d+)" data-ok="\d">(.*?)</tr>', r.text, flags=re.S))
    assert "done" in rows[str(street)]
    refused = rows[str(world["case"])]
    assert "Not done" in refused and "is not allowed there" in refused, refused  # the engine's refusal in English


def test_concurrent_requests_each_render_in_their_own_language(world: dict[str, Any]) -> None:
    """One Environment per language: pages rendered at the same time never borrow another request's language."""
    c = client(world, "wangjg")
    cookies = dict(c.cookies)

    def fetch(i: int) -> tuple[int, str]:
        other = TestClient(world["app"], base_url="http://testserver", cookies=cookies)
        return i, other.get(f"/web/cases/{world['case']}", headers=EN if i % 2 else ZH).text

    with ThreadPoolExecutor(max_workers=8) as pool:
        for i, html in pool.map(fetch, range(24)):
            if i % 2:
                assert "<h2 id=\"facts-h\">Details" in html and "基本信息" not in html
            else:
                assert "<h2 id=\"facts-h\">基本信息" in html and "Details" not in html


def test_the_alert_board_in_both_languages(world: dict[str, Any]) -> None:
    """An alert's text is stored when it is raised; an English board makes the line again in English."""
    eng, clock = world["engine"], world["clock"]
    case = eng.report(source="patrol", grid=GRID5, category="0101", desc="超期的案件", actor="wangjg")
    clock.set(clock.now() + timedelta(days=5))
    eng.sweep()
    mine = [a for a in eng.alerts(case_id=case.id) if a.unit == STREET]  # re-escalated to the street
    assert mine, "the sweep raised no alert at the street"
    c = client(world, "wujing")
    zh = c.get("/web/alerts", headers=ZH)
    assert mine[0].message in zh.text and not english(" \n".join(read(zh.text, "zh-CN")))
    en = c.get("/web/alerts", headers=EN)
    row = re.search(rf'<tr id="alert-{mine[0].id}".*?</tr>', en.text, flags=re.S)
    assert row is not None and mine[0].message not in en.text
    assert re.search(rf"case {case.id} \(\w+\): (warning|overdue|re-escalation), due \d\d-\d\d \d\d:\d\d", row[0])
    assert ">Acknowledge<" in row[0] and "Please handle this as soon as possible" in row[0]
