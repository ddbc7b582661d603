"""Reading YAML workflow files safely and fast, keeping the position of every node.

:func:`read_document` reads at most :data:`MAX_BYTES`, decodes UTF-8 and parses
with libyaml (``ruamel.yaml.clib``) when it is installed, else with ruamel.yaml's
pure parser, which is also the reference for messages and for what libyaml and
it read differently. Either way the data is built from the parser's events by
:mod:`.yamlevents` (no round-trip composer, no copies), so every node has its
line and column and a non-text key, a bad tag or a duplicate key is a
positioned problem rather than a ``TypeError``.

Depth is bounded before it costs anything: the pure scanner refuses a 65th
level of nesting as it reads the token (its work per token grows with the flow
depth, and it would otherwise take seconds on ten kilobytes of ``[``); with
libyaml the events are consumed as they come and the builder stops at the 65th
level, while the C scanner is never more than a line (at most 1024 characters)
ahead of them.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from casecraft.base.errors import Problem, WorkflowError, render
from casecraft.base.yamltext import ruamel_problem
from casecraft.workflows.yamlevents import (
    MAX_DEPTH,
    MAX_NODES,
    REJECTED,
    Builder,
    Fatal,
    Loc,
    Position,
    Rejected,
    YamlDocument,
    too_deep,
)

MAX_BYTES = 2 * 1024 * 1024  # a workflow is a few hundred lines; refuse absurd files early

# Parsed documents by (file name, SHA-256 of the bytes read, the parser): a file is parsed once per content in a
# process (a server, a test session running the CLI in-process many times), whatever reads it. A
# document is never changed once built: callers read its data and positions, and copy its problems.
_PARSED: OrderedDict[tuple[str, bytes, bool], YamlDocument] = OrderedDict()
_CACHED_FILES = 32
_CACHED_BYTES = 256 * 1024  # larger files (none a real workflow) are parsed every time, never held
_LOCK = threading.Lock()

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "REJECTED", "Loc", "Located", "Position", "Rejected",
           "YamlDocument", "clear_cache", "locate", "parse_text", "plain", "read_document", "read_yaml"]

# What libyaml (YAML 1.1) reads otherwise than ruamel's pure scanner (YAML 1.2), found by the
# property tests in tests/test_fuzz.py: a tab (libyaml allows some that ruamel refuses), an anchor
# or alias name beyond [0-9A-Za-z_-] (ruamel reads `&a:b` as one name), a tag (handles such as
# `!:!`), a directive, and the line breaks of YAML 1.1 that are text in 1.2 (NEL, LS, PS). A file
# with one of them takes the reference path. What is left is malformed syntax that libyaml
# tolerates and ruamel refuses (a comment glued to a block scalar header, `|+2#`): no meaning differs.
_DIVERGENT = re.compile(r"\t|[&*][0-9A-Za-z_-]*[^0-9A-Za-z_\-\s,\[\]{}]|(?:^|[\s\[{,])!|^%|[\x85\u2028\u2029]",
                        re.MULTILINE)


class Located(dict[str, Any]):
    """The root mapping of a document, carrying where each of its nodes was written."""

    __slots__ = ("doc",)
    doc: YamlDocument


def read_document(path: Path) -> YamlDocument:
    """Read and parse one YAML file; the same content under the same name is parsed once per process.

    The document returned may be shared with other callers: read it, never change it.

    Raises:
        WorkflowError: the file is missing, too large, not UTF-8, not valid YAML, nested too
            deeply or expands to too many nodes (with the recoverable problems found before).
    """
    name = str(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)  # never more: a huge file is refused unread
    except OSError as exc:
        raise WorkflowError([Problem(name, 1, 1, render("cannot read the file: {reason}",
                                                        {"reason": exc.strerror}))]) from None
    if len(raw) > MAX_BYTES:
        raise WorkflowError(
            [Problem(name, 1, 1, render("file is more than {size} bytes; a workflow file may be at most {limit} bytes",
                                        {"size": MAX_BYTES, "limit": MAX_BYTES}))]
        )
    key = (name, hashlib.sha256(raw).digest(), _c_parser() is not None) if len(raw) <= _CACHED_BYTES else None
    if key is not None:
        with _LOCK:
            doc = _PARSED.get(key)
            if doc is not None:
                _PARSED.move_to_end(key)
                return doc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise WorkflowError(
            [Problem(name, line, 1, render("file is not UTF-8 text", {}), hint=render("save it as UTF-8", {}))]
        ) from None
    doc = parse_text(text, name)
    if key is not None:
        with _LOCK:
            _PARSED[key] = doc
            while len(_PARSED) > _CACHED_FILES:
                _PARSED.popitem(last=False)
    return doc


def clear_cache() -> None:
    """Forget every parsed file (:func:`read_document` parses each file content once per process)."""
    with _LOCK:
        _PARSED.clear()


def parse_text(text: str, name: str) -> YamlDocument:
    """Parse YAML text (see :func:`read_document`); ``name`` is the file named in problems.

    libyaml (``ruamel.yaml.clib``), when installed, reads a valid file forty times faster than
    the pure parser. It is only a fast path: any text it refuses, any text with a character
    the pure reader refuses and any text with a construct the two read differently
    (:data:`_DIVERGENT`) goes through the pure parser, whose messages and YAML 1.2 rules are
    the reference; property tests hold the two to the same result wherever both read a text.
    """
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.reader import Reader

    c_parser = _c_parser()
    # where the two scanners differ, the rare file takes the reference path: see _DIVERGENT
    if c_parser is not None and not _DIVERGENT.search(text) and Reader._get_non_printable(text) is None:
        doc = YamlDocument(name)
        try:
            Builder(doc).run(_c_events(c_parser, text))
        except Fatal as exc:  # decided on the events, which both parsers agree on
            doc.problems.append(Problem(name, exc.line, exc.column, exc.message, hint=exc.hint))
            raise WorkflowError(doc.problems) from None
        except YAMLError:
            pass  # the pure parser says why, in its own words
        else:
            return doc
    return _parse_pure(text, name)


def _parse_pure(text: str, name: str) -> YamlDocument:
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    doc = YamlDocument(name)
    try:
        Builder(doc).run(_pure_events(text))
    except Fatal as exc:
        doc.problems.append(Problem(name, exc.line, exc.column, exc.message, hint=exc.hint))
        raise WorkflowError(doc.problems) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        what = " ".join((exc.problem or "invalid YAML").split())
        doc.problems.append(Problem(name, line, col, ruamel_problem(what)))
        raise WorkflowError(doc.problems) from None
    except ReaderError as exc:
        line, col = _line_col(text, exc.position)
        char = exc.character
        code = ord(char) if isinstance(char, str) and len(char) == 1 else char
        what = f"#x{code:04x}" if isinstance(code, int) else repr(char)
        doc.problems.append(Problem(name, line, col, render("YAML: unacceptable character {char}: {reason}",
                                                            {"char": what, "reason": exc.reason}),
                                    hint=render("remove it; control characters cannot be written in a workflow file",
                                                {})))
        raise WorkflowError(doc.problems) from None
    except YAMLError as exc:  # any other ruamel error: still a positioned problem, never a traceback
        doc.problems.append(Problem(name, 1, 1, render("YAML: {what}", {"what": " ".join(str(exc).split())})))
        raise WorkflowError(doc.problems) from None
    return doc


def read_yaml(path: Path) -> tuple[Any, str]:
    """Compatibility: ``(data, text)``; a mapping root is a :class:`Located` dict carrying its positions.

    Recoverable problems raise here (callers of this form validate the data themselves);
    use :func:`read_document` to collect them with the others.
    """
    doc = read_document(path)
    if doc.problems:
        raise WorkflowError(doc.problems)
    return located(doc), ""


def located(doc: YamlDocument) -> Any:
    """The document's data; a mapping root as a :class:`Located` dict that :func:`locate` understands."""
    if not isinstance(doc.data, dict):
        return doc.data
    root = Located(doc.data)
    root.doc = doc
    return root


def locate(root: Any, loc: Sequence[str | int], *, key: bool = False) -> Position:
    """The 1-based (line, column) of the node at ``loc`` under a root from :func:`read_yaml`."""
    doc = getattr(root, "doc", None)
    return doc.where(loc, key=key) if isinstance(doc, YamlDocument) else (1, 1)


def plain(data: Any) -> Any:
    """Compatibility: the data is plain already; a :class:`Located` root becomes a plain dict."""
    return dict(data) if isinstance(data, Located) else data


def _line_col(text: str, index: int) -> Position:
    index = max(0, min(index, len(text)))
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _c_parser() -> Any:
    """libyaml's event parser from ruamel.yaml.clib, or None when it is not installed."""
    try:
        from _ruamel_yaml import CParser  # type: ignore[import-not-found]
    except ImportError:
        return None
    return CParser


def _c_events(c_parser: Any, text: str) -> Iterator[Any]:
    parser = c_parser(text)
    try:
        while parser.check_event():
            yield parser.get_event()
    finally:
        parser.dispose()


def _pure_events(text: str) -> Iterator[Any]:
    """The pure parser's events, from a scanner that refuses too deep a nesting as it reads it."""
    from ruamel.yaml import YAML
    from ruamel.yaml.scanner import Scanner

    class BoundedScanner(Scanner):  # type: ignore[misc]
        # The flow collections ([ and {) and the block indentation levels both count: the
        # scanner's cost per token grows with the flow depth, so refuse before it matters.
        def fetch_flow_collection_start(self, token_class: Any, to_push: str) -> None:
            if len(self.flow_context) + len(self.indents) >= MAX_DEPTH:
                raise too_deep(self.reader.get_mark())
            super().fetch_flow_collection_start(token_class, to_push)

        def add_indent(self, column: int) -> bool:
            if self.indent < column and len(self.flow_context) + len(self.indents) >= MAX_DEPTH:
                mark = self.reader.get_mark()
                mark.column = column  # where the new block collection starts, as the events say
                raise too_deep(mark)
            return bool(super().add_indent(column))

    yaml = YAML(typ="safe", pure=True)
    yaml.Scanner = BoundedScanner
    return iter(yaml.parse(text))


