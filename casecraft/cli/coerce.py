"""Typer's conversion of option values, without pydantic for the plain values casecraft's commands take.

Typer (0.29 on) converts each parameter of the command it runs with a pydantic ``TypeAdapter`` built on
first use, and building the first one imports pydantic and its plugin loader (``importlib.metadata``): a
large share of a command's start-up (``casecraft case show --server ...`` imports nothing else of pydantic).
Here a parameter whose type is ``str``, ``int``, ``bool`` or ``list[str]`` (given or defaulted, without a
parser, range, choice or path option) converts a value that is already what the command receives — text
for text, plain decimal digits for an integer, a flag's ``True``/``False``, a tuple of texts for a repeated
option — without any adapter: the same value Typer's adapter returns. Any other value (a mistyped number, a
flag given as text) goes to Typer's own adapter, built then, so the result and every error message are
Typer's. On a Typer without this conversion (older ones coerce through Click's types) nothing is changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin

_DIGITS = frozenset("0123456789")
_PATCHED = False


def _plain(annotation: Any, value: Any) -> tuple[bool, Any]:
    """``(True, converted)`` when ``value`` converts without an adapter to what the adapter gives, else
    ``(False, None)``."""
    kind = type(value)
    if annotation is str:
        return (True, value) if kind is str else (False, None)
    if annotation is int:
        if kind is int:
            return True, value
        if kind is str and value and len(value) <= 18 and _DIGITS.issuperset(value):
            return True, int(value)
        return False, None
    if annotation is bool:
        return (True, value) if kind is bool else (False, None)
    # list[str]: a repeated option arrives as a tuple of texts; the adapter returns them as a list
    if (kind is tuple or kind is list) and all(type(v) is str for v in value):
        return True, list(value)
    return False, None


def _simple(descriptor: Any) -> bool:
    """Whether the parameter's values can take the plain path (its type and options, as Typer resolved them)."""
    info = descriptor.parameter_info
    annotation = descriptor.annotation
    if get_origin(annotation) is list:
        if get_args(annotation) != (str,):
            return False
    elif annotation not in (str, int, bool):
        return False
    return (info.parser is None and info.min is None and info.max is None and not descriptor.is_file
            and not descriptor.is_path and not descriptor.is_choice)


def install() -> None:
    """Give Typer's parameters the plain conversion above (once per process; nothing on older Typers)."""
    global _PATCHED
    if _PATCHED:
        return
    _PATCHED = True
    try:
        from typer import _coercion, core
    except ImportError:
        return
    parameter = getattr(core, "_TyperParameter", None)
    runtime = getattr(_coercion, "RuntimeParam", None)
    build = getattr(_coercion, "build_runtime_param", None)
    if parameter is None or runtime is None or build is None or not hasattr(parameter, "get_runtime_param"):
        return
    typer_param: Callable[[Any], Any] = build  # Typer's own: a value not plain, or a parameter not simple

    @dataclass(frozen=True)
    class PlainRuntimeParam(runtime):  # type: ignore[misc,valid-type]
        """A plain value as it is; anything else through Typer's adapter, built on first need."""

        descriptor: Any = None
        _typer: list[Any] = field(default_factory=list)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            ok, out = _plain(self.annotation, value)
            if ok:
                return out
            if not self._typer:
                self._typer.append(typer_param(self.descriptor))
            return self._typer[0]._coerce_value(value, param=param, ctx=ctx)

    original = parameter.get_runtime_param

    def get_runtime_param(self: Any) -> Any:
        if self._runtime_param is None and _simple(self.type_descriptor):
            d = self.type_descriptor
            self._runtime_param = PlainRuntimeParam(parameter_info=d.parameter_info, annotation=d.annotation,
                                                    descriptor=d)
        return original(self)

    parameter.get_runtime_param = get_runtime_param


__all__ = ["install"]
