"""The benchmark photos: 12 photo-like 4000 × 3000 JPEGs (quality 90) made from CBSD68.

Each CBSD68 picture is upscaled (bicubic) to 12 megapixels and given mild Gaussian grain,
like a phone photo, then saved under ``bench/.cache/photos`` (ignored by git). Nothing is
downloaded; the files are made once and reused.

    python -m bench.photos          # make them (the suite does this by itself)
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from PIL import Image

from bench.common import CACHE_DIR, cbsd68_paths

SIZE = (4000, 3000)
COUNT = 12
GRAIN_SIGMA = 4.0  # on 0..255: mild, like a photo at moderate ISO
FOLDER = CACHE_DIR / "photos"


def _make(source: Path, seed: int, size: tuple[int, int]) -> bytes:
    with Image.open(source) as image:
        rgb = image.convert("RGB")
    if rgb.width < rgb.height:  # portrait CBSD68 pictures are turned to landscape
        rgb = rgb.transpose(Image.Transpose.ROTATE_90)
    big = np.asarray(rgb.resize(size, Image.Resampling.BICUBIC))
    rng = np.random.default_rng(seed)
    out = np.empty_like(big)
    for y in range(0, size[1], 500):  # in bands: a few hundred MB less at once
        band = big[y : y + 500].astype(np.float32)
        band += rng.normal(0, GRAIN_SIGMA, band.shape).astype(np.float32)
        out[y : y + 500] = np.clip(np.rint(band), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(out).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def photos(count: int = COUNT) -> list[Path]:
    """The first ``count`` benchmark photos, made where missing."""
    FOLDER.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, source in enumerate(cbsd68_paths()[:count]):
        path = FOLDER / f"photo{index:02d}.jpg"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(_make(source, index, SIZE))
            tmp.replace(path)
        paths.append(path)
    return paths


def upload_image(megabytes: float = 1.0) -> bytes:
    """A JPEG of about ``megabytes`` (a photo scaled down), for the upload benchmark."""
    path = CACHE_DIR / "upload_1mb.jpg"
    if path.exists():
        return path.read_bytes()
    with Image.open(photos(1)[0]) as image:
        image.draft("RGB", (2000, 1500))
        small = image.convert("RGB").resize((2000, 1500), Image.Resampling.LANCZOS)
    best = b""
    for quality in range(70, 100, 2):  # the quality that lands nearest the size
        buffer = io.BytesIO()
        small.save(buffer, "JPEG", quality=quality)
        if abs(len(buffer.getvalue()) - megabytes * 1e6) < abs(len(best) - megabytes * 1e6):
            best = buffer.getvalue()
    path.write_bytes(best)
    return best


if __name__ == "__main__":
    for made in photos():
        print(made, f"{made.stat().st_size / 1e6:.1f} MB")
    print("upload image", f"{len(upload_image()) / 1e6:.2f} MB")
