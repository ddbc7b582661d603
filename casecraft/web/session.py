"""The workbench's session: a signed cookie checked against the database on every request, and CSRF tokens.

A session cookie names the person's password credential and when it was
issued; it is signed with a key derived from that credential's stored argon2
hash (plus ``CASECRAFT_WEB_SECRET`` when set). So every ``serve`` process can
check any session without sharing a key, and a new password (which revokes the
old credential) or a deactivated person ends every session at once: the
credential and the person are read in the database on every request, in the
same worker-thread hop as the page's engine calls.

Each POST carries a CSRF token derived from the same key and the session's
issue time; the login form uses a double-submit token of its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from casecraft.base.errors import N_, PermissionDenied

if TYPE_CHECKING:
    from casecraft.engine import Engine

COOKIE = "casecraft_session"
LOGIN_COOKIE = "casecraft_login"
MAX_AGE = 8 * 3600  # one working day


def _refused(reason: str) -> PermissionDenied:
    return PermissionDenied("authentication failed: {reason}", reason=reason, error_code="unauthenticated")


def _key(secret_hash: str) -> bytes:
    pepper = os.environ.get("CASECRAFT_WEB_SECRET", "")
    return hashlib.sha256(b"casecraft-web-session\0" + pepper.encode() + b"\0" + secret_hash.encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Viewer:
    """The logged-in person of a request, as checked in the database now."""

    person_id: str
    name: str
    unit: str
    unit_name: str
    roles: tuple[str, ...]
    role_labels: tuple[str, ...]
    csrf: str
    credential_id: str


def _person(engine: Engine, pid: str) -> Any:
    with engine.ctx.store.read() as tx:
        person = tx.person(pid)
    if person is None or not person.active:
        raise _refused(N_("the person is deactivated"))
    return person


def _oidc_key(oidc: Any) -> bytes:
    secret = getattr(oidc, "client_secret", None) if oidc is not None else None
    if not secret:
        raise _refused(N_("the session is not valid; log in again"))
    return _key("oidc:" + secret)


def issue_oidc(oidc: Any, person_id: str, expires_at: Any, now: float | None = None) -> str:
    """A session cookie value after an OpenID Connect login: valid until the ID token expires (8 hours at most)."""
    issued = int(now if now is not None else time.time())
    until = min(int(expires_at) if isinstance(expires_at, int | float) else issued + MAX_AGE, issued + MAX_AGE)
    body = _b64(json.dumps({"k": "o", "p": person_id, "i": issued, "x": until}, separators=(",", ":")).encode())
    sig = _b64(hmac.new(_oidc_key(oidc), body.encode(), hashlib.sha256).digest())
    return f"{body}.{sig}"


def _credential(engine: Engine, cred_id: str) -> tuple[dict[str, Any], Any]:
    with engine.ctx.store.read() as tx:
        row = tx.credential(cred_id)
        person = tx.person(row["person_id"]) if row else None
    if row is None or row["kind"] != "password":
        raise _refused(N_("the session is not valid; log in again"))
    if row["revoked_at"] is not None:
        raise _refused(N_("the password was changed; log in again"))
    if person is None or not person.active:
        raise _refused(N_("the person is deactivated"))
    return row, person


def issue(engine: Engine, cred_id: str, now: float | None = None) -> str:
    """A session cookie value for a password credential just checked."""
    row, person = _credential(engine, cred_id)
    issued = int(now if now is not None else time.time())
    body = _b64(json.dumps({"p": person.id, "c": cred_id, "i": issued}, separators=(",", ":")).encode())
    sig = _b64(hmac.new(_key(row["secret_hash"]), body.encode(), hashlib.sha256).digest())
    return f"{body}.{sig}"


def _csrf(key: bytes, cred_id: str, issued: int) -> str:
    return _b64(hmac.new(key, f"csrf:{cred_id}:{issued}".encode(), hashlib.sha256).digest())[:32]


def viewer(engine: Engine, cookie: str | None, now: float | None = None, oidc: Any = None) -> Viewer:
    """The person a session cookie belongs to, checked in the database now (synchronous: run off the loop).

    Raises:
        PermissionDenied (``unauthenticated``): no, malformed, forged, expired or revoked session.
    """
    if not cookie or cookie.count(".") != 1:
        raise _refused(N_("not logged in"))
    body, sig = cookie.split(".")
    try:
        data = json.loads(_unb64(body))
        pid, issued = str(data["p"]), int(data["i"])
        kind = data.get("k", "p")
        cred_id = str(data["c"]) if kind == "p" else "oidc:" + pid
        until = int(data["x"]) if kind == "o" else issued + MAX_AGE
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError):
        # OverflowError: a forged "i": Infinity; RecursionError: arrays nested a thousand deep
        raise _refused(N_("the session cookie is malformed; log in again")) from None
    if kind == "o":  # an OpenID Connect login: signed under the client secret; the person read now
        key = _oidc_key(oidc)
        person = _person(engine, pid)
    else:
        row, person = _credential(engine, cred_id)
        key = _key(row["secret_hash"])
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, sig) or person.id != pid:
        raise _refused(N_("the session cookie is not valid; log in again"))
    if (now if now is not None else time.time()) > min(until, issued + MAX_AGE):
        raise _refused(N_("the session has expired; log in again"))
    wf = engine.workflow
    with engine.ctx.read() as tx:
        org = engine.ctx.org_in(tx)
        unit_name = org.label(person.unit)
    labels = tuple(wf.roles[r].label if r in wf.roles else r for r in person.roles)
    return Viewer(person_id=person.id, name=person.name, unit=person.unit, unit_name=unit_name,
                  roles=tuple(person.roles), role_labels=labels, csrf=_csrf(key, cred_id, issued),
                  credential_id=cred_id)


def check_csrf(v: Viewer, sent: str | None) -> None:
    """Refuse a POST whose CSRF token is not the session's (403)."""
    if not sent or not hmac.compare_digest(v.csrf, sent):
        raise PermissionDenied("the form's security token is missing or stale; reload the page and try again",
                               error_code="csrf")


def login_token() -> str:
    """A fresh double-submit token for the login form (cookie and hidden field)."""
    return secrets.token_urlsafe(24)


def check_login_token(cookie: str | None, sent: str | None) -> None:
    if not cookie or not sent or not hmac.compare_digest(cookie, sent):
        raise PermissionDenied("the login form expired; reload the page and try again", error_code="csrf")


__all__ = ["COOKIE", "LOGIN_COOKIE", "MAX_AGE", "Viewer", "check_csrf", "check_login_token", "issue",
           "issue_oidc", "login_token", "viewer"]
