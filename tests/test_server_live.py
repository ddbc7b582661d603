"""The server as it runs: `casecraft serve` processes on loopback, the live alert stream, two servers on PostgreSQL.

The stream tests serve an app with a fast poll from a uvicorn thread; alerts
are raised through another engine (as another process would), so delivery
goes through the database. Reads of the stream are bounded by the client's
read timeout: a missing event fails the test instead of hanging it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from casecraft.base.clock import FixedClock
from casecraft.server import Settings, create_app
from tests.server_support import (
    COMM_E,
    GRID5,
    T0,
    cli_app,
    sandbox,
    serve_process,
    tokens,
    uvicorn_thread,
)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_case(client: httpx.Client, token: str) -> int:
    r = client.post("/cases", headers=bearer(token), json={"source": "patrol", "grid": GRID5, "category": "0101",
                                                           "desc": "楼门张贴非法小广告"})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def events(lines: Iterator[str], count: int) -> list[dict[str, Any]]:
    """Read ``count`` alert events (id, event, data) from the lines of a text/event-stream response."""
    out: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    for line in lines:
        if line == "":
            if current.get("event") == "alert":
                out.append(current)
                if len(out) == count:
                    return out
            if current.get("event") == "error":
                raise AssertionError(f"stream ended with an error: {current}")
            current = {}
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            current[field] = value[1:] if value.startswith(" ") else value
    raise AssertionError(f"the stream ended after {len(out)} of {count} events")


# --------------------------------------------------------------------------- casecraft serve

def test_serve_answers_on_loopback_and_acts_as_the_token_holder(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    eng = sandbox(url, FixedClock(T0))
    toks = tokens(eng, ("wangjg",))
    eng.close()
    with serve_process(url, "--workers", "2") as (base, _proc), httpx.Client(base_url=base, timeout=30) as client:
        assert client.get("/health").json()["status"] == "ok"
        assert client.get("/me").status_code == 401
        cid = new_case(client, toks["wangjg"])
        for _ in range(4):  # several requests on one keep-alive connection, spread over the workers
            assert client.get(f"/cases/{cid}", headers=bearer(toks["wangjg"])).json()["reporter"] == "wangjg"
        moved = client.post(f"/cases/{cid}/fire/resolve", headers=bearer(toks["wangjg"]), json={"note": "已清除"})
        assert moved.status_code == 200 and moved.json()["state"] == "to_check"
        assert client.get("/openapi.json").json()["info"]["title"] == "casecraft"


@pytest.mark.parametrize("args,code,text", [
    (["--at", "2026-11-24T09:00", "serve"], 2, "--at"),
    (["serve", "--workers", "0"], 2, "--workers"),
    (["serve", "--rate-limit", "fast"], 2, "RATE/BURST"),
])
def test_serve_refuses_bad_options_before_starting(tmp_path: Any, args: list[str], code: int, text: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    monkeypatch.delenv("CASECRAFT_NOW", raising=False)
    url = f"sqlite:///{tmp_path / 'x.db'}"
    sandbox(url, FixedClock(T0)).close()
    r = CliRunner().invoke(cli_app(), ["--db", url, *args])
    assert r.exit_code == code, r.output
    assert text in r.stderr and "Traceback" not in r.output


def test_serve_on_a_database_without_a_workflow_says_to_init(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    monkeypatch.delenv("CASECRAFT_NOW", raising=False)
    r = CliRunner().invoke(cli_app(), ["--db", f"sqlite:///{tmp_path / 'empty.db'}", "serve"])
    assert r.exit_code == 2 and "casecraft init" in r.stderr and "Traceback" not in r.output


# --------------------------------------------------------------------------- the alert stream

@pytest.fixture(scope="module")
def streaming(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('sse') / 'sse.db'}"
    served = sandbox(url, FixedClock(T0))
    toks = tokens(served)
    from casecraft import Engine

    other = Engine(url, clock=FixedClock(T0), token="")  # raises the alerts, as another process would
    app = create_app(served, rate_limit=None, settings=Settings(sse_poll=0.05, sse_heartbeat=0.5))
    with uvicorn_thread(app) as base:
        yield {"base": base, "tokens": toks, "other": other}
    other.close()
    served.close()


def test_the_stream_pushes_each_alert_at_the_platform_and_resumes_after_the_last_event_id(
        streaming: dict[str, Any]) -> None:
    base, toks, other = streaming["base"], streaming["tokens"], streaming["other"]
    with httpx.Client(base_url=base, timeout=httpx.Timeout(20.0)) as client:
        for earlier in other.alerts(org=GRID5, only_open=True, limit=100000):  # another test's, in any order
            other.bound("wangjg").ack(earlier.id)
        cases = [new_case(client, toks["wangjg"]) for _ in range(3)]
        other.bound("duyan").urge(cases[0], note="第一次督办")  # raised before the subscription: a backlog
        with client.stream("GET", f"/platforms/{GRID5}/alerts/stream", headers=bearer(toks["zhoumin"])) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            lines = r.iter_lines()
            first = events(lines, 1)
            assert json.loads(first[0]["data"])["case"] == cases[0]  # unacknowledged, so it is sent first
            done = threading.Event()

            def raise_two() -> None:
                for cid in cases[1:]:
                    other.bound("duyan").urge(cid, note="督办")
                done.set()

            threading.Thread(target=raise_two).start()
            got = events(lines, 2)
        assert done.wait(20)
        assert [json.loads(e["data"])["case"] for e in got] == cases[1:]
        assert [int(e["id"]) for e in got] == [json.loads(e["data"])["id"] for e in got]
        last = int(got[0]["id"])  # the client saw only the first of the two before it was cut off
        with client.stream("GET", f"/platforms/{GRID5}/alerts/stream",
                           headers={**bearer(toks["zhoumin"]), "Last-Event-ID": str(last)}) as r:
            resumed = events(r.iter_lines(), 1)
        assert int(resumed[0]["id"]) == int(got[1]["id"])


def test_the_stream_carries_only_the_units_own_alerts(streaming: dict[str, Any]) -> None:
    base, toks, other = streaming["base"], streaming["tokens"], streaming["other"]
    with httpx.Client(base_url=base, timeout=httpx.Timeout(20.0)) as client:
        cid = new_case(client, toks["wangjg"])
        escalated = client.post(f"/cases/{cid}/fire/escalate", headers=bearer(toks["wangjg"]), json={"note": "上报"})
        assert escalated.status_code == 200, escalated.text
        start = other.alerts(after_id=None, limit=100000)
        after = start[-1].id if start else 0
        with client.stream("GET", f"/platforms/{COMM_E}/alerts/stream",
                           headers={**bearer(toks["zhoumin"]), "Last-Event-ID": str(after)}) as r:
            grid_case = new_case(client, toks["wangjg"])
            other.bound("duyan").urge(grid_case, note="网格的")  # at the grid: not on the community's stream
            other.bound("duyan").urge(cid, note="社区的")  # the escalated case is at the community
            got = events(r.iter_lines(), 1)
        assert json.loads(got[0]["data"])["case"] == cid


def test_only_the_unit_and_those_above_may_subscribe(streaming: dict[str, Any]) -> None:
    base, toks = streaming["base"], streaming["tokens"]
    with httpx.Client(base_url=base, timeout=20) as client:
        refused = client.get(f"/platforms/{GRID5}/alerts/stream", headers=bearer(toks["sunli"]))
        assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
        assert client.get(f"/platforms/{GRID5}/alerts/stream").status_code == 401
        with client.stream("GET", f"/platforms/{GRID5}/alerts/stream", headers=bearer(toks["qianhao"])) as r:
            assert r.status_code == 200  # the district is above every grid


def test_a_revoked_token_loses_its_stream_at_the_next_heartbeat(streaming: dict[str, Any]) -> None:
    from casecraft.admin.auth import issue_token, revoke

    base, other = streaming["base"], streaming["other"]
    token, info = issue_token(other.ctx, "zhoumin", actor=None)
    with httpx.Client(base_url=base, timeout=httpx.Timeout(20.0)) as client, \
            client.stream("GET", f"/platforms/{GRID5}/alerts/stream", headers=bearer(token)) as r:
        lines = r.iter_lines()
        assert next(lines).startswith("retry:")
        revoke(other.ctx, info.id, actor=None)
        rest = list(lines)  # the server ends the stream
    assert "event: error" in rest and any("unauthenticated" in line for line in rest)


# --------------------------------------------------------------------------- two servers, one PostgreSQL

@pytest.mark.postgres
def test_two_serve_processes_share_one_postgresql(pg_url: str) -> None:
    eng = sandbox(pg_url, FixedClock(T0))
    toks = tokens(eng, ("wangjg", "zhoumin", "duyan"))
    with serve_process(pg_url) as (a, _pa), serve_process(pg_url) as (b, _pb), \
            httpx.Client(base_url=a, timeout=30) as ca, httpx.Client(base_url=b, timeout=30) as cb:
        ids = [new_case(ca if i % 2 else cb, toks["wangjg"]) for i in range(8)]

        def walk(cid: int) -> list[int]:
            codes = []
            for n, trigger in enumerate(("resolve", "check", "close")):
                client = (ca, cb)[(cid + n) % 2]  # alternate servers between the steps of one case
                codes.append(client.post(f"/cases/{cid}/fire/{trigger}", headers=bearer(toks["wangjg"]),
                                         json={"note": "done"}).status_code)
            return codes

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(walk, ids)) == [[200, 200, 200]] * len(ids)
        # the same step raced on both servers: exactly one wins, the other is told why
        race = new_case(ca, toks["wangjg"])
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda c: c.post(f"/cases/{race}/fire/resolve", headers=bearer(toks["wangjg"]),
                                                     json={"note": "x", "expected_version": 1}), (ca, cb)))
        assert sorted(r.status_code for r in answers) == [200, 409]
        # an alert raised through one server is on the other's stream
        with cb.stream("GET", f"/platforms/{GRID5}/alerts/stream", headers=bearer(toks["zhoumin"])) as r:
            urged = ca.post(f"/cases/{race}/urge", headers=bearer(toks["duyan"]), json={"note": "督办"})
            assert urged.status_code == 200, urged.text
            got = events(r.iter_lines(), 1)
        assert json.loads(got[0]["data"])["case"] == race
    for cid in ids:
        case = eng.get(cid)
        assert [e.trigger for e in case.timeline] == ["report", "resolve", "check", "close"]
        assert [e.seq for e in case.timeline] == [1, 2, 3, 4] and not case.open
    assert [e.trigger for e in eng.get(race).timeline] == ["report", "resolve", "urge"]
    eng.close()
