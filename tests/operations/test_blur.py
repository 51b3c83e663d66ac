"""blur: Gaussian; softer, same picture, and no dark halo around transparent areas."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from tests.fixtures.generate import photo
from tests.support.images import apply, psnr, sharpness

SOURCE = photo((160, 120))


@pytest.mark.parametrize("radius", [0.5, 2.0, 8.0])
def test_blur_matches_a_gaussian_and_softens(radius):
    result = apply("blur", SOURCE, radius=radius)
    assert result.size == SOURCE.size
    assert psnr(result, SOURCE.filter(ImageFilter.GaussianBlur(radius))) == float("inf")
    assert sharpness(result) < sharpness(SOURCE) * 0.8


def test_default_radius_is_two():
    assert psnr(apply("blur", SOURCE), SOURCE.filter(ImageFilter.GaussianBlur(2))) == float("inf")


def test_flat_image_is_unchanged():
    flat = Image.new("RGB", (40, 40), (10, 200, 30))
    assert psnr(apply("blur", flat, radius=5), flat) == float("inf")


def test_transparent_surroundings_do_not_bleed_black():
    # Transparent pixels hold black colour values: a naive blur drags them into the edge.
    image = Image.new("RGBA", (60, 60), (0, 0, 0, 0))
    image.paste((255, 255, 255, 255), (20, 20, 40, 40))
    result = np.asarray(apply("blur", image, radius=3))
    visible = result[..., 3] > 8
    assert result[visible][:, :3].min() > 240  # white all the way to the soft edge
    assert result[..., 3].max() == 255 and 0 < result[20, 18, 3] < 255
