"""The quality search: reaching targets, its bounds, and what it reports."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image, ImageFilter

from pixtools.quality.encoders import Encoding, decode
from pixtools.quality.errors import QualityError
from pixtools.quality.metric import ssimulacra2
from pixtools.quality.search import (
    TARGETS,
    SearchLimits,
    next_quality,
    resolve_target,
    search_quality,
)
from tests.support.images import photo_like

FAST_AVIF = {"speed": 8}


def _close_to_target(result, target: float) -> bool:
    """Reached, and within one point of the target unless the next lower quality (tried,
    and missing the target) shows that the score jumps by more than a point there."""
    if not result.reached or result.score < target:
        return False
    tried = {c.quality: c.score for c in result.candidates}
    below = tried.get(result.quality - 1)
    return result.score <= target + 1 or (below is not None and below < target)


@pytest.mark.parametrize("kind", ["flat", "detailed", "noisy"])
@pytest.mark.parametrize("target", ["high", "medium", 85])
def test_jpeg_search_reaches_the_target(kind, target):
    image = photo_like(kind)
    result = search_quality(image, Encoding("jpeg"), target)
    goal = resolve_target(target)
    assert _close_to_target(result, goal), result.candidates
    # The score is that of the returned bytes' own pixels.
    assert ssimulacra2(image, decode(result.data)) == pytest.approx(result.score)
    assert len(result.candidates) <= SearchLimits().max_encodes


@pytest.mark.parametrize(("fmt", "options"), [("webp", {}), ("avif", FAST_AVIF)])
@pytest.mark.parametrize("kind", ["flat", "detailed", "noisy"])
def test_webp_and_avif_searches_reach_the_target(fmt, options, kind):
    result = search_quality(photo_like(kind), Encoding(fmt, options=options), "high")
    assert decode(result.data).format == fmt.upper()
    if kind == "flat":
        # Their score barely moves over most of the quality range on a smooth picture, so
        # the budget may end before the bracket closes: reached is what counts there.
        assert result.reached and result.score >= TARGETS["high"]
    else:
        assert _close_to_target(result, TARGETS["high"]), result.candidates


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif"])
def test_easy_images_get_a_lower_quality_than_hard_ones(fmt):
    encoding = Encoding(fmt, options=FAST_AVIF if fmt == "avif" else {})
    flat = search_quality(photo_like("flat"), encoding, "high")
    noisy = search_quality(photo_like("noisy"), encoding, "high")
    assert flat.quality < noisy.quality
    assert len(flat.data) < len(noisy.data)


@pytest.mark.parametrize("kind", ["detailed", "noisy"])
def test_without_close_enough_the_next_lower_quality_is_proven_to_miss(kind):
    result = search_quality(photo_like(kind), Encoding("jpeg"), "high",
                            limits=SearchLimits(close_enough=0, max_encodes=12))
    tried = {c.quality: c.score for c in result.candidates}
    assert result.reached and tried[result.quality - 1] < result.target


def test_close_enough_ends_the_search_near_the_target():
    samples = {61: (b"", 70.4), 50: (b"", 60.0)}
    assert next_quality(samples, 70, 1, 100, close_enough=0.5) is None
    assert next_quality(samples, 70, 1, 100, close_enough=0.2) is not None


def test_smallest_passing_candidate_is_returned():
    result = search_quality(photo_like("detailed"), Encoding("jpeg"), "medium")
    passing = [c for c in result.candidates if c.score >= result.target]
    assert len(result.data) == min(c.bytes for c in passing)


def test_unreachable_target_ends_at_the_best_quality_with_a_note():
    # WebP at its default method cannot make this texture visually lossless.
    image = photo_like("noisy")
    result = search_quality(image, Encoding("webp"), 99)
    assert not result.reached
    assert result.score == max(c.score for c in result.candidates)
    assert len(result.candidates) <= SearchLimits().max_encodes
    assert "not reachable" in result.notes[0] or "not reached" in result.notes[0]
    assert "99" in result.notes[0]


def _always_blurred(image: Image.Image):
    """An encoder whose output ignores the quality: every try misses a high target."""
    blurred = image.filter(ImageFilter.GaussianBlur(1))

    def encode_at(quality: int) -> bytes:
        buffer = io.BytesIO()
        blurred.save(buffer, "JPEG", quality=quality)
        return buffer.getvalue()

    return encode_at


def test_encode_budget_is_kept():
    image = photo_like("detailed")
    result = search_quality(image, Encoding("jpeg"), 40, limits=SearchLimits(max_encodes=2),
                            encode_at=_always_blurred(image))
    assert len(result.candidates) == 2 and not result.reached
    assert "within the limit of 2 encodes" in result.notes[0]


def test_time_budget_is_kept():
    image = photo_like("detailed")
    result = search_quality(image, Encoding("jpeg"), 80, limits=SearchLimits(max_seconds=0.001),
                            encode_at=_always_blurred(image))
    assert len(result.candidates) == 1 and not result.reached
    assert "time limit of 0.001 s" in result.notes[0]


def test_lowest_quality_passing_ends_the_search():
    flat = Image.new("RGB", (64, 64), (120, 130, 140))
    result = search_quality(flat, Encoding("jpeg"), "low")
    assert result.reached and result.quality >= 1
    assert len(result.candidates) < SearchLimits().max_encodes


def test_custom_encoder_is_used():
    image = photo_like("detailed")
    calls = []

    def encode_at(quality: int) -> bytes:
        calls.append(quality)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality, comment=b"kept")
        return buffer.getvalue()

    result = search_quality(image, Encoding("jpeg"), "high", encode_at=encode_at)
    assert calls == [c.quality for c in result.candidates]
    assert b"kept" in result.data


def test_details_are_json_ready():
    result = search_quality(photo_like("flat"), Encoding("jpeg", "jpegli"), "high")
    details = json.loads(json.dumps(result.details()))
    assert details["quality"] == result.quality and details["encoder"] == "jpegli"
    assert details["quality_target"] == 70 and details["reached"] is True
    assert [c["quality"] for c in details["candidates"]] == [c.quality for c in result.candidates]
    assert decode(result.data).format == "JPEG"


@pytest.mark.parametrize("value", ["ultra", "", 5, 100, float("nan"), True, None, [70]])
def test_bad_targets_name_the_field(value):
    with pytest.raises(QualityError) as raised:
        resolve_target(value)
    assert raised.value.field == "quality_target"


def test_named_targets_follow_the_metric_authors_anchors():
    assert [resolve_target(n) for n in ("high", "medium", "low")] == [70, 50, 30]
    assert resolve_target(90) == 90.0 and resolve_target(62.5) == 62.5


@pytest.mark.parametrize(("settings", "field"), [
    ({"max_encodes": 1}, "max_encodes"), ({"max_encodes": 31}, "max_encodes"),
    ({"max_seconds": 0}, "max_seconds"), ({"max_seconds": 601}, "max_seconds"),
    ({"close_enough": -0.1}, "close_enough"), ({"close_enough": 6}, "close_enough"),
])
def test_bad_limits_name_the_field(settings, field):
    with pytest.raises(QualityError) as raised:
        SearchLimits(**settings)
    assert raised.value.field == field


@pytest.mark.parametrize(("arguments", "field"), [
    (("png",), "format"), (("gif",), "format"), (("jpeg", "mozjpeg"), "encoder"),
])
def test_bad_encodings_name_the_field(arguments, field):
    with pytest.raises(QualityError) as raised:
        Encoding(*arguments)
    assert raised.value.field == field


def test_next_quality_never_repeats_and_stops_on_an_adjacent_bracket():
    samples = {60: (b"", 68.0), 61: (b"", 70.5)}
    assert next_quality(samples, 70, 1, 100) is None
    samples = {60: (b"", 60.0), 90: (b"", 80.0)}
    step = next_quality(samples, 70, 1, 100)
    assert step is not None and 60 < step < 90
    samples = {100: (b"", 80.0)}
    assert next_quality(samples, 90, 1, 100) is None  # unreachable
    samples = {1: (b"", 80.0)}
    assert next_quality(samples, 70, 1, 100) is None  # even the lowest passes
    samples = {q: (b"", 50.0 + q / 10) for q in range(1, 100)}
    assert next_quality(samples, 70, 1, 100) == 100
