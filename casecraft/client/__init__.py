"""The command line's HTTP client of `casecraft serve` (imports no SQLAlchemy).

    from casecraft.client import RemoteEngine
"""

from __future__ import annotations

from typing import Any

__all__ = ["RemoteEngine"]


def __getattr__(name: str) -> Any:
    if name == "RemoteEngine":
        from casecraft.client.engine import RemoteEngine

        return RemoteEngine
    raise AttributeError(name)
