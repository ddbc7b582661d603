"""`casecraft alerts ...`, `casecraft sweep`, `casecraft scheduler run`."""

from __future__ import annotations

import logging
import sys
from typing import Annotated, Any

import typer

from casecraft import i18n
from casecraft.cli.app import App, state
from casecraft.i18n import _

app = App(help="Warnings and overdue alerts at each platform.", no_args_is_help=True)
scheduler_app = App(help="Run the overdue sweep on a schedule.", no_args_is_help=True)


@app.command("list")
def list_alerts(
    ctx: typer.Context,
    org: Annotated[str | None, typer.Option("--org", help="Only alerts raised at this unit.")] = None,
    open_: Annotated[bool, typer.Option("--open", help="Only unacknowledged alerts.")] = False,
    case: Annotated[int | None, typer.Option("--case", help="Only alerts of this case.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """List alerts: unit, case, kind, level, deadline, raised at, acknowledged by/at."""
    from casecraft.cli import render

    items = state(ctx).engine().alerts(org=org, only_open=open_, case_id=case)
    if json_out:
        render.print_json([a.to_dict() for a in items])
    else:
        render.alert_list(items, names=render.names_of(state(ctx).engine()))


@app.command()
def ack(
    ctx: typer.Context,
    alert_id: Annotated[int, typer.Argument(metavar="ID", help="Alert id.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
    actor: Annotated[str | None, typer.Option(
        "--actor", help="Who acknowledges (a person at the alert's platform); default: the person logged in.")] = None,
) -> None:
    """Acknowledge an alert."""
    from casecraft.cli import render

    a = state(ctx).engine().ack(alert_id, actor=actor)
    if json_out:
        render.print_json(a.to_dict())
    else:
        render.line(_("alert {id} acknowledged by {person}", id=a.id, person=a.acked_by))


class _StderrLog(logging.Handler):
    """The ``casecraft`` logger's warnings and errors on the standard error stream of the moment."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # a closed stream at shutdown: logging's own report, never a crash
            self.handleError(record)


def _iso(value: Any, tz: str) -> str | None:
    """A time for JSON output: ISO 8601 in the workflow's zone, as every other time the CLI prints."""
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo(tz)).isoformat() if value is not None else None


@app.command()
def deliver(
    ctx: typer.Context,
    budget: Annotated[float, typer.Option("--budget", help="Stop after this many seconds.")] = 30.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Send the queued alert deliveries to their sinks once (for cron; `scheduler run` does it continuously)."""
    from casecraft.cli import render

    failed: list[Any] = []
    eng = state(ctx).engine()
    result = eng.deliver(budget_seconds=budget, on_failure=failed.append)
    if json_out:
        render.print_json({**result, "failures": [
            {"alert": f.alert_id, "sink": f.sink, "reason": f.reason, "reason_label": i18n.text(f.reason),
             "attempt": f.attempt, "retry_at": _iso(f.retry_at, eng.timezone)} for f in failed]})
        return
    for f in failed:
        if f.retry_at is None:
            render.line(_("alert {alert}: delivery to sink {sink} given up after {attempt} attempt(s): {reason}",
                          alert=f.alert_id, sink=f.sink, attempt=f.attempt, reason=i18n.text(f.reason)), stderr=True)
        else:
            render.line(_("alert {alert}: delivery to sink {sink} failed ({reason}); attempt {attempt}, next at {at}",
                          alert=f.alert_id, sink=f.sink, reason=i18n.text(f.reason), attempt=f.attempt,
                          at=render._local(f.retry_at, eng.timezone)), stderr=True)
    render.line(_("delivered {delivered}, to retry {retrying}, given up {dead}, left for later {released}",
                  **result))


def sweep(
    ctx: typer.Context,
    batch: Annotated[int, typer.Option("--batch", help="Deadline rows claimed per transaction.")] = 500,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """One pass: raise every warning, overdue alert and re-escalation that is due, exactly once (for cron).

    Alerts are committed and queued for delivery; `casecraft alerts deliver` (or `scheduler run`) sends them."""
    from casecraft.cli import render

    result = state(ctx).engine().sweep(batch=batch)
    if json_out:
        render.print_json(result)
    else:
        render.line(_("raised {raised} alert(s): {warning} warning, {overdue} overdue, {reescalation} re-escalation "
                      "({claimed} deadline rows checked)", **result))


@scheduler_app.command("run")
def scheduler_run(
    ctx: typer.Context,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between sweeps.")] = 60.0,
) -> None:
    """Run APScheduler: the sweep, and the previous month's evaluation once (caught up on start), until Ctrl-C."""
    from casecraft.cli import render
    from casecraft.scheduler import build_scheduler

    if not 1 <= interval <= 86_400:  # NaN fails the comparison too
        from casecraft.base.errors import InputError

        raise InputError("--interval must be between 1 second and a day (86400)")
    eng = state(ctx).engine()
    eng.check_sinks()  # a sink whose environment variable is unset: refused now, not silently on every pass

    ticks = [0]
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(eng.timezone)

    def stamp() -> str:  # the workflow's timezone, as operators read it
        return eng.now().astimezone(zone).isoformat(timespec="seconds")

    def report(result: dict[str, int]) -> None:
        ticks[0] += 1
        if result["raised"] or ticks[0] == 1:  # the first pass always reports what it caught up on
            render.line(stamp() + " " + _("raised {raised} alert(s)", raised=result["raised"]))

    def recorded(run: Any) -> None:
        if run.created:
            render.line(stamp() + " " + _("recorded the {period} evaluation ({units} unit results)",
                                          period=run.period, units=run.units))

    from casecraft.evaluation import record_due

    sched = build_scheduler(lambda: eng.sweep(), interval_seconds=interval, on_result=report,
                            monthly=lambda: (eng.check_calendar(), record_due(eng))[1], on_monthly=recorded,
                            deliver=lambda: eng.deliver(budget_seconds=max(interval / 2, 1.0)))
    render.line(_("sweeping every {interval} s; Ctrl-C to stop", interval=f"{interval:g}"))
    handler = _StderrLog()  # a running service's log (the log sink's lines, failed passes) goes to stderr
    logger = logging.getLogger("casecraft")
    logger.addHandler(handler)
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        logger.removeHandler(handler)
