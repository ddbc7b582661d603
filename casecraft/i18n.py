"""The operators' language: gettext catalogues, language choice, translation at the edges.

Messages are English in the source and translated through gettext catalogues
managed with Babel (``casecraft/locale/<lang>/LC_MESSAGES/<domain>.po``, compiled
to ``.mo`` files that ship in the wheel; see CONTRIBUTING.md). Two domains:

* ``casecraft``: the library's error templates, the CLI's help and texts, the API's titles;
* ``click``: the texts of Click and Typer themselves (Usage, Options, "Missing option", ...).

The language is chosen at the edge — the CLI from ``--lang``, ``CASECRAFT_LANG``,
then the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``); the API from
``Accept-Language`` — and held in a context variable, so concurrent requests
each keep their own. The engine never translates: its errors carry a template
(the message id) and details, which :func:`error_message` translates and formats.
"""

from __future__ import annotations

import gettext as _gettext
import os
import re
from collections.abc import Mapping
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any

from casecraft.base.errors import Joined, Rendered, render

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "casecraft"
ENGLISH = "en"
CHINESE = "zh_CN"
LANGUAGES = (ENGLISH, CHINESE)

_current: ContextVar[str] = ContextVar("casecraft_language", default=ENGLISH)


def normalise(tag: str | None) -> str | None:
    """``zh_CN``, ``en`` or None (not a language casecraft knows) for a locale or language tag.

    ``zh``, ``zh-CN``, ``zh_CN.UTF-8``, ``zh-Hans``, ``zh_TW`` are Chinese (Simplified is the
    one catalogue); ``en``, ``en_US.UTF-8``, ``C`` and ``POSIX`` are English.
    """
    if not tag:
        return None
    value = tag.strip().split(".", 1)[0].split("@", 1)[0].replace("-", "_").lower()
    if value == "zh" or value.startswith("zh_"):
        return CHINESE
    if value in ("c", "posix", "en") or value.startswith("en_"):
        return ENGLISH
    return None


def detect(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The language: ``explicit`` (``--lang``), else ``CASECRAFT_LANG``, else the locale, else English.

    The locale is the first of ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` that is set (as the C
    library reads it): ``zh_*`` is Chinese, anything else English.
    """
    env = os.environ if environ is None else environ
    for choice in (explicit, env.get("CASECRAFT_LANG")):
        lang = normalise(choice)
        if lang:
            return lang
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            return normalise(value) or ENGLISH
    return ENGLISH


def from_accept_language(header: str | None) -> str:
    """The language for an HTTP ``Accept-Language`` header (RFC 9110 §12.5.4), English by default."""
    if not header:
        return ENGLISH
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip()
        quality = 1.0
        for param in pieces[1:]:
            key, _sep, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, index, tag))
    for _q, _i, tag in sorted(ranked):
        lang = normalise(tag)
        if lang:
            return lang
        if tag == "*":
            return ENGLISH
    return ENGLISH


@lru_cache(maxsize=8)
def translations(lang: str, domain: str = DOMAIN) -> _gettext.NullTranslations:
    """The compiled catalogue of ``domain`` in ``lang`` (English: the identity)."""
    if lang == ENGLISH:
        return _gettext.NullTranslations()
    return _gettext.translation(domain, localedir=str(LOCALE_DIR), languages=[lang], fallback=True)


def set_language(lang: str) -> None:
    """Make ``lang`` the language of this context (the CLI run, the request)."""
    _current.set(lang if lang in LANGUAGES else ENGLISH)


def current() -> str:
    """The language of this context."""
    return _current.get()


def is_chinese(lang: str | None = None) -> bool:
    return (lang or current()) == CHINESE


def gettext(message: str, lang: str | None = None) -> str:
    """``message`` in the language of this context (or ``lang``); itself when the catalogue lacks it."""
    if not message:
        return message
    return translations(lang or current()).gettext(message)


def ngettext(singular: str, plural: str, n: int, lang: str | None = None) -> str:
    return translations(lang or current()).ngettext(singular, plural, n)


def _(message: str, **details: Any) -> str:
    """Translate ``message`` and, with ``details``, format it (``_("{n} case(s)", n=3)``)."""
    text = gettext(message)
    return render(text, details) if details else text


def N_(message: str) -> str:
    """Mark a message for the catalogue without translating it now (translated where it is shown)."""
    return message


def error_message(exc: Any, lang: str | None = None, template: str | None = None) -> str:
    """A :class:`~casecraft.base.errors.CasecraftError`'s message, translated and formatted with its details.

    ``template`` replaces the error's own (the CLI's wording of a library message).
    """
    return render(gettext(template or exc.template, lang), _localised_details(exc.details, lang))


def _localised_details(details: dict[str, Any], lang: str | None) -> dict[str, Any]:
    """Details that are themselves library messages (a reason, a word, a list of problems) shown translated."""
    if not is_chinese(lang):
        return details
    return {key: _localised(key, value, lang) for key, value in details.items()}


def _localised(key: str, value: Any, lang: str | None) -> Any:
    if isinstance(value, Rendered):
        return text(value, lang)
    if not isinstance(value, str):
        return value
    if key in _MESSAGE_KEYS:
        return _joined(value, lang)
    if key in _HINT_KEYS:
        return hint(value, lang)
    if key in _LIST_KEYS:  # one library message a line ("FILE: person P: unknown unit 'U'", "  row 3, grid: ...")
        return "\n".join(_indented(line, lang) for line in value.split("\n"))
    if key == "field" and value in ROW_FIELDS:
        return gettext(ROW_FIELDS[value], lang)
    return value


def _indented(line: str, lang: str | None) -> str:
    body = line.lstrip()
    return line[:len(line) - len(body)] + _joined(body, lang) if body else line


def _joined(value: str, lang: str | None) -> str:
    """A library message, or several joined with "; " (the reasons a unit is still in use), translated."""
    shown = text(value, lang)
    if shown != value or "; " not in value:
        return shown
    parts = [text(part, lang) for part in value.split("; ")]
    return "；".join(parts) if any(p != o for p, o in zip(parts, value.split("; "), strict=True)) else value


_SEPARATORS = {"; ": "；", ", ": "、"}
_MESSAGE_KEYS = frozenset({"reason", "kind", "what", "why", "how"})
_LIST_KEYS = frozenset({"listed", "problems", "lines"})
_HINT_KEYS = frozenset({"hint", "suggestion"})  # "; did you mean X?", " (did you mean X?)": a message in punctuation
_WRAPPED = re.compile(r"([\s;:(]*)(.*?)([\s)]*)", re.S)


def hint(message: str, lang: str | None = None) -> str:
    """A library message wrapped in punctuation (``" (did you mean resolve?)"``) translated, the punctuation kept."""
    found = _WRAPPED.fullmatch(message)
    if not found or not found[2]:
        return message
    return found[1] + text(found[2], lang) + found[3]
_NESTED_WORDS = (N_("more than one"), N_("no"))  # the "how" of an attachment not found
# the "what" of a workflow file's problem ("unknown {what} '{code}'", "duplicate {what} '{value}' ...")
_WORKFLOW_WORDS = (N_("tier"), N_("role"), N_("trigger"), N_("state"), N_("unit"), N_("class"), N_("urgency"),
                   N_("tier id"), N_("role id"), N_("trigger id"), N_("state id"), N_("urgency id"), N_("class id"),
                   N_("category code"))


def text(message: str, lang: str | None = None) -> str:
    """A message the library already formatted (a reason nested in an error, a reason in a table) translated.

    The catalogue's message ids are templates; the one whose fixed parts match ``message`` is
    translated and filled with the values found in their place. A message that matches none stays.
    """
    lang = lang or current()
    if lang == ENGLISH or not message:
        return message
    if isinstance(message, Joined):
        return _SEPARATORS.get(message.sep, message.sep).join(text(piece, lang) for piece in message.pieces)
    if isinstance(message, Rendered) and message.template:  # it knows what it was made of
        return render(gettext(message.template, lang), _localised_details(message.details, lang))
    catalogue = translations(lang)
    exact = catalogue.gettext(message)
    if exact != message:
        return exact
    for msgid, pattern, quoted in _patterns(lang):
        found = pattern.fullmatch(message)
        if found:
            values = {k: _unquote(v) if k in quoted else v for k, v in found.groupdict().items()}
            return render(catalogue.gettext(msgid), _localised_details(values, lang))
    return message


def problem(item: Any, lang: str | None = None) -> tuple[str, str | None]:
    """A workflow :class:`~casecraft.base.errors.Problem`'s message and hint in the chosen language.

    Translated from the problem's ``template``/``details`` (``hint_template``/``hint_details``); a
    problem made without them is matched against the catalogue (:func:`text`).
    """
    def one(shown: str | None, template: str, details: dict[str, Any]) -> str | None:
        if not shown or not is_chinese(lang or current()):
            return shown
        if template:
            return render(gettext(template, lang), _localised_details(details, lang))
        return text(shown, lang)

    return (one(item.message, getattr(item, "template", ""), getattr(item, "details", {})) or "",
            one(item.hint, getattr(item, "hint_template", ""), getattr(item, "hint_details", {})))


def row_problem(item: Any, lang: str | None = None) -> str:
    """A bad row of an imported file (``row 3, grid: ...``) in the chosen language, from its template and details."""
    template = getattr(item, "template", "")
    reason = render(gettext(template, lang), _localised_details(dict(item.details), lang)) if template \
        else _joined(item.reason, lang)
    field = word(ROW_FIELDS, item.field, lang) if item.field in ROW_FIELDS else item.field
    return render(gettext("row {row}, {field}: {reason}", lang), {"row": item.row, "field": field, "reason": reason})


def _unquote(value: str) -> str:
    """The text a ``{field!r}`` was made from: ``'1 day'`` → ``1 day`` (so it is quoted once again, not twice)."""
    import ast

    try:
        found = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value
    return found if isinstance(found, str) else value


@lru_cache(maxsize=4)
def _patterns(lang: str) -> tuple[tuple[str, re.Pattern[str], frozenset[str]], ...]:
    """The catalogue's templates as patterns, most specific (longest fixed text) first."""
    catalogue = translations(lang)
    ids = [m for m in getattr(catalogue, "_catalog", {}) if isinstance(m, str) and "{" in m]
    out: list[tuple[int, str, re.Pattern[str], frozenset[str]]] = []
    for msgid in ids:
        parts = re.split(r"\{(\w+)(?:![rs])?(?::[^}]*)?\}", msgid)
        fixed = "".join(parts[0::2])
        names = parts[1::2]
        if len(fixed.strip()) < 4 or len(set(names)) != len(names):
            continue
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
        quoted = frozenset(re.findall(r"\{(\w+)!r", msgid))
        out.append((len(fixed), msgid, re.compile(regex, re.S), quoted))
    out.sort(key=lambda item: -item[0])
    return tuple((msgid, pattern, quoted) for _n, msgid, pattern, quoted in out)


# Closed vocabularies the CLI and the API show by label: the id stays in --json, the label goes beside it.
# the columns of a work-order file, as a bad row names them (the Chinese headers the import also reads)
ROW_FIELDS = {"ticket": N_("ticket"), "channel": N_("channel"), "received_at": N_("received at"),
              "address": N_("address"), "grid": N_("grid code"), "category": N_("category"),
              "description": N_("description"), "contact": N_("contact")}
SOURCES = {"patrol": N_("patrol"), "informant": N_("informant"), "hotline": N_("hotline"),
           "order": N_("work order")}
OUTCOMES = {"solved": N_("solved"), "unsolved": N_("unsolved")}
ALERT_KINDS = {"warning": N_("warning"), "overdue": N_("overdue"), "reescalation": N_("re-escalation"),
               "urge": N_("urge"), "calendar": N_("calendar")}
ALERT_LINE_KINDS = frozenset({"warning", "overdue", "reescalation"})  # kinds whose text is made from the fields
ALERT_LEVELS = {0: N_("own level"), 1: N_("one level up"), 2: N_("two levels up")}
TIERS = {"grid": N_("grid"), "community": N_("community"), "street": N_("street"), "district": N_("district"),
         "joint": N_("joint meeting"), "city": N_("city")}

REQUIREMENTS = {"note": N_("note"), "target": N_("target"), "outcome": N_("outcome"), "to": N_("to")}
URGENCY = {"normal": N_("normal"), "urgent": N_("urgent")}
SEVERITIES = {"error": N_("error"), "warning": N_("warning")}
CONDITIONS = {"source": (N_("source"), SOURCES), "outcome": (N_("outcome"), OUTCOMES),
              "resolved_tier": (N_("resolved at"), TIERS)}


def condition(text: str, lang: str | None = None) -> str:
    """A transition's condition (``source=patrol``) in the chosen language (``来源=巡查发现``)."""
    key, sep, value = text.partition("=")
    if not sep or key not in CONDITIONS or not is_chinese(lang):
        return text
    label, vocabulary = CONDITIONS[key]
    return f"{gettext(label, lang)}={word(vocabulary, value, lang)}"


def word(vocabulary: Mapping[Any, str], key: Any, lang: str | None = None) -> str:
    """The label of ``key`` in a closed vocabulary, translated; the key itself when unknown."""
    label = vocabulary.get(key)
    return gettext(label, lang) if label else str(key)


def duration(seconds: float, lang: str | None = None) -> str:
    """Time left or overdue: ``23h 59m left`` / ``剩余23小时59分``, ``1d 2h overdue`` / ``超时1天2小时``."""
    late = seconds < 0
    s = int(abs(seconds))
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m = rem // 60
    if is_chinese(lang):
        parts = ([f"{d}天"] if d else []) + ([f"{h}小时"] if h else []) + ([f"{m}分"] if m and not d else [])
        text = "".join(parts) or "0分"
        return f"超时{text}" if late else f"剩余{text}"
    en = ([f"{d}d"] if d else []) + ([f"{h}h"] if h else []) + ([f"{m}m"] if m and not d else [])
    text = " ".join(en) or "0m"
    return f"{text} overdue" if late else f"{text} left"


ALERT_LINE = N_("case {case} ({state}): {kind}, due {due}, at {unit}")


def alert_text(alert: Any, lang: str | None = None) -> str:
    """An alert's text (an :class:`~casecraft.alerts.views.AlertView`) for a reader of ``lang``.

    The text stored when the alert was raised (Chinese: it is what the superior platform
    received) is shown when it is in the reader's language (a library message in English is
    translated through the catalogue); otherwise the line is made again from the alert's fields.
    """
    lang = lang or current()
    stored = alert.message or ""
    if lang == CHINESE:
        return text(stored, lang)
    # (no regex: compiling the class of the CJK ideographs costs a millisecond at import)
    if stored and not any("\u4e00" <= ch <= "\u9fff" for ch in stored):
        return stored
    if stored and alert.kind not in ALERT_LINE_KINDS:  # an urge's note, the calendar notice: only the stored text
        return stored                                   # holds them (a line made from the fields would lose them)
    due = "-"
    if alert.due_at is not None:
        from zoneinfo import ZoneInfo

        due = alert.due_at.astimezone(ZoneInfo(alert.timezone)).strftime("%m-%d %H:%M")
    return render(gettext(ALERT_LINE, lang), {
        "case": alert.case if alert.case is not None else "-", "state": alert.state,
        "kind": word(ALERT_KINDS, alert.kind, lang), "due": due, "unit": alert.unit_name})


def person(name: str | None, ident: str | None) -> str:
    """A person or unit as a reader wants it: ``王建国 (wangjg)``; the id alone when the name is unknown."""
    if not ident:
        return name or ""
    if not name or name == ident:
        return ident
    return f"{name} ({ident})"


__all__ = ["ALERT_KINDS", "ALERT_LEVELS", "CHINESE", "CONDITIONS", "DOMAIN", "ENGLISH", "LANGUAGES", "LOCALE_DIR", "N_",
           "OUTCOMES", "ROW_FIELDS", "SOURCES", "TIERS", "_", "condition", "current", "detect", "duration",
           "error_message", "from_accept_language", "gettext", "hint", "is_chinese", "ngettext", "normalise", "person",
           "problem", "row_problem", "set_language", "text", "translations", "word"]
