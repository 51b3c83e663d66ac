"""Decoding: bytes to upright, 8-bit, (by default) sRGB pixels, within the limits.

Every decode applies the EXIF orientation, brings the pixels to 8-bit L/LA/RGB/RGBA and (by
default) to sRGB. Damaged or hostile files become a clear ``ImageRejected`` or
``UnsupportedMediaType``, never a crash.
"""

from __future__ import annotations

import io
import warnings

import pillow_heif
from PIL import Image, ImageSequence, UnidentifiedImageError

from ..errors import ImageRejected, UnsupportedMediaType
from . import embedded as meta
from .colour import ColourConverter, ColourPolicy
from .formats import ACCEPTED, INPUT_FORMATS
from .picture import ImageInfo, Limits, Picture, SizeHint, unify

# HEIC/HEIF (iPhone photos) open like any other format once the plugin is registered.
pillow_heif.register_heif_opener()

# EXIF orientation → the transpose that makes the pixels upright.
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def open_image(data: bytes, limits: Limits | None = None) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice it; a bomb is an error here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Only the accepted formats' parsers ever see the bytes (no EPS, PSD, …).
            return Image.open(io.BytesIO(data), formats=sorted(INPUT_FORMATS))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UnsupportedMediaType(
            f"The file is not an image PixTools can read: upload {ACCEPTED}."
        ) from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        limit = f" than the limit of {limits.max_pixels / 1e6:g} megapixels" if limits else ""
        raise ImageRejected(
            f"The image has far more pixels{limit} (a decompression bomb?): it was not "
            "decoded. Scale it down before uploading."
        ) from None


def check_limits(width: int, height: int, limits: Limits) -> None:
    if width > limits.max_side or height > limits.max_side:
        raise ImageRejected(
            f"The image is {width} × {height} pixels; each side may be at most "
            f"{limits.max_side} pixels. Scale it down before uploading."
        )
    if width * height > limits.max_pixels:
        raise ImageRejected(
            f"The image has {width * height / 1e6:.1f} megapixels; the limit is "
            f"{limits.max_pixels / 1e6:.1f}. Scale it down before uploading."
        )


def load(image: Image.Image) -> None:
    """Decode the pixels of an opened image; damaged data is a clear rejection."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(f"The image data is damaged and cannot be decoded ({exc}).") from None


def inspect(data: bytes, limits: Limits) -> ImageInfo:
    """Identify an upload by its content and check its size, reading only the header."""
    if not data:
        raise UnsupportedMediaType("The file is empty: choose an image file.")
    image = open_image(data, limits)
    if image.format not in INPUT_FORMATS:
        raise UnsupportedMediaType(f"{image.format} images are not accepted: upload {ACCEPTED}.")
    width, height = image.size
    check_limits(width, height, limits)
    try:
        frames = count_frames(image, limits.max_frames)
    except Exception:  # a parser walking hostile bytes may raise anything: it is unreadable
        raise ImageRejected("The image's frames or pages are damaged and cannot be read.") from None
    if frames > limits.max_frames:
        what = "pages" if image.format == "TIFF" else "frames"
        raise ImageRejected(
            f"The image has more than {limits.max_frames} {what}; at most "
            f"{limits.max_frames} are accepted. Send a shorter animation or fewer pages."
        )
    return ImageInfo(format=image.format, width=width, height=height, frames=frames)


def count_frames(image: Image.Image, cap: int) -> int:
    """Frames (or pages) in ``image``, counted no further than ``cap + 1``.

    Counting must stay cheap for hostile files: WebP, APNG and AVIF state their count in
    the header; TIFF pages are found by walking a chain of directories and GIF frames by
    skipping each one's data, so those two are walked only up to the cap, never decoded.
    """
    if image.format not in ("GIF", "TIFF"):
        return int(getattr(image, "n_frames", 1))
    count = 1
    try:
        while count <= cap:
            if image.format == "GIF":
                image._seek(count, False)  # type: ignore[attr-defined]  # skip, no decode
            else:
                image.seek(count)  # reads the next page's directory only
            count += 1
    except EOFError:
        pass
    return count


def _draft(image: Image.Image, hint: SizeHint, orientation: int) -> None:
    # JPEG can decode at 1/2, 1/4 or 1/8 size in the DCT domain, several times faster than
    # a full decode. Only scales that divide both sides are used, so the aspect ratio (and
    # every size computed from it) stays exactly that of the full image.
    width, height = image.size
    swapped = orientation in (5, 6, 7, 8)
    needed = hint((height, width) if swapped else (width, height))
    if needed is None:
        return
    need_w, need_h = (needed[1], needed[0]) if swapped else needed
    for scale in (8, 4, 2):
        if width % scale == 0 and height % scale == 0 and (
            width // scale >= need_w and height // scale >= need_h
        ):
            image.draft(image.mode, (width // scale, height // scale))
            return


def _frame_plan(image: Image.Image, animate: bool, limits: Limits) -> tuple[int, bool, str | None]:
    """(frames in the source, whether to keep them all, a note when not)."""
    count = getattr(image, "n_frames", 1) if image.format in ("GIF", "WEBP", "PNG", "AVIF",
                                                               "TIFF") else 1
    if count <= 1:
        return 1, False, None
    if image.format == "TIFF":
        return count, False, f"The TIFF has {count} pages; only the first was used."
    if not animate:
        return count, False, None  # the caller knows which format refused, and says so
    if count > limits.max_frames:
        return count, False, (
            f"The animation has {count} frames, more than the limit of {limits.max_frames}: "
            "only the first frame was used."
        )
    if count * image.size[0] * image.size[1] > limits.max_pixels:
        return count, False, (
            f"The animation's {count} frames hold more than {limits.max_pixels / 1e6:.0f} "
            "megapixels together, the limit: only the first frame was used."
        )
    return count, True, None


def decode_picture(
    data: bytes,
    limits: Limits,
    *,
    auto_orient: bool = True,
    colour: ColourPolicy = "srgb",
    animate: bool = True,
    size_hint: SizeHint | None = None,
) -> Picture:
    """Decode an upload: upright (unless ``auto_orient`` is false), in working mode, in
    sRGB (unless ``colour`` is ``keep``), every frame of an animation when ``animate``.
    ``size_hint`` tells the smallest upright size the first step needs (JPEG draft)."""
    image = open_image(data)
    stored = image.size
    check_limits(*stored, limits)
    count, keep_frames, note = _frame_plan(image, animate, limits)
    if size_hint is not None and image.format == "JPEG":
        _draft(image, size_hint, image.getexif().get(meta.ORIENTATION, 1))
    load(image)
    source = meta.read(image, stored)
    converter = ColourConverter(source.icc, colour)
    frames: list[Image.Image] = []
    durations: list[int] = []
    loop = image.info.get("loop")
    try:
        for frame in ImageSequence.Iterator(image) if keep_frames else [image]:
            converted = converter(frame)
            # A sequence reuses one image object per frame: keep a copy of each.
            frames.append(converted.copy() if keep_frames and converted is frame else converted)
            durations.append(int(frame.info.get("duration") or 100))
            if not keep_frames:
                break
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected(f"The image data is damaged and cannot be decoded ({exc}).") from None
    frames = unify(frames)
    if auto_orient and source.orientation in _UPRIGHT:
        frames = [frame.transpose(_UPRIGHT[source.orientation]) for frame in frames]
    return Picture(
        frames=frames,
        durations=durations if keep_frames else [],
        loop=loop if isinstance(loop, int) else None,
        icc=converter.icc,
        embedded=source,
        source_frames=count,
        notes=[note] if note else [],
    )


def decode(data: bytes, limits: Limits, *, auto_orient: bool = True) -> Image.Image:
    """Decode a still: upright, in working mode and sRGB."""
    return decode_picture(data, limits, auto_orient=auto_orient, animate=False).frames[0]


def read_embedded(data: bytes) -> meta.Embedded:
    """The metadata of a stored source, without decoding its pixels where the format
    allows (used after a handoff, when the decoded source is no longer in memory)."""
    image = open_image(data)
    if image.format == "PNG":
        load(image)  # PNG may keep its EXIF after the pixel data
    return meta.read(image)

