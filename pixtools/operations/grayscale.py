"""grayscale: shades of grey (ITU-R 601 luma), keeping transparency."""

from __future__ import annotations

from PIL import Image

from .base import Operation, Params, Progress


class GrayscaleParams(Params):
    pass


def grayscale(image: Image.Image, params: GrayscaleParams, progress: Progress) -> Image.Image:
    if image.mode in ("L", "LA"):
        return image
    return image.convert("LA" if image.mode == "RGBA" else "L")


OPERATION = Operation(
    name="grayscale",
    summary="Convert to shades of grey; transparency is kept.",
    params=GrayscaleParams,
    apply=grayscale,
)
