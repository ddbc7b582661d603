"""Plain data from YAML parser events, with the position of every node (see :mod:`.yamlio`).

The events come from libyaml or from ruamel.yaml's pure parser; the data is
built here with an explicit stack (nothing recurses), by the rules a workflow
file needs:

* plain data only: text, integers, floats, true/false, null, lists and
  mappings (YAML 1.2 core schema, so ``no``/``off``/``yes`` stay text); any
  other tag (``!!binary``, ``!!set``, ``!!python/...``, ``!include``) is a
  problem at its node;
* mapping keys are text: a list, a mapping or an alias as a key is a problem
  at the key, never a ``TypeError``; a duplicate key is a problem naming the
  first one; merge keys (``<<``) work as in YAML 1.1;
* bounded: at most :data:`MAX_DEPTH` levels of nesting and :data:`MAX_NODES`
  nodes with every alias expanded (an alias counts the nodes it repeats).

Recoverable problems (a duplicate key, a bad tag) are collected and the rest of
the document is still read; a value refused here is replaced by
:data:`REJECTED`, which no model field accepts. Exceeding a bound raises
:class:`Fatal`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from casecraft.base.errors import N_, Problem, render

MAX_NODES = 200_000
MAX_DEPTH = 64  # a workflow needs six levels; 64 is far beyond any honest file

Loc = tuple[str | int, ...]
Position = tuple[int, int]

_CORE = "tag:yaml.org,2002:"
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?[0-9]+$")
_INT_OTHER = re.compile(r"^0o[0-7]+$|^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_FLOAT_SPECIAL = {".inf": float("inf"), ".Inf": float("inf"), ".INF": float("inf"),
                  "+.inf": float("inf"), "+.Inf": float("inf"), "+.INF": float("inf"),
                  "-.inf": float("-inf"), "-.Inf": float("-inf"), "-.INF": float("-inf"),
                  ".nan": float("nan"), ".NaN": float("nan"), ".NAN": float("nan")}
_PLAIN_DATA = N_("a workflow file holds only text, numbers, true/false, lists and mappings")


def _shown(tag: str) -> str:
    """A tag as written: ``!!binary`` rather than ``tag:yaml.org,2002:binary``."""
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


class Rejected:
    """Stands for a value refused while reading (a bad tag, a recursive alias); no model accepts it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<rejected>"


REJECTED = Rejected()


@dataclass
class YamlDocument:
    """One parsed YAML file: plain data, positions and the recoverable problems found.

    Attributes:
        file: the file name used in problems.
        data: the document as plain dicts, lists and scalars (shared where the file used an alias).
        values: where each node starts (1-based line, column), by path from the root.
        keys: where each mapping key starts, by the path of its value.
        sources: the written text of scalars that are not text (``0101`` read as the number 101).
        problems: recoverable problems (duplicate keys, unsupported tags, non-text keys).
        rejected: the dotted paths where a value was refused and :data:`REJECTED` stands instead.
    """

    file: str
    data: Any = None
    values: dict[Loc, Position] = field(default_factory=dict)
    keys: dict[Loc, Position] = field(default_factory=dict)
    sources: dict[Loc, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    rejected: set[str] = field(default_factory=set)

    def node(self, loc: Sequence[str | int]) -> Loc:
        """The path of the node at ``loc``, or of its nearest ancestor in the document.

        Parts of ``loc`` that are not in the document (pydantic's union tags) are skipped.
        """
        cur: Loc = ()
        for part in loc:
            cand = (*cur, part)
            if cand in self.values:
                cur = cand
        return cur

    def where(self, loc: Sequence[str | int], *, key: bool = False) -> Position:
        """The (line, column) of the node at ``loc`` (see :meth:`node`); with ``key=True`` a final
        mapping key points at the key, else at its value."""
        node = self.node(loc)
        if key and loc and node == tuple(loc) and node in self.keys:
            return self.keys[node]
        return self.values.get(node, (1, 1))

    def source(self, loc: Sequence[str | int]) -> str | None:
        """How the scalar at ``loc`` was written, if it was read as something other than text."""
        return self.sources.get(self.node(loc))

    def problem(self, loc: Sequence[str | int], message: str, hint: str | None = None, *,
                key: bool = False) -> Problem:
        line, col = self.where(loc, key=key)
        return Problem(self.file, line, col, message, hint=hint, path=".".join(str(p) for p in loc))


class Fatal(Exception):
    """A problem that ends reading: too deep, too many nodes, a second document."""

    def __init__(self, line: int, column: int, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.line, self.column, self.message, self.hint = line, column, message, hint


def too_deep(mark: Any) -> Fatal:
    """The problem of a node nested beyond :data:`MAX_DEPTH`, at ``mark`` (0-based)."""
    return Fatal(mark.line + 1, mark.column + 1,
                  render("YAML: the document is nested too deeply (more than {depth} levels)", {"depth": MAX_DEPTH}),
                  render("a workflow needs only a few levels of nesting", {}))


class _Frame:
    __slots__ = ("anchor", "container", "count_at_start", "is_key", "key", "loc", "merges", "pos", "rejected",
                 "skip")

    def __init__(self, container: Any, loc: Loc, pos: Position, anchor: str | None, count: int) -> None:
        self.container = container
        self.loc = loc
        self.pos = pos
        self.anchor = anchor
        self.count_at_start = count
        self.skip = False  # read what is below, record nothing of it (a dropped or rejected node)
        self.is_key = False  # a list or mapping written as a mapping key: dropped with its value
        self.rejected = False  # an unsupported tag: the whole collection becomes REJECTED
        self.key: Any = None  # the pending key of a mapping (None: the next node is a key)
        self.merges: list[tuple[Any, Position]] = []


_NO_KEY = object()  # the pending key of a value dropped with its key (not text, duplicate)
_MERGE = object()  # the pending key of a merge (<<) value
_ALLOWED_SCALAR_TAGS = ("!", _CORE + "str", _CORE + "int", _CORE + "float", _CORE + "bool", _CORE + "null")


class Builder:
    """Plain data from parser events, with an explicit stack (nothing here recurses)."""

    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}  # name -> (value, nodes it expands to)
        self.open_anchors: set[str] = set()
        self.count = 0
        self.documents = 0

    # -- helpers

    def add(self, loc: Loc, pos: Position, message: str, hint: str | None = None) -> None:
        self.doc.problems.append(Problem(self.doc.file, pos[0], pos[1], message, hint=hint,
                                         path=".".join(str(p) for p in loc)))

    def count_nodes(self, n: int, pos: Position) -> None:
        self.count += n
        if self.count > MAX_NODES:
            raise Fatal(pos[0], pos[1], render("the document expands to more than {count} nodes (an alias bomb?)",
                                                {"count": MAX_NODES}),
                         render("do not use YAML anchors and aliases to repeat large blocks", {}))

    def slot(self) -> tuple[Loc | None, bool]:
        """Where the next node goes: its path (None: it is a mapping key) and whether it is dropped."""
        if not self.stack:
            return (), False
        top = self.stack[-1]
        if isinstance(top.container, list):
            return (*top.loc, len(top.container)), top.skip
        key = top.key
        if key is None:
            return None, top.skip
        if key is _NO_KEY:
            return (*top.loc, "?"), True
        if key is _MERGE:
            return (*top.loc, "<<"), top.skip
        return (*top.loc, key), top.skip

    def put(self, value: Any, pos: Position, loc: Loc) -> None:
        """Store a finished node in its parent."""
        if value is REJECTED:
            self.doc.rejected.add(".".join(str(p) for p in loc))
        if not self.stack:
            self.doc.data = value
            return
        top = self.stack[-1]
        if isinstance(top.container, list):
            top.container.append(value)
            return
        key, top.key = top.key, None
        if key is _NO_KEY or top.skip:
            return
        if key is _MERGE:
            top.merges.append((value, pos))
        else:
            top.container[key] = value

    def take_key(self, ev: Any, top: _Frame, pos: Position) -> None:
        """A scalar in key position: text (a number or true/false is kept as written)."""
        tag = ev.tag
        key = str(ev.value)
        if top.skip:
            top.key = _NO_KEY
            return
        if tag is not None and tag not in _ALLOWED_SCALAR_TAGS:
            self.add((*top.loc, key), pos, render("YAML: unsupported tag '{tag}' on a key", {"tag": _shown(tag)}),
                     render(_PLAIN_DATA, {}))
            self.doc.rejected.add(".".join(str(p) for p in (*top.loc, key)))  # "missing key" would follow
            top.key = _NO_KEY
        elif key == "<<" and not ev.style and tag is None:
            top.key = _MERGE
            self.doc.keys[(*top.loc, "<<")] = pos
        elif key in top.container or (*top.loc, key) in self.doc.keys:
            first = self.doc.keys.get((*top.loc, key), (0, 0))[0]
            self.add((*top.loc, key), pos, render('YAML: duplicate key "{key}" (first on line {first})',
                                                           {"key": key, "first": first}),
                     render("each key may appear once in a mapping", {}))
            top.key = _NO_KEY
        else:
            top.key = key
            self.doc.keys[(*top.loc, key)] = pos

    # -- the event loop

    def run(self, events: Iterator[Any]) -> None:
        from ruamel.yaml.events import (
            AliasEvent,
            DocumentStartEvent,
            MappingEndEvent,
            MappingStartEvent,
            ScalarEvent,
            SequenceEndEvent,
            SequenceStartEvent,
        )

        for ev in events:
            cls = type(ev)
            if cls is ScalarEvent:
                self.scalar(ev)
            elif cls is MappingStartEvent:
                self.start(ev, {})
            elif cls is SequenceStartEvent:
                self.start(ev, [])
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                self.end()
            elif cls is AliasEvent:
                self.alias(ev)
            elif cls is DocumentStartEvent:
                self.documents += 1
                if self.documents > 1:
                    m = ev.start_mark
                    raise Fatal(m.line + 1, m.column + 1,
                                 render("YAML: expected a single document in the stream, but found another document",
                                        {}),
                                 render("a workflow file holds one document: remove the second '---'", {}))

    def scalar(self, ev: Any) -> None:
        m = ev.start_mark
        pos = (m.line + 1, m.column + 1)
        self.count_nodes(1, pos)
        loc, skip = self.slot()
        if loc is None:
            self.take_key(ev, self.stack[-1], pos)
            if ev.anchor:
                self.anchors[ev.anchor] = (str(ev.value), 1)
            return
        if not ev.value and not ev.style and ev.tag is None and not ev.anchor and (loc in self.doc.keys or not loc):
            # an empty value (`key:` and nothing, or an empty document) has no place of its own, and
            # the two parsers put it in different ones: point at its key, or at the start
            pos = self.doc.keys.get(loc, (1, 1))
        if not skip:
            self.doc.values[loc] = pos
        value = self.construct(ev, loc, pos, skip)
        if ev.anchor:
            self.anchors[ev.anchor] = (value, 1)
        self.put(value, pos, loc)

    def construct(self, ev: Any, loc: Loc, pos: Position, skip: bool) -> Any:
        value: str = ev.value
        tag = ev.tag
        if tag is None:
            return self.resolve(value, loc, pos, skip) if not ev.style else value  # quoted or block: text
        if tag == "!" or tag == _CORE + "str":
            return value
        if tag in _ALLOWED_SCALAR_TAGS:
            kind = tag[len(_CORE):]
            resolved = self.resolve(value, loc, pos, skip)
            if kind == "float" and isinstance(resolved, int) and not isinstance(resolved, bool):
                return float(resolved)
            wanted = {"int": int, "float": float, "bool": bool, "null": type(None)}[kind]
            if isinstance(resolved, wanted) and (kind == "bool" or not isinstance(resolved, bool)):
                return resolved
            if not skip:
                self.add(loc, pos, render("YAML: '{value}' is not a valid !!{kind}", {"value": value, "kind": kind}),
                         render("remove the tag or fix the value", {}))
            return REJECTED
        if not skip:
            self.add(loc, pos, render("YAML: unsupported tag '{tag}'", {"tag": _shown(tag)}),
                         render(_PLAIN_DATA, {}))
        return REJECTED

    def resolve(self, value: str, loc: Loc, pos: Position, skip: bool) -> Any:
        """YAML 1.2 core schema for a plain scalar; a non-text result remembers how it was written."""
        first = value[:1]
        if first and not (first.isdigit() or first in "-+.~nNtTfF"):
            return value  # the common case: text
        result: Any
        if _NULL.match(value):
            result = None
        elif value in _BOOL:
            result = _BOOL[value]
        elif _INT.match(value) or _INT_OTHER.match(value):
            try:
                result = int(value, 0) if value[:2] in ("0o", "0x") else int(value)
            except ValueError:  # beyond the 4300 digits Python converts: no honest workflow writes that
                if not skip:
                    self.add(loc, pos, render("YAML: the number {start}... has {digits} digits",
                                                  {"start": value[:12], "digits": len(value)}),
                             render("quote it if it is meant as text", {}))
                return REJECTED
        elif _FLOAT.match(value):
            result = float(value)
        elif value in _FLOAT_SPECIAL:
            result = _FLOAT_SPECIAL[value]
        else:
            return value
        if not skip:
            self.doc.sources[loc] = value
        return result

    def start(self, ev: Any, container: Any) -> None:
        m = ev.start_mark
        pos = (m.line + 1, m.column + 1)
        self.count_nodes(1, pos)
        if len(self.stack) >= MAX_DEPTH:
            raise too_deep(m)
        slot, skip = self.slot()
        is_key = slot is None
        loc: Loc = (*self.stack[-1].loc, "?") if slot is None else slot
        if is_key:
            if not skip:
                what = "mapping" if isinstance(container, dict) else "list"
                self.add(loc, pos, render("YAML: a mapping cannot be a mapping key", {}) if what == "mapping"
                         else render("YAML: a list cannot be a mapping key", {}),
                         render("write each key as plain text (`key: value`); `? [...]` and `? {{...}}` are not "
                                "allowed", {}))
            skip = True
        frame = _Frame(container, loc, pos, ev.anchor, self.count - 1)
        frame.is_key = is_key
        tag = ev.tag
        if tag is not None and tag not in ("!", _CORE + ("map" if isinstance(container, dict) else "seq")):
            frame.rejected = True
            if not skip:
                self.add(loc, pos, render("YAML: unsupported tag '{tag}'", {"tag": _shown(tag)}),
                         render(_PLAIN_DATA, {}))
        frame.skip = skip or frame.rejected
        if not skip:
            self.doc.values[loc] = pos
        if ev.anchor:
            self.open_anchors.add(ev.anchor)
        self.stack.append(frame)

    def end(self) -> None:
        frame = self.stack.pop()
        value = REJECTED if frame.rejected else frame.container
        if frame.merges and not frame.skip:
            self.merge(frame)
        if frame.anchor:
            self.open_anchors.discard(frame.anchor)
            self.anchors[frame.anchor] = (value, self.count - frame.count_at_start)
        if frame.is_key:
            self.stack[-1].key = _NO_KEY  # its value is read and dropped
        else:
            self.put(value, frame.pos, frame.loc)

    def merge(self, frame: _Frame) -> None:
        """``<<: *base`` or ``<<: [*a, *b]``: keys written in the mapping win, then the earlier merges."""
        mapping = frame.container
        for value, pos in frame.merges:
            sources = value if isinstance(value, list) else [value]
            if not all(isinstance(s, dict) for s in sources):
                self.add((*frame.loc, "<<"), pos, render("YAML: a merge key (<<) takes a mapping or a list of mappings",
                                                         {}),
                         render("write the keys out", {}))
                continue
            for src in sources:
                for k, v in src.items():
                    if k not in mapping:
                        mapping[k] = v
                        self.doc.values.setdefault((*frame.loc, k), pos)

    def alias(self, ev: Any) -> None:
        m = ev.start_mark
        pos = (m.line + 1, m.column + 1)
        loc, skip = self.slot()
        if loc is None:
            top = self.stack[-1]
            if not skip:
                self.add((*top.loc, "?"), pos, render("YAML: an alias (*{anchor}) cannot be a mapping key",
                                                               {"anchor": ev.anchor}),
                         render("write the key out as plain text", {}))
            top.key = _NO_KEY
            self.count_nodes(1, pos)
            return
        if ev.anchor in self.open_anchors:
            if not skip:
                self.add(loc, pos, render("YAML: the alias *{anchor} refers to a node that contains it",
                                                   {"anchor": ev.anchor}),
                         render("an alias may only repeat a block that is complete", {}))
            value, size = REJECTED, 1
        elif ev.anchor not in self.anchors:
            if not skip:
                self.add(loc, pos, render("YAML: unknown alias *{anchor}", {"anchor": ev.anchor}),
                         render("define the anchor (&name) before using it", {}))
            value, size = REJECTED, 1
        else:
            value, size = self.anchors[ev.anchor]
        self.count_nodes(size, pos)
        if not skip:
            self.doc.values[loc] = pos
        self.put(value, pos, loc)
