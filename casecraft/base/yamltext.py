"""A YAML parser's (ruamel's) problem texts as our own message templates, for every YAML file we read.

Shared by the workflow loader and the holiday-notice reader (which sits below the workflows layer).
"""

from __future__ import annotations

from casecraft.base.errors import N_, render, reword, rewording

# ruamel's common problems as our own templates, worded as ruamel words them in English (so the English stays
# as it was) and translated with a hint of what to do; any other problem keeps ruamel's text inside "YAML: {what}"
_RUAMEL = rewording((
    (r"mapping values are not allowed here", N_("YAML: mapping values are not allowed here")),
    (r"could not find expected ':'", N_("YAML: could not find expected ':'")),
    (r"did not find expected key", N_("YAML: did not find expected key")),
    (r"did not find expected '-' indicator", N_("YAML: did not find expected '-' indicator")),
    (r"found unexpected end of stream", N_("YAML: found unexpected end of stream")),
    (r"found character '\\t' that cannot start any token",
     N_("YAML: found character '\\t' that cannot start any token")),
    (r"found character (?P<char>'.*') that cannot start any token",
     N_("YAML: found character {char} that cannot start any token")),
    (r"found unknown escape character (?P<char>'.*')", N_("YAML: found unknown escape character {char}")),
    (r"expected <block end>, but found (?P<found>.+)", N_("YAML: expected <block end>, but found {found}")),
    (r"expected ',' or '(?P<close>[\]}])', but got (?P<found>.+)",
     N_("YAML: expected ',' or '{close}', but got {found}")),
    (r"expected a single document in the stream, but found another document",
     N_("YAML: expected a single document in the stream, but found another document")),
    (r"expected '<document start>', but found (?P<found>.+)",
     N_("YAML: expected '<document start>', but found {found}")),
))


def ruamel_problem(what: str) -> str:
    """A YAML parser's problem text as our own template where we know it, else inside ``YAML: {what}``."""
    return reword(_RUAMEL, what) or render("YAML: {what}", {"what": what})
