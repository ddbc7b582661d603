"""Attachments of a step: prepared before the step's transaction, stored in the database inside it.

The database holds every attachment's normalised bytes (table ``files``, by
SHA-256), so every process and machine sharing it has them, a backup carries
them and the audit checks them against the hashes in the timeline. Decoding
and re-encoding (:mod:`casecraft.attachments`) happen before the write lock is
taken, one file at a time into private temporary files; inside the
transaction each file is read back and inserted one at a time, so memory
stays bounded by one file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from typing import TYPE_CHECKING, Any

from casecraft.base.errors import InputError, NotFound
from casecraft.base.views import CaseView
from casecraft.store.base import Tx

if TYPE_CHECKING:
    from casecraft.attachments import Staged, Staging


class _NoFiles:
    """A step without attachments: nothing to stage (and the image libraries stay unloaded)."""

    items: tuple[Staged, ...] = ()


_NO_FILES: AbstractContextManager[_NoFiles] = nullcontext(_NoFiles())  # reusable: it holds nothing


def staged(paths: Sequence[str]) -> AbstractContextManager[Staging | _NoFiles]:
    """Check and normalise every file before the transaction (refusing the step if one is bad)."""
    if not paths:  # most steps: no generator to run
        return _NO_FILES
    return _staging(paths)


@contextmanager
def _staging(paths: Sequence[str]) -> Iterator[Staging]:
    from casecraft.attachments import Staging

    with Staging() as staging:
        for path in paths:
            staging.add_path(path)
        yield staging


def store_staged(tx: Tx, staging: Staging | _NoFiles, now: datetime) -> tuple[dict[str, Any], ...]:
    """Insert the staged files' bytes in ``tx``; their descriptions (sha256, name, size, type) for the entry."""
    out: list[dict[str, Any]] = []
    for item in staging.items:
        tx.put_file(item.attachment.sha256, item.attachment.type, item.read(), now)
        out.append(item.attachment.to_dict())
    return tuple(out)


def attachment_of(case: CaseView, ref: str) -> tuple[str, dict[str, Any]]:
    """The attachment of ``case``'s timeline named by ``ref``: its full SHA-256 and its description.

    ``ref`` is the SHA-256 in full, or its first 8 or more hex digits when they name one attachment
    of the case (``case show`` prints 12).

    Raises:
        InputError: not hex, or fewer than 8 digits.
        NotFound: no attachment of the case with that hash (or several: give more digits).
    """
    value = ref.strip().lower()
    if not 8 <= len(value) <= 64 or any(c not in "0123456789abcdef" for c in value):
        raise InputError("{value!r} is not an attachment id: give the sha256 (or its first 12 digits) the case lists",
                         value=ref[:80], case=case.id)
    found: dict[str, dict[str, Any]] = {}
    for e in case.timeline:
        for a in e.attachments:
            if str(a.get("sha256", "")).startswith(value):
                found.setdefault(a["sha256"], dict(a))
    if len(found) != 1:
        raise NotFound("case {case} has {how} attachment {sha256}",
                       case=case.id, sha256=value, how="more than one" if found else "no")
    return next(iter(found.items()))


__all__ = ["attachment_of", "staged", "store_staged"]
