"""Photos attached to a step: checked, cleaned and re-encoded before anything is stored.

A file is read once, within a size limit checked before reading; its type is told by its
content, never its name; its structure is walked to refuse polyglots (data after the picture,
HTML or script inside, a script-comment header); then it is decoded, under a pixel limit checked
from the header before decoding, and encoded again without any metadata (see
:mod:`casecraft.attachments.images`). What is stored, and hashed, is the re-encoded picture:
JPEG stays JPEG, PNG stays PNG, WebP stays WebP, GIF becomes a PNG of its first frame.

HEIC, AVIF and PDF are refused, each with what to do instead. A PDF cannot be checked soundly
from its bytes: object streams are compressed (so ``/JavaScript`` or ``/OpenAction`` may not
appear in the raw bytes), names may be hex-escaped (``/J#61vaScript``), readers disagree on how
to find objects in a damaged file, and a plain scan of compressed streams refuses honest files
(``/JS`` plus a delimiter occurs by chance in about one 20 MiB file in thirteen).

Memory: one file at a time. Its bytes (at most ``max_bytes``), one transient lower-cased copy
for the marker scan, the decoded picture (at most ``max_pixels``, 3-4 bytes each) and, for a
photo taken sideways, one turned copy. :class:`Staging` keeps each cleaned file on disk, so a
step's files never sit in memory together.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from casecraft.attachments.images import check_pixels, reencode
from casecraft.attachments.layout import GIF, JPEG, PNG, WEBP, inspect, sniff
from casecraft.base.errors import InputError

__all__ = [
    "MAX_BYTES", "MAX_PER_STEP", "MAX_PIXELS", "DEFAULT_LIMITS", "Attachment", "Limits",
    "Prepared", "Staged", "Staging", "check_sha256", "clean_name", "display_name", "prepare", "prepare_bytes",
    "prepare_stream", "sniff", "verify",
]

MAX_BYTES = 20 * 1024 * 1024
MAX_PER_STEP = 20
MAX_PIXELS = 40_000_000
NAME_LENGTH = 120

_MIB = 1024 * 1024
# Cc controls, Cf format characters (bidi overrides and isolates, zero-width spaces and joiners,
# BOM, soft hyphen), surrogates, private use, unassigned, line and paragraph separators.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_EXTENSIONS = {JPEG: (".jpg", ".jpeg", ".jpe", ".jfif"), PNG: (".png",), WEBP: (".webp",)}
_IMAGE_EXTENSIONS = frozenset({".gif", ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".webp", ".heic",
                               ".heif", ".avif", ".bmp", ".tif", ".tiff"})


@dataclass(frozen=True)
class Limits:
    """What one attachment may be.

    Attributes:
        max_bytes: the largest file read, and the largest cleaned file kept (default 20 MiB).
        max_pixels: the largest width × height decoded (default 40 megapixels: a 48 or 50 MP
            phone's full-resolution mode is refused, its default 12 MP photos are not). At most
            Pillow's ``Image.MAX_IMAGE_PIXELS``, which is left as it is.
        max_files: attachments per step.
        max_padding: NUL, 0xFF or whitespace bytes allowed after a picture's end marker.
        jpeg_quality: quality of re-encoded JPEGs.
        webp_quality: quality of re-encoded lossy WebPs (lossless ones stay lossless).
    """

    max_bytes: int = MAX_BYTES
    max_pixels: int = MAX_PIXELS
    max_files: int = MAX_PER_STEP
    max_padding: int = 64 * 1024
    jpeg_quality: int = 90
    webp_quality: int = 90

    def __post_init__(self) -> None:
        ceiling = Image.MAX_IMAGE_PIXELS
        if self.max_bytes < 1 or self.max_files < 1 or self.max_padding < 0:
            raise ValueError("attachment limits must be positive")
        if not 0 < self.max_pixels <= (ceiling if ceiling else self.max_pixels):
            raise ValueError(f"max_pixels must be between 1 and Pillow's MAX_IMAGE_PIXELS ({ceiling})")
        if not (1 <= self.jpeg_quality <= 95 and 1 <= self.webp_quality <= 100):
            raise ValueError("jpeg_quality must be 1-95 and webp_quality 1-100")


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Attachment:
    """One stored attachment as a step records it: the cleaned file's hash, display name, size and type."""

    sha256: str
    name: str
    size: int
    type: str

    def to_dict(self) -> dict[str, object]:
        return {"sha256": self.sha256, "name": self.name, "size": self.size, "type": self.type}


@dataclass(frozen=True)
class Prepared:
    """A checked, re-encoded attachment ready to store.

    Attributes:
        attachment: what the step records; ``attachment.sha256`` is the hash of ``data``.
        data: the re-encoded bytes, the only bytes ever stored.
        width: width in pixels (upright).
        height: height in pixels (upright).
        original_type: the media type of the file as given (``image/gif`` for a GIF stored as PNG).
        original_size: the size of the file as given, in bytes.
    """

    attachment: Attachment
    data: bytes
    width: int
    height: int
    original_type: str
    original_size: int


def prepare(path: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS, name: str | None = None) -> Prepared:
    """Check, clean and re-encode one file given by its path.

    The size is checked from the open file before anything is read; the file is read once.

    Args:
        path: the file.
        limits: the limits to apply.
        name: the display name to record; default the file's own name.

    Returns:
        The re-encoded attachment.

    Raises:
        InputError: missing, not a regular file, unreadable, empty, too large, not an accepted
            image, a polyglot, too many pixels, damaged.
    """
    shown = clean_name(name if name is not None else os.fspath(path))
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputError("attachment {file!r} not found; check the path and attach it again",
                         error_code="attachment_missing", file=shown) from None
    except OSError as exc:
        raise _unreadable(shown, exc) from None
    try:
        regular, size = stat.S_ISREG((info := os.fstat(fd)).st_mode), info.st_size
    except OSError as exc:
        os.close(fd)
        raise _unreadable(shown, exc) from None
    if not regular:
        os.close(fd)
        raise InputError("attachment {file!r} is not a file (a folder or a device); give the path of the photo",
                         error_code="attachment_missing", file=shown)
    with open(fd, "rb", buffering=0) as fh:  # owns the descriptor from here
        _check_size(shown, size, limits)  # from the open file: no race with a rename
        try:
            data = _read_capped(fh, shown, limits)
        except OSError as exc:
            raise _unreadable(shown, exc) from None
    return prepare_bytes(data, name=shown, limits=limits)


def prepare_stream(stream: BinaryIO, *, name: str, limits: Limits = DEFAULT_LIMITS) -> Prepared:
    """Check, clean and re-encode one file read from a binary stream (an HTTP upload).

    At most ``limits.max_bytes + 1`` bytes are read: a longer stream is refused without
    reading the rest.

    Raises:
        InputError: as :func:`prepare`.
    """
    shown = clean_name(name)
    try:
        data = _read_capped(stream, shown, limits)
    except OSError as exc:
        raise _unreadable(shown, exc) from None
    return prepare_bytes(data, name=shown, limits=limits)


def prepare_bytes(data: bytes, *, name: str, limits: Limits = DEFAULT_LIMITS) -> Prepared:
    """Check, clean and re-encode one file already in memory.

    Raises:
        InputError: as :func:`prepare`.
    """
    shown = clean_name(name)
    _check_size(shown, len(data), limits)
    kind = sniff(data[:32])
    if kind not in (JPEG, PNG, GIF, WEBP):
        raise _unaccepted(shown, kind)
    layout = inspect(data, kind, shown, max_padding=limits.max_padding)
    check_pixels(shown, *layout.size, limits.max_pixels)  # as the header claims, before Pillow reads it
    picture = reencode(data, kind, layout, shown, max_pixels=limits.max_pixels,
                       jpeg_quality=limits.jpeg_quality, webp_quality=limits.webp_quality)
    if len(picture.data) > limits.max_bytes:
        raise InputError("attachment {file!r} is {size} bytes once cleaned; the limit is {limit} MiB: save a "
                         "smaller copy as JPEG and attach that", error_code="attachment_too_large", file=shown,
                         size=len(picture.data), limit=limits.max_bytes // _MIB)
    att = Attachment(hashlib.sha256(picture.data).hexdigest(), display_name(shown, picture.type),
                     len(picture.data), picture.type)
    return Prepared(att, picture.data, picture.width, picture.height, kind, len(data))


def verify(sha256: str, data: bytes) -> bool:
    """Whether stored bytes still have the hash their attachment records (for ``audit verify``)."""
    return hashlib.sha256(data).hexdigest() == sha256


def check_sha256(text: str) -> str:
    """An attachment id as given by a user, checked: 64 lower-case hex digits.

    Raises:
        InputError: anything else.
    """
    value = text.strip().lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise InputError("{value!r} is not an attachment id: give the 64-character sha256 that `case show` "
                         "lists", error_code="attachment_id", value=text[:80])
    return value


def clean_name(name: str, *, limit: int = NAME_LENGTH) -> str:
    """A display name: the last path part, without invisible characters, at most ``limit`` characters.

    Control, format (bidi overrides, zero-width), private-use and unassigned characters are
    dropped; runs of spaces become one space; the name is NFC-normalised; a long name keeps its
    extension. The name is only ever shown, never used as a path.
    """
    base = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    kept = "".join(" " if unicodedata.category(ch) == "Zs" else ch
                   for ch in base if unicodedata.category(ch) not in _HIDDEN)
    text = " ".join(kept.split())
    if len(text) > limit:
        stem, dot, suffix = text.rpartition(".")
        if dot and stem and 0 < len(suffix) <= 10:
            text = stem[:limit - len(suffix) - 1].rstrip(" .") + "." + suffix
        else:
            text = text[:limit].rstrip()
    return text if text not in ("", ".", "..") else "attachment"


def display_name(name: str, media_type: str) -> str:
    """The cleaned name with an extension that matches what is stored (``anim.gif`` → ``anim.png``)."""
    base = clean_name(name)
    allowed = _EXTENSIONS.get(media_type)
    if allowed is None:
        return base
    stem, dot, suffix = base.rpartition(".")
    ext = "." + suffix.lower() if dot and stem else ""
    if ext in allowed:
        return base
    return clean_name((stem if ext in _IMAGE_EXTENSIONS else base) + allowed[0])


def _check_size(shown: str, size: int, limits: Limits) -> None:
    if size > limits.max_bytes:
        raise InputError("attachment {file!r} is {size} bytes; the limit is {limit} MiB: save a smaller copy "
                         "as JPEG and attach that", error_code="attachment_too_large", file=shown, size=size,
                         limit=limits.max_bytes // _MIB)
    if size == 0:
        raise InputError("attachment {file!r} is empty; copy the photo again and attach it",
                         error_code="attachment_empty", file=shown)


def _read_capped(stream: BinaryIO, shown: str, limits: Limits) -> bytes:
    """At most ``max_bytes + 1`` bytes: enough to know a stream is too long without reading it all."""
    parts: list[bytes] = []
    total = 0
    while total <= limits.max_bytes:
        chunk = stream.read(limits.max_bytes + 1 - total)
        if not chunk:
            break
        parts.append(chunk)
        total += len(chunk)
    if total > limits.max_bytes:
        raise InputError("attachment {file!r} is more than {limit} MiB; save a smaller copy as JPEG and attach "
                         "that", error_code="attachment_too_large", file=shown, limit=limits.max_bytes // _MIB)
    data = parts[0] if len(parts) == 1 else b"".join(parts)
    _check_size(shown, len(data), limits)
    return data


def _unreadable(shown: str, exc: OSError) -> InputError:
    return InputError("cannot read attachment {file!r} ({reason}); check that the file is readable and attach "
                      "it again", error_code="attachment_unreadable", file=shown,
                      reason=exc.strerror or type(exc).__name__)


def _unaccepted(shown: str, kind: str | None) -> InputError:
    if kind == "image/heic":
        return InputError("attachment {file!r} is a HEIC photo (the iPhone's own format), which casecraft does "
                          "not accept; export it as JPEG (or set Camera > Formats > Most Compatible) and attach "
                          "it again", error_code="attachment_type", file=shown, type=kind)
    if kind == "image/avif":
        return InputError("attachment {file!r} is an AVIF image, which casecraft does not accept; save it as "
                          "JPEG and attach it again", error_code="attachment_type", file=shown, type=kind)
    if kind == "application/pdf":
        return InputError("attachment {file!r} is a PDF document; casecraft accepts photos only, because a PDF "
                          "can carry scripts and files that cannot be checked reliably: photograph or scan the "
                          "page as JPEG and attach that", error_code="attachment_type", file=shown, type=kind)
    return InputError("attachment {file!r} is not an image casecraft accepts (JPEG, PNG, GIF or WebP); save it "
                      "as JPEG and attach it again", error_code="attachment_type", file=shown, type=None)


@dataclass(frozen=True)
class Staged:
    """A prepared attachment whose cleaned bytes wait in a private temporary file."""

    attachment: Attachment
    width: int
    height: int
    path: Path

    def read(self) -> bytes:
        """The cleaned bytes (one file's worth of memory)."""
        return self.path.read_bytes()


class Staging:
    """A step's attachments prepared one at a time and kept on disk until the step stores them.

    Decoding happens before the step's transaction and only one file is in memory at a time;
    then the transaction reads each back (:meth:`Staged.read`) to insert it. Leaving the
    ``with`` block removes the temporary files (in a 0700 directory), stored or not::

        with Staging(limits) as staging:
            for photo in photos:
                staging.add_path(photo)      # refuses here, before anything is written
            with store.write() as tx:
                for item in staging.items:
                    insert_blob(tx, item.attachment, item.read())

    Args:
        limits: the limits each file is prepared under, and how many files a step takes.
        directory: where the private temporary folder is made; default the system's (choose a
            disk-backed one where /tmp is a RAM disk: a step's files may reach 400 MiB).
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS, *, directory: str | os.PathLike[str] | None = None) -> None:
        self.limits = limits
        self.items: list[Staged] = []
        self._parent = directory
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> Staging:
        self._dir = tempfile.TemporaryDirectory(prefix="casecraft-attach-", dir=self._parent)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def add_path(self, path: str | os.PathLike[str], *, name: str | None = None) -> Staged:
        """Prepare a file given by path and stage it. Raises InputError as :func:`prepare`."""
        self._room()
        return self.add(prepare(path, limits=self.limits, name=name))

    def add_stream(self, stream: BinaryIO, *, name: str) -> Staged:
        """Prepare an uploaded stream and stage it. Raises InputError as :func:`prepare_stream`."""
        self._room()
        return self.add(prepare_stream(stream, name=name, limits=self.limits))

    def add(self, prepared: Prepared) -> Staged:
        """Stage an attachment already prepared; its bytes go to disk and can then be dropped."""
        self._room()
        if self._dir is None:
            raise RuntimeError("Staging is used outside its with block")
        path = Path(self._dir.name) / str(len(self.items))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        with open(fd, "wb") as fh:
            fh.write(prepared.data)
        item = Staged(prepared.attachment, prepared.width, prepared.height, path)
        self.items.append(item)
        return item

    def _room(self) -> None:
        if len(self.items) >= self.limits.max_files:
            raise InputError("a step takes at most {limit} attachments; attach the most telling ones",
                             error_code="attachment_count", limit=self.limits.max_files)
