"""resize: every mode and gravity, against references built independently."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps
from pydantic import ValidationError

from pixtools.operations import resize as resize_module
from pixtools.operations.resize import ResizeParams
from tests.fixtures.generate import photo
from tests.support.images import apply, psnr

SOURCE = photo((400, 300))


@pytest.mark.parametrize(
    ("params", "size"),
    [
        ({"width": 200}, (200, 150)),
        ({"height": 75}, (100, 75)),
        ({"width": 200, "height": 200}, (200, 150)),
        ({"width": 200, "height": 100}, (133, 100)),
        ({"width": 800}, (400, 300)),  # no upscaling unless asked
        ({"width": 800, "upscale": True}, (800, 600)),
        ({"width": 100, "height": 100, "mode": "fill"}, (100, 100)),
        ({"width": 300, "height": 100, "mode": "fill"}, (300, 100)),
        ({"width": 100, "mode": "fill"}, (100, 75)),  # one side: keeps the aspect ratio
        ({"width": 600, "height": 600, "mode": "fill"}, (300, 300)),  # largest square inside
        ({"width": 600, "height": 600, "mode": "fill", "upscale": True}, (600, 600)),
        ({"width": 120, "height": 120, "mode": "exact"}, (120, 120)),
        ({"width": 800, "height": 100, "mode": "exact"}, (400, 50)),
        ({"width": 800, "height": 100, "mode": "exact", "upscale": True}, (800, 100)),
        ({"width": 100, "height": 100, "mode": "pad"}, (100, 100)),
        ({"width": 500, "height": 500, "mode": "pad"}, (500, 500)),  # padded, not enlarged
        ({"height": 60, "mode": "pad"}, (80, 60)),
    ],
)
def test_output_dimensions_are_exact(params, size):
    assert apply("resize", SOURCE, **params).size == size
    assert resize_module.target_size(SOURCE.size, ResizeParams(**params)) == size


@pytest.mark.parametrize(
    ("params", "reference"),
    [
        ({"width": 200}, lambda im: im.resize((200, 150), Image.Resampling.LANCZOS)),
        ({"width": 100, "height": 100, "mode": "exact"},
         lambda im: im.resize((100, 100), Image.Resampling.LANCZOS)),
        ({"width": 100, "height": 100, "mode": "fill"},
         lambda im: ImageOps.fit(im, (100, 100), Image.Resampling.LANCZOS)),
        ({"width": 100, "height": 100, "mode": "fill", "gravity": "left"},
         lambda im: ImageOps.fit(im, (100, 100), Image.Resampling.LANCZOS, centering=(0, 0.5))),
        ({"width": 100, "height": 100, "mode": "fill", "gravity": "bottom-right"},
         lambda im: ImageOps.fit(im, (100, 100), Image.Resampling.LANCZOS, centering=(1, 1))),
        ({"width": 300, "height": 60, "mode": "fill", "gravity": "top"},
         lambda im: ImageOps.fit(im, (300, 60), Image.Resampling.LANCZOS, centering=(0.5, 0))),
        ({"width": 600, "height": 600, "mode": "fill"}, lambda im: im.crop((50, 0, 350, 300))),
    ],
)
def test_pixels_match_a_reference(params, reference):
    result = apply("resize", SOURCE, **params)
    assert psnr(result, reference(SOURCE)) > 38


@pytest.mark.parametrize(
    ("gravity", "offset"),
    [("centre", (60, 40)), ("top-left", (0, 0)), ("top-right", (120, 0)),
     ("bottom-left", (0, 80)), ("bottom", (60, 80)), ("right", (120, 40))],
)
def test_pad_places_the_image_by_gravity_on_the_colour(gravity, offset):
    small = photo((80, 60))
    result = apply("resize", small, width=200, height=140, mode="pad", gravity=gravity,
                   background="#00ff00")
    assert result.size == (200, 140) and result.mode == "RGB"
    expected = np.zeros((140, 200, 3), np.uint8)
    expected[:] = (0, 255, 0)
    x, y = offset
    expected[y : y + 60, x : x + 80] = np.asarray(small)
    assert psnr(result, expected) == float("inf")


def test_pad_with_transparent_background_keeps_alpha():
    result = apply("resize", SOURCE, width=500, height=500, mode="pad", background="transparent")
    assert result.mode == "RGBA"
    assert result.getpixel((0, 0))[3] == 0 and result.getpixel((250, 250))[3] == 255


def test_smart_gravity_finds_the_subject():
    # A busy red-and-textured subject on the right of a flat grey scene.
    scene = Image.new("RGB", (600, 200), (120, 120, 120))
    subject = photo((150, 200), seed=7)
    scene.paste(subject, (440, 0))
    smart = apply("resize", scene, width=200, height=200, mode="fill", gravity="smart")
    centre = apply("resize", scene, width=200, height=200, mode="fill")
    assert smart.size == centre.size == (200, 200)
    assert psnr(smart.crop((40, 0, 190, 200)), subject) > 30  # the subject is in view
    assert np.asarray(centre).std() < 1  # a centre crop sees only the flat grey


def test_smart_gravity_on_a_flat_image_is_the_centre():
    flat = Image.new("RGB", (300, 100), (10, 20, 30))
    flat.paste((10, 20, 31), (0, 0, 1, 1))
    smart = apply("resize", flat, width=100, height=100, mode="fill", gravity="smart")
    assert smart.size == (100, 100)
    assert resize_module.attention.best_offset(flat, (100, 100)) == (100, 0)


def test_animation_frames_share_one_crop():
    frames = [photo((200, 100), seed=seed) for seed in range(3)]
    params = ResizeParams(width=50, height=50, mode="fill", gravity="smart")
    results = resize_module.OPERATION.run(frames, params, lambda f: None)
    left, top = resize_module.attention.best_offset(frames[0], (100, 100))
    assert top == 0
    for frame, result in zip(frames, results, strict=True):
        expected = frame.crop((left, 0, left + 100, 100)).resize((50, 50), Image.Resampling.LANCZOS)
        assert result.size == (50, 50) and psnr(result, expected) > 38


def test_alpha_is_resized_without_dark_fringes():
    image = Image.new("RGBA", (100, 100), (255, 0, 0, 0))
    image.paste((255, 0, 0, 255), (25, 25, 75, 75))
    result = apply("resize", image, width=33)
    edge = [p for p in result.get_flattened_data() if 0 < p[3] < 255]
    assert edge and all(p[0] > 200 for p in edge)  # premultiplied: still red, never dark


def test_size_hint_asks_only_for_downscales():
    fit = ResizeParams(width=1024)
    assert resize_module.size_hint((4000, 3000), fit) == (1024, 768)
    assert resize_module.size_hint((800, 600), fit) is None
    fill = ResizeParams(width=100, height=100, mode="fill")
    assert resize_module.size_hint((4000, 3000), fill) == (133, 100)


@pytest.mark.parametrize(
    ("params", "words"),
    [({}, "give width, height or both"), ({"width": 0}, "greater than or equal to 1"),
     ({"width": 10, "mode": "squash"}, "fit"), ({"width": 10, "gravity": "middle"}, "smart"),
     ({"width": 10, "mode": "pad", "background": "not-a-colour"}, "is not a colour")],
)
def test_bad_parameters_are_refused(params, words):
    with pytest.raises(ValidationError, match=words):
        ResizeParams(**params)


def test_center_is_accepted_as_centre():
    assert ResizeParams(width=1, gravity="center").gravity == "centre"
