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

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

_FORMATTER = string.Formatter()


class Rendered(str):
    """A message the library formatted: the English text, remembering its ``template`` and ``details``.

    An edge translates it from what it was made of (``gettext(template)`` formatted with the
    details) rather than guessing the template back from the text. Joined or sliced, it is a
    plain ``str`` again.
    """

    template: str
    details: dict[str, Any]

    def __new__(cls, text: str, template: str, details: dict[str, Any]) -> Rendered:
        out = super().__new__(cls, text)
        out.template, out.details = template, dict(details)
        return out

    def __reduce__(self) -> tuple[Any, ...]:
        return (Rendered, (str(self), self.template, self.details))


class Joined(Rendered):
    """Library messages joined into one (``"a; b"``): the edges translate each piece and join them their way."""

    pieces: tuple[str, ...]
    sep: str

    def __new__(cls, pieces: Any, sep: str = "; ") -> Joined:
        items = tuple(pieces)
        out = str.__new__(cls, sep.join(items))
        out.template, out.details, out.pieces, out.sep = "", {}, items, sep
        return out

    def __reduce__(self) -> tuple[Any, ...]:
        return (Joined, (self.pieces, self.sep))


def N_(message: str) -> str:
    """Mark a template for the catalogue (the library never translates; see :mod:`casecraft.i18n`)."""
    return message


def render(template: str, details: dict[str, Any]) -> str:
    """``template`` formatted with ``details``; the template itself if it does not format.

    The result is a :class:`Rendered` string: its ``template`` and ``details`` travel with it.
    """
    if "{" not in template:
        return Rendered(template, template, details)
    try:
        return Rendered(_FORMATTER.vformat(template, (), details), template, details)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError):
        return Rendered(template, template, {})


Rewording = tuple[tuple[re.Pattern[str], str], ...]


def rewording(pairs: Sequence[tuple[str, str]]) -> Rewording:
    """A table of (regular expression, template) pairs for :func:`reword`, compiled once."""
    return tuple((re.compile(pattern), template) for pattern, template in pairs)


def reword(table: Rewording, text: str, *, whole: bool = True) -> str | None:
    """A library's or database's own words as ours: the first template of ``table`` whose pattern matches
    ``text`` (all of it, or with ``whole=False`` its beginning), rendered with the pattern's named groups as
    details; None when no pattern matches."""
    for pattern, template in table:
        found = pattern.fullmatch(text) if whole else pattern.match(text)
        if found:
            return render(template, found.groupdict())
    return None


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
    """One problem found in a workflow file, with its position (1-based).

    ``message`` and ``hint`` are the English texts; ``template``/``details`` and
    ``hint_template``/``hint_details`` are what they were made of (taken from a
    :func:`render` result when not given), so the edges translate each problem.
    """

    file: str
    line: int
    column: int
    message: str
    hint: str | None = None
    path: str = ""
    severity: str = "error"
    template: str = ""
    details: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    hint_template: str = ""
    hint_details: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        for text, template, details in ((self.message, "template", "details"),
                                        (self.hint, "hint_template", "hint_details")):
            if isinstance(text, Rendered) and not getattr(self, template):
                object.__setattr__(self, template, text.template)
                object.__setattr__(self, details, dict(text.details))

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
        template = (N_("{count} problem in the workflow:\n{listed}") if count == 1
                    else N_("{count} problems in the workflow:\n{listed}"))
        super().__init__(template, count=count, listed="\n".join(str(p) for p in self.problems),
                         problems=[str(p) for p in self.problems])


class DatabaseError(CasecraftError):
    """The database cannot be opened or migrated (exit code 2: check --db)."""

    exit_code = 2
    code = "database"


class UnavailableError(CasecraftError):
    """The database is busy (a lock held too long) or the connection was lost: try again later (exit 3)."""

    exit_code = 3
    code = "unavailable"
