"""One error root for casecraft, with structured fields.

Every error a user can cause is a :class:`CasecraftError`. Each subclass knows
its exit code, so the CLI translates errors in one place:

* 1 — refused by the rules (not allowed, no permission, conflict, unknown case);
* 2 — bad input (usage, invalid YAML, bad date, a file that cannot be read).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class CasecraftError(Exception):
    """Root of every casecraft error.

    Attributes:
        message: the human message, already naming what to do next where possible.
        exit_code: the CLI exit code this error maps to.
        details: structured fields (case id, trigger, state, allowed triggers, ...).
    """

    exit_code = 1

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "message": self.message, **self.details}


class RuleError(CasecraftError):
    """Refused by the workflow rules (exit code 1)."""

    exit_code = 1


class TriggerNotAllowed(RuleError):
    """The case's state does not allow this trigger."""


class PermissionDenied(RuleError):
    """The actor's role or unit may not fire this trigger on this case."""


class ConflictError(RuleError):
    """Someone else changed the case first (optimistic version check failed)."""


class NotFound(RuleError):
    """An unknown case, person, unit, alert or other record."""


class InputError(CasecraftError):
    """Bad input: usage, a bad value, a file that cannot be read (exit code 2)."""

    exit_code = 2


class CalendarError(InputError):
    """The working calendar lacks what a deadline needs."""


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


@dataclass
class _Problems:
    items: list[Problem] = field(default_factory=list)


class WorkflowError(InputError):
    """A workflow file is invalid; ``problems`` lists every problem found."""

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
