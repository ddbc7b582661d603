"""All terminal output. The only module that imports Rich."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

out = Console(highlight=False, soft_wrap=False)
if not out.is_terminal:  # piped or captured: do not squeeze tables into 80 columns
    out = Console(highlight=False, soft_wrap=False, width=160)
err = Console(stderr=True, highlight=False, width=None if Console(stderr=True).is_terminal else 160)


def print_json(data: Any) -> None:
    """Only JSON on stdout, Chinese unescaped."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def error(message: str, code: int) -> None:
    label = "refused" if code == 1 else "error"
    err.print(f"[bold red]{label}:[/] {_escape(message)}")


def _escape(text: Any) -> str:
    from rich.markup import escape

    return escape(str(text)) if text is not None else ""


def _local(dt: Any, tz: str) -> str:
    from zoneinfo import ZoneInfo

    if dt is None:
        return ""
    return dt.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def case_summary(case: Any, deadline: Any = None) -> None:
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    rows = [
        ("案件 case", f"{case.id}  ({case.source}{' ' + case.ref if case.ref else ''})"),
        ("状态 state", f"{case.state_label} ({case.state})"),
        ("层级 tier", f"{case.tier_label} ({case.tier})"),
        ("单位 unit", f"{case.unit_name} ({case.unit})"),
        ("网格 grid", case.grid or ""),
        ("类别 category", f"{case.category_label} ({case.category}, {case.urgency})"),
        ("描述 description", case.description),
    ]
    if case.address:
        rows.append(("地址 address", case.address))
    if case.assignees:
        rows.append(("派遣 assignees", ", ".join(case.assignees)))
    if getattr(case, "feedback", None):
        rows.append(("反馈 feedback", ", ".join(f"{k}: {v}" for k, v in case.feedback.items())))
    if getattr(case, "ref", None) and getattr(case, "channel", None):
        rows.append(("热线 hotline", f"{case.channel} {case.ref}"
                     + (f", received {_local(case.received_at, case.timezone)}" if case.received_at else "")))
    rows.append(("上报 reported", f"{_local(case.created_at, case.timezone)} by {case.reporter}"))
    if getattr(case, "parked", False):
        rows.append(("挂账 parked", "yes: in the problem register, clock stopped"))
    req = getattr(case, "extension_request", None)
    if req:
        rows.append(("延期申请 extension", f"{req.get('label', req.get('by'))} asked by {req.get('actor')}, "
                                          f"awaiting the leader: {req.get('note', '')}"))
    if deadline is not None:
        rows.append(("时限 step due", deadline_line(deadline, case.timezone)))
    if case.deadline_at:
        rows.append(("案件时限 case due", _local(case.deadline_at, case.timezone)))
    if case.closed_at:
        rows.append(("结案 closed", _local(case.closed_at, case.timezone)))
    rows.append(("版本 version", f"{case.version} (workflow v{case.workflow_version})"))
    for k, v in rows:
        t.add_row(k, _escape(v))
    out.print(t)


def timeline(case: Any, title: str | None = None) -> None:
    table = Table(title=_escape(title) if title else None, show_lines=False, expand=False)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("时间", no_wrap=True)
    table.add_column("操作", no_wrap=True)
    table.add_column("人员", no_wrap=True)
    table.add_column("状态", no_wrap=True)
    table.add_column("单位", no_wrap=True)
    table.add_column("说明", overflow="fold", min_width=20)
    for e in case.timeline:
        step = f"{e.trigger_label} {e.trigger}"
        state_label = e.to_state_label
        if e.outcome:
            step += f" ({e.outcome})"
        note = e.note or ""
        if e.target_names:
            note = f"→ {e.target_names}" + (f"; {note}" if note else "")
        if e.attachments:
            files = ", ".join(f"{a['name']} ({a['type']}, {a['size']} B, {a['sha256'][:12]})" for a in e.attachments)
            note = (note + "; " if note else "") + f"附件 {files}"
        table.add_row(str(e.seq), _local(e.at, case.timezone)[5:], _escape(step), _escape(e.actor_name),
                      _escape(state_label), _escape(e.unit_name), _escape(note))
    out.print(table)


def case_list(cases: list[Any], deadlines: dict[int, Any] | None = None) -> None:
    deadlines = deadlines or {}
    table = Table()
    for col in ("案件", "状态 state", "层级", "单位 unit", "类别", "来源", "上报时间", "时限 due", "描述"):
        table.add_column(col)
    for c in cases:
        d = deadlines.get(c.id)
        due = deadline_line(d, c.timezone) if d else ""
        if d is not None and d.overdue:
            due = f"[red]{_escape(due)}[/]"
        else:
            due = _escape(due)
        table.add_row(str(c.id), _escape(f"{c.state_label} ({c.state})"), c.tier_label, _escape(c.unit_name),
                      _escape(c.category_label), c.source, _local(c.created_at, c.timezone), due,
                      _escape(c.description[:30]))
    out.print(table)
    out.print(f"{len(cases)} case(s)")


def triggers(case: Any, options: list[Any], actor: str | None) -> None:
    out.print(f"案件 {case.id}: {_escape(case.state_label)} ({case.state}) at {_escape(case.unit_name)}")
    if not options:
        out.print("nothing may happen next: the case is finished")
        return
    table = Table()
    for col in ("操作 trigger", "去向 next state", "角色 roles", "须填 requires", "执行方"):
        table.add_column(col)
    if actor:
        table.add_column(f"{actor}?")
    for o in options:
        dests = ", ".join(f"{lbl} ({d})" for d, lbl in zip(o.dest, o.dest_labels, strict=False))
        if o.conditions:
            dests += "  [" + ", ".join(o.conditions) + "]"
        row = [f"{o.label} {o.trigger}", dests, ", ".join(o.role_labels), ", ".join(o.requires) or "-",
               "被派遣方" if o.actor == "assignee" else "本单位"]
        if actor:
            row.append("yes" if o.allowed else f"no: {o.reason}")
        table.add_row(*[_escape(x) for x in row])
    out.print(table)


def workflow_tree(wf: Any) -> None:
    from casecraft.base.duration import Duration

    root = Tree(f"[bold]{_escape(wf.name)}[/] ({wf.id}, timezone {wf.timezone}, hash {wf.content_hash[:12]})")
    settings = wf.file.workflow
    root.add(f"工作时段 working hours: {', '.join(settings.working_hours)}; 预警 warn at "
             f"{int(settings.warn_at * 100)}%; 再升级 re-escalate after {settings.reescalate_after}")
    tiers = root.add("[bold]层级 tiers[/]")
    for tier in wf.file.tiers:
        branch = tiers.add(f"{tier.label} ({tier.id})")
        for st in wf.file.states:
            if st.tier != tier.id:
                continue
            limit = f"  时限 {Duration.parse(st.limit).label}" if st.limit else ""
            final = "  [终态 final]" if st.final else ""
            sb = branch.add(f"{_escape(st.label)} ({st.id}){limit}{final}")
            for tr in wf.transitions_from(st.id):
                roles = ", ".join(wf.roles[r].label for r in tr.roles if r in wf.roles)
                extra = []
                if tr.when:
                    extra += [f"{k}={v}" for k, v in tr.when.model_dump().items() if v is not None]
                if tr.requires:
                    extra.append("requires " + "+".join(tr.requires))
                if tr.actor == "assignee":
                    extra.append("by assignee")
                suffix = f"  [{'; '.join(extra)}]" if extra else ""
                sb.add(f"{wf.trigger_label(tr.trigger)} {tr.trigger} → {tr.dest}  ({_escape(roles)}){_escape(suffix)}")
    roles = root.add("[bold]角色 roles[/]")
    for r in wf.file.roles:
        roles.add(f"{r.label} ({r.id}){'  scope: subtree' if r.scope == 'subtree' else ''}")
    cats = root.add("[bold]事件目录 categories[/]")
    for c in wf.file.categories:
        resp = ", ".join(f"{k}: {v}" for k, v in c.responsible.items())
        limit = Duration.parse(c.limit).label if c.limit else "-"
        cats.add(_escape(f"{c.code} {c.label} ({c.event_class}, {c.urgency}) 时限 {limit}; 责任 {resp}"))
    out.print(root)


def org_tree(org: Any) -> None:
    by_parent: dict[str | None, list[Any]] = {}
    for u in org.units.values():
        parent = u.parent if u.parent in org.units else None
        by_parent.setdefault(parent, []).append(u)
    people_by_unit: dict[str, list[Any]] = {}
    for p in org.people.values():
        people_by_unit.setdefault(p.unit, []).append(p)
    root = Tree("[bold]组织架构 organisation[/]")

    def add(branch: Any, unit: Any) -> None:
        kind = {"department": " 科室", "area_unit": " 地区单位"}.get(unit.kind, "")
        inactive = " [停用 inactive]" if not unit.active else ""
        node = branch.add(f"[bold]{_escape(unit.name)}[/] ({unit.code}, {unit.tier}{kind}){inactive}")
        for p in sorted(people_by_unit.get(unit.code, []), key=lambda p: p.id):
            note = f" {p.note}" if p.note else ""
            node.add(_escape(f"{p.name} ({p.id}) {', '.join(p.roles)}{note}{'' if p.active else ' [停用]'}"))
        for child in sorted(by_parent.get(unit.code, []), key=lambda u: (u.kind != "department", u.code)):
            add(node, child)

    for u in sorted(by_parent.get(None, []), key=lambda u: u.code):
        add(root, u)
    out.print(root)


def problems(items: list[Any]) -> None:
    for p in items:
        colour = "yellow" if p.severity == "warning" else "red"
        hint = f" [dim]({_escape(p.hint)})[/]" if p.hint else ""
        err.print(f"{_escape(p.file)}:{p.line}:{p.column}: [{colour}]{p.severity}:[/] {_escape(p.message)}{hint}")


def kv(title: str, items: dict[str, Any]) -> None:
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    for k, v in items.items():
        t.add_row(_escape(k), _escape(v))
    out.print(f"[bold]{_escape(title)}[/]")
    out.print(t)


def line(text: str) -> None:
    out.print(_escape(text))


_HOLIDAY_NAMES = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节", "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


def calendar_year(summary: dict[str, Any]) -> None:
    """One year of the working calendar: per-month counts, holidays and 调休 make-up working days.

    ``summary`` is what :func:`casecraft.cli.calendar.year_summary` returns. A year
    without any date prints how to add it, on stderr.
    """
    year = summary["year"]
    hint = ("add the dates:\n"
            "  casecraft calendar import FILE                (CSV: date,status[,note]; status workday or holiday)\n"
            "  casecraft calendar set DATE workday|holiday   (one date, e.g. 2027-01-01)\n"
            "  casecraft calendar seed --year YEAR           (years the chinesecalendar package knows)")
    if not summary["present"]:
        err.print(f"[bold red]no working calendar for {year}:[/] the calendar has no date of that year, so "
                  f"deadlines reaching into it cannot be computed.\n{_escape(hint)}", soft_wrap=True)
        return

    def short(iso: str) -> str:
        return iso[5:]

    def name(n: str) -> str:
        zh = _HOLIDAY_NAMES.get(n)
        return f"{zh} {n}" if zh else n

    def source(sources: list[str]) -> str:
        extra = [s for s in sources if s != "chinesecalendar"]
        return f" [dim]({_escape(', '.join(extra))})[/]" if extra else ""

    notes: dict[int, list[str]] = {m: [] for m in range(1, 13)}
    for h in summary["holidays"]:
        span = short(h["from"]) if h["from"] == h["to"] else f"{short(h['from'])}–{short(h['to'])}"
        label = " / ".join(name(n) for n in h["names"]) or "休息 holiday"
        notes[int(h["from"][5:7])].append(
            f"[red]{span}[/] {_escape(label)} ({h['days']} day{'s' if h['days'] != 1 else ''})"
            + source(h["sources"]))
    for d in summary["makeup_workdays"]:
        label = d["note"] or "调休"
        if "调休" not in label:
            label = f"调休 {label}"
        notes[int(d["date"][5:7])].append(
            f"[yellow]{short(d['date'])}[/] ({d['weekday']}) {_escape(label)} make-up working day"
            + source([d["source"]]))

    show_missing = summary["missing_count"] > 0
    table = Table(title=f"{year} 工作日历 working calendar", expand=False)
    table.add_column("月 month", justify="right", no_wrap=True)
    table.add_column("工作日 workdays", justify="right", no_wrap=True)
    table.add_column("休息日 rest days", justify="right", no_wrap=True)
    if show_missing:
        table.add_column("缺 missing", justify="right", no_wrap=True)
    table.add_column("节假日与调休 holidays and make-up working days", overflow="fold", min_width=30)
    for m in summary["months"]:
        row = [str(m["month"]), str(m["workdays"]), str(m["rest_days"])]
        if show_missing:
            row.append(f"[yellow]{m['missing']}[/]" if m["missing"] else "")
        row.append("; ".join(notes[m["month"]]))
        table.add_row(*row)
    table.add_section()
    total = ["total", str(summary["workdays"]), str(summary["rest_days"])]
    if show_missing:
        total.append(str(summary["missing_count"]))
    total.append(f"{len(summary['holidays'])} holiday run(s), {len(summary['makeup_workdays'])} 调休 day(s)")
    table.add_row(*total)
    out.print(table)
    sources = ", ".join(f"{k} {v}" for k, v in sorted(summary["sources"].items()))
    out.print(f"{summary['present']} of {summary['dates']} dates: {summary['workdays']} workdays 工作日, "
              f"{summary['rest_days']} rest days 休息日 (source: {_escape(sources)})")
    if show_missing:
        ranges = summary["missing"]
        listed = ", ".join(ranges[:8]) + (f", … ({len(ranges) - 8} more)" if len(ranges) > 8 else "")
        out.print(f"[yellow]warning:[/] {summary['missing_count']} date(s) missing: {_escape(listed)}; "
                  f"deadlines reaching them cannot be computed;\n{_escape(hint)}", soft_wrap=True)


def alert_list(items: list[Any]) -> None:
    table = Table()
    for col in ("#", "案件", "类型", "级别", "单位 unit", "到期", "发出", "确认", "内容"):
        table.add_column(col)
    for a in items:
        acked = f"{a.acked_by} {_local(a.acked_at, a.timezone)[5:]}" if a.acked_at else "-"
        colour = {"warning": "yellow", "overdue": "red", "reescalation": "bold red"}.get(a.kind, "")
        kind = f"[{colour}]{_escape(a.kind_label)}[/]" if colour else _escape(a.kind_label)
        table.add_row(str(a.id), str(a.case), kind, str(a.level), _escape(a.unit_name),
                      _local(a.due_at, a.timezone)[5:], _local(a.raised_at, a.timezone)[5:], _escape(acked),
                      _escape(a.message))
    out.print(table)
    out.print(f"{len(items)} alert(s)")


def deadline_line(d: Any, tz: str) -> str:
    if d is None:
        return ""
    from casecraft.cases.deadlines import humanize

    return f"{_local(d.due_at, tz)} ({humanize(d.seconds_left)}, 时限 {d.limit})"
