"""OpenID Connect against a stub identity provider (a small Starlette app on loopback, in this process).

The stub serves discovery, its keys (JWKS), an authorisation endpoint that
approves whoever ``login_hint`` names, and a token endpoint that checks the
client and the PKCE verifier. The casecraft server accepts its ID tokens as
bearer credentials, maps ``preferred_username`` to a person, and finishes a
browser login begun by any process.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest

pytest.importorskip("joserfc")

from fastapi.testclient import TestClient  # noqa: E402
from joserfc import jwt  # noqa: E402
from joserfc.jwk import KeySet, OctKey, RSAKey  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, RedirectResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from casecraft.base.clock import FixedClock  # noqa: E402
from casecraft.server import create_app  # noqa: E402
from casecraft.server.oidc import OIDC  # noqa: E402
from tests.server_support import T0, sandbox, uvicorn_thread  # noqa: E402

CLIENT, SECRET = "casecraft", "s3cret-of-the-street-office"


class Provider:
    """The stub identity provider's state: keys, codes handed out, and its app."""

    def __init__(self) -> None:
        self.keys = KeySet([RSAKey.generate_key(2048, parameters={"kid": "k1"})])
        self.codes: dict[str, dict[str, Any]] = {}
        self.issuer = ""

    def id_token(self, user: str, *, aud: str = CLIENT, iss: str | None = None, exp_in: int = 300,
                 nonce: str | None = None, keys: KeySet | None = None, kid: str | None = None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": iss or self.issuer, "aud": aud, "sub": f"sub-{user}",
                                  "preferred_username": user, "iat": now, "exp": now + exp_in}
        if nonce:
            claims["nonce"] = nonce
        keys = keys or self.keys
        return jwt.encode({"alg": "RS256", "kid": kid or keys.keys[0].kid}, claims, keys)

    def app(self) -> Starlette:
        async def discovery(request: Request) -> JSONResponse:
            return JSONResponse({"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                                 "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks"})

        async def jwks(request: Request) -> JSONResponse:
            return JSONResponse(self.keys.as_dict(private=False))

        async def authorize(request: Request) -> RedirectResponse:
            q = request.query_params
            code = secrets.token_urlsafe(8)
            self.codes[code] = {"user": q["login_hint"], "nonce": q["nonce"], "challenge": q["code_challenge"],
                                "redirect_uri": q["redirect_uri"]}
            return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}", 302)

        async def token(request: Request) -> JSONResponse:
            form = await request.form()
            auth = base64.b64decode(request.headers["authorization"].split()[1]).decode()
            grant = self.codes.pop(str(form["code"]), None)
            verifier = str(form["code_verifier"]).encode()
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
            if auth != f"{CLIENT}:{SECRET}" or grant is None or challenge != grant["challenge"]:
                return JSONResponse({"error": "invalid_grant"}, 400)
            return JSONResponse({"access_token": "opaque", "token_type": "Bearer",
                                 "id_token": self.id_token(grant["user"], nonce=grant["nonce"])})

        return Starlette(routes=[Route("/.well-known/openid-configuration", discovery), Route("/jwks", jwks),
                                 Route("/authorize", authorize), Route("/token", token, methods=["POST"])])


@pytest.fixture(scope="module")
def idp() -> Iterator[Provider]:
    provider = Provider()
    with uvicorn_thread(provider.app()) as base:
        provider.issuer = base
        yield provider


@pytest.fixture(scope="module")
def server(idp: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    eng = sandbox(f"sqlite:///{tmp_path_factory.mktemp('oidc') / 'oidc.db'}", FixedClock(T0))
    oidc = OIDC(issuer=idp.issuer, audience=CLIENT, client_secret=SECRET)
    with TestClient(create_app(eng, rate_limit=None, oidc=oidc)) as client:
        yield {"client": client, "engine": eng, "oidc": oidc}
    eng.close()


def me(client: TestClient, token: str) -> httpx.Response:
    return client.get("/me", headers={"Authorization": f"Bearer {token}"})


def test_an_id_token_acts_as_the_person_its_claim_names(idp: Provider, server: dict[str, Any]) -> None:
    r = me(server["client"], idp.id_token("zhoumin"))
    assert r.status_code == 200, r.text
    assert (r.json()["id"], r.json()["method"], r.json()["credential"]) == ("zhoumin", "oidc", "oidc:sub-zhoumin")
    made = server["client"].post("/cases", headers={"Authorization": f"Bearer {idp.id_token('wangjg')}"},
                                 json={"source": "patrol", "grid": "110106004005005", "category": "0101", "desc": "x"})
    assert made.status_code == 201 and made.json()["reporter"] == "wangjg"


def test_bad_id_tokens_are_refused(idp: Provider, server: dict[str, Any]) -> None:
    other = KeySet([RSAKey.generate_key(2048, parameters={"kid": "k1"})])
    hs = jwt.encode({"alg": "HS256"}, {"iss": idp.issuer, "aud": CLIENT, "preferred_username": "wangjg",
                                       "exp": int(time.time()) + 300}, OctKey.import_key(SECRET * 2))
    bad = {"expired": idp.id_token("wangjg", exp_in=-3600), "audience": idp.id_token("wangjg", aud="another-app"),
           "issuer": idp.id_token("wangjg", iss="https://evil.example"), "signature": idp.id_token("wangjg",
                                                                                                  keys=other),
           "algorithm": hs, "person": idp.id_token("nobody"), "garbage": "a.b.c"}
    for why, token in bad.items():
        r = me(server["client"], token)
        assert r.status_code == 401 and r.json()["code"] == "unauthenticated", (why, r.text)
        assert token not in r.text


def test_a_deactivated_person_is_refused_at_once(idp: Provider, server: dict[str, Any]) -> None:
    token = idp.id_token("lixia")
    assert me(server["client"], token).status_code == 200
    server["engine"].deactivate("lixia")
    try:
        assert "deactivated" in me(server["client"], token).json()["detail"]
    finally:
        server["engine"].activate("lixia")


def test_rotated_keys_are_fetched_again(idp: Provider, server: dict[str, Any]) -> None:
    assert me(server["client"], idp.id_token("wangjg")).status_code == 200  # keys cached
    server["oidc"]._keys_at -= 120  # the last fetch is older than a minute
    old, idp.keys = idp.keys, KeySet([RSAKey.generate_key(2048, parameters={"kid": "k2"})])
    try:
        assert me(server["client"], idp.id_token("wangjg", kid="k2")).status_code == 200
    finally:
        idp.keys = old
        server["oidc"]._keys_at -= 120


def test_the_browser_login_ends_with_an_id_token_any_process_can_finish(idp: Provider, server: dict[str, Any],
                                                                          tmp_path: Any) -> None:
    client: TestClient = server["client"]
    start = client.get("/auth/oidc/login", follow_redirects=False)
    assert start.status_code == 307
    to_idp = urlparse(start.headers["location"])
    q = parse_qs(to_idp.query)
    assert q["code_challenge_method"] == ["S256"] and q["client_id"] == [CLIENT]
    back = httpx.get(start.headers["location"] + "&login_hint=wujing", follow_redirects=False)
    assert back.status_code == 302
    callback = urlparse(back.headers["location"])
    # a second app (another `serve` process) with its own OIDC object finishes the login
    second = create_app(server["engine"], rate_limit=None,
                        oidc=OIDC(issuer=idp.issuer, audience=CLIENT, client_secret=SECRET))
    with TestClient(second) as other:
        done = other.get(f"{callback.path}?{callback.query}")
        assert done.status_code == 200, done.text
        assert done.json()["person"] == "wujing"
        assert me(other, done.json()["id_token"]).json()["id"] == "wujing"
        forged = parse_qs(callback.query)
        tampered = other.get("/auth/oidc/callback", params={"code": forged["code"][0],
                                                            "state": forged["state"][0][:-2] + "AA"})
        assert tampered.status_code == 401
