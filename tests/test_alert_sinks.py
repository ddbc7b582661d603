"""Alert sinks against real HTTP servers on loopback: what is sent, what is refused, what is never said.

The webhook is no probe: no redirect is followed, only http(s) URLs taken from the
environment are accepted (optionally only allowed hosts), a send ends by its total
deadline however slowly the server answers, a large response is refused, and no failure,
error message, traceback or log line carries the URL, its host or its token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from casecraft.alerts import decisions as al
from casecraft.alerts.sinks import (
    CONNECTION_FAILED,
    NOTIFY_FAILED,
    REDIRECT_REFUSED,
    RESPONSE_TOO_LARGE,
    TIMED_OUT,
    AppriseSink,
    DeliveryFailed,
    LogSink,
    WebhookSink,
    build_payload,
    build_sinks,
)
from casecraft.base.clock import FixedClock
from casecraft.base.errors import InputError, WorkflowError
from casecraft.workflows import load_workflow
from casecraft.workflows.model import Sink as SinkConfig

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "s3cr3t-t0ken-XYZ"
GENERIC = {TIMED_OUT, CONNECTION_FAILED, REDIRECT_REFUSED, RESPONSE_TOO_LARGE, NOTIFY_FAILED}


# --- local servers -------------------------------------------------------------------------

class Server:
    """A threaded HTTP server on loopback whose handler is ``respond(handler, request)``."""

    def __init__(self, respond: Callable[[BaseHTTPRequestHandler, dict[str, Any]], None]) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                outer.requests.append(request)
                respond(self, request)

            do_POST = do_GET = _any  # noqa: N815 - http.server API

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def serve(respond: Callable[[BaseHTTPRequestHandler, dict[str, Any]], None]) -> Iterator[Server]:
    server = Server(respond)
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


def status(code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Callable[..., None]:
    def respond(h: BaseHTTPRequestHandler, _req: dict[str, Any]) -> None:
        h.send_response(code)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
    return respond


@contextmanager
def raw_server(serve_one: Callable[[socket.socket], None] | None) -> Iterator[int]:
    """A TCP listener on loopback; ``serve_one(conn)`` per connection, or None: never accept, never answer."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            if serve_one is not None:
                threading.Thread(target=_guarded, args=(serve_one, conn), daemon=True).start()

    if serve_one is not None:
        threading.Thread(target=loop, daemon=True).start()
    try:
        yield port
    finally:
        stop.set()
        listener.close()


def _guarded(serve_one: Callable[[socket.socket], None], conn: socket.socket) -> None:
    try:
        serve_one(conn)
    except OSError:
        pass  # the client hung up: what a deadline is for
    finally:
        conn.close()


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)


def drip(head: bytes, body: bytes, interval: float) -> Callable[[socket.socket], None]:
    """Answer with ``head`` at once, then ``body`` one byte every ``interval`` seconds."""
    def serve_one(conn: socket.socket) -> None:
        _read_request(conn)
        conn.sendall(head)
        for b in body:
            conn.sendall(bytes([b]))
            time.sleep(interval)  # the slow peer under test sleeps, not the code under test
    return serve_one


# --- helpers ---------------------------------------------------------------------------------

def alert(i: int = 1, kind: str = "overdue") -> dict[str, Any]:
    return {"id": i, "key": f"d{i}:{kind}:0", "case_id": 40 + i, "deadline_id": i, "kind": kind, "level": 1,
            "unit_code": "110106004005", "state": "grid_handling", "due_at": datetime(2026, 11, 24, 1, tzinfo=UTC),
            "raised_at": datetime(2026, 11, 24, 2, 30, tzinfo=UTC), "message": "案件41 网格处置 已超期",
            "acked_by": "fengzr", "acked_at": datetime(2026, 11, 24, 3, tzinfo=UTC)}


def payload(i: int = 1, kind: str = "overdue") -> dict[str, Any]:
    return build_payload(alert(i, kind), timezone="Asia/Shanghai", unit_name="东高地街道网格5")


def webhook(url_env: str = "HOOK_URL", **fields: Any) -> SinkConfig:
    return SinkConfig.model_validate({"name": "hook", "type": "webhook", "url_env": url_env, **fields})


def one(configs: list[SinkConfig], env: dict[str, str]) -> Any:
    (sink,) = build_sinks(configs, env)
    return sink


def failure(sink: Any, body: dict[str, Any] | None = None) -> DeliveryFailed:
    with pytest.raises(DeliveryFailed) as caught:
        sink.send(body or payload())
    return caught.value


def assert_says_nothing(exc: BaseException, *secrets: str) -> None:
    """Neither the error, its dict, nor its formatted traceback names a secret."""
    texts = [str(exc), repr(exc), _library_traceback(exc)]
    if isinstance(exc, DeliveryFailed):
        texts.append(json.dumps(exc.to_dict()))
        assert exc.reason in GENERIC or (exc.reason.startswith("HTTP ") and exc.reason[5:].isdigit())
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"{secret!r} leaked into {text!r}"


def _library_traceback(exc: BaseException | None) -> str:
    """What a traceback would print from casecraft's frames, with every chained exception
    (the test's own source lines, which hold the URLs, are left out)."""
    out: list[str] = []
    while exc is not None:
        out += traceback.format_exception_only(exc)
        frames = traceback.extract_tb(exc.__traceback__)
        out += traceback.format_list([f for f in frames if "/casecraft/" in f.filename])
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return "".join(out)


def secrets_of(url: str) -> tuple[str, ...]:
    port = url.split(":")[2].split("/")[0]
    return (url, "127.0.0.1", f":{port}", TOKEN)


# --- payload and log sink --------------------------------------------------------------------

def test_payload_has_the_alert_in_local_time_and_no_personal_data() -> None:
    body = payload(3, "urge")
    assert body == {"id": 3, "key": "d3:urge:0", "case_id": 43, "kind": "urge", "kind_label": "督办", "level": 1,
                    "unit_code": "110106004005", "unit_name": "东高地街道网格5", "state": "grid_handling",
                    "due_at": "2026-11-24T09:00:00+08:00", "raised_at": "2026-11-24T10:30:00+08:00",
                    "message": "案件41 网格处置 已超期"}
    assert "fengzr" not in json.dumps(body, ensure_ascii=False)  # who acknowledged it stays home


def test_log_sink_writes_one_structured_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="casecraft.alerts"):
        LogSink("log").send(payload(3))
    (record,) = [r for r in caplog.records if r.name == "casecraft.alerts"]
    line = json.loads(record.getMessage())
    assert line["event"] == "alert" and line["sink"] == "log" and line["case_id"] == 43
    assert line["kind_label"] == "红灯超期" and line["key"] == "d3:overdue:0"


# --- webhook: what goes out ------------------------------------------------------------------

def test_webhook_posts_json_with_bearer_token_and_hmac_signature() -> None:
    with serve(status(204)) as server:
        clock = FixedClock(datetime(2026, 11, 24, 2, 30, tzinfo=UTC))
        (sink,) = build_sinks([webhook(token_env="HOOK_TOKEN", signing_secret_env="HOOK_SECRET")],
                              {"HOOK_URL": server.url(), "HOOK_TOKEN": TOKEN, "HOOK_SECRET": "k3y-for-hmac"},
                              clock=clock)
        sink.send(payload(1))
    (req,) = server.requests
    assert req["method"] == "POST" and req["path"] == "/hook"
    assert json.loads(req["body"]) == payload(1)
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["user-agent"] == "casecraft" and headers["idempotency-key"] == "d1:overdue:0"
    assert headers["content-type"].startswith("application/json")
    stamp = headers["x-casecraft-timestamp"]
    assert stamp == str(int(clock.now().timestamp()))
    expected = hmac.new(b"k3y-for-hmac", stamp.encode() + b"." + req["body"], hashlib.sha256).hexdigest()
    assert headers["x-casecraft-signature"] == f"sha256={expected}"
    assert TOKEN not in repr(sink) and server.url() not in repr(sink)


def test_http_error_is_a_failure_named_by_its_status_only() -> None:
    with serve(status(500, b"stack trace of the receiver")) as server:
        exc = failure(one([webhook()], {"HOOK_URL": server.url("/hook/" + TOKEN)}))
    assert exc.reason == "HTTP 500"
    assert_says_nothing(exc, *secrets_of(server.url("/hook/" + TOKEN)))


def test_redirect_is_refused_and_never_followed() -> None:
    with serve(status(200)) as internal, \
            serve(status(302, headers={"Location": internal.url("/internal/admin")})) as hook:
        exc = failure(one([webhook()], {"HOOK_URL": hook.url()}))
    assert exc.reason == REDIRECT_REFUSED
    assert len(hook.requests) == 1 and internal.requests == []  # no GET of the internal address
    assert_says_nothing(exc, *secrets_of(hook.url()), internal.url())


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_oversized_response_is_refused(declared: bool) -> None:
    big = b"x" * (200 * 1024)

    def respond(h: BaseHTTPRequestHandler, _req: dict[str, Any]) -> None:
        h.send_response(200)
        if declared:
            h.send_header("Content-Length", str(len(big)))
        else:
            h.send_header("Connection", "close")  # body until the connection closes: no length to trust
            h.close_connection = True
        h.end_headers()
        h.wfile.write(big)

    with serve(respond) as server:
        exc = failure(one([webhook(max_response_bytes=65536)], {"HOOK_URL": server.url()}))
    assert exc.reason == RESPONSE_TOO_LARGE
    assert_says_nothing(exc, *secrets_of(server.url()))


def test_a_small_response_body_is_read_and_discarded() -> None:
    with serve(status(200, b'{"ok": true}')) as server:
        one([webhook(max_response_bytes=64)], {"HOOK_URL": server.url()}).send(payload())
    assert len(server.requests) == 1


def test_connection_refused_says_only_connection_failed() -> None:
    with raw_server(None) as port:
        pass  # closed again: nothing listens on the port now
    url = f"http://127.0.0.1:{port}/hook/{TOKEN}"
    exc = failure(one([webhook()], {"HOOK_URL": url}))
    assert exc.reason == CONNECTION_FAILED
    assert_says_nothing(exc, *secrets_of(url))


# --- webhook: deadlines against real sockets (tiny timeouts) -----------------------------------

def test_server_that_never_answers_times_out_by_the_total_deadline() -> None:
    with raw_server(None) as port:  # the kernel completes the handshake; nobody ever reads or answers
        url = f"http://127.0.0.1:{port}/hook"
        sink = one([webhook(connect_timeout=1, read_timeout=30, total_timeout=0.5)], {"HOOK_URL": url})
        started = time.monotonic()
        exc = failure(sink)
        took = time.monotonic() - started
    assert exc.reason == TIMED_OUT
    assert took < 3.0, f"held {took:.1f}s; the total deadline is 0.5s (the read timeout, 30s, must not apply)"
    assert_says_nothing(exc, *secrets_of(url))


@pytest.mark.parametrize("where", ["headers", "body"])
def test_drip_fed_response_is_cut_by_the_total_deadline(where: str) -> None:
    # one byte every 0.25 s never trips the 5 s read timeout; without a total deadline the
    # answer would take 25 s
    status_line = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
    head, body = (b"", status_line + b"x" * 100) if where == "headers" else (status_line, b"x" * 100)
    with raw_server(drip(head, body, 0.25)) as port:
        url = f"http://127.0.0.1:{port}/hook"
        sink = one([webhook(read_timeout=5, total_timeout=1)], {"HOOK_URL": url})
        started = time.monotonic()
        exc = failure(sink)
        took = time.monotonic() - started
    assert exc.reason == TIMED_OUT
    assert took < 4.0, f"held {took:.1f}s; the total deadline is 1s"


# --- building sinks: URLs and secrets come from the environment, checked ----------------------

@pytest.mark.parametrize("url", [
    "ftp://127.0.0.1/hook", "file:///etc/passwd", "gopher://127.0.0.1:70/_x", "127.0.0.1:5432",
    "http://:80/x", "http://127.0.0.1:99999/x", "http://exa mple.org/x", "http://example.org/x\r\nX: y",
])
def test_bad_webhook_urls_are_refused_at_build_naming_the_variable_only(url: str) -> None:
    with pytest.raises(InputError) as caught:
        build_sinks([webhook()], {"HOOK_URL": url})
    assert "HOOK_URL" in caught.value.message
    assert_says_nothing(caught.value, url, "etc/passwd", "5432", "exa mple")


def test_host_outside_allow_hosts_is_refused_at_build() -> None:
    config = webhook(allow_hosts=["alerts.example.gov.cn"])
    with pytest.raises(InputError) as caught:
        build_sinks([config], {"HOOK_URL": f"http://127.0.0.1:5432/{TOKEN}"})
    assert "HOOK_URL" in caught.value.message and "allow_hosts" in caught.value.message
    assert_says_nothing(caught.value, "127.0.0.1", "5432", TOKEN)
    (sink,) = build_sinks([config], {"HOOK_URL": f"https://ALERTS.example.gov.cn/{TOKEN}"})
    assert isinstance(sink, WebhookSink)


def test_missing_long_or_unprintable_secrets_are_refused_and_all_reported_at_once() -> None:
    configs = [webhook("A_URL", name="a"), webhook("B_URL", name="b", token_env="B_TOKEN"),
               webhook("C_URL", name="c")]
    env = {"B_URL": "http://127.0.0.1/x", "B_TOKEN": "tok\r\nInjected: 1", "C_URL": "https://x.org/" + "a" * 2000}
    with pytest.raises(InputError) as caught:
        build_sinks(configs, env)
    message = caught.value.message
    assert "3 problems" in message
    assert "A_URL is not set" in message and "B_TOKEN" in message and "C_URL is longer than 2000" in message
    assert_says_nothing(caught.value, "Injected", "a" * 100)


def test_proxies_from_the_environment_are_ignored() -> None:
    # HTTP_PROXY pointing at a dead port would break every send if httpx honoured it
    with serve(status(204)) as server, raw_server(None) as dead:
        saved = {k: os.environ.get(k) for k in ("HTTP_PROXY", "http_proxy", "ALL_PROXY")}
        os.environ.update({k: f"http://127.0.0.1:{dead}" for k in saved})
        try:
            one([webhook()], {"HOOK_URL": server.url()}).send(payload())
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    assert len(server.requests) == 1


def test_a_configured_proxy_is_used() -> None:
    with serve(status(204)) as proxy:
        sink = one([webhook(proxy_env="HOOK_PROXY")],
                   {"HOOK_URL": "http://alerts.example.invalid/hook", "HOOK_PROXY": proxy.url("")})
        sink.send(payload())
    (req,) = proxy.requests
    assert req["path"] == "http://alerts.example.invalid/hook"  # forwarded; the proxy resolves the name


def test_no_secret_reaches_any_log_even_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    url_path = f"/hook/{TOKEN}"
    with caplog.at_level(logging.DEBUG), serve(status(204)) as server, serve(status(500)) as failing:
        one([webhook(token_env="T")], {"HOOK_URL": server.url(url_path), "T": TOKEN}).send(payload())
        failure(one([webhook()], {"HOOK_URL": failing.url(url_path)}))
        apprise_url = f"json://127.0.0.1:{failing.port}{url_path}"
        failure(build_sinks([SinkConfig(type="apprise", url_env="AP_URL")], {"AP_URL": apprise_url})[0])
    assert caplog.records, "the libraries logged nothing at DEBUG: this test would prove nothing"
    assert TOKEN not in caplog.text


# --- the workflow file: sink settings validated at load ----------------------------------------

def _workflow_with(tmp_path: Path, sinks_yaml: str) -> Path:
    src = (ROOT / "workflows.yaml").read_text(encoding="utf-8")
    text = src.replace("  sinks:                                 # the database inbox is always on\n"
                       "    - {type: log}\n", "  sinks:\n" + sinks_yaml)
    assert text != src
    (tmp_path / "organisation.yaml").write_text((ROOT / "organisation.yaml").read_text(encoding="utf-8"),
                                                encoding="utf-8")
    path = tmp_path / "workflows.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_sink_settings_load_from_the_workflow_file(tmp_path: Path) -> None:
    path = _workflow_with(tmp_path, "    - {type: log}\n"
                                    "    - name: district\n"
                                    "      type: webhook\n"
                                    "      url_env: CASECRAFT_WEBHOOK_URL\n"
                                    "      token_env: CASECRAFT_WEBHOOK_TOKEN\n"
                                    "      allow_hosts: [alerts.example.gov.cn]\n"
                                    "      total_timeout: 8\n"
                                    "    - {name: wecom, type: apprise, url_env: CASECRAFT_WECOM_URL}\n")
    sinks = load_workflow(path).file.workflow.sinks
    assert [(s.name, s.type) for s in sinks] == [("log", "log"), ("district", "webhook"), ("wecom", "apprise")]
    assert sinks[1].total_timeout == 8 and sinks[1].read_timeout == 5 and sinks[1].max_response_bytes == 65536


@pytest.mark.parametrize(("sinks_yaml", "expected"), [
    ("    - {type: webhook, url: 'https://hooks.example/" + TOKEN + "'}\n", "url is a secret"),
    ("    - {type: webhook, url_env: 'https://hooks.example/" + TOKEN + "'}\n", "NAME of an environment variable"),
    ("    - {type: webhook}\n", "needs url_env"),
    ("    - {type: log, url_env: X_URL}\n", "a log sink takes no url_env"),
    ("    - {type: apprise, url_env: X_URL, token_env: X_TOKEN}\n", "takes no token_env"),
    ("    - {type: webhook, url_env: A_URL}\n    - {type: webhook, url_env: B_URL}\n", "two sinks are named"),
    ("    - {name: Bad Name, type: log}\n", "should match pattern"),
    ("    - {type: webhook, url_env: A_URL, total_timeout: 600}\n", "less than or equal to 120"),
    ("    - {type: webhook, url_env: A_URL, max_response_bytes: 1073741824}\n", "less than or equal to 1048576"),
    ("    - {type: webhook, url_env: A_URL, max_attempts: 0}\n", "greater than or equal to 1"),
    ("    - {type: webhook, url_env: A_URL, backoff_initial: 600, backoff_max: 60}\n", "backoff_max must be"),
    ("    - {type: webhook, url_env: A_URL, allow_hosts: ['evil.example/path']}\n", "should match pattern"),
    ("    - {type: smtp, url_env: A_URL}\n", "'log', 'webhook' or 'apprise'"),
])
def test_bad_sink_settings_are_refused_at_load_without_echoing_secrets(
        tmp_path: Path, sinks_yaml: str, expected: str) -> None:
    with pytest.raises(WorkflowError) as caught:
        load_workflow(_workflow_with(tmp_path, sinks_yaml))
    assert expected in caught.value.message
    assert ":22:" in caught.value.message or ":23:" in caught.value.message  # points at the sink's line
    assert TOKEN not in caught.value.message


# --- apprise ----------------------------------------------------------------------------------

def test_apprise_json_url_delivers_to_a_local_server() -> None:
    with serve(status(200)) as server:
        (sink,) = build_sinks([SinkConfig(name="robot", type="apprise", url_env="AP_URL")],
                              {"AP_URL": f"json://127.0.0.1:{server.port}/notify"})
        assert isinstance(sink, AppriseSink)
        sink.send(payload(2, "warning"))
    (req,) = server.requests
    body = json.loads(req["body"])
    assert req["path"] == "/notify" and body["title"] == "【黄灯预警】案件42"
    assert "案件41 网格处置 已超期" in body["message"] and "d2:warning:0" in body["message"]


def test_apprise_failure_and_redirect_are_failures_and_the_redirect_is_not_followed() -> None:
    with serve(status(200)) as internal, \
            serve(status(302, headers={"Location": internal.url("/internal")})) as hook, \
            serve(status(500)) as broken:
        for server in (hook, broken):
            url = f"json://127.0.0.1:{server.port}/notify?redirect=yes"
            sink = one([SinkConfig(type="apprise", url_env="AP_URL")], {"AP_URL": url})
            exc = failure(sink)
            assert exc.reason == NOTIFY_FAILED
            assert_says_nothing(exc, url, f":{server.port}")
    assert internal.requests == []


def test_apprise_send_is_cut_by_the_total_deadline() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
    with raw_server(drip(b"", head + b"x" * 100, 0.25)) as port:
        sink = one([SinkConfig(type="apprise", url_env="AP_URL", read_timeout=5, total_timeout=1)],
                   {"AP_URL": f"json://127.0.0.1:{port}/notify"})
        started = time.monotonic()
        exc = failure(sink)
        took = time.monotonic() - started
        assert exc.reason == TIMED_OUT and took < 4.0
        # the abandoned send still hangs: the next one fails at once instead of piling up threads
        started = time.monotonic()
        assert failure(sink).reason == TIMED_OUT and time.monotonic() - started < 0.5


@pytest.mark.parametrize("url", ["nosuchscheme://x", "http//broken"])
def test_apprise_url_it_does_not_support_is_refused_at_build(url: str) -> None:
    with pytest.raises(InputError) as caught:
        build_sinks([SinkConfig(type="apprise", url_env="AP_URL")], {"AP_URL": url})
    assert "AP_URL" in caught.value.message
    assert_says_nothing(caught.value, url)


def test_apprise_host_outside_allow_hosts_is_refused() -> None:
    config = SinkConfig(type="apprise", url_env="AP_URL", allow_hosts=["qyapi.weixin.qq.com"])
    with pytest.raises(InputError) as caught:
        build_sinks([config], {"AP_URL": f"json://127.0.0.1:8080/{TOKEN}"})
    assert "allow_hosts" in caught.value.message
    assert_says_nothing(caught.value, TOKEN, "127.0.0.1")


# --- decisions --------------------------------------------------------------------------------

def test_due_alerts_is_level_triggered() -> None:
    t0 = datetime(2026, 11, 24, tzinfo=UTC)
    from types import SimpleNamespace

    d = SimpleNamespace(warn_at=t0, due_at=t0 + timedelta(hours=1), escalate_at=t0 + timedelta(hours=9),
                        next_alert_at=t0)
    assert al.due_alerts(d, t0 - timedelta(minutes=1)) == ([], t0)  # type: ignore[arg-type]
    assert al.due_alerts(d, t0 + timedelta(minutes=30)) == ([("warning", t0)], t0 + timedelta(hours=1))  # type: ignore[arg-type]
    # a warning whose limit has passed too is not raised: the overdue alert says it (issue 13)
    assert al.due_alerts(d, t0 + timedelta(hours=2)) == ([("overdue", t0 + timedelta(hours=1))],  # type: ignore[arg-type]
                                                         t0 + timedelta(hours=9))
    # after downtime, everything still due at once, each exactly once
    due, nxt = al.due_alerts(d, t0 + timedelta(days=3))  # type: ignore[arg-type]
    assert [k for k, _ in due] == ["overdue", "reescalation"] and nxt is None
    d.next_alert_at = t0 + timedelta(hours=9)
    assert [k for k, _ in al.due_alerts(d, t0 + timedelta(days=3))[0]] == ["reescalation"]  # type: ignore[arg-type]
