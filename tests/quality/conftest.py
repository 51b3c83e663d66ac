"""Photo-like test images for the quality package: made here, deterministic."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter


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


@pytest.fixture(scope="session")
def photo() -> Image.Image:
    return photo_like("detailed")
