"""Who is asking: bearer tokens checked in the database on every request, a per-token rate limit, refusal logs.

A request's person is the holder of its ``Authorization: Bearer`` credential,
never a field of the request. The token is looked up in the database on every
request (:func:`casecraft.admin.auth.authenticate`), so a revoked token or a
deactivated person is refused at once by every ``serve`` process; only the
argon2 verification of a secret already seen is remembered per process.

The rate limit is a token bucket per credential, kept in each process's memory:
with N processes behind a proxy a token may make up to N times the rate. That is
a guard against a runaway client, not an accounting (see docs/server.md).

Every refusal (401, 403, 429) is logged on the ``casecraft.server`` logger with
the method, path, credential id and the error's template, never the token.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from casecraft.base.errors import CasecraftError, PermissionDenied

if TYPE_CHECKING:
    from casecraft.engine import Engine

log = logging.getLogger("casecraft.server")

_CRED_ID = re.compile(r"^cct_([0-9a-f]{16})_")


@dataclass(frozen=True)
class RateLimit:
    """A token bucket per credential: ``burst`` requests at once, refilled at ``rate`` per second."""

    rate: float = 50.0
    burst: int = 100


class RateLimited(CasecraftError):
    """Too many requests for one token in this process (HTTP 429)."""

    code = "rate_limited"
    exit_code = 3


class Buckets:
    """Token buckets by key (thread-safe; idle full buckets are dropped so memory stays bounded)."""

    MAX_KEYS = 10_000

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._state: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one request of ``key``'s bucket: 0 if allowed, else the seconds until one is available."""
        now = self._clock()
        rate, burst = self.limit.rate, float(self.limit.burst)
        with self._lock:
            tokens, at = self._state.get(key, (burst, now))
            tokens = min(burst, tokens + (now - at) * rate)
            if tokens < 1.0:
                self._state[key] = (tokens, now)
                return (1.0 - tokens) / rate
            self._state[key] = (tokens - 1.0, now)
            if len(self._state) > self.MAX_KEYS:
                self._prune(now)
            return 0.0

    def _prune(self, now: float) -> None:
        rate, burst = self.limit.rate, float(self.limit.burst)
        full = [k for k, (t, at) in self._state.items() if t + (now - at) * rate >= burst]
        for k in full:
            del self._state[k]


def bearer(conn: HTTPConnection) -> str:
    """The bearer token of a request.

    Raises:
        PermissionDenied (``unauthenticated``): no Authorization header, or not a bearer credential.
    """
    header = conn.headers.get("authorization")
    if not header:
        raise PermissionDenied("authentication failed: {reason}", reason="no Authorization: Bearer token was sent",
                               error_code="unauthenticated")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise PermissionDenied("authentication failed: {reason}", reason="the Authorization header is not "
                               "'Bearer <token>'", error_code="unauthenticated")
    return token.strip()


def bucket_key(token: str) -> str:
    """The rate-limit key of a token: its credential id, or a digest of anything else (never the token)."""
    m = _CRED_ID.match(token)
    if m:
        return m.group(1)
    return "h:" + hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:16]


def credential_label(token: str | None) -> str:
    """What a log line may say about a token: its credential id, or that it had none."""
    if not token:
        return "-"
    m = _CRED_ID.match(token)
    return m.group(1) if m else ("jwt" if token.count(".") == 2 else "malformed")


def log_refusal(conn: HTTPConnection, exc: CasecraftError) -> None:
    """Log a refusal without the token: method, path, person and credential if known, code, template."""
    state = conn.scope.get("state") or {}
    principal = state.get("principal")
    person = getattr(principal, "person_id", "-")
    cred = getattr(principal, "credential_id", None) or state.get("credential", "-")
    method = conn.scope.get("method", "GET")
    # the reasons of authentication refusals are fixed phrases; other refusals may name people: log the template
    text = exc.message if exc.code in ("unauthenticated", "rate_limited") else exc.template
    log.warning("refused %s %s person=%s credential=%s code=%s: %s", method, conn.url.path, person, cred,
                exc.code, text)


def admit(conn: HTTPConnection) -> str:
    """The request's bearer token, once the rate limit lets it through (no database yet).

    Raises:
        PermissionDenied (``unauthenticated``): no bearer token.
        RateLimited: the token's bucket is empty.
    """
    token = bearer(conn)
    conn.state.credential = credential_label(token)
    buckets: Buckets | None = conn.app.state.buckets
    if buckets is not None:
        wait = buckets.take(bucket_key(token))
        if wait > 0:
            raise RateLimited("too many requests for this token; retry in {seconds} s", seconds=max(1, round(wait)),
                              retry_after=max(1, int(wait + 0.999)))
    return token


def check(engine: Engine, oidc: Any, token: str) -> Any:
    """The principal of a token, checked in the database now (a synchronous call: run it off the event loop)."""
    if oidc is not None and token.count(".") == 2 and not token.startswith("cct_"):
        return oidc.authenticate(engine, token)
    return engine.authenticate(token)


class Acting:
    """The process's engine acting for a request's bearer, authenticated on first use.

    The token is checked in the same worker-thread hop as the engine call it
    precedes (one hop per request, not two). A token this process has already
    found valid is re-checked inside the call's own first unit of work, where the
    admin revision is read anyway: nothing more is read while the revision has
    not moved (every issue, revocation and change to a person moves it), so a
    revoked token or a deactivated person is refused as before, without a
    transaction of its own. Methods are reached through the proxy
    (``await call(acting.fire, ...)``); anything else through :attr:`engine`,
    inside the threadpool.
    """

    def __init__(self, conn: HTTPConnection, engine: Engine, oidc: Any, token: str) -> None:
        self._conn, self._engine, self._oidc, self._token = conn, engine, oidc, token
        self._principal: Any = None
        self._bound: Engine | None = None

    def principal(self) -> Any:
        """Who the request acts for (checked in the database on the first call of the request)."""
        if self._principal is None:
            self._principal = check(self._engine, self._oidc, self._token)
            self._conn.state.principal = self._principal
        return self._principal

    @property
    def engine(self) -> Engine:
        """The engine bound to the request's person."""
        if self._bound is None:
            self._bound = self._engine.bound(self.principal().person_id)
        return self._bound

    def _call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        from casecraft.admin import auth
        from casecraft.context import gated

        known = auth.remembered(self._token) if self._principal is None and self._token.startswith("cct_") else None
        if known is None:
            return getattr(self.engine, name)(*args, **kwargs)
        principal, at = known
        token = self._token

        def gate(tx: Any, revision: int) -> None:
            auth.recheck(tx, token, principal, at, revision)

        self._conn.state.principal = principal
        try:
            with gated(gate) as armed:
                result = getattr(self._engine.bound(principal.person_id), name)(*args, **kwargs)
        finally:
            if armed:  # the call opened no unit of work of the context's: check the token now, before answering
                self.principal()
        self._principal = principal
        return result

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def deferred(*args: Any, **kwargs: Any) -> Any:
            return self._call(name, args, kwargs)

        deferred.__name__ = name
        return deferred


async def authenticate(conn: HTTPConnection) -> Any:
    """The :class:`~casecraft.admin.auth.Principal` of a request, checked now (rate limit first).

    Stored on ``request.state.principal``; refusals raise a :class:`CasecraftError`
    that the app's handler turns into a problem document and logs.
    """
    principal = conn.scope.get("state", {}).get("principal")
    if principal is not None:
        return principal
    token = admit(conn)
    principal = await run_in_threadpool(check, conn.app.state.engine, conn.app.state.oidc, token)
    conn.state.principal = principal
    return principal


_scheme = HTTPBearer(auto_error=False, scheme_name="bearer",
                     description="A person's token (cct_<id>_<secret>, from `casecraft auth token issue`), or an "
                                 "OpenID Connect ID token when the server is configured for a provider.")


async def principal_of(conn: HTTPConnection,
                       _doc: HTTPAuthorizationCredentials | None = Security(_scheme)) -> Any:  # noqa: B008
    """The authenticated person of a request (the dependency routes declare; documents the bearer scheme)."""
    return await authenticate(conn)


async def acting(conn: HTTPConnection,
                 _doc: HTTPAuthorizationCredentials | None = Security(_scheme)) -> Acting:  # noqa: B008
    """The process's engine acting for the request's bearer (authenticated with the first engine call)."""
    token = admit(conn)
    return Acting(conn, conn.app.state.engine, conn.app.state.oidc, token)


__all__ = ["Acting", "Buckets", "RateLimit", "RateLimited", "acting", "admit", "authenticate", "bearer",
           "bucket_key", "check", "credential_label", "log", "log_refusal", "principal_of"]
