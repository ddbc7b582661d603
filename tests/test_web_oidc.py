"""The workbench's login through the organisation's identity provider (the stub provider of test_server_oidc)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

pytest.importorskip("joserfc")

from starlette.testclient import TestClient  # noqa: E402

from casecraft.base.clock import FixedClock  # noqa: E402
from casecraft.server import create_app  # noqa: E402
from casecraft.server.oidc import OIDC  # noqa: E402
from tests.server_support import T0, sandbox, uvicorn_thread  # noqa: E402
from tests.test_server_oidc import CLIENT, SECRET, Provider  # noqa: E402


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    provider = Provider()
    with uvicorn_thread(provider.app()) as base:
        provider.issuer = base
        eng = sandbox(f"sqlite:///{tmp_path_factory.mktemp('weboidc') / 'o.db'}", FixedClock(T0))
        app = create_app(eng, rate_limit=None, oidc=OIDC(issuer=base, audience=CLIENT, client_secret=SECRET))
        try:
            yield {"engine": eng, "app": app, "idp": provider}
        finally:
            eng.close()


def oidc_login(app: Any, person: str) -> tuple[TestClient, httpx.Response]:
    c = TestClient(app, base_url="http://testserver", follow_redirects=False)
    assert "统一身份认证登录" in c.get("/web/login").text
    start = c.get("/web/login/oidc")
    assert start.status_code == 303
    back = httpx.get(start.headers["location"] + f"&login_hint={person}", follow_redirects=False)
    callback = urlparse(back.headers["location"])
    assert callback.path == "/web/login/oidc/callback"
    return c, c.get(f"{callback.path}?{callback.query}")


def test_a_person_logs_in_through_the_provider_and_works_under_the_same_rules(world: dict[str, Any]) -> None:
    c, done = oidc_login(world["app"], "wangjg")
    assert done.status_code == 303 and done.headers["location"] == "/web/"
    assert "HttpOnly" in done.headers["set-cookie"]
    page = c.get("/web/")
    assert page.status_code == 200 and "王建国" in page.text
    case = world["engine"].report(source="patrol", grid="110106004005005", category="0101", desc="OIDC",
                                  actor="wangjg")
    import re

    token = re.search(r'name="csrf" value="([^"]+)"', c.get(f"/web/cases/{case.id}").text)
    assert token is not None
    r = c.post(f"/web/cases/{case.id}/fire/resolve", data={"csrf": token.group(1), "note": "已清除"})
    assert r.status_code == 303 and world["engine"].get(case.id).timeline[-1].actor == "wangjg"


def test_a_deactivated_person_loses_the_session_and_a_tampered_login_is_refused(world: dict[str, Any]) -> None:
    c, done = oidc_login(world["app"], "lixia")
    assert done.status_code == 303 and c.get("/web/").status_code == 200
    world["engine"].deactivate("lixia")
    assert c.get("/web/").headers["location"].startswith("/web/login")
    c2 = TestClient(world["app"], base_url="http://testserver", follow_redirects=False)
    start = c2.get("/web/login/oidc")
    back = httpx.get(start.headers["location"] + "&login_hint=wangjg", follow_redirects=False)
    query = urlparse(back.headers["location"]).query.replace("state=", "state=AA")
    refused = c2.get(f"/web/login/oidc/callback?{query}")
    assert refused.status_code == 401 and "casecraft_session" not in refused.headers.get("set-cookie", "")
