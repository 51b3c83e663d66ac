"""Encoding: pixels to bytes, with exactly the metadata an output is allowed to carry."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from . import embedded as meta
from .colour import profile_fits
from .formats import ANIMATED_FORMATS, OUTPUT_FORMATS
from .picture import Picture, unify


def encode_picture(
    picture: Picture, fmt: str, options: dict[str, Any], written: meta.Written | None = None
) -> bytes:
    """Encode to one of ``OUTPUT_FORMATS``; ``options`` are Pillow save arguments.

    Only ``written`` metadata and the picture's kept colour profile are stored: every
    frame's ``info`` is emptied first, because Pillow's encoders would otherwise copy
    whatever the decoder left there (EXIF, XMP, comments, profiles).
    """
    frames = unify(picture.frames)
    for frame in frames:
        frame.info = {}
    kwargs = dict(options)
    written = written or meta.Written()
    if written.exif and fmt != "gif":
        kwargs["exif"] = written.exif
    if written.xmp and fmt in ("jpeg", "webp", "avif"):
        kwargs["xmp"] = written.xmp
    elif written.xmp and fmt == "png":
        text = PngInfo()
        text.add_itxt("XML:com.adobe.xmp", written.xmp.decode("utf-8", "replace"))
        kwargs["pnginfo"] = text
    if written.iptc and fmt == "jpeg":
        kwargs["extra"] = meta.jpeg_iptc_segment(written.iptc)
    if picture.icc and fmt != "gif" and profile_fits(picture.icc, frames[0].mode):
        kwargs["icc_profile"] = picture.icc
    if len(frames) > 1 and fmt in ANIMATED_FORMATS:
        kwargs.update(save_all=True, append_images=frames[1:], duration=picture.durations)
        if fmt == "gif":
            kwargs["disposal"] = 2  # every frame is complete: clear before drawing the next
            if picture.loop is not None:
                kwargs["loop"] = picture.loop
        elif fmt != "avif":
            kwargs["loop"] = 1 if picture.loop is None else picture.loop
    buffer = io.BytesIO()
    frames[0].save(buffer, format=OUTPUT_FORMATS[fmt], **kwargs)
    return buffer.getvalue()


def jpeg_with_metadata(
    jpeg: bytes, picture: Picture, written: meta.Written | None = None
) -> bytes:
    """A JPEG from another encoder (jpegli writes no metadata segments) with the same
    JFIF, EXIF, XMP, IPTC and colour profile segments ``encode_picture`` would write."""
    mode = "L" if picture.frames[0].mode in ("L", "LA") else "RGB"
    # Pillow builds the segments (ICC split into chunks, IPTC wrapped) for a tiny image;
    # they are taken from its header and put in front of the other encoder's tables.
    header = encode_picture(Picture(frames=[Image.new(mode, (8, 8))], icc=picture.icc),
                            "jpeg", {"quality": 50}, written)
    segments = _leading_app_segments(header)
    if not jpeg.startswith(b"\xff\xd8") or not segments:
        return jpeg
    own = _leading_app_segments(jpeg)
    return b"\xff\xd8" + segments + jpeg[2 + len(own):]


def _leading_app_segments(jpeg: bytes) -> bytes:
    """The APPn and comment segments right after a JPEG's start-of-image marker."""
    position = 2
    while position + 4 <= len(jpeg) and jpeg[position] == 0xFF and (
            0xE0 <= jpeg[position + 1] <= 0xEF or jpeg[position + 1] == 0xFE):
        position += 2 + int.from_bytes(jpeg[position + 2 : position + 4], "big")
    return jpeg[2:position]


def encode(image: Image.Image, fmt: str, options: dict[str, Any]) -> bytes:
    """Encode a still with no metadata at all."""
    return encode_picture(Picture(frames=[image]), fmt, options)

