"""The decode/encode boundary: orientation, colour, bit depth, palettes, animation, HEIC,
draft decoding, handoffs between queues, and encoders that write nothing unasked."""

from __future__ import annotations

import functools
import io

import numpy as np
import pyjpegli
import pytest
from PIL import Image, ImageSequence

from pixtools import imaging
from pixtools.errors import ImageRejected
from pixtools.imaging import embedded, handoff
from tests.fixtures import generate
from tests.support.images import LEAKS, open_bytes, psnr

LIMITS = imaging.Limits(max_pixels=50_000_000, max_side=20_000, max_frames=100)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_turned_upright(orientation):
    image = imaging.decode(generate.oriented_jpeg(orientation), LIMITS)
    assert image.size == generate.UPRIGHT_SIZE
    assert psnr(image, generate.upright()) > 30


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_auto_orient_false_leaves_pixels_as_stored(orientation):
    image = imaging.decode(generate.oriented_jpeg(orientation), LIMITS, auto_orient=False)
    assert psnr(image, generate.stored_for(orientation, generate.upright())) > 30


def test_heic_uploads_are_accepted_and_upright():
    data = generate.oriented_heic()
    info = imaging.inspect(data, LIMITS)
    assert info.format == "HEIF" and imaging.output_format_for("heif") == "jpeg"
    picture = imaging.decode_picture(data, LIMITS)
    assert picture.size == generate.UPRIGHT_SIZE
    assert psnr(picture.frames[0], generate.upright()) > 30


def test_cmyk_becomes_the_right_rgb():
    image = imaging.decode(generate.cmyk_jpeg(), LIMITS)
    assert image.mode == "RGB"
    for index, (_ink, rgb) in enumerate(generate.CMYK_PATCHES):
        x, y = (index % 2) * 32 + 16, (index // 2) * 32 + 16
        assert np.abs(np.array(image.getpixel((x, y))) - rgb).max() <= 6, (index, rgb)


def test_sixteen_bit_grey_scales_to_eight_bits_without_clipping_or_banding():
    image = imaging.decode(generate.sixteen_bit_grey_png(), LIMITS)
    assert image.mode == "L"
    values = np.asarray(image)[0].astype(int)
    expected = np.round(generate.sixteen_bit_values()[0] / 257).astype(int)
    assert np.abs(values - expected).max() <= 1
    assert values.min() == 0 and values.max() == 255
    assert len(np.unique(values)) == 256 and np.all(np.diff(values) >= 0)


def test_sixteen_bit_rgb_scales_to_eight_bits():
    image = imaging.decode(generate.sixteen_bit_rgb_png(), LIMITS)
    assert image.mode == "RGB"
    red = np.asarray(image)[0, :, 0].astype(int)
    expected = np.round(generate.sixteen_bit_values()[0] / 257).astype(int)
    assert np.abs(red - expected).max() <= 1 and len(np.unique(red)) == 256


def test_palette_transparency_becomes_real_alpha():
    image = imaging.decode(generate.palette_png(), LIMITS)
    assert image.mode == "RGBA"
    assert image.getpixel((20, 25))[3] == 0  # clear
    assert image.getpixel((5, 5)) == generate.PALETTE_RGBA[1]
    assert image.getpixel((20, 5)) == generate.PALETTE_RGBA[2]  # half transparent


@pytest.mark.parametrize(("data", "tolerance"), [(generate.p3_png(), 2),
                                                  (generate.p3_jpeg(), 5)])
def test_embedded_profile_is_converted_to_srgb(data, tolerance):
    picture = imaging.decode_picture(data, LIMITS)
    assert picture.icc is None  # the pixels are sRGB now
    for index, colour in enumerate(generate.P3_PATCHES):
        got = np.array(picture.frames[0].getpixel((index * 16 + 8, 8)))
        assert np.abs(got - generate.p3_to_srgb(colour)).max() <= tolerance, colour


def test_colour_keep_keeps_pixels_and_profile():
    picture = imaging.decode_picture(generate.p3_png(), LIMITS, colour="keep")
    assert picture.icc == generate.icc_profile()
    assert picture.frames[0].getpixel((8, 8)) == generate.P3_PATCHES[0]
    data = imaging.encode_picture(picture, "webp", {"lossless": True})
    assert open_bytes(data).info["icc_profile"] == generate.icc_profile()


def test_a_profile_that_does_not_fit_the_pixels_is_ignored():
    buffer = io.BytesIO()
    Image.new("L", (8, 8), 100).save(buffer, "PNG", icc_profile=generate.icc_profile())
    picture = imaging.decode_picture(buffer.getvalue(), LIMITS, colour="keep")
    assert picture.icc is None and picture.frames[0].getpixel((0, 0)) == 100


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animations_decode_every_frame(fmt):
    picture = imaging.decode_picture(generate.animated(fmt), LIMITS)
    assert len(picture.frames) == picture.source_frames == generate.FRAMES
    assert picture.durations == generate.DURATIONS
    assert picture.loop == 0
    expected = generate.animation_frames(alpha=fmt != "GIF")
    for frame, want in zip(picture.frames, expected, strict=True):
        assert psnr(frame.convert(want.mode), want) > 40


@pytest.mark.parametrize(
    ("limits", "animate", "note"),
    [
        (LIMITS, False, None),
        (imaging.Limits(50_000_000, 20_000, max_frames=5), True, "more than the limit of 5"),
        (imaging.Limits(6_000, 20_000, max_frames=100), True, "megapixels together"),
    ],
)
def test_animation_falls_back_to_the_first_frame_and_says_why(limits, animate, note):
    picture = imaging.decode_picture(generate.animated("WEBP"), limits, animate=animate)
    assert len(picture.frames) == 1 and picture.source_frames == generate.FRAMES
    assert picture.notes == ([] if note is None else [pytest.approx(picture.notes[0])])
    if note:
        assert note in picture.notes[0]


def test_multipage_tiff_uses_the_first_page_and_says_so():
    buffer = io.BytesIO()
    pages = [Image.new("RGB", (10, 10), c) for c in ("red", "blue")]
    pages[0].save(buffer, "TIFF", save_all=True, append_images=pages[1:])
    picture = imaging.decode_picture(buffer.getvalue(), LIMITS)
    assert picture.frames[0].getpixel((0, 0)) == (255, 0, 0)
    assert picture.notes == ["The TIFF has 2 pages; only the first was used."]


@functools.cache
def _jpeg(size: tuple[int, int], orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    generate.photo(size, noise=2).save(buffer, "JPEG", quality=92, exif=exif.tobytes())
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("size", "orientation", "needed", "decoded"),
    [
        ((1600, 1200), 1, (400, 300), (400, 300)),  # 1/4
        ((1600, 1200), 1, (401, 300), (800, 600)),  # 1/4 would be too small: 1/2
        ((1600, 1200), 6, (300, 400), (300, 400)),  # hint is upright, the file is not
        ((1601, 1200), 1, (200, 150), (1200, 1601)[::-1]),  # odd width: no draft (exact)
        ((1600, 1200), 1, None, (1600, 1200)),
    ],
)
def test_jpeg_draft_decodes_at_reduced_size_only_when_it_is_exact(size, orientation, needed,
                                                                  decoded):
    picture = imaging.decode_picture(_jpeg(size, orientation), LIMITS,
                                     size_hint=lambda upright: needed)
    assert picture.size == decoded


def test_draft_then_lanczos_looks_like_full_decode_then_lanczos():
    data = _jpeg((1600, 1200))
    drafted = imaging.decode_picture(data, LIMITS, size_hint=lambda s: (400, 300)).frames[0]
    full = imaging.decode(data, LIMITS)
    assert drafted.size == (400, 300)
    target = (320, 240)
    assert psnr(drafted.resize(target, Image.Resampling.LANCZOS),
                full.resize(target, Image.Resampling.LANCZOS)) > 35


def test_damaged_data_is_rejected_clearly():
    data = _jpeg((64, 64))
    with pytest.raises(ImageRejected, match="damaged"):
        imaging.decode(data[: len(data) // 2], LIMITS)


def test_handoff_keeps_alpha_animation_profile_and_notes():
    picture = imaging.decode_picture(generate.animated("WEBP"), LIMITS)
    picture.icc = generate.icc_profile()
    picture.notes = ["a note for the user"]
    back = handoff.decode(handoff.encode(picture), LIMITS)
    assert len(back.frames) == generate.FRAMES and back.durations == generate.DURATIONS
    assert back.loop == 0 and back.icc == generate.icc_profile()
    assert back.notes == ["a note for the user"] and back.source_frames == generate.FRAMES
    for before, after in zip(picture.frames, back.frames, strict=True):
        assert after.mode == "RGBA" and psnr(after, before) == float("inf")


def test_handoff_brings_sixteen_bit_results_to_eight_bits():
    # An operation on the other queue may hand back 16-bit grey (a model's output, say).
    values = (np.arange(256, dtype=np.uint16) * 257).reshape(16, 16)
    picture = imaging.Picture(frames=[Image.fromarray(values)], loop=None)
    back = handoff.decode(handoff.encode(picture), LIMITS)
    assert back.frames[0].mode == "L"
    assert np.array_equal(np.asarray(back.frames[0]), np.arange(256).reshape(16, 16))
    assert back.loop is None and back.notes == []


# What the camera fixture carries, as it would appear in any container: EXIF headers, the
# camera's and author's names, the XMP packet (with its GPS field), IPTC, a JPEG comment.
@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif", "gif"])
def test_encoders_write_no_metadata_unless_told(fmt):
    picture = imaging.decode_picture(generate.gps_jpeg(), LIMITS, colour="keep")
    assert picture.frames[0].info  # the decoder left EXIF, XMP, comment… in info
    data = imaging.encode_picture(picture, fmt, {})
    assert not [leak for leak in LEAKS if leak in data]
    assert not open_bytes(data).getexif()


def test_animated_output_keeps_timing_and_loop():
    picture = imaging.decode_picture(generate.animated("GIF"), LIMITS)
    for fmt in ("gif", "webp", "png", "avif"):
        out = open_bytes(imaging.encode_picture(picture, fmt, {}))
        if fmt != "avif":  # AVIF animations always loop
            assert out.info.get("loop") == 0, fmt
        durations = []
        for frame in ImageSequence.Iterator(out):
            frame.load()
            durations.append(round(frame.info["duration"]))
        assert durations == generate.DURATIONS, fmt


def test_animated_avif_input_is_read_frame_by_frame():
    frames = generate.animation_frames(alpha=True)
    buffer = io.BytesIO()
    frames[0].save(buffer, "AVIF", save_all=True, append_images=frames[1:],
                   duration=generate.DURATIONS, quality=100)
    picture = imaging.decode_picture(buffer.getvalue(), LIMITS)
    assert len(picture.frames) == generate.FRAMES
    assert picture.durations == generate.DURATIONS
    assert psnr(picture.frames[3], frames[3]) > 30


def test_another_encoders_jpeg_gets_the_metadata_pillow_would_write():
    image = Image.new("RGB", (40, 30), (10, 120, 200))
    bare = pyjpegli.encode(image.tobytes(), 40, 30, quality=80)
    exif = Image.Exif()
    exif[0x8298] = "(c) 2026 Ada"  # Copyright
    written = embedded.Written(exif=exif.tobytes())
    picture = imaging.Picture(frames=[image], icc=generate.icc_profile())
    dressed = imaging.jpeg_with_metadata(bare, picture, written)
    result = Image.open(io.BytesIO(dressed))
    assert result.getexif()[0x8298] == "(c) 2026 Ada"
    assert result.info["icc_profile"] == generate.icc_profile()
    # Only segments were added: the pixels are jpegli's, bit for bit.
    assert np.array_equal(np.asarray(result), np.asarray(Image.open(io.BytesIO(bare))))
    assert imaging.jpeg_with_metadata(bare, imaging.Picture(frames=[image])) != bare  # JFIF
