"""Babel extraction method for casecraft's sources (``babel.cfg``: ``[casecraft.i18n_extract:extract: **.py]``).

Besides the usual ``_()``, ``N_()``, ``gettext()`` and ``ngettext()`` calls it finds
the messages casecraft writes without a marker, so no message is left out of the
catalogue:

* the template of every message the library formats with ``render(template, details)``
  (the reasons a person may not act, ...) and of every error (``NotFound("no case {case}", case=...)``: the first
  argument of a call to a class whose name ends in ``Error`` or is one of the
  error family below) — the library never translates, the edges do; a template kept in a module
  constant (``TIMED_OUT = "timed out"``, ``_NOT_FOUND = {"case": "no case {case}"}``) and passed to
  an error in that module is taken from the constant;
* the template of a bad row of an imported file (``RowProblem.of(row, field, template, ...)``);
* in ``casecraft/cli/``: every ``help=`` text and the docstring of every command
  (a public module-level function taking Typer parameters, or one decorated with
  ``.command``/``.callback``), as Typer passes them to Click (``inspect.getdoc``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

GETTEXT = frozenset({"_", "N_", "gettext", "render"})
NGETTEXT = frozenset({"ngettext"})
ERRORS = frozenset({"NotFound", "PermissionDenied", "TriggerNotAllowed", "Malformed", "RateLimited", "TooLarge",
                    "DeliveryFailed", "OrderRefused"})

Message = tuple[int, str | None, Any, list[str]]


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _text(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip():
        return node.value
    return None


def _is_command(fn: ast.FunctionDef) -> bool:
    for dec in fn.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if _name(target) in ("command", "callback"):
            return True
    if fn.name.startswith("_"):
        return False
    params = [*fn.args.args, *fn.args.kwonlyargs]
    return any(a.arg == "ctx" or (a.annotation is not None and "Annotated" in ast.unparse(a.annotation))
               for a in params)


def is_error(name: str) -> bool:
    """Whether a call to ``name`` makes one of casecraft's errors (its first argument is the template)."""
    return name in ERRORS or (name.endswith("Error") and name[:1].isupper())


def constants(tree: ast.Module) -> dict[str, list[tuple[int, str]]]:
    """The module's constants that hold messages: ``NAME = "text"`` and ``NAME = {"key": "text", ...}``."""
    found: dict[str, list[tuple[int, str]]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value
            texts = [_text(value)] if isinstance(value, ast.Constant) else (
                [_text(v) for v in value.values] if isinstance(value, ast.Dict) else [None])
            if texts and all(texts):
                found[node.targets[0].id] = [(node.lineno, t) for t in texts if t]
    return found


def _constant_of(node: ast.expr) -> str | None:
    """The name of the module constant an error's template comes from (``TIMED_OUT``, ``_NOT_FOUND[kind]``)."""
    if isinstance(node, ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def messages(source: str, *, cli: bool) -> Iterator[tuple[int, str | tuple[str, str]]]:
    """(line, message) for every message of a Python module (a pair for a plural)."""
    tree = ast.parse(source)
    consts = constants(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            first = _text(node.args[0]) if node.args else None
            if name in GETTEXT and first:
                yield node.lineno, first
            elif name in NGETTEXT and len(node.args) >= 2:
                plural = _text(node.args[1])
                if first and plural:
                    yield node.lineno, (first, plural)
            elif name == "of" and len(node.args) >= 3 and _text(node.args[2]):  # RowProblem.of(row, field, template)
                yield node.lineno, _text(node.args[2]) or ""
            elif first and is_error(name):
                yield node.lineno, first
            elif node.args and is_error(name) and _constant_of(node.args[0]) in consts:
                yield from consts[_constant_of(node.args[0]) or ""]
            if cli:
                for kw in node.keywords:
                    text = _text(kw.value) if kw.arg == "help" else None
                    if text:
                        yield kw.value.lineno, text
        elif cli and isinstance(node, ast.FunctionDef) and node.col_offset == 0 and _is_command(node):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                yield node.body[0].lineno, doc


def extract(fileobj: Any, keywords: Any, comment_tags: Any, options: dict[str, Any]) -> Iterator[Message]:
    """The Babel extraction method: ``(lineno, funcname, message, comments)`` tuples."""
    source = fileobj.read().decode(options.get("encoding", "utf-8"))
    name = str(getattr(fileobj, "name", ""))
    cli = "/cli/" in name.replace("\\", "/") or options.get("cli") == "true"
    for lineno, message in messages(source, cli=cli):
        if isinstance(message, tuple):
            yield lineno, "ngettext", message, []
        else:
            yield lineno, None, message, []


__all__ = ["constants", "extract", "is_error", "messages"]
