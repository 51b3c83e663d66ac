"""What the end-to-end benchmarks send: PixTools jobs, thumbor URLs and raw Pillow work.

Each ``*_batch`` function processes a list of photos with ``CONCURRENCY`` requests (or
processes) in flight and returns the wall time from the first request to the last result
received, plus the bytes received.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any

import requests
from PIL import Image

CONCURRENCY = 2
# How a client learns that its job finished: 0 waits for it (``?wait=`` on the submission
# and the status request, the way PixTools is meant to be used); above 0, polls the status
# that often (seconds), as a client of a plain polling API would.
POLL_SECONDS = 0.0
WAIT_SECONDS = 60
BOX = (512, 512)
FINISHED = ("succeeded", "failed")

THUMBNAIL = {"outputs": [{"steps": [
    {"op": "resize", "width": BOX[0], "height": BOX[1], "mode": "fit"},
    {"op": "convert", "format": "jpeg", "quality": 80},
]}]}
AVIF_SPEED = 8  # PixTools' default (PIXTOOLS_AVIF_SPEED); raw Pillow is given the same


def convert_recipe(fmt: str) -> dict[str, Any]:
    return {"outputs": [{"steps": [{"op": "convert", "format": fmt, "quality": 80}]}]}


_local = threading.local()


def session() -> requests.Session:
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    session: requests.Session = _local.session
    return session


def _in_flight(items: Sequence[Any], work: Callable[[Any], int]) -> tuple[float, int]:
    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        received = sum(pool.map(work, items))
    return time.perf_counter() - started, received


def auth(key: str | None) -> dict[str, str]:
    """The header that carries a PixTools API key (server mode requires one)."""
    return {"Authorization": f"Bearer {key}"} if key else {}


def submit(url: str, data: bytes, recipe: dict[str, Any], name: str = "photo.jpg",
           key: str | None = None) -> dict:
    query = "" if POLL_SECONDS else f"?wait={WAIT_SECONDS}"
    response = session().post(f"{url}/api/v1/jobs{query}", headers=auth(key),
                               files={"file": (name, data, "image/jpeg")},
                               data={"recipe": json.dumps(recipe)}, timeout=120)
    response.raise_for_status()
    job: dict = response.json()
    return job


def wait(url: str, job: dict, timeout: float = 300, key: str | None = None) -> dict:
    deadline = time.monotonic() + timeout
    while job["status"] not in FINISHED:
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job['id']} still {job['status']} after {timeout:.0f} s")
        time.sleep(POLL_SECONDS)
        query = "" if POLL_SECONDS else f"?wait={WAIT_SECONDS}"
        job = session().get(f"{url}/api/v1/jobs/{job['id']}{query}", headers=auth(key),
                             timeout=WAIT_SECONDS + 30).json()
    if job["status"] != "succeeded":
        raise RuntimeError(f"job {job['id']} failed: {job['error']}")
    return job


def pixtools_one(url: str, data: bytes, recipe: dict[str, Any], key: str | None) -> int:
    """Upload, wait for the job, download every output; the bytes downloaded."""
    job = wait(url, submit(url, data, recipe, key=key), key=key)
    received = 0
    for output in job["outputs"]:
        response = session().get(output["url"], timeout=60)
        response.raise_for_status()
        received += len(response.content)
    return received


def pixtools_batch(url: str, photos: Sequence[bytes], recipe: dict[str, Any],
                   key: str | None = None) -> tuple[float, int]:
    return _in_flight(photos, lambda data: pixtools_one(url, data, recipe, key))


def thumbor_batch(url: str, names: Sequence[str]) -> tuple[float, int]:
    def one(name: str) -> int:
        response = session().get(f"{url}/unsafe/fit-in/{BOX[0]}x{BOX[1]}/{name}", timeout=60)
        response.raise_for_status()
        return len(response.content)

    return _in_flight(names, one)


def upload_batch(url: str, data: bytes, count: int, path: str,
                 recipe: dict[str, Any] | None = None, key: str | None = None
                 ) -> tuple[float, int]:
    """``count`` uploads of ``data`` to ``path`` (a job, or the bare app's upload)."""
    form = {"recipe": json.dumps(recipe)} if recipe else {}

    def one(_: int) -> int:
        response = session().post(url + path, files={"file": ("up.jpg", data, "image/jpeg")},
                                   data=form, headers=auth(key), timeout=60)
        response.raise_for_status()
        return len(data)

    return _in_flight(range(count), one)


# --- raw Pillow: the floor --------------------------------------------------------------


def pillow_thumbnail(path: Path) -> int:
    """Decode (JPEG draft) → fit in the box with LANCZOS → JPEG quality 80."""
    with Image.open(path) as image:
        width, height = image.size
        scale = min(BOX[0] / width, BOX[1] / height)
        size = (round(width * scale), round(height * scale))
        image.draft("RGB", size)
        small = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=80)
    return len(buffer.getvalue())


def pillow_thumbnail_as_pixtools(path: Path) -> int:
    """The same Pillow calls a PixTools thumbnail job makes for its pixels: draft decode,
    LANCZOS fit (``reducing_gap=3``), progressive optimised JPEG q80, 4:2:0."""
    with Image.open(path) as image:
        width, height = image.size
        scale = min(BOX[0] / width, BOX[1] / height)
        size = (round(width * scale), round(height * scale))
        image.draft("RGB", size)
        small = image.convert("RGB").resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=80, optimize=True, progressive=True, subsampling=2)
    return len(buffer.getvalue())


def pillow_cpu(path: Path) -> float:
    """The CPU seconds ``pillow_thumbnail`` takes for ``path`` (for a process pool)."""
    started = time.thread_time()
    pillow_thumbnail(path)
    return time.thread_time() - started


def pillow_cpu_as_pixtools(path: Path) -> float:
    started = time.thread_time()
    pillow_thumbnail_as_pixtools(path)
    return time.thread_time() - started


def pillow_convert(job: tuple[Path, str]) -> int:
    """Full decode → WebP (quality 80, method 4) or AVIF (quality 80, speed 8)."""
    path, fmt = job
    with Image.open(path) as image:
        rgb = image.convert("RGB")
    buffer = io.BytesIO()
    if fmt == "webp":
        rgb.save(buffer, "WEBP", quality=80, method=4)
    else:
        rgb.save(buffer, "AVIF", quality=80, speed=AVIF_SPEED)
    return len(buffer.getvalue())


def pillow_batch(pool: Pool, work: Callable[[Any], int], items: Sequence[Any]) -> tuple[float, int]:
    started = time.perf_counter()
    received = sum(pool.imap_unordered(work, items, chunksize=1))
    return time.perf_counter() - started, received
