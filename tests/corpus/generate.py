"""Generate the bad-input corpus: hostile or odd uploads, recipes and request bodies.

Everything is made here from a few bytes of code (nothing is downloaded, nothing is
committed). Run ``python -m tests.corpus.generate DIR`` to write the corpus into DIR:

- ``<name>.<ext>``: an upload, sent as the ``file`` field under its own name;
- ``<name>.recipe.json``: a recipe, sent with the upload of the same name or, when there is
  none, with a small valid JPEG;
- ``<name>.http``: a whole request body, preceded by its ``Content-Type:`` line and a blank
  line (for bodies a form library would refuse to build).

``manifest.json`` lists every case with a one-line description.
"""

from __future__ import annotations

import io
import json
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

BOUNDARY = "pixtools-corpus-boundary"
DEFAULT_RECIPE = json.dumps({"outputs": [{"steps": [
    {"op": "resize", "width": 48}, {"op": "convert", "format": "png"},
]}]})


@dataclass(frozen=True)
class Case:
    name: str
    about: str
    upload: bytes | None = None  # the file to send; None: a small valid JPEG
    filename: str = ""  # the upload's name (default: the case name)
    recipe: str | None = None  # None: DEFAULT_RECIPE
    body: tuple[str, bytes] | None = None  # (content type, raw body) instead of a form


# --- building blocks ---------------------------------------------------------------------


def picture(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Image.Image:
    """A small gradient (deterministic, compresses like a photo, not like flat colour)."""
    gradient = Image.linear_gradient("L").resize(size)
    image = Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                                Image.new("L", size, 90)))
    return image if mode == "RGB" else image.convert(mode)


def save(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def jpeg(size: tuple[int, int] = (64, 48), **options: object) -> bytes:
    return save(picture(size), "JPEG", quality=85, **options)


def _segments_after_soi(data: bytes, *segments: bytes) -> bytes:
    assert data[:2] == b"\xff\xd8"
    return data[:2] + b"".join(segments) + data[2:]


def _app1(payload: bytes) -> bytes:
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def exif_block(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _app1(exif.tobytes())  # starts with the Exif\0\0 identifier


def claim_size(data: bytes, width: int, height: int) -> bytes:
    """The same JPEG with its frame header (SOF) claiming another size."""
    out = bytearray(data)
    index = 2
    while index < len(out):
        marker = out[index + 1]
        length = struct.unpack(">H", out[index + 2:index + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            out[index + 5:index + 9] = struct.pack(">HH", height, width)
            return bytes(out)
        index += 2 + length
    raise ValueError("no SOF segment")


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def png_bomb(side: int = 50_000) -> bytes:
    """A 1-bit PNG of side × side zeros: some 300 KB that inflate to 300 MB (2.5 G pixels).

    Deflate output after a full flush depends only on the input, so one compressed block
    of rows is repeated instead of compressing 300 MB (which would take seconds).
    """
    row = b"\0" * (1 + (side + 7) // 8)
    rows_per_block = 1000
    block_data = row * rows_per_block
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(block_data) + compressor.flush(zlib.Z_FULL_FLUSH)
    blocks = side // rows_per_block
    adler = 1
    for _ in range(blocks):
        adler = zlib.adler32(block_data, adler)
    stream = (b"\x78\xda" + block * blocks + b"\x03\x00" + struct.pack(">I", adler))
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", stream) + _png_chunk(b"IEND", b""))


def png_text_bomb() -> bytes:
    """A 16 × 16 PNG whose compressed text chunk inflates to 16 MB before the pixels."""
    text = zlib.compress(b"\0" * (16 * 1024 * 1024), 9)
    data = save(picture((16, 16)), "PNG")
    ihdr_end = 8 + 25
    return data[:ihdr_end] + _png_chunk(b"zTXt", b"Comment\0\0" + text) + data[ihdr_end:]


def gif_frames(count: int) -> bytes:
    """A 4 × 4 GIF with ``count`` frames, written directly (Pillow would merge equal ones)."""
    one = save(Image.new("P", (4, 4), 1), "GIF")
    table = 3 * 2 ** ((one[10] & 7) + 1) if one[10] & 0x80 else 0
    head = b"GIF89a" + one[6:13 + table]  # 89a: the version that has extensions
    image = one[one.index(b"\x2c", 13 + table):one.rindex(b";")]  # descriptor + pixels
    delay = b"\x21\xf9\x04\x00\x02\x00\x00\x00"  # 20 ms per frame
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    return head + loop + (delay + image) * count + b";"


def tiff_pages(count: int) -> bytes:
    """A little-endian TIFF of ``count`` 1 × 1 greyscale pages, written directly (Pillow's
    multi-page writer re-reads every earlier page per page: seconds for a few hundred)."""
    tags = 8
    ifd_size = 2 + tags * 12 + 4
    out = bytearray(b"II*\0" + struct.pack("<I", 8))
    for page in range(count):
        ifd_at = len(out)
        pixel_at = ifd_at + ifd_size
        next_at = pixel_at + 2 if page + 1 < count else 0  # a pixel and a pad byte
        entries = [(256, 3, 1), (257, 3, 1), (258, 3, 8), (259, 3, 1), (262, 3, 1),
                   (273, 4, pixel_at), (278, 3, 1), (279, 4, 1)]
        out += struct.pack("<H", tags)
        for tag, kind, value in entries:
            out += struct.pack("<HHII", tag, kind, 1, value)
        out += struct.pack("<I", next_at) + bytes([page % 256, 0])
    return bytes(out)


def apng_claiming_frames(claimed: int) -> bytes:
    frames = [picture((8, 8)), picture((8, 8)).transpose(Image.Transpose.ROTATE_180)]
    data = bytearray(save(frames[0], "PNG", save_all=True, append_images=frames[1:]))
    index = data.index(b"acTL")
    data[index + 4:index + 8] = struct.pack(">I", claimed)
    crc = zlib.crc32(bytes(data[index:index + 12])) & 0xFFFFFFFF
    data[index + 12:index + 16] = struct.pack(">I", crc)
    return bytes(data)


def multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[str, bytes]:
    """A raw multipart body from (field, filename or None, value) parts."""
    chunks = []
    for field, filename, value in parts:
        disposition = f'form-data; name="{field}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        chunks.append(f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
                      + value + b"\r\n")
    body = b"".join(chunks) + f"--{BOUNDARY}--\r\n".encode()
    return f"multipart/form-data; boundary={BOUNDARY}", body


def _recipe(*steps: dict[str, object]) -> str:
    return json.dumps({"outputs": [{"steps": list(steps)}]})


def cases() -> list[Case]:
    """Every case of the corpus (uploads, recipes, whole requests), made in memory."""
    photo = jpeg((640, 480))
    png = save(picture((320, 240)), "PNG")
    webp = save(picture((320, 240)), "WEBP", quality=80)
    gif = save(picture((320, 240)).convert("P"), "GIF")
    cmyk = save(picture((64, 48)).convert("CMYK"), "JPEG")
    palette = picture((64, 48)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.info["transparency"] = 0
    sixteen = Image.frombytes("I;16", (64, 48), bytes(range(256)) * 24)
    floats = picture((64, 48), "L").convert("F")
    polyglot_gif = (gif.replace(b"GIF87a", b"GIF89a", 1)[:-1]
                    + b"\x21\xfe\x1e<script>alert('x')</script>\x00;"
                    + b"<html><script>alert('polyglot')</script></html>")
    zip_tail = (b"PK\x03\x04" + b"\0" * 26 + b"<?php system($_GET['c']); ?>"
                + b"PK\x05\x06" + b"\0" * 18)
    two_files = multipart([("file", "a.jpg", jpeg()), ("file", "b.jpg", jpeg()),
                           ("recipe", None, DEFAULT_RECIPE.encode())])
    hostile_name = '..\\..\\etc/passwd"; x=1\r\nX-Injected: yes\t\u202eslx.jpg'
    return [
        Case("zero_bytes.jpg", "an empty file", b""),
        Case("truncated_jpeg.jpg", "a JPEG cut in half", photo[: len(photo) // 2]),
        Case("truncated_png.png", "a PNG cut in half", png[: len(png) // 2]),
        Case("truncated_webp.webp", "a WebP cut in half", webp[: len(webp) // 2]),
        Case("truncated_gif.gif", "a GIF cut in half", gif[: len(gif) // 2]),
        Case("header_only.jpg", "a JPEG with its headers and no picture data",
             photo[: photo.index(b"\xff\xda")] + b"\xff\xd9"),
        Case("text_named.jpg", "a text file named .jpg", b"just some text\n" * 20),
        Case("html_named.jpg", "an HTML page named .jpg",
             b"<!doctype html><html><body><script>alert(1)</script></body></html>"),
        Case("svg_named.jpg", "an SVG with a script named .jpg",
             b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9">'
             b"<script>alert(1)</script></svg>"),
        Case("jpeg_magic_then_html.jpg", "JPEG magic bytes followed by HTML",
             b"\xff\xd8\xff\xe0<html><script>alert(1)</script></html>"),
        Case("pixel_flood_64250.jpg", "a 5 KB JPEG whose header claims 64250 × 64250",
             claim_size(jpeg(), 64250, 64250)),
        Case("pixel_flood_20000.jpg", "a JPEG claiming 20000 × 20000 (400 megapixels)",
             claim_size(jpeg(), 20000, 20000)),
        Case("claims_4000_truncated.jpg", "a JPEG claiming 4000 × 4000 with 64 × 48 of data",
             claim_size(jpeg(), 4000, 4000)),
        Case("png_bomb.png", "a 300 KB PNG inflating to 300 MB (50000 × 50000)", png_bomb()),
        Case("png_text_bomb.png", "a PNG with a zTXt chunk inflating to 16 MB", png_text_bomb()),
        Case("gif_10000_frames.gif", "a GIF with 10,000 frames", gif_frames(10_000)),
        Case("apng_claims_million_frames.png", "an APNG whose header claims 1,000,000 frames",
             apng_claiming_frames(1_000_000)),
        Case("tiff_500_pages.tiff", "a TIFF with 500 pages", tiff_pages(500)),
        Case("tiff_3_pages.tiff", "a TIFF with 3 pages", tiff_pages(3)),
        Case("corrupt_icc.jpg", "a JPEG with a garbage ICC profile",
             jpeg(icc_profile=b"this is not an ICC profile" * 20)),
        Case("exif_orientation_9.jpg", "EXIF orientation 9 (there are 8)",
             _segments_after_soi(jpeg(), exif_block(9))),
        Case("exif_orientation_65535.jpg", "EXIF orientation 65535",
             _segments_after_soi(jpeg(), exif_block(65535))),
        Case("exif_two_blocks.jpg", "two EXIF blocks that disagree",
             _segments_after_soi(jpeg(), exif_block(6), exif_block(3))),
        Case("exif_garbage.jpg", "an EXIF block of garbage",
             _segments_after_soi(jpeg(), _app1(b"Exif\0\0MM\0*\xff\xff\xff\xff" + b"\xaa" * 64))),
        Case("cmyk.jpg", "a CMYK JPEG", cmyk),
        Case("png_16bit.png", "a 16-bit greyscale PNG", save(sixteen, "PNG")),
        Case("float.tiff", "a 32-bit floating-point TIFF", save(floats, "TIFF")),
        Case("palette_transparency.png", "a palette PNG with transparency",
             save(palette, "PNG", transparency=0)),
        Case("one_bit.bmp", "a 1-bit BMP", save(picture((64, 48)).convert("1"), "BMP")),
        Case("one_by_one.png", "a 1 × 1 PNG", save(Image.new("RGB", (1, 1), "red"), "PNG")),
        Case("one_by_65000.png", "a 1 × 65000 PNG", save(Image.new("L", (1, 65000)), "PNG")),
        Case("thin_upscaled.png", "1 × 20000 enlarged to 2000 wide (40 G pixels out)",
             save(Image.new("L", (1, 20000)), "PNG"),
             recipe=_recipe({"op": "resize", "width": 2000, "upscale": True})),
        Case("polyglot.gif", "a GIF that is also an HTML page with scripts", polyglot_gif),
        Case("jpeg_zip_polyglot.jpg", "a JPEG with a ZIP (holding PHP) appended",
             jpeg() + zip_tail),
        Case("eps_named.jpg", "an EPS (Ghostscript territory) named .jpg",
             save(picture((16, 16)), "EPS")),
        Case("pdf_named.jpg", "a PDF named .jpg", save(picture((16, 16)), "PDF")),
        Case("ico_named.png", "an ICO named .png", save(picture((16, 16)), "ICO")),
        Case("hostile_name.jpg", "an upload named with quotes, CR LF, slashes and RTL marks",
             jpeg(), filename=hostile_name),
        Case("long_name.jpg", "an upload with a 1000-character name", jpeg(),
             filename="n" * 996 + ".jpg"),
        Case("two_files.http", "a multipart body with two files", body=two_files),
        Case("not_multipart.http", "a JSON body instead of a form",
             body=("application/json", b'{"file": "photo.jpg"}')),
        Case("unterminated_multipart.http", "a multipart body that never ends",
             body=(f"multipart/form-data; boundary={BOUNDARY}",
                   f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
                   'filename="a.jpg"\r\n\r\n'.encode() + jpeg()[:200])),
        Case("no_recipe.http", "an image without a recipe",
             body=multipart([("file", "a.jpg", jpeg())])),
        Case("huge_recipe.recipe.json", "a 200 KB recipe",
             recipe=_recipe(*[{"op": "resize", "width": 10}] * 8000)),
        Case("enormous_recipe.recipe.json", "a 2 MB recipe",
             recipe=json.dumps({"outputs": [{"steps": [{"op": "resize", "width": 10}]}],
                                "padding": "x" * 2_000_000})),
        Case("deep_nesting.recipe.json", "JSON nested 50,000 deep", recipe="[" * 50_000),
        Case("long_number.recipe.json", "a width with 5,000 digits",
             recipe='{"outputs": [{"steps": [{"op": "resize", "width": ' + "9" * 5000 + "}]}]}"),
        Case("wrong_types.recipe.json", "width given as a word",
             recipe=_recipe({"op": "resize", "width": "wide"})),
        Case("outputs_not_list.recipe.json", "outputs given as a string",
             recipe=json.dumps({"outputs": "all of them"})),
        Case("step_not_object.recipe.json", "a step given as a string",
             recipe=json.dumps({"outputs": [{"steps": ["resize"]}]})),
        Case("nan_quality.recipe.json", "quality NaN",
             recipe='{"outputs": [{"steps": [{"op": "convert", "format": "jpeg", '
                    '"quality": NaN}]}]}'),
        Case("negative_size.recipe.json", "a negative width",
             recipe=_recipe({"op": "resize", "width": -100})),
        Case("zero_size.recipe.json", "a zero height",
             recipe=_recipe({"op": "resize", "height": 0})),
        Case("unknown_op.recipe.json", "an unknown operation",
             recipe=_recipe({"op": "rm -rf /"})),
        Case("op_not_string.recipe.json", "an operation named by a number",
             recipe=_recipe({"op": 42})),
        Case("huge_upscale.recipe.json", "enlarging to 16384 × 16384 (268 megapixels)",
             recipe=_recipe({"op": "resize", "width": 16384, "height": 16384, "upscale": True})),
        # A rotate bomb: 16000 × 16 pixels (256 K) turned 45° needs an 11326 × 11326 canvas
        # (128 megapixels): refused before the canvas is allocated.
        Case("rotate_bomb.png", "a thin strip turned 45°: a 128-megapixel canvas",
             save(picture((16000, 16), "L"), "PNG"),
             recipe=_recipe({"op": "rotate", "angle": 45}, {"op": "convert", "format": "png"})),
    ]


def write(folder: Path) -> list[dict[str, str]]:
    """Write every case into ``folder`` (see the module docstring); return the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = []
    for case in cases():
        entry = {"name": case.name, "about": case.about}
        if case.body is not None:
            content_type, body = case.body
            (folder / case.name).write_bytes(f"Content-Type: {content_type}\r\n\r\n".encode()
                                             + body)
        else:
            if case.upload is not None:
                (folder / case.name).write_bytes(case.upload)
                entry["filename"] = case.filename or case.name
            if case.recipe is not None:
                recipe_path = folder / (case.name if case.name.endswith(".recipe.json")
                                        else case.name + ".recipe.json")
                recipe_path.write_text(case.recipe)
        manifest.append(entry)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.corpus.generate DIR")
    written = write(Path(sys.argv[1]))
    print(f"wrote {len(written)} cases to {sys.argv[1]}")
