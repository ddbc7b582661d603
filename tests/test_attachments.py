"""Attachments: every accepted photo is decoded and re-encoded without metadata; every hostile file is refused.

All fixtures are generated here with Pillow or plain bytes (nothing binary is committed): polyglots,
bombs, truncated and mislabelled files, photos with GPS and orientation.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

from casecraft.attachments import (
    Limits,
    Staging,
    check_sha256,
    clean_name,
    display_name,
    prepare,
    prepare_bytes,
    prepare_stream,
    verify,
)
from casecraft.attachments.layout import inspect
from casecraft.base.errors import InputError


# generated fixtures --------------------------------------------------------------------------
def picture(width: int = 64, height: int = 48, mode: str = "RGB") -> Image.Image:
    """Left half red, right half blue: enough to see which way a picture was turned."""
    im = Image.new("RGB", (width, height), (220, 20, 20))
    im.paste((20, 20, 220), (width // 2, 0, width, height))
    return im.convert(mode)


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def gps_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "CameraMaker"
    exif[0xA431] = "SERIAL-12345"  # body serial number
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 17.0)}
    return exif


def jpeg(**params: object) -> bytes:
    return encode(picture(), "JPEG", quality=85, **params)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG whose header claims width × height pixels, with a few bytes of data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + png_chunk(b"IEND", b""))


def refused(data: bytes, code: str, limits: Limits | None = None, name: str = "photo.jpg") -> InputError:
    with pytest.raises(InputError) as info:
        prepare_bytes(data, name=name, limits=limits or Limits())
    err = info.value
    assert err.code == code, (err.code, err.message)
    assert err.exit_code == 2 and "{" in err.template and err.details["file"] == clean_name(name)
    assert "attach" in err.message  # every refusal says what to do next
    return err


# accepted files ------------------------------------------------------------------------------
@pytest.mark.parametrize(("fmt", "stored", "pil"), [
    ("JPEG", "image/jpeg", "JPEG"), ("PNG", "image/png", "PNG"), ("GIF", "image/png", "PNG"),
    ("WEBP", "image/webp", "WEBP"),
])
def test_accepted_images_are_reencoded_and_decode_again(fmt: str, stored: str, pil: str) -> None:
    original = encode(picture(), fmt)
    prepared = prepare_bytes(original, name=f"site.{fmt.lower()}")
    att = prepared.attachment
    assert (att.type, att.size, prepared.width, prepared.height) == (stored, len(prepared.data), 64, 48)
    assert verify(att.sha256, prepared.data) and not verify(att.sha256, prepared.data + b"\0")
    assert att.to_dict() == {"sha256": att.sha256, "name": att.name, "size": att.size, "type": stored}
    with Image.open(io.BytesIO(prepared.data)) as again:
        again.load()
        assert (again.format, again.size) == (pil, (64, 48))
        assert again.convert("RGB").getpixel((5, 5))[0] > 180  # still red on the left
    assert att.name == display_name(f"site.{fmt.lower()}", stored)
    assert att.name.endswith({"image/jpeg": ".jpeg", "image/png": ".png", "image/webp": ".webp"}[stored])


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP"])
def test_reencoding_is_deterministic(fmt: str) -> None:
    original = encode(picture(200, 150), fmt, **({"exif": gps_exif(6)} if fmt == "JPEG" else {}))
    first, second = prepare_bytes(original, name="a"), prepare_bytes(original, name="b")
    assert first.attachment.sha256 == second.attachment.sha256 and first.data == second.data


def test_exif_gps_comment_xmp_and_profile_are_stripped() -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/>Creator: zhang</x:xmpmeta>'
    original = jpeg(exif=gps_exif(), comment=b"taken at home", icc_profile=icc, xmp=xmp)
    with Image.open(io.BytesIO(original)) as before:
        assert 0x8825 in before.getexif() and "icc_profile" in before.info  # the fixture carries them
    data = prepare_bytes(original, name="gps.jpg").data
    with Image.open(io.BytesIO(data)) as after:
        assert dict(after.getexif()) == {}
        assert not {"exif", "icc_profile", "comment", "xmp"} & set(after.info)
    for secret in (b"Exif", b"SERIAL-12345", b"CameraMaker", b"taken at home", b"zhang", b"GPS"):
        assert secret not in data


def test_png_and_webp_metadata_is_stripped() -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "home address")
    png = encode(picture(), "PNG", pnginfo=info, exif=gps_exif())
    webp = encode(picture(), "WEBP", exif=gps_exif(), xmp=b"<x:xmpmeta>home address</x:xmpmeta>")
    for original in (png, webp):
        data = prepare_bytes(original, name="x").data
        assert b"home address" not in data and b"SERIAL-12345" not in data and b"Exif" not in data


@pytest.mark.parametrize(("orientation", "top_left"), [(1, "red"), (3, "blue"), (6, "red"), (8, "blue")])
def test_exif_orientation_is_applied_to_the_pixels(orientation: int, top_left: str) -> None:
    prepared = prepare_bytes(jpeg(exif=gps_exif(orientation)), name="turned.jpg")
    turned = orientation in (6, 8)
    assert (prepared.width, prepared.height) == ((48, 64) if turned else (64, 48))
    with Image.open(io.BytesIO(prepared.data)) as im:
        assert im.size == (prepared.width, prepared.height) and 0x0112 not in im.getexif()
        r, _g, b = im.convert("RGB").getpixel((3, 3))
    assert (r > b) == (top_left == "red")


def test_modes_are_kept_or_made_storable() -> None:
    palette = picture().convert("P")
    transparent = prepare_bytes(encode(palette, "PNG", transparency=0), name="p.png")
    with Image.open(io.BytesIO(transparent.data)) as im:
        assert im.mode == "P" and "transparency" in im.info
    cmyk = prepare_bytes(encode(picture(mode="CMYK"), "JPEG"), name="print.jpg")
    with Image.open(io.BytesIO(cmyk.data)) as im:
        r, _g, b = im.getpixel((5, 5))
        assert im.mode == "RGB" and r > 150 > b
    odd_profile = prepare_bytes(jpeg(icc_profile=b"not a colour profile"), name="odd.jpg")
    with Image.open(io.BytesIO(odd_profile.data)) as im:
        assert "icc_profile" not in im.info and im.getpixel((5, 5))[0] > 180
    holed = Image.new("P", (8, 8), 1)
    holed.putpalette([0, 0, 0, 255, 0, 0])
    holed.putpixel((0, 0), 0)
    gif = prepare_bytes(encode(holed, "GIF", transparency=0, optimize=False), name="t.gif")
    with Image.open(io.BytesIO(gif.data)) as im:
        assert (im.format, im.mode, im.info.get("transparency")) == ("PNG", "P", 0)
        assert im.convert("RGBA").getpixel((0, 0))[3] == 0 and im.convert("RGBA").getpixel((1, 1)) == (255, 0, 0, 255)
    see_through = picture(mode="RGBA")
    see_through.putpixel((0, 0), (0, 0, 0, 0))
    alpha = prepare_bytes(encode(see_through, "WEBP", lossless=True), name="a.webp")
    with Image.open(io.BytesIO(alpha.data)) as im:
        assert im.mode == "RGBA" and im.getpixel((0, 0))[3] == 0
        assert im.getpixel((5, 5)) == (220, 20, 20, 255)  # lossless stays lossless
    gray16 = prepare_bytes(encode(Image.new("I;16", (20, 10), 40000), "PNG"), name="g.png")
    with Image.open(io.BytesIO(gray16.data)) as im:
        assert im.getpixel((1, 1)) == 40000


def test_an_animated_gif_keeps_its_first_frame_as_png() -> None:
    frames = [picture(), Image.new("RGB", (64, 48), (0, 200, 0))]
    gif = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    prepared = prepare_bytes(gif, name="anim.gif")
    assert (prepared.attachment.type, prepared.attachment.name, prepared.original_type) == (
        "image/png", "anim.png", "image/gif")
    with Image.open(io.BytesIO(prepared.data)) as im:
        assert getattr(im, "n_frames", 1) == 1 and im.convert("RGB").getpixel((5, 5))[0] > 180


def test_declared_secondary_images_and_padding_are_allowed() -> None:
    second = picture(32, 24)
    mpo = encode(picture(), "MPO", save_all=True, append_images=[second])  # MPF header declares image 2
    assert prepare_bytes(mpo, name="hdr.jpg").width == 64
    gain_map = encode(second, "JPEG")
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><Container:Directory><rdf:Seq>'
           b'<rdf:li><Container:Item Item:Semantic="Primary" Item:Mime="image/jpeg"/></rdf:li>'
           b'<rdf:li><Container:Item Item:Semantic="GainMap" Item:Mime="image/jpeg" Item:Length="'
           + str(len(gain_map)).encode() + b'"/></rdf:li></rdf:Seq></Container:Directory></x:xmpmeta>')
    assert prepare_bytes(jpeg(xmp=xmp) + gain_map, name="ultrahdr.jpg").width == 64
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4
    motion = xmp.replace(b"GainMap", b"MotionPhoto").replace(str(len(gain_map)).encode(), str(len(video)).encode())
    assert prepare_bytes(jpeg(xmp=motion) + video, name="motion.jpg").height == 48
    assert prepare_bytes(jpeg() + b"\x00" * 100, name="padded.jpg").width == 64
    refused(jpeg(xmp=xmp) + gain_map + b"PK\x03\x04hidden.zip", "attachment_trailing")
    refused(mpo + b"tail", "attachment_trailing")
    refused(jpeg() + b"\x00" * 200, "attachment_trailing", Limits(max_padding=100))


def test_svg_bytes_inside_compressed_picture_data_are_not_mistaken_for_markup() -> None:
    # One grey row, unfiltered, in a stored deflate block: the pixel bytes sit in the IDAT verbatim.
    def row(text: bytes) -> bytes:
        ihdr = struct.pack(">IIBBBBB", len(text), 1, 8, 0, 0, 0, 0)
        idat = zlib.compress(b"\x00" + text, level=0)
        return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")

    svg = row(b"xx<svg onload=1>xx")
    assert b"<svg onload" in svg and prepare_bytes(svg, name="n.png").width == 18
    refused(row(b"xx<script src=//e>xx"), "attachment_script", name="n.png")
    text = png_chunk(b"tEXt", b"Comment\x00<svg onload=1>")
    refused(svg[:33] + text + svg[33:], "attachment_script", name="n.png")  # the same bytes outside the picture


# refused files -------------------------------------------------------------------------------
def test_script_after_jpeg_magic_is_refused() -> None:
    err = refused(b"\xff\xd8\xff<script>alert(document.cookie)</script>", "attachment_script")
    assert err.details["marker"] == "<script>"


@pytest.mark.parametrize("payload", [
    b"<html><body>", b"<svg/onload=alert(1)>", b"<?php system($_GET['c']); ?>", b"JavaScript:alert(1)",
    b"<SCRIPT>x</SCRIPT>", b"<iframe src=x>",
])
def test_markup_anywhere_in_an_image_is_refused(payload: bytes) -> None:
    refused(jpeg(comment=payload), "attachment_script")
    exif = Image.Exif()
    exif[0x010E] = payload.decode()  # ImageDescription
    refused(encode(picture(), "WEBP", exif=exif), "attachment_script")
    refused(jpeg() + payload, "attachment_script")  # after the end: named as script, not as padding


def test_gif_javascript_polyglot_is_refused() -> None:
    gif = bytearray(encode(picture(), "GIF"))
    gif[6:8] = b"/*"  # logical screen width 10799: the header opens a script comment
    refused(bytes(gif), "attachment_script", name="x.gif")
    refused(bytes(gif[:-1]) + b"*/=alert(1);//;", "attachment_script", name="x.gif")
    refused(encode(picture(), "GIF") + b"*/=alert(1)", "attachment_trailing", name="x.gif")


def test_jpeg_javascript_polyglot_is_refused() -> None:
    refused(jpeg(comment=b"*/=alert(1);/*"), "attachment_script")
    data = bytearray(jpeg())
    assert data[3] == 0xE0
    data[4:6] = b"/*"  # a JFIF header 12074 bytes long: "\xff\xd8\xff\xe0/*" opens a script comment
    refused(bytes(data), "attachment_script")


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "WEBP"])
def test_data_after_the_end_marker_is_refused(fmt: str) -> None:
    err = refused(encode(picture(), fmt) + b"PK\x03\x04payload", "attachment_trailing", name=f"x.{fmt}")
    assert err.details["extra"] == 11


def test_pixel_limit_is_checked_before_decoding() -> None:
    err = refused(png_claiming(100_000, 100_000), "attachment_pixels", name="bomb.png")
    assert (err.details["width"], err.details["height"], err.message) == (100_000, 100_000, (
        "attachment 'bomb.png' is 100000×100000 pixels (10000.0 megapixels); the limit is 40 megapixels: "
        "save a smaller copy as JPEG and attach that"))
    err = refused(png_claiming(8_000, 6_000), "attachment_pixels", name="big.png")  # 48 MP
    assert (err.details["width"], err.details["height"], err.details["limit"]) == (8000, 6000, 40)
    refused(jpeg(), "attachment_pixels", Limits(max_pixels=1_000))
    sof = bytearray(jpeg())
    at = sof.index(b"\xff\xc0") + 5
    sof[at:at + 4] = struct.pack(">HH", 65_000, 65_000)  # a JPEG claiming 4.2 gigapixels
    assert refused(bytes(sof), "attachment_pixels").details["width"] == 65_000
    gif = bytearray(encode(picture(), "GIF"))
    gif[6:10] = struct.pack("<HH", 65_535, 65_535)
    refused(bytes(gif), "attachment_pixels", name="x.gif")
    frame = bytearray(encode(picture(), "GIF"))
    at = frame.index(b"\x2c\x00\x00\x00\x00") + 5  # the first frame's descriptor: left, top, then its size
    frame[at:at + 4] = struct.pack("<HH", 60_000, 60_000)
    refused(bytes(frame), "attachment_pixels", name="x.gif")
    webp = bytearray(encode(picture(), "WEBP", exif=gps_exif()))  # with EXIF: a VP8X canvas header
    at = webp.index(b"VP8X") + 12
    webp[at:at + 6] = (16_383).to_bytes(3, "little") * 2
    refused(bytes(webp), "attachment_pixels", name="x.webp")
    for lossless in (False, True):
        plain = encode(picture(), "WEBP", lossless=lossless)
        assert prepare_bytes(plain, name="x.webp", limits=Limits(max_pixels=3072)).width == 64
        refused(plain, "attachment_pixels", Limits(max_pixels=3071), "x.webp")


@pytest.mark.parametrize(("fmt", "params"), [
    ("JPEG", {}), ("JPEG", {"progressive": True}), ("PNG", {}), ("GIF", {}), ("WEBP", {}), ("WEBP", {"lossless": True}),
    ("WEBP", {"exif": b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x00\x00"}),
])
def test_the_size_is_read_from_the_header_before_decoding(fmt: str, params: dict[str, object]) -> None:
    data = encode(picture(123, 45), fmt, **params)
    kind = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}[fmt]
    assert inspect(data, kind, "x", max_padding=0).size == (123, 45)


def test_truncated_and_corrupt_images_are_refused() -> None:
    whole = jpeg()
    refused(whole[: len(whole) // 2], "attachment_truncated")
    png = encode(picture(), "PNG")
    refused(png[:-20], "attachment_truncated", name="x.png")
    flipped = bytearray(png)
    flipped[40] ^= 0xFF  # inside a chunk: its CRC no longer matches
    refused(bytes(flipped), "attachment_corrupt", name="x.png")
    refused(encode(picture(), "GIF")[:-30], "attachment_truncated", name="x.gif")
    refused(encode(picture(), "WEBP")[:-10], "attachment_truncated", name="x.webp")


def test_magic_of_one_type_with_content_of_another_is_refused() -> None:
    # well-formed JPEG segments (SOI, a comment, EOI) but no picture at all
    err = refused(b"\xff\xd8\xff\xfe\x00\x06hello\xff\xd9", "attachment_corrupt")
    assert err.details["format"] == "JPEG"
    refused(b"\x89PNG\r\n\x1a\n" + jpeg()[2:], "attachment_corrupt", name="x.png")
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 9, 0, 0, 0))  # colour type 9 does not exist
    refused(b"\x89PNG\r\n\x1a\n" + ihdr + png_chunk(b"IEND", b""), "attachment_corrupt", name="x.png")
    refused(b"GIF89a" + encode(picture(), "PNG")[6:], "attachment_corrupt", name="x.gif")


@pytest.mark.parametrize(("data", "word"), [
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 40, "HEIC"),
    (b"\x00\x00\x00\x1cftypavif" + b"\x00" * 40, "AVIF"),
    (b"%PDF-1.7\n1 0 obj <</Type/Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n", "PDF"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not an image"),
    (b"BM" + b"\x00" * 60, "not an image"),
    ("居民反映楼道照明不足".encode(), "not an image"),
])
def test_other_types_are_refused_with_what_to_do(data: bytes, word: str) -> None:
    err = refused(data, "attachment_type")
    assert word in err.message and "JPEG" in err.message


def test_size_is_checked_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    with open(big, "wb") as fh:
        fh.truncate(21 * 1024 * 1024)  # sparse: reading it would take 21 MiB
    with pytest.raises(InputError) as info:
        prepare(big)
    assert info.value.code == "attachment_too_large" and info.value.details["size"] == 21 * 1024 * 1024

    class Counting(io.BytesIO):
        taken = 0

        def read(self, n: int | None = -1) -> bytes:
            chunk = super().read(n)
            Counting.taken += len(chunk)
            return chunk

    with pytest.raises(InputError, match="more than 1 MiB"):
        prepare_stream(Counting(b"\xff" * (5 * 1024 * 1024)), name="upload.jpg", limits=Limits(max_bytes=1024 * 1024))
    assert Counting.taken == 1024 * 1024 + 1
    refused(b"", "attachment_empty")


def test_cleaned_file_over_the_limit_is_refused() -> None:
    noise = Image.frombytes("RGB", (96, 96), bytes((i * 7919) % 251 for i in range(96 * 96 * 3)))
    small = encode(noise, "JPEG", quality=5)
    err = refused(small, "attachment_too_large", Limits(max_bytes=len(small) + 10))
    assert err.details["size"] > len(small)


def test_paths_that_are_not_readable_files(tmp_path: Path) -> None:
    for target, code in ((tmp_path / "missing.jpg", "attachment_missing"), (tmp_path, "attachment_missing")):
        with pytest.raises(InputError) as info:
            prepare(target)
        assert info.value.code == code
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a file"):
        prepare(fifo)  # returns at once: a pipe is never waited on
    photo = tmp_path / "dir" / "现场照片.jpg"
    photo.parent.mkdir()
    photo.write_bytes(jpeg())
    prepared = prepare(photo)
    assert prepared.attachment.name == "现场照片.jpg" and prepared.original_size == photo.stat().st_size
    assert prepare(photo, name="其他.jpeg").attachment.name == "其他.jpeg"


# names ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("given", "shown"), [
    ("/home/zhang/photos/现场.jpg", "现场.jpg"),
    ("C:\\Users\\li\\Desktop\\a.png", "a.png"),
    ("..%2F..%2Fevil name.png", "..%2F..%2Fevil name.png"),
    ("ph\u202eotogpj.exe", "photogpj.exe"),  # right-to-left override
    ("a\u200bb\u200dc\ufeffd\u2066e\u2069.jpg", "abcde.jpg"),  # zero-width, BOM, bidi isolates
    ("line\nbreak\r\x1b[31mred\x07.jpg", "linebreak[31mred.jpg"),
    ("wide\u3000space\u00a0and   runs .jpg", "wide space and runs .jpg"),
    ("Cafe\u0301.jpg", "Caf\u00e9.jpg"),  # NFC
    ("", "attachment"), ("../..", "attachment"), ("\u202e", "attachment"),
])
def test_display_names_are_cleaned(given: str, shown: str) -> None:
    assert clean_name(given) == shown


def test_long_names_keep_their_extension() -> None:
    name = clean_name("长" * 300 + ".jpeg")
    assert len(name) == 120 and name.endswith("长.jpeg")
    assert len(clean_name("x" * 500)) == 120


def test_display_name_matches_the_stored_type() -> None:
    assert display_name("anim.GIF", "image/png") == "anim.png"
    assert display_name("scan.JPG", "image/jpeg") == "scan.JPG"
    assert display_name("photo", "image/jpeg") == "photo.jpg"
    assert display_name("report.2026", "image/webp") == "report.2026.webp"


def test_attachment_ids_are_checked() -> None:
    good = "ab" * 32
    assert check_sha256(" " + good.upper()) == good
    for bad in ("../../etc/passwd", "ab" * 31, "zz" * 32):
        with pytest.raises(InputError, match="not an attachment id"):
            check_sha256(bad)


# staging and the file store -------------------------------------------------------------------
def test_staging_keeps_cleaned_files_privately_and_counts(tmp_path: Path) -> None:
    photos = []
    for i in range(3):
        photos.append(tmp_path / f"p{i}.png")
        photos[-1].write_bytes(encode(picture(10 + i, 10), "PNG"))
    with Staging(Limits(max_files=2), directory=tmp_path) as staging:
        first = staging.add_path(photos[0])
        staging.add_stream(io.BytesIO(photos[1].read_bytes()), name="upload.png")
        assert stat.S_IMODE(first.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(first.path.parent.stat().st_mode) == 0o700
        assert verify(first.attachment.sha256, first.read())
        with pytest.raises(InputError) as info:
            staging.add_path(photos[2])
        assert info.value.code == "attachment_count" and info.value.details == {"limit": 2}
        folder = first.path.parent
        assert folder.parent == tmp_path
    assert not folder.exists()


def test_limits_are_validated() -> None:
    for bad in ({"max_pixels": 0}, {"max_pixels": 10**12}, {"max_bytes": 0}, {"jpeg_quality": 100}):
        with pytest.raises(ValueError):
            Limits(**bad)  # type: ignore[arg-type]


def test_an_older_motion_photo_declares_its_video_by_offset() -> None:
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 2
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/" GCamera:MicroVideo="1" GCamera:MicroVideoOffset="%d"/>' % len(video)
    assert prepare_bytes(jpeg(xmp=xmp) + video, name="MVIMG.jpg").attachment.type == "image/jpeg"
    refused(jpeg(xmp=xmp) + b"junk" + video, "attachment_trailing")


_SEEDS = {
    "image/jpeg": jpeg(exif=gps_exif(6), comment=b"c"),
    "image/png": encode(picture(16, 12).convert("P"), "PNG", transparency=1),
    "image/gif": encode(picture(16, 12), "GIF", comment=b"c"),
    "image/webp": encode(picture(16, 12), "WEBP", exif=gps_exif()),
}


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's notes on broken EXIF/MPF; images.py silences them
@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(sorted(_SEEDS)), edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
                                                            min_size=1, max_size=4), cut=st.integers(0, 10**6))
def test_damaged_files_are_refused_cleanly_or_still_images(kind: str, edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(_SEEDS[kind])
    for at, value in edits:
        data[at % len(data)] = value
    data = data[: max(1, len(data) - cut % 40)]
    try:
        prepared = prepare_bytes(bytes(data), name="fuzz")
    except InputError as err:
        assert err.code.startswith("attachment_") and "attach" in err.message
        return
    with Image.open(io.BytesIO(prepared.data)) as again:
        again.load()
        assert again.size == (prepared.width, prepared.height) and not again.getexif()
