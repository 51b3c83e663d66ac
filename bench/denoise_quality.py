"""Denoising quality on CBSD68: FFDNet and DnCNN-B, in two protocols, beside the published
figures; the noise-level estimate's error; RNI15 before/after crops to look at.

1. The paper protocol, at the true sigma. FFDNet as KAIR's ``main_test_ffdnet.py``:
   ``np.random.seed(0)`` before every image, ``np.random.normal(0, sigma/255)`` added to the
   float RGB image; plain FFDNet gets it unclipped, FFDNet-clip clipped and rounded to 8
   bits; output clipped, rounded, PSNR against the clean image (RGB, no border), averaged.
   DnCNN-B as its paper (seed once per sigma, unclipped input).
2. Realistic: the noisy image clipped and rounded to 8 bits, as a photo is uploaded
   (seed once per sigma); the default ``denoise`` (FFDNet-clip at the *estimated* sigma)
   against DnCNN-B (the shipped fp32 path) on the very same 8-bit inputs.
3. The estimate (``pixtools.ml.noise``, Chen et al. 2015) at sigma 5/15/25/50, unclipped
   float noise (and, for information, the 8-bit clipped images of protocol 2).
4. RNI15 (real noisy photos, no ground truth): before | after crops, default path, saved to
   ``bench/out/rni15/`` (not committed).

Run from the repository root: ``python -m bench.denoise_quality [--limit N]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from PIL import Image

from bench.common import REPO_ROOT, cbsd68_paths, machine_line, shared_dir, weights_path
from pixtools.ml.inference import Denoiser
from pixtools.ml.metrics import psnr, to_uint8
from pixtools.ml.noise import estimate_sigma

SIGMAS = (15, 25, 50)
PAPER_DNCNN = {15: 33.89, 25: 31.23, 50: 27.92}  # CDnCNN-B (Zhang et al. 2017, table 3)
PAPER_FFDNET = {15: 33.87, 25: 31.21, 50: 27.96}  # FFDNet colour (Zhang et al. 2018)
# The reference run of the converted weights (KAIR's protocol, 68 images).
REFERENCE = {"ffdnet": {15: 33.88, 25: 31.22, 50: 27.97},
             "ffdnet_clip": {15: 33.89, 25: 31.24, 50: 27.98}}
ESTIMATOR_SIGMAS = (5, 15, 25, 50)
OUT = REPO_ROOT / "bench" / "out" / "rni15"
CROP = 320


def models(threads: int | None, slow: bool) -> dict[str, Denoiser]:
    folder = shared_dir() / "models"
    nets = {
        "ffdnet": Denoiser(folder / "ffdnet_color.pth", kind="ffdnet", threads=threads),
        "ffdnet_clip": Denoiser(folder / "ffdnet_color_clip.pth", kind="ffdnet_clip",
                                threads=threads),
        "dncnn": Denoiser(weights_path(), threads=threads),
    }
    if slow:
        nets["clip_fp32"] = Denoiser(folder / "ffdnet_color_clip.pth", kind="ffdnet_clip",
                                     precision="fp32", threads=threads)
    return nets


def score(clean: np.ndarray, model: Denoiser, x: np.ndarray, sigma: float) -> float:
    return psnr(clean, to_uint8(model.denoise_array(x, sigma=sigma)))


def paper(cleans: list[np.ndarray], nets: dict[str, Denoiser],
          slow: bool) -> dict[int, dict[str, float]]:
    """FFDNet in KAIR's protocol; with ``slow``, also FFDNet-clip in fp32 and DnCNN-B."""
    out = {}
    for sigma in SIGMAS:
        kinds = ("ffdnet", "ffdnet_clip", "clip_fp32") if slow else ("ffdnet", "ffdnet_clip")
        got: dict[str, list[float]] = {k: [] for k in kinds}
        for clean in cleans:
            np.random.seed(0)
            x = clean.astype(np.float32) / 255
            noisy = (x + np.random.normal(0, sigma / 255, x.shape)).astype(np.float32)
            eight = to_uint8(noisy).astype(np.float32) / 255
            got["ffdnet"].append(score(clean, nets["ffdnet"], noisy, sigma))
            for kind in kinds[1:]:
                got[kind].append(score(clean, nets[kind], eight, sigma))
        np.random.seed(0)
        dncnn = []
        for clean in cleans if slow else []:
            x = clean.astype(np.float32) / 255
            noisy = (x + np.random.normal(0, sigma / 255, x.shape)).astype(np.float32)
            dncnn.append(score(clean, nets["dncnn"], noisy, 0))
        out[sigma] = {k: float(np.mean(v)) for k, v in got.items()}
        out[sigma]["dncnn"] = float(np.mean(dncnn)) if dncnn else float("nan")
        print(f"paper sigma {sigma}: {out[sigma]}", file=sys.stderr, flush=True)
    return out


def realistic(cleans: list[np.ndarray],
              nets: dict[str, Denoiser]) -> tuple[dict[int, dict[str, float]], dict[int, float]]:
    out, estimates = {}, {}
    for sigma in SIGMAS:
        np.random.seed(0)
        got: dict[str, list[float]] = {k: [] for k in ("noisy", "auto", "true", "dncnn")}
        errors = []
        for clean in cleans:
            x = clean.astype(np.float32) / 255
            upload = to_uint8(x + np.random.normal(0, sigma / 255, x.shape))
            level = estimate_sigma(upload, 255.0)
            errors.append(level - sigma)
            eight = upload.astype(np.float32) / 255
            got["noisy"].append(psnr(clean, upload))
            got["auto"].append(score(clean, nets["ffdnet_clip"], eight, min(level, 75.0)))
            got["true"].append(score(clean, nets["ffdnet_clip"], eight, sigma))
            got["dncnn"].append(score(clean, nets["dncnn"], eight, 0))
        out[sigma] = {k: float(np.mean(v)) for k, v in got.items()}
        estimates[sigma] = float(np.mean(errors))
        print(f"realistic sigma {sigma}: {out[sigma]}", file=sys.stderr, flush=True)
    return out, estimates


def estimator(cleans: list[np.ndarray]) -> dict[int, tuple[float, float, float]]:
    """(mean error, mean |error|, largest |error|) per sigma, unclipped float noise."""
    out = {}
    for sigma in ESTIMATOR_SIGMAS:
        np.random.seed(0)
        errors = np.array([
            estimate_sigma(c / 255.0 + np.random.normal(0, sigma / 255, c.shape), 1.0) - sigma
            for c in cleans])
        out[sigma] = (float(errors.mean()), float(np.abs(errors).mean()),
                      float(np.abs(errors).max()))
    return out


def rni15(net: Denoiser) -> list[tuple[str, float]]:
    folder = shared_dir() / "testsets" / "RNI15"
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in (".png", ".jpg", ".jpeg", ".bmp", ".tif"):
            continue
        with Image.open(path) as im:
            image = im.convert("RGB")
        level = estimate_sigma(np.asarray(image), 255.0)
        after = net.denoise(image, sigma=min(level, 75.0))
        w, h = image.size
        box = (max(0, (w - CROP) // 2), max(0, (h - CROP) // 2),
               min(w, (w + CROP) // 2), min(h, (h + CROP) // 2))
        before_crop, after_crop = image.crop(box), after.crop(box)
        pair = Image.new("RGB", (before_crop.width * 2 + 8, before_crop.height), "white")
        pair.paste(before_crop, (0, 0))
        pair.paste(after_crop, (before_crop.width + 8, 0))
        pair.save(OUT / f"{path.stem}.png")
        rows.append((path.name, level))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="first N images only")
    parser.add_argument("--realistic-limit", type=int, default=None,
                        help="first N images only in the realistic protocol (DnCNN is slow)")
    parser.add_argument("--slow", action="store_true",
                        help="also FFDNet-clip in fp32 and DnCNN-B in the paper protocol")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    paths = cbsd68_paths()[: args.limit]
    cleans = []
    for path in paths:
        with Image.open(path) as im:
            cleans.append(np.asarray(im.convert("RGB")))
    nets = models(args.threads, args.slow)
    n, precision = len(cleans), nets["ffdnet_clip"].precision
    print(f"{n} CBSD68 images; FFDNet default precision {precision}; {machine_line()}",
          file=sys.stderr)

    table = paper(cleans, nets, args.slow)
    print(f"\n## 1. Paper protocol, true sigma (CBSD68, {n} images; FFDNet in {precision})\n")
    print("| sigma | FFDNet | ref. | FFDNet-clip (8-bit input) | ref. | clip fp32 "
          "| paper FFDNet | DnCNN-B (fp32) | paper DnCNN-B |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for s, m in table.items():
        print(f"| {s} | {m['ffdnet']:.2f} | {REFERENCE['ffdnet'][s]:.2f} "
              f"| {m['ffdnet_clip']:.2f} | {REFERENCE['ffdnet_clip'][s]:.2f} "
              f"| {m.get('clip_fp32', float('nan')):.2f} | {PAPER_FFDNET[s]:.2f} "
              f"| {m['dncnn']:.2f} | {PAPER_DNCNN[s]:.2f} |")

    subset = cleans[: args.realistic_limit]
    real, mean_errors = realistic(subset, nets)
    print(f"\n## 2. Realistic: noisy images clipped and rounded to 8 bits (the first "
          f"{len(subset)} images)\n")
    print("| sigma | noisy | default (FFDNet-clip, estimated sigma) | mean estimate error "
          "| FFDNet-clip at true sigma | DnCNN-B | default - DnCNN-B |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for s, m in real.items():
        print(f"| {s} | {m['noisy']:.2f} | {m['auto']:.2f} | {mean_errors[s]:+.2f} "
              f"| {m['true']:.2f} | {m['dncnn']:.2f} | {m['auto'] - m['dncnn']:+.2f} |")

    print(f"\n## 3. Noise-level estimate, unclipped noise ({n} images)\n")
    print("| sigma | mean error | mean abs. error | largest abs. error |")
    print("| --- | --- | --- | --- |")
    for s, (mean, absolute, worst) in estimator(cleans).items():
        print(f"| {s} | {mean:+.2f} | {absolute:.2f} | {worst:.2f} |")

    rows = rni15(nets["ffdnet_clip"])
    print(f"\n## 4. RNI15: before | after crops in {OUT.relative_to(REPO_ROOT)}/\n")
    print(", ".join(f"{name} sigma {level:.1f}" for name, level in rows))
    print(f"\n{machine_line()}")


if __name__ == "__main__":
    main()
