"""Decode, orient, limit and encode: everything that touches image bytes.

Operations work on decoded ``PIL.Image`` objects only; this module is the boundary.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageRejected, UnsupportedMediaType

# What uploads may be, by content (Pillow's format names); anything else is refused.
INPUT_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "AVIF", "GIF", "TIFF", "BMP"})
# What outputs may be: our lower-case names and Pillow's.
OUTPUT_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "avif": "AVIF"}
CONTENT_TYPES = {
    "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "avif": "image/avif"
}
EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif"}
CONTENT_TYPE_BY_EXTENSION = {EXTENSIONS[fmt]: CONTENT_TYPES[fmt] for fmt in EXTENSIONS}


@dataclass(frozen=True)
class Limits:
    max_pixels: int
    max_side: int
    max_frames: int = 300


@dataclass(frozen=True)
class ImageInfo:
    format: str  # Pillow's name, e.g. "JPEG"
    width: int
    height: int


def _open(data: bytes, limits: Limits | None = None) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice it; a bomb is an error here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Only the accepted formats' parsers ever see the bytes (no EPS, PSD, …).
            return Image.open(io.BytesIO(data), formats=sorted(INPUT_FORMATS))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UnsupportedMediaType(
            "The file is not an image PixTools can read: upload JPEG, PNG, WebP, AVIF, "
            "GIF, TIFF or BMP."
        ) from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        limit = f" than the limit of {limits.max_pixels / 1e6:g} megapixels" if limits else ""
        raise ImageRejected(
            f"The image has far more pixels{limit} (a decompression bomb?): it was not "
            "decoded. Scale it down before uploading."
        ) from None


def _check_limits(width: int, height: int, limits: Limits) -> None:
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


def inspect(data: bytes, limits: Limits) -> ImageInfo:
    """Identify an upload by its content and check its size, reading only the header."""
    if not data:
        raise UnsupportedMediaType("The file is empty: choose an image file.")
    image = _open(data, limits)
    if image.format not in INPUT_FORMATS:
        raise UnsupportedMediaType(
            f"{image.format} images are not accepted: upload JPEG, PNG, WebP, AVIF, GIF, "
            "TIFF or BMP."
        )
    width, height = image.size
    _check_limits(width, height, limits)
    try:
        frames = count_frames(image, limits.max_frames)
    except Exception:  # a parser walking hostile bytes may raise anything: it is unreadable
        raise ImageRejected(
            "The image's frames or pages are damaged and cannot be read."
        ) from None
    if frames > limits.max_frames:
        what = "pages" if image.format == "TIFF" else "frames"
        raise ImageRejected(
            f"The image has more than {limits.max_frames} {what}; at most "
            f"{limits.max_frames} are accepted. Send a shorter animation or fewer pages."
        )
    return ImageInfo(format=image.format, width=width, height=height)


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


def decode(data: bytes, limits: Limits, *, auto_orient: bool = True) -> Image.Image:
    """Decode fully, applying the EXIF orientation so pixels are the right way up."""
    image = _open(data, limits)
    _check_limits(*image.size, limits)
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"The image data is damaged and cannot be decoded ({exc}).") from None
    if auto_orient:
        image = ImageOps.exif_transpose(image)
    return image


def encode(image: Image.Image, fmt: str, options: dict[str, Any]) -> bytes:
    """Encode to one of ``OUTPUT_FORMATS``; ``options`` are Pillow save arguments."""
    buffer = io.BytesIO()
    image.save(buffer, format=OUTPUT_FORMATS[fmt], **options)
    return buffer.getvalue()


def format_name(pillow_format: str) -> str:
    """Our lower-case name for a Pillow format, e.g. ``"JPEG"`` → ``"jpeg"``."""
    return pillow_format.lower()
