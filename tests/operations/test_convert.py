"""convert: every format and encoder option, decoded again and compared with the source."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin
from pydantic import ValidationError

from pixtools import imaging, recipe
from pixtools.errors import InvalidRecipe
from pixtools.operations.convert import ConvertParams, encoder_options, finalise
from tests.fixtures.generate import photo
from tests.support.images import open_bytes, psnr

SOURCE = photo((160, 120), noise=1.5)


def round_trip(image: Image.Image, **params) -> tuple[Image.Image, bytes]:
    validated = ConvertParams(**params)
    final = finalise(image, validated, animated=False)
    data = imaging.encode_picture(imaging.Picture(frames=[final]), validated.format,
                                  encoder_options(validated, 8))
    return open_bytes(data), data


@pytest.mark.parametrize(
    ("params", "pillow_format", "min_psnr"),
    [
        # Thresholds sit a little below what each codec reaches on this picture of hard
        # coloured edges; a wrong colour, shift or channel order falls far below them.
        ({"format": "jpeg"}, "JPEG", 25),
        ({"format": "jpeg", "quality": 95, "subsampling": "4:4:4"}, "JPEG", 37),
        ({"format": "png"}, "PNG", float("inf")),
        ({"format": "png", "compression": 0}, "PNG", float("inf")),
        ({"format": "png", "palette": True}, "PNG", 31),
        ({"format": "webp"}, "WEBP", 26),
        ({"format": "webp", "lossless": True, "method": 0}, "WEBP", float("inf")),
        ({"format": "avif", "quality": 90}, "AVIF", 26),
        ({"format": "avif", "quality": 50, "speed": 10}, "AVIF", 25),
        ({"format": "gif"}, "GIF", 31),
    ],
)
def test_each_format_round_trips(params, pillow_format, min_psnr):
    decoded, _data = round_trip(SOURCE, **params)
    assert decoded.format == pillow_format
    assert decoded.size == SOURCE.size
    assert psnr(decoded.convert("RGB"), SOURCE) >= min_psnr


@pytest.mark.parametrize(
    ("params", "progressive", "sampling"),
    [({"format": "jpeg"}, True, 2), ({"format": "jpeg", "progressive": False}, False, 2),
     ({"format": "jpeg", "subsampling": "4:2:2"}, True, 1),
     ({"format": "jpeg", "subsampling": "4:4:4"}, True, 0)],
)
def test_jpeg_options_reach_the_file(params, progressive, sampling):
    decoded, _ = round_trip(SOURCE, **params)
    assert bool(decoded.info.get("progressive")) is progressive
    assert JpegImagePlugin.get_sampling(decoded) == sampling


def test_quality_trades_size():
    _, small = round_trip(SOURCE, format="webp", quality=20)
    _, large = round_trip(SOURCE, format="webp", quality=95)
    assert len(small) < len(large)
    _, fast = round_trip(SOURCE, format="png", compression=0)
    _, tight = round_trip(SOURCE, format="png", compression=9)
    assert len(tight) < len(fast)


@pytest.mark.parametrize(
    ("background", "expected"),
    [(None, (255, 255, 255)), ("#000080", (0, 0, 128)), ("rgb(200, 100, 0)", (200, 100, 0))],
)
def test_alpha_into_jpeg_is_flattened_onto_the_background_never_black(background, expected):
    image = Image.new("RGBA", (32, 32), (0, 0, 0, 0))  # transparent *black*
    image.paste((255, 0, 0, 255), (0, 0, 16, 32))
    extra = {"background": background} if background else {}
    decoded, _ = round_trip(image, format="jpeg", quality=95, subsampling="4:4:4", **extra)
    assert decoded.mode == "RGB"
    assert np.abs(np.array(decoded.getpixel((28, 16))) - expected).max() <= 3
    assert np.abs(np.array(decoded.getpixel((4, 16))) - (255, 0, 0)).max() <= 3


def test_half_transparent_pixels_blend_with_the_background():
    image = Image.new("RGBA", (16, 16), (0, 0, 0, 128))
    decoded, _ = round_trip(image, format="jpeg", quality=100, subsampling="4:4:4")
    assert all(abs(c - 127) <= 3 for c in decoded.getpixel((8, 8)))


def test_png_palette_keeps_transparency_and_the_colour_count():
    image = photo((64, 64)).convert("RGBA")
    image.paste((0, 0, 0, 0), (0, 0, 32, 64))
    decoded, data = round_trip(image, format="png", palette=True, colours=16)
    assert decoded.mode == "P"
    assert len(decoded.getcolors()) <= 16
    rgba = decoded.convert("RGBA")
    assert rgba.getpixel((5, 5))[3] == 0 and rgba.getpixel((50, 5))[3] == 255
    _, full = round_trip(image, format="png")
    assert len(data) < len(full)


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif", "gif"])
def test_every_working_mode_encodes_in_every_format(mode, fmt):
    decoded, _ = round_trip(SOURCE.convert(mode), format=fmt)
    assert decoded.size == SOURCE.size
    if fmt != "jpeg" and "A" in mode:
        assert decoded.convert("RGBA").getpixel((0, 0))[3] == 255


@pytest.mark.parametrize(
    ("params", "words"),
    [({"format": "bmp"}, "format"), ({"format": "jpeg", "quality": 0}, "quality"),
     ({"format": "jpeg", "background": "transparent"}, "must be opaque"),
     ({"format": "jpeg", "subsampling": "4:1:1"}, "subsampling"),
     ({"format": "png", "colours": 1}, "colours"), ({"format": "webp", "method": 7}, "method")],
)
def test_bad_parameters_are_refused(params, words):
    with pytest.raises(ValidationError, match=words):
        ConvertParams(**params)


@pytest.mark.parametrize(
    ("step", "field", "words"),
    [
        ({"format": "auto", "candidates": []}, "candidates", "at least 1 item"),
        ({"format": "auto", "candidates": ["avif", "png"]}, "candidates.1", "'jpeg'"),
        ({"format": "auto", "quality": 80}, "quality", "leave quality out"),
        ({"format": "png", "quality": "auto"}, "quality", "not png"),
        ({"format": "webp", "quality": "auto", "lossless": True}, "lossless", "no quality"),
        ({"format": "jpeg", "quality_target": "high"}, "quality_target", "quality auto"),
        ({"format": "jpeg", "quality": "auto", "quality_target": 5}, "quality_target",
         "outside 10–99"),
        ({"format": "jpeg", "quality": "auto", "quality_target": "best"}, "quality_target",
         "'high', 'medium' or 'low'"),
        ({"format": "webp", "candidates": ["webp"]}, "candidates", "format auto only"),
        ({"format": "jpeg", "quality": 0}, "quality", "or 'auto'"),
        ({"format": "jpeg", "encoder": "mozjpeg"}, "encoder", "'libjpeg' or 'jpegli'"),
    ],
)
def test_auto_settings_are_refused_by_field(step, field, words):
    text = json.dumps({"outputs": [{"steps": [{"op": "convert", **step}]}]})
    with pytest.raises(InvalidRecipe) as refused:
        recipe.parse(text, max_outputs=4, max_steps=4)
    assert refused.value.field == f"outputs.0.steps.0.{field}"
    assert words in refused.value.message


def test_format_auto_defaults_and_fixed_recipes_keep_their_options():
    auto = ConvertParams(format="auto")
    assert auto.quality == "auto" and auto.possible_formats == ("avif", "webp", "jpeg")
    assert "quality" not in encoder_options(auto.model_copy(update={"format": "webp"}), 8)
    fixed = ConvertParams(format="webp", quality=70)
    assert not fixed.searched and fixed.possible_formats == ("webp",)
    assert encoder_options(fixed, 8) == {"quality": 70, "method": 4, "lossless": False}
