"""metadata: the report of a source's EXIF/XMP/IPTC/ICC facts, and what outputs may carry."""

from __future__ import annotations

import io

import pytest
from PIL import ExifTags, Image

from pixtools.imaging import embedded
from pixtools.operations import REGISTRY
from tests.fixtures import generate
from tests.support.images import apply, psnr


def source_of(data: bytes) -> embedded.Embedded:
    image = Image.open(io.BytesIO(data))
    image.load()
    return embedded.read(image)


def test_pixels_pass_through_unchanged():
    image = generate.photo((40, 30))
    assert psnr(apply("metadata", image), image) == float("inf")


def test_report_of_a_camera_photo():
    report = REGISTRY["metadata"].report(source_of(generate.gps_jpeg()), None)
    assert report["format"] == "jpeg"
    assert (report["width"], report["height"], report["orientation"]) == (48, 32, 1)
    assert report["camera"] == {"make": "PixCam", "model": "Model 7"}
    assert report["lens"] == "PixLens 35mm"
    assert report["exposure"] == {"time": "1/250", "f_number": 2.8, "focal_length_mm": 35.0,
                                  "iso": 200}
    assert report["taken_at"] == "2024-05-01T12:34:56"
    assert report["author"] == "Ada Lovelace"
    assert report["copyright"] == "© 2026 Ada Lovelace"
    assert report["colour_profile"] is None
    gps = report["gps"]
    assert gps["present"] is True
    assert gps["latitude"] == pytest.approx(generate.GPS["latitude"], abs=1e-5)
    assert gps["longitude"] == pytest.approx(generate.GPS["longitude"], abs=1e-5)
    assert gps["altitude_m"] == 35.0
    assert report["embedded"] == {"exif": True, "xmp": True, "iptc": True, "icc": False}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (generate.oriented_jpeg(6), {"width": 48, "height": 32, "orientation": 6,
                                     "camera": None, "gps": {"present": False}}),
        (generate.p3_png(), {"format": "png", "colour_profile": generate.P3_NAME,
                             "embedded": {"exif": False, "xmp": False, "iptc": False,
                                          "icc": True}}),
        (generate.animated("GIF"), {"format": "gif", "width": 40, "height": 30,
                                    "author": None, "exposure": {}}),
    ],
)
def test_report_rows(data, expected):
    report = embedded.report(source_of(data))
    assert {key: report[key] for key in expected} == expected


def test_author_and_copyright_fall_back_to_xmp_then_iptc():
    source = source_of(generate.gps_jpeg())
    no_exif = embedded.Embedded(**{**source.__dict__, "exif": None})
    assert embedded.credits(no_exif) == {"author": "Ada Lovelace",
                                         "copyright": "© 2026 Ada Lovelace"}
    iptc_only = embedded.Embedded(**{**source.__dict__, "exif": None, "xmp": None})
    assert embedded.credits(iptc_only) == {"author": "Ada Lovelace",
                                           "copyright": "(c) 2026 Ada Lovelace"}


def test_damaged_metadata_reads_as_absent():
    source = embedded.Embedded(format="jpeg", width=4, height=4, orientation=1,
                               exif=b"Exif\x00\x00garbage", xmp=b"<not xml", iptc=b"\x1c\x02",
                               icc=b"nonsense")
    report = embedded.report(source)
    assert report["camera"] is None and report["colour_profile"] is None
    assert report["gps"] == {"present": False}


def _exif(written: embedded.Written) -> Image.Exif:
    exif = Image.Exif()
    if written.exif:
        exif.load(written.exif)
    return exif


@pytest.mark.parametrize(
    ("policy", "oriented", "tags", "gps", "xmp", "iptc"),
    [
        ("strip", True, {}, False, False, False),
        ("copyright", True, {ExifTags.Base.Artist: "Ada Lovelace",
                             ExifTags.Base.Copyright: "© 2026 Ada Lovelace"}, False, False, False),
        ("keep", True, {ExifTags.Base.Make: "PixCam", ExifTags.Base.Artist: "Ada Lovelace"},
         True, True, True),
    ],
)
def test_what_outputs_carry(policy, oriented, tags, gps, xmp, iptc):
    written = embedded.for_output(source_of(generate.gps_jpeg()), policy, oriented=oriented)
    exif = _exif(written)
    if not tags:
        assert written.exif is None
    for tag, value in tags.items():
        # Written as UTF-8 (what cameras do); Pillow reads EXIF text as Latin-1.
        assert exif.get(tag).encode("latin-1").decode() == value
    if policy == "copyright":
        assert set(exif) == {ExifTags.Base.Artist, ExifTags.Base.Copyright}
    assert bool(exif.get_ifd(ExifTags.IFD.GPSInfo)) is gps
    assert (written.xmp is not None) is xmp
    assert (written.iptc is not None) is iptc


@pytest.mark.parametrize(
    ("policy", "oriented", "orientation"),
    [("strip", True, None), ("strip", False, 6), ("copyright", False, 6), ("keep", True, None),
     ("keep", False, 6)],
)
def test_orientation_tag_is_written_only_when_the_pixels_were_not_turned(
    policy, oriented, orientation
):
    written = embedded.for_output(source_of(generate.oriented_jpeg(6)), policy,
                                  oriented=oriented)
    assert _exif(written).get(ExifTags.Base.Orientation) == orientation


def test_kept_xmp_orientation_is_reset_when_pixels_were_turned():
    source = embedded.Embedded(format="jpeg", width=4, height=2, orientation=6, exif=None,
                               xmp=b'<x tiff:Orientation="6"/>', iptc=None, icc=None)
    written = embedded.for_output(source, "keep", oriented=True)
    assert written.xmp == b'<x tiff:Orientation="1"/>'
