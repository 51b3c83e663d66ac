"""convert: choose the output format and its encoder settings.

The last ``convert`` step of an output decides its format; the encoding itself happens
once, after the last step (``finalise`` then ``encoder_options``).
"""

from __future__ import annotations

from typing import Any, Literal

from PIL import Image
from pydantic import Field

from .base import OpaqueColour, Operation, Params, Progress, has_alpha, rgba

Format = Literal["jpeg", "png", "webp", "avif", "gif"]
SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}  # Pillow's JPEG subsampling codes


class ConvertParams(Params):
    format: Format = Field(description="Output format.")
    quality: int = Field(80, ge=1, le=100, description="Lossy quality (JPEG, WebP, AVIF).")
    speed: int | None = Field(
        None, ge=0, le=10,
        description="AVIF encoder speed: 0 slowest/smallest, 10 fastest (default: the "
        "server's PIXTOOLS_AVIF_SPEED).",
    )
    progressive: bool = Field(
        True, description="JPEG: progressive (shows coarse-to-fine; usually smaller)."
    )
    subsampling: Literal["4:2:0", "4:2:2", "4:4:4"] = Field(
        "4:2:0", description="JPEG chroma subsampling; 4:4:4 keeps sharp colour edges (text)."
    )
    compression: int = Field(
        6, ge=0, le=9, description="PNG compression level: 0 fastest, 9 smallest."
    )
    palette: bool = Field(
        False, description="PNG: reduce to at most `colours` colours (much smaller for "
        "graphics; transparency is kept)."
    )
    colours: int = Field(256, ge=2, le=256, description="PNG palette size.")
    lossless: bool = Field(False, description="WebP: lossless.")
    method: int = Field(
        4, ge=0, le=6, description="WebP encoder effort: 0 fastest, 6 smallest."
    )
    background: OpaqueColour = Field(
        "white", description="JPEG has no transparency: transparent areas become this colour."
    )


def convert(image: Image.Image, params: ConvertParams, progress: Progress) -> Image.Image:
    """Bring the pixels into a mode the target format stores; encoding happens last."""
    if params.format == "jpeg" and has_alpha(image):
        return _flatten(image, rgba(params.background)[:3])
    return image


def _flatten(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    # JPEG has no alpha: composite onto the background rather than letting transparency
    # turn black (what dropping the alpha channel would show).
    rgba_image = image.convert("RGBA")
    canvas = Image.new("RGB", image.size, background)
    canvas.paste(rgba_image, mask=rgba_image.getchannel("A"))
    return canvas


def finalise(image: Image.Image, params: ConvertParams, *, animated: bool) -> Image.Image:
    """The last pixel change before encoding: mode for the format, PNG palette."""
    image = convert(image, params, lambda fraction: None)
    if params.format == "png" and params.palette and not animated:
        source = image.convert("RGBA" if has_alpha(image) else "RGB")
        # Median cut gives the best palettes but cannot handle alpha; octree can.
        method = Image.Quantize.FASTOCTREE if has_alpha(image) else Image.Quantize.MEDIANCUT
        return source.quantize(colors=params.colours, method=method,
                               dither=Image.Dither.FLOYDSTEINBERG)
    return image


def encoder_options(params: ConvertParams, default_avif_speed: int) -> dict[str, Any]:
    """Pillow ``save`` arguments for the chosen format."""
    if params.format == "jpeg":
        return {"quality": params.quality, "optimize": True, "progressive": params.progressive,
                "subsampling": SUBSAMPLING[params.subsampling]}
    if params.format == "png":
        return {"optimize": False, "compress_level": params.compression}
    if params.format == "webp":
        return {"quality": params.quality, "method": params.method, "lossless": params.lossless}
    if params.format == "gif":
        return {"optimize": False}
    speed = default_avif_speed if params.speed is None else params.speed
    return {"quality": params.quality, "speed": speed}


OPERATION = Operation(
    name="convert",
    summary="Convert to JPEG, PNG, WebP, AVIF or GIF.",
    params=ConvertParams,
    apply=convert,
    encoding=True,
)
