"""Alert sinks: where a committed alert is sent (a log line, a webhook, an apprise service).

A sink is built from its workflow settings (:class:`casecraft.workflows.shape.Sink`) and the
process environment: the YAML names the environment variables that hold a URL, a token or a
signing secret, never the secrets themselves, so they stay out of the workflow file, the
database, backups and every message. A failed send raises :class:`DeliveryFailed` with a short
generic reason ("timed out", "HTTP 500", ...) that names no URL, host or port: it is stored
with the delivery and must not turn the sink into a port scanner.

The webhook refuses redirects, takes no proxy from the environment, and bounds each send by a
TOTAL deadline (connect, request, response headers and body together), so a server that
drip-feeds its answer cannot hold the worker longer than configured.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from casecraft.alerts.decisions import KIND_LABELS
from casecraft.alerts.delivery import (
    CONNECTION_FAILED,
    HTTP_STATUS,
    NOTIFY_FAILED,
    REDIRECT_REFUSED,
    RESPONSE_TOO_LARGE,
    TIMED_OUT,
    DeliveryFailed,
    DeliveryPolicy,
    Sink,
)
from casecraft.base.clock import Clock, SystemClock
from casecraft.base.errors import InputError

if TYPE_CHECKING:
    import httpx

    from casecraft.workflows.shape import Sink as SinkConfig

log = logging.getLogger("casecraft.alerts")

MAX_URL_LENGTH = 2000
_MAX_SECRET_LENGTH = 4096
_USER_AGENT = "casecraft"
_PAYLOAD_FIELDS = ("id", "key", "case_id", "kind", "level", "unit_code", "state", "due_at", "raised_at", "message")
# visible ASCII only: a header value with CR/LF would be refused by httpx with an error quoting it
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


def build_payload(alert: Mapping[str, Any], *, timezone: str, unit_name: str | None = None) -> dict[str, Any]:
    """The JSON body sent for an alert: its fields, labels and times, and no personal data.

    Args:
        alert: the alert row (id, key, case_id, kind, level, unit_code, state, due_at,
            raised_at, message); other fields (who acknowledged it) are left out.
        timezone: the workflow's timezone; times are ISO 8601 with its offset (+08:00).
        unit_name: the name of the unit the alert is raised at.

    Returns:
        A JSON-serialisable dict; ``key`` lets receivers de-duplicate (delivery is at-least-once).
    """
    tz = ZoneInfo(timezone)
    out: dict[str, Any] = {}
    for field in _PAYLOAD_FIELDS:
        value = alert.get(field)
        out[field] = value.astimezone(tz).isoformat() if isinstance(value, datetime) else value
    out["kind_label"] = KIND_LABELS.get(str(alert.get("kind")), alert.get("kind"))
    out["unit_name"] = unit_name
    return out


class LogSink:
    """One structured (JSON) log line per alert on the ``casecraft.alerts`` logger."""

    def __init__(self, name: str = "log", policy: DeliveryPolicy | None = None) -> None:
        self.name = name
        self.policy = policy or DeliveryPolicy(send_seconds=0.0)

    def send(self, payload: dict[str, Any]) -> None:
        log.warning(json.dumps({"event": "alert", "sink": self.name, **payload}, ensure_ascii=False))


# The total deadline of the send in progress (a time.monotonic() value), read by the network
# streams below on every read and write. Real sockets need real time, not the injected clock.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("casecraft_send_deadline", default=None)


def _remaining(timeout: float | None, kind: str) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        import httpcore

        error = {"read": httpcore.ReadTimeout, "write": httpcore.WriteTimeout}.get(kind, httpcore.ConnectTimeout)
        raise error("total deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream:
    """A network stream whose every read and write waits at most until the total deadline."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return bytes(self._inner.read(max_bytes, _remaining(timeout, "read")))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _remaining(timeout, "write"))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _remaining(timeout, "connect")))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend:
    """httpcore's sync network backend, with streams bounded by the total deadline."""

    def __init__(self) -> None:
        import httpcore

        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> _DeadlineStream:
        return _DeadlineStream(self._inner.connect_tcp(host, port, _remaining(timeout, "connect"), local_address,
                                                       socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _Redactor(logging.Filter):
    """Masks the sinks' secrets in the records of the HTTP libraries we call.

    httpx logs every request's full URL at INFO, urllib3 (under apprise) its path at DEBUG,
    and apprise's plugins their endpoint URLs at DEBUG: with a root logger at INFO or DEBUG
    a webhook's token would reach the log. Logger filters run where a record is created,
    so the filter sits on exactly those loggers.
    """

    LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.proxy", "urllib3.connectionpool",
               "apprise")

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self._installed = False

    def protect(self, *secrets: str) -> None:
        with self._lock:
            self._secrets.update(s for s in secrets if len(s) >= 6)
            if not self._installed:
                for name in self.LOGGERS:
                    logging.getLogger(name).addFilter(self)
                self._installed = True

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            text = record.getMessage()
        except (TypeError, ValueError):
            return True
        masked = text
        for secret in sorted(self._secrets, key=len, reverse=True):
            masked = masked.replace(secret, "***")
        if masked != text:
            record.msg, record.args = masked, None
        return True


_REDACTOR = _Redactor()


def _url_secrets(url: str) -> list[str]:
    """The URL and the parts of it that may carry a secret (userinfo, host of a key-as-host
    scheme such as wecombot://KEY, path, query)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    pieces = [url, parts.netloc, parts.path, parts.query, parts.password or "", parts.username or ""]
    pieces += [seg for seg in parts.path.split("/") if seg]
    pieces += [kv.partition("=")[2] for kv in parts.query.split("&")]
    return [p for p in pieces if p]


def _client(*, connect: float, read: float, proxy: str | None) -> httpx.Client:
    import httpcore
    import httpx

    transport = httpx.HTTPTransport(trust_env=False)
    # httpx has no total deadline; its transport is rebuilt on a httpcore pool (public API) whose
    # network backend enforces one. `_pool` is the one private name used (httpx pinned <0.29).
    # The backend is duck-typed to httpcore.NetworkBackend (cast: mypy wants the base class).
    # SSL_CERT_FILE/SSL_CERT_DIR are honoured (an intranet CA); proxies from the environment are not
    ssl_context, backend = httpx.create_ssl_context(trust_env=True), cast(Any, _DeadlineBackend())
    if proxy is None:
        transport._pool = httpcore.ConnectionPool(ssl_context=ssl_context, network_backend=backend)
    else:
        url = httpx.URL(proxy)
        transport._pool = httpcore.HTTPProxy(
            proxy_url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            proxy_auth=(url.username, url.password) if url.username else None,
            ssl_context=ssl_context, network_backend=backend)
    return httpx.Client(transport=transport, follow_redirects=False, trust_env=False,
                        timeout=httpx.Timeout(connect=connect, read=read, write=read, pool=connect),
                        headers={"User-Agent": _USER_AGENT})


class WebhookSink:
    """HTTP POST of the payload as JSON: no redirects, a total deadline, a capped response.

    Build it with :func:`build_sinks` (which validates the URL); the constructor trusts its input.
    """

    def __init__(self, name: str, url: str, *, policy: DeliveryPolicy | None = None, connect_timeout: float = 3.0,
                 read_timeout: float = 5.0, total_timeout: float = 10.0, max_response_bytes: int = 65536,
                 token: str | None = None, signing_secret: str | None = None, proxy: str | None = None,
                 clock: Clock | None = None) -> None:
        self.name = name
        self.policy = policy or DeliveryPolicy(send_seconds=total_timeout)
        self._url = url
        self._total = total_timeout
        self._max_bytes = max_response_bytes
        self._token = token
        self._secret = signing_secret.encode() if signing_secret else None
        self._clock = clock or SystemClock()
        _REDACTOR.protect(*_url_secrets(url), *(_url_secrets(proxy) if proxy else ()), token or "",
                          signing_secret or "")
        self._http = _client(connect=connect_timeout, read=read_timeout, proxy=proxy)

    def __repr__(self) -> str:  # never the URL: reprs end up in tracebacks and logs
        return f"WebhookSink(name={self.name!r})"

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def send(self, payload: dict[str, Any]) -> None:
        """POST ``payload``; 2xx is delivered, anything else raises :class:`DeliveryFailed`."""
        import httpx

        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": str(payload.get("key"))}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if self._secret:
            stamp = str(int(self._clock.now().timestamp()))
            digest = hmac.new(self._secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            headers["X-Casecraft-Timestamp"] = stamp
            headers["X-Casecraft-Signature"] = f"sha256={digest}"
        token = _DEADLINE.set(time.monotonic() + self._total)
        try:
            self._post(body, headers)
        # `from None`: httpx's exceptions carry the request, whose URL holds the secret
        except httpx.TimeoutException:
            raise DeliveryFailed(TIMED_OUT) from None
        except (httpx.TransportError, httpx.StreamError, OSError):
            raise DeliveryFailed(CONNECTION_FAILED) from None
        finally:
            _DEADLINE.reset(token)

    def _post(self, body: bytes, headers: dict[str, str]) -> None:
        with self._http.stream("POST", self._url, content=body, headers=headers) as response:
            status = response.status_code
            if 300 <= status < 400:
                raise DeliveryFailed(REDIRECT_REFUSED)
            if not 200 <= status < 300:
                raise DeliveryFailed(HTTP_STATUS, status=status)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self._max_bytes:
                raise DeliveryFailed(RESPONSE_TOO_LARGE)
            received = 0
            for chunk in response.iter_raw():  # raw: never decompress what we only discard
                received += len(chunk)
                if received > self._max_bytes:
                    raise DeliveryFailed(RESPONSE_TOO_LARGE)


class AppriseSink:
    """A notification service apprise supports (WeCom/DingTalk robots, e-mail, SMS gateways, json://).

    apprise sends through ``requests``, which has no total deadline: the send runs on a helper
    thread and is abandoned when the deadline passes (at most one per sink at a time; a late
    success only duplicates, which the alert key lets receivers ignore). Redirects are refused;
    unlike the webhook, ``requests`` still honours HTTP(S)_PROXY from the environment, and
    apprise may wait between two sends to one service (its own rate limit, up to 5.5 s).
    """

    def __init__(self, name: str, url: str, *, policy: DeliveryPolicy | None = None, connect_timeout: float = 3.0,
                 read_timeout: float = 5.0, total_timeout: float = 10.0, allow_hosts: Sequence[str] = (),
                 url_env: str = "the environment variable") -> None:
        import apprise

        _REDACTOR.protect(*_url_secrets(url))
        self.name = name
        self.policy = policy or DeliveryPolicy(send_seconds=total_timeout)
        self._total = total_timeout
        self._running: threading.Thread | None = None
        asset = apprise.AppriseAsset(http_redirects=False, secure_logging=True)
        plugin = apprise.Apprise.instantiate(url, asset=asset)
        if plugin is None:
            raise InputError("the apprise URL in {env} is not one apprise supports; check its scheme "
                             "(wecombot://, dingtalk://, mailto://, json:// ...)", env=url_env)
        host = str(getattr(plugin, "host", "") or "").lower()
        if allow_hosts and host not in {h.strip("[]").lower() for h in allow_hosts}:
            raise InputError("the host of the apprise URL in {env} is not in the allow_hosts of sink {sink!r}",
                             env=url_env, sink=name)
        # a redirect=yes in the URL must not bring back what the asset refuses
        plugin.redirects = False
        plugin.socket_connect_timeout = connect_timeout
        plugin.socket_read_timeout = read_timeout
        self._apprise = apprise.Apprise(asset=asset)
        self._apprise.add(plugin)

    def __repr__(self) -> str:
        return f"AppriseSink(name={self.name!r})"

    def send(self, payload: dict[str, Any]) -> None:
        """Notify with a short title and a text body; False or an exception from apprise is a failure."""
        if self._running is not None and self._running.is_alive():
            raise DeliveryFailed(TIMED_OUT)  # the previous send still hangs past its deadline
        result: list[bool] = []
        title, body = _text(payload)

        def run() -> None:
            try:
                result.append(bool(self._apprise.notify(title=title, body=body)))
            except Exception:  # noqa: BLE001 - any error inside a third-party plugin is a failed delivery
                result.append(False)

        self._running = threading.Thread(target=run, name=f"casecraft-apprise-{self.name}", daemon=True)
        self._running.start()
        self._running.join(self._total)
        if self._running.is_alive():
            raise DeliveryFailed(TIMED_OUT)
        if not (result and result[0]):
            raise DeliveryFailed(NOTIFY_FAILED)


def _text(payload: Mapping[str, Any]) -> tuple[str, str]:
    title = f"【{payload.get('kind_label')}】案件{payload.get('case_id')}"
    unit = payload.get("unit_name") or payload.get("unit_code")
    body = (f"{payload.get('message')}\n单位：{unit}（{payload.get('unit_code')}）\n"
            f"到期：{payload.get('due_at')}\n告警：{payload.get('key')}")
    return title, body


def build_sinks(configs: Sequence[SinkConfig], environ: Mapping[str, str], *,
                clock: Clock | None = None) -> list[Sink]:
    """Build the configured sinks, taking URLs and secrets from ``environ``.

    Every sink is checked before any is returned, and every problem is reported at once;
    a message names the environment variable at fault, never its value.

    Raises:
        InputError: a variable is unset or holds a bad URL (not http(s), host outside
            ``allow_hosts``, longer than 2000 characters) or a bad token.
    """
    sinks: list[Sink] = []
    problems: list[InputError] = []
    for config in configs:
        try:
            sinks.append(_build(config, environ, clock))
        except InputError as exc:
            problems.append(exc)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise InputError("the alert sinks have {count} problems: {problems}", count=len(problems),
                         problems="; ".join(p.message for p in problems))
    return sinks


def _build(config: SinkConfig, environ: Mapping[str, str], clock: Clock | None) -> Sink:
    policy = DeliveryPolicy.of(config)
    if config.type == "log":
        return LogSink(config.name, policy)
    env = config.url_env or ""
    url = _secret(environ, env, config.name, what="URL")
    if len(url) > MAX_URL_LENGTH:
        raise InputError("the URL in {env} is longer than {limit} characters", env=env, limit=MAX_URL_LENGTH)
    if config.type == "apprise":
        return AppriseSink(config.name, url, policy=policy, connect_timeout=config.connect_timeout,
                           read_timeout=config.read_timeout, total_timeout=config.total_timeout,
                           allow_hosts=config.allow_hosts, url_env=env)
    _check_http_url(url, env, config.name, config.allow_hosts)
    proxy = None
    if config.proxy_env:
        proxy = _secret(environ, config.proxy_env, config.name, what="proxy URL")
        _check_http_url(proxy, config.proxy_env, config.name, ())
    token = _secret(environ, config.token_env, config.name, what="token", header=True) if config.token_env else None
    signing = (_secret(environ, config.signing_secret_env, config.name, what="signing secret")
               if config.signing_secret_env else None)
    return WebhookSink(config.name, url, policy=policy, connect_timeout=config.connect_timeout,
                       read_timeout=config.read_timeout, total_timeout=config.total_timeout,
                       max_response_bytes=config.max_response_bytes, token=token, signing_secret=signing,
                       proxy=proxy, clock=clock)


def _secret(environ: Mapping[str, str], env: str, sink: str, *, what: str, header: bool = False) -> str:
    value = environ.get(env, "")
    if not value:
        raise InputError("environment variable {env} is not set: sink {sink!r} needs its {what} there",
                         env=env, sink=sink, what=what)
    if len(value) > _MAX_SECRET_LENGTH:
        raise InputError("the {what} in {env} is longer than {limit} characters", what=what, env=env,
                         limit=_MAX_SECRET_LENGTH)
    if (header or what.endswith("URL")) and not _HEADER_SAFE.fullmatch(value):
        raise InputError("the {what} in {env} contains spaces or control characters", what=what, env=env)
    return value


def _check_http_url(url: str, env: str, sink: str, allow_hosts: Sequence[str]) -> None:
    import httpx

    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        _ = parts.port  # raises on a port that is not a number in range
        httpx.URL(url)  # what httpx would refuse at send time, with an error quoting the URL
    except (ValueError, httpx.InvalidURL):
        raise InputError("the URL in {env} is not a valid URL", env=env) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InputError("the URL in {env} must start with http:// or https://", env=env)
    if not host:
        raise InputError("the URL in {env} has no host", env=env)
    if allow_hosts and host not in {h.strip("[]").lower() for h in allow_hosts}:
        raise InputError("the host of the URL in {env} is not in the allow_hosts of sink {sink!r}", env=env, sink=sink)


__all__ = ["CONNECTION_FAILED", "NOTIFY_FAILED", "REDIRECT_REFUSED", "RESPONSE_TOO_LARGE", "TIMED_OUT",
           "AppriseSink", "DeliveryFailed", "DeliveryPolicy", "LogSink", "Sink", "WebhookSink", "build_payload",
           "build_sinks"]
