"""How much the capped frame count at upload saves on hostile GIFs and TIFFs.

Run from the repository root: ``python -m bench.frame_count``. Prints the time to refuse a
many-frame upload (``imaging.inspect``, which counts no further than the limit) against
Pillow's full count (``n_frames``, which walks every frame), both measured here and now.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

from PIL import Image

from pixtools import imaging
from pixtools.errors import ImageRejected
from tests.corpus.generate import gif_frames, tiff_pages

LIMITS = imaging.Limits(max_pixels=64_000_000, max_side=30_000, max_frames=300)


def best_of(runs: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def refuse(data: bytes) -> None:
    try:
        imaging.inspect(data, LIMITS)
    except ImageRejected:
        return
    raise AssertionError("not refused")


def main() -> None:
    print(f"{'input':28} {'size':>9} {'capped':>10} {'full walk':>11} {'ratio':>7}")
    for label, data in [
        ("GIF, 10,000 frames", gif_frames(10_000)),
        ("GIF, 200,000 frames", gif_frames(200_000)),
        ("TIFF, 5,000 pages", tiff_pages(5_000)),
    ]:
        capped = best_of(5, lambda data=data: refuse(data))
        full = best_of(3, lambda data=data: Image.open(io.BytesIO(data)).n_frames)
        print(f"{label:28} {len(data) // 1024:>6} KB {capped * 1000:>7.1f} ms "
              f"{full * 1000:>8.1f} ms {full / capped:>6.0f}×")


if __name__ == "__main__":
    main()
