"""`casecraft calendar ...`: the working calendar (workdays, holidays, 调休 make-up working days)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from casecraft import i18n
from casecraft.cli.app import App, state
from casecraft.i18n import N_, _

if TYPE_CHECKING:
    from casecraft.timing.calendar import DayRow

app = App(help="The working calendar: which dates are workdays (holidays and 调休 make-up days).",
          no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only.")]

def _ranges(days: list[Any]) -> list[tuple[Any, Any]]:
    """Consecutive dates as (first, last) pairs."""
    import datetime as dt

    out: list[tuple[Any, Any]] = []
    for d in days:
        if out and out[-1][1] + dt.timedelta(days=1) == d:
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def year_summary(year: int, rows: list[DayRow]) -> dict[str, Any]:
    """What `calendar show` prints: counts per month, holiday runs, 调休 days, missing dates."""
    import datetime as dt

    by_day = {r.day: r for r in rows}
    all_days = [dt.date(year, 1, 1) + dt.timedelta(days=i)
                for i in range((dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days)]
    missing = [d for d in all_days if d not in by_day]

    holidays: list[dict[str, Any]] = []
    makeup: list[dict[str, Any]] = []
    prev: dt.date | None = None
    for r in rows:
        weekend = r.day.weekday() >= 5
        if not r.workday and (r.note or not weekend):
            name = r.note if r.note != "调休" else ""
            last = holidays[-1] if holidays else None
            if last is not None and prev is not None and prev + dt.timedelta(days=1) == r.day \
                    and last["to"] == prev.isoformat():
                last["to"] = r.day.isoformat()
                last["days"] += 1
            else:
                last = {"names": [], "from": r.day.isoformat(), "to": r.day.isoformat(), "days": 1,
                        "sources": []}
                holidays.append(last)
            if name and name not in last["names"]:
                last["names"].append(name)
            if r.source not in last["sources"]:
                last["sources"].append(r.source)
        elif r.workday and weekend:
            makeup.append({"date": r.day.isoformat(), "weekday": r.day.strftime("%a"),
                           "note": r.note, "source": r.source})
        prev = r.day

    months = []
    for m in range(1, 13):
        in_month = [r for r in rows if r.day.month == m]
        months.append({
            "month": m,
            "workdays": sum(1 for r in in_month if r.workday),
            "rest_days": sum(1 for r in in_month if not r.workday),
            "missing": sum(1 for d in missing if d.month == m),
        })
    sources: dict[str, int] = {}
    for r in rows:
        sources[r.source] = sources.get(r.source, 0) + 1
    return {
        "year": year,
        "dates": len(all_days),
        "present": len(rows),
        "workdays": sum(1 for r in rows if r.workday),
        "rest_days": sum(1 for r in rows if not r.workday),
        "missing": [f"{a.isoformat()}..{b.isoformat()}" if a != b else a.isoformat() for a, b in _ranges(missing)],
        "missing_count": len(missing),
        "sources": sources,
        "holidays": holidays,
        "makeup_workdays": makeup,
        "months": months,
        "days": [{"date": r.day.isoformat(), "workday": r.workday, "source": r.source, "note": r.note}
                 for r in rows],
    }


@app.command()
def show(
    ctx: typer.Context,
    year: Annotated[int, typer.Argument(metavar="YEAR", help="The year, e.g. 2026.")],
    json_out: JsonOpt = False,
) -> None:
    """Show a year: workdays per month, holidays and 调休 make-up working days; a year without an official
    arrangement is shown as the provisional calendar (weekends and the statutory holidays)."""
    from casecraft.cli import render

    rows = state(ctx).engine().calendar_year(year)
    summary = year_summary(year, rows)
    summary["provisional"] = bool(rows) and all(r.source == "provisional" for r in rows)
    if json_out:
        render.print_json(summary)
    else:
        render.calendar_year(summary)
        if summary["provisional"]:
            render.line(_("{year} is provisional: no official arrangement imported yet "
                          "(`casecraft calendar import NOTICE.yaml`, see docs/calendar.md)", year=year))
    if not rows:
        from casecraft.base.errors import NotFound

        raise NotFound("no working calendar for {year}: add its dates with `casecraft calendar import FILE` or "
                       "`casecraft calendar set DATE workday|holiday`", year=year)


def _change(result: object, json_out: bool, what: str) -> None:
    from casecraft.cli import render

    data = result.to_dict()  # type: ignore[attr-defined]
    if json_out:
        render.print_json(data)
        return
    render.line(_("{what}: {days} date(s); status changed on {changed}; open cases recomputed: {recomputed}",
                  what=what, days=data["days"], changed=len(data["changed"]), recomputed=len(data["recomputed"])))
    for w in data["warnings"] + data["conflicts"]:
        render.line(_("note: {text}", text=i18n.text(w)))


_WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


@app.command("set")
def set_(
    ctx: typer.Context,
    day: Annotated[str, typer.Argument(metavar="DATE", help="The date, YYYY-MM-DD.")],
    status: Annotated[str, typer.Argument(metavar="STATUS", help="workday or holiday (工作日 / 休息日 / 节假日).")],
    note: Annotated[str | None, typer.Option("--note", help="Why, e.g. the holiday's name or 调休.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Make one date a workday or a holiday (admin); open deadlines on or after it are recomputed."""
    from casecraft.timing.days import parse_day, parse_status

    d, workday = parse_day(day), parse_status(status)
    weekday = i18n.gettext(_WEEKDAYS[d.weekday()])
    if workday:
        what = _("{day} ({weekday}) is now a workday", day=d.isoformat(), weekday=weekday)
    else:
        what = _("{day} ({weekday}) is now a holiday", day=d.isoformat(), weekday=weekday)
    _change(state(ctx).engine().set_calendar_day(d, workday, note=note), json_out,
            what + (_(": {note}", note=note) if note else ""))


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(
        metavar="FILE",
        help="The State Council's notice as YAML (see docs/calendar.md), or a CSV date,status[,note].")],
    json_out: JsonOpt = False,
) -> None:
    """Import the year's official holiday arrangement (admin): it replaces the provisional days, and every
    open deadline on or after a changed day is recomputed, each on its case's timeline."""
    _change(state(ctx).engine().import_calendar(file), json_out, _("imported {file}", file=file))


@app.command()
def seed(
    ctx: typer.Context,
    year: Annotated[list[int] | None, typer.Option(
        "--year", help="Only this year (repeatable); default every year known, and next year provisionally.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Fill in dates the calendar lacks (admin): official ones from the chinesecalendar package, later years
    provisionally. Imported and hand-set dates are kept."""
    from casecraft.cli import render

    count = state(ctx).engine().seed_calendar(year or None)
    if json_out:
        render.print_json({"inserted": count, "years": sorted(set(year)) if year else None})
        return
    render.line(_("added {count} date(s)", count=count))


@app.command()
def check(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Keep next year in the calendar and, from 1 December while it is provisional, alert the district
    platform (for cron; `scheduler run` does it daily)."""
    from casecraft.cli import render

    result = state(ctx).engine().check_calendar()
    if json_out:
        render.print_json(result)
        return
    state_ = _("provisional") if result["provisional"] else _("official")
    render.line(_("{year}: {state}; dates added {added}; alerts raised {raised}", year=result["year"], state=state_,
                  added=result["days_added"], raised=result["raised"]))
