"""resize: fit, fill (cover then crop, with gravity or a smart crop), exact, or pad.

With only a width or only a height the aspect ratio is kept (every mode then fits).
Without ``upscale`` no side grows: ``fill`` and ``exact`` then give the largest box of
the requested shape that the image holds, and ``pad`` pads the unscaled image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image
from pydantic import Field, field_validator, model_validator

from . import attention
from .base import Colour, Operation, OutputLimits, Params, Progress, Refusal, has_alpha, rgba

MAX_SIDE = 16_384
Gravity = Literal[
    "centre", "top", "bottom", "left", "right",
    "top-left", "top-right", "bottom-left", "bottom-right", "smart",
]


class ResizeParams(Params):
    width: int | None = Field(None, ge=1, le=MAX_SIDE, description="Box width in pixels.")
    height: int | None = Field(None, ge=1, le=MAX_SIDE, description="Box height in pixels.")
    mode: Literal["fit", "fill", "exact", "pad"] = Field(
        "fit",
        description="fit: inside the box; fill: cover the box, then crop; exact: stretch to "
        "the box; pad: fit, then pad to the box.",
    )
    gravity: Gravity = Field(
        "centre",
        description="fill: the part kept (smart: the most interesting part); pad: where the "
        "image sits.",
    )
    upscale: bool = Field(False, description="Enlarge images smaller than the box.")
    background: Colour = Field(
        "white", description="pad: colour of the padding (transparent is allowed)."
    )

    @field_validator("gravity", mode="before")
    @classmethod
    def _american_spelling(cls, value: Any) -> Any:
        return "centre" if value == "center" else value

    @model_validator(mode="after")
    def _needs_a_side(self) -> ResizeParams:
        if self.width is None and self.height is None:
            raise ValueError("give width, height or both")
        return self

    @property
    def effective_mode(self) -> str:
        return self.mode if self.width is not None and self.height is not None else "fit"


@dataclass(frozen=True)
class Plan:
    scaled: tuple[int, int]  # the whole image is resized to this
    final: tuple[int, int]  # then cropped (fill) or padded (pad) to this


def _size(width: float, height: float) -> tuple[int, int]:
    return max(1, round(width)), max(1, round(height))


def plan(size: tuple[int, int], params: ResizeParams) -> Plan:
    width, height = size
    mode = params.effective_mode
    if mode in ("fit", "pad"):
        scales = [params.width / width] if params.width is not None else []
        scales += [params.height / height] if params.height is not None else []
        scale = min(scales)
        if scale > 1 and not params.upscale:
            scale = 1
        scaled = _size(width * scale, height * scale)
        final = (params.width, params.height) if mode == "pad" else scaled
        return Plan(scaled, final)  # type: ignore[arg-type]
    box_w, box_h = params.width, params.height
    assert box_w is not None and box_h is not None
    if mode == "fill":
        scale = max(box_w / width, box_h / height)
        if scale <= 1 or params.upscale:
            return Plan((max(box_w, round(width * scale)), max(box_h, round(height * scale))),
                        (box_w, box_h))
    elif (box_w <= width and box_h <= height) or params.upscale:  # exact
        return Plan((box_w, box_h), (box_w, box_h))
    # No upscaling: the largest box of the requested shape inside the image.
    shrink = min(width / box_w, height / box_h)
    final = _size(min(width, box_w * shrink), min(height, box_h * shrink))
    return Plan(final if mode == "exact" else size, final)


def _position(free: tuple[float, float], gravity: str) -> tuple[float, float]:
    across = 0.0 if "left" in gravity else 1.0 if "right" in gravity else 0.5
    down = 0.0 if "top" in gravity else 1.0 if "bottom" in gravity else 0.5
    return free[0] * across, free[1] * down


def _scale(image: Image.Image, target: tuple[int, int]) -> Image.Image:
    if target == image.size:
        return image
    return image.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _crop_box(image: Image.Image, target: Plan, gravity: str) -> tuple[float, float, float, float]:
    """The part of the source that becomes the output of a fill, in source pixels."""
    width, height = image.size
    crop_w = target.final[0] * width / target.scaled[0]
    crop_h = target.final[1] * height / target.scaled[1]
    left: float
    top: float
    if gravity == "smart":
        left, top = attention.best_offset(image, (round(crop_w), round(crop_h)))
    else:
        left, top = _position((width - crop_w, height - crop_h), gravity)
    return left, top, left + crop_w, top + crop_h


def _fill(image: Image.Image, target: Plan, box: tuple[float, float, float, float]) -> Image.Image:
    if target.scaled == image.size:
        left, top = int(box[0]), int(box[1])
        return image.crop((left, top, left + target.final[0], top + target.final[1]))
    # Resampling only the kept region, with sub-pixel placement: exact and cheaper than
    # resizing the whole image and cropping afterwards.
    return image.resize(target.final, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)


def _pad(image: Image.Image, final: tuple[int, int], params: ResizeParams) -> Image.Image:
    red, green, blue, alpha = rgba(params.background)
    transparent = has_alpha(image) or alpha < 255
    fill: int | tuple[int, ...]
    if image.mode in ("L", "LA") and red == green == blue:
        mode, fill = ("LA", (red, alpha)) if transparent else ("L", red)
    else:
        mode, fill = ("RGBA", (red, green, blue, alpha)) if transparent else ("RGB",
                                                                               (red, green, blue))
    canvas = Image.new(mode, final, fill)
    gravity = "centre" if params.gravity == "smart" else params.gravity
    left, top = _position((final[0] - image.width, final[1] - image.height), gravity)
    canvas.paste(image if image.mode == mode else image.convert(mode), (int(left), int(top)))
    return canvas


def _resize_one(image: Image.Image, params: ResizeParams, target: Plan,
                box: tuple[float, float, float, float] | None) -> Image.Image:
    mode = params.effective_mode
    if mode == "pad":
        return _pad(_scale(image, target.scaled), target.final, params)
    if mode == "fill" and target.final != target.scaled:
        return _fill(image, target, box or _crop_box(image, target, params.gravity))
    return _scale(image, target.scaled)


def resize(image: Image.Image, params: ResizeParams, progress: Progress) -> Image.Image:
    return _resize_one(image, params, plan(image.size, params), None)


def resize_frames(frames: list[Image.Image], params: ResizeParams,
                  progress: Progress) -> list[Image.Image]:
    # One crop for the whole animation, decided on the first frame: a smart crop chosen
    # per frame would make the picture jump around.
    target = plan(frames[0].size, params)
    box = _crop_box(frames[0], target, params.gravity) if params.effective_mode == "fill" else None
    return [_resize_one(frame, params, target, box) for frame in frames]


def size_hint(size: tuple[int, int], params: ResizeParams) -> tuple[int, int] | None:
    """The size the source must at least be decoded at: the scaled size, when smaller."""
    scaled = plan(size, params).scaled
    return scaled if scaled[0] < size[0] and scaled[1] < size[1] else None


def target_size(size: tuple[int, int], params: ResizeParams) -> tuple[int, int]:
    """The output size for a source of ``size``."""
    return plan(size, params).final


def largest_allocation(size: tuple[int, int], params: ResizeParams) -> tuple[int, int]:
    """fill scales the whole image before cropping: the larger of the two is allocated."""
    steps = plan(size, params)
    return max(steps.scaled, steps.final, key=lambda s: s[0] * s[1])


def check_params(params: ResizeParams, limits: OutputLimits) -> Refusal | None:
    """A box side over the limit is refused whatever the image; so is enlarging to a box
    whose area is, since ``upscale`` with both sides makes exactly that box."""
    for side in ("width", "height"):
        value = getattr(params, side)
        if value is not None and value > limits.max_side:
            return Refusal(f"{value} is larger than {limits.max_side}, the largest side a "
                           "result may have.", field=side)
    width, height = params.width, params.height
    if params.upscale and width and height:
        problem = limits.problem(width, height)
        if problem:
            return Refusal(f"enlarging to {width} × {height} ({width * height / 1e6:.1f} "
                           f"megapixels) is not allowed: {problem}.")
    return None


OPERATION = Operation(
    name="resize",
    summary="Resize: fit inside a box, fill it (crop, optionally smart), stretch or pad.",
    params=ResizeParams,
    apply=resize,
    apply_frames=resize_frames,
    size_hint=size_hint,
    predict_size=largest_allocation,
    check_params=check_params,
    form_rank=40,
)
