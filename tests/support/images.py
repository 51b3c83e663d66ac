"""Pictures for the tests, and measuring them: generated sources, PSNR, sharpness, running
an operation as a step would, and the metadata markers no output may leak."""

from __future__ import annotations

import io
import math
import os
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from pixtools.operations import REGISTRY


def make_image(
    size: tuple[int, int] = (640, 480), fmt: str = "JPEG", mode: str = "RGB", **save: Any
) -> bytes:
    """A deterministic test picture: a colour gradient with a few shapes."""
    _width, _height = size
    gradient = Image.linear_gradient("L").resize(size)
    image = Image.merge(
        "RGB", (gradient, gradient.transpose(Image.Transpose.ROTATE_90).resize(size),
                Image.new("L", size, 96))
    )
    if mode != "RGB":
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()

def noise_image(size: tuple[int, int], fmt: str = "PNG") -> bytes:
    """Random pixels: an image that does not compress, for size-limit tests."""
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def psnr(first: Image.Image | np.ndarray, second: Image.Image | np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB (inf when identical); shapes must match exactly."""
    a = np.asarray(first, dtype=np.float64)
    b = np.asarray(second, dtype=np.float64)
    assert a.shape == b.shape, f"shapes differ: {a.shape} vs {b.shape}"
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def apply(name: str, image: Image.Image, **params: Any) -> Image.Image:
    """Validate ``params`` and apply operation ``name`` to a still, as a step would."""
    operation = REGISTRY[name]
    frames = operation.run([image], operation.params.model_validate(params), lambda f: None)
    assert len(frames) == 1
    return frames[0]


def open_bytes(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def sharpness(image: Image.Image) -> float:
    """Variance of a discrete Laplacian: higher means crisper edges."""
    grey = np.asarray(image.convert("L"), dtype=np.float64)
    laplacian = (-4 * grey[1:-1, 1:-1] + grey[:-2, 1:-1] + grey[2:, 1:-1]
                 + grey[1:-1, :-2] + grey[1:-1, 2:])
    return float(laplacian.var())


# What the camera fixture carries, as it would appear in any container: EXIF headers, the
# camera's and author's names, the XMP packet (with its GPS field), IPTC, a JPEG comment.
LEAKS = [b"Exif\x00\x00", b"eXIf", b"PixCam", b"Ada Lovelace", b"x:xmpmeta", b"GPSLatitude",
         b"Photoshop 3.0", b"8BIM", b"secret comment"]


def photo_like(kind: str, size: tuple[int, int] = (320, 240), seed: int = 1) -> Image.Image:
    """``flat``: smooth gradients only (easy to compress); ``detailed``: shapes, edges and
    fine texture; ``noisy``: the detailed picture under strong grain (hard)."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    sky = np.stack([90 + 80 * y / height, 140 + 60 * x / width, 200 - 40 * y / height], axis=2)
    if kind == "flat":
        return Image.fromarray(np.clip(sky, 0, 255).astype(np.uint8))
    image = Image.fromarray(np.clip(sky, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        box = (x0, y0, x0 + int(rng.integers(8, 80)), y0 + int(rng.integers(8, 60)))
        colour = tuple(int(c) for c in 64 + rng.integers(0, 128, 3))  # photo-like saturation
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    # Texture and grain mostly in brightness, as in photographs.
    texture = rng.normal(0, 12, (height // 2, width // 2, 1))
    texture = np.kron(texture, np.ones((2, 2, 1)))[:height, :width]
    pixels = np.asarray(image.filter(ImageFilter.GaussianBlur(1.0)), np.float32) + texture
    if kind == "noisy":
        pixels += rng.normal(0, 16, (height, width, 1)) + rng.normal(0, 4, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
