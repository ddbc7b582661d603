"""RemoteEngine: the engine's operator methods over HTTP, returning the same view objects.

The command line uses it instead of :class:`casecraft.engine.Engine` when
``--server``/``CASECRAFT_SERVER`` is set: same method names and signatures,
the same :class:`~casecraft.base.views.CaseView` and friends (rebuilt with
their ``from_dict``), the same errors. Every action is the token holder's:
``actor`` may only name that person. What the server does not offer (the
sweep, administration, imports, backups) raises an :class:`InputError`
naming direct database mode. Nothing here imports SQLAlchemy.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

from casecraft.base.errors import InputError, PermissionDenied
from casecraft.base.views import CaseView, TriggerOption
from casecraft.client.http import Http


class RemoteEngine:
    """The operators' engine API served by a casecraft server.

    Args:
        server: the server's URL.
        token: the person's token (from ``casecraft login`` or ``CASECRAFT_TOKEN``).
        transport: an httpx transport for tests.
    """

    remote = True

    def __init__(self, server: str, token: str, *, timeout: float = 30.0, transport: Any = None) -> None:
        self.server = server
        self.http = Http(server, token, timeout=timeout, transport=transport)
        self._me: dict[str, Any] | None = None
        self._workflow: Any = None
        # deadlines that came with the last answers, so `case show`/`list` need no second round trip
        self._deadlines: dict[int, Any] = {}

    # setup ----------------------------------------------------------------------------------
    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RemoteEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise InputError("`{name}` is not offered by the server: run this command in direct database mode "
                         "(without --server or CASECRAFT_SERVER), as an admin where it needs one", name=name)

    def me(self) -> dict[str, Any]:
        """The authenticated person: id, name, unit, roles, credential, timezone."""
        if self._me is None:
            self._me = self.http.request("GET", "/me")
        return self._me

    def principal(self) -> str:
        return str(self.me()["id"])

    @property
    def sandbox(self) -> bool:
        return bool(self.me().get("sandbox"))

    def _as_me(self, actor: str | None) -> None:
        if actor is not None and actor != self.principal():
            raise PermissionDenied("over the server every action is the logged-in person's ({principal}), not "
                                   "{actor}'s; log in as {actor}, or enter it for them in direct database mode as "
                                   "an admin", principal=self.principal(), actor=actor)

    # bodies with photos -------------------------------------------------------------------------
    def _send(self, path: str, body: dict[str, Any], photos: Sequence[str]) -> Any:
        if not photos:
            return self.http.request("POST", path, json=body)
        from casecraft.attachments import MAX_PER_STEP, clean_name

        if len(photos) > MAX_PER_STEP:
            raise InputError("at most {limit} attachments per step", limit=MAX_PER_STEP)
        data: dict[str, Any] = {k: v for k, v in body.items() if v is not None and v != []}
        for key, value in list(data.items()):
            if isinstance(value, bool | int):
                data[key] = str(value).lower() if isinstance(value, bool) else str(value)
        with ExitStack() as stack:
            files = []
            for p in photos:
                shown = clean_name(str(p))
                if not Path(p).is_file():
                    raise InputError("attachment {file!r} not found or not a file", file=shown)
                try:
                    fh = stack.enter_context(open(p, "rb"))  # noqa: SIM115 - closed by the stack
                except OSError as exc:
                    raise InputError("cannot read attachment {file!r}: {reason}", file=shown,
                                     reason=str(exc.strerror)) from None
                files.append(("photos", (os.path.basename(str(p)), fh, "application/octet-stream")))
            return self.http.request("POST", path, data=data, files=files)

    def _case(self, data: dict[str, Any]) -> CaseView:
        case = CaseView.from_dict(data)
        if "deadline" in data:
            self._deadlines[case.id] = data["deadline"]
        return case

    # cases ---------------------------------------------------------------------------------------
    def report(self, *, source: str, grid: str, category: str, desc: str, actor: str | None = None,
               ref: str | None = None, urgency: str | None = None, address: str | None = None,
               note: str | None = None, photos: Sequence[str] = ()) -> CaseView:
        self._as_me(actor)
        body = {"source": source, "grid": grid, "category": category, "desc": desc, "ref": ref, "urgency": urgency,
                "address": address, "note": note}
        return self._case(self._send("/cases", body, photos))

    def fire(self, case_id: int, trigger: str, *, actor: str | None = None, note: str | None = None,
             to: Sequence[str] = (), outcome: str | None = None, photos: Sequence[str] = (),
             expected_version: int | None = None) -> CaseView:
        self._as_me(actor)
        body = {"note": note, "to": list(to), "outcome": outcome, "expected_version": expected_version}
        return self._case(self._send(f"/cases/{int(case_id)}/fire/{trigger}", body, photos))

    def get(self, case_id: int) -> CaseView:
        return self._case(self.http.request("GET", f"/cases/{int(case_id)}"))

    def page(self, *, state: str | None = None, tier: str | None = None, org: str | None = None,
             is_open: bool | None = None, limit: int = 200, offset: int = 0, ids: Sequence[int] | None = None,
             parked: bool | None = None, category: str | None = None, source: str | None = None,
             sort: str = "id") -> Any:
        from casecraft.base.views import Page

        filters = {"state": state, "tier": tier, "org": org, "open": is_open, "parked": parked,
                   "category": category, "source": source, "sort": sort, "limit": limit, "offset": offset}
        if ids is not None:
            data = self.http.request("POST", "/cases/search", json={**filters, "ids": list(ids)})
        else:
            data = self.http.request("GET", "/cases", params={k: _q(v) for k, v in filters.items()})
        for c in data["cases"]:
            self._deadlines[c["id"]] = c.get("deadline")
        return Page.from_dict(data)

    def list(self, **filters: Any) -> builtins.list[CaseView]:
        return list(self.page(**filters).cases)

    def triggers(self, case_id: int, actor: str | None = None) -> builtins.list[TriggerOption]:
        who = actor if actor is not None else "anyone"
        data = self.http.request("GET", f"/cases/{int(case_id)}/triggers", params={"who": who})
        return [TriggerOption.from_dict(o) for o in data]

    # side steps ------------------------------------------------------------------------------------
    def _side(self, case_id: int, path: str, actor: str | None, body: dict[str, Any]) -> CaseView:
        self._as_me(actor)
        return self._case(self.http.request("POST", f"/cases/{int(case_id)}/{path}", json=body))

    def park(self, case_id: int, *, actor: str | None = None, note: str) -> CaseView:
        return self._side(case_id, "park", actor, {"note": note})

    def unpark(self, case_id: int, *, actor: str | None = None, note: str | None = None) -> CaseView:
        return self._side(case_id, "unpark", actor, {"note": note})

    def request_extension(self, case_id: int, *, actor: str | None = None, by: str, note: str) -> CaseView:
        return self._side(case_id, "extension/request", actor, {"by": by, "note": note})

    def decide_extension(self, case_id: int, *, actor: str | None = None, approve: bool,
                         note: str | None = None) -> CaseView:
        if approve:
            return self._side(case_id, "extension/approve", actor, {"note": note})
        return self._side(case_id, "extension/deny", actor, {"note": note})

    def extend(self, case_id: int, *, actor: str | None = None, by: str, note: str) -> CaseView:
        return self._side(case_id, "extend", actor, {"by": by, "note": note})

    def urge(self, case_id: int, *, actor: str | None = None, note: str) -> CaseView:
        return self._side(case_id, "urge", actor, {"note": note})

    def parked(self, *, org: str | None = None, limit: int = 500) -> builtins.list[CaseView]:
        return self.list(org=org, is_open=True, parked=True, limit=limit)

    # deadlines and alerts --------------------------------------------------------------------------
    def deadline(self, case_id: int) -> Any:
        from casecraft.alerts.views import DeadlineView

        if case_id in self._deadlines:
            d = self._deadlines.pop(case_id)
        else:
            d = self.http.request("GET", f"/cases/{int(case_id)}/deadline")
        return DeadlineView.from_dict(d) if d is not None else None

    def deadlines(self, case_ids: builtins.list[int]) -> dict[int, Any]:
        from casecraft.alerts.views import DeadlineView

        missing = [i for i in case_ids if i not in self._deadlines]
        fetched: dict[str, Any] = {}
        if missing:
            fetched = self.http.request("GET", "/deadlines", params={"ids": ",".join(str(i) for i in missing)})
        out = {}
        for i in case_ids:
            d = self._deadlines.pop(i) if i in self._deadlines else fetched.get(str(i))
            if d is not None:
                out[i] = DeadlineView.from_dict(d)
        return out

    def due_cases(self, *, within: timedelta | None = None, include_overdue: bool = True,
                  limit: int = 500) -> builtins.list[int]:
        seconds = (within or timedelta(0)).total_seconds()
        return list(self.http.request("GET", "/deadlines/due", params={
            "within_seconds": seconds, "overdue": _q(include_overdue), "limit": limit}))

    def alerts(self, *, org: str | None = None, only_open: bool = False, case_id: int | None = None,
               after_id: int | None = None, limit: int = 500) -> builtins.list[Any]:
        from casecraft.alerts.views import AlertView

        data = self.http.request("GET", "/alerts", params={"org": org, "open": _q(only_open), "case": case_id,
                                                           "after_id": after_id, "limit": limit})
        return [AlertView.from_dict(a) for a in data]

    def ack(self, alert_id: int, *, actor: str | None = None) -> Any:
        from casecraft.alerts.views import AlertView

        self._as_me(actor)
        return AlertView.from_dict(self.http.request("POST", f"/alerts/{int(alert_id)}/ack"))

    # 民情日志 -----------------------------------------------------------------------------------------
    def add_log(self, *, grid: str, actor: str | None = None, text: str, photos: Sequence[str] = ()) -> Any:
        from casecraft.sentiment import LogView

        self._as_me(actor)
        return LogView.from_dict(self._send("/logs", {"grid": grid, "text": text}, photos))

    def logs(self, *, grid: str | None = None, month: str | None = None, org: str | None = None,
             limit: int = 500) -> builtins.list[Any]:
        from casecraft.sentiment import LogView

        data = self.http.request("GET", "/logs", params={"grid": grid, "month": month, "org": org, "limit": limit})
        return [LogView.from_dict(e) for e in data]

    # the organisation and the workflow -------------------------------------------------------------
    def organisation(self) -> Any:
        from casecraft.workflows.org import Organisation, OrgPerson, OrgUnit

        data = self.http.request("GET", "/org")
        units = [OrgUnit(**{**u, "addresses": tuple(u.get("addresses") or ())}) for u in data["units"]]
        people = [OrgPerson(**{**p, "roles": tuple(p.get("roles") or ())}) for p in data["people"]]
        return Organisation.build(units, people)

    def versions(self) -> builtins.list[Any]:
        from datetime import datetime

        from casecraft.admin.versions import VersionInfo

        out = []
        for v in self.http.request("GET", "/workflow/versions"):
            created = datetime.fromisoformat(v["created_at"])
            out.append(VersionInfo(id=v["id"], workflow_id=v["workflow_id"], number=v["number"],
                                   content_hash=v["hash"], created_at=created, source_path=v["source_path"],
                                   open_cases=v["open_cases"], current=v["current"], published_by=v["published_by"],
                                   timezone=self.timezone))
        return out

    @property
    def workflow(self) -> Any:
        """The workflow in force, rebuilt from its published spec (for the report commands' labels)."""
        if self._workflow is None:
            from casecraft.workflows.spec import Workflow

            self._workflow = Workflow.from_data(self.http.request("GET", "/workflow")["spec"])
        return self._workflow

    # reports ------------------------------------------------------------------------------------------
    def monthly_report(self, month: str | None = None, level: str = "grid", org: str | None = None) -> Any:
        """A level's monthly ranking (see :func:`casecraft.evaluation.monthly_report`)."""
        from casecraft.client.reports import MonthlyReportView

        data = self.http.request("GET", "/reports/monthly", params={"month": month, "level": level, "org": org})
        return MonthlyReportView.from_dict(data, self.timezone)

    def export_report(self, kind: str, path: str | os.PathLike[str], *, month: str | None = None,
                      level: str = "grid", org: str | None = None) -> Path:
        """Write the monthly ranking as ``kind`` (csv, xlsx with a sheet per level, png) to ``path``.

        Raises:
            InputError: an unknown kind, or a file that cannot be written.
        """
        if kind not in ("csv", "xlsx", "png"):
            raise InputError("unknown report format '{format}'; use csv, xlsx or png", format=kind)
        data = self.http.request("GET", "/reports/monthly", params={"month": month, "level": level, "org": org,
                                                                     "format": kind}, raw=True)
        target = Path(path)
        try:
            target.write_bytes(data)
        except OSError as exc:
            raise InputError("cannot write {path!r}: {reason}", path=str(target), reason=exc.strerror) from None
        return target

    def case_stats(self, month: str | None = None, org: str | None = None) -> dict[str, Any]:
        """The month's case counts (see :func:`casecraft.evaluation.case_stats`)."""
        return dict(self.http.request("GET", "/reports/case-stats", params={"month": month, "org": org}))

    def history(self, org: str, *, limit: int = 36) -> builtins.list[Any]:
        """A unit's recorded months, newest first (see :func:`casecraft.evaluation.history`)."""
        from casecraft.client.reports import HistoryRowView

        data = self.http.request("GET", "/reports/history", params={"org": org, "limit": limit})
        return [HistoryRowView.from_dict(r, self.timezone) for r in data]

    @property
    def timezone(self) -> str:
        return str(self.me().get("timezone") or "Asia/Shanghai")

    def diagram(self, fmt: str, case_id: int | None = None) -> bytes:
        """The workflow in force (or a case's version with its path) drawn in ``fmt``."""
        path = f"/cases/{int(case_id)}/diagram" if case_id is not None else "/workflow/diagram"
        return bytes(self.http.request("GET", path, params={"format": fmt}, raw=True))


def _q(value: Any) -> Any:
    """A query-string value: booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


__all__ = ["RemoteEngine"]
