"""The encoding step: an output's final pixels to bytes, after its last operation.

A fixed quality encodes once, as it always has. ``quality: "auto"`` searches the encoder
quality on the final pixels for the smallest file that reaches ``quality_target``;
``format: "auto"`` does so for each usable candidate format and keeps the smallest. Every
encode of the search writes exactly what the output will hold (metadata, colour profile,
every frame), so the bytes compared are the bytes stored. Every output also gets its
placeholders (ThumbHash, BlurHash, dominant colour) from the same final pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from .. import imaging
from ..errors import StepFailed
from ..imaging import Picture, embedded
from ..operations.convert import ConvertParams, encoder_options, finalise
from ..quality import encoders
from ..quality.errors import QualityError
from ..quality.formats import FormatChoice, choose_format
from ..quality.placeholders import placeholder
from ..quality.search import SearchLimits, SearchResult, search_quality

DEFAULT_TARGET = "high"


@dataclass
class Encoded:
    """The stored bytes, their format, and what the output's details gain."""

    data: bytes
    format: str
    details: dict[str, Any] = field(default_factory=dict)  # "auto", "placeholder"
    notes: list[str] = field(default_factory=list)


def keeps_animation(params: ConvertParams) -> bool:
    """Whether the source's frames are worth decoding: some possible format animates."""
    return any(fmt in imaging.ANIMATED_FORMATS for fmt in params.possible_formats)


def encode_result(picture: Picture, params: ConvertParams, written: embedded.Written, *,
                  avif_speed: int, limits: SearchLimits) -> Encoded:
    """Encode ``picture`` (after its last operation) as ``params`` ask."""
    if params.format == "auto":
        encoded = _choose_format(picture, params, written, avif_speed, limits)
    elif params.searched:
        final, encode_at = _encoder(picture, params, written, avif_speed)
        result = search_quality(final.frames[0], _encoding(params, avif_speed),
                                params.quality_target or DEFAULT_TARGET, limits=limits,
                                encode_at=encode_at)
        encoded = _from_search(final, result, result.details())
    else:
        final, encode_at = _encoder(picture, params, written, avif_speed)
        assert isinstance(params.quality, int)
        encoded = Encoded(encode_at(params.quality), params.format)
        encoded.details["placeholder"] = placeholder(final.frames[0]).details()
    if len(picture.frames) > 1 and params.format == "png" and params.palette:
        encoded.notes.append("PNG palette reduction is not applied to animations.")
    return encoded


def _choose_format(picture: Picture, params: ConvertParams, written: embedded.Written,
                   avif_speed: int, limits: SearchLimits) -> Encoded:
    formats = params.possible_formats
    finals, encode_at = {}, {}
    for fmt in formats:
        finals[fmt], encode_at[fmt] = _encoder(picture, _as(params, fmt), written, avif_speed)
    try:
        choice: FormatChoice = choose_format(
            picture.frames[0], params.quality_target or DEFAULT_TARGET, formats,
            animated=len(picture.frames) > 1, limits=limits,
            encodings={fmt: _encoding(_as(params, fmt), avif_speed) for fmt in formats},
            encode_at=encode_at)
    except QualityError as exc:
        # Only the final pixels show it (e.g. a rotation made transparent corners).
        raise StepFailed(f"{exc.field}: {exc.message}") from None
    return _from_search(finals[choice.result.format], choice.result, choice.details())


def _from_search(final: Picture, result: SearchResult, details: dict[str, Any]) -> Encoded:
    details["tried"] = details.pop("candidates")  # qualities; "candidates" are formats
    notes = list(details.get("notes", []))
    return Encoded(result.data, result.format, notes=notes,
                   details={"auto": details,
                            "placeholder": placeholder(final.frames[0]).details()})


def _as(params: ConvertParams, fmt: str) -> ConvertParams:
    return params.model_copy(update={"format": fmt})


def _encoding(params: ConvertParams, avif_speed: int) -> encoders.Encoding:
    return encoders.Encoding(params.format, params.encoder,
                             encoder_options(params, avif_speed))


def _encoder(picture: Picture, params: ConvertParams, written: embedded.Written,
             avif_speed: int) -> tuple[Picture, Callable[[int], bytes]]:
    """The picture in the format's final form, and its encoder at a given quality."""
    animated = len(picture.frames) > 1
    final = replace(picture, frames=[finalise(frame, params, animated=animated)
                                     for frame in picture.frames])
    options = encoder_options(params, avif_speed)
    if params.format == "jpeg" and params.encoder == "jpegli":
        jpegli = encoders.Encoding("jpeg", "jpegli")

        def encode_jpegli(quality: int) -> bytes:
            data = encoders.encode(final.frames[0], jpegli, quality)
            return imaging.jpeg_with_metadata(data, final, written)

        return final, encode_jpegli
    lossy = params.format in encoders.SEARCHABLE_FORMATS

    def encode(quality: int) -> bytes:
        chosen = {**options, "quality": quality} if lossy else options
        return imaging.encode_picture(final, params.format, chosen, written)

    return final, encode
