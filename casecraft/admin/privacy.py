"""Citizens' contacts: masked in every output, revealed only to the roles the workflow lists, each reveal logged.

A case's ``contact`` (the caller of a hotline work order, an Open311 reporter) is
shown as ``138****5678`` by every command, the JSON, the server and the audit.
``casecraft case show --reveal-contact`` shows it in full to a person whose role
is in the case's own workflow version's ``contact_roles`` and whose unit is the
case's unit or above it; every reveal is an entry of the admin chain
(``case.reveal_contact``: who, which case), written in the same transaction that
reads the contact.
"""

from __future__ import annotations

from casecraft.admin import log as adminlog
from casecraft.base.errors import NotFound, PermissionDenied
from casecraft.base.text import check_id
from casecraft.cases.rules import acting_person
from casecraft.context import Context

REVEAL_KIND = "case.reveal_contact"


def reveal_contact(ctx: Context, case_id: int, *, actor: str) -> str | None:
    """The case's contact in full, for ``actor`` (recorded in the admin chain).

    Raises:
        NotFound: no such case.
        PermissionDenied: the person's role is not in ``contact_roles``, or the case is not in their subtree.
    """
    check_id(case_id)
    with ctx.write() as tx:
        case = tx.case(case_id)
        if case is None:
            raise NotFound("no case {case}", case=case_id)
        person = acting_person(tx, actor)
        wf = ctx.spec(case.workflow_version_id)
        allowed = list(wf.file.workflow.contact_roles)
        if not set(allowed) & set(person.roles):
            raise PermissionDenied("{name}({id}) may not see contacts in full: it needs one of {roles} (the "
                                   "workflow's contact_roles)", name=person.name, id=person.id,
                                   roles=", ".join(allowed) or "(no role)")
        org = ctx.org_in(tx)
        if not org.within(case.unit_code, person.unit):
            raise PermissionDenied("{name}({id}) may see contacts only of cases of {unit} and below", name=person.name,
                                   id=person.id, unit=org.label(person.unit))
        adminlog.record(tx, person.id, REVEAL_KIND, {"case": case_id, "role": next(
            r for r in person.roles if r in allowed)}, ctx.when())
    return case.contact


__all__ = ["REVEAL_KIND", "reveal_contact"]
