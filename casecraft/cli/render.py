"""All terminal output. The only module that imports Rich.

User text (descriptions, notes, names, unit codes, file paths, anything read from a
file or typed) is stored as given and printed through :func:`visible`: Rich markup
and emoji codes stay inert, and every character that is invisible or steers the
terminal (C0/C1 controls, DEL, bidi overrides, zero-width and other format
characters) is shown as a ``\\u202e``-style sequence. Table cells are
:class:`rich.text.Text` built by :func:`cell`, which Rich never parses as markup.

On a terminal Rich wraps and styles. When a stream is not a terminal (a pipe, a
file, cron, a test runner) every message is one plain line, however long — unless
the message itself has line breaks — so scripts can match what casecraft says.
"""

from __future__ import annotations

import json
import re
import sys
from typing import TYPE_CHECKING, Any, cast

from casecraft import i18n
from casecraft.i18n import N_, _

if TYPE_CHECKING:  # Rich is imported where it draws: a plain line on a pipe needs none of it
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

PIPE_WIDTH = 160  # tables on a pipe: wide enough that Chinese columns are not squeezed into 80

# Characters never written raw: C0 controls but the line feed, DEL, C1 controls, every Unicode
# format character (Cf: soft hyphen, zero-width space/joiners, LRM/RLM/ALM, bidi embeddings,
# overrides and isolates, word joiner and invisible operators, BOM, interlinear annotations,
# tag characters), line and paragraph separators, and lone surrogates (which cannot even be encoded).
# tests/test_cli_output.py checks this class against unicodedata over the whole code space.
UNSAFE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f]"
)


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def width(text: str) -> int:
    """The columns ``text`` takes on a terminal: a Chinese character takes two; colour codes none."""
    from rich.cells import cell_len

    return cell_len(_ANSI.sub("", text))


def _shown(match: re.Match[str]) -> str:
    cp = ord(match[0])
    return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


def visible(value: Any) -> str:
    """``value`` as text a terminal shows as written: controls and invisible characters escaped.

    Line feeds stay (a multi-line note is a multi-line cell); every other control,
    DEL, C1, bidi and zero-width character becomes ``\\u202e``-style text. No markup
    is escaped: use the result in a :class:`~rich.text.Text`, or :func:`safe` for markup.
    ``None`` is the empty string.
    """
    if value is None:
        return ""
    return UNSAFE.sub(_shown, str(value))


def safe(value: Any) -> str:
    """:func:`visible` text escaped for a Rich markup string (``f"[bold]{safe(name)}[/]"``)."""
    from rich.markup import escape

    return escape(visible(value))


_escape = safe  # the older name, still used by other command modules


def cell(value: Any, style: str | None = None) -> Text:
    """A table cell (or tree label) of user text: never parsed as markup, controls made visible."""
    from rich.text import Text

    return Text(visible(value), style=style or "")


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


class _StreamConsole:
    """A Rich Console for whatever ``sys.stdout``/``sys.stderr`` is when it is used.

    Test runners and redirections swap the streams after import, so whether the
    stream is a terminal is decided per stream, not once at import time.
    """

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr
        self._stream: Any = None
        self._console: Console | None = None

    def get(self) -> Console:
        stream = sys.stderr if self._stderr else sys.stdout
        if self._console is None or stream is not self._stream:
            from rich.console import Console

            tty = _isatty(stream)
            # a pipe gets no styling whatever FORCE_COLOR says; messages printed straight to stderr
            # are not wrapped there (tables and trees on stdout still fit their labels to the width)
            self._console = Console(file=stream, highlight=False, emoji=False, soft_wrap=self._stderr and not tty,
                                    width=None if tty else PIPE_WIDTH, force_terminal=None if tty else False,
                                    color_system="auto" if tty else None)
            self._stream = stream
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


_OUT = _StreamConsole(stderr=False)
_ERR = _StreamConsole(stderr=True)
out = cast("Console", _OUT)  # tables and messages on stdout
err = cast("Console", _ERR)  # messages on stderr


def console(*, stderr: bool = False) -> Console:
    """The real Console of stdout (or stderr) now, for Rich objects that need one (a progress bar)."""
    return (_ERR if stderr else _OUT).get()


Part = str | tuple[str, str]


def message(*parts: Part, stderr: bool = False) -> None:
    """Print one message made of parts: plain text, or ``(text, style)``; every part is user-safe.

    On a terminal Rich styles and wraps it; elsewhere it is written as one plain line.
    """
    stream = sys.stderr if stderr else sys.stdout
    if not _isatty(stream):  # the plain text of the parts, without building a Console for it
        stream.write("".join(visible(p[0] if isinstance(p, tuple) else p) for p in parts) + "\n")
        stream.flush()
        return
    from rich.text import Text

    console(stderr=stderr).print(Text.assemble(*((visible(p[0]), p[1]) if isinstance(p, tuple) else visible(p)
                                                 for p in parts)))


def line(text: Any, *, stderr: bool = False, style: str | None = None) -> None:
    """Print one message (user text allowed: it is printed as written, made visible)."""
    message((str(text), style) if style else str(text), stderr=stderr)


def print_json(data: Any) -> None:
    """Only JSON on stdout, Chinese unescaped; invisible and control characters as ``\\u`` escapes.

    The escapes are JSON's own, so a parser reads back exactly what was stored.
    """
    text = json.dumps(labelled(data), ensure_ascii=False, indent=2, default=str)
    sys.stdout.write(UNSAFE.sub(_json_escape, text) + "\n")
    sys.stdout.flush()


_LABELLED = (("source", i18n.SOURCES), ("outcome", i18n.OUTCOMES), ("urgency", i18n.URGENCY))


def labelled(data: Any) -> Any:
    """``data`` with a ``*_label`` beside each closed-vocabulary id (source, outcome, urgency, alert level).

    Keys and ids stay as they are (scripts rely on them); the labels are in the chosen language.
    """
    if isinstance(data, list):
        return [labelled(x) for x in data]
    if not isinstance(data, dict):
        return data
    out = {k: labelled(v) for k, v in data.items()}
    for key, vocabulary in _LABELLED:
        value = data.get(key)
        if isinstance(value, str) and value in vocabulary and f"{key}_label" not in data:
            out[f"{key}_label"] = i18n.word(vocabulary, value)
    level = data.get("level")
    if "kind" in data and isinstance(level, int) and level in i18n.ALERT_LEVELS and "level_label" not in data:
        out["level_label"] = i18n.word(i18n.ALERT_LEVELS, level)
    return out


def _json_escape(match: re.Match[str]) -> str:
    cp = ord(match[0])
    if cp <= 0xFFFF:
        return f"\\u{cp:04x}"
    cp -= 0x10000  # a UTF-16 surrogate pair, as JSON spells characters beyond the BMP
    return f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}"


def error(text: str, code: int) -> None:
    """An error message on stderr: ``refused:`` for a rule (exit 1), ``error:`` otherwise."""
    label = _("refused:") if code == 1 else _("error:")
    message((label, "bold red"), "" if label.endswith("：") else " ", text, stderr=True)


def print_table(table: Table) -> None:
    """Print a table; a cell too long for its column folds onto more lines instead of ending in "…".

    Rich counts East-Asian ambiguous characters such as "…" as one column, so they
    stay out of table cells.
    """
    for column in table.columns:
        if column.overflow == "ellipsis":
            column.overflow = "fold"
    out.print(table)


def _local(dt: Any, tz: str) -> str:
    from zoneinfo import ZoneInfo

    if dt is None:
        return ""
    return dt.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def _grid() -> Table:
    from rich.table import Table

    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    return t


def names_of(engine: Any) -> dict[str, str]:
    """Names by person id and unit code, for showing ``王建国 (wangjg)`` in Chinese; nothing in English.

    English output stays as it was (ids), so no organisation is read for it.
    """
    if not i18n.is_chinese():
        return {}
    org = engine.organisation()
    names = {code: u.name for code, u in org.units.items()}
    names.update({pid: p.name for pid, p in org.people.items()})
    return names


def _named(ident: Any, names: dict[str, str]) -> str:
    return i18n.person(names.get(str(ident)), str(ident)) if ident else ""


def case_summary(case: Any, deadline: Any = None, names: dict[str, str] | None = None) -> None:
    """A case's fields, one per row; with ``names``, people and units as ``王建国 (wangjg)``."""
    names = names or {}
    zh = i18n.is_chinese()
    source = i18n.word(i18n.SOURCES, case.source) if zh else case.source
    unit = i18n.person(case.unit_name, case.unit) if zh else f"{case.unit_name} ({case.unit})"
    rows = [
        (_("案件 case"), f"{case.id}  ({source}{' ' + case.ref if case.ref else ''})"),
        (_("状态 state"), f"{case.state_label} ({case.state})"),
        (_("层级 tier"), f"{case.tier_label} ({case.tier})"),
        (_("单位 unit"), unit),
        (_("网格 grid"), case.grid or ""),
        (_("类别 category"), f"{case.category_label} ({case.category}, {_w(i18n.URGENCY, case.urgency)})"),
        (_("描述 description"), case.description),
    ]
    if case.address:
        rows.append((_("地址 address"), case.address))
    if case.assignees:
        rows.append((_("派遣 assignees"), ", ".join(_named(a, names) for a in case.assignees)))
    if getattr(case, "feedback", None):
        rows.append((_("反馈 feedback"), ", ".join(
            f"{k}: {i18n.word(i18n.OUTCOMES, v) if zh else v}" for k, v in case.feedback.items())))
    if getattr(case, "ref", None) and getattr(case, "channel", None):
        rows.append((_("热线 hotline"), f"{case.channel} {case.ref}"
                     + (_(", received {at}", at=_local(case.received_at, case.timezone)) if case.received_at else "")))
    if getattr(case, "contact", None):
        rows.append((_("联系方式 contact"), case.contact))  # masked unless revealed
    rows.append((_("上报 reported"), _("{at} by {person}", at=_local(case.created_at, case.timezone),
                                      person=_named(case.reporter, names))))
    if getattr(case, "parked", False):
        rows.append((_("挂账 parked"), _("yes: in the problem register, clock stopped")))
    req = getattr(case, "extension_request", None)
    if req:
        rows.append((_("延期申请 extension"), _("{by} asked by {person}, awaiting the leader: {note}",
                                             by=_extension_label(req), person=_named(req.get("actor"), names),
                                             note=req.get("note", ""))))
    if deadline is not None:
        rows.append((_("时限 step due"), deadline_line(deadline, case.timezone)))
    if case.deadline_at:
        rows.append((_("案件时限 case due"), _local(case.deadline_at, case.timezone)))
    if case.closed_at:
        rows.append((_("结案 closed"), _local(case.closed_at, case.timezone)))
    backfills = [e for e in getattr(case, "timeline", ()) if getattr(e, "backfill", False)]
    if backfills:
        entries = _("1 entry") if len(backfills) == 1 else _("{count} entries", count=len(backfills))
        rows.append((_("补录 back-filled"), _("{entries} (#{seqs}) entered by an admin for a past time: claimed time "
                                            "shown, recording time kept", entries=entries,
                                            seqs=", #".join(str(e.seq) for e in backfills))))
    rows.append((_("版本 version"), _("{version} (workflow v{workflow_version})", version=case.version,
                                      workflow_version=case.workflow_version)))
    t = _grid()
    for k, v in rows:
        t.add_row(k, cell(v))
    out.print(t)


def _w(vocabulary: dict[Any, str], key: Any) -> str:
    """The label of a closed-vocabulary id in Chinese; the id itself in English (as it always was)."""
    return i18n.word(vocabulary, key) if i18n.is_chinese() else str(key)


def _extension_label(req: dict[str, Any]) -> str:
    by = req.get("label", req.get("by"))
    return limit_label(str(by)) if i18n.is_chinese() and by else str(by)


def limit_label(limit: str) -> str:
    """A time limit as written in the workflow ("1 working day") in the chosen language ("1个工作日")."""
    if not i18n.is_chinese():
        return limit
    from casecraft.base.duration import Duration

    try:
        label = Duration.parse(limit).label
    except (ValueError, TypeError):
        return limit
    return label.replace("工作日", "个工作日") if label.endswith("工作日") else label


def timeline(case: Any, title: str | None = None) -> None:
    """A case's timeline as a table, one row per entry."""
    from rich.table import Table

    table = Table(title=cell(title) if title else None, show_lines=False, expand=False)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("时间", no_wrap=True)
    table.add_column("操作", no_wrap=True)
    table.add_column("人员", no_wrap=True)
    table.add_column("状态", no_wrap=True)
    table.add_column("单位", no_wrap=True)
    table.add_column("说明", overflow="fold", min_width=20)
    zh = i18n.is_chinese()
    for e in case.timeline:
        step = f"{e.trigger_label} {e.trigger}"
        if e.outcome:
            step += f" ({i18n.word(i18n.OUTCOMES, e.outcome) if zh else e.outcome})"
        note = e.note or ""
        if e.target_names:
            # "->", not "→": Rich counts East-Asian ambiguous characters as one column
            note = f"-> {e.target_names}" + (f"; {note}" if note else "")
        if e.attachments:
            files = ", ".join(f"{a['name']} ({a['type']}, {a['size']} B, {a['sha256'][:12]})" for a in e.attachments)
            note = (note + "; " if note else "") + f"附件 {files}"
        if getattr(e, "on_behalf_of", None):
            note = (note + "; " if note else "") + _("代录 entered by {person}", person=e.on_behalf_of)
        if getattr(e, "backfill", False):
            recorded = _(", recorded {at}", at=_local(e.recorded_at, case.timezone)) if e.recorded_at else ""
            note = (note + "; " if note else "") + _("补录 back-fill{recorded}", recorded=recorded)
        actor = i18n.person(e.actor_name, e.actor) if zh else e.actor_name
        table.add_row(str(e.seq), _local(e.at, case.timezone)[5:], cell(step), cell(actor),
                      cell(e.to_state_label), cell(e.unit_name), cell(note))
    print_table(table)


def case_list(cases: list[Any], deadlines: dict[int, Any] | None = None) -> None:
    """Cases as a table with their step deadline; overdue ones in red."""
    from rich.table import Table

    deadlines = deadlines or {}
    table = Table()
    for col in ("案件", _("状态 state"), "层级", _("单位 unit"), "类别", "来源", "上报时间", _("时限 due"), "描述"):
        table.add_column(col)
    for c in cases:
        d = deadlines.get(c.id)
        due = cell(deadline_line(d, c.timezone) if d else "", "red" if d is not None and d.overdue else None)
        table.add_row(str(c.id), cell(f"{c.state_label} ({c.state})"), cell(c.tier_label), cell(c.unit_name),
                      cell(c.category_label), cell(_w(i18n.SOURCES, c.source)), _local(c.created_at, c.timezone), due,
                      cell(c.description[:30]))
    print_table(table)
    line(_("{count} case(s)", count=len(cases)))


def triggers(case: Any, options: list[Any], actor: str | None) -> None:
    """What may happen next to a case, and (with an actor) whether that person may."""
    line(_("案件 {case}: {state_label} ({state}) at {unit_name}", case=case.id, state_label=case.state_label,
           state=case.state, unit_name=case.unit_name))
    if not options:
        line(_("nothing may happen next: the case is finished"))
        return
    from rich.table import Table

    table = Table()
    for col in (_("操作 trigger"), _("去向 next state"), _("角色 roles"), _("须填 requires"), "执行方"):
        table.add_column(col)
    if actor:
        table.add_column(cell(f"{actor}?"))
    for o in options:
        dests = ", ".join(f"{lbl} ({d})" for d, lbl in zip(o.dest, o.dest_labels, strict=False))
        if o.conditions:
            dests += "  [" + ", ".join(i18n.condition(c) for c in o.conditions) + "]"
        requires = ", ".join(_w(i18n.REQUIREMENTS, r) for r in o.requires)
        row = [f"{o.label} {o.trigger}", dests, ", ".join(o.role_labels), requires or "-",
               "被派遣方" if o.actor == "assignee" else "本单位"]
        if actor:
            row.append(_("yes") if o.allowed else _("no: {reason}", reason=i18n.text(o.reason or "")))
        table.add_row(*[cell(x) for x in row])
    print_table(table)


def workflow_tree(wf: Any) -> None:
    """The workflow as a tree: tiers and their states with transitions, roles, categories."""
    from rich.text import Text
    from rich.tree import Tree

    from casecraft.base.duration import Duration

    root = Tree(Text.assemble((visible(wf.name), "bold"),
                              visible(_(" ({id}, timezone {timezone}, hash {hash})", id=wf.id,
                                        timezone=wf.timezone, hash=wf.content_hash[:12]))))
    settings = wf.file.workflow
    root.add(cell(_("工作时段 working hours: {hours}; 预警 warn at {percent}%; 再升级 re-escalate after {after}",
                    hours=", ".join(settings.working_hours), percent=int(settings.warn_at * 100),
                    after=limit_label(str(settings.reescalate_after)))))
    tiers = root.add(cell(_("层级 tiers"), "bold"))
    for tier in wf.file.tiers:
        branch = tiers.add(cell(f"{tier.label} ({tier.id})"))
        for st in wf.file.states:
            if st.tier != tier.id:
                continue
            limit = f"  时限 {Duration.parse(st.limit).label}" if st.limit else ""
            final = _("  [终态 final]") if st.final else ""
            sb = branch.add(cell(f"{st.label} ({st.id}){limit}{final}"))
            for tr in wf.transitions_from(st.id):
                roles = ", ".join(wf.roles[r].label for r in tr.roles if r in wf.roles)
                extra = []
                if tr.when:
                    extra += [i18n.condition(f"{k}={v}") for k, v in tr.when.given()]
                if tr.requires:
                    extra.append(_("requires {fields}", fields="+".join(_w(i18n.REQUIREMENTS, r) for r in tr.requires)))
                if tr.actor == "assignee":
                    extra.append(_("by assignee"))
                suffix = f"  [{'; '.join(extra)}]" if extra else ""
                sb.add(cell(f"{wf.trigger_label(tr.trigger)} {tr.trigger} → {tr.dest}  ({roles}){suffix}"))
    roles_branch = root.add(cell(_("角色 roles"), "bold"))
    for r in wf.file.roles:
        roles_branch.add(cell(f"{r.label} ({r.id}){_('  scope: subtree') if r.scope == 'subtree' else ''}"))
    cats = root.add(cell(_("事件目录 categories"), "bold"))
    for c in wf.file.categories:
        resp = ", ".join(f"{k}: {v}" for k, v in c.responsible.items())
        limit = Duration.parse(c.limit).label if c.limit else "-"
        urgency = i18n.word(i18n.URGENCY, c.urgency) if i18n.is_chinese() else c.urgency
        cats.add(cell(f"{c.code} {c.label} ({c.event_class}, {urgency}) 时限 {limit}; 责任 {resp}"))
    out.print(root)


def org_tree(org: Any, role_labels: dict[str, str] | None = None) -> None:
    """The organisation as a tree of units with their people (roles by their workflow labels in Chinese)."""
    from rich.text import Text
    from rich.tree import Tree

    role_labels = role_labels or {}
    by_parent: dict[str | None, list[Any]] = {}
    for u in org.units.values():
        parent = u.parent if u.parent in org.units else None
        by_parent.setdefault(parent, []).append(u)
    people_by_unit: dict[str, list[Any]] = {}
    for p in org.people.values():
        people_by_unit.setdefault(p.unit, []).append(p)
    root = Tree(cell(_("组织架构 organisation"), "bold"))
    zh = i18n.is_chinese()

    def add(branch: Any, unit: Any) -> None:
        kind = {"department": " 科室", "area_unit": " 地区单位"}.get(unit.kind, "")
        inactive = _(" [停用 inactive]") if not unit.active else ""
        tier = i18n.word(i18n.TIERS, unit.tier) if zh else unit.tier
        node = branch.add(Text.assemble((visible(unit.name), "bold"),
                                        visible(f" ({unit.code}, {tier}{kind}){inactive}")))
        for p in sorted(people_by_unit.get(unit.code, []), key=lambda p: p.id):
            note = f" {p.note}" if p.note else ""
            roles = ", ".join(role_labels.get(r, r) for r in p.roles) if zh else ", ".join(p.roles)
            node.add(cell(f"{p.name} ({p.id}) {roles}{note}{'' if p.active else ' [停用]'}"))
        for child in sorted(by_parent.get(unit.code, []), key=lambda u: (u.kind != "department", u.code)):
            add(node, child)

    for u in sorted(by_parent.get(None, []), key=lambda u: u.code):
        add(root, u)
    out.print(root)


def problems(items: list[Any]) -> None:
    """Workflow problems on stderr, one per line: FILE:LINE:COL: severity: message (hint)."""
    for p in items:
        colour = "yellow" if p.severity == "warning" else "red"
        shown, hint = i18n.problem(p)
        parts: list[Part] = [f"{p.file}:{p.line}:{p.column}: ", (f"{i18n.word(i18n.SEVERITIES, p.severity)}:", colour),
                             f" {shown}"]
        if hint:
            parts.append((f" ({hint})", "dim"))
        message(*parts, stderr=True)


def kv(title: str, items: dict[str, Any]) -> None:
    """A title and key/value rows."""
    t = _grid()
    for k, v in items.items():
        t.add_row(cell(k), cell(v))
    message((i18n.gettext(title), "bold"))
    out.print(t)


_HOLIDAY_NAMES = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节", "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}

_WEEKDAYS = {"Mon": "周一", "Tue": "周二", "Wed": "周三", "Thu": "周四", "Fri": "周五", "Sat": "周六", "Sun": "周日"}

_CALENDAR_HINT = N_(
    "add the dates:\n"
    "  casecraft calendar import FILE                (CSV: date,status[,note]; status workday or holiday)\n"
    "  casecraft calendar set DATE workday|holiday   (one date, e.g. 2027-01-01)\n"
    "  casecraft calendar seed --year YEAR           (years the chinesecalendar package knows)")


def calendar_year(summary: dict[str, Any]) -> None:
    """One year of the working calendar: per-month counts, holidays and 调休 make-up working days.

    ``summary`` is what :func:`casecraft.cli.calendar.year_summary` returns. A year
    without any date prints how to add it, on stderr.
    """
    from rich.table import Table
    from rich.text import Text

    year = summary["year"]
    if not summary["present"]:
        message((_("no working calendar for {year}:", year=year), "bold red"),
                _(" the calendar has no date of that year, so deadlines reaching into it cannot be computed."),
                "\n" + _(_CALENDAR_HINT), stderr=True)
        return

    def short(iso: str) -> str:
        return iso[5:]

    def weekday(day: str) -> str:
        return _WEEKDAYS.get(day, day) if i18n.is_chinese() else day

    def name(n: str) -> str:
        zh = _HOLIDAY_NAMES.get(n)
        if zh and i18n.is_chinese():
            return zh
        return f"{zh} {n}" if zh else n

    def source(sources: list[str]) -> Text:
        extra = [i18n.gettext(s) for s in sources if s != "chinesecalendar"]
        return cell(f" ({', '.join(extra)})", "dim") if extra else Text()

    notes: dict[int, list[Text]] = {m: [] for m in range(1, 13)}
    for h in summary["holidays"]:
        # "～", not "–": Rich counts East-Asian ambiguous characters as one column
        span = short(h["from"]) if h["from"] == h["to"] else f"{short(h['from'])}～{short(h['to'])}"
        label = " / ".join(name(n) for n in h["names"]) or _("休息 holiday")
        days = _("1 day") if h["days"] == 1 else _("{count} days", count=h["days"])
        notes[int(h["from"][5:7])].append(Text.assemble(
            cell(span, "red"), visible(f" {label} ({days})"), source(h["sources"])))
    for d in summary["makeup_workdays"]:
        label = d["note"] or "调休"
        if "调休" not in label:
            label = f"调休 {label}"
        notes[int(d["date"][5:7])].append(Text.assemble(
            cell(short(d["date"]), "yellow"),
            visible(f" ({weekday(d['weekday'])}) {label}" + _(" make-up working day")),
            source([d["source"]])))

    show_missing = summary["missing_count"] > 0
    table = Table(title=f"{year} " + _("工作日历 working calendar"), expand=False)
    table.add_column(_("月 month"), justify="right", no_wrap=True)
    table.add_column(_("工作日 workdays"), justify="right", no_wrap=True)
    table.add_column(_("休息日 rest days"), justify="right", no_wrap=True)
    if show_missing:
        table.add_column(_("缺 missing"), justify="right", no_wrap=True)
    table.add_column(_("节假日与调休 holidays and make-up working days"), overflow="fold", min_width=30)
    for m in summary["months"]:
        row: list[str | Text] = [str(m["month"]), str(m["workdays"]), str(m["rest_days"])]
        if show_missing:
            row.append(cell(m["missing"] or "", "yellow"))
        row.append(Text("; ").join(notes[m["month"]]))
        table.add_row(*row)
    table.add_section()
    total = [_("total"), str(summary["workdays"]), str(summary["rest_days"])]
    if show_missing:
        total.append(str(summary["missing_count"]))
    total.append(_("{holidays} holiday run(s), {makeup} 调休 day(s)", holidays=len(summary["holidays"]),
                   makeup=len(summary["makeup_workdays"])))
    table.add_row(*total)
    print_table(table)
    sources = ", ".join(f"{i18n.gettext(k)} {v}" for k, v in sorted(summary["sources"].items()))
    line(_("{present} of {dates} dates: {workdays} workdays 工作日, {rest} rest days 休息日 (source: {sources})",
           present=summary["present"], dates=summary["dates"], workdays=summary["workdays"],
           rest=summary["rest_days"], sources=sources))
    if show_missing:
        ranges = summary["missing"]
        listed = ", ".join(ranges[:8]) + (_(", … ({count} more)", count=len(ranges) - 8) if len(ranges) > 8 else "")
        message((_("warning:"), "yellow"), _(" {count} date(s) missing: {listed}; deadlines reaching them cannot be "
                                             "computed;", count=summary["missing_count"], listed=listed),
                "\n" + _(_CALENDAR_HINT))


def alert_list(items: list[Any], names: dict[str, str] | None = None) -> None:
    """Alerts as a table, coloured by kind; with ``names``, who acknowledged as ``吴静 (wujing)``."""
    from rich.table import Table

    names = names or {}
    table = Table()
    for col in ("#", _("case"), _("kind"), _("alert level"), _("unit"), _("due"), _("raised"), _("acknowledged"),
                _("message")):
        table.add_column(col)
    for a in items:
        acked = f"{_named(a.acked_by, names)} {_local(a.acked_at, a.timezone)[5:]}" if a.acked_at else "-"
        colour = {"warning": "yellow", "overdue": "red", "reescalation": "bold red"}.get(a.kind, "")
        kind = a.kind_label if i18n.is_chinese() else i18n.word(i18n.ALERT_KINDS, a.kind)
        case = str(a.case) if a.case is not None else "-"  # a calendar notice is about no case
        table.add_row(str(a.id), case, cell(kind, colour), cell(i18n.word(i18n.ALERT_LEVELS, a.level)),
                      cell(a.unit_name), _local(a.due_at, a.timezone)[5:], _local(a.raised_at, a.timezone)[5:],
                      cell(acked), cell(i18n.alert_text(a)))
    print_table(table)
    line(_("{count} alert(s)", count=len(items)))


def deadline_line(d: Any, tz: str) -> str:
    """A step deadline as text: local time, time left or overdue, and the limit."""
    if d is None:
        return ""
    from casecraft.base.duration import humanize

    provisional = getattr(d, "provisional", False)
    if i18n.is_chinese():
        mark = "［暂定日历］" if provisional else ""
        return f"{_local(d.due_at, tz)}（{i18n.duration(d.seconds_left)}，时限 {limit_label(d.limit)}）{mark}"
    mark = " [暂定日历 provisional calendar]" if provisional else ""
    return f"{_local(d.due_at, tz)} ({humanize(d.seconds_left)}, 时限 {d.limit}){mark}"


def rows(columns: list[str], items: list[list[Any]]) -> None:
    """A plain table of user text: one row per item, every cell made visible."""
    from rich.table import Table

    table = Table()
    for col in columns:
        table.add_column(col)
    for item in items:
        table.add_row(*[cell(x) for x in item])
    print_table(table)
