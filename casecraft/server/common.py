"""What the route modules share: the JSON response, running engine calls off the event loop, payloads."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

T = TypeVar("T")


class JSON(JSONResponse):
    """JSON with Chinese unescaped; values the views leave as Python objects (rare) become their str()."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a synchronous engine call in the threadpool (the engine stays synchronous; see docs/server.md).

    An :class:`~casecraft.server.security.Acting` argument is replaced by its bound engine inside the worker
    thread, so the request's token is checked in the same hop as the call.
    """
    from casecraft.server.security import Acting

    def run() -> T:
        real = [a.engine if isinstance(a, Acting) else a for a in args]
        named = {k: (v.engine if isinstance(v, Acting) else v) for k, v in kwargs.items()}
        return fn(*real, **named)

    return await run_in_threadpool(run)


def case_payload(case: Any, deadline: Any = None, *, timeline: bool = True, with_deadline: bool = False
                 ) -> dict[str, Any]:
    """A case as the API returns it: the view's own fields, its timezone, the names of each step's targets, and
    (where asked) its step deadline."""
    out = case.to_dict(timeline=timeline)
    out["timezone"] = case.timezone
    for entry, view in zip(out.get("timeline") or (), case.timeline, strict=False):
        entry["target_names"] = view.target_names  # the names as they were shown then, for the CLI's table
    if with_deadline:
        out["deadline"] = deadline.to_dict(case.timezone) if deadline is not None else None
    return out


def with_tz(view: Any) -> dict[str, Any]:
    """A view's ``to_dict()`` plus its timezone (so a client can rebuild it exactly)."""
    out = view.to_dict()
    out["timezone"] = view.timezone
    return out


__all__ = ["JSON", "call", "case_payload", "with_tz"]
