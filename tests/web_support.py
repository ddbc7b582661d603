"""Helpers of the workbench's browser tests: a seeded sandbox behind a live server, Chromium, axe-core, screenshots.

One live server per test module (uvicorn in a thread, over an engine whose
FixedClock the test also holds); Debian's Chromium driven by Playwright (never
Playwright's own browser download); axe-core (vendored under tests/data/axe with
its licence) run in each page.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.server_support import T0, sandbox, uvicorn_thread

ROOT = Path(__file__).resolve().parents[1]
AXE = ROOT / "tests" / "data" / "axe" / "axe.min.js"
CHROMIUM = os.environ.get("CASECRAFT_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "correct-horse-battery"  # sandbox test passwords only
PEOPLE = ("wangjg", "liuqiang", "zhoumin", "wujing", "duyan", "fengzr", "lixia", "zhangwei", "chengang", "zhenglei")
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1920, "height": 1080}


@dataclass
class Site:
    url: str
    db: str
    engine: Any
    clock: Any
    shots: Path

    def page_url(self, path: str) -> str:
        return f"{self.url}/web{path}"


def browser_or_skip() -> Any:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not at {CHROMIUM}: apt-get install -y chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    return sync_playwright


@contextmanager
def live_site(tmp: Path) -> Iterator[Site]:
    """A seeded sandbox with passwords for the worked example's people, served on loopback."""
    from casecraft.admin.auth import set_password
    from casecraft.base.clock import FixedClock
    from casecraft.server import create_app
    from casecraft.server.app import Settings

    clock = FixedClock(T0)
    db = f"sqlite:///{tmp / 'web.db'}"
    eng = sandbox(db, clock)
    for p in PEOPLE:
        set_password(eng.ctx, p, PASSWORD, actor=None)
    app = create_app(eng, rate_limit=None, settings=Settings(sse_poll=0.2, sse_heartbeat=2.0))
    shots = tmp / "screenshots"
    shots.mkdir()
    try:
        with uvicorn_thread(app) as url:
            yield Site(url, db, eng, clock, shots)
    finally:
        eng.close()
        out = os.environ.get("CASECRAFT_SCREENSHOTS")  # keep them beyond pytest's tmp dir when asked
        if out:
            shutil.copytree(shots, Path(out), dirs_exist_ok=True)


def login(page: Any, site: Site, person: str) -> None:
    page.goto(site.page_url("/login"))
    page.fill("#person", person)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(site.page_url("/"))


def logout(page: Any) -> None:
    page.click("header form[action$='/logout'] button")
    page.wait_for_url("**/web/login")


def axe(page: Any) -> list[dict[str, Any]]:
    """The serious and critical axe-core violations of the page as shown now (WCAG 2.1 A/AA rules)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a',
                                                                            'wcag21aa', 'best-practice']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                      nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return [v for v in result if v["impact"] in ("serious", "critical")]


def check_page(page: Any, site: Site, name: str) -> None:
    """A screenshot of the page under the test's output directory, and no serious accessibility violation."""
    page.screenshot(path=str(site.shots / f"{name}.png"), full_page=True)
    bad = axe(page)
    assert not bad, f"{name}: {bad}"


__all__ = ["DESKTOP", "PASSWORD", "PHONE", "Site", "T0", "axe", "browser_or_skip", "check_page", "live_site",
           "login", "logout"]
