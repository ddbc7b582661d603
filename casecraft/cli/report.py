"""`casecraft report ...`: the monthly evaluation, case statistics, recorded runs and a unit's history."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from casecraft.cli.app import App, state
from casecraft.i18n import _

app = App(help="Monthly evaluation (绩效考评): rankings, exports, case statistics, history.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only.")]
MonthOpt = Annotated[str | None, typer.Option("--month", help="YYYY-MM in Beijing time (default: this month).")]
# Rich counts East-Asian ambiguous characters (the em dash) as one column; a full-width dash is always two
NONE_CELL = "－"


def _cell_rate(fig: dict[str, Any]) -> str:
    if fig["value"] is None:
        return NONE_CELL
    return f"{100 * fig['value']:.1f}% ({fig['num']}/{fig['den']})"


def _num(value: float | None, fmt: str = ".2f") -> str:
    return NONE_CELL if value is None else format(value, fmt)


def _ranking_table(report: Any) -> None:
    from rich.table import Table

    from casecraft.cli.render import _local, cell, line, print_table

    tz = report.period.timezone
    title = f"{report.month} {report.level_label}考评排名"
    if report.org:
        title += f" ({report.org})"
    groups = list(dict.fromkeys(r.group for r in report.rows))
    table = Table(title=cell(title))
    table.add_column("排名", justify="right", no_wrap=True)
    if len(groups) > 1:
        table.add_column("考评单位", no_wrap=True)
    table.add_column("单位", no_wrap=True)
    for ind in report.indicators:
        table.add_column(cell(ind.label), justify="right", no_wrap=True)
    for col in ("得分", "等级", "环比"):
        table.add_column(col, justify="right", no_wrap=True)
    last = None
    for r in report.rows:
        if last is not None and r.group != last:
            table.add_section()
        last = r.group
        cells = [str(r.rank) if r.rank is not None else NONE_CELL]
        if len(groups) > 1:
            cells.append(r.group_name)
        cells.append(f"{r.name} {r.unit}")
        for ind in report.indicators:
            fig = r.figures[ind.id]
            cells.append(_cell_rate(fig) if ind.is_rate else str(fig["value"]))
        change = NONE_CELL if r.change is None else f"{r.change:+.2f}"
        cells += [_num(r.score), r.grade or NONE_CELL, change]
        table.add_row(*[cell(c) for c in cells])
    print_table(table)
    state_note = _("whole month") if report.period.complete else _("running month, up to now")
    line(_("{units} unit(s); {start} to {end} ({state}); {workdays} working day(s) counted for 民情日志; "
           "change against {previous}; {none} = no denominator (not scored)", units=len(report.rows),
           start=_local(report.period.start, tz), end=_local(report.period.end, tz), state=state_note,
           workdays=report.workdays, previous=report.previous_month, none=NONE_CELL))


@app.command()
def monthly(
    ctx: typer.Context,
    month: MonthOpt = None,
    level: Annotated[str, typer.Option("--level", help="street | community | grid")] = "grid",
    org: Annotated[str | None, typer.Option(
        "--org", help="Only units under this unit (ranks stay whole-group).")] = None,
    csv_file: Annotated[str | None, typer.Option("--csv", help="Also write the ranking as CSV (UTF-8).")] = None,
    xlsx_file: Annotated[str | None, typer.Option(
        "--xlsx", help="Also write an Excel workbook with a sheet per level.")] = None,
    png_file: Annotated[str | None, typer.Option("--png", help="Also write a ranking bar chart (PNG).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the --csv/--xlsx/--png files if they exist.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """The month's ranking of every street, community or grid: indicators, score, grade, change.

    Files written with --csv, --xlsx and --png are readable by their owner only.
    """
    from contextlib import ExitStack

    from casecraft.base.errors import InputError
    from casecraft.cli import files, render
    from casecraft.evaluation.export import write_csv, write_png, write_xlsx

    st = state(ctx)
    _require_database(ctx)
    paths = [p for p in (csv_file, xlsx_file, png_file) if p]
    targets = [files.check_output(p, db=st.db, force=force, what="the report") for p in paths]  # before any work
    if len(set(targets)) < len(targets):
        raise InputError("--csv, --xlsx and --png name the same file; give each its own")
    eng = st.engine()
    if xlsx_file:  # a sheet per level: every level from one pass of the SQL
        sheets = eng.monthly_reports(month, [(lvl, org if lvl == level else _org_for(eng, org, lvl))
                                             for lvl in ("street", "community", "grid")])
        report = next(r for r in sheets if r.level == level)
    else:
        report = eng.monthly_report(month, level, org)
    jobs: list[tuple[str, Callable[[Path], object]]] = []
    if csv_file:
        jobs.append((csv_file, lambda tmp: write_csv(report, tmp)))
    if xlsx_file:
        jobs.append((xlsx_file, lambda tmp: write_xlsx(sheets, tmp)))
    if png_file:
        jobs.append((png_file, lambda tmp: write_png(report, tmp)))
    with ExitStack() as stack:  # every file staged first: an error leaves none of them behind
        for path, write in jobs:
            write(stack.enter_context(files.output(path, db=st.db, force=force, what="the report")))
    written = [path for path, _write in jobs]
    if json_out:
        render.print_json({**report.to_dict(), "files": written})
        return
    _ranking_table(report)
    for p in written:
        render.line(_("wrote {path}", path=p))


def _require_database(ctx: typer.Context) -> None:
    from casecraft.cli.files import require_database

    require_database(state(ctx).db)  # a report never creates an empty database


def _org_for(eng: Any, org: str | None, level: str) -> str | None:
    """--org for another level's sheet: the unit itself, or its ancestor at that level if it lies below."""
    if org is None:
        return None
    unit = eng.org.unit(org)
    tiers = eng.workflow.tiers
    if unit is not None and unit.tier in tiers and tiers.index(unit.tier) < tiers.index(level):
        return eng.org.at_tier(org, level)
    return org


@app.command("case-stats")
def case_stats(
    ctx: typer.Context,
    month: MonthOpt = None,
    org: Annotated[str | None, typer.Option("--org", help="Only cases of grids under this unit.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """The month's case counts by source, category, tier of resolution, and overdue."""
    from rich.table import Table

    from casecraft.cli import render

    _require_database(ctx)
    stats = state(ctx).engine().case_stats(month, org)
    if json_out:
        render.print_json(stats)
        return
    cols = (("reported", "上报"), ("registered", "立案"), ("rejected", "不予立案"), ("closed", "结案"),
            ("closed_late", "超期结案"), ("open_at_end", "未结"), ("overdue_open", "超期未结"))
    from casecraft import i18n

    for key, title, label in (("by_source", _("来源 source"), None), ("by_category", _("类别 category"), "label"),
                              ("by_resolved_tier", _("办结层级 resolved at"), "label")):
        table = Table(title=render.cell(f"{stats['month']} {title}"))
        table.add_column(title.split()[0], no_wrap=True)
        for _k, col in cols:
            table.add_column(col, justify="right", no_wrap=True)
        for r in stats[key]:
            name = r.get(label) if label else (i18n.word(i18n.SOURCES, r["key"]) if i18n.is_chinese() else r["key"])
            if label == "label" and key == "by_category":
                name = f"{r['key']} {r['label']}"
            table.add_row(render.cell(name), *[str(r[k]) for k, _c in cols])
        t = stats["total"]
        if t:
            table.add_section()
            table.add_row("合计", *[str(t[k]) for k, _c in cols])
        render.print_table(table)
    b = stats.get("backfilled") or {}
    if any(b.values()):
        render.line(f"补录 back-filled by an admin (counted apart; 民情日志 back-fills not in 登记率): "
                    f"{b['entries']} timeline entries of {b['cases']} case(s), {b['logs']} 民情日志 entries")


@app.command()
def history(
    ctx: typer.Context,
    org: Annotated[str, typer.Option("--org", help="The unit (street, community or grid code).")],
    limit: Annotated[int, typer.Option("--limit", help="At most this many months.")] = 36,
    json_out: JsonOpt = False,
) -> None:
    """A unit's recorded months: indicators, score, grade and rank, newest first."""
    from rich.table import Table

    from casecraft.cli import render
    from casecraft.evaluation import INDICATORS

    _require_database(ctx)
    rows = state(ctx).engine().history(org, limit=limit)
    if json_out:
        render.print_json([r.to_dict() for r in rows])
        return
    if not rows:
        render.line(_("no recorded month for {org}; months are recorded by `casecraft scheduler run` "
                      "or `casecraft report run --month YYYY-MM`", org=org))
        return
    shown = _level_indicators(ctx, rows[0].level)
    table = Table(title=render.cell(f"{org} 月度考评记录"))
    for col in ("月份", "层级"):
        table.add_column(col, no_wrap=True)
    for i in shown:
        table.add_column(render.cell(INDICATORS[i][2]), justify="right", no_wrap=True)
    for col in ("得分", "等级", "排名"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in rows:
        cells = [r.period, r.level]
        for i in shown:
            fig = r.figures.get(i)
            cells.append(NONE_CELL if fig is None else (_cell_rate(fig) if fig["den"] is not None
                                                         else str(fig["value"])))
        rank = f"{r.rank}/{r.group_size}" if r.rank is not None else NONE_CELL
        cells += [_num(r.score), r.grade or NONE_CELL, rank]
        table.add_row(*[render.cell(c) for c in cells])
    render.print_table(table)


def _level_indicators(ctx: typer.Context, level: str) -> list[str]:
    from casecraft.evaluation.scoring import scheme_from

    scheme = scheme_from(state(ctx).engine().workflow.file.evaluation)
    return [s.id for s in scheme.levels.get(level, ())]


@app.command()
def run(
    ctx: typer.Context,
    month: Annotated[str | None, typer.Option("--month", help="YYYY-MM (default: last month).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Record a finished month's evaluation (every level) once; the scheduler does this on the 1st."""
    from casecraft.cli import render

    _require_database(ctx)
    result = state(ctx).engine().record_month(month, trigger="manual")
    if json_out:
        render.print_json(result.to_dict())
    elif result.created:
        render.line(_("recorded {period}: {units} unit result(s) ({key})", period=result.period, units=result.units,
                      key=result.key))
    else:
        render.line(_("{period} was already recorded ({trigger}, {units} unit result(s)); nothing changed",
                      period=result.period, trigger=result.trigger, units=result.units))
