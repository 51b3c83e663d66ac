"""flip: mirror horizontally (left ↔ right) or vertically (top ↔ bottom)."""

from __future__ import annotations

from typing import Literal

from PIL import Image
from pydantic import Field

from .base import Operation, Params, Progress


class FlipParams(Params):
    direction: Literal["horizontal", "vertical"] = Field(
        "horizontal", description="horizontal swaps left and right; vertical, top and bottom."
    )


def flip(image: Image.Image, params: FlipParams, progress: Progress) -> Image.Image:
    if params.direction == "horizontal":
        return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)


OPERATION = Operation(
    name="flip",
    summary="Mirror the image horizontally or vertically.",
    params=FlipParams,
    apply=flip,
    form_rank=30,
)
