"""The HTTP side of the client: one keep-alive connection, problem documents back into the library's errors.

A problem document (RFC 9457) from the server carries the error's ``code``,
message ``template`` and ``details``; the client raises the same
:class:`~casecraft.base.errors.CasecraftError` subclass with them, so the
command line translates it exactly as in direct mode (same message, same exit
code). A server that cannot be reached is :class:`UnavailableError` (exit 3).
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from casecraft.base import errors as E

CLASSES: dict[str, type[E.CasecraftError]] = {
    "trigger_not_allowed": E.TriggerNotAllowed, "permission_denied": E.PermissionDenied,
    "unauthenticated": E.PermissionDenied, "conflict": E.ConflictError, "not_found": E.NotFound,
    "rule": E.RuleError, "bad_input": E.InputError, "calendar": E.CalendarError, "workflow_invalid": E.InputError,
    "malformed": E.InputError, "too_large": E.InputError, "database": E.DatabaseError,
    "unavailable": E.UnavailableError, "rate_limited": E.UnavailableError,
}


def error_from(problem: dict[str, Any], status: int) -> E.CasecraftError:
    """The library error a problem document stands for."""
    code = str(problem.get("code") or "error")
    cls = CLASSES.get(code)
    if cls is None:
        cls = E.UnavailableError if status >= 500 else (E.InputError if status < 500 and status != 403
                                                         else E.RuleError)
    template = problem.get("template") or problem.get("detail") or problem.get("title") or f"HTTP {status}"
    raw = problem.get("details")
    details = {k: v for k, v in raw.items() if k not in ("code", "message")} if isinstance(raw, dict) else {}
    return cls(str(template), error_code=code, **details)


class Http:
    """Requests to one casecraft server with one person's token, over a keep-alive connection.

    Args:
        base_url: the server, e.g. ``https://grid.example.org``.
        token: the person's bearer token.
        timeout: seconds to wait for a connection and for each answer.
        transport: an httpx transport (tests pass an ASGI app's).
    """

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        if transport is None and self.base_url.lower().startswith("http://"):
            # A plain-HTTP server: this client never makes a TLS connection, so it need not load a CA bundle
            # (httpx loads certifi's for every client: some 20 ms of each command). The context it gets has no
            # CA at all: a TLS handshake through it would fail, never be trusted unchecked.
            transport = httpx.HTTPTransport(verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport,
                                    headers={"Authorization": f"Bearer {token}", "User-Agent": "casecraft-cli",
                                             "Accept": "application/json"})

    def close(self) -> None:
        self._client.close()

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
                data: dict[str, Any] | None = None, files: list[tuple[str, Any]] | None = None,
                raw: bool = False) -> Any:
        """Send a request; the JSON answer (or the bytes with ``raw``).

        Raises:
            CasecraftError: the server's refusal, as the library's error; UnavailableError when unreachable.
        """
        from casecraft import i18n

        if params:
            params = {k: v for k, v in params.items() if v is not None}
        # the operator's language, for what the server writes in words (export headers, chart titles)
        language = {"Accept-Language": "zh-CN" if i18n.current() == i18n.CHINESE else "en"}
        try:
            response = self._client.request(method, path, params=params, json=json, data=data, files=files,
                                            headers=language)
        except httpx.TimeoutException:
            raise E.UnavailableError("the server {server} did not answer in time; try again later",
                                     server=self.base_url) from None
        except httpx.HTTPError as exc:
            raise E.UnavailableError("the server {server} cannot be reached ({reason}); check --server or "
                                     "CASECRAFT_SERVER, or try again later", server=self.base_url,
                                     reason=type(exc).__name__) from None
        if response.status_code >= 400:
            raise self._error(response)
        if raw:
            return response.content
        if not response.content:
            return None
        return response.json()

    def _error(self, response: httpx.Response) -> E.CasecraftError:
        ctype = response.headers.get("content-type", "")
        if "json" in ctype:
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict) and "code" in body:
                return error_from(body, response.status_code)
        if response.status_code >= 500:
            return E.UnavailableError("the server {server} answered {status}; try again later",
                                      server=self.base_url, status=response.status_code)
        return E.InputError("the server {server} answered {status} to {path}: is --server a casecraft server?",
                            server=self.base_url, status=response.status_code, path=response.request.url.path)


__all__ = ["CLASSES", "Http", "error_from"]
