"""The encoding step through real jobs: quality auto, format auto, jpegli, placeholders, and
fixed recipes encoded exactly as before."""

from __future__ import annotations

import base64
import io
import json

import pytest
import thumbhash
from PIL import ExifTags, Image, ImageSequence

from pixtools import imaging
from pixtools.operations.convert import ConvertParams, encoder_options
from pixtools.quality.metric import ssimulacra2
from tests.fixtures import generate
from tests.support.images import open_bytes, photo_like
from tests.support.jobs import download, outputs, submit


def png_of(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


PHOTO = photo_like("detailed", (240, 180), seed=4)


def test_quality_auto_reaches_the_target_on_the_stored_file(run_now):
    recipe = {"outputs": outputs([{"op": "convert", "format": "jpeg", "quality": "auto",
                                   "quality_target": "medium"}])}
    job = submit(run_now, png_of(PHOTO), recipe, name="photo.png")
    assert job["status"] == "succeeded", job
    output = job["outputs"][0]
    auto = output["details"]["auto"]
    assert auto["format"] == "jpeg" and auto["encoder"] == "libjpeg"
    assert auto["quality_target"] == 50 and auto["reached"] is True
    assert auto["score"] >= 50 and 1 <= auto["quality"] <= 100
    assert auto["bytes"] == output["bytes"]
    assert auto["quality"] in [tried["quality"] for tried in auto["tried"]]
    # The score reported is the stored file's against the final pixels (the source here).
    stored = open_bytes(download(run_now, output))
    assert ssimulacra2(PHOTO, stored.convert("RGB")) == pytest.approx(auto["score"], abs=0.01)


def test_fixed_quality_encodes_exactly_as_before(run_now):
    recipe = {"outputs": outputs([{"op": "convert", "format": "webp", "quality": 70}],
                                 [{"op": "convert", "format": "jpeg"}])}
    job = submit(run_now, png_of(PHOTO), recipe, name="photo.png")
    for output, fmt, quality in zip(job["outputs"], ("webp", "jpeg"), (70, 80), strict=True):
        params = ConvertParams.model_validate({"format": fmt, "quality": quality})
        expected = imaging.encode_picture(imaging.Picture(frames=[PHOTO]), fmt,
                                          encoder_options(params, 8))
        assert download(run_now, output) == expected
        assert "auto" not in output["details"]
        assert set(output["details"]["placeholder"]) == {"thumbhash", "blurhash",
                                                         "dominant_colour"}


def test_format_auto_never_gives_jpeg_for_transparency(run_now):
    rgba = PHOTO.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(rgba.size))
    recipe = {"outputs": outputs([{"op": "convert", "format": "auto",
                                   "candidates": ["jpeg", "webp"]}])}
    job = submit(run_now, png_of(rgba), recipe, name="alpha.png")
    output = job["outputs"][0]
    assert output["format"] == "webp"
    auto = output["details"]["auto"]
    assert set(auto["formats"]) == {"webp"} and "jpeg" in auto["skipped"]
    assert open_bytes(download(run_now, output)).mode == "RGBA"


def test_format_auto_picks_the_smallest_that_reaches_the_target(run_now):
    recipe = {"outputs": outputs([{"op": "convert", "format": "auto", "speed": 9}])}
    job = submit(run_now, png_of(PHOTO), recipe, name="photo.png")
    output = job["outputs"][0]
    auto = output["details"]["auto"]
    reaching = {fmt: found for fmt, found in auto["formats"].items() if found["reached"]}
    assert reaching, auto
    assert output["format"] == min(reaching, key=lambda fmt: reaching[fmt]["bytes"])
    assert output["url"].split("?")[0].endswith(imaging.EXTENSIONS[output["format"]])
    assert open_bytes(download(run_now, output)).format == imaging.OUTPUT_FORMATS[
        output["format"]]


def test_format_auto_keeps_an_animation(run_now):
    recipe = {"outputs": outputs([{"op": "convert", "format": "auto",
                                   "candidates": ["jpeg", "webp"]}])}
    job = submit(run_now, generate.animated("gif"), recipe, name="moving.gif")
    output = job["outputs"][0]
    assert output["format"] == "webp", job
    frames = list(ImageSequence.Iterator(open_bytes(download(run_now, output))))
    assert len(frames) > 1


def test_an_animation_with_only_still_candidates_is_refused_by_field(run_now):
    recipe = {"outputs": outputs([{"op": "resize", "width": 16},
                                  {"op": "convert", "format": "auto", "candidates": ["jpeg"]}])}
    response = run_now.post("/api/v1/jobs", data={
        "file": (io.BytesIO(generate.animated("gif")), "moving.gif"),
        "recipe": json.dumps(recipe)}, content_type="multipart/form-data")
    assert response.status_code == 422
    body = response.get_json()
    assert body["field"] == "outputs.0.steps.1.candidates"
    assert "animated" in body["message"] and "webp" in body["message"]


def test_transparency_made_by_a_step_fails_a_jpeg_only_choice_with_a_reason(run_now):
    recipe = {"outputs": outputs([{"op": "rotate", "angle": 30},
                                  {"op": "convert", "format": "auto", "candidates": ["jpeg"]}])}
    job = submit(run_now, png_of(PHOTO), recipe, name="photo.png")
    assert job["status"] == "failed"
    assert "(convert): candidates: " in job["outputs"][0]["error"]
    assert "transparen" in job["outputs"][0]["error"]


def test_jpegli_keeps_the_metadata_the_recipe_allows(run_now):
    recipe = {"outputs": outputs([{"op": "convert", "format": "jpeg", "encoder": "jpegli"}],
                                 [{"op": "convert", "format": "jpeg"}]),
              "metadata": "copyright"}
    job = submit(run_now, generate.gps_jpeg(), recipe)
    jpegli, libjpeg = (download(run_now, output) for output in job["outputs"])
    assert jpegli != libjpeg
    for data in (jpegli, libjpeg):
        image = open_bytes(data)
        assert image.format == "JPEG" and image.size == (48, 32)
        assert set(image.getexif()) == {ExifTags.Base.Artist, ExifTags.Base.Copyright}


def test_every_output_carries_a_placeholder_of_its_final_pixels(run_now):
    red = Image.new("RGB", (120, 80), (200, 30, 40))
    recipe = {"outputs": outputs(*([{"op": "convert", "format": fmt}]
                                   for fmt in ("png", "gif", "avif")))}
    job = submit(run_now, png_of(red), recipe, name="red.png")
    for output in job["outputs"]:
        found = output["details"]["placeholder"]
        assert found["dominant_colour"] in ("#c81e28", "#c81f28", "#c91e28")  # codec rounding
        decoded = thumbhash.thumb_hash_to_rgba(base64.b64decode(found["thumbhash"]))
        width, height, pixels = decoded
        assert width > height  # the aspect ratio survives
        assert abs(pixels[0] - 200) < 12 and abs(pixels[1] - 30) < 12
