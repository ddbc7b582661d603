"""The command line in the operator's language: Click's and Typer's own texts, and every help text.

The language is chosen once per run, before Click parses anything (so "Missing
option" and ``--help`` are already in it): ``--lang`` given before the command,
else ``CASECRAFT_LANG``, else the locale (see :func:`casecraft.i18n.detect`).

* Click and Typer translate their texts with ``gettext.gettext`` bound as ``_`` in
  each module (and ``ngettext``); those names are replaced by functions that read
  the ``click`` catalogue of the chosen language, so nothing global (``textdomain``,
  the process locale) changes.
* Help texts (command docstrings, ``help=``), metavars and type names are set on the
  Click command tree from the ``casecraft`` catalogue at the start of each run; the
  English originals are kept, so a second run in one process (tests) can switch back.
"""

from __future__ import annotations

import gettext as _gettext
import re
import sys
import unicodedata
from collections.abc import Sequence
from functools import cache
from typing import IO, Any

import typer.core

from casecraft import i18n
from casecraft.i18n import N_

_CLICK_DOMAIN = "click"
_PATCHED = False

# Typer's type names in help (``<int>``), and Click's metavars, in Chinese
_TYPES_ZH = {"<int>": "<整数>", "<str>": "<文本>", "<float>": "<数>", "<bool>": "<是/否>",
             "<list[str]>": "<文本，可重复>", "<list[int]>": "<整数，可重复>", "<path>": "<路径>",
             "<file>": "<文件>", "<directory>": "<目录>", "<datetime>": "<时间>"}
_METAVARS_ZH = {"[OPTIONS]": "[选项]", "COMMAND [ARGS]...": "命令 [参数]..."}


# Typer bundles its own Click (typer._click) whose texts are English f-strings, not gettext calls:
# its messages are matched against these patterns and rebuilt from the catalogue's translation.
VENDORED = (
    N_("Missing argument {name}."), N_("Missing option {name}."), N_("Missing parameter {name}."),
    N_("Missing argument {name}. {message}"), N_("Missing option {name}. {message}"),
    N_("No such option: {name}"), N_("No such option: {name} (Possible options: {options})"),
    N_("Invalid value for {name}: {message}"), N_("Invalid value: {message}"),
    N_("Got unexpected extra argument(s) ({args})"), N_("Option {name} requires an argument."),
    N_("Option {name} requires {n} arguments."), N_("Option {name} does not take a value."),
    N_("Input should be a valid integer, unable to parse string as an integer"),
    N_("Input should be a valid number, unable to parse string as a number"),
    N_("Input should be a valid boolean, unable to interpret input"),
    N_("{value!r} is not one of {choices}."), N_("{value!r} is not {choice}."),
    N_("{kind} {path} does not exist."), N_("{kind} {path} is a file."), N_("{kind} {path} is a directory."),
    N_("{kind} {path} is not readable."), N_("{kind} {path} is not writable."),
    N_("Usage: "), N_("Try '{command} {option}' for help."), N_("Error: {message}"),
    N_("Show this message and exit."),
)


@cache
def _pattern(msgid: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)(?:![rs])?\}", msgid)
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
    return re.compile(regex, re.S)


def translate_click(message: str) -> str:
    """A message of Typer's bundled Click in the language of this run (itself in English)."""
    if not i18n.is_chinese():
        return message
    for msgid in sorted(VENDORED, key=len, reverse=True):
        found = _pattern(msgid).fullmatch(message)
        if found:
            values = {k: translate_click(v) if k == "message" else v for k, v in found.groupdict().items()}
            return i18n.gettext(msgid).replace("!r}", "}").format(**values)
    return message


def _click_gettext(message: str) -> str:
    return i18n.translations(i18n.current(), _CLICK_DOMAIN).gettext(message)


def _click_ngettext(singular: str, plural: str, n: int) -> str:
    return i18n.translations(i18n.current(), _CLICK_DOMAIN).ngettext(singular, plural, n)


def _patch_click() -> None:
    """Route Click's and Typer's ``_``/``ngettext`` through the ``click`` catalogue (once per process)."""
    global _PATCHED
    if _PATCHED:
        return
    for name, module in list(sys.modules.items()):
        if not (name == "click" or name.startswith(("click.", "typer"))) or module is None:
            continue
        if getattr(module, "_", None) is _gettext.gettext:
            module._ = _click_gettext  # type: ignore[attr-defined]
        if getattr(module, "ngettext", None) is _gettext.ngettext:
            module.ngettext = _click_ngettext  # type: ignore[attr-defined]
    for cls in (typer.core.TyperArgument, typer.core.TyperOption):
        original = cls.display_type

        def display_type(self: Any, ctx: Any, _original: Any = original) -> str:
            text = _original(self, ctx)
            return _TYPES_ZH.get(text, text) if i18n.is_chinese() else text

        cls.display_type = display_type  # type: ignore[method-assign,assignment]
    _patch_vendored()
    _PATCHED = True


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _width(text: str) -> int:
    """The columns ``text`` takes on a terminal (a Chinese character two, a colour code none), without loading
    Rich: ``--help`` stays light (tests/test_startup.py)."""
    plain = _ANSI.sub("", text)
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in plain)


def _patch_vendored() -> None:
    """Typer's bundled Click: usage prefix, error lines, help option, and CJK-aware column widths."""
    try:
        from typer._click import core, exceptions, formatting
    except ImportError:  # a Typer that uses Click itself: the gettext patch above covers it
        return
    formatting.term_len = _width  # type: ignore[assignment]
    write_usage = formatting.HelpFormatter.write_usage

    def localised_usage(self: Any, prog: str, args: str = "", prefix: str | None = None) -> None:
        write_usage(self, prog, args, i18n.gettext("Usage: ") if prefix is None else prefix)

    formatting.HelpFormatter.write_usage = localised_usage  # type: ignore[method-assign]
    get_help_option = core.Command.get_help_option

    def localised_help_option(self: Any, ctx: Any) -> Any:
        option = get_help_option(self, ctx)
        if option is not None:
            option.help = i18n.gettext("Show this message and exit.")
        return option

    core.Command.get_help_option = localised_help_option  # type: ignore[method-assign]

    def show(self: Any, file: IO[Any] | None = None) -> None:
        from typer._click._compat import get_text_stderr
        from typer._click.utils import echo

        stream = file if file is not None else get_text_stderr()
        ctx = getattr(self, "ctx", None)
        color = getattr(self, "show_color", None)
        if ctx is not None and isinstance(self, exceptions.UsageError):
            color = ctx.color
            hint = ""
            if ctx.command.get_help_option(ctx) is not None:
                hint = i18n.gettext("Try '{command} {option}' for help.").format(
                    command=ctx.command_path, option=ctx.help_option_names[0]) + "\n"
            echo(f"{ctx.get_usage()}\n{hint}", file=stream, color=color)
        echo(i18n.gettext("Error: {message}").format(message=translate_click(self.format_message())),
             file=stream, color=color)

    exceptions.ClickException.show = show  # type: ignore[method-assign]
    exceptions.UsageError.show = show  # type: ignore[method-assign]


def _original(obj: Any, attr: str) -> Any:
    """The English value of ``attr`` on a command or parameter, remembered on first sight."""
    store = obj.__dict__.setdefault("_casecraft_en", {})
    if attr not in store:
        store[attr] = getattr(obj, attr, None)
    return store[attr]


def _localise(command: Any, lang: str) -> None:
    """Set every help text, metavar and usage word of ``command`` and its subcommands in ``lang``."""
    chinese = lang == i18n.CHINESE
    for attr in ("help", "short_help", "epilog"):
        text = _original(command, attr)
        if text:
            setattr(command, attr, i18n.gettext(text, lang))
    metavar = _original(command, "options_metavar")
    if metavar:
        command.options_metavar = _METAVARS_ZH.get(metavar, metavar) if chinese else metavar
    group = isinstance(getattr(command, "commands", None), dict)
    if group:
        sub = _original(command, "subcommand_metavar")
        if sub:
            command.subcommand_metavar = _METAVARS_ZH.get(sub, sub) if chinese else sub
    for param in command.params:
        text = _original(param, "help")
        if text:
            param.help = i18n.gettext(text, lang)  # type: ignore[attr-defined]
    if group:
        for sub_command in command.commands.values():  # type: ignore[attr-defined]
            _localise(sub_command, lang)


def requested(args: Sequence[str]) -> str | None:
    """The value of ``--lang`` among the global options (those before the command), if given."""
    for index, arg in enumerate(args):
        if arg == "--lang" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
        if arg in ("--", "--help") or not arg.startswith("-") and (index == 0 or args[index - 1] not in _VALUED):
            return None
    return None


_VALUED = frozenset({"--db", "--workflow", "--server", "--at", "--lang"})


def activate(command: Any, args: Sequence[str] | None) -> str:
    """Choose the language of this run from ``args``, the environment and the locale; translate ``command``."""
    lang = i18n.detect(requested(list(sys.argv[1:] if args is None else args)))
    i18n.set_language(lang)
    _patch_click()
    _localise(command, lang)
    return lang


class LocalisedGroup(typer.core.TyperGroup):
    """The root command: picks the language before Click parses the arguments."""

    def main(self, args: Sequence[str] | None = None, *a: Any, **kw: Any) -> Any:  # type: ignore[override]
        from casecraft.cli import coerce

        coerce.install()
        activate(self, args)
        return super().main(args, *a, **kw)


__all__ = ["LocalisedGroup", "activate", "requested"]
