"""What a file is, read from its bytes alone: its type, where the image ends, and what hides in it.

Nothing here decodes pixels. Each accepted format is walked along its own structure (JPEG
segments and scans, PNG chunks with their CRCs, GIF blocks, WebP's RIFF chunks) to find where
the image really ends and which byte ranges are compressed picture data. That is what makes the
polyglot checks sound without refusing honest photos:

* bytes after the end marker are refused unless they are padding or images the file itself
  declares (the gain map and depth images of MPF and Ultra HDR photos, a motion photo's video);
* HTML and script markers are refused anywhere in the file. Compressed picture data is random
  bytes, so the one short marker, ``<svg`` plus a delimiter (about one chance in 20 billion per
  byte), is ignored inside it; the longer ones are checked everywhere.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field

from casecraft.base.errors import InputError

JPEG, PNG, GIF, WEBP = "image/jpeg", "image/png", "image/gif", "image/webp"

# HTML parsers end a tag name at whitespace, "/" or ">"; PHP needs whitespace after its open tag.
# Matched on the lower-cased bytes: plain patterns with a literal first byte scan ~20x faster
# than the same patterns with re.IGNORECASE.
_TAGS = re.compile(rb"<(?:script|html|svg|iframe)[\t\n\f\r />]|<\?php[\t\n\f\r ]")
_JS_URL = re.compile(rb"javascript:")
_SHORT = b"<svg"
_JPEG_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")  # a marker: not a stuffed 0xFF, not a restart
_PADDING = frozenset(b"\x00\xff\t\n\r ")
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")
_XMP = b"http://ns.adobe.com/xap/1.0/\x00"


@dataclass
class Layout:
    """The structure of one image file.

    Attributes:
        end: the offset just past the primary image's end marker.
        entropy: (start, end) ranges of compressed picture data.
        declared: (start, end) ranges after ``end`` that the file declares as its own images or video.
        lossless: a WebP whose picture is lossless (VP8L).
        script: a JPEG comment closes a script comment (``*/``): the JPEG/JS polyglot.
        size: (width, height) as the header claims, read before anything is decoded; for a GIF
            the extent of its screen and every frame.
    """

    end: int
    entropy: list[tuple[int, int]] = field(default_factory=list)
    declared: list[tuple[int, int]] = field(default_factory=list)
    lossless: bool = False
    script: bool = False
    size: tuple[int, int] = (0, 0)


class _Broken(Exception):
    """The structure is cut short (``truncated``) or wrong; turned into an InputError by the caller."""

    def __init__(self, truncated: bool) -> None:
        super().__init__("truncated" if truncated else "corrupt")
        self.truncated = truncated


def sniff(head: bytes) -> str | None:
    """The media type of a file from its first bytes, for the types casecraft knows of.

    Returns ``image/jpeg``, ``image/png``, ``image/gif``, ``image/webp``, and, only to refuse
    them with a helpful message, ``image/heic``, ``image/avif`` and ``application/pdf``; None
    for anything else.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp":
        if head[8:12] in _HEIF_BRANDS:
            return "image/heic"
        if head[8:12] in (b"avif", b"avis"):
            return "image/avif"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def inspect(data: bytes, kind: str, shown: str, *, max_padding: int) -> Layout:
    """Walk an image's structure and refuse what an image should not carry.

    Args:
        data: the whole file.
        kind: its media type from :func:`sniff` (one of the four image types).
        shown: the cleaned display name, for messages.
        max_padding: how many padding bytes (NUL, 0xFF, whitespace) may follow the image.

    Raises:
        InputError: the file is truncated or its structure is broken; it carries data after the
            image that it does not declare; it contains HTML or script; it is built to be read
            as a script too.
    """
    walk = {JPEG: _jpeg_file, PNG: _png, GIF: _gif, WEBP: _webp}[kind]
    try:
        layout = walk(data)
    except (_Broken, IndexError, struct.error) as exc:
        _check_markup(data, Layout(end=len(data)), shown)  # a script in a broken file: say so first
        _check_script_header(data, kind, Layout(end=len(data)), shown)
        if isinstance(exc, _Broken) and exc.truncated:
            raise InputError("attachment {file!r} is cut short (an incomplete copy or an interrupted upload); "
                             "copy the photo again from the camera or phone and attach it again",
                             error_code="attachment_truncated", file=shown) from None
        raise InputError("attachment {file!r} is damaged: it is not a well-formed {format} image; "
                         "open it in a photo viewer, save it again as JPEG and attach that",
                         error_code="attachment_corrupt", file=shown, format=kind.split("/")[1].upper()) from None
    _check_markup(data, layout, shown)
    _check_script_header(data, kind, layout, shown)
    _check_trailing(data, layout, shown, max_padding)
    return layout


def _check_trailing(data: bytes, layout: Layout, shown: str, max_padding: int) -> None:
    loose = 0
    pos = layout.end
    for start, end in sorted(layout.declared):
        loose += _padding_or_refuse(data, pos, min(start, len(data)), shown)
        pos = max(pos, end)
    loose += _padding_or_refuse(data, pos, len(data), shown)
    if loose > max_padding:
        raise InputError("attachment {file!r} has {extra} bytes of padding after the picture (at most {limit}); "
                         "open it in a photo viewer, save it again as JPEG and attach that",
                         error_code="attachment_trailing", file=shown, extra=loose, limit=max_padding)


def _padding_or_refuse(data: bytes, start: int, end: int, shown: str) -> int:
    if end <= start:
        return 0
    if not set(data[start:end]) <= _PADDING:
        raise InputError("attachment {file!r} carries {extra} bytes of other data after the end of the picture "
                         "(a file hidden in a photo, or an edited file); open it in a photo viewer, save it "
                         "again as JPEG and attach that", error_code="attachment_trailing", file=shown,
                         extra=end - start)
    return end - start


def _check_markup(data: bytes, layout: Layout, shown: str) -> None:
    low = data.lower()  # ASCII-only lowering, one transient copy, freed on return
    hits = [m for m in _TAGS.finditer(low) if not (m.group().startswith(_SHORT) and _inside(m.start(), layout))]
    hit = hits[0] if hits else _JS_URL.search(low)
    del low
    if hit is not None:
        raise InputError("attachment {file!r} contains web page or script code ({marker!r} at byte {offset}), "
                         "which a photo never does; take or save the photo again as JPEG and attach that",
                         error_code="attachment_script", file=shown, marker=hit.group().decode("ascii").strip(),
                         offset=hit.start())


def _inside(offset: int, layout: Layout) -> bool:
    return any(start <= offset and offset + 5 <= end for start, end in layout.entropy)


def _check_script_header(data: bytes, kind: str, layout: Layout, shown: str) -> None:
    # The classic GIF/JS and JPEG/JS polyglots open a script comment right after the magic
    # ("GIF89a/*", "\xff\xd8\xff\xe0/*": a GIF 10799 pixels wide, a JFIF header 12074 bytes
    # long) and close it in a comment ("*/=alert(1)"). No real photo has either, so either is
    # refused outright.
    opener = data[6:8] if kind == GIF else data[4:6] if kind == JPEG and data[3:4] == b"\xe0" else b""
    if opener == b"/*" or layout.script:
        raise InputError("attachment {file!r} is built to be read as a script as well as an image; "
                         "take or save the photo again as JPEG and attach that",
                         error_code="attachment_script", file=shown)


# JPEG ------------------------------------------------------------------------------------------
def _jpeg_file(data: bytes) -> Layout:
    layout, mpf, xmp = _jpeg(data, 0)
    if mpf is not None:
        for start, end in _mpf_images(data, *mpf):
            if start >= layout.end and end <= len(data) and data.startswith(b"\xff\xd8\xff", start):
                sub, _, _ = _jpeg(data, start)  # a declared image must itself be a whole JPEG
                layout.entropy += sub.entropy
                layout.declared.append((start, sub.end))
    for start, end in _container_items(data, layout.end, xmp):
        if end <= len(data) and data[start + 4:start + 8] == b"ftyp":
            layout.entropy.append((start, end))  # a motion photo's video: compressed, like the picture
            layout.declared.append((start, end))
        elif end <= len(data) and data.startswith(b"\xff\xd8\xff", start):
            sub, _, _ = _jpeg(data, start)
            layout.entropy += sub.entropy
            layout.declared.append((start, sub.end))
    return layout


def _jpeg(data: bytes, start: int) -> tuple[Layout, tuple[int, int] | None, list[bytes]]:
    """One JPEG from SOI to EOI; also where its MPF header is and its XMP packets."""
    n = len(data)
    if data[start:start + 2] != b"\xff\xd8":
        raise _Broken(False)
    layout = Layout(end=0)
    mpf: tuple[int, int] | None = None
    xmp: list[bytes] = []
    i = start + 2
    while True:
        if i + 2 > n:
            raise _Broken(True)
        if data[i] != 0xFF:
            raise _Broken(False)
        while i + 2 < n and data[i + 1] == 0xFF:  # fill bytes before a marker
            i += 1
        marker = data[i + 1]
        if marker == 0xD9:
            layout.end = i + 2
            return layout, mpf, xmp
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            i += 2
            continue
        if marker in (0x00, 0xD8):
            raise _Broken(False)
        if i + 4 > n:
            raise _Broken(True)
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if length < 2:
            raise _Broken(False)
        end = i + 2 + length
        if end > n:
            raise _Broken(True)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and layout.size == (0, 0):
            if length < 7:
                raise _Broken(False)
            height, width = struct.unpack_from(">HH", data, i + 5)  # after the sample precision
            layout.size = (width, height)
        if marker == 0xE2 and data.startswith(b"MPF\x00", i + 4):
            mpf = (i + 8, end)
        elif marker == 0xE1 and data.startswith(_XMP, i + 4):
            xmp.append(data[i + 4 + len(_XMP):end])
        elif marker == 0xFE and b"*/" in data[i + 4:end]:
            layout.script = True  # a comment that closes a script comment: the JPEG/JS polyglot
        i = end
        if marker == 0xDA:
            found = _JPEG_SCAN_END.search(data, i)
            if found is None:
                raise _Broken(True)
            layout.entropy.append((i, found.start()))
            i = found.start()


def _mpf_images(data: bytes, base: int, limit: int) -> list[tuple[int, int]]:
    """The secondary images an MPF header (CIPA DC-007) declares, as absolute byte ranges."""
    order = {b"II": "<", b"MM": ">"}.get(data[base:base + 2])
    if order is None:
        return []
    ifd = base + struct.unpack_from(order + "I", data, base + 4)[0]
    if ifd + 2 > limit:
        return []
    count = struct.unpack_from(order + "H", data, ifd)[0]
    for k in range(count):
        entry = ifd + 2 + 12 * k
        if entry + 12 > limit:
            return []
        tag, _type, size, offset = struct.unpack_from(order + "HHII", data, entry)
        if tag != 0xB002:
            continue
        table = base + offset
        if table + size > limit:
            return []
        images = []
        for j in range(1, size // 16):  # entry 0 is the primary image itself
            _attr, length, where = struct.unpack_from(order + "III", data, table + 16 * j)
            if length and where:
                images.append((base + where, base + where + length))
        return images
    return []


_ITEM_LENGTH = re.compile(rb'Item:Length="(\d{1,10})"|<Item:Length>(\d{1,10})</Item:Length>')


_MICRO_VIDEO = re.compile(rb'MicroVideoOffset="(\d{1,10})"|<GCamera:MicroVideoOffset>(\d{1,10})<')


def _container_items(data: bytes, end: int, xmp: list[bytes]) -> list[tuple[int, int]]:
    """Items a Google container (Ultra HDR, motion photo) appends after the primary image, in order.

    The newer container lists each appended item's length in order; the older motion photo gives
    the video's distance from the end of the file.
    """
    out = []
    pos = end
    for packet in xmp:
        for m in _ITEM_LENGTH.finditer(packet):
            length = int(m.group(1) or m.group(2))
            out.append((pos, pos + length))
            pos += length
        for m in _MICRO_VIDEO.finditer(packet):
            length = int(m.group(1) or m.group(2))
            if 0 < length <= len(data) - end:
                out.append((len(data) - length, len(data)))
    return out


# PNG -------------------------------------------------------------------------------------------
def _png(data: bytes) -> Layout:
    view = memoryview(data)
    layout = Layout(end=0)
    n, i, first = len(data), 8, True
    while True:
        if i + 8 > n:
            raise _Broken(True)
        length = int.from_bytes(data[i:i + 4], "big")
        kind = data[i + 4:i + 8]
        if length > 0x7FFFFFFF or not kind.isalpha() or (first and kind != b"IHDR"):
            raise _Broken(False)
        start, end = i + 8, i + 8 + length
        if end + 4 > n:
            raise _Broken(True)
        if zlib.crc32(view[i + 4:end]) != int.from_bytes(data[end:end + 4], "big"):
            raise _Broken(False)
        if kind in (b"IDAT", b"fdAT"):
            layout.entropy.append((start, end))
        elif first:
            if length != 13:
                raise _Broken(False)
            layout.size = struct.unpack_from(">II", data, start)
        i, first = end + 4, False
        if kind == b"IEND":
            layout.end = i
            return layout


# GIF -------------------------------------------------------------------------------------------
def _gif(data: bytes) -> Layout:
    n = len(data)
    if n < 13:
        raise _Broken(True)
    layout = Layout(end=0, size=struct.unpack_from("<HH", data, 6))
    i = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    while True:
        if i >= n:
            raise _Broken(True)
        block = data[i]
        if block == 0x3B:
            layout.end = i + 1
            return layout
        if block == 0x21:
            i = _sub_blocks(data, i + 2)
        elif block == 0x2C:
            if i + 10 > n:
                raise _Broken(True)
            left, top, width, height, flags = struct.unpack_from("<HHHHB", data, i + 1)
            layout.size = (max(layout.size[0], left + width), max(layout.size[1], top + height))
            i += 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0) + 1  # + the LZW code size
            start = i
            i = _sub_blocks(data, i)
            layout.entropy.append((start, i))
        else:
            raise _Broken(False)


def _sub_blocks(data: bytes, i: int) -> int:
    while True:
        if i >= len(data):
            raise _Broken(True)
        size = data[i]
        i += 1 + size
        if size == 0:
            return i


# WebP ------------------------------------------------------------------------------------------
def _webp(data: bytes) -> Layout:
    size = int.from_bytes(data[4:8], "little")
    end = 8 + size
    if size < 4 or size % 2:
        raise _Broken(False)
    if end > len(data):
        raise _Broken(True)
    layout = Layout(end=end)
    i = 12
    while i < end:
        if i + 8 > end:
            raise _Broken(False)
        kind, length = data[i:i + 4], int.from_bytes(data[i + 4:i + 8], "little")
        start, stop = i + 8, i + 8 + length
        if stop > end:
            raise _Broken(False)
        if kind in (b"VP8 ", b"VP8L", b"ALPH", b"ANMF"):
            layout.entropy.append((start, stop))
        if layout.size == (0, 0):
            layout.size = _webp_size(data, kind, start, stop)
        layout.lossless = layout.lossless or kind == b"VP8L"
        i = stop + (length & 1)
    return layout


def _webp_size(data: bytes, kind: bytes, start: int, stop: int) -> tuple[int, int]:
    """The canvas (VP8X) or frame (VP8, VP8L) size a WebP chunk declares; (0, 0) for other chunks."""
    if kind == b"VP8X" and stop - start >= 10:
        return (int.from_bytes(data[start + 4:start + 7], "little") + 1,
                int.from_bytes(data[start + 7:start + 10], "little") + 1)
    if kind == b"VP8 " and stop - start >= 10:
        width, height = struct.unpack_from("<HH", data, start + 6)  # after the frame tag and start code
        return width & 0x3FFF, height & 0x3FFF
    if kind == b"VP8L" and stop - start >= 5:
        bits = int.from_bytes(data[start + 1:start + 5], "little")  # after the 0x2f signature
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return 0, 0
