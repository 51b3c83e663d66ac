"""Denoising speed and peak memory on photo-sized images.

Makes a photo-like test image (a CBSD68 photo upscaled to the requested size
with mild Gaussian grain, cached under bench/.cache, never committed) and
times each configuration in a fresh subprocess, so each peak RSS (ru_maxrss
of that process) belongs to one configuration only. The peak includes the
Python runtime, torch, the model, the decoded input and the output image,
as in a worker.

Run from the repository root: ``python -m bench.denoise_speed``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from PIL import Image

from bench.common import CACHE_DIR, REPO_ROOT, cbsd68_paths, machine_line, weights_path

GRAIN_SIGMA = 6.0  # on the 0..255 scale: visible but mild, like a high-ISO photo


def image_size(megapixels: float) -> tuple[int, int]:
    """4:3 landscape size of about ``megapixels`` (12 gives 4000x3000)."""
    width = round(math.sqrt(megapixels * 1e6 * 4 / 3) / 8) * 8
    return width, round(width * 3 / 4)


def photo(megapixels: float) -> Path:
    """Write (once) and return a PNG of the given size."""
    width, height = image_size(megapixels)
    path = CACHE_DIR / f"photo_{width}x{height}.png"
    if path.exists():
        return path
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with Image.open(cbsd68_paths()[0]) as im:
        big = np.asarray(im.convert("RGB").resize((width, height), Image.Resampling.BICUBIC))
    rng = np.random.default_rng(0)
    out = np.empty_like(big)
    for y in range(0, height, 256):  # in bands, to keep this process small too
        band = big[y : y + 256].astype(np.float32)
        band += rng.normal(0, GRAIN_SIGMA, band.shape).astype(np.float32)
        out[y : y + 256] = np.clip(np.rint(band), 0, 255).astype(np.uint8)
    tmp = path.with_suffix(".tmp.png")
    Image.fromarray(out).save(tmp, compress_level=1)
    tmp.replace(path)
    return path


def child(args: argparse.Namespace) -> None:
    """Measure one configuration; print one JSON line."""
    from pixtools.ml.inference import Denoiser

    denoiser = Denoiser(
        weights_path(),
        precision=args.precision,
        tile=args.tile,
        overlap=args.overlap,
        threads=args.threads,
    )
    # First calls create oneDNN kernels and the thread pool: not part of the steady state.
    denoiser.denoise(Image.new("RGB", (96, 96), (120, 130, 140)))
    with Image.open(args.image) as im:
        image = im.convert("RGB")
    if args.crop:
        image = image.crop((0, 0, args.crop, args.crop))
    if args.untiled:
        denoiser.tile = max(image.size)
    best = math.inf
    for _ in range(args.repeat):
        start = time.perf_counter()
        out = denoiser.denoise(image)
        best = min(best, time.perf_counter() - start)
        del out
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    result = {
        "seconds": best,
        "megapixels": image.width * image.height / 1e6,
        "size": f"{image.width}x{image.height}",
        "precision": denoiser.precision,
        "tile": denoiser.tile,
        "peak_rss_mb": peak_kb / 1024,
    }
    print(json.dumps(result))


@dataclass
class Config:
    label: str
    megapixels: float
    precision: str
    tile: int
    crop: int = 0
    untiled: bool = False
    repeat: int = 1


@dataclass
class Result:
    label: str
    seconds: float
    megapixels: float
    size: str
    precision: str
    tile: int
    peak_rss_mb: float
    load: float = 0.0  # 1-minute load average when the run ended: other work skews times

    @property
    def per_mp(self) -> float:
        return self.seconds / self.megapixels


def measure(config: Config, args: argparse.Namespace) -> Result:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--image",
        str(photo(config.megapixels)),
        "--precision",
        config.precision,
        "--tile",
        str(config.tile),
        "--overlap",
        str(args.overlap),
        "--crop",
        str(config.crop),
        "--repeat",
        str(config.repeat),
    ]
    if config.untiled:
        cmd.append("--untiled")
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    done = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{config.label} failed:\n{done.stderr}")
    result = Result(label=config.label, **json.loads(done.stdout.strip().splitlines()[-1]))
    result.load = os.getloadavg()[0]
    print(
        f"{config.label}: {result.size} {result.seconds:.1f} s, peak {result.peak_rss_mb:.0f} MB, "
        f"load {result.load:.1f}",
        file=sys.stderr,
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megapixels", type=float, nargs="+", default=[12.0, 24.0])
    parser.add_argument("--tile", type=int, default=None, help="default: the Denoiser's")
    parser.add_argument("--tiles", type=int, nargs="*", default=[], help="extra tile sizes")
    parser.add_argument("--overlap", type=int, default=None, help="default: the Denoiser's")
    parser.add_argument("--crop", type=int, default=1024, help="side of the untiled crop")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--skip-fp32-large", action="store_true", help="no fp32 past the first size"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--image", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--untiled", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.tile is None:
        from pixtools.ml.inference import DEFAULT_TILE

        args.tile = DEFAULT_TILE
    if args.overlap is None:
        from pixtools.ml.inference import DEFAULT_OVERLAP

        args.overlap = DEFAULT_OVERLAP

    print(f"# {machine_line()}", file=sys.stderr)
    first, *more = args.megapixels
    configs = [
        Config("untiled fp32, crop", first, "fp32", args.tile, args.crop, untiled=True, repeat=2),
        Config("tiled fp32", first, "fp32", args.tile),
        Config("tiled default", first, "auto", args.tile),
    ]
    for t in args.tiles:
        configs.append(Config(f"tiled fp32, tile {t}", first, "fp32", t))
        configs.append(Config(f"tiled default, tile {t}", first, "auto", t))
    for mp in more:
        configs.append(Config("tiled default", mp, "auto", args.tile))
        if not args.skip_fp32_large:
            configs.append(Config("tiled fp32", mp, "fp32", args.tile))
    results = [measure(c, args) for c in configs]

    print(f"\nDenoising speed, overlap {args.overlap}; {machine_line()}\n")
    print("| configuration | image | precision | tile | seconds | s/MP | peak RSS (MB) | load |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r.label} | {r.size} | {r.precision} | {r.tile} | {r.seconds:.1f} "
            f"| {r.per_mp:.2f} | {r.peak_rss_mb:.0f} | {r.load:.1f} |"
        )
    untiled, tiled32, tiled_default = results[:3]
    print(
        f"\ntiled fp32 / untiled fp32, per pixel: {tiled32.per_mp / untiled.per_mp:.3f} "
        "(goal <= 1.10)"
    )
    print(
        f"tiled fp32 / tiled {tiled_default.precision}: "
        f"{tiled32.per_mp / tiled_default.per_mp:.2f}x (goal >= 2)"
    )
    for r in results:
        if r.megapixels > 20:
            print(f"peak RSS at {r.size}, {r.precision}: {r.peak_rss_mb:.0f} MB (goal <= ~1500)")


if __name__ == "__main__":
    main()
