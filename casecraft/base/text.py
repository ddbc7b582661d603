"""Checks on text a person types: one policy for every field, every command, every intake.

Text is stored as given (trimmed) or refused; it is never silently altered.
Refused everywhere, with the same message: C0 control characters other than
newline and tab, DEL, C1 controls (U+0080–U+009F), bidirectional overrides
and isolates (U+202A–U+202E, U+2066–U+2069), direction marks (U+200E, U+200F,
U+061C) and zero-width or invisible formatting characters (U+200B–U+200D,
U+2060–U+2064, U+FEFF, U+00AD) and lone surrogates (U+D800–U+DFFF). A text made only of spaces and such
characters is empty. Printing escapes them again (``casecraft.cli.render``),
for rows written before these checks or by other tools.
"""

from __future__ import annotations

import re
from typing import Any

from casecraft.base.errors import InputError, NotFound

MAX_ID = 2**63 - 1
"""The largest id the databases store (a signed 64-bit integer)."""

_INVISIBLE = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad"
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_CONTROL = "".join(chr(c) for c in range(32) if chr(c) not in "\n\t") + "\x7f" + "".join(
    chr(c) for c in range(0x80, 0xA0))
# lone UTF-16 surrogates (U+D800–U+DFFF): no character at all, only what a JSON "\ud800" escape makes; no
# database stores them
_REFUSED = re.compile("[" + re.escape(_CONTROL + _BIDI + _INVISIBLE) + "\ud800-\udfff]")
_BLANK = re.compile(r"^[\s" + re.escape(_INVISIBLE) + r"]*$")


def refused_chars(value: str) -> list[str]:
    """The characters of ``value`` the input policy refuses, as ``U+XXXX`` codes (each once)."""
    return list(dict.fromkeys(f"U+{ord(c):04X}" for c in _REFUSED.findall(value)))


def clean_text(value: str | None, what: str, limit: int, *, required: bool = False,
               single_line: bool = False) -> str | None:
    """A typed text checked by the one policy: trimmed, bounded, no invisible or control characters.

    Args:
        value: the text as given (None: not given).
        what: what it is, for messages ("the note", "the description").
        limit: the most characters allowed.
        required: refuse None and empty text.
        single_line: refuse line breaks too (names, codes).

    Returns:
        The trimmed text, or None when it is empty and not required.

    Raises:
        InputError: empty when required, too long, or with refused characters.
    """
    if value is None:
        if required:
            raise InputError("{what} is required", what=what)
        return None
    if _BLANK.match(value):
        if required:
            raise InputError("{what} must not be empty", what=what)
        return None
    bad = refused_chars(value)
    if single_line and ("\n" in value or "\t" in value):
        bad = ["U+000A" if "\n" in value else "U+0009", *bad]
    if bad:
        raise InputError("{what} contains invisible or control characters ({chars}); remove them and type it "
                         "again", what=what, chars=", ".join(bad[:5]))
    value = value.strip()
    if len(value) > limit:
        raise InputError("{what} is {length} characters; at most {limit} are allowed", what=what,
                         length=len(value), limit=limit)
    return value


_NOT_FOUND = {"case": "no case {case}", "alert": "no alert {alert}", "log": "no log entry {log}"}


def check_id(value: int, kind: str = "case") -> int:
    """An id as the database can hold it (1 .. 2**63-1); anything else is simply not there.

    Args:
        kind: ``case``, ``alert`` or ``log`` (names the detail and the message).

    Raises:
        InputError: ``value`` is not a whole number (a string, a bool).
        NotFound: ``value`` is out of range.
    """
    if not isinstance(value, int) or isinstance(value, bool):  # "1" is not case 1: a caller's mistake, said so
        raise InputError("a {kind} id is a whole number, not {value!r}", kind=kind, value=value)
    if not 1 <= value <= MAX_ID:
        details: dict[str, Any] = {kind: value}
        raise NotFound(_NOT_FOUND[kind], **details)
    return value


__all__ = ["MAX_ID", "check_id", "clean_text", "refused_chars"]
