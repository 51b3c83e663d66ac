"""sharpen: unsharp mask; crisper edges, same picture, alpha untouched."""

from __future__ import annotations

import pytest
from PIL import Image, ImageFilter

from tests.fixtures.generate import photo
from tests.support.images import apply, psnr, sharpness

SOURCE = photo((160, 120)).filter(ImageFilter.GaussianBlur(1.5))


@pytest.mark.parametrize(
    "params",
    [{}, {"radius": 2, "amount": 150, "threshold": 3}, {"radius": 0.5, "amount": 300},
     {"radius": 5, "amount": 50, "threshold": 0}],
)
def test_sharpen_matches_the_unsharp_mask_and_adds_crispness(params):
    result = apply("sharpen", SOURCE, **params)
    assert result.size == SOURCE.size and result.mode == "RGB"
    reference = SOURCE.filter(ImageFilter.UnsharpMask(
        params.get("radius", 1.0), params.get("amount", 100), params.get("threshold", 2)))
    assert psnr(result, reference) == float("inf")
    assert sharpness(result) > sharpness(SOURCE) * 1.05
    assert psnr(result, SOURCE) > 20  # still the same picture


def test_alpha_channel_is_left_alone():
    image = SOURCE.convert("RGBA")
    image.putalpha(Image.linear_gradient("L").resize(SOURCE.size))
    result = apply("sharpen", image, amount=300)
    assert result.mode == "RGBA"
    assert psnr(result.getchannel("A"), image.getchannel("A")) == float("inf")
    opaque = image.copy()
    opaque.putalpha(255)
    assert psnr(apply("sharpen", opaque).convert("RGB"), apply("sharpen", SOURCE)) > 45
