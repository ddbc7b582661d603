"""Credentials: every action is done by an authenticated person.

An admin issues a person a token (``casecraft auth token issue PERSON``) or
sets a password for the web workbench. Only an argon2 hash is stored; the
token is shown once, to be handed over. A token reads ``cct_<id>_<secret>``:
the id finds the credential, the secret is checked against its hash. Issuing
and revoking are entries of the admin chain. A deactivated person's
credentials stop working at once; a revoked one never works again.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from casecraft import ledger
from casecraft.admin import log as adminlog
from casecraft.base.errors import N_, InputError, NotFound, PermissionDenied
from casecraft.base.text import clean_text
from casecraft.cases.rules import ADMIN_ROLE
from casecraft.context import Context
from casecraft.workflows.org import Organisation

_TOKEN = re.compile(r"^cct_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
MIN_PASSWORD = 12

# Tokens are 256 random bits: a light argon2 setting suffices; passwords get OWASP's (m=19 MiB, t=2).
_hashers: dict[str, Any] = {}
# secrets verified by this process (credential id -> sha256 of the secret); revocation is re-checked in the
# database on every use, so this only saves argon2's deliberate slowness on repeated requests
_verified: dict[str, bytes] = {}
# tokens this process found valid (sha256 of the token -> principal, admin revision then); see remembered()
_remembered: dict[bytes, tuple[Principal, int]] = {}
_REMEMBER_MAX = 10_000
_lock = threading.Lock()


def _hasher(kind: str) -> Any:
    from argon2 import PasswordHasher

    h = _hashers.get(kind)
    if h is None:
        h = _hashers[kind] = (PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1) if kind == "token"
                              else PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1))
    return h


@dataclass(frozen=True)
class Principal:
    """An authenticated person: who, and by which credential."""

    person_id: str
    credential_id: str
    method: str  # token | password


@dataclass(frozen=True)
class CredentialInfo:
    """A credential as listed (never its secret)."""

    id: str
    person: str
    kind: str
    label: str | None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    timezone: str = "Asia/Shanghai"

    def to_dict(self) -> dict[str, Any]:
        tz = ZoneInfo(self.timezone)
        return {"id": self.id, "person": self.person, "kind": self.kind, "label": self.label,
                "created_at": self.created_at.astimezone(tz).isoformat(), "created_by": self.created_by,
                "revoked_at": self.revoked_at.astimezone(tz).isoformat() if self.revoked_at else None}


def _info(r: dict[str, Any], tz: str) -> CredentialInfo:
    return CredentialInfo(id=r["id"], person=r["person_id"], kind=r["kind"], label=r["label"],
                          created_at=r["created_at"], created_by=r["created_by"], revoked_at=r["revoked_at"],
                          timezone=tz)


def _issue(tx: Any, person: str, admin: str, label: str | None, when: Any, *,
           bootstrap: bool = False) -> tuple[str, dict[str, Any]]:
    cred_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    values = {"id": cred_id, "person_id": person, "kind": "token", "secret_hash": _hasher("token").hash(secret),
              "label": label, "created_at": when.at, "created_by": admin, "revoked_at": None, "revoked_by": None}
    tx.insert_credential(values)
    body: dict[str, Any] = {"credential": cred_id, "person": person, "kind": "token", "label": label}
    if bootstrap:
        body["bootstrap"] = True
    adminlog.record(tx, admin, "auth.issue", body, when)
    return f"cct_{cred_id}_{secret}", values


def issue_token(ctx: Context, person: str, *, actor: str | None,
                label: str | None = None) -> tuple[str, CredentialInfo]:
    """A new token for ``person`` (an admin's act, recorded); the token itself is returned only here.

    Raises:
        PermissionDenied: the actor is not an admin.
        InputError: no such person, or a deactivated one.
    """
    label = clean_text(label, N_("the label"), 100, single_line=True)
    with ctx.write() as tx:
        admin = adminlog.require_admin(ctx, tx, actor)
        when = ctx.when()
        p = tx.person(person)
        if p is None:
            raise InputError("unknown person '{person}'", person=person)
        if not p.active:
            raise InputError("person '{person}' is deactivated; activate them first", person=person)
        token, values = _issue(tx, person, admin, label, when)
    return token, _info(values, ctx.timezone)


def admin_holders(tx: Any) -> list[str]:
    """The active admins holding a credential that still works (read in ``tx``)."""
    held: list[str] = []
    for c in tx.credentials():
        if c["revoked_at"] is not None or c["person_id"] in held:
            continue
        p = tx.person(c["person_id"])
        if p is not None and p.active and ADMIN_ROLE in p.roles:
            held.append(p.id)
    return held


FIRST_ADMIN_NEEDED = ("a new database needs its first admin: `casecraft init --admin PERSON` (a person with the admin "
                      "role in the organisation file) for real work, or `casecraft init --sandbox` for training, "
                      "demos and tests (no logins)")


def check_first_admin(admin: str | None, org: Organisation | None) -> None:
    """Refuse to create a production database nobody could administer (before anything is written).

    Raises:
        InputError: no ``admin``, or one the organisation to be loaded does not list as an active admin.
    """
    if not admin:
        raise InputError(FIRST_ADMIN_NEEDED)
    if org is None:
        return  # the organisation comes later: bootstrap_admin checks the person then
    person = org.person(admin)
    if person is None:
        raise InputError("unknown person '{person}': the first admin must be in the organisation file",
                         person=admin)
    if ADMIN_ROLE not in person.roles:
        raise InputError("{name}({id}) does not have the admin role; give the first admin `roles: [admin]` "
                         "in the organisation file", name=person.name, id=person.id)


def bootstrap_admin(ctx: Context, person: str, *, label: str | None = None) -> tuple[str, CredentialInfo]:
    """The first admin's token on a production database (``casecraft init --admin PERSON``).

    Allowed only while no active admin holds a working credential; the check and the
    issue are one write transaction that first takes the admin chain's lock, so two
    processes bootstrapping at once cannot both succeed. Recorded in the admin chain
    as issued by ``init``.

    Raises:
        InputError: a sandbox database (it needs no logins); an unknown, deactivated or non-admin person.
        PermissionDenied: an admin holds credentials already (they issue tokens from now on).
    """
    label = clean_text(label, N_("the label"), 100, single_line=True) or "first admin"
    with ctx.write() as tx:
        tx.ledger_head(ledger.ADMIN, lock=True)  # serialise with every administrative act until commit
        if tx.meta("sandbox"):
            raise InputError("a sandbox database needs no admin: nobody logs in there")
        holders = admin_holders(tx)
        if holders:
            raise PermissionDenied("an admin already holds credentials ({holders}): the first admin exists; an admin "
                                   "issues the others' tokens",
                                   holders=", ".join(holders))
        p = tx.person(person)
        if p is None:
            raise InputError("unknown person '{person}'; the first admin must be in the organisation", person=person)
        if not p.active:
            raise InputError("person '{person}' is deactivated; the first admin must be active", person=person)
        if ADMIN_ROLE not in p.roles:
            raise InputError("{name}({id}) does not have the admin role; give the first admin `roles: [admin]` in "
                             "the organisation file", name=p.name, id=p.id)
        token, values = _issue(tx, person, "init", label, ctx.when(), bootstrap=True)
    return token, _info(values, ctx.timezone)


def set_password(ctx: Context, person: str, password: str, *, actor: str | None) -> CredentialInfo:
    """Set (replace) a person's web password (an admin's act, recorded; earlier passwords are revoked).

    Raises:
        InputError: a password shorter than 12 characters, or an unknown person.
    """
    if len(password) < MIN_PASSWORD:
        raise InputError("a password needs at least {n} characters", n=MIN_PASSWORD)
    cred_id = secrets.token_hex(8)
    with ctx.write() as tx:
        admin = adminlog.require_admin(ctx, tx, actor)
        when = ctx.when()
        if tx.person(person) is None:
            raise InputError("unknown person '{person}'", person=person)
        old = [c["id"] for c in tx.credentials(person) if c["kind"] == "password" and c["revoked_at"] is None]
        tx.revoke_credentials(old, admin, when.at)
        values = {"id": cred_id, "person_id": person, "kind": "password",
                  "secret_hash": _hasher("password").hash(password), "label": None, "created_at": when.at,
                  "created_by": admin, "revoked_at": None, "revoked_by": None}
        tx.insert_credential(values)
        adminlog.record(tx, admin, "auth.password", {"credential": cred_id, "person": person, "replaced": old}, when)
    return _info(values, ctx.timezone)


def revoke(ctx: Context, ref: str, *, actor: str | None) -> list[str]:
    """Revoke a credential by id, or every credential of a person; the revoked ids (an admin's act, recorded).

    Raises:
        NotFound: no such credential or person with credentials.
    """
    with ctx.write() as tx:
        admin = adminlog.require_admin(ctx, tx, actor)
        when = ctx.when()
        one = tx.credential(ref)
        ids = [ref] if one is not None else [c["id"] for c in tx.credentials(ref)]
        if not ids:
            raise NotFound("no credential or person with credentials '{ref}'", ref=ref)
        tx.revoke_credentials(ids, admin, when.at)
        adminlog.record(tx, admin, "auth.revoke", {"credentials": ids}, when)
    with _lock:
        for i in ids:
            _verified.pop(i, None)
    return ids


def credentials(ctx: Context, person: str | None = None) -> list[CredentialInfo]:
    tz = ctx.timezone
    with ctx.read() as tx:
        return [_info(r, tz) for r in tx.credentials(person)]


def _refused(reason: str) -> PermissionDenied:
    return PermissionDenied("authentication failed: {reason}", reason=reason, error_code="unauthenticated")


def authenticate(ctx: Context, token: str) -> Principal:
    """The person a token belongs to, if it is valid now (not revoked, person active).

    Raises:
        PermissionDenied (code ``unauthenticated``): a malformed, unknown, revoked token or a deactivated person.
    """
    _parse(token)
    with ctx.store.read() as tx:  # no cache to refresh here: one short read per request
        return authenticate_in(tx, token)


def _parse(token: str) -> tuple[str, str]:
    m = _TOKEN.match(token.strip()) if isinstance(token, str) else None
    if m is None:
        raise _refused("the token is malformed (it starts with cct_)")
    return m.group(1), m.group(2)


def authenticate_in(tx: Any, token: str, revision: int | None = None) -> Principal:
    """:func:`authenticate` inside an open transaction (``revision``: the admin revision it read, if it did).

    The answer is remembered with the revision (see :func:`remembered`).
    """
    cred_id, secret = _parse(token)
    row = tx.credential(cred_id)
    person = tx.person(row["person_id"]) if row else None
    if row is None or row["kind"] != "token":
        raise _refused("unknown token")
    if row["revoked_at"] is not None:
        raise _refused("the token was revoked")
    if person is None or not person.active:
        raise _refused("the person is deactivated")
    digest = hashlib.sha256(secret.encode()).digest()
    with _lock:
        known = _verified.get(cred_id)
    if known is None or not hmac.compare_digest(known, digest):
        from argon2.exceptions import VerificationError

        try:
            _hasher("token").verify(row["secret_hash"], secret)
        except VerificationError:
            raise _refused("wrong token") from None
        with _lock:
            _verified[cred_id] = digest
    principal = Principal(person_id=person.id, credential_id=cred_id, method="token")
    rev = tx.admin_revision() if revision is None else revision
    with _lock:
        if len(_remembered) >= _REMEMBER_MAX:
            _remembered.clear()
        _remembered[hashlib.sha256(token.strip().encode()).digest()] = (principal, rev)
    return principal


def remembered(token: str) -> tuple[Principal, int] | None:
    """The principal this process last found for ``token``, with the admin revision it was found at.

    Issuing, revoking and every change to a person are entries of the admin chain,
    so while the revision has not moved the answer still holds; a caller re-checks
    it inside its own unit of work (:func:`recheck`), where the revision is read anyway.
    """
    with _lock:
        return _remembered.get(hashlib.sha256(token.strip().encode()).digest())


def recheck(tx: Any, token: str, principal: Principal, remembered_at: int, revision: int) -> None:
    """Inside a unit of work at admin revision ``revision``: refuse a remembered ``principal`` that no longer holds.

    Nothing is read when the revision is the one the principal was found at.

    Raises:
        PermissionDenied (code ``unauthenticated``): the token was revoked or its person deactivated since.
    """
    if revision == remembered_at:
        return
    if authenticate_in(tx, token, revision).person_id != principal.person_id:  # pragma: no cover - ids are fixed
        raise _refused("unknown token")


def check_password(ctx: Context, person: str, password: str) -> Principal:
    """The person, if ``password`` is their current web password.

    Raises:
        PermissionDenied (code ``unauthenticated``): wrong person or password (the same message for both).
    """
    from argon2.exceptions import VerificationError

    with ctx.read() as tx:
        p = tx.person(person)
        rows = [c for c in tx.credentials(person) if c["kind"] == "password" and c["revoked_at"] is None] if p else []
    if p is None or not p.active or not rows:
        _hasher("password").hash("timing-equaliser")
        raise _refused("wrong person or password")
    try:
        _hasher("password").verify(rows[-1]["secret_hash"], password)
    except VerificationError:
        raise _refused("wrong person or password") from None
    return Principal(person_id=p.id, credential_id=rows[-1]["id"], method="password")


def is_admin(ctx: Context, person: str) -> bool:
    with ctx.read() as tx:
        p = tx.person(person)
    return p is not None and p.active and ADMIN_ROLE in p.roles


__all__ = ["FIRST_ADMIN_NEEDED", "CredentialInfo", "Principal", "admin_holders", "authenticate", "authenticate_in",
           "bootstrap_admin", "check_first_admin", "check_password", "credentials", "is_admin", "issue_token",
           "recheck", "remembered", "revoke", "set_password"]
