"""The operators' API through the ASGI client: authentication, problem documents, every route's behaviour.

One sandbox database and app per module (tests make their own cases, so they
do not depend on each other); the clock is fixed, so deadlines are exact.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from casecraft.base.clock import FixedClock
from casecraft.server import RateLimit, Settings, create_app
from tests.server_support import COMM_E, DISTRICT, GRID5, STREET, T0, sandbox, tokens


def _png(colour: tuple[int, int, int]) -> bytes:
    """A small well-formed PNG photo (attachments are decoded before they are stored)."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(out, format="PNG")
    return out.getvalue()


PNG = _png((200, 30, 30))
PNG_B = _png((30, 30, 200))
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    path = tmp_path_factory.mktemp("api") / "api.db"
    eng = sandbox(f"sqlite:///{path}", FixedClock(T0))
    toks = tokens(eng)
    app = create_app(eng, rate_limit=None)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield {"engine": eng, "tokens": toks, "client": client, "app": app}
    eng.close()


@pytest.fixture
def api(world: dict[str, Any]) -> Any:
    """``api(person, method, path, **kw)``: a request as that person."""
    client: TestClient = world["client"]

    def send(person: str | None, method: str, path: str, **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}) or {})
        if person is not None:
            headers["Authorization"] = f"Bearer {world['tokens'][person]}"
        return client.request(method, path, headers=headers, **kw)

    return send


def report(api: Any, person: str = "wangjg", **over: Any) -> dict[str, Any]:
    body = {"source": "patrol", "grid": GRID5, "category": "0101", "desc": "楼门张贴非法小广告", **over}
    r = api(person, "POST", "/cases", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM), r.headers
    body = r.json()
    assert body["status"] == status and body["code"] == code, body
    assert body["type"] == f"urn:casecraft:problem:{code}"
    assert body["title"] and body["detail"] and "template" in body and isinstance(body["details"], dict)
    assert "Traceback" not in r.text
    return dict(body)


# --------------------------------------------------------------------------- authentication

def test_health_and_the_openapi_document_need_no_token(api: Any) -> None:
    assert api(None, "GET", "/health").json()["status"] == "ok"
    doc = api(None, "GET", "/openapi.json").json()
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def _routes(app: Any) -> list[tuple[str, str]]:
    """Every (method, path) of the API, from its OpenAPI document, with sample path parameters."""
    out = []
    for path, ops in app.openapi()["paths"].items():
        if path == "/health" or path.startswith("/open311/"):
            continue  # Open311 GeoReport v2 has its own public reads and api_key (tests/test_open311.py)
        concrete = (path.replace("{case_id}", "1").replace("{unit}", GRID5).replace("{alert_id}", "1")
                    .replace("{trigger}", "close"))
        out += [(m.upper(), concrete) for m in sorted(ops)]
    return out


def test_every_route_but_health_refuses_a_request_without_a_token(world: dict[str, Any], api: Any,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    routes = _routes(world["app"])
    assert len(routes) >= 29
    with caplog.at_level(logging.WARNING, logger="casecraft.server"):
        for method, path in routes:
            r = api(None, method, path, params={"org": GRID5, "ids": "1"})
            body = problem(r, 401, "unauthenticated")
            assert r.headers["www-authenticate"].startswith("Bearer"), (method, path)
            assert "no Authorization" in body["detail"]
    assert len([r for r in caplog.records if r.name == "casecraft.server"]) >= len(routes)


def test_malformed_unknown_wrong_revoked_and_deactivated_credentials_are_refused(
        world: dict[str, Any], api: Any, caplog: pytest.LogCaptureFixture) -> None:
    from casecraft.admin.auth import issue_token, revoke

    eng, client = world["engine"], world["client"]
    good = world["tokens"]["lixia"]
    cred = good.split("_")[1]
    wrong = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    unknown = "cct_" + "0" * 16 + good[len("cct_") + 16:]
    spare, _ = issue_token(eng.ctx, "heping", actor=None)
    cases = {"Basic abc": "not 'Bearer", "Bearer ": "not 'Bearer", "Bearer nope": "malformed",
             f"Bearer {wrong}": "wrong token", f"Bearer {unknown}": "unknown token"}
    with caplog.at_level(logging.WARNING, logger="casecraft.server"):
        for header, why in cases.items():
            body = problem(client.get("/me", headers={"Authorization": header}), 401, "unauthenticated")
            assert why in body["detail"], (header, body)
        assert client.get("/me", headers={"Authorization": f"Bearer {good}"}).status_code == 200
        revoke(eng.ctx, cred, actor=None)
        body = problem(client.get("/me", headers={"Authorization": f"Bearer {good}"}), 401, "unauthenticated")
        assert "revoked" in body["detail"]
        assert client.get("/me", headers={"Authorization": f"Bearer {spare}"}).status_code == 200
        eng.deactivate("heping")
        body = problem(client.get("/me", headers={"Authorization": f"Bearer {spare}"}), 401, "unauthenticated")
        assert "deactivated" in body["detail"]
        eng.activate("heping")
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "casecraft.server")
    assert logged.count("refused GET /me") >= 7
    assert cred in logged  # the credential id says which token, ...
    for secret in (good, wrong, spare, good.split("_", 2)[2], spare.split("_", 2)[2]):
        assert secret not in logged  # ... never the token


def test_a_token_this_process_trusts_is_refused_at_once_when_another_process_revokes_it(
        world: dict[str, Any], api: Any) -> None:
    """A token already verified here is re-checked inside each call's own transaction (by the admin revision):
    revoking it or deactivating its person through another engine (another process) refuses the next request,
    whether the call writes (fire), reads, or opens no transaction of its own (the organisation, cached)."""
    from casecraft import Engine
    from casecraft.admin.auth import issue_token, revoke

    eng = world["engine"]
    url = str(eng.store.engine.url)
    token, _ = issue_token(eng.ctx, "wangjg", actor=None)
    client: TestClient = world["client"]
    me = {"Authorization": f"Bearer {token}"}
    watcher = {"Authorization": f"Bearer {issue_token(eng.ctx, 'lixia', actor=None)[0]}"}
    case = report(api)
    for _ in range(2):  # verified once, then trusted by revision
        assert client.post(f"/cases/{case['id']}/fire/verify", headers=me, json={"note": "属实"}).status_code in (
            200, 409, 422)
        assert client.get("/org", headers=me).status_code == 200
    before = client.get(f"/cases/{case['id']}", headers=watcher).json()
    other = Engine(url, token="")  # another process on the same database
    try:
        revoke(other.ctx, token.split("_")[1], actor=None)
        for method, path, kw in (("POST", f"/cases/{case['id']}/fire/dispatch", {"json": {"note": "派遣"}}),
                                 ("GET", f"/cases/{case['id']}", {}), ("GET", "/org", {})):
            body = problem(client.request(method, path, headers=me, **kw), 401, "unauthenticated")
            assert "revoked" in body["detail"], (path, body)
        after = client.get(f"/cases/{case['id']}", headers=watcher).json()
        assert (after["version"], len(after["timeline"])) == (before["version"], len(before["timeline"]))

        spare, _ = issue_token(other.ctx, "zhoumin", actor=None)
        assert client.get("/org", headers={"Authorization": f"Bearer {spare}"}).status_code == 200
        assert client.get(f"/cases/{case['id']}", headers={"Authorization": f"Bearer {spare}"}).status_code == 200
        other.deactivate("zhoumin")
        for path in ("/org", f"/cases/{case['id']}"):
            body = problem(client.get(path, headers={"Authorization": f"Bearer {spare}"}), 401, "unauthenticated")
            assert "deactivated" in body["detail"], (path, body)
        other.activate("zhoumin")
        assert client.get("/org", headers={"Authorization": f"Bearer {spare}"}).status_code == 200
    finally:
        other.close()


def test_me_names_the_token_holder(api: Any) -> None:
    me = api("zhoumin", "GET", "/me").json()
    assert (me["id"], me["unit"], me["roles"], me["method"], me["timezone"]) == (
        "zhoumin", COMM_E, ["operator"], "token", "Asia/Shanghai")


def test_the_rate_limit_is_per_token_and_answers_429_with_retry_after(
        world: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(world["engine"], rate_limit=RateLimit(rate=0.001, burst=2))
    a, b = world["tokens"]["wangjg"], world["tokens"]["zhoumin"]
    with TestClient(app) as client, caplog.at_level(logging.WARNING, logger="casecraft.server"):
        for _ in range(2):
            assert client.get("/me", headers={"Authorization": f"Bearer {a}"}).status_code == 200
        r = client.get("/me", headers={"Authorization": f"Bearer {a}"})
        problem(r, 429, "rate_limited")
        assert int(r.headers["retry-after"]) >= 1
        assert client.get("/me", headers={"Authorization": f"Bearer {b}"}).status_code == 200
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "code=rate_limited" in logged and a not in logged


def test_buckets_refill_at_the_rate() -> None:
    from casecraft.server.security import Buckets

    now = [100.0]
    buckets = Buckets(RateLimit(rate=2.0, burst=3), clock=lambda: now[0])
    assert [buckets.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("k") == pytest.approx(0.5)
    now[0] += 0.5
    assert buckets.take("k") == 0.0
    assert buckets.take("other") == 0.0


# --------------------------------------------------------------------------- cases

def test_report_answers_201_with_the_case_and_its_location(api: Any) -> None:
    r = api("wangjg", "POST", "/cases", json={"source": "patrol", "grid": GRID5, "category": "0101",
                                              "desc": "小广告", "address": "东高地三角地"})
    assert r.status_code == 201
    case = r.json()
    assert r.headers["location"] == f"/cases/{case['id']}"
    assert (case["state"], case["reporter"], case["timezone"]) == ("grid_handling", "wangjg", "Asia/Shanghai")
    assert case["created_at"] == "2026-11-24T09:00:00+08:00"
    assert case["timeline"][0]["actor"] == "wangjg" and case["timeline"][0]["target_names"] == ""


def test_report_takes_photos_as_multipart(api: Any) -> None:
    r = api("wangjg", "POST", "/cases", data={"source": "patrol", "grid": GRID5, "category": "0101",
                                              "desc": "带照片"},
            files=[("photos", ("现场 1.png", PNG, "image/png")), ("photos", ("b.png", PNG_B, "image/png"))])
    assert r.status_code == 201, r.text
    files = r.json()["timeline"][0]["attachments"]
    assert [f["name"] for f in files] == ["现场 1.png", "b.png"]
    assert all(f["type"] == "image/png" and len(f["sha256"]) == 64 for f in files)


def test_a_bad_photo_is_refused_and_nothing_is_created(api: Any) -> None:
    before = api("wangjg", "GET", "/cases", params={"limit": 1}).json()["total"]
    r = api("wangjg", "POST", "/cases", data={"source": "patrol", "grid": GRID5, "category": "0101", "desc": "x"},
            files=[("photos", ("evil.png", b"<script>alert(1)</script>", "image/png"))])
    body = problem(r, 422, "attachment_type")
    assert "evil.png" in body["detail"]
    assert api("wangjg", "GET", "/cases", params={"limit": 1}).json()["total"] == before


@pytest.mark.parametrize("body", [{"actor": "fengzr"}, {"on_behalf_of": "fengzr"}])
def test_a_body_never_names_who_acts(api: Any, body: dict[str, Any]) -> None:
    r = api("wangjg", "POST", "/cases", json={"source": "patrol", "grid": GRID5, "category": "0101", "desc": "x",
                                              **body})
    assert next(iter(body)) in problem(r, 422, "bad_input")["detail"]


@pytest.mark.parametrize("raw,ctype,status,code", [
    (b"{not json", "application/json", 400, "malformed"), (b"[1, 2]", "application/json", 400, "malformed"),
    (b"x", "text/plain", 400, "malformed"), (b"{}", "application/json", 422, "bad_input")])
def test_malformed_and_incomplete_bodies(api: Any, raw: bytes, ctype: str, status: int, code: str) -> None:
    problem(api("wangjg", "POST", "/cases", content=raw, headers={"Content-Type": ctype}), status, code)


def test_show_has_the_timeline_and_the_step_deadline(api: Any) -> None:
    case = report(api)
    shown = api("zhoumin", "GET", f"/cases/{case['id']}").json()
    assert shown["id"] == case["id"] and len(shown["timeline"]) == 1
    assert shown["deadline"]["state"] == "grid_handling" and shown["deadline"]["overdue"] is False
    assert api("zhoumin", "GET", f"/cases/{case['id']}/deadline").json() == shown["deadline"]
    problem(api("zhoumin", "GET", "/cases/999999"), 404, "not_found")


def test_triggers_are_judged_for_me_by_default(api: Any) -> None:
    case = report(api)
    mine = {o["trigger"]: o for o in api("wangjg", "GET", f"/cases/{case['id']}/triggers").json()}
    assert set(mine) == {"dispatch", "resolve", "escalate"} and all(o["allowed"] for o in mine.values())
    theirs = api("sunli", "GET", f"/cases/{case['id']}/triggers").json()
    assert not any(o["allowed"] for o in theirs) and theirs[0]["reason"]
    unjudged = api("sunli", "GET", f"/cases/{case['id']}/triggers", params={"who": "anyone"}).json()
    assert {o["allowed"] for o in unjudged} == {None}
    for_him = api("sunli", "GET", f"/cases/{case['id']}/triggers", params={"who": "wangjg"}).json()
    assert all(o["allowed"] for o in for_him)


def test_fire_moves_the_case_as_the_token_holder(api: Any) -> None:
    case = report(api)
    r = api("wangjg", "POST", f"/cases/{case['id']}/fire/resolve", json={"note": "已清除"})
    assert r.status_code == 200, r.text
    moved = r.json()
    assert (moved["state"], moved["version"], moved["timeline"][-1]["actor"]) == ("to_check", 2, "wangjg")


def test_fire_with_photos_and_targets_as_multipart(api: Any) -> None:
    case = report(api)
    r = api("wangjg", "POST", f"/cases/{case['id']}/fire/dispatch", data={"to": ["liuqiang"], "note": "请处理"},
            files=[("photos", ("p.png", PNG, "image/png"))])
    assert r.status_code == 200, r.text
    step = r.json()["timeline"][-1]
    assert step["targets"] == ["liuqiang"] and step["target_names"] == "刘强"
    assert step["attachments"][0]["name"] == "p.png"


def test_refusals_map_to_their_statuses_and_change_nothing(api: Any) -> None:
    case = report(api)
    cid = case["id"]
    body = problem(api("wangjg", "POST", f"/cases/{cid}/fire/close", json={}), 409, "trigger_not_allowed")
    assert body["details"]["allowed"] == ["dispatch", "resolve", "escalate"]
    problem(api("sunli", "POST", f"/cases/{cid}/fire/resolve", json={"note": "x"}), 403, "permission_denied")
    problem(api("wangjg", "POST", f"/cases/{cid}/fire/resolve", json={"note": "x", "expected_version": 7}),
            409, "conflict")
    problem(api("wangjg", "POST", f"/cases/{cid}/fire/nosuch", json={}), 409, "trigger_not_allowed")
    problem(api("wangjg", "POST", "/cases/999999/fire/resolve", json={}), 404, "not_found")
    after = api("wangjg", "GET", f"/cases/{cid}").json()
    assert (after["version"], after["state"], len(after["timeline"])) == (1, "grid_handling", 1)


def test_a_person_acting_outside_their_unit_is_refused_403(api: Any) -> None:
    case = report(api)
    body = problem(api("sunli", "POST", f"/cases/{case['id']}/park", json={"note": "x"}), 403, "permission_denied")
    assert body["details"]
    problem(api("heping", "POST", f"/cases/{case['id']}/extension/request",
                json={"by": "1 working day", "note": "x"}), 403, "permission_denied")


def test_list_filters_pages_with_total_in_a_stable_order(api: Any) -> None:
    made = [report(api, category="0102", desc=f"店外经营 {i}")["id"] for i in range(5)]
    first = api("zhoumin", "GET", "/cases", params={"category": "0102", "limit": 2, "sort": "-id"}).json()
    second = api("zhoumin", "GET", "/cases", params={"category": "0102", "limit": 2, "page": 2, "sort": "-id"}).json()
    by_offset = api("zhoumin", "GET", "/cases", params={"category": "0102", "limit": 2, "offset": 2,
                                                        "sort": "-id"}).json()
    total = first["total"]
    assert total >= 5 and second["total"] == total and first["page"] == 1 and second["page"] == 2
    assert [c["id"] for c in first["cases"]] == sorted(made, reverse=True)[:2]
    assert [c["id"] for c in second["cases"]] == [c["id"] for c in by_offset["cases"]] == sorted(made,
                                                                                                reverse=True)[2:4]
    assert by_offset["page"] is None and by_offset["offset"] == 2
    assert "timeline" not in first["cases"][0] and first["cases"][0]["deadline"]["state"] == "grid_handling"
    problem(api("zhoumin", "GET", "/cases", params={"page": 1, "offset": 0}), 422, "bad_input")
    problem(api("zhoumin", "GET", "/cases", params={"sort": "name"}), 422, "bad_input")
    problem(api("zhoumin", "GET", "/cases", params={"limit": 0}), 422, "bad_input")
    found = api("zhoumin", "POST", "/cases/search", json={"ids": made[:3], "sort": "-id"}).json()
    assert [c["id"] for c in found["cases"]] == sorted(made[:3], reverse=True) and found["total"] == 3


def test_overdue_and_due_within_filters(api: Any) -> None:
    case = report(api)
    soon = api("zhoumin", "GET", "/cases", params={"due_within": "30d", "limit": 100_000}).json()
    assert case["id"] in [c["id"] for c in soon["cases"]]
    overdue = api("zhoumin", "GET", "/cases", params={"overdue": "true"}).json()
    assert case["id"] not in [c["id"] for c in overdue["cases"]]
    assert case["id"] in api("zhoumin", "GET", "/deadlines/due", params={"within_seconds": 30 * 86400,
                                                                         "limit": 100_000}).json()
    deadlines = api("zhoumin", "GET", "/deadlines", params={"ids": f"{case['id']},999999"}).json()
    assert list(deadlines) == [str(case["id"])]


def test_side_steps_answer_with_the_case_and_its_deadline(api: Any) -> None:
    cid = report(api)["id"]
    parked = api("fengzr", "POST", f"/cases/{cid}/park", json={"note": "需等待产权单位"})
    assert parked.status_code == 200, parked.text
    assert parked.json()["parked"] is True and parked.json()["deadline"] is None
    unparked = api("fengzr", "POST", f"/cases/{cid}/unpark", json={}).json()
    assert unparked["parked"] is False and unparked["deadline"]["state"] == "grid_handling"
    due = unparked["deadline"]["due_at"]
    asked = api("wangjg", "POST", f"/cases/{cid}/extension/request", json={"by": "1 working day", "note": "材料未到"})
    assert asked.status_code == 200, asked.text
    assert asked.json()["extension_request"]["actor"] == "wangjg"
    denied = api("fengzr", "POST", f"/cases/{cid}/extension/deny", json={"note": "不予延期"}).json()
    assert denied["extension_request"] is None and denied["deadline"]["due_at"] == due
    api("wangjg", "POST", f"/cases/{cid}/extension/request", json={"by": "1 working day", "note": "材料未到"})
    approved = api("fengzr", "POST", f"/cases/{cid}/extension/approve", json={}).json()
    assert approved["deadline"]["due_at"] > due and approved["deadline"]["extended"] == 1
    extended = api("fengzr", "POST", f"/cases/{cid}/extend", json={"by": "4 working hours", "note": "再延"}).json()
    assert extended["deadline"]["due_at"] > approved["deadline"]["due_at"]
    problem(api("wangjg", "POST", f"/cases/{cid}/extend", json={"by": "1 working day", "note": "x"}),
            403, "permission_denied")
    urged = api("duyan", "POST", f"/cases/{cid}/urge", json={"note": "请尽快处理"})
    assert urged.status_code == 200, urged.text
    assert urged.json()["timeline"][-1]["trigger"] == "urge"
    problem(api("wangjg", "POST", f"/cases/{cid}/urge", json={"note": "x"}), 403, "permission_denied")
    problem(api("duyan", "POST", f"/cases/{cid}/urge", json={}), 422, "bad_input")


# --------------------------------------------------------------------------- alerts and 民情日志

def test_alerts_list_platform_inbox_and_ack(api: Any) -> None:
    cid = report(api)["id"]
    assert api("duyan", "POST", f"/cases/{cid}/urge", json={"note": "请尽快处理"}).status_code == 200
    at_grid = api("wangjg", "GET", f"/platforms/{GRID5}/alerts", params={"open": "true"}).json()
    mine = [a for a in at_grid if a["case"] == cid]
    assert len(mine) == 1 and mine[0]["kind"] == "urge" and mine[0]["timezone"] == "Asia/Shanghai"
    assert [a["id"] for a in api("zhoumin", "GET", f"/platforms/{GRID5}/alerts").json()] == [
        a["id"] for a in api("zhoumin", "GET", "/alerts", params={"org": GRID5}).json()]
    problem(api("sunli", "GET", f"/platforms/{GRID5}/alerts"), 403, "permission_denied")
    problem(api("zhoumin", "GET", "/platforms/nosuch/alerts"), 422, "bad_input")
    problem(api("sunli", "POST", f"/alerts/{mine[0]['id']}/ack"), 403, "permission_denied")
    acked = api("wangjg", "POST", f"/alerts/{mine[0]['id']}/ack").json()
    assert acked["acked_by"] == "wangjg"
    problem(api("wangjg", "POST", f"/alerts/{mine[0]['id']}/ack"), 409, "conflict")
    assert [a["id"] for a in api("wangjg", "GET", "/alerts", params={"case": cid}).json()] == [mine[0]["id"]]


def test_logs_are_kept_by_the_grid_leader(api: Any) -> None:
    r = api("wangjg", "POST", "/logs", json={"grid": GRID5, "text": "走访3户居民，反映楼道照明损坏"})
    assert r.status_code == 201, r.text
    entry = r.json()
    assert (entry["actor"], entry["day"], entry["timezone"]) == ("wangjg", "2026-11-24", "Asia/Shanghai")
    problem(api("zhoumin", "POST", "/logs", json={"grid": GRID5, "text": "x"}), 403, "permission_denied")
    listed = api("zhoumin", "GET", "/logs", params={"grid": GRID5, "month": "2026-11"}).json()
    assert entry["id"] in [e["id"] for e in listed]
    problem(api("zhoumin", "GET", "/logs", params={"month": "2026-13"}), 422, "bad_input")


# --------------------------------------------------------------------------- workflow, organisation, reports

def test_the_organisation_and_the_workflow(api: Any) -> None:
    org = api("wangjg", "GET", "/org").json()
    assert {u["code"] for u in org["units"]} >= {GRID5, COMM_E, STREET, DISTRICT}
    assert any(p["id"] == "wangjg" and p["roles"] == ["grid_leader"] for p in org["people"])
    wf = api("wangjg", "GET", "/workflow").json()
    assert (wf["version"], len(wf["hash"]), wf["timezone"]) == (1, 64, "Asia/Shanghai")
    from casecraft.workflows.spec import Workflow

    assert Workflow.from_data(wf["spec"]).content_hash == wf["hash"]  # the spec as published, whole
    versions = api("wangjg", "GET", "/workflow/versions").json()
    assert versions[0]["number"] == 1 and versions[0]["current"] is True


@pytest.mark.parametrize("fmt,starts", [("mermaid", b"---"), ("dot", b"digraph"), ("bpmn", b"<?xml"),
                                        ("svg", b"<?xml"), ("png", b"\x89PNG")])
def test_diagrams_in_every_format(api: Any, fmt: str, starts: bytes) -> None:
    r = api("wangjg", "GET", "/workflow/diagram", params={"format": fmt})
    assert r.status_code == 200, r.text[:300]
    assert r.content.lstrip().startswith(starts)
    if fmt in ("mermaid", "dot"):
        cid = report(api)["id"]
        drawn = api("wangjg", "GET", f"/cases/{cid}/diagram", params={"format": fmt})
        assert drawn.status_code == 200 and drawn.content != r.content


def test_an_unknown_diagram_format_is_bad_input(api: Any) -> None:
    problem(api("wangjg", "GET", "/workflow/diagram", params={"format": "gif"}), 422, "bad_input")


@pytest.mark.parametrize("how,kind,magic", [({"format": "csv"}, "text/csv", "月份".encode("utf-8-sig")),
                                            ({"format": "xlsx"}, "spreadsheetml", b"PK"),
                                            ({"format": "png"}, "image/png", b"\x89PNG"),
                                            ({"accept": "text/csv"}, "text/csv", "月份".encode("utf-8-sig")),
                                            ({"format": "csv", "lang": "en"}, "text/csv", b"\xef\xbb\xbfmonth,")])
def test_monthly_report_exports(api: Any, how: dict[str, str], kind: str, magic: bytes) -> None:
    """Exports in the language of Accept-Language (headers and titles from the catalogue)."""
    headers = {"Accept": how["accept"]} if "accept" in how else {}
    headers["Accept-Language"] = "en" if how.get("lang") == "en" else "zh-CN"
    params = {"month": "2026-11", "level": "grid", **{k: v for k, v in how.items() if k == "format"}}
    r = api("zhoumin", "GET", "/reports/monthly", params=params, headers=headers)
    assert r.status_code == 200, r.text[:300]
    assert kind in r.headers["content-type"] and r.content.startswith(magic)


def test_monthly_report_and_case_stats_as_json(api: Any) -> None:
    r = api("zhoumin", "GET", "/reports/monthly", params={"month": "2026-11", "level": "community"})
    assert r.status_code == 200, r.text[:300]
    assert r.json()["level"] == "community" and r.json()["rows"]
    stats = api("zhoumin", "GET", "/reports/case-stats", params={"month": "2026-11"})
    assert stats.status_code == 200, stats.text[:300]
    assert stats.json()["total"]["reported"] >= 1


# --------------------------------------------------------------------------- the service itself

def test_an_unexpected_failure_is_a_500_problem_without_internals(world: dict[str, Any], api: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from casecraft.engine import Engine

    def boom(self: Any, *a: Any, **k: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(Engine, "logs", boom)
    body = problem(api("wangjg", "GET", "/logs"), 500, "error")
    assert "secret internals" not in json.dumps(body)


def test_an_unknown_path_is_a_404_problem(api: Any) -> None:
    problem(api("wangjg", "GET", "/nothing/here"), 404, "not_found")


def test_a_body_over_the_limit_is_refused_413(world: dict[str, Any]) -> None:
    app = create_app(world["engine"], rate_limit=None, settings=Settings(max_body=4096))
    token = world["tokens"]["wangjg"]
    with TestClient(app) as client:
        r = client.post("/cases", headers={"Authorization": f"Bearer {token}"},
                        data={"source": "patrol", "grid": GRID5, "category": "0101", "desc": "x"},
                        files=[("photos", ("big.png", PNG + bytes(8000), "image/png"))])
        problem(r, 413, "too_large")


def test_every_error_code_has_a_status() -> None:
    from casecraft.base import errors
    from casecraft.server.problems import STATUS, problem_body

    classes = [errors.RuleError, errors.TriggerNotAllowed, errors.PermissionDenied, errors.ConflictError,
               errors.NotFound, errors.InputError, errors.CalendarError, errors.DatabaseError,
               errors.UnavailableError]
    for cls in classes:
        assert cls.code in STATUS, cls
    body = problem_body(errors.NotFound("no case {case}", case=7), None)
    assert (body["status"], body["detail"], body["template"], body["details"]) == (404, "no case 7", "no case {case}",
                                                                                  {"case": 7})


def test_the_committed_openapi_document_matches_the_app() -> None:
    from casecraft.server.openapi_doc import document

    committed = json.loads((Path(__file__).parent / "data" / "openapi.json").read_text(encoding="utf-8"))
    assert committed == document(), ("the API changed: regenerate the committed document with "
                                     "`python -m casecraft.server.openapi_doc > tests/data/openapi.json` "
                                     "and review the diff")


# --------------------------------------------------------------------------- hostile values (QA, 2026-12-01)

BIG = "99999999999999999999"  # beyond the 64-bit integers both databases store


@pytest.mark.parametrize("method,path,kw", [
    ("GET", "/cases", {"params": {"offset": BIG}}),
    ("GET", "/cases", {"params": {"page": "9223372036854775807"}}),
    ("POST", "/cases/search", {"json": {"ids": [int(BIG)]}}),
    ("POST", "/cases/search", {"json": {"offset": int(BIG)}}),
    ("GET", "/deadlines", {"params": {"ids": BIG}}),
    ("GET", "/alerts", {"params": {"after_id": BIG}}),
    ("GET", f"/platforms/{GRID5}/alerts", {"params": {"after_id": BIG}}),
])
def test_numbers_beyond_the_database_are_bad_input_not_a_fault(api: Any, world: dict[str, Any], method: str,
                                                                path: str, kw: dict[str, Any]) -> None:
    before = world["engine"].snapshot()
    problem(api("wangjg", method, path, **kw), 422, "bad_input")
    assert world["engine"].snapshot() == before


def test_a_stream_resumed_after_an_impossible_id_is_refused_before_it_starts(api: Any) -> None:
    for headers, params in (({"Last-Event-ID": BIG}, {}), ({}, {"after_id": BIG}), ({"Last-Event-ID": "-3"}, {})):
        r = api("wangjg", "GET", f"/platforms/{GRID5}/alerts/stream", headers=headers, params=params)
        problem(r, 422, "bad_input")


def test_text_with_a_lone_surrogate_and_json_nested_too_deep_are_refused(api: Any, world: dict[str, Any]) -> None:
    before = world["engine"].snapshot()
    body = '{"source":"patrol","grid":"' + GRID5 + '","category":"0101","desc":"a\\ud800b"}'
    r = api("wangjg", "POST", "/cases", content=body, headers={"content-type": "application/json"})
    assert "U+D800" in problem(r, 422, "bad_input")["detail"]
    nested = "[" * 100_000 + "]" * 100_000
    r = api("wangjg", "POST", "/cases", content=nested, headers={"content-type": "application/json"})
    assert "nested too deeply" in problem(r, 400, "malformed")["detail"]
    assert world["engine"].snapshot() == before


def test_a_method_the_path_does_not_have_is_405_with_allow(api: Any) -> None:
    r = api("wangjg", "DELETE", "/cases/1")
    body = problem(r, 405, "method_not_allowed")
    assert "GET" in r.headers["allow"] and "DELETE" in body["detail"]


def test_alerts_are_listed_only_from_platforms_the_person_may_watch(api: Any) -> None:
    cid = report(api)["id"]
    assert api("duyan", "POST", f"/cases/{cid}/urge", json={"note": "请尽快处理"}).status_code == 200
    urged = [a for a in api("zhoumin", "GET", "/alerts", params={"case": cid}).json()]
    assert urged and all(a["unit"] == GRID5 for a in urged)  # the community sees its grids' alerts
    # another grid's leader: the inbox asked for by name is refused, the unfiltered list leaves it out
    problem(api("sunli", "GET", "/alerts", params={"org": GRID5}), 403, "permission_denied")
    assert [a for a in api("sunli", "GET", "/alerts", params={"case": cid}).json()] == []
    assert api("qianhao", "GET", "/alerts", params={"case": cid}).json() == urged  # the district sees below it


def test_the_access_log_never_carries_a_query_string(caplog: pytest.LogCaptureFixture) -> None:
    from casecraft.server.app import hide_query_strings

    hide_query_strings()
    access = logging.getLogger("uvicorn.access")
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        # as uvicorn's HTTP protocols log a request
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "POST",
                    "/open311/v2/requests.json?api_key=cct_secret_token", "1.1", 201)
    text = caplog.text
    assert "/open311/v2/requests.json" in text and "cct_secret_token" not in text and "api_key" not in text


def test_a_truth_value_is_not_a_case_version(api: Any, world: dict[str, Any]) -> None:
    cid = report(api)["id"]
    before = world["engine"].snapshot()
    r = api("wangjg", "POST", f"/cases/{cid}/fire/resolve", json={"note": "已清除", "expected_version": True})
    assert "not true or false" in problem(r, 422, "bad_input")["detail"]
    assert world["engine"].snapshot() == before
