"""The catalogue through real jobs: upload → steps on both queues → stored result.

Huey runs tasks as they are enqueued here (immediate mode), in this process, on a real
SQLite database and local storage; the same pipeline code the consumers run.
"""

from __future__ import annotations

import io
import json
import logging

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageSequence

from pixtools.operations import REGISTRY, Operation, Params
from tests.fixtures import generate
from tests.support.images import LEAKS, open_bytes, psnr
from tests.support.jobs import download, outputs, submit

ALL_FORMATS = ["jpeg", "png", "webp", "avif", "gif"]


def test_outputs_carry_no_metadata_by_default(run_now):
    recipe = {"outputs": outputs(*([{"op": "convert", "format": f}] for f in ALL_FORMATS))}
    job = submit(run_now, generate.gps_jpeg(), recipe)
    assert job["status"] == "succeeded", job
    assert job["options"] == {"auto_orient": True, "colour": "srgb", "metadata": "strip"}
    for output in job["outputs"]:
        data = download(run_now, output)
        assert not [leak for leak in LEAKS if leak in data], output["format"]
        image = open_bytes(data)
        assert not image.getexif() and "xmp" not in image.info and "icc_profile" not in image.info
        assert (image.width, image.height) == (48, 32)


def test_copyright_keeps_author_and_copyright_only(run_now):
    recipe = {"outputs": outputs([{"op": "convert", "format": "jpeg"}],
                                 [{"op": "convert", "format": "webp"}]),
              "metadata": "copyright"}
    job = submit(run_now, generate.gps_jpeg(), recipe)
    for output in job["outputs"]:
        data = download(run_now, output)
        exif = open_bytes(data).getexif()
        assert set(exif) == {ExifTags.Base.Artist, ExifTags.Base.Copyright}
        assert exif[ExifTags.Base.Copyright].encode("latin-1").decode() == "© 2026 Ada Lovelace"
        assert b"PixCam" not in data and b"x:xmpmeta" not in data
        assert not open_bytes(data).getexif().get_ifd(ExifTags.IFD.GPSInfo)


def test_keep_keeps_everything(run_now):
    recipe = {"outputs": outputs([{"op": "convert", "format": "jpeg"}]), "metadata": "keep"}
    job = submit(run_now, generate.gps_jpeg(), recipe)
    image = open_bytes(download(run_now, job["outputs"][0]))
    exif = image.getexif()
    assert exif[ExifTags.Base.Make] == "PixCam"
    assert exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"
    assert b"Ada Lovelace" in image.info["xmp"]
    assert image.info["photoshop"][0x0404].startswith(b"\x1c\x02")


@pytest.mark.parametrize(
    ("options", "size", "tag"),
    [({}, (48, 32), None), ({"metadata": "keep"}, (48, 32), None),
     ({"auto_orient": False}, (32, 48), 6)],
)
def test_orientation_is_applied_or_still_said(run_now, options, size, tag):
    recipe = {"outputs": outputs([{"op": "convert", "format": "png"}]), **options}
    job = submit(run_now, generate.oriented_jpeg(6), recipe)
    image = open_bytes(download(run_now, job["outputs"][0]))
    assert image.size == size
    assert image.getexif().get(ExifTags.Base.Orientation) == tag
    if tag is None:
        assert psnr(image, generate.upright()) > 30


def test_metadata_step_reports_without_logging_coordinates(run_now, caplog):
    caplog.set_level(logging.DEBUG)
    recipe = {"outputs": outputs([{"op": "metadata"}, {"op": "resize", "width": 24}])}
    job = submit(run_now, generate.gps_jpeg(), recipe)
    output = job["outputs"][0]
    report = output["details"]["metadata"]
    assert report["camera"]["model"] == "Model 7"
    assert report["gps"]["latitude"] == pytest.approx(generate.GPS["latitude"], abs=1e-5)
    assert (output["width"], output["height"], output["format"]) == (24, 16, "jpeg")
    assert not [leak for leak in LEAKS if leak in download(run_now, output)]
    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    assert "48.85" not in logged and "2.2945" not in logged


@pytest.mark.parametrize(("colour", "has_profile"), [("srgb", False), ("keep", True)])
def test_colour_option(run_now, colour, has_profile):
    recipe = {"outputs": outputs([{"op": "convert", "format": "png"}]), "colour": colour}
    job = submit(run_now, generate.p3_png(), recipe, name="p3.png")
    image = open_bytes(download(run_now, job["outputs"][0]))
    assert ("icc_profile" in image.info) is has_profile
    got = np.array(image.getpixel((8, 8)))
    patch = generate.P3_PATCHES[0]
    expected = patch if has_profile else generate.p3_to_srgb(patch)
    assert np.abs(got - expected).max() <= 2


def test_animation_is_kept_where_the_format_can_and_never_dropped_silently(run_now):
    recipe = {"outputs": outputs([{"op": "resize", "width": 20}],
                                 [{"op": "convert", "format": "webp"}],
                                 [{"op": "convert", "format": "jpeg"}])}
    job = submit(run_now, generate.animated("GIF"), recipe, name="walk.gif")
    gif, webp, jpeg = job["outputs"]
    for output, fmt in ((gif, "gif"), (webp, "webp")):
        assert output["format"] == fmt
        assert output["details"]["animation"] == {"source_frames": 6, "frames": 6}
        assert "notes" not in output["details"]
        frames = list(ImageSequence.Iterator(open_bytes(download(run_now, output))))
        assert len(frames) == 6
    assert (gif["width"], gif["height"]) == (20, 15)
    assert jpeg["details"]["animation"] == {"source_frames": 6, "frames": 1}
    assert "JPEG cannot store animation" in jpeg["details"]["notes"][0]


def test_saving_is_reported_in_percent(run_now):
    data = generate.photo((300, 200)).tobytes()
    png = io.BytesIO()
    Image.frombytes("RGB", (300, 200), data).save(png, "PNG")
    job = submit(run_now, png.getvalue(), {"outputs": outputs(
        [{"op": "convert", "format": "jpeg", "quality": 60}])}, name="big.png")
    output = job["outputs"][0]
    source = job["source"]["bytes"]
    assert output["saving_percent"] == round((source - output["bytes"]) * 100 / source, 1)
    assert output["saving_percent"] > 50


def test_heic_upload_becomes_an_upright_jpeg(run_now):
    job = submit(run_now, generate.oriented_heic(), {"outputs": outputs([{"op": "flip"}])},
                 name="IMG_0001.HEIC")
    output = job["outputs"][0]
    assert job["source"]["format"] == "heif" and output["format"] == "jpeg"
    image = open_bytes(download(run_now, output))
    # Two lossy codecs in a row; a wrong orientation or mirror scores below 10 dB.
    assert psnr(image, np.asarray(generate.upright())[:, ::-1]) > 24


def test_a_crop_outside_the_image_fails_the_job_with_a_reason(run_now):
    job = submit(run_now, generate.oriented_jpeg(1), {"outputs": outputs(
        [{"op": "crop", "left": 40, "top": 0, "width": 20, "height": 10}])})
    assert job["status"] == "failed"
    assert "beyond the 48 × 32 image" in job["error"]


# --- across queues --------------------------------------------------------------------


class NoParams(Params):
    pass


def _ml_identity(image: Image.Image, params: NoParams, progress) -> Image.Image:
    progress(0.5)
    return image.copy()


def _ml_sixteen_bit(image: Image.Image, params: NoParams, progress) -> Image.Image:
    grey = np.asarray(image.convert("L"), dtype=np.uint16) * 257  # what a model might return
    return Image.fromarray(grey)


@pytest.fixture
def ml_ops(monkeypatch):
    for name, apply in (("ml-identity", _ml_identity), ("ml-sixteen", _ml_sixteen_bit)):
        monkeypatch.setitem(REGISTRY, name, Operation(
            name=name, summary="test", params=NoParams, apply=apply, queue="ml"))


def test_chain_from_ml_to_standard_keeps_alpha_profile_and_size(run_now, ml_ops, app):
    from pixtools.models import Step

    rgba = Image.open(io.BytesIO(generate.p3_png())).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(rgba.size))
    buffer = io.BytesIO()
    rgba.save(buffer, "PNG", icc_profile=generate.icc_profile())
    recipe = {"outputs": outputs([{"op": "ml-identity"}, {"op": "resize", "width": 32},
                                  {"op": "convert", "format": "webp", "lossless": True}]),
              "colour": "keep"}
    job = submit(run_now, buffer.getvalue(), recipe, name="logo.png")
    assert job["status"] == "succeeded", job
    output = job["outputs"][0]
    assert [s["status"] for s in output["steps"]] == ["succeeded"] * 3
    queues = [s.queue for s in Step.query.order_by(Step.position).all()]
    assert queues == ["ml", "standard", "standard"]
    image = open_bytes(download(run_now, output))
    assert image.mode == "RGBA" and image.size == (32, 8)
    assert image.info["icc_profile"] == generate.icc_profile()
    expected = rgba.resize((32, 8), Image.Resampling.LANCZOS)
    assert psnr(image, expected) > 35


def test_metadata_decisions_survive_a_handoff(run_now, ml_ops):
    recipe = {"outputs": outputs([{"op": "resize", "width": 24}, {"op": "ml-identity"},
                                  {"op": "metadata"}, {"op": "convert", "format": "jpeg"}]),
              "metadata": "keep"}
    job = submit(run_now, generate.gps_jpeg(), recipe)
    output = job["outputs"][0]
    assert output["details"]["metadata"]["gps"]["present"] is True
    exif = open_bytes(download(run_now, output)).getexif()
    assert exif.get_ifd(ExifTags.IFD.GPSInfo)


def test_first_frame_note_and_bit_depth_survive_a_handoff(run_now, ml_ops):
    recipe = {"outputs": outputs([{"op": "ml-sixteen"}, {"op": "convert", "format": "png"}])}
    job = submit(run_now, generate.animated("GIF"), recipe, name="walk.gif")
    assert job["status"] == "succeeded", job
    output = job["outputs"][0]
    assert "notes" not in output["details"]  # APNG keeps the animation: nothing to say
    assert output["details"]["animation"] == {"source_frames": 6, "frames": 6}
    image = open_bytes(download(run_now, output))
    first = np.asarray(image.convert("L"), dtype=int)
    expected = np.asarray(generate.animation_frames(alpha=False)[0].convert("L"), dtype=int)
    assert np.abs(first - expected).max() <= 1  # 16-bit grey came back as 8 bits, not clipped

    recipe = {"outputs": outputs([{"op": "ml-identity"}, {"op": "convert", "format": "jpeg"}])}
    job = submit(run_now, generate.animated("GIF"), recipe, name="walk.gif")
    assert "only the first frame was used" in job["outputs"][0]["details"]["notes"][0]


# --- recipe options and the catalogue listing ------------------------------------------


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [({"colour": "cmyk"}, "colour", "'srgb' or 'keep'"),
     ({"metadata": "all"}, "metadata", "'strip', 'copyright' or 'keep'"),
     ({"auto_orient": "yes"}, "auto_orient", "true or false")],
)
def test_bad_recipe_options_are_refused_by_field(client, extra, field, words):
    recipe = {"outputs": outputs([{"op": "flip"}]), **extra}
    response = client.post("/api/v1/jobs", data={
        "file": (io.BytesIO(generate.oriented_jpeg(1)), "a.jpg"), "recipe": json.dumps(recipe)},
        content_type="multipart/form-data")
    assert response.status_code == 422
    body = response.get_json()
    assert body["field"] == field and words in body["message"]


def test_operations_listing_covers_the_catalogue(client):
    body = client.get("/api/v1/operations").get_json()
    names = {op["name"] for op in body["operations"]}
    assert names >= {"convert", "resize", "crop", "rotate", "flip", "grayscale", "sharpen",
                     "blur", "metadata"}
    for op in body["operations"]:
        assert set(op) >= {"name", "summary", "queue", "params"}
        for param in op["params"]:
            assert set(param) >= {"name", "type", "required", "default", "description"}
    resize = {p["name"]: p for p in next(o for o in body["operations"]
                                         if o["name"] == "resize")["params"]}
    assert resize["mode"]["choices"] == ["fit", "fill", "exact", "pad"]
    assert "smart" in resize["gravity"]["choices"]
    assert resize["background"]["format"] == "color"
    options = {p["name"]: p for p in body["recipe_options"]}
    assert options["colour"]["choices"] == ["srgb", "keep"]
    assert options["metadata"]["default"] == "strip"
    assert options["auto_orient"]["type"] == "boolean"


def test_jobs_from_before_options_existed_read_as_defaults():
    from pixtools.recipe import options_of

    assert options_of(None).model_dump() == {"auto_orient": True, "colour": "srgb",
                                             "metadata": "strip"}
