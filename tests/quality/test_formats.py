"""format: auto — usable candidates, the smallest wins, transparency never becomes JPEG."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from pixtools.quality.encoders import Encoding, decode
from pixtools.quality.errors import QualityError
from pixtools.quality.formats import choose_format, has_transparency, usable_formats
from pixtools.quality.search import SearchLimits
from tests.support.images import photo_like

FAST = {"avif": Encoding("avif", options={"speed": 8})}


def _with_transparency(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    alpha = np.full((image.height, image.width), 255, np.uint8)
    alpha[: image.height // 3] = 0  # a transparent band, as a cut-out would have
    alpha[image.height // 3 : image.height // 2] = 128
    rgba.putalpha(Image.fromarray(alpha))
    return rgba


@pytest.mark.parametrize("kind", ["flat", "detailed"])
def test_transparency_never_becomes_jpeg(kind):
    image = _with_transparency(photo_like(kind, size=(160, 120)))
    choice = choose_format(image, "high", encodings=FAST)
    assert choice.result.format != "jpeg" and "jpeg" not in choice.searches
    assert "transparency" in choice.skipped["jpeg"]
    decoded = decode(choice.result.data)
    assert "A" in decoded.getbands() and decoded.getchannel("A").getextrema()[0] < 255


def test_smallest_reaching_format_wins():
    image = photo_like("detailed", size=(160, 120))
    choice = choose_format(image, "high", encodings=FAST)
    reached = {name: r for name, r in choice.searches.items() if r.reached}
    assert choice.result.reached
    assert len(choice.result.data) == min(len(r.data) for r in reached.values())
    assert decode(choice.result.data).format == choice.result.format.upper()
    details = json.loads(json.dumps(choice.details()))
    assert details["format"] == choice.result.format and set(details["formats"]) <= {
        "avif", "webp", "jpeg"}


def test_opaque_alpha_channel_still_allows_jpeg():
    image = photo_like("flat", size=(64, 48)).convert("RGBA")
    assert not has_transparency(image)
    usable, skipped = usable_formats(["jpeg"], transparent=has_transparency(image),
                                     animated=False)
    assert usable == ["jpeg"] and skipped == {}


def test_opaque_rgba_can_win_as_jpeg():
    image = photo_like("noisy", size=(96, 72)).convert("RGBA")
    choice = choose_format(image, "high", candidates=["jpeg", "webp"])
    assert "jpeg" in choice.searches and choice.searches["jpeg"].reached
    assert decode(choice.searches["jpeg"].data).mode == "RGB"


def test_palette_transparency_counts():
    image = Image.new("P", (8, 8), 0)
    image.info["transparency"] = 0
    assert has_transparency(image)


def test_animation_keeps_an_animated_format():
    usable, skipped = usable_formats(["jpeg", "webp", "avif"], transparent=False, animated=True)
    assert usable == ["webp", "avif"] and "animation" in skipped["jpeg"]


@pytest.mark.parametrize(("candidates", "transparent", "animated", "words"), [
    (["jpeg"], True, False, "transparency"),
    (["jpeg"], False, True, "animation"),
    ([], False, False, "empty"),
])
def test_nothing_usable_names_the_field(candidates, transparent, animated, words):
    with pytest.raises(QualityError) as raised:
        usable_formats(candidates, transparent=transparent, animated=animated)
    assert raised.value.field == "candidates" and words in raised.value.message


def test_unknown_candidates_name_the_field():
    with pytest.raises(QualityError) as raised:
        usable_formats(["webp", "jxl", "png"], transparent=False, animated=False)
    assert raised.value.field == "candidates" and "jxl, png" in raised.value.message


def test_transparent_image_with_only_jpeg_is_refused_before_any_encode():
    image = _with_transparency(photo_like("flat", size=(64, 48)))
    with pytest.raises(QualityError) as raised:
        choose_format(image, "high", candidates=["jpeg"])
    assert raised.value.field == "candidates"


def test_bad_target_is_refused_before_any_encode():
    with pytest.raises(QualityError) as raised:
        choose_format(photo_like("flat", size=(64, 48)), "best")
    assert raised.value.field == "quality_target"


def test_time_limit_bounds_the_whole_choice():
    image = photo_like("noisy", size=(160, 120))
    choice = choose_format(image, "high", encodings=FAST,
                           limits=SearchLimits(max_seconds=0.001))
    # The first format gets one encode; the others are not searched.
    assert len(choice.searches) == 1
    assert all("time limit" in reason for reason in choice.skipped.values())
    assert len(next(iter(choice.searches.values())).candidates) == 1
