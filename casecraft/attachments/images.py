"""Decode an accepted image and encode it again, keeping the picture and nothing else.

Only the re-encoded bytes are ever stored, so whatever an original carried besides its
pixels (EXIF with GPS position and camera serial, XMP, comments, thumbnails, colour profiles,
appended files) is gone. The orientation the camera recorded is applied to the pixels first, and
a colour profile is applied (converted to sRGB) before it is dropped, so the picture looks as it
did. Same input, same settings, same bytes out: the encoders are deterministic.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

from PIL import Image, ImageCms

from casecraft.attachments.layout import GIF, JPEG, PNG, WEBP, Layout
from casecraft.base.errors import InputError

# Pillow's own name for each type, and what Image.format may say after opening it:
# a JPEG with an MPF header opens as "MPO" (its first picture is the primary image).
_PIL: dict[str, tuple[str, frozenset[str]]] = {
    JPEG: ("JPEG", frozenset({"JPEG", "MPO"})),
    PNG: ("PNG", frozenset({"PNG"})),
    GIF: ("GIF", frozenset({"GIF"})),
    WEBP: ("WEBP", frozenset({"WEBP"})),
}
# EXIF orientation → the transposition that shows the picture upright (as ImageOps.exif_transpose).
_ORIENT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Pillow warns (on stderr) about each oddity of a malformed file it still opens, such as a broken
# MPF index. For uploads those files are either refused or cleaned here, so the warnings say
# nothing to anyone; a filter per call (warnings.catch_warnings) is not thread-safe before 3.14.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL(\.|$)")
_PNG_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"})
# what each type is stored as: GIF becomes a still PNG of its first frame
STORED_AS = {JPEG: JPEG, PNG: PNG, GIF: PNG, WEBP: WEBP}


@dataclass(frozen=True)
class Encoded:
    """The re-encoded picture: its bytes, media type and size in pixels."""

    data: bytes
    type: str
    width: int
    height: int


def reencode(data: bytes, kind: str, layout: Layout, shown: str, *, max_pixels: int,
             jpeg_quality: int, webp_quality: int) -> Encoded:
    """Decode ``data`` as ``kind`` (checking its size in pixels first) and encode it again without metadata.

    Args:
        data: the original file, already checked by :func:`casecraft.attachments.layout.inspect`.
        kind: its media type (JPEG, PNG, GIF or WebP).
        layout: what the inspection found (a WebP's lossless flag is kept).
        shown: the cleaned display name, for messages.
        max_pixels: the largest width × height decoded.
        jpeg_quality: quality of the JPEG encoder (1-95).
        webp_quality: quality of the lossy WebP encoder (1-100).

    Raises:
        InputError: too many pixels, or the file does not decode as the type it claims.
    """
    pil_name, accepted = _PIL[kind]
    fmt = pil_name if pil_name != "WEBP" else "WebP"
    try:
        im = Image.open(io.BytesIO(data), formats=[pil_name])  # reads the header only
    except Image.DecompressionBombError:
        raise InputError("attachment {file!r} claims a picture of more than {limit:g} megapixels; save a smaller "
                         "copy as JPEG and attach that", error_code="attachment_pixels", file=shown,
                         limit=max_pixels / 1e6) from None
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - whatever a decoder raises on hostile input means "not this type"
        raise _undecodable(shown, fmt) from None
    # no "with im": closing an image also drops its pixels, and the picture may be the image itself
    width, height = im.size
    if im.format not in accepted:
        raise _undecodable(shown, fmt)
    if width < 1 or height < 1:
        raise _undecodable(shown, fmt)
    check_pixels(shown, width, height, max_pixels)
    try:
        im.load()
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - a truncated or corrupt picture, whatever the decoder calls it
        raise _undecodable(shown, fmt) from None
    target = STORED_AS[kind]
    icc, transparency = im.info.get("icc_profile"), im.info.get("transparency")
    orientation = _orientation(im.info.get("exif"))
    # one decoded copy at a time where possible: colours converted in place, then the original
    # dropped once a turned copy exists
    picture = _in_srgb(im, icc)
    del im
    if orientation is not None:
        picture = picture.transpose(orientation)
    picture = _storable(picture, target, transparency)
    picture.info = {}  # EXIF, XMP, comments, profiles: never written again
    buf = io.BytesIO()
    if target == JPEG:
        # optimize=False: an optimised JPEG keeps a second copy of the whole image while encoding
        picture.save(buf, "JPEG", quality=jpeg_quality, optimize=False, progressive=False)
    elif target == PNG:
        extra: dict[str, Any] = {} if transparency is None or picture.mode in ("LA", "RGBA") else {
            "transparency": transparency}
        picture.save(buf, "PNG", compress_level=6, **extra)
    else:
        picture.save(buf, "WEBP", quality=webp_quality, method=4, lossless=layout.lossless)
    return Encoded(buf.getvalue(), target, picture.width, picture.height)


def check_pixels(shown: str, width: int, height: int, max_pixels: int) -> None:
    """Refuse a picture of more than ``max_pixels`` pixels.

    Raises:
        InputError: with the size and the limit.
    """
    if width * height > max_pixels:
        raise InputError("attachment {file!r} is {width}×{height} pixels ({megapixels} megapixels); the limit "
                         "is {limit:g} megapixels: save a smaller copy as JPEG and attach that",
                         error_code="attachment_pixels", file=shown, width=width, height=height,
                         megapixels=round(width * height / 1e6, 1), limit=max_pixels / 1e6)


def _undecodable(shown: str, fmt: str) -> InputError:
    return InputError("attachment {file!r} starts like a {format} image but cannot be decoded as one (damaged, "
                      "cut short, or another kind of file); open it in a photo viewer, save it again as JPEG "
                      "and attach that", error_code="attachment_corrupt", file=shown, format=fmt)


def _orientation(exif: object) -> Image.Transpose | None:
    """The turn that shows the picture as the EXIF orientation tag says; None if upright or unreadable.

    Read from the raw EXIF (a TIFF header and its first directory) rather than through
    ``Image.getexif()``, whose parser warns on stderr about every oddity of a broken EXIF.
    """
    if not isinstance(exif, bytes):
        return None
    tiff = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return None
    ifd = struct.unpack_from(order + "I", tiff, 4)[0]
    if ifd + 2 > len(tiff):
        return None
    count = struct.unpack_from(order + "H", tiff, ifd)[0]
    for k in range(min(count, (len(tiff) - ifd - 2) // 12)):
        tag, kind, _n, value = struct.unpack_from(order + "HHI2s", tiff, ifd + 2 + 12 * k)
        if tag == 0x0112 and kind == 3:  # SHORT: the value sits in the entry's first two bytes
            return _ORIENT.get(struct.unpack(order + "H", value)[0])
    return None


@cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _in_srgb(im: Image.Image, icc: object) -> Image.Image:
    """Colours converted from the embedded profile to sRGB, so that dropping the profile keeps them."""
    if not isinstance(icc, bytes) or not icc or im.mode not in ("RGB", "RGBA", "CMYK"):
        return im
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if im.mode == "CMYK":
            out = ImageCms.profileToProfile(im, source, _srgb(), outputMode="RGB")
            return out if out is not None else im
        ImageCms.profileToProfile(im, source, _srgb(), inPlace=True)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        pass  # a profile lcms cannot use: keep the pixel values as they are
    return im


def _storable(im: Image.Image, target: str, transparency: object) -> Image.Image:
    """The picture in a mode the target format stores."""
    if target == JPEG:
        return im if im.mode in ("L", "RGB") else im.convert("RGB")
    if target == PNG:
        if im.mode in _PNG_MODES:
            return im
        return im.convert("RGBA" if "A" in im.mode or transparency is not None else "RGB")
    if im.mode in ("RGB", "RGBA"):
        return im
    return im.convert("RGBA" if "A" in im.mode or transparency is not None else "RGB")
