"""casecraft: a workflow engine for tiered case management in urban grid governance.

The public API::

    from casecraft import Engine, FixedClock
    engine = Engine("sqlite:///casecraft-sandbox.db")
    engine.init(sandbox=True)  # a sandbox: no logins (a real database: init(admin=...), then a person's token)
    case = engine.report(source="patrol", grid="110106004005005", category="0101",
                         desc="楼门张贴小广告", actor="wangjg")
    engine.fire(case.id, "resolve", actor="wangjg", note="已清除")
    engine.close()

Names are imported lazily so that the command line starts fast.
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import Any

# A library logs, the application decides where it goes: without a handler the log sink's
# lines stay off the operator's screen (`casecraft serve` sends them to the server's log).
logging.getLogger("casecraft").addHandler(logging.NullHandler())

__version__ = "0.1.0"

_EXPORTS = {
    "Engine": "casecraft.engine",
    "Clock": "casecraft.base.clock", "FixedClock": "casecraft.base.clock", "SystemClock": "casecraft.base.clock",
    "parse_time": "casecraft.base.clock",
    "CasecraftError": "casecraft.base.errors", "ConflictError": "casecraft.base.errors",
    "InputError": "casecraft.base.errors", "NotFound": "casecraft.base.errors",
    "PermissionDenied": "casecraft.base.errors", "RuleError": "casecraft.base.errors",
    "TriggerNotAllowed": "casecraft.base.errors", "WorkflowError": "casecraft.base.errors",
    "CalendarError": "casecraft.base.errors", "DatabaseError": "casecraft.base.errors",
    "UnavailableError": "casecraft.base.errors",
    "CaseView": "casecraft.base.views", "TimelineView": "casecraft.base.views", "TriggerOption": "casecraft.base.views",
    "Workflow": "casecraft.workflows", "load_workflow": "casecraft.workflows",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'casecraft' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
