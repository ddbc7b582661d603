"""Supervision (监督): the overdue sweep, alerts, urging (督办) and extensions (延期).

Mixed into :class:`casecraft.engine.Engine`; every method is one unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from casecraft.alerts import decisions as al
from casecraft.base.duration import Duration
from casecraft.base.errors import ConflictError, InputError, NotFound, PermissionDenied
from casecraft.store import alerts_repo
from casecraft.timing import deadlines as dl

if TYPE_CHECKING:
    from casecraft.engine import Engine

    _Base = Engine
else:
    _Base = object


@dataclass(frozen=True)
class AlertView:
    id: int
    case: int
    kind: str
    kind_label: str
    level: int
    unit: str
    unit_name: str
    state: str
    due_at: datetime | None
    raised_at: datetime
    message: str
    acked_by: str | None
    acked_at: datetime | None
    timezone: str = "Asia/Shanghai"

    def to_dict(self) -> dict[str, Any]:
        tz = ZoneInfo(self.timezone)

        def iso(d: datetime | None) -> str | None:
            return d.astimezone(tz).isoformat() if d else None

        return {"id": self.id, "case": self.case, "kind": self.kind, "kind_label": self.kind_label,
                "level": self.level, "unit": self.unit, "unit_name": self.unit_name, "state": self.state,
                "due_at": iso(self.due_at), "raised_at": iso(self.raised_at), "message": self.message,
                "acked_by": self.acked_by, "acked_at": iso(self.acked_at)}


@dataclass(frozen=True)
class DeadlineView:
    state: str
    limit: str
    started_at: datetime
    warn_at: datetime | None
    due_at: datetime
    extended: int
    seconds_left: float

    @property
    def overdue(self) -> bool:
        return self.seconds_left < 0

    def to_dict(self, tz: str) -> dict[str, Any]:
        z = ZoneInfo(tz)
        return {"state": self.state, "limit": self.limit, "started_at": self.started_at.astimezone(z).isoformat(),
                "warn_at": self.warn_at.astimezone(z).isoformat() if self.warn_at else None,
                "due_at": self.due_at.astimezone(z).isoformat(), "extended": self.extended,
                "seconds_left": round(self.seconds_left), "overdue": self.overdue,
                "left": dl.humanize(self.seconds_left)}


class Supervision(_Base):
    """Deadlines, alerts and the sweep (a mixin of Engine)."""

    def _superior(self, unit: str, tier: str, steps: int) -> str:
        wf = self.workflow
        cur_unit, cur_tier = unit, tier
        for _ in range(steps):
            up = wf.tier_step(cur_tier, 1)
            if up is None:
                break
            nxt = self.org.at_tier(cur_unit, up)
            if nxt is None:
                break
            cur_unit, cur_tier = nxt, up
        return cur_unit

    def sweep(self, *, batch: int = 500, max_batches: int | None = None) -> dict[str, int]:
        """One pass: raise every warning, overdue alert and re-escalation that is due, exactly once.

        Deadline rows are claimed in batches; alerts are inserted under a unique
        key and committed before they are delivered to the configured sinks.
        """
        counts = {"claimed": 0, "raised": 0, "warning": 0, "overdue": 0, "reescalation": 0, "delivered": 0,
                  "failed": 0}
        now = self.now()
        done = 0
        while max_batches is None or done < max_batches:
            done += 1
            new_ids: list[int] = []
            with self.store.write() as tx:
                rows = alerts_repo.claim_due(tx, now, batch)
                if not rows:
                    break
                counts["claimed"] += len(rows)
                alerts: list[dict[str, Any]] = []
                nexts: list[tuple[int, datetime | None]] = []
                for d in rows:
                    due, nxt = al.due_alerts(d, now)
                    nexts.append((d["id"], nxt))
                    for kind, _at in due:
                        level = {"warning": 0, "overdue": 1, "reescalation": 2}[kind]
                        unit = self._superior(d["unit_code"], d["tier"], level)
                        alerts.append({
                            "key": f"d{d['id']}:{kind}:{d['extended']}", "case_id": d["case_id"],
                            "deadline_id": d["id"], "kind": kind, "level": level, "unit_code": unit,
                            "state": d["state"], "due_at": d["due_at"], "raised_at": now,
                            "message": self._alert_message(d, kind, unit)})
                new_ids = alerts_repo.insert_alerts(tx, alerts)
                alerts_repo.set_next_alerts(tx, nexts)
                raised = alerts_repo.alerts(tx, ids=new_ids, limit=len(new_ids)) if new_ids else []
            counts["raised"] += len(raised)
            for a in raised:
                counts[a["kind"]] += 1
            if raised:
                c = self._deliver(raised)
                counts["delivered"] += c["delivered"]
                counts["failed"] += c["failed"]
            if len(rows) < batch:
                break
        return counts

    def _alert_message(self, d: dict[str, Any], kind: str, unit: str) -> str:
        wf = self.workflow
        due = d["due_at"].astimezone(ZoneInfo(wf.timezone)).strftime("%m-%d %H:%M")
        what = {"warning": "即将超期", "overdue": "已超期", "reescalation": "超期未办结，升级告警"}[kind]
        return (f"案件{d['case_id']} {wf.state_label(d['state'])} {what}（时限 "
                f"{Duration.parse(d['limit_text']).label}，到期 {due}，承办 {self.org.label(d['unit_code'])}）")

    def _deliver(self, raised: list[dict[str, Any]]) -> dict[str, int]:
        sinks = list(self.workflow.file.workflow.sinks)
        if not sinks:
            return {"delivered": 0, "failed": 0}
        records: list[tuple[int, str, str, int, str | None]] = []
        counts = al.deliver(raised, sinks, lambda *r: records.append(r))
        with self.store.write() as tx:
            for alert_id, sink, status, attempts, error in records:
                alerts_repo.record_delivery(tx, alert_id, sink, status, attempts, error, self.now())
        return counts

    def _alert_view(self, a: dict[str, Any]) -> AlertView:
        return AlertView(id=a["id"], case=a["case_id"], kind=a["kind"],
                         kind_label=al.KIND_LABELS.get(a["kind"], a["kind"]),
                         level=a["level"], unit=a["unit_code"], unit_name=self.org.label(a["unit_code"]),
                         state=a["state"], due_at=a["due_at"], raised_at=a["raised_at"], message=a["message"],
                         acked_by=a["acked_by"], acked_at=a["acked_at"], timezone=self.workflow.timezone)

    def alerts(self, *, org: str | None = None, only_open: bool = False, case_id: int | None = None,
               limit: int = 500) -> list[AlertView]:
        """Alerts raised at a unit's platform (``org``: that unit only), oldest first."""
        if org is not None and self.org.unit(org) is None:
            raise InputError(f"unknown unit '{org}'; see `casecraft org show`")
        with self.store.read() as tx:
            rows = alerts_repo.alerts(tx, units=[org] if org else None, only_open=only_open, case_id=case_id,
                                      limit=limit)
        return [self._alert_view(a) for a in rows]

    def ack(self, alert_id: int, *, actor: str) -> AlertView:
        """Acknowledge an alert at one's own platform; an acknowledged alert stays acknowledged."""
        person = self._person(actor)
        now = self.now()
        with self.store.write() as tx:
            a = alerts_repo.alert(tx, alert_id)
            if a is None:
                raise NotFound(f"no alert {alert_id}", alert=alert_id)
            if not (person.unit == a["unit_code"] or self.org.within(a["unit_code"], person.unit)):
                raise PermissionDenied(f"alert {alert_id} is at {self.org.label(a['unit_code'])}; "
                                       f"{person.name} works at {self.org.label(person.unit)}")
            if a["acked_at"] is not None:
                raise ConflictError(f"alert {alert_id} was already acknowledged by {a['acked_by']}",
                                    alert=alert_id)
            if not alerts_repo.ack(tx, alert_id, person.id, now):
                raise ConflictError(f"alert {alert_id} was already acknowledged", alert=alert_id)
            a = alerts_repo.alert(tx, alert_id)
        assert a is not None
        return self._alert_view(a)

    def deadline(self, case_id: int) -> DeadlineView | None:
        """The open step deadline of a case, with the time left (negative: overdue)."""
        return self.deadlines([case_id]).get(case_id)

    def deadlines(self, case_ids: list[int]) -> dict[int, DeadlineView]:
        now = self.now()
        with self.store.read() as tx:
            rows = alerts_repo.open_deadlines(tx, case_ids)
        return {cid: DeadlineView(state=d["state"], limit=d["limit_text"], started_at=d["started_at"],
                                  warn_at=d["warn_at"], due_at=d["due_at"], extended=d["extended"],
                                  seconds_left=(d["due_at"] - now).total_seconds())
                for cid, d in rows.items()}

    def due_cases(self, *, within: timedelta | None = None, limit: int = 500) -> list[int]:
        """Ids of open cases whose step deadline has passed (or falls within ``within``)."""
        before = self.now() + (within or timedelta(0))
        with self.store.read() as tx:
            return alerts_repo.cases_due(tx, before=before, limit=limit)

    def _side_step(self, case_id: int, trigger: str, actor: str, note: str | None, check: Any,
                   apply: Any) -> Any:
        """Record a step that keeps the state (urge, extend): checks, timeline entry, extra writes."""
        from casecraft.engine import _text

        note = _text(note, "the note", 2000)
        self._ensure_org()
        self.calendar()  # never seed or load inside the write transaction below
        person = self._person(actor)
        now = self.now()
        with self.store.write() as tx:
            case = tx.case(case_id)
            if case is None:
                raise NotFound(f"no case {case_id}", case=case_id)
            if not case["is_open"]:
                raise ConflictError(f"case {case_id} is finished; nothing to {trigger}", case=case_id)
            check(person, case)
            wf = self.spec_for(case["workflow_version_id"])
            from casecraft.workflows.model import Transition

            tr = Transition(trigger=trigger, source=case["state"], dest=case["state"],
                            roles=list(person.roles) or ["-"])
            seq = case["version"] + 1
            applied = apply(tx, wf, case, person, now, seq)
            extra_note, extra_values = applied if isinstance(applied, tuple) else (applied, {})
            full_note = " ".join(x for x in (extra_note, note) if x) or None
            entry = self._entry(case_id, seq, now, person, tr, case["state"], case["tier"], case["state"],
                                case["tier"], case["unit_code"], [], None, full_note, [], case["last_hash"])
            if not tx.update_case(case_id, case["version"], {"version": seq, "last_hash": entry["hash"],
                                                             "updated_at": now, **extra_values}):
                raise ConflictError(f"case {case_id} was changed by someone else; try again", case=case_id)
            tx.insert_timeline(entry)
            written = self._read_back(tx, case_id)
        return self._view(*written)

    def urge(self, case_id: int, *, actor: str, note: str) -> Any:
        """督办: a supervisor or the superior platform urges a case; raises an alert at the handling unit."""
        if not note or not note.strip():
            raise InputError("urging needs --note (what is asked of the handling unit)")
        roles = set(self.workflow.file.workflow.urge_roles)

        def check(person: Any, case: dict[str, Any]) -> None:
            if not roles & set(person.roles):
                raise PermissionDenied(f"{person.name} may not urge: it needs one of {', '.join(sorted(roles))}")
            superior = person.unit != case["unit_code"] and self.org.within(case["unit_code"], person.unit)
            supervisor = "supervisor" in person.roles and self.org.within(case["unit_code"], person.unit)
            if not (superior or supervisor):
                raise PermissionDenied(f"{person.name} is not above {self.org.label(case['unit_code'])}; only a "
                                       "supervisor or a superior platform may urge")

        def apply(tx: Any, wf: Any, case: dict[str, Any], person: Any, now: datetime, seq: int) -> str:
            alerts_repo.insert_alerts(tx, [{
                "key": f"urge:{case['id']}:{seq}", "case_id": case["id"], "deadline_id": None, "kind": "urge",
                "level": 0, "unit_code": case["unit_code"], "state": case["state"], "due_at": None,
                "raised_at": now, "message": f"案件{case['id']}被{person.name}督办：{note.strip()}"}])
            return ""

        return self._side_step(case_id, "urge", actor, note, check, apply)

    def extend(self, case_id: int, *, actor: str, by: str, note: str) -> Any:
        """延期: a leader approves an extension; the open step deadline and the case deadline move."""
        try:
            duration = Duration.parse(by)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        if not note or not note.strip():
            raise InputError("an extension needs --note (the reason)")
        roles = set(self.workflow.file.workflow.extension_roles)

        def check(person: Any, case: dict[str, Any]) -> None:
            if not roles & set(person.roles):
                raise PermissionDenied(f"{person.name} may not approve an extension: it needs one of "
                                       f"{', '.join(sorted(roles))}")
            if not self.org.within(case["unit_code"], person.unit):
                raise PermissionDenied(f"{person.name} may approve extensions only for cases of "
                                       f"{self.org.label(person.unit)} and below")

        def apply(tx: Any, wf: Any, case: dict[str, Any], person: Any, now: datetime, seq: int) -> str:
            return self._apply_extension(tx, wf, case, duration, now)

        return self._side_step(case_id, "extend", actor, note, check, apply)

    def _apply_extension(self, tx: Any, wf: Any, case: dict[str, Any], duration: Duration,
                         now: datetime) -> tuple[str, dict[str, Any]]:
        """Move the open step deadline (and the case deadline) by ``duration``; a new warning
        point is computed on the extended limit, raised under a new key if still ahead."""
        if case["parked"]:
            raise ConflictError(f"case {case['id']} is parked (挂账); unpark it before extending")
        d = alerts_repo.open_deadlines(tx, [case["id"]]).get(case["id"])
        if d is None:
            raise ConflictError(f"case {case['id']} has no running time limit to extend")
        cal = self.calendar()
        p = dl.extend(wf, cal, d["due_at"], duration)
        warn = dl.fraction_point(cal, d["started_at"], p.due_at, Duration.parse(d["limit_text"]),
                                 wf.file.workflow.warn_at)
        warn_at = warn if warn > now else None
        alerts_repo.update_deadline(tx, d["id"], {"due_at": p.due_at, "escalate_at": p.escalate_at,
                                                  "warn_at": warn_at, "next_alert_at": warn_at or p.due_at,
                                                  "extended": d["extended"] + 1})
        values: dict[str, Any] = {"extension_request": None}
        if case["deadline_at"] is not None:
            new_case_due = cal.add(case["deadline_at"], duration)
            values["deadline_at"] = new_case_due
            alerts_repo.move_case_deadline(tx, case["id"], new_case_due)
        local = p.due_at.astimezone(ZoneInfo(wf.timezone)).strftime("%Y-%m-%d %H:%M")
        return f"延期{duration.label}，新时限 {local}。", values
