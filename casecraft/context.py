"""What every service shares: the store, the clocks, the published workflows, the organisation, the calendar.

Nothing here is the truth: the database is. What is cached (the current
published version, units and people for labels and routing, the working
calendar) is dropped whenever the administrative revision (the admin chain's
length) moves, which every unit of work reads first; so an organisation
change, a newly published version or a calendar import made by another
process is obeyed at once. Decisions about a person (role, unit, active)
read the person in the action's own transaction.

A caller may arm a *gate* (:func:`gated`) for the next unit of work on its
thread: a check run inside that transaction, right after the revision is read,
before anything else (the server re-checks a remembered credential there).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from casecraft.base.acting import When
from casecraft.base.clock import Clock, SystemClock
from casecraft.base.errors import DatabaseError, InputError, NotFound
from casecraft.base.records import CaseRow
from casecraft.store.base import Store, Tx
from casecraft.workflows.machine import CompiledMachine
from casecraft.workflows.org import Organisation, OrgPerson, OrgUnit
from casecraft.workflows.spec import Workflow

Gate = Callable[[Tx, int], None]
_GATE: ContextVar[list[Gate] | None] = ContextVar("casecraft_gate", default=None)


@contextmanager
def gated(check: Gate) -> Iterator[list[Gate]]:
    """Run ``check(tx, revision)`` inside the next unit of work (read or write) opened in this context.

    Yields a list that is emptied when the gate has run, so the caller can tell
    whether a unit of work took place. An exception from ``check`` aborts that
    unit of work before it has done anything.
    """
    armed: list[Gate] = [check]
    token = _GATE.set(armed)
    try:
        yield armed
    finally:
        _GATE.reset(token)


def _pass_gate(tx: Tx, revision: int) -> None:
    armed = _GATE.get()
    if armed:
        armed.pop()(tx, revision)


@dataclass(frozen=True)
class Version:
    """A published workflow version: its row id, number, and spec."""

    id: int
    number: int
    spec: Workflow


class OrgCache:
    """Units and people read from the database, shared by every unit of work until the revision moves."""

    def __init__(self) -> None:
        self.units: dict[str, OrgUnit] = {}
        self.people: dict[str, OrgPerson] = {}
        self.missing: set[tuple[str, str]] = set()
        self.complete = False

    def forget(self) -> None:
        self.units, self.people, self.missing, self.complete = {}, {}, set(), False


class OrgView(Organisation):
    """The organisation as stored: fetched lazily through one transaction (or a read of its own), cached.

    A view is made per unit of work (never shared between threads); the cache behind it is shared.
    """

    def __init__(self, cache: OrgCache, tx: Tx | None = None, store: Store | None = None) -> None:
        super().__init__(cache.units, cache.people)
        self._cache = cache
        self._tx = tx
        self._store = store

    def _fetch(self, kind: str, ref: str) -> Any:
        if self._tx is not None:
            return self._tx.unit(ref) if kind == "unit" else self._tx.person(ref)
        if self._store is None:
            return None
        with self._store.read() as tx:
            return tx.unit(ref) if kind == "unit" else tx.person(ref)

    def unit(self, code: str) -> OrgUnit | None:
        found = self._cache.units.get(code)
        if found is not None or self._cache.complete or ("unit", code) in self._cache.missing:
            return found
        u = self._fetch("unit", code)
        if u is None:
            self._cache.missing.add(("unit", code))
        else:
            self._cache.units[code] = u
        return u

    def person(self, pid: str) -> OrgPerson | None:
        found = self._cache.people.get(pid)
        if found is not None or self._cache.complete or ("person", pid) in self._cache.missing:
            return found
        p = self._fetch("person", pid)
        if p is None:
            self._cache.missing.add(("person", pid))
        else:
            self._cache.people[pid] = p
        return p

    def load_all(self) -> OrgView:
        """Read every unit and person (``org show``, hotline routing)."""
        if not self._cache.complete:
            if self._tx is not None:
                units, people = self._tx.all_units(), self._tx.all_people()
            else:
                assert self._store is not None
                with self._store.read() as tx:
                    units, people = tx.all_units(), tx.all_people()
            self._cache.units.clear()
            self._cache.units.update({u.code: u for u in units})
            self._cache.people.clear()
            self._cache.people.update({p.id: p for p in people})
            self._cache.complete = True
        return self


class Context:
    """The shared context of the services over one database.

    Args:
        store: the database.
        clock: when things happen. On a sandbox database any clock is obeyed; elsewhere a clock
            other than the system's is an admin's back-fill (see :meth:`when`).
        data_dir: kept for older deployments' attachments on disk (new ones are in the database).
    """

    def __init__(self, store: Store, clock: Clock | None = None, *, wall: Clock | None = None,
                 data_dir: Path | None = None) -> None:
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.wall: Clock = wall or SystemClock()
        self.claimed_clock = clock is not None and not isinstance(clock, SystemClock)
        self.data_dir = data_dir
        self._lock = threading.RLock()
        self._revision = -1
        self._current: Version | None = None
        self._specs: dict[int, Workflow] = {}
        self._numbers: dict[int, int] = {}
        self._machines: dict[int, CompiledMachine] = {}
        self._calendars: dict[tuple[str, tuple[str, ...], int], Any] = {}
        self._org = OrgCache()
        self._sandbox: bool | None = None

    # time -------------------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock.now()

    def when(self) -> When:
        """The time of a step: the clock's, recorded by the wall clock; a back-fill if they differ by design."""
        at = self.clock.now()
        if self.sandbox:
            return When(at=at, recorded_at=at)
        return When(at=at, recorded_at=self.wall.now(), backfill=self.claimed_clock)

    # revision and caches -----------------------------------------------------------------------
    def refresh(self, tx: Tx) -> int:
        """Drop cached organisation, current version and calendar if another process changed them; the revision."""
        return self._revised(tx.admin_revision())

    def _revised(self, rev: int) -> int:
        with self._lock:
            if rev != self._revision:
                self._revision = rev
                self._current = None
                self._calendars.clear()
                self._org.forget()
                self._sandbox = None
        return rev

    def refresh_now(self) -> None:
        """Forget every cache at once (after this process changed what they hold outside the admin chain)."""
        with self._lock:
            self._revision = -1
            self._current = None
            self._calendars.clear()
            self._org.forget()
            self._sandbox = None

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """A write transaction, with the caches checked against the administrative revision."""
        with self.store.write() as tx:
            _pass_gate(tx, self.refresh(tx))
            yield tx

    @contextmanager
    def write_case(self, case_id: int) -> Iterator[tuple[Tx, CaseRow | None]]:
        """A write transaction that begins by reading case ``case_id`` (locked on PostgreSQL until the transaction
        ends) and the administrative revision in one statement; the caches are checked against that revision as
        :meth:`write` checks them. Yields the transaction and the case row (None: no such case)."""
        with self.store.write_case(case_id) as (tx, case, rev):
            _pass_gate(tx, self._revised(rev))
            yield tx, case

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self.store.read() as tx:
            _pass_gate(tx, self.refresh(tx))
            yield tx

    def org_in(self, tx: Tx) -> OrgView:
        """The organisation read through ``tx`` (decisions in an action use this one)."""
        return OrgView(self._org, tx=tx)

    @property
    def org(self) -> OrgView:
        """The organisation for labels outside a unit of work (each miss is a short read of its own)."""
        return OrgView(self._org, store=self.store)

    @property
    def sandbox(self) -> bool:
        """Whether the database was initialised as a sandbox (demo, tests): no authentication, any clock."""
        if self._sandbox is None:
            with self.store.read() as tx:
                # read at a known revision, as the other caches are: the next unit of work at the same revision
                # keeps it instead of reading it again on a connection of its own (no gate: not a unit of work)
                self.refresh(tx)
                self._sandbox = bool(tx.meta("sandbox"))
        return self._sandbox

    # workflows ----------------------------------------------------------------------------------
    def current(self) -> Version:
        """The newest published workflow version (new cases run on it).

        Raises:
            InputError: the database has no published version (run ``casecraft init``).
        """
        with self._lock:
            cur = self._current
        if cur is not None:
            return cur
        with self.store.read() as tx:
            row = tx.latest_version()
        if row is None:
            raise InputError("the database has no published workflow yet: initialise it first")
        version = Version(int(row["id"]), int(row["number"]), self._verified(row))
        with self._lock:
            self._current = version
            self._numbers[version.id] = version.number
        return version

    @property
    def workflow(self) -> Workflow:
        return self.current().spec

    @property
    def timezone(self) -> str:
        return self.workflow.timezone

    def spec(self, version_id: int) -> Workflow:
        """The spec of a published version (verified against its stored hash), loaded once per process."""
        spec = self._specs.get(version_id)
        if spec is not None:
            return spec
        with self.store.read() as tx:
            row = tx.version(version_id)
        if row is None:
            raise NotFound("workflow version {version} is not in the database", version=version_id)
        return self._verified(row)

    def version_number(self, version_id: int) -> int:
        if version_id not in self._numbers:
            with self.store.read() as tx:
                row = tx.version(version_id)
            self._numbers[version_id] = int(row["number"]) if row else 0
        return self._numbers[version_id]

    def _verified(self, row: dict[str, Any]) -> Workflow:
        vid = int(row["id"])
        spec = self._specs.get(vid)
        if spec is None:
            try:  # validated when published; the hash proves it is that data, so it is not validated again
                spec = Workflow.from_published(json.loads(row["spec"]), row["content_hash"])
            except ValueError as exc:
                raise DatabaseError("workflow version {number} was changed in the database (its rules no longer match "
                                    "their hash); nothing is done under altered rules: restore the database from a "
                                    "backup and verify it", number=row["number"]) from exc
            self._specs[vid] = spec
            self._numbers[vid] = int(row["number"])
        return spec

    def machine(self, version_id: int) -> CompiledMachine:
        """The shared compiled state machine of a version (one per version per process)."""
        m = self._machines.get(version_id)
        if m is None:
            with self._lock:
                m = self._machines.get(version_id)
                if m is None:
                    m = self._machines[version_id] = CompiledMachine(self.spec(version_id))
        return m

    def forget_versions(self) -> None:
        with self._lock:
            self._current = None

    # the working calendar --------------------------------------------------------------------------
    def calendar(self, wf: Workflow) -> Any:
        """The working calendar for a version's working hours and timezone, from last year on."""
        from casecraft.timing.calendar import WorkingCalendar, parse_periods

        first = date(self.now().year - 1, 1, 1)
        settings = wf.file.workflow
        key = (settings.timezone, tuple(settings.working_hours), first.year)
        cal = self._calendars.get(key)
        if cal is None:
            with self.store.read() as tx:
                days = tx.calendar_days(first, date(9999, 12, 31))
            cal = WorkingCalendar({d: v[0] for d, v in days.items()}, parse_periods(settings.working_hours),
                                  settings.timezone,
                                  provisional_days=[d for d, v in days.items() if v[1] == "provisional"])
            self._calendars[key] = cal
        return cal


class EngineView(Protocol):
    """What the capabilities below the engine may use of it (evaluation, audit, backups): the engine
    satisfies it, and so does anything with a store, a context and the same few reads."""

    store: Any
    ctx: Context

    @property
    def org(self) -> Organisation: ...
    @property
    def workflow(self) -> Workflow: ...
    @property
    def timezone(self) -> str: ...
    def now(self) -> datetime: ...
    def current_version(self) -> tuple[int, int]: ...


def default_data_dir(url: str | None) -> Path:
    """Where files of older deployments lived: beside an SQLite database, else ``$CASECRAFT_DATA``."""
    env = os.environ.get("CASECRAFT_DATA")
    if env:
        return Path(env)
    from casecraft.store.db import default_url

    url = url or default_url()
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        return Path(url[len("sqlite:///"):]).expanduser().resolve().parent / "casecraft-data"
    return Path("casecraft-data").resolve()


__all__ = ["Context", "EngineView", "Gate", "OrgView", "Version", "default_data_dir", "gated"]
