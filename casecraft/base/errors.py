"""One error root for casecraft, with structured fields.

Every error a user can cause is a :class:`CasecraftError`. Each subclass knows
its exit code and a stable ``code``, so the CLI (and the API) translate errors
in one place:

* 1 — refused by the rules (not allowed, no permission, conflict, unknown case);
* 2 — bad input (usage, invalid YAML, bad date, a file that cannot be read);
* 3 — the database is busy or unreachable: try again later.

A message is a template with named fields (``"no case {case}"``) formatted
with the error's details; the edges (CLI, API, web) translate the template
through the message catalogue and format it with the same details. The engine
never translates.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

_FORMATTER = string.Formatter()


def render(template: str, details: dict[str, Any]) -> str:
    """``template`` formatted with ``details``; the template itself if it does not format."""
    if "{" not in template:
        return template
    try:
        return _FORMATTER.vformat(template, (), details)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError):
        return template


class CasecraftError(Exception):
    """Root of every casecraft error.

    Attributes:
        template: the message template (the catalogue's message id), e.g. ``"no case {case}"``.
        message: the template formatted with ``details``, in English.
        code: a stable machine-readable code (``not_found``, ``permission_denied``, ...).
        exit_code: the CLI exit code this error maps to.
        details: structured fields (case id, trigger, state, allowed triggers, ...).
    """

    exit_code = 1
    code = "error"

    def __init__(self, message: str, *, error_code: str | None = None, **details: Any) -> None:
        self.template = message
        self.details = details
        self.message = render(message, details)
        if error_code is not None:
            self.code = error_code
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "code": self.code, "message": self.message, **self.details}


class RuleError(CasecraftError):
    """Refused by the workflow rules (exit code 1)."""

    code = "rule"

    exit_code = 1


class TriggerNotAllowed(RuleError):
    """The case's state does not allow this trigger."""

    code = "trigger_not_allowed"


class PermissionDenied(RuleError):
    """The actor's role or unit may not fire this trigger on this case."""

    code = "permission_denied"


class ConflictError(RuleError):
    """Someone else changed the case first (optimistic version check failed)."""

    code = "conflict"


class NotFound(RuleError):
    """An unknown case, person, unit, alert or other record."""

    code = "not_found"


class InputError(CasecraftError):
    """Bad input: usage, a bad value, a file that cannot be read (exit code 2)."""

    code = "bad_input"

    exit_code = 2


class CalendarError(InputError):
    """The working calendar lacks what a deadline needs."""

    code = "calendar"


@dataclass(frozen=True)
class Problem:
    """One problem found in a workflow file, with its position (1-based)."""

    file: str
    line: int
    column: int
    message: str
    hint: str | None = None
    path: str = ""
    severity: str = "error"

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}:{self.column}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class WorkflowError(InputError):
    """A workflow file is invalid; ``problems`` lists every problem found."""

    code = "workflow_invalid"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the workflow"
        super().__init__(
            head + ":\n" + "\n".join(str(p) for p in self.problems),
            problems=[str(p) for p in self.problems],
        )


class DatabaseError(CasecraftError):
    """The database cannot be opened or migrated (exit code 2: check --db)."""

    exit_code = 2
    code = "database"


class UnavailableError(CasecraftError):
    """The database is busy (a lock held too long) or the connection was lost: try again later (exit 3)."""

    exit_code = 3
    code = "unavailable"
