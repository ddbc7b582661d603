"""The app as ``casecraft serve`` runs it in each uvicorn worker, configured from the environment.

    uvicorn --factory casecraft.server.asgi:create_from_env

=========================  ===================================================================
``CASECRAFT_DB``           the database URL (as for every command)
``CASECRAFT_RATE_LIMIT``   ``RATE/BURST`` per token and process (default ``50/100``), ``off``
``CASECRAFT_OIDC_ISSUER``  an OpenID Connect issuer whose ID tokens are accepted (optional)
``CASECRAFT_OIDC_AUDIENCE``  the client id those tokens are issued to
``CASECRAFT_OIDC_CLAIM``   the claim naming the casecraft person id (default ``preferred_username``)
=========================  ===================================================================

The server never acts with ``CASECRAFT_TOKEN``: each request acts as its own bearer.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from casecraft.base.errors import InputError
from casecraft.server.security import RateLimit


def rate_limit_from(text: str | None) -> RateLimit | None:
    """``RATE/BURST`` (``50/100``), ``RATE`` (burst = 2 × rate) or ``off``.

    Raises:
        InputError: anything else.
    """
    if text is None or not text.strip():
        return RateLimit()
    text = text.strip().lower()
    if text in ("off", "none", "0"):
        return None
    rate_s, _, burst_s = text.partition("/")
    try:
        rate = float(rate_s)
        burst = int(burst_s) if burst_s else max(1, int(2 * rate))
    except ValueError:
        raise InputError("rate limit {value!r}: give RATE/BURST, e.g. 50/100, or off", value=text) from None
    if not 0 < rate < float("inf") or burst < 1:  # NaN fails the comparison too
        raise InputError("rate limit {value!r}: the rate and burst must be positive", value=text)
    return RateLimit(rate=rate, burst=burst)


def oidc_from_env() -> object | None:
    """The OpenID Connect verifier configured by the environment, or None."""
    issuer = os.environ.get("CASECRAFT_OIDC_ISSUER")
    if not issuer:
        return None
    from casecraft.server.oidc import OIDC

    audience = os.environ.get("CASECRAFT_OIDC_AUDIENCE")
    if not audience:
        raise InputError("CASECRAFT_OIDC_ISSUER is set: set CASECRAFT_OIDC_AUDIENCE (the client id) too")
    return OIDC(issuer=issuer, audience=audience, claim=os.environ.get("CASECRAFT_OIDC_CLAIM", "preferred_username"),
                client_secret=os.environ.get("CASECRAFT_OIDC_CLIENT_SECRET"))


def create_from_env() -> FastAPI:
    """A worker's app: one engine over ``$CASECRAFT_DB``, closed when the worker stops."""
    from casecraft.engine import Engine
    from casecraft.server.app import create_app

    engine = Engine(os.environ.get("CASECRAFT_DB") or None, os.environ.get("CASECRAFT_WORKFLOW") or None, token="")
    return create_app(engine, rate_limit=rate_limit_from(os.environ.get("CASECRAFT_RATE_LIMIT")),
                      oidc=oidc_from_env(), close_engine=True)


__all__ = ["create_from_env", "oidc_from_env", "rate_limit_from"]
