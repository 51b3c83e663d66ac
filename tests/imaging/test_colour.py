"""Colour at decode: every Pillow mode to 8-bit working modes; profiles to sRGB or kept."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageCms

from pixtools import imaging
from pixtools.imaging import colour
from tests.fixtures import generate

LIMITS = imaging.Limits(max_pixels=10_000_000, max_side=10_000)


def _ramp(dtype, top: float) -> np.ndarray:
    return (np.linspace(0, top, 256, dtype=np.float64).astype(dtype)).reshape(16, 16)


@pytest.mark.parametrize(
    ("image", "mode", "expected"),
    [
        (Image.fromarray(_ramp(np.int32, 65535), "I"), "L", np.arange(256)),
        (Image.fromarray(_ramp(np.int32, 255), "I"), "L", np.arange(256)),
        (Image.fromarray(_ramp(np.float32, 1.0), "F"), "L", np.arange(256)),
        (Image.fromarray(_ramp(np.float32, 255.0), "F"), "L", np.arange(256)),
        (Image.new("1", (16, 16), 1), "L", np.full(256, 255)),
        (Image.new("La", (16, 16), (100, 255)), "LA", np.full(256, 100)),
        (Image.new("RGBa", (16, 16), (100, 0, 0, 255)), "RGBA", np.full(256, 100)),
        (Image.new("RGBX", (16, 16), (100, 0, 0, 0)), "RGB", np.full(256, 100)),
        (Image.new("PA", (16, 16), (0, 255)), "RGBA", np.zeros(256)),
        (Image.new("HSV", (16, 16), (0, 0, 100)), "RGB", np.full(256, 100)),
        (Image.new("YCbCr", (16, 16), (100, 128, 128)), "RGB", np.full(256, 100)),
    ],
)
def test_every_mode_reaches_a_working_mode(image, mode, expected):
    result = colour.to_working_mode(image)
    assert result.mode == mode
    first = np.asarray(result.getchannel(0), dtype=int).reshape(-1)
    assert np.abs(first - expected).max() <= 1


def test_lab_pixels_become_rgb():
    lab = Image.new("LAB", (4, 4), (255, 128, 128))  # L* = 100, a* = b* = 0: white
    result = colour.to_working_mode(lab)
    assert result.mode == "RGB" and min(result.getpixel((0, 0))) >= 250


def _png_with_profile(image: Image.Image, icc: bytes) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", icc_profile=icc)
    return buffer.getvalue()


def test_grey_profile_converts_to_srgb_grey():
    ramp = Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16))
    picture = imaging.decode_picture(_png_with_profile(ramp, generate.grey_icc_profile()), LIMITS)
    image = picture.frames[0]
    assert image.mode == "L" and picture.icc is None
    got = np.asarray(image, dtype=int).reshape(-1)
    expected = np.array([generate.grey_to_srgb(v) for v in range(256)])
    assert np.abs(got - expected).max() <= 2
    assert np.abs(got - np.arange(256)).max() > 10  # the conversion really changed them


def test_grey_with_alpha_keeps_alpha_through_conversion():
    image = Image.new("LA", (4, 4), (128, 77))
    picture = imaging.decode_picture(_png_with_profile(image, generate.grey_icc_profile()), LIMITS)
    value, alpha = picture.frames[0].getpixel((0, 0))
    assert alpha == 77 and value == generate.grey_to_srgb(128)


def test_an_srgb_profile_is_dropped_without_touching_pixels():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image = Image.new("RGB", (4, 4), (200, 120, 60))
    picture = imaging.decode_picture(_png_with_profile(image, srgb), LIMITS)
    assert picture.icc is None and picture.frames[0].getpixel((0, 0)) == (200, 120, 60)


def test_an_unreadable_profile_is_ignored():
    image = Image.new("RGB", (4, 4), (200, 120, 60))
    picture = imaging.decode_picture(_png_with_profile(image, b"not a profile" * 20), LIMITS)
    assert picture.icc is None and picture.frames[0].getpixel((0, 0)) == (200, 120, 60)
    assert colour.profile_name(b"junk") is None and colour.profile_space(None) is None


def test_profile_facts():
    assert colour.profile_name(generate.icc_profile()) == generate.P3_NAME
    assert colour.profile_space(generate.icc_profile()) == "RGB"
    assert colour.profile_fits(generate.grey_icc_profile(), "LA")
    assert not colour.profile_fits(generate.icc_profile(), "L")
