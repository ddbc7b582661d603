"""Safe YAML 1.2 loading that keeps positions for every node.

ruamel.yaml's round-trip loader builds plain data (no Python objects), keeps
``no``/``off`` as strings, refuses duplicate keys, and records line/column
for every mapping key and sequence item, which the validator uses to point
at the exact place of each problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from casecraft.base.errors import Problem, WorkflowError

MAX_BYTES = 2 * 1024 * 1024  # a workflow is a few hundred lines; refuse absurd files early
MAX_NODES = 200_000


def read_yaml(path: Path) -> tuple[Any, str]:
    """Read and parse one YAML file.

    Returns:
        (data, text): the round-trip data (CommentedMap/CommentedSeq with .lc)
        and the raw text.

    Raises:
        WorkflowError: the file is missing, too large, not UTF-8 or not valid YAML.
    """
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise WorkflowError([Problem(name, 1, 1, f"cannot read the file: {exc.strerror}")]) from None
    if len(raw) > MAX_BYTES:
        raise WorkflowError(
            [Problem(name, 1, 1, f"file is {len(raw)} bytes; a workflow file may be at most {MAX_BYTES} bytes")]
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise WorkflowError(
            [Problem(name, line, 1, "file is not UTF-8 text", hint="save it as UTF-8")]
        ) from None
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        what = (exc.problem or "invalid YAML").strip()
        hint = None
        if "duplicate key" in what or "found duplicate key" in str(exc):
            what = _duplicate_message(exc)
            hint = "each key may appear once in a mapping"
        raise WorkflowError([Problem(name, line, col, f"YAML: {what}", hint=hint)]) from None
    except YAMLError as exc:
        raise WorkflowError([Problem(name, 1, 1, f"YAML: {exc}")]) from None
    except RecursionError:
        raise WorkflowError([Problem(name, 1, 1, "YAML: the document is nested too deeply",
                                     hint="a workflow needs only a few levels of nesting")]) from None
    _check_size(data, name)
    return data, text


def _duplicate_message(exc: Exception) -> str:
    first = str(exc).strip().splitlines()
    text = " ".join(line.strip() for line in first if line.strip())
    import re

    m = re.search(r'found duplicate key "([^"]*)"', text)
    return f'duplicate key "{m.group(1)}"' if m else "duplicate key"


def _check_size(data: Any, name: str) -> None:
    """Refuse alias bombs: count nodes as a consumer would see them."""
    count = 0
    stack = [data]
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise WorkflowError(
                [Problem(name, 1, 1, f"the document expands to more than {MAX_NODES} nodes (an alias bomb?)",
                         hint="do not use YAML anchors and aliases to repeat large blocks")]
            )
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def locate(root: Any, loc: Sequence[str | int], *, key: bool = False) -> tuple[int, int]:
    """Return the 1-based (line, column) of the node at ``loc`` under ``root``.

    Walks as deep as the path exists; falls back to the nearest ancestor.
    With ``key=True`` a final mapping key points at the key, else at its value.
    """
    line, col = 1, 1
    node = root
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        lc = getattr(node, "lc", None)
        if isinstance(node, dict) and part in node:
            if lc is not None:
                try:
                    pos = lc.key(part) if (key and last) else lc.value(part)
                    line, col = pos[0] + 1, pos[1] + 1
                except (KeyError, TypeError, AttributeError):
                    pass
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            if lc is not None:
                try:
                    pos = lc.item(part)
                    line, col = pos[0] + 1, pos[1] + 1
                except (KeyError, TypeError, AttributeError):
                    pass
            node = node[part]
        # parts that are not in the data (pydantic union tags) are skipped
    return line, col


def plain(data: Any) -> Any:
    """Convert round-trip containers to plain dicts/lists (keeps scalars)."""
    if isinstance(data, dict):
        return {str(k): plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [plain(v) for v in data]
    if isinstance(data, str):
        return str(data)
    if isinstance(data, bool):
        return bool(data)
    if isinstance(data, int):
        return int(data)
    if isinstance(data, float):
        return float(data)
    return data
