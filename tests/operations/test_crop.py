"""crop: a box in pixels; a box outside the image is a clear failure, not a smaller crop."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pixtools.errors import StepFailed
from tests.fixtures.generate import photo
from tests.support.images import apply, psnr

SOURCE = photo((200, 120))


@pytest.mark.parametrize(
    "box",
    [
        {"left": 0, "top": 0, "width": 200, "height": 120},
        {"left": 10, "top": 20, "width": 50, "height": 30},
        {"left": 199, "top": 119, "width": 1, "height": 1},
        {"width": 64, "height": 64},
    ],
)
def test_crop_cuts_exactly_the_box(box):
    result = apply("crop", SOURCE, **box)
    left, top = box.get("left", 0), box.get("top", 0)
    assert result.size == (box["width"], box["height"])
    expected = np.asarray(SOURCE)[top : top + box["height"], left : left + box["width"]]
    assert psnr(result, expected) == float("inf")


def test_crop_keeps_transparency():
    image = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    assert apply("crop", image, left=5, top=5, width=5, height=5).getpixel((0, 0)) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    "box", [{"left": 150, "top": 0, "width": 51, "height": 10},
            {"left": 0, "top": 100, "width": 10, "height": 21}],
)
def test_box_beyond_the_image_fails_with_the_real_size(box):
    with pytest.raises(StepFailed, match="beyond the 200 × 120 image"):
        apply("crop", SOURCE, **box)
