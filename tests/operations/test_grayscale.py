"""grayscale: ITU-R 601 luma, checked against the formula; alpha is kept."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.fixtures.generate import photo
from tests.support.images import apply, psnr


def luma(image: Image.Image) -> np.ndarray:
    rgb = np.asarray(image.convert("RGB"), dtype=np.float64)
    return rgb @ np.array([0.299, 0.587, 0.114])


@pytest.mark.parametrize(
    ("source", "mode"),
    [
        (photo((80, 60)), "L"),
        (photo((80, 60)).convert("RGBA"), "LA"),
        (photo((80, 60)).convert("L"), "L"),
        (Image.new("LA", (8, 8), (100, 50)), "LA"),
    ],
)
def test_grayscale_gives_luma(source, mode):
    result = apply("grayscale", source)
    assert result.mode == mode and result.size == source.size
    grey = np.asarray(result.getchannel("L"), dtype=np.float64)
    assert psnr(grey, luma(source)) > 45


def test_alpha_survives():
    image = Image.new("RGBA", (10, 10), (255, 0, 0, 77))
    assert apply("grayscale", image).getpixel((5, 5))[1] == 77
