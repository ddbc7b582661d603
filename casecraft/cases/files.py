"""Attachments of a step: checked, then stored in the database in the step's own transaction.

The database holds every attachment's bytes (table ``files``, by SHA-256), so
every process and machine sharing the database has them, a backup carries
them and the audit can check them against the hashes in the timeline. Files
are read and stored one at a time, so memory stays bounded by one file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from casecraft.base.errors import InputError
from casecraft.store.base import Tx

MAX_PER_STEP = 20


def store_files(tx: Tx, paths: Sequence[str], now: datetime) -> tuple[dict[str, Any], ...]:
    """Check each file and store its bytes; their descriptions (sha256, name, size, type) for the entry.

    Raises:
        InputError: too many files, or one that is missing, too large or not an accepted type.
    """
    from casecraft.attachments import read_attachment

    if len(paths) > MAX_PER_STEP:
        raise InputError("at most {limit} attachments per step", limit=MAX_PER_STEP)
    out: list[dict[str, Any]] = []
    for path in paths:
        att, data = read_attachment(path)
        tx.put_file(att.sha256, att.type, data, now)
        out.append(att.to_dict())
        del data
    return tuple(out)


__all__ = ["MAX_PER_STEP", "store_files"]
