"""Errors as ``application/problem+json`` (RFC 9457), translated in one place.

Every :class:`~casecraft.base.errors.CasecraftError` becomes one problem
document carrying the library's stable ``code``, its message ``template`` and
its ``details``, so a client (the CLI over ``--server``) can rebuild the very
same error. The HTTP status follows the code:

=====================  ======  ==================================================
code                   status  why
=====================  ======  ==================================================
unauthenticated        401     no, malformed, unknown, revoked or wrong credential
permission_denied      403     the person may not do this (role, unit)
not_found              404     no such case, alert, unit, ...
conflict               409     someone changed the case first (version check)
trigger_not_allowed    409     the case's current state does not allow the trigger
rule                   422     any other refusal by the rules
bad_input, calendar,   422     the request is well-formed but its values are not
workflow_invalid
malformed              400     the body is not JSON / not a form at all
method_not_allowed     405     the path has no such method (``Allow`` names those it has)
rate_limited           429     too many requests for this token (``Retry-After``)
unavailable, database  503     the database is busy or unreachable (``Retry-After``)
error                  500     anything else
=====================  ======  ==================================================

``trigger_not_allowed`` is 409 rather than 422: the request is valid, but
conflicts with the resource's present state (RFC 9110 §15.5.10); sent again
after the case moved on, the same request may succeed.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from casecraft import i18n
from casecraft.base.errors import (
    CasecraftError,
    DatabaseError,
    InputError,
    Problem,
    RuleError,
    UnavailableError,
    WorkflowError,
)
from casecraft.i18n import N_

PROBLEM_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:casecraft:problem:"

STATUS: dict[str, int] = {
    "unauthenticated": 401, "permission_denied": 403, "not_found": 404, "conflict": 409,
    "trigger_not_allowed": 409, "rule": 422, "bad_input": 422, "calendar": 422, "workflow_invalid": 422,
    "malformed": 400, "rate_limited": 429, "unavailable": 503, "database": 503, "error": 500,
    "too_large": 413, "method_not_allowed": 405,
}
TITLES: dict[str, str] = {
    "unauthenticated": N_("Authentication required"), "permission_denied": N_("Permission denied"),
    "not_found": N_("Not found"), "conflict": N_("Conflict"), "trigger_not_allowed": N_("Trigger not allowed now"),
    "rule": N_("Refused by the rules"), "bad_input": N_("Bad input"), "calendar": N_("Working calendar incomplete"),
    "workflow_invalid": N_("Invalid workflow"), "malformed": N_("Malformed request"),
    "rate_limited": N_("Too many requests"),
    "unavailable": N_("Service unavailable"), "database": N_("Database unavailable"), "error": N_("Internal error"),
    "too_large": N_("Request too large"), "method_not_allowed": N_("Method not allowed"),
}
DEFAULT_TITLE = N_("Error")


def status_for(code: str, exc: CasecraftError | None = None) -> int:
    """The HTTP status of an error code; for a code this table does not know, by the error's kind
    (bad input or a rule: 422, database or service unavailable: 503), else 500."""
    if code in STATUS:
        return STATUS[code]
    if isinstance(exc, (DatabaseError, UnavailableError)):
        return 503
    if isinstance(exc, (InputError, RuleError)):
        return 422
    return 500


def message_for(exc: CasecraftError, request: Request | None) -> str:
    """The human message of an error for this request.

    The one place a message is produced: ``exc.template`` is translated through the
    catalogue for the request's ``Accept-Language`` (English by default) and formatted
    with ``exc.details``. ``code``, ``template`` and ``details`` stay as they are.
    """
    return i18n.error_message(exc, language(request))


def language(request: Request | None) -> str:
    """The language a request asks for in ``Accept-Language`` (English when it asks for none we have)."""
    if request is None:
        return i18n.ENGLISH
    return i18n.from_accept_language(request.headers.get("accept-language"))


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def problem_body(exc: CasecraftError, request: Request | None, status: int | None = None) -> dict[str, Any]:
    """The RFC 9457 document of an error: type, title, status, detail, plus code, template and details.

    Args:
        status: the HTTP status when the router, not the code, decides it (else :func:`status_for`).
    """
    code = exc.code
    status = status or status_for(code, exc)
    title = TITLES.get(code) or {422: TITLES["bad_input"], 503: TITLES["unavailable"]}.get(status, DEFAULT_TITLE)
    body = {"type": TYPE_PREFIX + code, "title": i18n.gettext(title, language(request)), "status": status,
            "detail": message_for(exc, request), "code": code, "template": exc.template,
            "details": _jsonable(exc.details)}
    if isinstance(exc, WorkflowError):
        body["problems"] = [_workflow_problem(p, language(request)) for p in exc.problems]
        body["detail"] = i18n.error_message(exc, language(request)).split("\n", 1)[0] + "\n" + "\n".join(
            _shown(p) for p in body["problems"])
    return body


def _workflow_problem(p: Problem, lang: str) -> dict[str, Any]:
    """One problem of an invalid workflow: its place, the message and hint in the request's language, and
    the English template and details they were made of."""
    message, hint = i18n.problem(p, lang)
    return _jsonable({"file": p.file, "line": p.line, "column": p.column, "severity": p.severity,
                      "message": message, "hint": hint, "template": p.template or p.message,
                      "details": p.details, "hint_template": p.hint_template or p.hint,
                      "hint_details": p.hint_details})


def _shown(p: dict[str, Any]) -> str:
    return f"{p['file']}:{p['line']}:{p['column']}: {p['message']}" + (f" ({p['hint']})" if p["hint"] else "")


def problem_response(exc: CasecraftError, request: Request | None, headers: dict[str, str] | None = None,
                     status: int | None = None) -> Response:
    """The ``application/problem+json`` response of an error (``status``: as :func:`problem_body` takes it)."""
    body = problem_body(exc, request, status)
    extra = dict(headers or {})
    extra.setdefault("Content-Language", "zh-CN" if language(request) == i18n.CHINESE else "en")
    extra.setdefault("Vary", "Accept-Language")
    if body["status"] == 401:
        extra.setdefault("WWW-Authenticate", 'Bearer realm="casecraft"')
    if body["status"] == 503:
        extra.setdefault("Retry-After", "2")
    return Response(json.dumps(body, ensure_ascii=False), status_code=body["status"], headers=extra,
                    media_type=PROBLEM_TYPE)


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "description": "urn:casecraft:problem:<code>"},
        "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
        "code": {"type": "string", "description": "the library's stable error code"},
        "template": {"type": "string", "description": "the message template (the catalogue's id)"},
        "details": {"type": "object", "additionalProperties": True},
        "problems": {"type": "array", "description": "an invalid workflow's problems, each with file, line, column, "
                     "severity, message and hint (in the request's language), template and details",
                     "items": {"type": "object", "additionalProperties": True}},
    },
}
"""The JSON Schema of a problem document (for the OpenAPI document)."""


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these statuses, each a problem document."""
    names = {400: "Malformed request", 401: "Missing, malformed, revoked or wrong token", 403: "Permission denied",
             404: "Not found", 409: "Conflict with the case's present state or version", 413: "Request too large",
             422: "Bad input or refused by the rules", 429: "Rate limit exceeded", 503: "Database unavailable"}
    return {s: {"description": names.get(s, "Problem"),
                "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            for s in statuses}


__all__ = ["PROBLEM_SCHEMA", "PROBLEM_TYPE", "STATUS", "message_for", "problem_body", "problem_response",
           "problem_responses", "language", "status_for"]
