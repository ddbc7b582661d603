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
    # the library's words for what to do, and the command or option that does it
    "unknown {what} '{code}'":
        N_("unknown {what} '{code}'; see `casecraft org show`"),
    '{what} {name}({code}) is deactivated; activate it first':
        N_('{what} {name}({code}) is deactivated; activate it first with `casecraft org activate {code}`'),
    "bad version '{ref}': give a version number such as 1 or v1":
        N_("bad version '{ref}': give a version number such as 1 or v1 (see `casecraft workflow versions`)"),
    "bad state mapping '{item}': write OLD_STATE=NEW_STATE":
        N_("bad --map '{item}': write OLD_STATE=NEW_STATE"),
    "the state mapping maps '{old}' twice ({first}, {second})":
        N_("--map maps '{old}' twice ({first}, {second})"),
    "state mapping {src}={dst}: '{src}' is not a state of the old version{suggestion}":
        N_("--map {src}={dst}: '{src}' is not a state of the old version{suggestion}"),
    "state mapping {src}={dst}: '{dst}' is not a state of the new version{suggestion}":
        N_("--map {src}={dst}: '{dst}' is not a state of the new version{suggestion}"),
    "cannot tell the diagram format from '{path}'; name the file .mmd, .dot, .png, .svg or .bpmn, or give the format":
        N_("cannot tell the diagram format from '{path}'; name the file .mmd, .dot, .png, .svg or .bpmn, or give "
           "--format"),
    "the working calendar has no data for {date}: year {year} is missing and the provisional calendar covers only "
    "{first}-{last}; import the year's arrangement or set its dates":
        N_('the working calendar has no data for {date}: year {year} is missing and the provisional calendar covers '
           'only {first}-{last}; add it: run `casecraft calendar import FILE` or `casecraft calendar set DATE '
           'workday|holiday`'),
    "the working calendar has no data for {date}: year {year} is missing; import the year's arrangement or set its "
    "dates":
        N_('the working calendar has no data for {date}: year {year} is missing; add it: run `casecraft calendar '
           'import FILE` or `casecraft calendar set DATE workday|holiday`'),
    'no workday in the {days} days before {date}; check the working calendar':
        N_('no workday in the {days} days before {date}; check the working calendar (`casecraft calendar set DATE '
           'workday`)'),
    "unknown person '{person}'":
        N_("unknown person '{person}'; see `casecraft org show`"),
    "an admin already holds credentials ({holders}): the first admin exists; an admin issues the others' tokens":
        N_('an admin already holds credentials ({holders}): the first admin exists; an admin issues tokens with '
           '`casecraft auth token issue PERSON`'),
    "unknown person '{person}'; the first admin must be in the organisation":
        N_("unknown person '{person}'; the first admin must be in the organisation (see `casecraft org show`)"),
    'give at least one role of the workflow':
        N_('give at least one role (--role), see `casecraft workflow show`'),
    "unknown unit '{code}'":
        N_("unknown unit '{code}'; see `casecraft org show`"),
    'person {id} already exists ({name} at {unit}); move them instead':
        N_('person {id} already exists ({name} at {unit}); use `casecraft '
           'org move-person {id} --to UNIT` to move them'),
    "no person '{id}'":
        N_("no person '{id}'; see `casecraft org show`"),
    "no person or unit '{ref}'":
        N_("no person or unit '{ref}'; see `casecraft org show`"),
    'the two versions are the same (v{number})':
        N_('--from and --to are the same version (v{number})'),
    'another admin published a version at the same moment; look at the versions and publish again if needed':
        N_('another admin published a version at the same moment; look with `casecraft workflow versions` and publish '
           'again if needed'),
    "unknown unit '{unit}'":
        N_("unknown unit '{unit}'; see `casecraft org show`"),
    "no seal key was given (set {env}, or give the key's file)":
        N_('give the seal key: --key-file FILE (or set {env}); make one with `casecraft audit keygen`'),
    '{path} is not a seal key (64 hex digits)':
        N_('{path} is not a seal key (64 hex digits, as `casecraft audit keygen` writes)'),
    '{path} is not a casecraft seal':
        N_('{path} is not a seal written by `casecraft audit seal`'),
    'the database does not verify ({count} problem(s)); resolve them before sealing':
        N_('the database does not verify ({count} problem(s)); run `casecraft audit verify` and resolve them before '
           'sealing'),
    '{value!r} is not an attachment id: give the sha256 (or its first 12 digits) the case lists':
        N_('{value!r} is not an attachment id: give the sha256 (or its first 12 digits) that `casecraft case show '
           '{case}` lists'),
    'case {case} has {how} attachment {sha256}':
        N_('case {case} has {how} attachment {sha256}; see `casecraft case show {case}`'),
    "unknown person '{actor}'":
        N_("unknown person '{actor}'; see `casecraft org show`"),
    "'{trigger}' needs one {tier} unit to send the case to (a unit code)":
        N_("'{trigger}' needs --to with one {tier} unit (a unit code, see `casecraft org show`)"),
    "'{trigger}' needs a target (a person id or a department code); the catalogue names no responsible department at "
    "{tier} for category {category}":
        N_("'{trigger}' needs --to (a person id or a department code); the catalogue names no responsible department "
           "at {tier} for category {category}"),
    "unknown person or unit '{ref}'":
        N_("unknown person or unit '{ref}'; see `casecraft org show`"),
    "a time other than now is allowed only on a sandbox database or for an admin's back-fill; {name}({id}) is not an "
    "admin":
        N_("a time other than now (--at, CASECRAFT_NOW) is allowed only on a sandbox database or for an admin's "
           "back-fill; {name}({id}) is not an admin"),
    "unknown category '{category}'{hint}":
        N_("unknown category '{category}'{hint}; see `casecraft workflow show`"),
    'the page size must be between 1 and {max}':
        N_('--limit must be between 1 and {max}'),
    'the offset must be 0 or more':
        N_('--offset must be 0 or more'),
    "unknown grid '{grid}'; give a grid code (15 digits)":
        N_("unknown grid '{grid}'; give a grid code (15 digits), see `casecraft org show`"),
    "'{trigger}' needs an outcome: {allowed}":
        N_("'{trigger}' needs --outcome {allowed}"),
    'the database has no published workflow yet: initialise it first':
        N_('the database has no published workflow yet: run `casecraft init` first'),
    'workflow version {number} was changed in the database (its rules no longer match their hash); nothing is done '
    'under altered rules: restore the database from a backup and verify it':
        N_('workflow version {number} was changed in the database (its rules no longer match their hash); nothing is '
           'done under altered rules: restore the database from a backup and run `casecraft audit verify`'),
    'a sandbox database has no logins, so it has no first admin':
        N_('--sandbox and --admin exclude each other: a sandbox database has no logins'),
    'this database needs an authenticated person (a token); only a sandbox database does not':
        N_('this database needs an authenticated person: run `casecraft login` or set CASECRAFT_TOKEN (a sandbox '
           'database made with `casecraft init --sandbox` does not)'),
    'administration needs an authenticated admin (a token)':
        N_('administration needs an authenticated admin: run `casecraft login` or set CASECRAFT_TOKEN'),
    'attachment {sha256} no longer has the bytes its hash names; verify the database':
        N_('attachment {sha256} no longer has the bytes its hash names; run `casecraft audit verify`'),
    'a sandbox is only made from a new database; this one holds data already':
        N_('--sandbox is only for a new database; this one holds data already'),
    'say who acts (a person id)':
        N_('say who acts (--actor PERSON); see `casecraft org show`'),
    "the working calendar lacks {missing} date(s) of {month}; import the year's arrangement or set the dates":
        N_('the working calendar lacks {missing} date(s) of {month}; add them with `casecraft calendar import FILE` '
           'or `casecraft calendar set DATE workday|holiday`'),
    'unknown unit {unit!r}; give a platform unit code':
        N_('unknown unit {unit!r}; give a platform unit code, see `casecraft org show`'),
    '{unit!r} is a {tier} unit; a {level} ranking needs a unit at the {level} tier or above':
        N_('{unit!r} is a {tier} unit; a {level} ranking needs --org at the {level} tier or above'),
    "{month} is not over yet; a recorded run is final: give a finished month, up to {last} (the running figures are "
    "the month's report)":
        N_('{month} is not over yet; a recorded run is final: give a finished month, up to {last}. Use `casecraft '
           'report monthly --month {month}` for the running figures'),
    '{limit} months is out of range: give from 1 to {max} months':
        N_('--limit {limit} is out of range: give from 1 to {max} months'),
    'unknown unit {unit!r}':
        N_('unknown unit {unit!r}; see `casecraft org show`'),
    'the number of entries must be between 1 and 100000':
        N_('--limit must be between 1 and 100000'),
    "unknown grid '{grid}'":
        N_("unknown grid '{grid}'; see `casecraft org show`"),
    'the database {db} is damaged or not a casecraft database; restore it from a backup':
        N_('the database {db} is damaged or not a casecraft database; restore it from a backup (`casecraft '
           'import-backup`)'),
    'no database at {path}: check the database URL (a read-only opening never creates one)':
        N_('no database at {path}: check --db (a read-only command never creates one)'),
    "no provisional calendar for {year}: the rules on public holidays it follows apply from {first} and the lunar "
    "library reaches {last}; import the year's arrangement or set its dates":
        N_("no provisional calendar for {year}: the rules on public holidays it follows apply from {first} and the "
           "lunar library reaches {last}; add the year's dates with `casecraft calendar import FILE` or `casecraft "
           "calendar set DATE workday|holiday`"),
    "PNG and SVG need pygraphviz: `pip install 'casecraft[diagrams]'` (or draw the DOT format and run Graphviz "
    "yourself)":
        N_("PNG and SVG need pygraphviz: `pip install 'casecraft[diagrams]'` (or write --format dot and run Graphviz "
           "yourself)"),
}


def cli_template(template: str) -> str:
    """The CLI's wording of a library message template (the template itself when it has none)."""
    return CLI_WORDS.get(template, template)


__all__ = ["CLI_WORDS", "cli_template"]
