"""rotate: quarter turns are exact; any other angle turns clockwise with a corner colour."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from pixtools.operations.rotate import RotateParams
from tests.fixtures.generate import photo, upright
from tests.support.images import apply, psnr

SOURCE = Image.fromarray(upright())  # coloured quarters: the direction is visible


@pytest.mark.parametrize(
    ("angle", "expected"),
    [
        (0, lambda a: a),
        (90, lambda a: np.rot90(a, -1)),  # clockwise
        (-270, lambda a: np.rot90(a, -1)),
        (180, lambda a: np.rot90(a, 2)),
        (270, lambda a: np.rot90(a, 1)),
        (-90, lambda a: np.rot90(a, 1)),
        (360, lambda a: a),
    ],
)
def test_quarter_turns_are_exact(angle, expected):
    result = apply("rotate", SOURCE, angle=angle)
    assert psnr(result, expected(upright())) == float("inf")


def test_clockwise_means_top_left_goes_to_top_right():
    result = apply("rotate", SOURCE, angle=90)
    assert result.size == (32, 48)
    assert result.getpixel((result.width - 1, 0)) == (220, 30, 30)  # the red top-left quarter


@pytest.mark.parametrize(
    ("params", "size", "corner"),
    [
        ({"angle": 30}, (math.ceil(200 * math.cos(math.pi / 6) + 100 * 0.5),
                         math.ceil(200 * 0.5 + 100 * math.cos(math.pi / 6))), (0, 0, 0, 0)),
        ({"angle": 30, "background": "#ff00ff"}, None, (255, 0, 255)),
        ({"angle": 30, "expand": False}, (200, 100), (0, 0, 0, 0)),
        ({"angle": -45, "expand": False, "background": "white"}, (200, 100), (255, 255, 255)),
    ],
)
def test_any_angle(params, size, corner):
    source = photo((200, 100))
    result = apply("rotate", source, **params)
    # The source turned clockwise (Pillow turns anticlockwise by default).
    reference = source.rotate(-params["angle"], Image.Resampling.BICUBIC,
                              expand=params.get("expand", True)).convert("RGB")
    assert result.size == reference.size
    if size is not None:
        assert abs(result.width - size[0]) <= 1 and abs(result.height - size[1]) <= 1
    assert result.getpixel((0, 0)) == corner
    cx, cy = result.width // 2, result.height // 2
    middle = (cx - 20, cy - 20, cx + 20, cy + 20)
    rcx, rcy = reference.width // 2, reference.height // 2
    assert psnr(result.convert("RGB").crop(middle),
                reference.crop((rcx - 20, rcy - 20, rcx + 20, rcy + 20))) > 40


def test_transparent_corners_do_not_darken_the_edges():
    red = Image.new("RGB", (100, 100), (255, 0, 0))
    result = apply("rotate", red, angle=20)
    edge = [p for p in result.get_flattened_data() if 0 < p[3] < 255]
    assert edge and all(p[0] > 240 for p in edge)


def test_angles_are_bounded():
    with pytest.raises(ValidationError):
        RotateParams(angle=400)
