"""The command line's words for the library's: where a message names an input, the CLI names its option.

The library says "needs a note"; an operator at the terminal is told the
option to type. Keyed by the library's message template (the catalogue id).
"""

from __future__ import annotations

from casecraft.i18n import N_

CLI_WORDS: dict[str, str] = {
    "'{trigger}' needs a note (a reason or a record of what was done)":
        N_("'{trigger}' needs --note (a reason or a record of what was done)"),
    "parking needs a note (why the case cannot be solved for now)":
        N_("parking needs --note (why the case cannot be solved for now)"),
    "an extension needs a note (the reason)": N_("an extension needs --note (the reason)"),
    "an extension request needs a note (the reason)": N_("an extension request needs --note (the reason)"),
    "denying an extension needs a note (the reason)": N_("denying an extension needs --note (the reason)"),
    "urging needs a note (what is asked of the handling unit)":
        N_("urging needs --note (what is asked of the handling unit)"),
}


def cli_template(template: str) -> str:
    """The CLI's wording of a library message template (the template itself when it has none)."""
    return CLI_WORDS.get(template, template)


__all__ = ["CLI_WORDS", "cli_template"]
