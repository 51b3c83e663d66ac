"""convert: choose the output format and its encoder settings.

The last ``convert`` step of an output decides its format; the encoding itself happens
once, after the last step (``finalise`` then ``encoder_options``). ``quality: "auto"``
and ``format: "auto"`` leave the encoder quality (and the format) to a search on the
final pixels (``pixtools.quality``), run by the encoding step.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from PIL import Image
from pydantic import Field, ValidationInfo, field_validator, model_validator

from ..quality.encoders import JPEG_ENCODERS, SEARCHABLE_FORMATS
from ..quality.formats import DEFAULT_CANDIDATES
from ..quality.search import resolve_target
from .base import OpaqueColour, Operation, Params, Progress, has_alpha, rgba

Format = Literal["jpeg", "png", "webp", "avif", "gif"]
SearchableFormat = Literal["avif", "webp", "jpeg"]
QualityTarget = Literal["high", "medium", "low"]
JpegEncoder = Literal["libjpeg", "jpegli"]
SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}  # Pillow's JPEG subsampling codes
assert set(SearchableFormat.__args__) == set(SEARCHABLE_FORMATS)  # type: ignore[attr-defined]
assert set(JpegEncoder.__args__) == set(JPEG_ENCODERS)  # type: ignore[attr-defined]


class ConvertParams(Params):
    format: Format | Literal["auto"] = Field(
        description="Output format; auto: the smallest of `candidates` that reaches "
        "`quality_target` (implies quality auto).")
    quality: Annotated[int, Field(ge=1, le=100)] | Literal["auto"] = Field(
        80, validate_default=True,
        description="Lossy quality (JPEG, WebP, AVIF); auto: the lowest that reaches "
        "`quality_target`.")
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
    quality_target: QualityTarget | float | None = Field(
        None, description="With quality auto: high, medium, low (SSIMULACRA 2 70, 50, 30) or "
        "a score from 10 to 99 (90: visually lossless); default high.")
    candidates: list[SearchableFormat] | None = Field(
        None, min_length=1, description="With format auto: the formats to choose from "
        "(default avif, webp, jpeg).")
    encoder: JpegEncoder = Field(
        "libjpeg", description="JPEG encoder: libjpeg (libjpeg-turbo) or jpegli.")

    @model_validator(mode="before")
    @classmethod
    def _auto_format_means_auto_quality(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("format") == "auto" and "quality" not in data:
            return {**data, "quality": "auto"}
        return data

    @field_validator("quality")
    @classmethod
    def _quality_fits_format(cls, value: int | str, info: ValidationInfo) -> int | str:
        fmt = info.data.get("format")
        if fmt == "auto" and value != "auto":
            raise ValueError("format auto searches the quality itself: leave quality out "
                             "or set it to auto")
        if value == "auto" and fmt not in (*SEARCHABLE_FORMATS, "auto", None):
            raise ValueError(f"quality auto works for JPEG, WebP and AVIF, not {fmt}")
        return value

    @field_validator("lossless")
    @classmethod
    def _lossless_has_no_quality(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("quality") == "auto":
            raise ValueError("lossless WebP has no quality to search: drop lossless, or give "
                             "quality a number")
        return value

    @field_validator("quality_target")
    @classmethod
    def _target_needs_auto(cls, value: str | float | None,
                           info: ValidationInfo) -> str | float | None:
        if value is None:
            return None
        if info.data.get("quality") != "auto":
            raise ValueError("quality_target applies to quality auto (or format auto) only")
        resolve_target(value)  # a QualityError (a ValueError) says what is wrong
        return value

    @field_validator("candidates")
    @classmethod
    def _candidates_need_auto(cls, value: list[str] | None,
                              info: ValidationInfo) -> list[str] | None:
        if value is not None and info.data.get("format") != "auto":
            raise ValueError("candidates applies to format auto only")
        return value

    @property
    def possible_formats(self) -> tuple[str, ...]:
        """The formats the output may end in: its format, or format auto's candidates."""
        if self.format != "auto":
            return (self.format,)
        return tuple(self.candidates or DEFAULT_CANDIDATES)

    @property
    def searched(self) -> bool:
        """Whether the encoding step searches the quality (and perhaps the format)."""
        return self.quality == "auto"


def convert(image: Image.Image, params: ConvertParams, progress: Progress) -> Image.Image:
    """Bring the pixels into a mode the target format stores; encoding happens last (with
    format auto, once the format is chosen: JPEG is not chosen for transparent pixels)."""
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
    """Pillow ``save`` arguments for the chosen format (with quality auto, without
    ``quality``: the search supplies it)."""
    options = _options(params, default_avif_speed)
    if params.quality == "auto":
        options.pop("quality", None)
    return options


def _options(params: ConvertParams, default_avif_speed: int) -> dict[str, Any]:
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
    summary="Convert to JPEG, PNG, WebP, AVIF or GIF, or the smallest that looks good enough.",
    params=ConvertParams,
    apply=convert,
    encoding=True,
)
