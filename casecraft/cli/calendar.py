"""`casecraft calendar ...`: the working calendar (workdays, holidays, 调休 make-up working days)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from casecraft.cli.app import App, state

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
    """Show a year: workdays per month, holidays and 调休 make-up working days, dates missing.

    Exits 1 if the calendar has no date of that year.
    """
    from casecraft.base.errors import InputError
    from casecraft.cli import render
    from casecraft.store.calendar_repo import year_rows

    if not 1 <= year <= 9998:
        raise InputError(f"bad year {year}: give a year such as 2026")
    rows = year_rows(state(ctx).engine().store, year)
    summary = year_summary(year, rows)
    if json_out:
        render.print_json(summary)
    else:
        render.calendar_year(summary)
    if not rows:
        raise typer.Exit(1)


@app.command("set")
def set_(
    ctx: typer.Context,
    day: Annotated[str, typer.Argument(metavar="DATE", help="The date, YYYY-MM-DD.")],
    status: Annotated[str, typer.Argument(metavar="STATUS", help="workday or holiday (also 工作日 / 休息日 / 节假日).")],
    note: Annotated[str | None, typer.Option("--note", help="Why, e.g. the holiday's name or 调休.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Make one date a workday or a holiday (replaces what the calendar had for it)."""
    from casecraft.cli import render
    from casecraft.store.calendar_repo import parse_day, parse_status, set_day

    d, workday = parse_day(day), parse_status(status)
    eng = state(ctx).engine()
    row = set_day(eng.store, d, workday, note, eng.now())
    if json_out:
        render.print_json({"date": row.day.isoformat(), "workday": row.workday, "source": row.source,
                           "note": row.note})
        return
    what = "a workday" if row.workday else "a holiday"
    render.line(f"{row.day.isoformat()} ({row.day:%a}) is now {what}" + (f": {row.note}" if row.note else ""))


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE", help="CSV, UTF-8, header date,status[,note].")],
    json_out: JsonOpt = False,
) -> None:
    """Load dates from a CSV file: date,status[,note] with status workday or holiday.

    The whole file is checked first; if any row is bad nothing is imported and
    every bad row is listed. Imported dates replace what the calendar had.
    """
    from casecraft.cli import render
    from casecraft.store.calendar_repo import import_days

    eng = state(ctx).engine()
    count = import_days(eng.store, file, eng.now())
    if json_out:
        render.print_json({"file": file, "imported": count})
    else:
        render.line(f"imported {count} date(s) from {file}")


@app.command()
def seed(
    ctx: typer.Context,
    year: Annotated[list[int] | None, typer.Option(
        "--year", help="Only this year (repeatable); default every year the chinesecalendar package knows.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Fill in dates from the chinesecalendar package (official holidays and 调休).

    Only dates the calendar does not have yet are added: imported and
    hand-set dates are kept.
    """
    from casecraft.cli import render
    from casecraft.store.calendar_repo import seed_calendar, seed_years

    eng = state(ctx).engine()
    count = seed_calendar(eng.store, year or None, eng.now())
    known = seed_years()
    unknown = sorted({y for y in (year or []) if y not in known})
    if json_out:
        render.print_json({"inserted": count, "years": sorted(set(year)) if year else list(known),
                           "not_in_package": unknown})
        return
    render.line(f"added {count} date(s) from the chinesecalendar package "
                f"(it covers {known.start}-{known.stop - 1})")
    if unknown:
        render.err.print(
            f"[yellow]warning:[/] the package has no data for {', '.join(map(str, unknown))}: add "
            "those dates with `casecraft calendar import FILE` or `casecraft calendar set DATE workday|holiday`")
