"""OpenID Connect: accept an identity provider's ID tokens as bearer credentials, and a browser login.

For organisations that run an identity provider (Keycloak, Authing, an
enterprise WeCom/DingTalk bridge, ...). Configure the issuer, the client id
(the ``aud`` of the ID tokens) and the claim that holds the casecraft person
id (default ``preferred_username``). Then a request may carry
``Authorization: Bearer <ID token>``: its signature is checked against the
provider's published keys (fetched from its discovery document, cached, and
fetched again when a token names an unknown key), its issuer, audience and
expiry are checked, and the claim names the person, who must exist and be
active in the database (read on every request, as for tokens).

``GET /auth/oidc/login`` sends a browser to the provider (authorisation code
flow with PKCE); ``GET /auth/oidc/callback`` exchanges the code and answers
with the ID token, for ``casecraft login`` or a web client to use. The
``state`` carries its own nonce, PKCE verifier and time, sealed with an HMAC
keyed by the client secret, so any ``serve`` process can finish a login
another began: nothing is kept in memory between the two requests.

Uses joserfc (the JOSE library of the authlib project) and authlib's PKCE helper.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse

from casecraft.base.errors import InputError, PermissionDenied
from casecraft.server.common import JSON, call

if TYPE_CHECKING:
    from casecraft.engine import Engine

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]  # never HS*, never none
STATE_TTL = 600.0


def refused(reason: str) -> PermissionDenied:
    return PermissionDenied("authentication failed: {reason}", reason=reason, error_code="unauthenticated")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class OIDC:
    """An identity provider whose ID tokens the server accepts.

    Args:
        issuer: the provider's issuer URL (its discovery document is under ``/.well-known/openid-configuration``).
        audience: the client id the ID tokens are issued to.
        claim: the claim holding the casecraft person id.
        client_secret: the confidential client's secret (needed for the browser login; also seals its state).
        redirect_uri: where the provider sends the browser back (default: this server's /auth/oidc/callback).
        leeway: seconds of clock skew tolerated on ``exp``/``iat``.
    """

    issuer: str
    audience: str
    claim: str = "preferred_username"
    client_secret: str | None = None
    redirect_uri: str | None = None
    leeway: int = 60
    timeout: float = 10.0
    _meta: dict[str, Any] | None = field(default=None, repr=False)
    _keys: Any = field(default=None, repr=False)
    _keys_at: float = field(default=0.0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        try:
            import joserfc  # noqa: F401
        except ImportError:
            raise InputError("OpenID Connect needs authlib: pip install 'casecraft[oidc]'") from None

    # the provider's documents ------------------------------------------------------------------------------
    def _get(self, url: str) -> dict[str, Any]:
        try:
            r = httpx.get(url, timeout=self.timeout, follow_redirects=False)
            r.raise_for_status()
            data = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise refused(f"the identity provider cannot be reached ({type(exc).__name__})") from None
        if not isinstance(data, dict):
            raise refused("the identity provider answered something else than JSON")
        return data

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (fetched once; its issuer must be the configured one)."""
        if self._meta is None:
            meta = self._get(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
            if meta.get("issuer") != self.issuer:
                raise refused("the identity provider's discovery document names another issuer")
            self._meta = meta
        return self._meta

    def keys(self, *, refresh: bool = False) -> Any:
        """The provider's signing keys (cached; fetched again on demand at most once a minute)."""
        from joserfc.jwk import KeySet

        with self._lock:
            stale = refresh and time.monotonic() - self._keys_at > 60
            if self._keys is None or stale:
                self._keys = KeySet.import_key_set(self._get(self.metadata()["jwks_uri"]))  # type: ignore[arg-type]
                self._keys_at = time.monotonic()
            return self._keys

    # ID tokens ----------------------------------------------------------------------------------------------
    def verify(self, token: str, *, nonce: str | None = None) -> dict[str, Any]:
        """The claims of a valid ID token (signature, issuer, audience, expiry; the nonce if given).

        Raises:
            PermissionDenied (``unauthenticated``): anything wrong, with a fixed reason (never the token).
        """
        from joserfc import jwt
        from joserfc.errors import ExpiredTokenError, InvalidKeyIdError, JoseError

        try:
            try:
                decoded = jwt.decode(token, self.keys(), algorithms=ALGORITHMS)
            except InvalidKeyIdError:  # the provider may have rotated its keys
                decoded = jwt.decode(token, self.keys(refresh=True), algorithms=ALGORITHMS)
            checks: dict[str, Any] = {"iss": {"essential": True, "value": self.issuer},
                                      "aud": {"essential": True, "value": self.audience},
                                      "exp": {"essential": True}}
            if nonce is not None:
                checks["nonce"] = {"essential": True, "value": nonce}
            jwt.JWTClaimsRegistry(leeway=self.leeway, **checks).validate(decoded.claims)
        except ExpiredTokenError:
            raise refused("the identity provider's token has expired; log in again") from None
        except (JoseError, ValueError) as exc:
            raise refused(f"the identity provider's token is not valid ({type(exc).__name__})") from None
        return dict(decoded.claims)

    def authenticate(self, engine: Engine, token: str) -> Any:
        """The :class:`~casecraft.admin.auth.Principal` of a valid ID token whose claim names an active person."""
        from casecraft.admin.auth import Principal

        claims = self.verify(token)
        person_id = claims.get(self.claim)
        if not isinstance(person_id, str) or not person_id:
            raise refused(f"the identity provider's token has no '{self.claim}' claim")
        with engine.ctx.read() as tx:
            person = tx.person(person_id)
        if person is None:
            raise refused("the identity provider's user is not a person of this organisation")
        if not person.active:
            raise refused("the person is deactivated")
        return Principal(person_id=person.id, credential_id="oidc:" + str(claims.get("sub", "")), method="oidc")

    # the browser login ----------------------------------------------------------------------------------------
    def _seal(self, payload: dict[str, Any]) -> str:
        if not self.client_secret:
            raise InputError("the OpenID Connect login needs the client secret (CASECRAFT_OIDC_CLIENT_SECRET)")
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        mac = hmac.new(self.client_secret.encode(), body.encode(), hashlib.sha256).digest()
        return f"{body}.{_b64(mac)}"

    def _unseal(self, state: str) -> dict[str, Any]:
        body, _, mac = state.partition(".")
        assert self.client_secret is not None
        good = hmac.new(self.client_secret.encode(), body.encode(), hashlib.sha256).digest()
        try:
            ok = hmac.compare_digest(_unb64(mac), good)
            payload = json.loads(_unb64(body)) if ok else None
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or time.time() - float(payload.get("t", 0)) > STATE_TTL:
            raise refused("the login state is not valid or too old; start the login again")
        return payload

    def login_url(self, callback: str) -> str:
        """Where to send a browser to log in (authorisation code flow with PKCE and a nonce)."""
        from authlib.oauth2.rfc7636 import create_s256_code_challenge

        verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
        state = self._seal({"n": nonce, "v": verifier, "t": time.time()})
        query = {"response_type": "code", "client_id": self.audience, "redirect_uri": self.redirect_uri or callback,
                 "scope": "openid profile", "state": state, "nonce": nonce,
                 "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256"}
        return str(self.metadata()["authorization_endpoint"]) + "?" + urlencode(query)

    def finish(self, code: str, state: str, callback: str) -> dict[str, Any]:
        """Exchange the code for tokens; the verified ID token and the person it names."""
        sealed = self._unseal(state)
        try:
            r = httpx.post(self.metadata()["token_endpoint"], timeout=self.timeout, auth=(self.audience,
                                                                                          self.client_secret or ""),
                           data={"grant_type": "authorization_code", "code": code, "code_verifier": sealed["v"],
                                 "redirect_uri": self.redirect_uri or callback})
            r.raise_for_status()
            tokens = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise refused(f"the identity provider refused the login ({type(exc).__name__})") from None
        id_token = tokens.get("id_token") if isinstance(tokens, dict) else None
        if not isinstance(id_token, str):
            raise refused("the identity provider sent no ID token")
        claims = self.verify(id_token, nonce=sealed["n"])
        return {"id_token": id_token, "person": claims.get(self.claim), "expires_at": claims.get("exp")}

    def router(self) -> APIRouter:
        """The routes of the browser login (no bearer needed: they are how one gets one)."""
        router = APIRouter(prefix="/auth/oidc", tags=["identity"])

        @router.get("/login", summary="Log in through the organisation's identity provider (a redirect)")
        async def login(request: Request) -> RedirectResponse:
            callback = str(request.url_for("oidc_callback"))
            return RedirectResponse(await call(self.login_url, callback), status_code=307)

        @router.get("/callback", name="oidc_callback", summary="Where the identity provider sends the browser back")
        async def callback(request: Request, code: str, state: str) -> JSON:
            done = await call(self.finish, code, state, str(request.url_for("oidc_callback")))
            engine = request.app.state.engine
            await call(self.authenticate, engine, done["id_token"])  # the person must exist and be active
            return JSON(done)

        return router


__all__ = ["ALGORITHMS", "OIDC"]
