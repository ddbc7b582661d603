"""Steps of the field loop that keep a case's state: parking (挂账) and extension requests (延期).

Mixed into :class:`casecraft.engine.Engine`. Each is one transaction with a
hash-chained timeline entry, like every other step.

- **Parking**: a case that cannot be solved within any extension goes into the
  problem register. Its clock stops (every open deadline is paused) and no one
  acts on it until a leader unparks it; the clock then resumes with the time
  that was left. It stays visible (`casecraft case list --parked`).
- **Extension requests**: whoever handles the case asks for more time with a
  reason; the platform's leader (``extension_roles``) approves, which moves the
  deadline, or denies. A leader may also extend on their own authority
  (:meth:`Supervision.extend`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from casecraft.base.duration import Duration
from casecraft.base.errors import ConflictError, InputError, PermissionDenied
from casecraft.store import pause_repo

if TYPE_CHECKING:
    from casecraft.engine import Engine

    _Base = Engine
else:
    _Base = object


class FieldLoop(_Base):
    """Parking and extension requests (a mixin of Engine)."""

    # the clock --------------------------------------------------------------------
    def _shift(self, row: dict[str, Any], paused_at: datetime, t: datetime) -> datetime:
        """Move a time ``t`` that was ahead at ``paused_at`` on by the pause (working time if the limit is)."""
        now = self.now()
        limit = Duration.parse(row["limit_text"])
        if limit.working:
            cal = self.calendar()
            left = cal.working_seconds_between(paused_at, t)
            return cal.add(now, Duration(left / 3600.0, "hour", True))
        return now + (t - paused_at)

    def _resume_clock(self, tx: Any, case: dict[str, Any], now: datetime,
                      kinds: tuple[str, ...] = ("step", "case")) -> dict[str, Any]:
        due = pause_repo.resume(tx, case["id"], now, self._shift, kinds)
        return {"deadline_at": due["case"]} if "case" in due else {}

    def _leader_check(self, what: str) -> Any:
        roles = set(self.workflow.file.workflow.extension_roles)

        def check(person: Any, case: dict[str, Any]) -> None:
            if not roles & set(person.roles):
                raise PermissionDenied(f"{person.name} may not {what}: it needs one of {', '.join(sorted(roles))} "
                                       "(the platform's leader)")
            if not self.org.within(case["unit_code"], person.unit):
                raise PermissionDenied(f"{person.name} may {what} only for cases of "
                                       f"{self.org.label(person.unit)} and below")
        return check

    # parking ------------------------------------------------------------------------
    def park(self, case_id: int, *, actor: str, note: str) -> Any:
        """挂账: put a case in the problem register; its clock stops until it is unparked."""
        if not note or not note.strip():
            raise InputError("parking needs --note (why the case cannot be solved for now)")
        base = self._leader_check("park a case")

        def check(person: Any, case: dict[str, Any]) -> None:
            base(person, case)
            if case["parked"]:
                raise ConflictError(f"case {case['id']} is already parked", case=case["id"])

        def apply(tx: Any, wf: Any, case: dict[str, Any], person: Any, now: datetime,
                  seq: int) -> tuple[str, dict[str, Any]]:
            stopped = pause_repo.pause(tx, case["id"], now)
            return f"挂账，计时暂停（{stopped}项时限）。", {"parked": True}

        return self._side_step(case_id, "park", actor, note, check, apply)

    def unpark(self, case_id: int, *, actor: str, note: str | None = None) -> Any:
        """解除挂账: take a case out of the problem register; its clock resumes with the time left."""
        base = self._leader_check("unpark a case")

        def check(person: Any, case: dict[str, Any]) -> None:
            base(person, case)
            if not case["parked"]:
                raise ConflictError(f"case {case['id']} is not parked", case=case["id"])

        def apply(tx: Any, wf: Any, case: dict[str, Any], person: Any, now: datetime,
                  seq: int) -> tuple[str, dict[str, Any]]:
            kinds = ("step",) if wf.states[case["state"]].paused else ("step", "case")
            values = self._resume_clock(tx, case, now, kinds)
            return "解除挂账，恢复计时。", {"parked": False, **values}

        return self._side_step(case_id, "unpark", actor, note, check, apply)

    # extension requests ----------------------------------------------------------------
    def request_extension(self, case_id: int, *, actor: str, by: str, note: str) -> Any:
        """申请延期: the handling unit (or a dispatched party) asks its leader for more time."""
        duration = _duration(by)
        if not note or not note.strip():
            raise InputError("an extension request needs --note (the reason)")

        def check(person: Any, case: dict[str, Any]) -> None:
            assignees = case["assignees"] or []
            handles = (person.unit == case["unit_code"] or person.id in assignees or person.unit in assignees)
            if not handles:
                raise PermissionDenied(f"{person.name} does not handle case {case['id']} "
                                       f"(it is at {self.org.label(case['unit_code'])})")
            if case["extension_request"]:
                req = case["extension_request"]
                raise ConflictError(f"case {case['id']} already has an extension request by {req['actor']} "
                                    f"awaiting the leader's decision", case=case["id"])
            if case["parked"]:
                raise ConflictError(f"case {case['id']} is parked; its clock is stopped already")

        def apply(tx: Any, wf: Any, case: dict[str, Any], person: Any, now: datetime,
                  seq: int) -> tuple[str, dict[str, Any]]:
            from casecraft.store import alerts_repo

            if alerts_repo.open_deadlines(tx, [case["id"]]).get(case["id"]) is None:
                raise ConflictError(f"case {case['id']} has no running time limit to extend")
            req = {"by": str(duration), "label": duration.label, "actor": person.id, "at": now.isoformat(),
                   "seq": seq, "note": note.strip()}
            return f"申请延期{duration.label}。", {"extension_request": req}

        return self._side_step(case_id, "request_extension", actor, note, check, apply)

    def decide_extension(self, case_id: int, *, actor: str, approve: bool, note: str | None = None) -> Any:
        """批准/驳回延期: the leader decides a pending request; approval moves the deadlines."""
        base = self._leader_check("decide an extension")

        def check(person: Any, case: dict[str, Any]) -> None:
            base(person, case)
            if not case["extension_request"]:
                raise ConflictError(f"case {case['id']} has no pending extension request", case=case["id"])

        def apply(tx: Any, wf: Any, case: dict[str, Any], person: Any, now: datetime,
                  seq: int) -> tuple[str, dict[str, Any]]:
            req = case["extension_request"]
            if not approve:
                return f"驳回{req['actor']}的延期申请。", {"extension_request": None}
            text, values = self._apply_extension(tx, wf, case, Duration.parse(req["by"]), now)
            return f"批准{req['actor']}的延期申请：{text}", values

        if not approve and (not note or not note.strip()):
            raise InputError("denying an extension needs --note (the reason)")
        return self._side_step(case_id, "approve_extension" if approve else "deny_extension", actor, note,
                               check, apply)

    def parked(self, *, org: str | None = None, limit: int = 500) -> list[Any]:
        """The problem register: parked cases (of ``org``'s subtree), oldest first."""
        return self.list(org=org, is_open=True, parked=True, limit=limit)


def _duration(by: str) -> Duration:
    try:
        return Duration.parse(by)
    except ValueError as exc:
        raise InputError(str(exc)) from None
