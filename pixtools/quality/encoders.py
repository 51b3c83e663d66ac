"""Encode a still at a given quality and decode it back: the final pixels a viewer sees.

JPEG has two encoders: ``libjpeg`` (Pillow's libjpeg-turbo) and ``jpegli`` (Google's
encoder from the JPEG XL project, through ``pyjpegli``: standard JPEG files, smaller at
the same visual quality). WebP and AVIF are Pillow's.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyjpegli
from PIL import Image

from .errors import QualityError

SEARCHABLE_FORMATS = ("avif", "webp", "jpeg")  # lossy formats with a quality to search
JPEG_ENCODERS = ("libjpeg", "jpegli")
PILLOW_NAMES = {"jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF"}
# The encoder's quality scale, lowest to highest, per format.
QUALITY_RANGE = {"jpeg": (1, 100), "webp": (0, 100), "avif": (0, 100)}
ANIMATED = frozenset({"webp", "avif"})  # of the searchable formats, those that animate


@dataclass(frozen=True)
class Encoding:
    """How to encode: a searchable format, the JPEG encoder, and Pillow save options other
    than ``quality`` (e.g. ``subsampling``, ``method``, ``speed``)."""

    format: str
    encoder: str = "libjpeg"
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.format not in SEARCHABLE_FORMATS:
            raise QualityError(
                "format", f"Quality search works for {', '.join(SEARCHABLE_FORMATS)}; "
                f"not for {self.format!r}.")
        if self.encoder not in JPEG_ENCODERS:
            raise QualityError(
                "encoder", f"encoder must be one of {', '.join(JPEG_ENCODERS)}, "
                f"not {self.encoder!r}.")

    @property
    def uses_jpegli(self) -> bool:
        return self.format == "jpeg" and self.encoder == "jpegli"


def encode(image: Image.Image, encoding: Encoding, quality: int) -> bytes:
    """``image`` at ``quality``. JPEG drops an alpha channel: callers flatten transparent
    images first (format auto never sends them to JPEG), so only opaque ones get here."""
    if encoding.format == "jpeg" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    if encoding.uses_jpegli:
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        return pyjpegli.encode(rgb.tobytes(), rgb.width, rgb.height, quality=quality)
    buffer = io.BytesIO()
    image.save(buffer, format=PILLOW_NAMES[encoding.format], **{**encoding.options,
                                                               "quality": quality})
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    """The pixels a viewer gets from ``data`` (first frame of an animation)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
