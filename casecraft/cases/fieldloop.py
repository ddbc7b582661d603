"""Steps of the field loop that keep a case's state: parking (挂账), extensions (延期) and their requests.

Each is one side step through the one write path: a hash-chained timeline
entry that also records what it did to the deadline rows. The roles come from
the case's own workflow version.

- **Parking**: a case that cannot be solved within any extension goes into the
  problem register. Its clock stops (every open deadline is paused) and no one
  acts on it until a leader unparks it; the clock then resumes with the time
  that was left. It stays visible (``case list --parked``).
- **Extensions**: whoever handles the case asks for more time with a reason;
  the platform's leader (``extension_roles``) approves, which moves the
  deadlines, or denies. A leader may also extend on their own authority.
"""

from __future__ import annotations

from typing import Any

from casecraft.base.duration import Duration
from casecraft.base.errors import N_, ConflictError, InputError, PermissionDenied
from casecraft.base.records import CaseRow
from casecraft.base.views import CaseView
from casecraft.cases import deadlines as dl
from casecraft.cases import timeline as tl
from casecraft.cases.rules import leader_check
from casecraft.cases.service import CaseService
from casecraft.context import Context
from casecraft.store.base import Tx
from casecraft.workflows.org import OrgPerson
from casecraft.workflows.spec import Workflow

Built = tuple[str, dict[str, Any], list[tl.DeadlineOp]]


def parse_duration(by: str) -> Duration:
    """A duration typed by a person (``1 working day``, ``4工作时``, ``30 minutes``).

    Raises:
        InputError: not a duration.
    """
    try:
        return Duration.parse(by)
    except ValueError as exc:
        raise InputError("{reason}", reason=str(exc)) from None


def _blank(note: str | None) -> bool:
    """A note that says nothing (the refusals that follow name what it should say)."""
    return not note or not note.strip()


class FieldLoop:
    """Parking and extensions, over the shared context and the case service's write path."""

    def __init__(self, ctx: Context, cases: CaseService) -> None:
        self.ctx = ctx
        self.cases = cases

    # parking ---------------------------------------------------------------------------------------
    def park(self, case_id: int, *, actor: str, note: str, on_behalf_of: str | None = None) -> CaseView:
        """挂账: put a case in the problem register; its clock stops until it is unparked."""
        if _blank(note):
            raise InputError("parking needs a note (why the case cannot be solved for now)")

        def build(tx: Tx, wf: Workflow, case: CaseRow, person: OrgPerson, when: tl.When) -> Built:
            leader_check(wf, self.ctx.org_in(tx), person, case, N_("park a case"))
            if case.parked:
                raise ConflictError("case {case} is already parked", case=case.id)
            stopped = len(tx.case_deadlines(case.id, open_only=True))
            return (f"挂账，计时暂停（{stopped}项时限）。", {"parked": True},
                    [tl.CloseDeadlines(("step", "case"), "paused")])

        return self.cases.side_step(case_id, "park", actor=actor, note=note, build=build, on_behalf_of=on_behalf_of)

    def unpark(self, case_id: int, *, actor: str, note: str | None = None,
               on_behalf_of: str | None = None) -> CaseView:
        """解除挂账: take a case out of the problem register; its clock resumes with the time left."""

        def build(tx: Tx, wf: Workflow, case: CaseRow, person: OrgPerson, when: tl.When) -> Built:
            leader_check(wf, self.ctx.org_in(tx), person, case, N_("unpark a case"))
            if not case.parked:
                raise ConflictError("case {case} is not parked", case=case.id)
            kinds = ("step",) if wf.states[case.state].paused else ("step", "case")
            ops, due = self.cases.resume_ops(tx, case, wf, when.at, kinds)
            changes: dict[str, Any] = {"parked": False}
            if due is not None:
                changes["deadline_at"] = due
            return "解除挂账，恢复计时。", changes, ops

        return self.cases.side_step(case_id, "unpark", actor=actor, note=note, build=build,
                                    on_behalf_of=on_behalf_of)

    # extensions ---------------------------------------------------------------------------------------
    def extension_ops(self, tx: Tx, wf: Workflow, case: CaseRow, duration: Duration,
                      now: Any) -> tuple[str, dict[str, Any], list[tl.DeadlineOp]]:
        """Move the open step deadline (and the case deadline) by ``duration``; a new warning point is
        computed on the extended limit, raised under a new key if still ahead."""
        if case.parked:
            raise ConflictError("case {case} is parked (挂账); unpark it before extending", case=case.id)
        step = tx.open_deadlines([case.id]).get(case.id)
        if step is None:
            raise ConflictError("case {case} has no running time limit to extend", case=case.id)
        cal = self.ctx.calendar(wf)
        values = dl.extended(wf, cal, step, duration, now)
        ops: list[tl.DeadlineOp] = [tl.SetDeadline(step, values)]
        changes: dict[str, Any] = {}
        if case.extension_request is not None:
            changes["extension_request"] = None
        if case.deadline_at is not None:
            new_case_due = cal.add(case.deadline_at, duration)
            changes["deadline_at"] = new_case_due
            for d in tx.case_deadlines(case.id, open_only=True, kinds=("case",)):
                ops.append(tl.SetDeadline(d, {"due_at": new_case_due, "extended": d.extended + 1}))
        from zoneinfo import ZoneInfo

        local = values["due_at"].astimezone(ZoneInfo(wf.timezone)).strftime("%Y-%m-%d %H:%M")
        return f"延期{duration.label}，新时限 {local}。", changes, ops

    def extend(self, case_id: int, *, actor: str, by: str, note: str, on_behalf_of: str | None = None) -> CaseView:
        """延期: a leader extends on their own authority; the open step deadline and the case deadline move."""
        duration = parse_duration(by)
        if _blank(note):
            raise InputError("an extension needs a note (the reason)")

        def build(tx: Tx, wf: Workflow, case: CaseRow, person: OrgPerson, when: tl.When) -> Built:
            leader_check(wf, self.ctx.org_in(tx), person, case, N_("approve an extension"))
            return self.extension_ops(tx, wf, case, duration, when.at)

        return self.cases.side_step(case_id, "extend", actor=actor, note=note, build=build,
                                    on_behalf_of=on_behalf_of)

    def request_extension(self, case_id: int, *, actor: str, by: str, note: str,
                          on_behalf_of: str | None = None) -> CaseView:
        """申请延期: the handling unit (or a dispatched party) asks its leader for more time."""
        duration = parse_duration(by)
        if _blank(note):
            raise InputError("an extension request needs a note (the reason)")

        def build(tx: Tx, wf: Workflow, case: CaseRow, person: OrgPerson, when: tl.When) -> Built:
            org = self.ctx.org_in(tx)
            handles = (person.unit == case.unit_code or person.id in case.assignees
                       or person.unit in case.assignees)
            if not handles:
                raise PermissionDenied("{name} does not handle case {case} (it is at {unit})", name=person.name,
                                       case=case.id, unit=org.label(case.unit_code))
            if case.extension_request:
                raise ConflictError("case {case} already has an extension request by {by} awaiting the leader's "
                                    "decision", case=case.id, by=case.extension_request.get("actor"))
            if case.parked:
                raise ConflictError("case {case} is parked; its clock is stopped already", case=case.id)
            if tx.open_deadlines([case.id]).get(case.id) is None:
                raise ConflictError("case {case} has no running time limit to extend", case=case.id)
            req = {"by": str(duration), "label": duration.label, "actor": person.id, "at": when.at.isoformat(),
                   "seq": case.version + 1, "note": (note or "").strip()}
            return f"申请延期{duration.label}。", {"extension_request": req}, []

        return self.cases.side_step(case_id, "request_extension", actor=actor, note=note, build=build,
                                    on_behalf_of=on_behalf_of)

    def decide_extension(self, case_id: int, *, actor: str, approve: bool, note: str | None = None,
                         on_behalf_of: str | None = None) -> CaseView:
        """批准/驳回延期: the leader decides a pending request; approval moves the deadlines."""
        if not approve:
            if _blank(note):
                raise InputError("denying an extension needs a note (the reason)")

        def build(tx: Tx, wf: Workflow, case: CaseRow, person: OrgPerson, when: tl.When) -> Built:
            leader_check(wf, self.ctx.org_in(tx), person, case, N_("decide an extension"))
            req = case.extension_request
            if not req:
                raise ConflictError("case {case} has no pending extension request", case=case.id)
            if not approve:
                return f"驳回{req['actor']}的延期申请。", {"extension_request": None}, []
            text, changes, ops = self.extension_ops(tx, wf, case, Duration.parse(req["by"]), when.at)
            changes["extension_request"] = None
            return f"批准{req['actor']}的延期申请：{text}", changes, ops

        return self.cases.side_step(case_id, "approve_extension" if approve else "deny_extension", actor=actor,
                                    note=note, build=build, on_behalf_of=on_behalf_of)


__all__ = ["FieldLoop", "parse_duration"]
