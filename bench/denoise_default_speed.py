"""The default denoise path (``denoise`` with no parameters: FFDNet-clip at the estimated
noise level, the app's settings) against the DnCNN path shipped before it (DnCNN-B, the
app's tile of 512, default precision), per megapixel, in the same run.

Each measurement runs in a fresh subprocess (so its peak RSS is its own) and times the
second denoise of the photo (the first builds the kernels for its tile shapes, as a
worker's first job does; ``--cold`` times the first); the two paths alternate round by
round (so a busy machine slows both alike), and the ratio of each round is printed with
the median. Then the default path once on a 12-megapixel photo (its time)
and on a 24-megapixel one (its peak RSS). Photos as in ``bench.denoise_speed``.

Run from the repository root: ``python -m bench.denoise_default_speed``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image

from bench.common import REPO_ROOT, machine_line, weights_path
from bench.denoise_speed import photo

SHIPPED_TILE = 512  # PIXTOOLS_DNCNN_TILE's default


def child(path: str, which: str, warm_up: bool) -> None:
    """Denoise ``path`` once along ``which`` path; print one JSON line."""
    from pixtools.ml import runtime
    from pixtools.ml.inference import Denoiser
    from pixtools.operations.denoise import DenoiseParams, denoise

    config = runtime.DenoiseConfig(weights=weights_path(), tile=SHIPPED_TILE)
    warm = Image.new("RGB", (96, 96), (120, 130, 140))
    if which == "dncnn":
        shipped = Denoiser(weights_path(), tile=SHIPPED_TILE)
        shipped.denoise(warm)  # first calls build oneDNN kernels: not the steady state

        def run(image: Image.Image) -> dict[str, object]:
            shipped.denoise(image)
            return {"precision": shipped.precision}
    else:
        def run(image: Image.Image) -> dict[str, object]:
            with runtime.configured(config):
                result = denoise(image, DenoiseParams(), lambda fraction: None)
            return dict(result.info["pixtools.details"])

        run(warm)
    with Image.open(path) as im:
        image = im.convert("RGB")
    if warm_up:  # a worker after its first job: kernels for these tile shapes exist
        run(image)
    start = time.perf_counter()
    said = run(image)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"which": which, "seconds": seconds, "peak_mb": peak_mb,
                      "megapixels": image.width * image.height / 1e6, **said}))


def measure(path: Path, which: str, cold: bool) -> dict[str, object]:
    flags = ["--cold"] if cold else []
    out = subprocess.run([sys.executable, "-m", "bench.denoise_default_speed", *flags, "--child",
                          str(path), which], cwd=REPO_ROOT, check=True, capture_output=True,
                         text=True)
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"  {which}: {result}", file=sys.stderr, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--cold", action="store_true",
                        help="time the first run of each process (default: the second, as a "
                             "worker after its first job)")
    parser.add_argument("--megapixels", type=float, default=2.0, help="size of the ratio runs")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--big", type=float, nargs="*", default=[12.0, 24.0],
                        help="sizes the default path then runs once at (time, peak RSS)")
    args = parser.parse_args()
    if args.child:
        child(*args.child, warm_up=not args.cold)
        return

    path = photo(args.megapixels)
    rows = []
    for round_ in range(args.rounds):
        order = ("dncnn", "default") if round_ % 2 == 0 else ("default", "dncnn")
        got = {which: measure(path, which, args.cold) for which in order}
        rows.append(got)
    print(f"\nDefault denoise path vs the shipped DnCNN path, {path.name}, "
          f"{args.rounds} alternating rounds, a fresh process each, "
          f"{'first' if args.cold else 'second'} run timed\n")
    print("| round | DnCNN shipped s/MP | default s/MP | default model, sigma | ratio |")
    print("| --- | --- | --- | --- | --- |")
    ratios = []
    for index, got in enumerate(rows):
        per = {w: float(got[w]["seconds"]) / float(got[w]["megapixels"]) for w in got}
        ratios.append(per["dncnn"] / per["default"])
        default = got["default"]
        print(f"| {index} | {per['dncnn']:.2f} | {per['default']:.2f} "
              f"| {default['model']}, {default['noise_level']} | {ratios[-1]:.2f} |")
    print(f"\nmedian ratio (shipped DnCNN time / default time): {statistics.median(ratios):.2f}")
    print("\n| photo (first run of a fresh process) | default path s | s/MP | peak RSS |")
    print("| --- | --- | --- | --- |")
    for megapixels in args.big:
        got = measure(photo(megapixels), "default", cold=True)
        seconds, size = float(got["seconds"]), float(got["megapixels"])
        print(f"| {size:.1f} MP | {seconds:.1f} | {seconds / size:.2f} "
              f"| {float(got['peak_mb']) / 1024:.2f} GB |")
    print(f"\n{machine_line()}")


if __name__ == "__main__":
    main()
