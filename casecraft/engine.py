"""The public front of casecraft: a thin, typed facade over the services.

Each capability is a service over one shared :class:`~casecraft.context.Context`
(store, clocks, published workflows, compiled machines, organisation,
calendar): cases, the field loop, supervision, intake, the logbook,
organisation administration, workflow versions. The facade resolves who is
acting (the authenticated person, or any person on a sandbox database) and
hands each call to its service; it holds no rules of its own.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casecraft.base.clock import Clock
from casecraft.base.errors import InputError, PermissionDenied
from casecraft.base.views import CaseView, TriggerOption
from casecraft.cases.fieldloop import FieldLoop
from casecraft.cases.service import CaseService, Page
from casecraft.context import Context, Version, default_data_dir
from casecraft.workflows.machine import CompiledMachine
from casecraft.workflows.org import Organisation, OrgPerson, OrgUnit
from casecraft.workflows.spec import Workflow

if TYPE_CHECKING:
    from casecraft.admin.org import ReloadResult
    from casecraft.admin.versions import Migration, VersionInfo
    from casecraft.alerts.supervision import AlertView, DeadlineView, Supervision
    from casecraft.intake.service import ImportResult, Intake
    from casecraft.sentiment import Logbook, LogView

class Engine:
    """The casecraft engine over one database.

    Args:
        db: an SQLAlchemy URL; default ``$CASECRAFT_DB`` or ``sqlite:///casecraft.db``.
        workflow: the workflow file (or a loaded :class:`Workflow`) that ``init`` publishes into an
            empty database and ``publish`` brings into force; the rules of every action are the
            database's published versions, never this file. Default: ``$CASECRAFT_WORKFLOW``,
            ./workflows.yaml, else the packaged default.
        clock: where "now" comes from; default the system clock. Any other clock is obeyed on a
            sandbox database; elsewhere it is an admin's back-fill, recorded as such.
        token: a person's credential (default ``$CASECRAFT_TOKEN``): every action is theirs.
        read_only: open the database for reading only (audits of evidence copies, reports).
    """

    def __init__(
        self,
        db: str | None = None,
        workflow: Workflow | str | os.PathLike[str] | None = None,
        clock: Clock | None = None,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        token: str | None = None,
        read_only: bool = False,
    ) -> None:
        from casecraft.store.repo import Store

        self._workflow_arg = workflow
        self.store = Store(db, read_only=read_only)
        self.ctx = Context(self.store, clock, data_dir=Path(data_dir) if data_dir else default_data_dir(db))
        self.cases = CaseService(self.ctx)
        self.fieldloop = FieldLoop(self.ctx, self.cases)
        self._token = token if token is not None else os.environ.get("CASECRAFT_TOKEN") or None
        self._principal: str | None = None

    # the services a case action does not need are made (and imported) on first use: start-up time
    @cached_property
    def supervision(self) -> Supervision:
        from casecraft.alerts.supervision import Supervision

        return Supervision(self.ctx, self.cases)

    @cached_property
    def intake(self) -> Intake:
        from casecraft.intake.service import Intake

        return Intake(self.ctx, self.cases)

    @cached_property
    def logbook(self) -> Logbook:
        from casecraft.sentiment import Logbook

        return Logbook(self.ctx, self.cases)

    # setup ---------------------------------------------------------------------------------
    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    def now(self) -> Any:
        return self.ctx.now()

    def close(self) -> None:
        """Release the database connections; the engine refuses any further use (make a new one)."""
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def source_workflow(self) -> Workflow:
        """The workflow file given to this engine (to publish), validated."""
        if isinstance(self._workflow_arg, Workflow):
            return self._workflow_arg
        from casecraft.workflows.loader import load_workflow

        wf = load_workflow(self._workflow_arg)
        self._workflow_arg = wf
        return wf

    def init(self, *, load_org: bool = True, sandbox: bool = False, admin: str | None = None) -> dict[str, Any]:
        """Create or upgrade the database; on an empty one, publish the workflow, load the organisation
        and seed the calendar.

        Args:
            sandbox: make a new database a sandbox (demo, tests, training): no authentication, any
                clock, every command says so. Only when the database is new.
            admin: the first admin of a new production database (a person with the ``admin`` role in
                the organisation file); then :meth:`bootstrap_admin` issues their token. A new database
                needs either this or ``sandbox``.

        Returns:
            counts of what changed and the current version number.

        Raises:
            InputError: a new database with neither ``sandbox`` nor ``admin``, both, or an ``admin`` the
                organisation file does not list as an admin.
        """
        from casecraft.admin import log as adminlog
        from casecraft.admin.org import OrgAdmin
        from casecraft.admin.versions import publish

        if sandbox and admin:
            raise InputError("a sandbox database has no logins, so it has no first admin")
        counts: dict[str, Any] = {"units_added": 0, "units_changed": 0, "people_added": 0, "people_changed": 0}
        with self.store.read() as tx:
            fresh = tx.latest_version() is None and tx.count_units() == 0
        if fresh and not sandbox:
            from casecraft.admin.auth import check_first_admin

            check_first_admin(admin, self.source_workflow().org if load_org else None)
        with self.store.write() as tx:
            fresh = tx.latest_version() is None and tx.count_units() == 0
            if fresh and sandbox:
                tx.set_meta("sandbox", True)
                adminlog.record(tx, adminlog.SANDBOX_ACTOR, "db.sandbox", {"sandbox": True}, self.ctx.when())
            elif sandbox and not tx.meta("sandbox"):
                raise InputError("a sandbox is only made from a new database; this one holds data already")
        self.ctx.refresh_now()
        if fresh:
            wf = self.source_workflow()
            publish(self.ctx, wf, actor="init")
            if load_org and wf.org is not None:
                counts.update(OrgAdmin(self.ctx).load_organisation(wf.org, actor="init"))
        with self.store.read() as tx:
            empty = tx.count_calendar_days() == 0
        if empty:
            from casecraft.store.calendar_repo import seed_calendar

            counts["calendar_days_added"] = seed_calendar(self.store, None, self.now())
        version = self.ctx.current()
        counts["workflow_version"] = version.number
        counts["workflow_version_id"] = version.id
        counts["sandbox"] = self.ctx.sandbox
        if admin:
            counts["admin"] = admin
        return counts

    def bootstrap_admin(self, person: str, *, label: str | None = None) -> tuple[str, Any]:
        """Issue the first admin's token on a production database (only while no admin holds one).

        Returns:
            the token (shown only here) and its :class:`~casecraft.admin.auth.CredentialInfo`.

        Raises:
            PermissionDenied: an admin holds credentials already.
            InputError: a sandbox database; a person who is not an active admin.
        """
        from casecraft.admin.auth import bootstrap_admin

        return bootstrap_admin(self.ctx, person, label=label)

    @property
    def sandbox(self) -> bool:
        """Whether the database is a sandbox (no authentication; any clock)."""
        return self.ctx.sandbox

    @property
    def workflow(self) -> Workflow:
        """The newest published workflow (new cases run on it)."""
        return self.ctx.workflow

    @property
    def timezone(self) -> str:
        return self.ctx.timezone

    def current_version(self) -> tuple[int, int]:
        """(id, number) of the newest published version."""
        v: Version = self.ctx.current()
        return v.id, v.number

    def spec_for(self, version_id: int) -> Workflow:
        """The workflow a case runs on (its published version), verified and compiled once per process."""
        return self.ctx.spec(version_id)

    def version_id(self, number: int) -> int:
        """The row id of the published version with this number."""
        from casecraft.admin.versions import resolve

        return resolve(self.ctx, number).id

    def machine_for(self, version_id: int) -> CompiledMachine:
        return self.ctx.machine(version_id)

    @property
    def org(self) -> Organisation:
        """The organisation as stored (read lazily; for labels)."""
        return self.ctx.org

    def organisation(self) -> Organisation:
        """The whole organisation as stored (units and people)."""
        with self.ctx.read() as tx:
            return self.ctx.org_in(tx).load_all()

    def calendar(self) -> Any:
        """The working calendar of the current workflow's working hours."""
        return self.ctx.calendar(self.workflow)

    # identity --------------------------------------------------------------------------------
    def _acting(self, actor: str | None) -> tuple[str, str | None]:
        """(the acting person, the admin entering it for them) for a call made with ``actor``.

        Raises:
            PermissionDenied: no authenticated person outside a sandbox.
            InputError: no actor given on a sandbox database.
        """
        principal = self.principal()
        if principal is None:
            if self.ctx.sandbox:
                if not actor:
                    raise InputError("say who acts (a person id)")
                return actor, None
            raise PermissionDenied("this database needs an authenticated person (a token); only a sandbox database "
                                   "does not")
        if not actor or actor == principal:
            return principal, None
        return actor, principal

    def _admin(self, actor: str | None) -> str | None:
        principal = self.principal()
        if principal is None:
            if self.ctx.sandbox:
                return actor
            raise PermissionDenied("administration needs an authenticated admin (a token)")
        if actor and actor != principal:
            raise PermissionDenied("an admin acts as themself ({principal}), not as {actor}", principal=principal,
                                   actor=actor)
        return principal

    def principal(self) -> str | None:
        """The authenticated person's id (from the engine's token), or None."""
        if self._principal is None and self._token:
            from casecraft.admin.auth import authenticate

            self._principal = authenticate(self.ctx, self._token).person_id
        return self._principal

    def bound(self, person_id: str) -> Engine:
        """This engine acting for an already authenticated person (the server, per request).

        The copy shares the database, caches and services; only who acts differs.
        The caller vouches for the authentication (e.g. :func:`casecraft.admin.auth.authenticate`).
        """
        import copy

        other = copy.copy(self)
        other._principal, other._token = person_id, None
        return other

    def authenticate(self, token: str) -> Any:
        """The :class:`~casecraft.admin.auth.Principal` a token belongs to (refused if invalid or revoked)."""
        from casecraft.admin.auth import authenticate

        return authenticate(self.ctx, token)

    def login(self, token: str) -> str:
        """Authenticate with a person's token; every later action is theirs. Returns their id."""
        self._token, self._principal = token, None
        principal = self.principal()
        assert principal is not None
        return principal

    # cases ------------------------------------------------------------------------------------
    def report(self, *, source: str, grid: str, category: str, desc: str, actor: str | None = None,
               ref: str | None = None, urgency: str | None = None, address: str | None = None,
               note: str | None = None, photos: Sequence[str] = ()) -> CaseView:
        """Create a case and record its first timeline entry (see :meth:`CaseService.report`)."""
        who, behalf = self._acting(actor)
        return self.cases.report(source=source, grid=grid, category=category, desc=desc, actor=who, ref=ref,
                                 urgency=urgency, address=address, note=note, photos=photos, on_behalf_of=behalf)

    def fire(self, case_id: int, trigger: str, *, actor: str | None = None, note: str | None = None,
             to: Sequence[str] = (), outcome: str | None = None, photos: Sequence[str] = (),
             expected_version: int | None = None) -> CaseView:
        """Fire ``trigger`` on a case: one transaction, all or nothing (see :meth:`CaseService.fire`)."""
        who, behalf = self._acting(actor)
        return self.cases.fire(case_id, trigger, actor=who, note=note, to=to, outcome=outcome, photos=photos,
                               expected_version=expected_version, on_behalf_of=behalf)

    def get(self, case_id: int, *, reveal_contact: bool = False, actor: str | None = None) -> CaseView:
        """A case with its whole timeline; the citizen's contact masked (``138****5678``).

        Args:
            reveal_contact: show the contact in full, to a person whose role is in the case's
                workflow ``contact_roles`` (the authenticated person; on a sandbox, ``actor``).
                Each reveal is recorded in the admin chain.

        Raises:
            PermissionDenied: a reveal by someone not allowed (or nobody authenticated).
        """
        if not reveal_contact:
            return self.cases.get(case_id)
        from dataclasses import replace

        from casecraft.admin.privacy import reveal_contact as reveal

        who, behalf = self._acting(actor)
        if behalf is not None:
            raise PermissionDenied("a contact is revealed only to the person asking ({principal}), never on behalf "
                                   "of {actor}", principal=behalf, actor=who)
        contact = reveal(self.ctx, case_id, actor=who)
        return replace(self.cases.get(case_id), contact=contact)

    def list(self, *, state: str | None = None, tier: str | None = None, org: str | None = None,
             is_open: bool | None = None, limit: int = 200, offset: int = 0, ids: Sequence[int] | None = None,
             parked: bool | None = None, category: str | None = None, source: str | None = None,
             sort: str = "id") -> builtins.list[CaseView]:
        """One page of cases (see :meth:`page` for the total)."""
        return self.page(state=state, tier=tier, org=org, is_open=is_open, limit=limit, offset=offset, ids=ids,
                         parked=parked, category=category, source=source, sort=sort).cases

    def page(self, **filters: Any) -> Page:
        """Cases filtered and paged, with how many match in all."""
        return self.cases.page(**filters)

    def triggers(self, case_id: int, actor: str | None = None) -> builtins.list[TriggerOption]:
        """What may happen next to a case and who may do it (and whether ``actor`` may)."""
        return self.cases.triggers(case_id, actor)

    # the field loop and supervision -------------------------------------------------------------
    def park(self, case_id: int, *, actor: str | None = None, note: str) -> CaseView:
        who, behalf = self._acting(actor)
        return self.fieldloop.park(case_id, actor=who, note=note, on_behalf_of=behalf)

    def unpark(self, case_id: int, *, actor: str | None = None, note: str | None = None) -> CaseView:
        who, behalf = self._acting(actor)
        return self.fieldloop.unpark(case_id, actor=who, note=note, on_behalf_of=behalf)

    def request_extension(self, case_id: int, *, actor: str | None = None, by: str, note: str) -> CaseView:
        who, behalf = self._acting(actor)
        return self.fieldloop.request_extension(case_id, actor=who, by=by, note=note, on_behalf_of=behalf)

    def decide_extension(self, case_id: int, *, actor: str | None = None, approve: bool,
                         note: str | None = None) -> CaseView:
        who, behalf = self._acting(actor)
        return self.fieldloop.decide_extension(case_id, actor=who, approve=approve, note=note, on_behalf_of=behalf)

    def extend(self, case_id: int, *, actor: str | None = None, by: str, note: str) -> CaseView:
        who, behalf = self._acting(actor)
        return self.fieldloop.extend(case_id, actor=who, by=by, note=note, on_behalf_of=behalf)

    def urge(self, case_id: int, *, actor: str | None = None, note: str) -> CaseView:
        who, behalf = self._acting(actor)
        return self.supervision.urge(case_id, actor=who, note=note, on_behalf_of=behalf)

    def parked(self, *, org: str | None = None, limit: int = 500) -> builtins.list[CaseView]:
        """The problem register: parked cases (of ``org``'s subtree), oldest first."""
        return self.list(org=org, is_open=True, parked=True, limit=limit)

    def sweep(self, *, batch: int = 500, max_batches: int | None = None) -> dict[str, int]:
        """One pass of the overdue sweep (alerts committed and queued for delivery, never sent inline)."""
        return self.supervision.sweep(batch=batch, max_batches=max_batches)

    def deliver(self, *, budget_seconds: float = 30.0, batch: int = 50,
                on_failure: Callable[[Any], None] | None = None) -> dict[str, int]:
        """Send queued alert deliveries to their sinks (the outbox worker's one pass).

        ``on_failure`` is told of each failed send (a :class:`~casecraft.alerts.delivery.FailedSend`).

        The sinks are built once per engine from the current workflow's settings and the
        environment (URLs and secrets come only from environment variables); the circuit
        breakers persist across passes.

        Raises:
            InputError: a sink's environment variable is unset or holds a bad URL.
        """
        from casecraft.alerts.outbox import deliver_once

        sinks, breakers = self._sinks()
        return deliver_once(self.ctx, sinks, breakers, budget_seconds=budget_seconds, batch=batch,
                            on_failure=on_failure)

    def check_sinks(self) -> builtins.list[str]:
        """Build the alert sinks of the current workflow now (their environment variables read); their names.

        Raises:
            InputError: a sink's environment variable is unset or holds a bad URL.
        """
        return [s.name for s in self._sinks()[0]]

    def _sinks(self) -> tuple[Any, Any]:
        from casecraft.alerts.delivery import CircuitBreakers
        from casecraft.alerts.sinks import build_sinks

        wf = self.workflow
        cached = getattr(self, "_built_sinks", None)
        if cached is None or cached[0] != wf.content_hash:
            cached = (wf.content_hash, build_sinks(wf.file.workflow.sinks, os.environ), CircuitBreakers())
            self._built_sinks = cached
        return cached[1], cached[2]

    def alerts(self, *, org: str | None = None, only_open: bool = False, case_id: int | None = None,
               after_id: int | None = None, limit: int = 500, watcher: str | None = None) -> builtins.list[AlertView]:
        """Alerts raised at a unit's platform, oldest first (``watcher``: only those that person may watch: see
        :meth:`casecraft.alerts.supervision.Supervision.alerts`)."""
        return self.supervision.alerts(org=org, only_open=only_open, case_id=case_id, after_id=after_id,
                                       limit=limit, watcher=watcher)

    def ack(self, alert_id: int, *, actor: str | None = None) -> AlertView:
        who, behalf = self._acting(actor)
        return self.supervision.ack(alert_id, actor=who, on_behalf_of=behalf)

    def deadline(self, case_id: int) -> DeadlineView | None:
        return self.supervision.deadline(case_id)

    def deadlines(self, case_ids: builtins.list[int]) -> dict[int, DeadlineView]:
        return self.supervision.deadlines(case_ids)

    def due_cases(self, *, within: timedelta | None = None, include_overdue: bool = True,
                  limit: int = 500) -> builtins.list[int]:
        return self.supervision.due_cases(within=within, include_overdue=include_overdue, limit=limit)

    # intake and the logbook -------------------------------------------------------------------------
    def import_hotline(self, path: str | os.PathLike[str], *, actor: str | None = None, skip_bad: bool = False,
                       rejects: str | os.PathLike[str] | None = None, fmt: str | None = None,
                       progress: Callable[[int, int], None] | None = None,
                       batch_size: int = 500, rejects_force: bool = False) -> ImportResult:
        who, behalf = self._acting(actor)
        return self.intake.import_hotline(path, actor=who, skip_bad=skip_bad, rejects=rejects, fmt=fmt,
                                          progress=progress, batch_size=batch_size, on_behalf_of=behalf,
                                          rejects_force=rejects_force)

    def add_log(self, *, grid: str, actor: str | None = None, text: str, photos: Sequence[str] = ()) -> LogView:
        who, behalf = self._acting(actor)
        return self.logbook.add(grid=grid, actor=who, text=text, photos=photos, on_behalf_of=behalf)

    def logs(self, *, grid: str | None = None, month: str | None = None, org: str | None = None,
             limit: int = 500) -> builtins.list[LogView]:
        return self.logbook.list(grid=grid, month=month, org=org, limit=limit)

    # administration ----------------------------------------------------------------------------------
    def _org_admin(self) -> Any:
        from casecraft.admin.org import OrgAdmin

        return OrgAdmin(self.ctx)

    def load_organisation(self, org: Organisation, *, actor: str | None = None) -> dict[str, int]:
        return self._org_admin().load_organisation(org, actor=self._admin(actor))  # type: ignore[no-any-return]

    def add_unit(self, code: str, name: str, parent: str, *, tier: str | None = None, kind: str = "platform",
                 addresses: Sequence[str] = (), actor: str | None = None) -> OrgUnit:
        return self._org_admin().add_unit(code, name, parent, tier=tier, kind=kind,  # type: ignore[no-any-return]
                                          addresses=tuple(addresses), actor=self._admin(actor))

    def set_addresses(self, code: str, addresses: Sequence[str], *, actor: str | None = None) -> OrgUnit:
        return self._org_admin().set_addresses(code, tuple(addresses),  # type: ignore[no-any-return]
                                               actor=self._admin(actor))

    def add_person(self, pid: str, name: str, unit: str, roles: Sequence[str], *, note: str | None = None,
                   actor: str | None = None) -> OrgPerson:
        return self._org_admin().add_person(pid, name, unit, tuple(roles), note=note,  # type: ignore[no-any-return]
                                            actor=self._admin(actor))

    def move_person(self, pid: str, unit: str, *, roles: Sequence[str] | None = None, note: str | None = None,
                    actor: str | None = None) -> OrgPerson:
        return self._org_admin().move_person(pid, unit, roles=roles, note=note,  # type: ignore[no-any-return]
                                             actor=self._admin(actor))

    def deactivate(self, ref: str, *, actor: str | None = None) -> OrgPerson | OrgUnit:
        return self._org_admin().deactivate(ref, actor=self._admin(actor))  # type: ignore[no-any-return]

    def activate(self, ref: str, *, actor: str | None = None) -> OrgPerson | OrgUnit:
        return self._org_admin().activate(ref, actor=self._admin(actor))  # type: ignore[no-any-return]

    def reload_organisation(self, path: str | os.PathLike[str], *, deactivate_missing: bool = False,
                            actor: str | None = None) -> ReloadResult:
        return self._org_admin().reload_organisation(  # type: ignore[no-any-return]
            path, deactivate_missing=deactivate_missing, actor=self._admin(actor))

    def publish(self, workflow: Workflow | str | os.PathLike[str] | None = None, *, actor: str | None = None,
                note: str | None = None) -> VersionInfo:
        """Bring a workflow file into force as the next published version (an admin's act)."""
        from casecraft.admin.versions import publish
        from casecraft.workflows.loader import load_workflow

        wf = workflow if isinstance(workflow, Workflow) else (
            load_workflow(workflow) if workflow is not None else self.source_workflow())
        return publish(self.ctx, wf, actor=self._admin(actor), note=note)

    def versions(self) -> builtins.list[VersionInfo]:
        from casecraft.admin.versions import list_versions

        return list_versions(self.ctx)

    def migrate(self, from_ref: str | int, to_ref: str | int, *, actor: str | None = None,
                mapping: dict[str, str] | None = None, note: str | None = None, dry_run: bool = False) -> Migration:
        from casecraft.admin.versions import migrate

        return migrate(self.ctx, from_ref, to_ref, actor=self._admin(actor) if not dry_run else actor,
                       mapping=mapping, note=note, dry_run=dry_run)

    def attachment(self, sha256: str) -> tuple[str, bytes]:
        """An attachment's media type and bytes, checked against their hash.

        Raises:
            InputError: a malformed hash.
            NotFound: no such attachment.
            DatabaseError: the stored bytes no longer match their hash (run ``casecraft audit verify``).
        """
        from casecraft.attachments import check_sha256, verify
        from casecraft.base.errors import DatabaseError, NotFound

        sha = check_sha256(sha256)
        with self.store.read() as tx:
            found = tx.file(sha)
        if found is None:
            raise NotFound("no attachment {sha256}", sha256=sha)
        if not verify(sha, found[1]):
            raise DatabaseError("attachment {sha256} no longer has the bytes its hash names; verify the database",
                                sha256=sha)
        return found

    # credentials and the admin log ----------------------------------------------------------
    def issue_token(self, person: str, *, actor: str | None = None,
                    label: str | None = None) -> tuple[str, Any]:
        """A new token for ``person`` (an admin's act, recorded); the token is returned only here."""
        from casecraft.admin.auth import issue_token

        return issue_token(self.ctx, person, actor=self._admin(actor), label=label)

    def revoke_credentials(self, ref: str, *, actor: str | None = None) -> builtins.list[str]:
        """Revoke a credential by id, or every credential of a person (an admin's act); the revoked ids."""
        from casecraft.admin.auth import revoke

        return revoke(self.ctx, ref, actor=self._admin(actor))

    def set_password(self, person: str, password: str, *, actor: str | None = None) -> Any:
        """Set a person's web password (an admin's act, recorded; earlier passwords revoked)."""
        from casecraft.admin.auth import set_password

        return set_password(self.ctx, person, password, actor=self._admin(actor))

    def credentials(self, person: str | None = None, *, actor: str | None = None) -> builtins.list[Any]:
        """Credentials (never their secrets), oldest first; an admin's view.

        Raises:
            PermissionDenied: outside a sandbox, the authenticated person is not an admin.
        """
        from casecraft.admin.auth import credentials, is_admin

        who = self._admin(actor)
        if not self.ctx.sandbox and (who is None or not is_admin(self.ctx, who)):
            raise PermissionDenied("listing credentials needs the admin role")
        return credentials(self.ctx, person)

    def admin_log(self, *, after: int = 0, limit: int = 1000) -> builtins.list[Any]:
        """The admin chain's entries (every administrative act and contact reveal), oldest first."""
        from casecraft.admin.log import entries

        return entries(self.ctx, after=after, limit=limit)

    def case_attachment(self, case_id: int, sha256: str) -> tuple[dict[str, Any], bytes]:
        """An attachment of a case's timeline and its bytes, checked against their hash.

        Args:
            sha256: the attachment's SHA-256 as ``case show`` lists it: in full, or its first 8 or more
                hex digits when they name one attachment of the case.

        Returns:
            the attachment's description (``sha256``, ``name``, ``size``, ``type``) and its bytes.

        Raises:
            InputError: not hex, or a prefix shorter than 8 digits.
            NotFound: no such case, or no attachment of the case with that hash (or several: give more digits).
            DatabaseError: the stored bytes no longer match their hash.
        """
        from casecraft.cases.files import attachment_of

        full, info = attachment_of(self.get(case_id), sha256)
        _media, data = self.attachment(full)
        return info, data

    # evaluation and drawings --------------------------------------------------------------------------
    def monthly_report(self, month: str | None = None, level: str = "grid", org: str | None = None) -> Any:
        """A level's monthly ranking (see :func:`casecraft.evaluation.monthly_report`)."""
        from casecraft.evaluation import monthly_report

        return monthly_report(self, month, level, org)

    def monthly_reports(self, month: str | None, levels: builtins.list[tuple[str, str | None]]) -> builtins.list[Any]:
        """Several levels' rankings from one pass of the SQL (see :func:`casecraft.evaluation.monthly_reports`)."""
        from casecraft.evaluation import monthly_reports

        return monthly_reports(self, month, levels)

    def case_stats(self, month: str | None = None, org: str | None = None) -> dict[str, Any]:
        from casecraft.evaluation import case_stats

        return case_stats(self, month, org)

    def history(self, org: str, *, limit: int = 36) -> builtins.list[Any]:
        from casecraft.evaluation import history

        return history(self, org, limit=limit)

    def record_month(self, month: str | None = None, *, trigger: str = "manual") -> Any:
        from casecraft.evaluation import record_month

        return record_month(self, month, trigger=trigger)

    def diagram(self, fmt: str, case_id: int | None = None) -> bytes:
        """The workflow in force (or a case's own version with its path highlighted) drawn in ``fmt``
        (mermaid, dot, svg, png, bpmn)."""
        import tempfile

        from casecraft.workflows import diagram as dg

        kind = dg.format_for("", fmt)
        with tempfile.TemporaryDirectory(prefix="casecraft-") as folder:
            target = Path(folder) / f"diagram.{ {'mermaid': 'mmd'}.get(kind, kind) }"
            if case_id is not None:
                dg.case_diagram(self, case_id, str(target))
            else:
                dg.write(self.workflow, str(target), kind)
            return target.read_bytes()

    # the working calendar ------------------------------------------------------------------------
    def _calendar_admin(self) -> Any:
        from casecraft.admin.calendar import CalendarAdmin

        return CalendarAdmin(self.ctx)

    def calendar_year(self, year: int) -> builtins.list[Any]:
        """Every date of a year as deadlines count it (stored rows; the provisional rule for a year not yet known)."""
        return self._calendar_admin().year(year)  # type: ignore[no-any-return]

    def set_calendar_day(self, day: Any, workday: bool, *, note: str | None = None, actor: str | None = None) -> Any:
        """Make one date a workday or a holiday (an admin's act; open deadlines after it are recomputed)."""
        return self._calendar_admin().set_day(day, workday, note=note, actor=self._admin(actor))

    def import_calendar(self, path: str | os.PathLike[str], *, actor: str | None = None) -> Any:
        """Import the official notice (YAML) or a CSV of dates (an admin's act; open deadlines recomputed)."""
        return self._calendar_admin().import_file(path, actor=self._admin(actor))

    def seed_calendar(self, years: builtins.list[int] | None = None, *, actor: str | None = None) -> int:
        return self._calendar_admin().seed(years, actor=self._admin(actor))  # type: ignore[no-any-return]

    def check_calendar(self) -> dict[str, Any]:
        """Next year stored (provisional until its notice), and from 1 December the district platforms told."""
        return self._calendar_admin().check()  # type: ignore[no-any-return]

    def snapshot(self) -> dict[str, builtins.list[tuple[Any, ...]]]:
        """Every row of every table (for tests and audits that compare before/after)."""
        with self.store.read() as tx:
            return {t: tx.table_rows(t) for t in ("workflow_versions", "units", "people", "cases", "timeline",
                                                  "deadlines", "alerts", "deliveries", "calendar_days",
                                                  "sentiment_logs", "evaluation_runs", "evaluation_results",
                                                  "ledger", "meta", "files", "credentials", "org_history")}


__all__ = ["Engine"]
