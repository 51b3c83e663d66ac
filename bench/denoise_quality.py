"""Reproduce the CDnCNN-B colour denoising table on CBSD68.

Protocol (as in the paper and KAIR): for each sigma, ``np.random.seed(0)``
once, images in sorted file-name order, one ``np.random.normal(0, sigma/255,
shape)`` draw per image added to the float32 RGB image in [0, 1]; the noisy
input is fed unclipped; the output is clipped and rounded to uint8 and
compared with the clean uint8 image; PSNR is averaged over images.

Run from the repository root: ``python -m bench.denoise_quality [--limit N]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from PIL import Image

from bench.common import cbsd68_paths, machine_line, weights_path
from pixtools.ml.inference import Denoiser
from pixtools.ml.metrics import psnr, to_uint8

PAPER = {15: 33.89, 25: 31.23, 50: 27.92}  # CDnCNN-B, CBSD68 (Zhang et al. 2017, table 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="first N images only")
    parser.add_argument("--sigmas", type=int, nargs="+", default=[15, 25, 50])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--compare", default="bf16", choices=["bf16", "fp16"],
                        help="reduced precision to measure against fp32")
    args = parser.parse_args()

    paths = cbsd68_paths()[: args.limit]
    fp32 = Denoiser(weights_path(), precision="fp32", threads=args.threads)
    default = Denoiser(weights_path(), precision=args.compare, threads=args.threads)
    auto = Denoiser(weights_path(), threads=args.threads).precision
    cleans = []
    for path in paths:
        with Image.open(path) as im:
            cleans.append(np.asarray(im.convert("RGB")))
    print(f"{len(paths)} CBSD68 images; {machine_line()}", file=sys.stderr)

    rows = []
    for sigma in args.sigmas:
        np.random.seed(0)
        scores: dict[str, list[float]] = {"noisy": [], "fp32": [], "default": []}
        seconds = {"fp32": 0.0, "default": 0.0}
        for clean in cleans:
            x = clean.astype(np.float32) / 255
            noisy = (x + np.random.normal(0, sigma / 255, x.shape)).astype(np.float32)
            scores["noisy"].append(psnr(clean, to_uint8(noisy)))
            for name, denoiser in (("fp32", fp32), ("default", default)):
                start = time.perf_counter()
                out = denoiser.denoise_array(noisy)
                seconds[name] += time.perf_counter() - start
                scores[name].append(psnr(clean, to_uint8(out)))
        mean = {k: float(np.mean(v)) for k, v in scores.items()}
        rows.append((sigma, mean, seconds))
        print(
            f"sigma {sigma}: fp32 {mean['fp32']:.2f} dB, {default.precision} "
            f"{mean['default']:.2f} dB",
            file=sys.stderr,
            flush=True,
        )

    n = len(paths)
    mode = default.precision
    print(f"\nCBSD68, {n} images, default precision (auto) = {auto}, compared: {mode}, "
          f"{fp32.threads} threads\n")
    print(
        f"| sigma | noisy PSNR | fp32 PSNR | {default.precision} PSNR | delta "
        f"| paper | fp32 s/image | {default.precision} s/image |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for sigma, mean, seconds in rows:
        paper = f"{PAPER[sigma]:.2f}" if sigma in PAPER else "-"
        print(
            f"| {sigma} | {mean['noisy']:.2f} | {mean['fp32']:.2f} | {mean['default']:.2f} "
            f"| {mean['default'] - mean['fp32']:+.3f} | {paper} "
            f"| {seconds['fp32'] / n:.2f} | {seconds['default'] / n:.2f} |"
        )
    for sigma, mean, _ in rows:
        if sigma == 25:
            loss = mean["fp32"] - mean["default"]
            verdict = "may" if loss <= 0.05 else "may not"
            print(f"\n{mode} loses {loss:.3f} dB at sigma 25: it {verdict} be the default "
                  "(rule: at most 0.05 dB).")
    print(f"\n{machine_line()}")


if __name__ == "__main__":
    main()
