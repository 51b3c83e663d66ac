"""Placeholders decode back, with the libraries' own decoders, to the picture's colours."""

from __future__ import annotations

import base64

import blurhash_rs
import numpy as np
import pytest
import thumbhash
from PIL import Image

from pixtools.quality.placeholders import MAX_SIDE, dominant_colour, placeholder, small_copy
from tests.support.images import photo_like


def _mean_rgb(pixels: np.ndarray) -> np.ndarray:
    return pixels.reshape(-1, pixels.shape[-1])[:, :3].astype(np.float64).mean(axis=0)


def _decoded_thumbhash(value: str) -> tuple[int, int, np.ndarray]:
    width, height, rgba = thumbhash.thumb_hash_to_rgba(base64.b64decode(value))
    return width, height, np.frombuffer(rgba, np.uint8).reshape(height, width, 4)


IMAGES = {
    "detailed": lambda: photo_like("detailed", size=(640, 480)),
    "noisy portrait": lambda: photo_like("noisy", size=(300, 500), seed=4),
    "solid": lambda: Image.new("RGB", (200, 120), (200, 40, 90)),
}


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_thumbhash_decodes_to_the_mean_colour_and_shape(name):
    image = IMAGES[name]()
    width, height, rgba = _decoded_thumbhash(placeholder(image).thumbhash)
    original = _mean_rgb(np.asarray(image.convert("RGB")))
    assert np.abs(_mean_rgb(rgba) - original).max() < 12
    assert width / height == pytest.approx(image.width / image.height, rel=0.25)


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_blurhash_decodes_to_the_mean_colour(name):
    image = IMAGES[name]()
    value = placeholder(image).blurhash
    decoded = blurhash_rs.decode_rgb(value, 32, 32, 1.0)
    pixels = np.frombuffer(decoded, np.uint8).reshape(32, 32, 3)
    original = _mean_rgb(np.asarray(image.convert("RGB")))
    assert np.abs(_mean_rgb(pixels) - original).max() < 12


def test_thumbhash_keeps_transparency():
    image = photo_like("flat", size=(200, 100)).convert("RGBA")
    alpha = np.full((100, 200), 255, np.uint8)
    alpha[:, :100] = 0
    image.putalpha(Image.fromarray(alpha))
    _, _, rgba = _decoded_thumbhash(placeholder(image).thumbhash)
    assert rgba[..., 3].mean() < 200


def test_dominant_colour_is_the_most_common_one():
    image = Image.new("RGB", (100, 100), (220, 30, 30))
    image.paste((20, 40, 200), (0, 0, 100, 30))  # 30 % blue, 70 % red
    assert dominant_colour(image.convert("RGBA")) == "#dc1e1e"
    rgba = image.convert("RGBA")
    alpha = np.full((100, 100), 0, np.uint8)
    alpha[:30] = 255  # only the blue band is visible
    rgba.putalpha(Image.fromarray(alpha))
    assert dominant_colour(rgba) == "#1428c8"


def test_placeholders_come_from_at_most_100_pixels():
    small = small_copy(photo_like("detailed", size=(1600, 900)))
    assert max(small.size) <= MAX_SIDE and small.size == (100, 56)


def test_details_shape():
    details = placeholder(IMAGES["solid"]()).details()
    assert set(details) == {"thumbhash", "blurhash", "dominant_colour"}
    assert details["dominant_colour"] == "#c8285a"
