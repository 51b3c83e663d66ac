"""rotate: by quarter turns (exact, lossless) or any angle, clockwise."""

from __future__ import annotations

import math

from PIL import Image, ImageOps
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


def expanded_size(size: tuple[int, int], angle: float) -> tuple[int, int]:
    """The canvas that holds the whole turned image, computed as Pillow's ``rotate`` does."""
    width, height = size
    theta = math.radians(angle)  # Pillow's anticlockwise angle is our -angle, negated again
    cos, sin = round(math.cos(theta), 15), round(math.sin(theta), 15)
    xs, ys = [], []
    for x, y in ((0, 0), (width, 0), (width, height), (0, height)):
        dx, dy = x - width / 2, y - height / 2
        xs.append(cos * dx + sin * dy)
        ys.append(-sin * dx + cos * dy)
    return (math.ceil(max(xs)) - math.floor(min(xs)), math.ceil(max(ys)) - math.floor(min(ys)))


def result_size(size: tuple[int, int], params: RotateParams) -> tuple[int, int]:
    """The size ``rotate`` makes, known before any pixel is allocated."""
    angle = params.angle % 360
    if angle in (90, 270):
        return size[1], size[0]
    if angle in (0, 180) or not params.expand:
        return size
    return expanded_size(size, params.angle)


def _turn(image: Image.Image, angle: float, expand: bool,
          fill: int | tuple[int, ...]) -> Image.Image:
    # Pillow does not smooth the outline of a rotated image: a border of the fill colour
    # gives the interpolation something to blend the edges into. The affine map below turns
    # the bordered image about the original centre onto the canvas Pillow would use.
    border = 2
    padded = ImageOps.expand(image, border=border, fill=fill)
    out_w, out_h = expanded_size(image.size, angle) if expand else image.size
    theta = math.radians(angle)
    cos, sin = math.cos(theta), math.sin(theta)
    in_x, in_y = image.width / 2 + border, image.height / 2 + border
    out_x, out_y = out_w / 2, out_h / 2
    matrix = (cos, sin, in_x - cos * out_x - sin * out_y,
              -sin, cos, in_y + sin * out_x - cos * out_y)
    return padded.transform((out_w, out_h), Image.Transform.AFFINE, matrix,
                            Image.Resampling.BICUBIC, fillcolor=fill)


def rotate(image: Image.Image, params: RotateParams, progress: Progress) -> Image.Image:
    angle = params.angle % 360
    if angle == 0:
        return image
    if angle in QUARTER_TURNS:
        return image.transpose(QUARTER_TURNS[int(angle)])
    red, green, blue, alpha = rgba(params.background)
    if has_alpha(image) or alpha < 255:
        # Turned premultiplied, so smoothed edges do not darken towards clear corners.
        work = image.convert("RGBA").convert("RGBa")
        fill = (*(round(c * alpha / 255) for c in (red, green, blue)), alpha)
        return _turn(work, params.angle, params.expand, fill).convert("RGBA")
    if image.mode == "L" and red == green == blue:
        return _turn(image, params.angle, params.expand, red)
    return _turn(image.convert("RGB"), params.angle, params.expand, (red, green, blue))


OPERATION = Operation(
    name="rotate",
    summary="Rotate clockwise: 90/180/270 exactly, or any angle with a corner colour.",
    params=RotateParams,
    apply=rotate,
    predict_size=result_size,
    form_rank=20,
)
