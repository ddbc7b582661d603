"""Open311 GeoReport v2 (casecraft/server/open311.py): the catalogue as services, citizen reports in, status out.

Every answer is checked against the published GeoReport v2 JSON schemas
(tests/data/open311, from open311/schema-validation) and its XML parsed and
compared with the JSON. The router is mounted in a small FastAPI app with the
engine on ``app.state.engine``, as the server does. One sandbox database per
module and backend (SQLite and PostgreSQL); tests use their own tickets,
service codes and times so they do not depend on each other's cases. The
clock is fixed and moved by hand; nothing sleeps.
"""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from casecraft import ConflictError, Engine, FixedClock
from casecraft.admin.auth import issue_token, revoke
from casecraft.server.open311 import router
from tests.conftest import ROOT, TZ, _pg_schema_url, bj, sandbox

BASE = "/open311/v2"
DATA = ROOT / "tests" / "data" / "open311"
STREET, COMMUNITY_E, GRID5 = "110106004", "110106004005", "110106004005005"
ADDRESS5 = "东高地街道E社区商业街12号"  # grid 5's keyword 'E社区商业街'
PHONE, EMAIL = "13912345678", "li.hua@example.cn"


# --------------------------------------------------------------------------- the published schemas


def _registry() -> Registry:
    resources = [(p.name, Resource.from_contents(json.loads(p.read_text("utf-8")), default_specification=DRAFT4))
                 for p in DATA.glob("*.json") if p.name != "swagger.json"]
    swagger = json.loads((DATA / "swagger.json").read_text("utf-8"))["definitions"]
    # the Swagger definitions of the POST and token answers; stricter than published: the id is
    # required (the specification says so in prose) and nothing else may appear
    for name, definition in (("request-response.json", swagger["RequestResponse"]),
                             ("token-response.json", swagger["TokenResponse"])):
        array = {"type": "array", "minItems": 1, "items": {**definition, "required": list(definition["properties"])[:1],
                                                           "additionalProperties": False}}
        resources.append((name, Resource.from_contents(array, default_specification=DRAFT4)))
    return Registry().with_resources(resources)


REGISTRY = _registry()


def valid(schema: str, document: Any) -> Any:
    """``document`` after checking it against a published schema; its times carry an offset."""
    Draft4Validator({"$ref": schema}, registry=REGISTRY).validate(document)
    for item in document if isinstance(document, list) else [document]:
        for key in ("requested_datetime", "updated_datetime", "expected_datetime"):
            if isinstance(item, dict) and item.get(key) is not None:
                assert datetime.fromisoformat(item[key]).utcoffset() is not None, key
    return document


def xml_items(body: bytes, root: str, item: str) -> list[dict[str, Any]]:
    """The items of a GeoReport XML list, each as {tag: text or None} (nested lists left as elements)."""
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    tree = ET.fromstring(body)
    assert tree.tag == root
    assert all(child.tag == item for child in tree)
    return [{c.tag: (c.text if len(c) == 0 else c) for c in child} for child in tree]


def as_text(value: Any) -> str | None:
    """A JSON value as the XML carries it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def clock() -> FixedClock:
    return FixedClock(bj(24, "08:40"))


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           clock: FixedClock) -> Iterator[Engine]:
    pg = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('open311') / 'casecraft.db'}"
    else:
        pg = _pg_schema_url()
        url = next(pg)
    eng = sandbox(url, clock)
    yield eng
    eng.close()
    if pg is not None:
        next(pg, None)


@pytest.fixture(scope="module")
def client(engine: Engine) -> TestClient:
    app = FastAPI()
    app.state.engine = engine
    app.include_router(router)
    return TestClient(app)


@pytest.fixture(scope="module")
def api_key(engine: Engine) -> str:
    """The street platform's intake account: 吴静, operator at 东高地街道指挥分中心."""
    return issue_token(engine.ctx, "wujing", actor=None)[0]


def post(client: TestClient, fmt: str = "json", **fields: str) -> Any:
    return client.post(f"{BASE}/requests.{fmt}", data=fields)


def report(client: TestClient, api_key: str, ticket: str | None, *, code: str = "0102", address: str = ADDRESS5,
           **extra: str) -> str:
    """POST a citizen's report; the new request's id."""
    fields = {"api_key": api_key, "service_code": code, "address_string": address,
              "description": "商铺在门前摆摊经营，占用人行道", **extra}
    if ticket is not None:
        fields["attribute[ticket]"] = ticket
    r = post(client, **fields)
    assert r.status_code == 200, r.text
    return str(valid("request-response.json", r.json())[0]["service_request_id"])


def hotline_cases(engine: Engine) -> int:
    return engine.page(source="hotline", limit=1).total


# --------------------------------------------------------------------------- services


def test_the_event_catalogue_is_the_service_list_in_json_and_xml(client: TestClient, engine: Engine) -> None:
    r = client.get(f"{BASE}/services.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json; charset=utf-8"
    services = valid("services.json", r.json())
    wf = engine.workflow
    classes = {c.id: c.label for c in wf.file.classes}
    assert [s["service_code"] for s in services] == list(wf.categories)
    for s in services:
        cat = wf.categories[s["service_code"]]
        assert (s["service_name"], s["group"], s["metadata"], s["type"]) == (
            cat.label, classes[cat.event_class], True, "realtime")
    assert services[1]["service_name"] == "店外经营" and services[1]["group"] == "综合执法"
    assert "1工作日" in services[1]["description"]

    x = client.get(f"{BASE}/services.xml")
    assert x.status_code == 200 and x.headers["content-type"] == "text/xml; charset=utf-8"
    items = xml_items(x.content, "services", "service")
    assert items == [{k: as_text(v) for k, v in s.items()} for s in services]


def test_a_service_definition_offers_the_ticket_channel_and_grid_attributes(client: TestClient) -> None:
    definition = valid("service-definition.json", client.get(f"{BASE}/services/0102.json").json())
    assert definition["service_code"] == "0102"
    attrs = {a["code"]: a for a in definition["attributes"]}
    assert list(attrs) == ["ticket", "channel", "grid"]
    assert not any(a["required"] for a in attrs.values())
    assert [v["key"] for v in attrs["channel"]["values"]] == ["12345", "96005"]

    tree = ET.fromstring(client.get(f"{BASE}/services/0102.xml").content)
    assert tree.tag == "service_definition" and tree.findtext("service_code") == "0102"
    assert [a.findtext("code") for a in tree.iter("attribute")] == ["ticket", "channel", "grid"]
    assert [v.findtext("key") for v in tree.iter("value")] == ["12345", "96005"]
    assert tree.find("attributes/attribute/required").text == "false"  # type: ignore[union-attr]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unknown_service_is_a_404_in_the_format_asked(client: TestClient, fmt: str) -> None:
    r = client.get(f"{BASE}/services/9999.{fmt}")
    assert r.status_code == 404
    if fmt == "json":
        assert r.json() == [{"code": 404, "description": "no service '9999'; the services are listed at services.json"}]
    else:
        tree = ET.fromstring(r.content)
        assert (tree.tag, tree.findtext("error/code")) == ("errors", "404")
        assert "no service '9999'" in (tree.findtext("error/description") or "")


# --------------------------------------------------------------------------- POST requests


def test_a_citizen_report_becomes_a_hotline_case_at_the_street(client: TestClient, engine: Engine,
                                                                api_key: str, clock: FixedClock) -> None:
    clock.set(bj(24, "08:40"))
    r = post(client, api_key=api_key, service_code="0102", address_string=ADDRESS5, lat="39.86", long="116.33",
             description="商铺在门前摆摊经营，占用人行道", first_name="华", last_name="李", phone=PHONE, email=EMAIL,
             device_id="d-1", media_url="http://example.cn/1.jpg", **{"attribute[ticket]": "12345-20261124-0001"})
    assert r.status_code == 200
    answer = valid("request-response.json", r.json())
    rid = int(answer[0]["service_request_id"])
    assert answer[0]["service_notice"].startswith("已受理：街道受理（东高地街道指挥分中心）")
    case = engine.get(rid)
    assert (case.source, case.ref, case.channel, case.state, case.unit, case.grid, case.category) == (
        "hotline", "12345-20261124-0001", "12345", "street_intake", STREET, GRID5, "0102")
    with engine.store.read() as tx:  # kept for the operators, never shown by Open311, masked everywhere else
        assert tx.case(rid).contact == f"李华 {PHONE} {EMAIL}"  # type: ignore[union-attr]
    assert case.contact == "李* 139****5678 l***@example.cn"
    assert case.timeline[0].actor == "wujing"

    answers = [client.get(f"{BASE}/requests/{rid}.json"), client.get(f"{BASE}/requests.json"),
               client.get(f"{BASE}/tokens/12345-20261124-0001.json"), client.get(f"{BASE}/requests/{rid}.xml")]
    one = valid("requests.json", answers[0].json())
    assert one == [{
        "service_request_id": str(rid), "status": "open", "status_notes": "街道受理（东高地街道指挥分中心）",
        "service_name": "店外经营", "service_code": "0102", "description": "商铺在门前摆摊经营，占用人行道",
        "agency_responsible": "东高地街道指挥分中心", "service_notice": None,
        "requested_datetime": "2026-11-24T08:40:00+08:00", "updated_datetime": "2026-11-24T08:40:00+08:00",
        "expected_datetime": None, "address": ADDRESS5, "address_id": None, "zipcode": None, "lat": None,
        "long": None, "media_url": None}]
    assert xml_items(answers[3].content, "service_requests", "request") == [
        {k: as_text(v) for k, v in one[0].items()}]
    for a in [r, *answers]:
        assert PHONE not in a.text and EMAIL not in a.text and "李华" not in a.text


def test_xml_in_and_out(client: TestClient, engine: Engine, api_key: str) -> None:
    r = post(client, "xml", api_key=api_key, service_code="0104", address_string="E社区9号楼东侧",
             description="垃圾桶满溢", **{"attribute[ticket]": "96005-x-1", "attribute[channel]": "96005"})
    assert r.status_code == 200 and r.headers["content-type"] == "text/xml; charset=utf-8"
    [item] = xml_items(r.content, "service_requests", "request")
    case = engine.get(int(item["service_request_id"]))
    assert (case.channel, case.grid, case.category) == ("96005", GRID5, "0104")
    assert set(item) == {"service_request_id", "service_notice"}


def test_a_repeated_ticket_returns_the_same_request_not_a_new_case(client: TestClient, engine: Engine,
                                                                    api_key: str, tmp_path: Any) -> None:
    before = hotline_cases(engine)
    first = report(client, api_key, "12345-20261124-0002")
    again = report(client, api_key, "12345-20261124-0002", description="同一工单再次推送")
    assert first == again and hotline_cases(engine) == before + 1
    assert engine.get(int(first)).description == "商铺在门前摆摊经营，占用人行道"  # the first one wins
    # one ticket space with the hotline files: a ticket imported from a file is the same request here
    src = tmp_path / "orders.csv"
    src.write_text("ticket,channel,received_at,address,grid,category,description,contact\n"
                   f"12345-20261124-0003,12345,2026-11-24T08:00,{ADDRESS5},,0101,楼门小广告,\n", encoding="utf-8")
    imported = engine.import_hotline(src, actor="wujing").case_ids[0]
    assert report(client, api_key, "12345-20261124-0003", code="0101") == str(imported)
    token = valid("token-response.json", client.get(f"{BASE}/tokens/12345-20261124-0003.json").json())
    assert token == [{"service_request_id": str(imported), "token": "12345-20261124-0003"}]
    # without a ticket the platform makes one up: a second post is a second request
    assert report(client, api_key, None) != report(client, api_key, None)
    assert client.get(f"{BASE}/tokens/no-such-ticket.xml").status_code == 404


def test_two_posts_of_one_ticket_at_once_make_one_case(client: TestClient, engine: Engine, api_key: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from casecraft.server import open311_intake

    real = open311_intake._import

    def beaten(eng: Engine, record: dict[str, Any]) -> Any:  # the other POST commits first, ours collides
        real(eng, record)
        raise ConflictError("another import of the same tickets got in the way")

    monkeypatch.setattr(open311_intake, "_import", beaten)
    before = hotline_cases(engine)
    rid = report(client, api_key, "12345-race-1")
    assert hotline_cases(engine) == before + 1 and engine.get(int(rid)).ref == "12345-race-1"

    def lost(eng: Engine, record: dict[str, Any]) -> Any:  # a collision, and yet no case holds the ticket
        raise ConflictError("another import of the same tickets got in the way")

    monkeypatch.setattr(open311_intake, "_import", lost)
    r = post(client, api_key=api_key, service_code="0101", address_string=ADDRESS5, description="小广告",
             **{"attribute[ticket]": "12345-race-2"})
    assert r.status_code == 409 and "send it again (with the same ticket)" in r.json()[0]["description"]


def _refusals(api_key: str, grid_key: str, revoked_key: str,
              district_key: str) -> list[tuple[dict[str, str], int, str]]:
    good = {"api_key": api_key, "service_code": "0102", "address_string": ADDRESS5, "description": "占道经营",
            "phone": PHONE}
    return [
        # an operator whose platform is not the street's: may not receive its cases (403, as docs/open311.md says)
        ({**good, "api_key": district_key}, 403, "is not 钱浩's to receive"),
        ({k: v for k, v in good.items() if k != "api_key"}, 403, "an api_key is required"),
        ({**good, "api_key": "not-a-token"}, 403, "the api_key is not valid"),
        ({**good, "api_key": "cct_0123456789abcdef_" + "A" * 43}, 403, "the api_key is not valid"),
        ({**good, "api_key": revoked_key}, 403, "the api_key is not valid"),
        ({**good, "api_key": grid_key}, 403, "receiving hotline orders needs one of: operator"),
        ({k: v for k, v in good.items() if k != "service_code"}, 400, "service_code is required"),
        ({**good, "service_code": "9999"}, 404, "no service '9999'"),
        ({k: v for k, v in good.items() if k != "address_string"}, 400, "a location is required"),
        ({**{k: v for k, v in good.items() if k != "address_string"}, "lat": "39.86", "long": "116.33"}, 400,
         "routes a request to its grid by the address"),
        ({**good, "lat": "39.86"}, 400, "lat and long go together"),
        ({**good, "lat": "91", "long": "116"}, 400, "lat must be a WGS84 number"),
        ({**good, "address_string": "朝阳区某某路1号"}, 400, "address_string: no unit's address keywords"),
        ({**good, "address_string": "E社区"}, 400, "address_string: the address matches"),
        ({k: v for k, v in good.items() if k != "description"}, 400, "description is required"),
        ({**good, "attribute[ticket]": "has space"}, 400, "attribute[ticket] must be 1 to 64 characters"),
        ({**good, "attribute[channel]": "110"}, 400, "attribute[channel] must be one of 12345, 96005"),
        ({**good, "attribute[tiket]": "T-9"}, 400, "unknown attribute attribute[tiket]"),
        ({**good, "attribute[grid]": "12345"}, 400, "attribute[grid] must be a grid code"),
        ({**good, "attribute[grid]": "110106004009009"}, 400, "attribute[grid]: unknown grid"),
        ({**good, "description": "x" * 2001}, 400, "description is 2001 characters"),
        ({**good, "description": "隐藏\u202e字符"}, 400, "invisible or control characters"),
    ]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_refusals_are_georeport_errors_and_change_nothing(client: TestClient, engine: Engine, api_key: str,
                                                          fmt: str) -> None:
    grid_key = issue_token(engine.ctx, "wangjg", actor=None)[0]  # a grid leader may not receive hotline cases
    revoked_key, cred = issue_token(engine.ctx, "zhoumin", actor=None)
    revoke(engine.ctx, cred.id, actor=None)
    before = engine.snapshot()["cases"]
    district_key = issue_token(engine.ctx, "qianhao", actor=None)[0]  # the district platform's operator
    for fields, status, fragment in _refusals(api_key, grid_key, revoked_key, district_key):
        r = post(client, fmt, **fields)
        assert r.status_code == status, (fields, r.text)
        if fmt == "json":
            body = r.json()
            assert [e["code"] for e in body] == [status] * len(body) and fragment in body[0]["description"], body
        else:
            tree = ET.fromstring(r.content)
            assert tree.tag == "errors" and tree.findtext("error/code") == str(status)
            assert fragment in (tree.findtext("error/description") or ""), r.text
        assert PHONE not in r.text and "Traceback" not in r.text
    assert engine.snapshot()["cases"] == before


def test_a_body_that_is_not_a_form_or_too_large_is_refused(client: TestClient, api_key: str) -> None:
    r = client.post(f"{BASE}/requests.json", content=json.dumps({"api_key": api_key}),
                    headers={"content-type": "application/json"})
    assert r.status_code == 415 and "application/x-www-form-urlencoded" in r.json()[0]["description"]
    r = client.post(f"{BASE}/requests.json", content=b"a=" + b"x" * 70_000,
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    r = client.post(f"{BASE}/requests.json?service_code=0101", data={"service_code": "0102", "api_key": api_key})
    assert r.status_code == 400 and r.json()[0]["description"] == "service_code is given 2 times; give it once"


def test_text_that_is_not_utf_8_is_refused_never_replaced(client: TestClient, engine: Engine, api_key: str) -> None:
    before = hotline_cases(engine)
    fields = f"api_key={api_key}&service_code=0102&address_string=E%E7%A4%BE%E5%8C%BA&description="
    gbk = client.post(f"{BASE}/requests.json", content=(fields + "%D6%D0").encode(),
                      headers={"content-type": "application/x-www-form-urlencoded; charset=gbk"})
    assert gbk.status_code == 415, gbk.text
    for body, query in (((fields + "%ff%fe").encode(), ""), (fields.encode() + b"x", "?note=%ff")):
        r = client.post(f"{BASE}/requests.json{query}", content=body,
                        headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 400 and "not UTF-8" in r.json()[0]["description"], r.text
    assert hotline_cases(engine) == before


def test_a_deactivated_grid_takes_no_request(client: TestClient, engine: Engine, api_key: str) -> None:
    grid = "110106004005009"
    engine.add_unit(grid, "E社区第9网格", COMMUNITY_E, tier="grid", addresses=["E社区19号楼"])
    engine.deactivate(grid)
    before = hotline_cases(engine)
    by_grid = post(client, api_key=api_key, service_code="0101", description="小广告", address_string="E社区19号楼",
                   **{"attribute[grid]": grid})
    assert by_grid.status_code == 400
    assert by_grid.json()[0]["description"] == f"attribute[grid]: grid E社区第9网格({grid}) is deactivated"
    by_address = post(client, api_key=api_key, service_code="0101", description="小广告", address_string="E社区19号楼")
    assert by_address.status_code == 400 and "not a grid" in by_address.json()[0]["description"]
    assert hotline_cases(engine) == before


# --------------------------------------------------------------------------- status through the workflow


def test_status_notes_follow_the_case_through_the_engine(client: TestClient, engine: Engine, api_key: str,
                                                         clock: FixedClock) -> None:
    clock.set(bj(24, "08:40"))
    rid = report(client, api_key, "12345-20261124-0010")

    def status() -> dict[str, Any]:
        return valid("requests.json", client.get(f"{BASE}/requests/{rid}.json").json())[0]

    assert (status()["status_notes"], status()["expected_datetime"]) == ("街道受理（东高地街道指挥分中心）", None)
    for hhmm, trigger, actor in (("08:50", "assign", "wujing"), ("09:02", "assign", "zhoumin"),
                                 ("09:30", "verify", "wangjg")):  # street → Community E → grid 5, 立案
        clock.set(bj(24, hhmm))
        engine.fire(int(rid), trigger, actor=actor, note="按地址下派")
    now = status()
    case = engine.get(int(rid))
    assert (now["status"], now["status_notes"], now["agency_responsible"]) == (
        "open", "网格处置中（E社区第5网格）", "E社区第5网格")
    assert case.deadline_at is not None  # 立案 at verify: the case limit (1 working day for 0102) starts
    assert now["expected_datetime"] == case.deadline_at.astimezone(TZ).isoformat(timespec="seconds")
    assert now["requested_datetime"] == "2026-11-24T08:40:00+08:00"
    assert now["updated_datetime"] == "2026-11-24T09:30:00+08:00"
    for hhmm, trigger in (("10:00", "resolve"), ("10:30", "check"), ("10:40", "close")):
        clock.set(bj(24, hhmm))
        engine.fire(int(rid), trigger, actor="wangjg")
    done = status()
    assert (done["status"], done["status_notes"], done["updated_datetime"]) == (
        "closed", "已结案（E社区第5网格）", "2026-11-24T10:40:00+08:00")
    [closed] = client.get(f"{BASE}/requests.json", params={"status": "closed", "service_code": "0102"}).json()
    assert closed["service_request_id"] == rid


# --------------------------------------------------------------------------- GET requests


def test_paging_filters_and_updated_after(client: TestClient, engine: Engine, api_key: str,
                                          clock: FixedClock) -> None:
    ids = []
    for i in range(5):  # 0401 is filed only by this test: 25 November, 09:00 .. 09:40
        clock.set(bj(25, f"09:{i * 10:02d}"))
        ids.append(report(client, api_key, f"12345-page-{i}", code="0401"))
    newest_first = ids[::-1]

    def get(fmt: str = "json", **params: Any) -> Any:
        r = client.get(f"{BASE}/requests.{fmt}", params={"service_code": "0401", **params})
        assert r.status_code == 200, r.text
        return r

    pages = [get(page_size=2, page=n) for n in (1, 2, 3)]
    assert [[x["service_request_id"] for x in valid("requests.json", p.json())] for p in pages] == [
        newest_first[:2], newest_first[2:4], newest_first[4:]]
    assert 'page=2' in pages[0].headers["link"] and pages[0].headers["link"].endswith('>; rel="next"')
    assert "link" not in pages[2].headers
    assert [x["service_request_id"] for x in xml_items(get("xml", page_size=2, page=2).content,
                                                       "service_requests", "request")] == newest_first[2:4]
    # updated_after: strictly after; a step on an old request brings it back
    assert [x["service_request_id"] for x in get(updated_after="2026-11-25T09:20:00+08:00").json()] == [ids[4], ids[3]]
    clock.set(bj(25, "11:00"))
    engine.fire(int(ids[0]), "assign", actor="wujing", note="下派E社区")
    assert [x["service_request_id"] for x in get(updated_after="2026-11-25T09:20:00+08:00").json()] == [
        ids[0], ids[4], ids[3]]
    # start_date/end_date select by the time requested, inclusive
    window = get(start_date="2026-11-25T09:10:00+08:00", end_date="2026-11-25T01:30:00Z").json()
    assert sorted(x["service_request_id"] for x in window) == sorted(ids[1:4])
    assert get(status="closed").json() == [] and len(get(status="open,closed").json()) == 5
    # service_request_id overrides the other filters, in id order; other cases are not there
    patrol = engine.report(source="patrol", grid=GRID5, category="0401", desc="出租房屋未登记", actor="wangjg").id
    listed = client.get(f"{BASE}/requests.json", params={"service_request_id": f"{ids[3]},{ids[1]},{patrol}",
                                                         "service_code": "0101", "status": "closed"}).json()
    assert [x["service_request_id"] for x in listed] == [ids[1], ids[3]]
    assert client.get(f"{BASE}/requests/{patrol}.json").status_code == 404
    assert str(patrol) not in {x["service_request_id"] for x in get(page_size=100).json()}


def test_by_default_the_last_90_days_are_listed(client: TestClient, engine: Engine, api_key: str,
                                                clock: FixedClock) -> None:
    clock.set(bj(20, "10:00", month=8))
    old = report(client, api_key, "12345-old-1", code="0402")
    clock.set(bj(26, "10:00"))
    new = report(client, api_key, "12345-new-1", code="0402")
    listed = client.get(f"{BASE}/requests.json", params={"service_code": "0402"}).json()
    assert [x["service_request_id"] for x in listed] == [new]
    since = client.get(f"{BASE}/requests.json", params={"service_code": "0402", "start_date": "2026-08-01"}).json()
    assert [x["service_request_id"] for x in since] == [new, old]


@pytest.mark.parametrize("params, fragment", [
    ({"status": "pending"}, "status must be open, closed or both"),
    ({"service_code": "0101,9999"}, "no service '9999'"),
    ({"start_date": "yesterday"}, "start_date is not a date-time"),
    ({"start_date": "2026-11-25", "end_date": "2026-11-24"}, "start_date is after end_date"),
    ({"page": "0"}, "page: "),
    ({"page_size": "5000"}, "page_size: "),
    ({"service_request_id": "1,abc"}, "service_request_id must be up to 1000 request ids"),
    ({"end_date": "0001-01-01T00:00:00Z"}, "end_date is too early"),
])
def test_bad_filters_are_400s(client: TestClient, params: dict[str, str], fragment: str) -> None:
    r = client.get(f"{BASE}/requests.json", params=params)
    assert r.status_code == 400 and fragment in r.json()[0]["description"], r.text


@pytest.mark.parametrize("method, path, status", [
    ("GET", "requests/abc.json", 404), ("GET", "requests/99999999.json", 404), ("GET", "requests/0.xml", 404),
    ("GET", "requests/99999999999999999999999.json", 404), ("GET", "services.html", 404),
    ("GET", "requests/1.yaml", 404), ("GET", "nothing.json", 404), ("DELETE", "requests.xml", 405),
    ("PUT", "services/0101.json", 405),
])
def test_what_is_not_there_is_a_georeport_404_or_405(client: TestClient, method: str, path: str,
                                                     status: int) -> None:
    r = client.request(method, f"{BASE}/{path}")
    assert r.status_code == status
    assert (ET.fromstring(r.content).findtext("error/code") if path.endswith(".xml") else r.json()[0]["code"]) in (
        status, str(status))
    if status == 405:
        assert r.headers["allow"] == ("GET, POST" if path.startswith("requests") else "GET")


# --------------------------------------------------------------------------- failures


def test_no_engine_is_a_503_and_a_failure_a_500_without_traceback_or_data(caplog: pytest.LogCaptureFixture) -> None:
    app = FastAPI()
    app.include_router(router)
    bare = TestClient(app)
    r = bare.get(f"{BASE}/services.xml")
    assert r.status_code == 503 and ET.fromstring(r.content).findtext("error/code") == "503"

    class Broken:
        @property
        def workflow(self) -> Any:
            raise RuntimeError(f"connection lost while reading {PHONE}")

    app.state.engine = Broken()
    with caplog.at_level(logging.INFO, logger="casecraft.server.open311"):
        r = bare.get(f"{BASE}/services.json")
    assert r.status_code == 500
    assert r.json() == [{"code": 500, "description": "the service failed; try again later, and tell the "
                                                     "platform's administrator if it persists"}]
    assert "RuntimeError" in caplog.text and 'open311.py", line' in caplog.text  # the type and the frames
    assert PHONE not in caplog.text  # never the message: it may hold request data


def test_a_refusal_is_logged_without_the_api_key(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    secret = "cct_0123456789abcdef_" + "B" * 43
    with caplog.at_level(logging.INFO, logger="casecraft.server.open311"):
        r = client.post(f"{BASE}/requests.json?api_key={secret}", data={"service_code": "0101"})
    assert r.status_code == 403
    assert "refused: 403" in caplog.text and secret not in caplog.text


def test_times_are_written_in_the_workflow_zone_to_the_second(client: TestClient, api_key: str,
                                                               clock: FixedClock) -> None:
    clock.set(datetime(2026, 11, 26, 0, 5, 7, 900000, tzinfo=UTC))
    rid = report(client, api_key, "12345-tz-1", code="0301", address="东高地社区1号院3单元")
    [item] = client.get(f"{BASE}/requests/{rid}.json").json()
    assert item["requested_datetime"] == "2026-11-26T08:05:07+08:00"
    assert item["status_notes"] == "街道受理（东高地街道指挥分中心）"


# --------------------------------------------------------------------------- fuzzing the OpenAPI document


@pytest.fixture(scope="module")
def fuzz_engine(tmp_path_factory: pytest.TempPathFactory, clock: FixedClock) -> Iterator[Engine]:
    eng = sandbox(f"sqlite:///{tmp_path_factory.mktemp('open311-fuzz') / 'casecraft.db'}", clock)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def fuzz_key(fuzz_engine: Engine) -> str:
    return issue_token(fuzz_engine.ctx, "wujing", actor=None)[0]


import schemathesis  # noqa: E402 - here, beside its only use
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# The document needs no database: the app is built here and given its engine by the test
# (schemathesis.pytest.from_fixture reaches into pytest internals that pytest 9 no longer has).
FUZZ_APP = FastAPI()
FUZZ_APP.include_router(router)
FUZZED = schemathesis.openapi.from_asgi("/openapi.json", FUZZ_APP)
FUZZED.config.generation.update(max_examples=25)


@FUZZED.parametrize()
def test_the_openapi_document_fuzzed_finds_no_server_error(case: Any, fuzz_engine: Engine, fuzz_key: str) -> None:
    """Every operation with generated valid and invalid inputs: never a 5xx, always as documented."""
    FUZZ_APP.state.engine = fuzz_engine
    if case.method == "POST" and isinstance(case.body, dict):
        case.body["api_key"] = fuzz_key  # get past authentication to the checks behind it
    response = case.call_and_validate(checks=[not_a_server_error, status_code_conformance,
                                              content_type_conformance, response_schema_conformance])
    assert "Traceback" not in response.text
