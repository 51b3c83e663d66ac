"""crop: cut out a box given in pixels of the upright image."""

from __future__ import annotations

from PIL import Image
from pydantic import Field

from ..errors import StepFailed
from .base import Operation, Params, Progress

MAX_SIDE = 30_000


class CropParams(Params):
    left: int = Field(0, ge=0, le=MAX_SIDE, description="Left edge of the box, in pixels.")
    top: int = Field(0, ge=0, le=MAX_SIDE, description="Top edge of the box, in pixels.")
    width: int = Field(ge=1, le=MAX_SIDE, description="Box width in pixels.")
    height: int = Field(ge=1, le=MAX_SIDE, description="Box height in pixels.")


def crop(image: Image.Image, params: CropParams, progress: Progress) -> Image.Image:
    right, bottom = params.left + params.width, params.top + params.height
    if right > image.width or bottom > image.height:
        # A silently smaller crop would surprise more than a clear refusal.
        raise StepFailed(
            f"the crop box {params.width} × {params.height} at ({params.left}, {params.top}) "
            f"goes beyond the {image.width} × {image.height} image (after earlier steps and "
            "orientation): choose a box inside it"
        )
    return image.crop((params.left, params.top, right, bottom))


OPERATION = Operation(
    name="crop",
    summary="Cut out a box (left, top, width, height in pixels).",
    params=CropParams,
    apply=crop,
    form_rank=10,
)
