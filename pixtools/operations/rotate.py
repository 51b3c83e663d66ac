"""rotate: by quarter turns (exact, lossless) or any angle, clockwise."""

from __future__ import annotations

from PIL import Image
from pydantic import Field

from .base import Colour, Operation, Params, Progress, has_alpha, rgba

QUARTER_TURNS = {
    90: Image.Transpose.ROTATE_270,  # Pillow turns anticlockwise; we turn clockwise
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}


class RotateParams(Params):
    angle: float = Field(
        ge=-360, le=360, description="Degrees, clockwise (negative turns anticlockwise)."
    )
    expand: bool = Field(
        True, description="Any angle: grow the canvas to hold the whole image (else crop)."
    )
    background: Colour = Field(
        "transparent", description="Any angle: colour of the uncovered corners."
    )


def rotate(image: Image.Image, params: RotateParams, progress: Progress) -> Image.Image:
    angle = params.angle % 360
    if angle == 0:
        return image
    if angle in QUARTER_TURNS:
        return image.transpose(QUARTER_TURNS[int(angle)])
    red, green, blue, alpha = rgba(params.background)
    if has_alpha(image) or alpha < 255:
        # Rotate premultiplied, so the smoothed edges do not darken towards transparent
        # corners; the corners take the background (possibly transparent).
        work = image.convert("RGBA").convert("RGBa")
        premultiplied = (*(round(c * alpha / 255) for c in (red, green, blue)), alpha)
        turned = work.rotate(-params.angle, Image.Resampling.BICUBIC, expand=params.expand,
                             fillcolor=premultiplied)
        return turned.convert("RGBA")
    if image.mode == "L" and red == green == blue:
        fill: int | tuple[int, ...] = red
    else:
        image, fill = image.convert("RGB"), (red, green, blue)
    return image.rotate(-params.angle, Image.Resampling.BICUBIC, expand=params.expand,
                        fillcolor=fill)


OPERATION = Operation(
    name="rotate",
    summary="Rotate clockwise: 90/180/270 exactly, or any angle with a corner colour.",
    params=RotateParams,
    apply=rotate,
)
