"""Benchmark: PixTools' decode/resize/encode against plain Pillow doing the same work.

    python bench/operations.py [--repeats N]

For a generated 12-megapixel JPEG (4000 × 3000) it prints
- resize to 1024 (and 256) wide with JPEG draft decoding (DCT-domain 1/2, 1/4 or 1/8 scale,
  then LANCZOS) and with a full decode + LANCZOS, each as a ratio to plain Pillow doing the
  same (``draft``, ``load``, ``resize``), plus the draft speed-up and how close the two
  results are (PSNR). PixTools resizes with ``reducing_gap=3``, so on large reductions its
  full-decode path is faster than a plain LANCZOS resize;
- encode time per output format with PixTools' default options, as a ratio to Pillow's
  ``save`` with the same options;
- AVIF encode time at PixTools' default speed (PIXTOOLS_AVIF_SPEED, 8) and at Pillow's
  default speed (6).
Every ratio compares figures measured in the same run (best of N), so a busy machine
slows both sides alike. Nothing is written to disk.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pixtools import imaging
from pixtools.config import Settings
from pixtools.operations import REGISTRY
from pixtools.operations.convert import ConvertParams, encoder_options, finalise

SIZE = (4000, 3000)
LIMITS = imaging.Limits(max_pixels=64_000_000, max_side=30_000)


def photo_jpeg(size: tuple[int, int] = SIZE) -> bytes:
    """A photo-like 12 MP JPEG: smooth gradients, shapes with hard edges, sensor-like noise."""
    width, height = size
    rng = np.random.default_rng(12)
    xs = np.arange(width, dtype=np.float32)
    ys = np.arange(height, dtype=np.float32)[:, None]
    pixels = np.empty((height, width, 3), np.float32)
    pixels[..., 0] = 128 + 90 * np.sin(xs / 550) * np.cos(ys / 600)
    pixels[..., 1] = 255 * xs / width
    pixels[..., 2] = 255 * (1 - ys / height)
    for _ in range(40):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(40, 500)
        x0, x1 = int(max(0, cx - r)), int(min(width, cx + r + 1))
        y0, y1 = int(max(0, cy - r)), int(min(height, cy + r + 1))
        disc = (xs[x0:x1] - cx) ** 2 + (ys[y0:y1] - cy) ** 2 < r * r
        pixels[y0:y1, x0:x1][disc] = rng.uniform(0, 255, 3)
    pixels += rng.standard_normal(pixels.shape, dtype=np.float32) * 4
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _timed(work: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def compare(ours: Callable[[], object], theirs: Callable[[], object],
            repeats: int) -> tuple[float, float, object]:
    """Best time of each side, running them alternately so that load from other processes
    on the machine falls on both alike; also returns our last result."""
    ours_times, theirs_times, result = [], [], None
    for _ in range(repeats):
        elapsed, result = _timed(ours)
        ours_times.append(elapsed)
        theirs_times.append(_timed(theirs)[0])
    return min(ours_times), min(theirs_times), result


def psnr(a: Image.Image, b: Image.Image) -> float:
    diff = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    mse = float((diff**2).mean())
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def pixtools_resize(data: bytes, draft: bool, width: int = 1024) -> Image.Image:
    resize = REGISTRY["resize"]
    params = resize.params.model_validate({"width": width})
    hint = (lambda size: resize.size_hint(size, params)) if draft and resize.size_hint else None
    picture = imaging.decode_picture(data, LIMITS, size_hint=hint)
    return resize.run(picture.frames, params, lambda f: None)[0]


def pillow_resize(data: bytes, draft: bool, width: int = 1024) -> Image.Image:
    size = (width, width * SIZE[1] // SIZE[0])
    image = Image.open(io.BytesIO(data))
    if draft:
        image.draft("RGB", size)
    image.load()
    return image.resize(size, Image.Resampling.LANCZOS)


def row(label: str, ours: float, theirs: float) -> None:
    print(f"  {label:<28} {ours:8.3f} s   Pillow {theirs:8.3f} s   ratio {ours / theirs:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (best is kept)")
    args = parser.parse_args()
    data = photo_jpeg()
    print(f"source: {SIZE[0]} × {SIZE[1]} JPEG, {len(data) / 1e6:.1f} MB; best of {args.repeats}")

    for width in (1024, 256):
        print(f"\nresize to {width} wide (decode + resize)")
        draft_ours, draft_pillow, draft_image = compare(
            lambda w=width: pixtools_resize(data, True, w),
            lambda w=width: pillow_resize(data, True, w), args.repeats)
        full_ours, full_pillow, full_image = compare(
            lambda w=width: pixtools_resize(data, False, w),
            lambda w=width: pillow_resize(data, False, w), args.repeats)
        row("draft decode + LANCZOS", draft_ours, draft_pillow)
        row("full decode + LANCZOS", full_ours, full_pillow)
        assert isinstance(draft_image, Image.Image) and isinstance(full_image, Image.Image)
        print(f"  draft is {full_ours / draft_ours:.1f}× faster than a full decode; "
              f"results differ by PSNR {psnr(draft_image, full_image):.1f} dB "
              f"({draft_image.size[0]} × {draft_image.size[1]})")

    full = imaging.decode(data, LIMITS)
    default_speed = Settings.model_fields["avif_speed"].default
    print(f"\nencode the full {SIZE[0]} × {SIZE[1]} image (PixTools defaults, AVIF speed "
          f"{default_speed})")
    for fmt in ("jpeg", "png", "webp", "avif", "gif"):
        params = ConvertParams.model_validate({"format": fmt})
        options = encoder_options(params, default_speed)
        repeats = 1 if fmt in ("avif", "gif", "png") else args.repeats

        def ours(params: ConvertParams = params, options: dict = options) -> bytes:
            frame = finalise(full.copy(), params, animated=False)
            return imaging.encode_picture(imaging.Picture(frames=[frame]), params.format,
                                          options)

        def theirs(fmt: str = fmt, options: dict = options) -> bytes:
            buffer = io.BytesIO()
            full.copy().save(buffer, imaging.OUTPUT_FORMATS[fmt], **options)
            return buffer.getvalue()

        ours_time, theirs_time, encoded = compare(ours, theirs, repeats)
        assert isinstance(encoded, bytes)
        row(f"{fmt} ({len(encoded) / 1e6:.2f} MB)", ours_time, theirs_time)

    print("\nAVIF encode speed (quality 80, 12 MP)")
    timings = {}
    for speed in (default_speed, 6):
        def encode(speed: int = speed) -> bytes:
            buffer = io.BytesIO()
            full.save(buffer, "AVIF", quality=80, speed=speed)
            return buffer.getvalue()

        timings[speed], encoded = _timed(encode)
        assert isinstance(encoded, bytes)
        label = "PixTools default" if speed == default_speed else "Pillow default"
        print(f"  speed {speed:<2} ({label:<16}) {timings[speed]:7.2f} s  "
              f"{len(encoded) / 1e6:.2f} MB")
    print(f"  speed {default_speed} is {timings[6] / timings[default_speed]:.1f}× faster "
          "than speed 6")


if __name__ == "__main__":
    main()
