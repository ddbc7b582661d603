"""Which values orjson writes exactly as the standard library's ``json`` writes them.

orjson is about ten times faster than ``json``'s encoder and writes the same text (keys in the same order or
sorted by code point alike, the same string escapes) for text, integers up to 64 bits, booleans, null, lists,
tuples and objects; times go through the caller's ``default`` in both. It writes some floats in another form
(``1e-05`` as ``0.00001``, NaN as null) and refuses integers past 64 bits and keys other than text (a
``TypeError``): the callers give such values to the standard encoder (tests/test_fast_paths.py compares them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

PLAIN = frozenset({str, int, bool, type(None), datetime})
"""The leaf types both encoders write alike (a time through the same ``default``)."""


def plain(obj: Any) -> bool:
    """Whether ``obj`` is made only of :data:`PLAIN` values in dicts, lists and tuples (exact types: a subclass or
    any other type is not plain)."""
    kind = type(obj)
    if kind is dict:
        values = obj.values()
    elif kind is list or kind is tuple:
        values = obj
    else:
        return kind in PLAIN
    for v in values:
        if type(v) not in PLAIN and not plain(v):
            return False
    return True


__all__ = ["PLAIN", "plain"]
