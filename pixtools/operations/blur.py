"""blur: Gaussian blur, premultiplied so transparent areas do not bleed dark edges."""

from __future__ import annotations

from PIL import Image, ImageFilter
from pydantic import Field

from .base import Operation, Params, Progress, has_alpha


class BlurParams(Params):
    radius: float = Field(2.0, ge=0.1, le=250, description="Blur radius (sigma) in pixels.")


def blur(image: Image.Image, params: BlurParams, progress: Progress) -> Image.Image:
    gaussian = ImageFilter.GaussianBlur(params.radius)
    if not has_alpha(image):
        return image.filter(gaussian)
    result = image.convert("RGBA").convert("RGBa").filter(gaussian).convert("RGBA")
    return result.convert("LA") if image.mode == "LA" else result


OPERATION = Operation(
    name="blur",
    summary="Gaussian blur.",
    params=BlurParams,
    apply=blur,
)
