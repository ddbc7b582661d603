"""Photos and documents attached to a step, stored content-addressed.

Files are identified by their sha256 and stored under the data directory as
``attachments/ab/cdef…``; the original name is recorded (cleaned) but never
used as a path. Only images and PDF are accepted, by their content.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from casecraft.base.errors import InputError

MAX_BYTES = 20 * 1024 * 1024
MAX_PER_STEP = 20

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"%PDF-", 0, "application/pdf"),
)


def sniff(head: bytes) -> str | None:
    """The media type of a file from its first bytes, if it is an accepted type."""
    for magic, offset, mime in _MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1"):
        return "image/heic"
    return None


def clean_name(name: str) -> str:
    """A display name: the last path part, without control characters, at most 120 chars."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    return (base or "attachment")[:120]


@dataclass(frozen=True)
class Attachment:
    sha256: str
    name: str
    size: int
    type: str

    def to_dict(self) -> dict[str, object]:
        return {"sha256": self.sha256, "name": self.name, "size": self.size, "type": self.type}


def read_attachment(path: str | os.PathLike[str]) -> tuple[Attachment, bytes]:
    """Read and check one file given by an operator.

    Raises:
        InputError: missing, unreadable, too large, empty, or not an image/PDF.
    """
    p = Path(path)
    shown = clean_name(str(path))
    try:
        if not p.is_file():
            raise InputError(f"attachment {shown!r} not found or not a file", file=shown)
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise InputError(f"attachment {shown!r} is {size} bytes; the limit is {MAX_BYTES // (1024 * 1024)} MiB",
                             file=shown)
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read attachment {shown!r}: {exc.strerror}", file=shown) from None
    if not data:
        raise InputError(f"attachment {shown!r} is empty", file=shown)
    mime = sniff(data[:16])
    if mime is None:
        raise InputError(f"attachment {shown!r} is not an image (JPEG, PNG, GIF, WebP, HEIC) or a PDF",
                         file=shown)
    return Attachment(hashlib.sha256(data).hexdigest(), shown, len(data), mime), data


class AttachmentStore:
    """Content-addressed files under ``root/attachments``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise InputError("bad attachment id")
        return self.root / "attachments" / sha256[:2] / sha256[2:]

    def put_files(self, paths: list[str]) -> list[Attachment]:
        """Check every file first, then store them; nothing is stored if one is bad."""
        if len(paths) > MAX_PER_STEP:
            raise InputError(f"at most {MAX_PER_STEP} attachments per step")
        items = [read_attachment(p) for p in paths]
        out = []
        for att, data in items:
            target = self.path_for(att.sha256)
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_suffix(f".tmp{os.getpid()}")
                with open(tmp, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            out.append(att)
        return out
