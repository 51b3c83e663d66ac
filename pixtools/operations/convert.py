"""convert: choose the output format and its encoder settings."""

from __future__ import annotations

from typing import Any, Literal

from PIL import Image
from pydantic import Field

from .base import Operation, Params, Progress


class ConvertParams(Params):
    format: Literal["jpeg", "png", "webp", "avif"] = Field(description="Output format.")
    quality: int = Field(80, ge=1, le=100, description="Lossy quality (JPEG, WebP, AVIF).")
    speed: int | None = Field(
        None, ge=0, le=10, description="AVIF encoder speed: 0 slowest/smallest, 10 fastest."
    )


def convert(image: Image.Image, params: ConvertParams, progress: Progress) -> Image.Image:
    """Bring the pixels into a mode the target format stores; encoding happens last."""
    if params.format == "jpeg" and image.mode not in ("RGB", "L"):
        return _flatten(image.convert("RGBA"))
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        return image.convert("RGBA" if "A" in image.getbands() else "RGB")
    return image


def _flatten(image: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    # JPEG has no alpha: composite onto white rather than letting transparency turn black.
    canvas = Image.new("RGB", image.size, background)
    canvas.paste(image, mask=image.getchannel("A"))
    return canvas


def encoder_options(params: ConvertParams, default_avif_speed: int) -> dict[str, Any]:
    """Pillow ``save`` arguments for the chosen format."""
    if params.format == "jpeg":
        return {"quality": params.quality, "optimize": True}
    if params.format == "png":
        return {"optimize": False, "compress_level": 6}
    if params.format == "webp":
        return {"quality": params.quality, "method": 4}
    speed = default_avif_speed if params.speed is None else params.speed
    return {"quality": params.quality, "speed": speed}


OPERATION = Operation(
    name="convert",
    summary="Convert to JPEG, PNG, WebP or AVIF.",
    params=ConvertParams,
    apply=convert,
)
