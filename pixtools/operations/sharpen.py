"""sharpen: unsharp mask on the colour channels (alpha is left as it is)."""

from __future__ import annotations

from PIL import Image, ImageFilter
from pydantic import Field

from .base import Operation, Params, Progress, has_alpha


class SharpenParams(Params):
    radius: float = Field(1.0, ge=0.1, le=50, description="Size of the edges to sharpen, px.")
    amount: int = Field(100, ge=1, le=500, description="Strength in percent.")
    threshold: int = Field(
        2, ge=0, le=255, description="Leave differences below this alone (keeps noise down)."
    )


def sharpen(image: Image.Image, params: SharpenParams, progress: Progress) -> Image.Image:
    mask = ImageFilter.UnsharpMask(params.radius, params.amount, params.threshold)
    if not has_alpha(image):
        return image.filter(mask)
    # Sharpening the alpha channel would draw halos around every edge: only the colour
    # channels are sharpened, premultiplied so hidden colours cannot bleed in.
    premultiplied = image.convert("RGBA").convert("RGBa")
    *colour, alpha = premultiplied.split()
    sharpened = Image.merge("RGB", colour).filter(mask)
    result = Image.merge("RGBa", (*sharpened.split(), alpha)).convert("RGBA")
    return result.convert("LA") if image.mode == "LA" else result


OPERATION = Operation(
    name="sharpen",
    summary="Sharpen with an unsharp mask.",
    params=SharpenParams,
    apply=sharpen,
)
