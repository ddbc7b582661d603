"""Bulk intake of cases: hotline work orders (12345, 96005) and superior orders.

Mixed into :class:`casecraft.engine.Engine`.
"""

from __future__ import annotations


class Intake:
    """Engine methods that create many cases at once (hotline import)."""
