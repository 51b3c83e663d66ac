"""resize: fit inside a width × height box, keeping the aspect ratio."""

from __future__ import annotations

from PIL import Image
from pydantic import Field, model_validator

from .base import Operation, Params, Progress

MAX_SIDE = 16_384


class ResizeParams(Params):
    width: int | None = Field(None, ge=1, le=MAX_SIDE, description="Box width in pixels.")
    height: int | None = Field(None, ge=1, le=MAX_SIDE, description="Box height in pixels.")
    upscale: bool = Field(False, description="Enlarge images smaller than the box.")

    @model_validator(mode="after")
    def _needs_a_side(self) -> ResizeParams:
        if self.width is None and self.height is None:
            raise ValueError("give width, height or both")
        return self


def target_size(size: tuple[int, int], params: ResizeParams) -> tuple[int, int]:
    width, height = size
    scales = []
    if params.width is not None:
        scales.append(params.width / width)
    if params.height is not None:
        scales.append(params.height / height)
    scale = min(scales)
    if scale >= 1 and not params.upscale:
        return size
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize(image: Image.Image, params: ResizeParams, progress: Progress) -> Image.Image:
    size = target_size(image.size, params)
    if size == image.size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


OPERATION = Operation(
    name="resize",
    summary="Resize to fit inside a box, keeping the aspect ratio.",
    params=ResizeParams,
    apply=resize,
)
