"""Supervision (监督): the overdue sweep, alerts and their acknowledgement, urging (督办).

The sweep only writes: in one transaction per batch it claims due deadline
rows, inserts the alerts under unique keys, chains them into the ``alerts``
ledger and queues one pending delivery per configured sink (the outbox). It
never waits on a sink: delivery workers (:mod:`casecraft.alerts.outbox`) send
what is queued, with retries, elsewhere.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from casecraft import ledger
from casecraft.alerts import decisions as al
from casecraft.alerts.outbox import payloads, sink_names
from casecraft.alerts.views import AlertView, DeadlineView
from casecraft.base.duration import Duration
from casecraft.base.errors import ConflictError, InputError, NotFound, PermissionDenied
from casecraft.base.records import AlertRow, CaseRow, DueDeadline
from casecraft.base.text import check_id
from casecraft.base.views import CaseView
from casecraft.cases import timeline as tl
from casecraft.cases.rules import acting_person
from casecraft.cases.service import CaseService
from casecraft.context import Context
from casecraft.store.base import Tx
from casecraft.workflows.org import Organisation, OrgPerson
from casecraft.workflows.spec import Workflow


def may_watch(org: Any, person_id: str, unit: str | None) -> Any:
    """The person, if they may watch the alerts raised at ``unit`` (their unit or one below it; None: their own).

    Raises:
        PermissionDenied: no such person, or ``unit`` is another platform's inbox for them.
    """
    person = org.person(person_id)
    if person is None or (unit is not None and not org.within(unit, person.unit)):
        raise PermissionDenied("the alerts of {unit} are for its own people and the platforms above it; "
                               "{person} works at {own}", unit=org.label(unit or "-"), person=person_id,
                               own=org.label(person.unit) if person else "-")
    return person


def alert_key(d: DueDeadline, kind: str) -> str:
    """The unique key of an alert about a step limit: raised once per stage, kind and extension. A stage opened
    since migration 0006 is named by its case and seq; one opened before by its deadlines row's id, as its
    alerts so far were (they are chained, so keys never change)."""
    if d.row_id is not None:
        return f"d{d.row_id}:{kind}:{d.extended}"
    return f"s{d.case_id}:{d.seq}:{kind}:{d.extended}"


class Supervision:
    """Deadlines, alerts, the sweep and urging, over the shared context."""

    def __init__(self, ctx: Context, cases: CaseService) -> None:
        self.ctx = ctx
        self.cases = cases

    # the sweep ------------------------------------------------------------------------------------
    def sweep(self, *, batch: int = 500, max_batches: int | None = None) -> dict[str, int]:
        """One pass: raise every warning, overdue alert and re-escalation that is due, exactly once.

        Deadline rows are claimed in batches; each batch's alerts, their ledger
        entries and their pending deliveries commit together.

        Raises:
            InputError: a batch (or a number of batches) below 1: a pass that could raise nothing.
        """
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1 or (
                max_batches is not None and (isinstance(max_batches, bool) or max_batches < 1)):
            raise InputError("the sweep's batch and number of batches must be at least 1 (got {batch}, {batches})",
                             batch=batch, batches=max_batches)
        counts = {"claimed": 0, "raised": 0, "warning": 0, "overdue": 0, "reescalation": 0, "queued": 0}
        wf = self.ctx.workflow
        sinks = sink_names(wf)
        done = 0
        while max_batches is None or done < max_batches:
            done += 1
            with self.ctx.write() as tx:
                when = self.ctx.when()
                now = when.at
                rows = tx.claim_due(now, batch)
                if not rows:
                    break
                counts["claimed"] += len(rows)
                org = self.ctx.org_in(tx)
                alerts: list[dict[str, Any]] = []
                nexts: list[tuple[int, datetime | None]] = []
                for d in rows:
                    due, nxt = al.due_alerts(d, now)
                    nexts.append((d.id, nxt))
                    for kind, _at in due:
                        level = {"warning": 0, "overdue": 1, "reescalation": 2}[kind]
                        unit = self._superior(wf, org, d.unit_code, d.tier, level)
                        alerts.append({
                            "key": alert_key(d, kind), "case_id": d.case_id, "deadline_id": d.row_id,
                            "kind": kind, "level": level, "unit_code": unit, "state": d.state, "due_at": d.due_at,
                            "raised_at": now, "message": self._message(wf, org, d, kind)})
                self._raise(tx, alerts, sinks, when)
                tx.set_next_alerts(nexts)
            raised = [a for a in alerts if a["id"] is not None]
            counts["raised"] += len(raised)
            counts["queued"] += len(raised) * len(sinks)
            for a in raised:
                counts[a["kind"]] += 1
            if len(rows) < batch:
                break
        return counts

    def _raise(self, tx: Tx, alerts: list[dict[str, Any]], sinks: list[str], when: tl.When) -> list[int]:
        """Insert alerts (skipping keys raised before), chain them, queue their deliveries; the new ids."""
        ids = tx.insert_alerts(alerts)
        for a, i in zip(alerts, ids, strict=True):
            a["id"] = i
        chained = [a for a in alerts if a["id"] is not None]
        ledger.append(tx, ledger.ALERTS, [("alert", "system", _alert_body(a)) for a in chained], when)
        bodies = payloads(chained, self.ctx.workflow, self.ctx.org_in(tx))
        tx.insert_deliveries([(a["id"], s, bodies[a["id"]]) for a in chained for s in sinks], when.recorded_at)
        return [a["id"] for a in chained]

    def calendar_notice(self) -> int:
        """From 1 December, while next year's calendar is provisional, one alert at each district platform
        (run daily by the scheduler; ``casecraft calendar check`` for cron). The number raised."""
        wf = self.ctx.workflow
        sinks = sink_names(wf)
        now = self.ctx.now()
        local = now.astimezone(ZoneInfo(wf.timezone))
        if local.month != 12:
            return 0
        year = local.year + 1
        with self.ctx.read() as tx:
            days = tx.calendar_days(date(year, 1, 1), date(year, 12, 31))
        official = any(src not in ("provisional",) for _w, src in days.values())
        if official:
            return 0
        district = wf.tiers[3] if len(wf.tiers) > 3 else wf.tiers[-1]
        with self.ctx.write() as tx:
            when = self.ctx.when()
            org = self.ctx.org_in(tx).load_all()
            units = [u.code for u in org.units.values() if u.kind == "platform" and u.tier == district and u.active]
            alerts = [{"key": f"calendar:{year}:{u}", "case_id": None, "deadline_id": None, "kind": "calendar",
                       "level": 0, "unit_code": u, "state": "", "due_at": None, "raised_at": when.at,
                       "message": f"{year}年工作日历仍为临时日历（按法定节假日推算，未含调休安排）；国务院办公厅公布"
                                  f"{year}年节假日安排后，请管理员导入：casecraft calendar import 通知.yaml"}
                      for u in units]
            return len(self._raise(tx, alerts, sinks, when))

    def _superior(self, wf: Workflow, org: Organisation, unit: str, tier: str, steps: int) -> str:
        cur_unit, cur_tier = unit, tier
        for _ in range(steps):
            up = wf.tier_step(cur_tier, 1)
            if up is None:
                break
            nxt = org.at_tier(cur_unit, up)
            if nxt is None:
                break
            cur_unit, cur_tier = nxt, up
        return cur_unit

    def _message(self, wf: Workflow, org: Organisation, d: DueDeadline, kind: str) -> str:
        due = d.due_at.astimezone(ZoneInfo(wf.timezone)).strftime("%m-%d %H:%M")
        what = {"warning": "即将超期", "overdue": "已超期", "reescalation": "超期未办结，升级告警"}[kind]
        return (f"案件{d.case_id} {wf.state_label(d.state)} {what}（时限 {Duration.parse(d.limit_text).label}，"
                f"到期 {due}，承办 {org.label(d.unit_code)}）")

    # alerts ----------------------------------------------------------------------------------------
    def alert_view(self, a: AlertRow, org: Organisation, tz: str) -> AlertView:
        return AlertView(id=a.id, case=a.case_id, kind=a.kind, kind_label=al.KIND_LABELS.get(a.kind, a.kind),
                         level=a.level, unit=a.unit_code, unit_name=org.label(a.unit_code), state=a.state,
                         due_at=a.due_at, raised_at=a.raised_at, message=a.message, acked_by=a.acked_by,
                         acked_at=a.acked_at, timezone=tz, key=a.key)

    def alerts(self, *, org: str | None = None, only_open: bool = False, case_id: int | None = None,
               after_id: int | None = None, limit: int = 500, watcher: str | None = None) -> list[AlertView]:
        """Alerts raised at a unit's platform (``org``: that unit only), oldest first.

        Args:
            watcher: a person whose view this is (the server's bearer): only alerts raised at their unit and the
                units below it; an ``org`` outside those is refused. None: every alert (direct database mode).

        Raises:
            PermissionDenied: ``org`` is another platform's inbox for ``watcher``.
        """
        if case_id is not None:
            check_id(case_id)
        tz = self.ctx.timezone
        with self.ctx.read() as tx:
            view_org = self.ctx.org_in(tx)
            if org is not None and view_org.unit(org) is None:
                raise InputError("unknown unit '{unit}'", unit=org)
            units = [org] if org else None
            if watcher is not None:
                person = may_watch(view_org, watcher, org)
                if units is None and any(not view_org.within(r.code, person.unit) for r in view_org.roots()):
                    units = [code for code in view_org.units if view_org.within(code, person.unit)]
            rows = tx.alerts(units=units, only_open=only_open, case_id=case_id, after_id=after_id, limit=limit)
            return [self.alert_view(a, view_org, tz) for a in rows]

    def ack(self, alert_id: int, *, actor: str, on_behalf_of: str | None = None) -> AlertView:
        """Acknowledge an alert at one's own platform (recorded in the alerts chain); it stays acknowledged."""
        check_id(alert_id, "alert")
        tz = self.ctx.timezone
        with self.ctx.write() as tx:
            person, who, when = self.cases.acting(tx, actor, on_behalf_of)
            org = self.ctx.org_in(tx)
            a = tx.alert(alert_id)
            if a is None:
                raise NotFound("no alert {alert}", alert=alert_id)
            if not (person.unit == a.unit_code or org.within(a.unit_code, person.unit)):
                raise PermissionDenied("alert {alert} is at {unit}; {name} works at {own}", alert=alert_id,
                                       unit=org.label(a.unit_code), name=person.name, own=org.label(person.unit))
            if a.acked_at is not None:
                raise ConflictError("alert {alert} was already acknowledged by {by}", alert=alert_id,
                                    by=org.label(a.acked_by))
            if not tx.ack(alert_id, person.id, when.at):
                raise ConflictError("alert {alert} was already acknowledged", alert=alert_id)
            ledger.append(tx, ledger.ALERTS, [("ack", person.id, {"alert": alert_id, "key": a.key, "by": person.id,
                                                                  "by_name": person.name, "at": when.at,
                                                                  "on_behalf_of": who.on_behalf_of})], when)
            acked = tx.alert(alert_id)
            assert acked is not None
            return self.alert_view(acked, org, tz)

    # deadlines ------------------------------------------------------------------------------------
    def deadline(self, case_id: int) -> DeadlineView | None:
        """The open step deadline of a case, with the time left (negative: overdue)."""
        check_id(case_id)
        return self.deadlines([case_id]).get(case_id)

    def deadlines(self, case_ids: list[int]) -> dict[int, DeadlineView]:
        now = self.ctx.now()
        with self.ctx.read() as tx:
            rows = tx.open_deadlines(case_ids)
        return {cid: DeadlineView(state=d.state, limit=d.limit_text, started_at=d.started_at, warn_at=d.warn_at,
                                  due_at=d.due_at, extended=d.extended, seconds_left=(d.due_at - now).total_seconds(),
                                  provisional=d.provisional)
                for cid, d in rows.items()}

    def due_cases(self, *, within: timedelta | None = None, include_overdue: bool = True,
                  limit: int = 500) -> list[int]:
        """Ids of open cases whose step deadline has passed (or falls within ``within`` from now).

        ``include_overdue=False`` keeps only those still ahead (due in ``(now, now + within]``).
        """
        now = self.ctx.now()
        before = now + (within or timedelta(0))
        with self.ctx.read() as tx:
            return tx.cases_due(before=before, after=None if include_overdue else now, limit=limit)

    # urging -----------------------------------------------------------------------------------------
    def urge(self, case_id: int, *, actor: str, note: str, on_behalf_of: str | None = None) -> CaseView:
        """督办: a supervisor or the superior platform urges a case; raises an alert at the handling unit."""
        if not note or not note.strip():
            raise InputError("urging needs a note (what is asked of the handling unit)")

        def build(tx: Tx, wf: Workflow, case: CaseRow, person: OrgPerson, when: tl.When
                  ) -> tuple[str, dict[str, Any], list[tl.DeadlineOp]]:
            org = self.ctx.org_in(tx)
            roles = set(wf.file.workflow.urge_roles)
            if not roles & set(person.roles):
                raise PermissionDenied("{name} may not urge: it needs one of {roles}", name=person.name,
                                       roles=", ".join(sorted(roles)))
            superior = person.unit != case.unit_code and org.within(case.unit_code, person.unit)
            supervisor = "supervisor" in person.roles and org.within(case.unit_code, person.unit)
            if not (superior or supervisor):
                raise PermissionDenied("{name} is not above {unit}; only a supervisor or a superior platform may "
                                       "urge", name=person.name, unit=org.label(case.unit_code))
            alert = {"key": f"urge:{case.id}:{case.version + 1}", "case_id": case.id, "deadline_id": None,
                     "kind": "urge", "level": 0, "unit_code": case.unit_code, "state": case.state, "due_at": None,
                     "raised_at": when.at, "message": f"案件{case.id}被{person.name}督办：{note.strip()}"}
            self._raise(tx, [alert], sink_names(wf), when)
            return "", {}, []

        return self.cases.side_step(case_id, "urge", actor=actor, note=note, build=build, on_behalf_of=on_behalf_of)


def _alert_body(a: dict[str, Any]) -> dict[str, Any]:
    return {k: a[k] for k in ("id", "key", "case_id", "deadline_id", "kind", "level", "unit_code", "state", "due_at",
                              "raised_at", "message")}


__all__ = ["AlertView", "DeadlineView", "Supervision", "acting_person", "sink_names"]
