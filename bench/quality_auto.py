"""Benchmark: quality auto, format auto, jpegli and placeholders against issue 19's goals.

    python bench/quality_auto.py              # 12 benchmark photos as 512-px thumbnails + CBSD68
    python bench/quality_auto.py --quick      # 4 photos, 12 CBSD68 pictures, 2 timing rounds
    python bench/quality_auto.py --jobs-only  # only the thumbnail jobs on a server-mode stack

Image sets: the benchmark photos (``bench/photos.py``: 4000 × 3000 JPEGs made from CBSD68)
decoded and resized to fit 512 × 512 by PixTools' own decode and resize, as a thumbnail job
does; and the CBSD68 pictures (481 × 321) as they are. Every figure is a ratio of two
measurements from this run; timings alternate fixed and auto rounds, so load from other
processes on the machine falls on both alike. The thumbnail jobs run on the stack of
``bench.stack`` (gunicorn, a consumer, PostgreSQL and Redis on 127.0.0.1, as the suite's).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image

from bench import clients, stack
from bench.common import cbsd68_paths
from bench.photos import photos
from pixtools import imaging
from pixtools.config import Settings
from pixtools.operations import REGISTRY
from pixtools.operations.convert import ConvertParams, encoder_options, finalise
from pixtools.quality.encoders import Encoding, decode
from pixtools.quality.formats import choose_format
from pixtools.quality.metric import Scorer
from pixtools.quality.placeholders import placeholder
from pixtools.quality.search import TARGETS, SearchLimits, SearchResult, search_quality

LIMITS = imaging.Limits(max_pixels=64_000_000, max_side=30_000)
AVIF_SPEED = Settings.model_fields["avif_speed"].default
JPEG_OPTIONS = encoder_options(ConvertParams.model_validate({"format": "jpeg"}), AVIF_SPEED)
FIXED_QUALITY = 80
SEARCH = SearchLimits()  # the defaults, as a job would search
# For bytes at an exact score the search must bracket it: no early "close enough".
BRACKET = SearchLimits(max_encodes=12, max_seconds=120, close_enough=0)
JPEGLI_TARGETS = (50.0, 70.0, 90.0)


def encodings(avif_speed: int = AVIF_SPEED) -> dict[str, Encoding]:
    """PixTools' default encoder settings per format, without the quality."""
    settings = {}
    for fmt in ("jpeg", "webp", "avif"):
        options = encoder_options(ConvertParams.model_validate({"format": fmt}), avif_speed)
        options.pop("quality")
        settings[fmt] = Encoding(fmt, options=options)
    return settings


def thumbnail(data: bytes) -> Image.Image:
    """Decode and fit in 512 × 512 the way a PixTools resize step does (JPEG draft)."""
    resize = REGISTRY["resize"]
    params = resize.params.model_validate({"width": 512, "height": 512, "mode": "fit"})
    size_hint = resize.size_hint
    hint = (lambda size: size_hint(size, params)) if size_hint else None
    picture = imaging.decode_picture(data, LIMITS, size_hint=hint)
    frame = resize.run(picture.frames, params, lambda fraction: None)[0]
    return finalise(frame, ConvertParams.model_validate({"format": "jpeg"}), animated=False)


def fixed_jpeg(image: Image.Image) -> bytes:
    return imaging.encode(image, "jpeg", {**JPEG_OPTIONS, "quality": FIXED_QUALITY})


def bytes_at_score(result: SearchResult, target: float) -> float | None:
    """Bytes at exactly ``target``, interpolated between the search's closest candidates
    below and above it (None when the search did not bracket the target)."""
    below = [c for c in result.candidates if c.score < target]
    above = [c for c in result.candidates if c.score >= target]
    if not below or not above:
        return None
    low = max(below, key=lambda c: c.score)
    high = min(above, key=lambda c: c.score)
    if high.score == low.score:
        return float(high.bytes)
    share = (target - low.score) / (high.score - low.score)
    return low.bytes + share * (high.bytes - low.bytes)


@dataclass
class Row:
    fixed_bytes: int
    fixed_score: float
    auto: SearchResult
    best: SearchResult  # format auto's winner
    jpegli_ratios: dict[float, float]


def measure(image: Image.Image, settings: dict[str, Encoding]) -> Row:
    scorer = Scorer(image)
    fixed = fixed_jpeg(image)
    high = TARGETS["high"]
    auto = search_quality(image, settings["jpeg"], high, limits=SEARCH, scorer=scorer)
    best = choose_format(image, high, limits=SEARCH, encodings=settings).result
    ratios = {}
    baseline = {**settings["jpeg"].options, "progressive": False}
    for target in JPEGLI_TARGETS:
        sizes: dict[str, float | None] = {}
        for name, encoding in (("jpegli", Encoding("jpeg", "jpegli")),
                               ("libjpeg", settings["jpeg"]),
                               ("baseline", Encoding("jpeg", options=baseline))):
            if name == "baseline" and target != TARGETS["high"]:
                continue
            result = search_quality(image, encoding, target, limits=BRACKET, scorer=scorer)
            sizes[name] = bytes_at_score(result, target)
        jpegli, libjpeg, plain = sizes["jpegli"], sizes["libjpeg"], sizes.get("baseline")
        if jpegli and libjpeg:
            ratios[target] = jpegli / libjpeg
        if jpegli and plain:
            ratios[-target] = jpegli / plain  # negative key: against baseline libjpeg
    return Row(len(fixed), scorer.score(decode(fixed)), auto, best, ratios)


def _median_ratio(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarise(rows: list[Row]) -> dict[str, float]:
    high = TARGETS["high"]
    return {
        "auto/q80": _median_ratio([len(r.auto.data) / r.fixed_bytes for r in rows]),
        "auto ok": sum(r.auto.score >= high - 1 for r in rows) / len(rows),
        "auto quality": statistics.median(r.auto.quality for r in rows),
        "auto encodes": statistics.mean(len(r.auto.candidates) for r in rows),
        "fixed score": statistics.median(r.fixed_score for r in rows),
        "best/q80": _median_ratio([len(r.best.data) / r.fixed_bytes for r in rows]),
        "best ok": sum(r.best.score >= high - 1 for r in rows) / len(rows),
        **{f"jpegli {t:g}": _median_ratio([r.jpegli_ratios[t] for r in rows
                                           if t in r.jpegli_ratios]) for t in JPEGLI_TARGETS},
        "jpegli/baseline 70": _median_ratio([r.jpegli_ratios[-70.0] for r in rows
                                             if -70.0 in r.jpegli_ratios]),
    }


def formats_won(rows: list[Row]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.best.format] = counts.get(row.best.format, 0) + 1
    return ", ".join(f"{fmt} {n}" for fmt, n in sorted(counts.items()))


def job_timings(sources: list[bytes], rounds: int) -> dict[str, list[float]]:
    """ms per 512-px thumbnail (decode, resize, encode) with a fixed quality, with quality
    auto (target high), and with quality auto plus placeholders; alternating."""
    def fixed(data: bytes) -> None:
        fixed_jpeg(thumbnail(data))

    def auto(data: bytes, with_placeholder: bool = False) -> None:
        image = thumbnail(data)
        search_quality(image, Encoding("jpeg", options=encodings()["jpeg"].options), "high")
        if with_placeholder:
            placeholder(image)

    variants = {"fixed": fixed, "auto": auto,
                "auto+placeholder": lambda data: auto(data, with_placeholder=True)}
    times: dict[str, list[float]] = {name: [] for name in variants}
    for round_index in range(rounds):
        order = list(variants)[round_index % 3:] + list(variants)[: round_index % 3]
        for data in sources:
            for name in order:
                started = time.perf_counter()
                variants[name](data)
                times[name].append((time.perf_counter() - started) * 1000)
    return times


THUMBNAIL_AUTO = {"outputs": [{"steps": [
    clients.THUMBNAIL["outputs"][0]["steps"][0],
    {"op": "convert", "format": "jpeg", "quality": "auto", "quality_target": "high"},
]}]}


def real_job_timings(sources: list[bytes], rounds: int) -> dict[str, list[float]]:
    """ms per 512-px thumbnail job on a server-mode stack (gunicorn, PostgreSQL, Redis, a
    consumer): upload, wait for the job, download; fixed quality 80 and quality auto
    alternating, one job in flight."""
    recipes = {"fixed": clients.THUMBNAIL, "auto": THUMBNAIL_AUTO}
    times: dict[str, list[float]] = {name: [] for name in recipes}
    with stack.pixtools_stack("quality") as local:
        for data in sources[:2]:  # warm the workers (first imports, first connections)
            for recipe in recipes.values():
                clients.pixtools_one(local.url, data, recipe, local.key)
        for round_index in range(rounds):
            order = list(recipes)[round_index % 2:] + list(recipes)[: round_index % 2]
            for data in sources:
                for name in order:
                    started = time.perf_counter()
                    clients.pixtools_one(local.url, data, recipes[name], local.key)
                    times[name].append((time.perf_counter() - started) * 1000)
    return times


def placeholder_ms(images: list[Image.Image], repeats: int = 5) -> float:
    samples = []
    for image in images:
        for _ in range(repeats):
            started = time.perf_counter()
            placeholder(image)
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def search_costs(images: list[Image.Image]) -> dict[str, float]:
    """Median ms of the parts of one JPEG search step on the given images."""
    parts: dict[str, list[float]] = {"prepare the original": [], "encode + decode": [],
                                     "score one candidate": []}
    for image in images:
        started = time.perf_counter()
        scorer = Scorer(image)
        middle = time.perf_counter()
        candidate = decode(fixed_jpeg(image))
        encoded = time.perf_counter()
        scorer.score(candidate)
        done = time.perf_counter()
        parts["prepare the original"].append((middle - started) * 1000)
        parts["encode + decode"].append((encoded - middle) * 1000)
        parts["score one candidate"].append((done - encoded) * 1000)
    return {name: statistics.median(values) for name, values in parts.items()}


def load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def goal_rows(stats: dict[str, float], timing: float, job_timing: float,
              placeholder_time: float) -> list[tuple]:
    return [
        ("quality auto (high), JPEG: median bytes / q80", stats["auto/q80"], "≤ 0.75",
         stats["auto/q80"] <= 0.75),
        ("… images with score ≥ target − 1", stats["auto ok"], "≥ 0.95", stats["auto ok"] >= 0.95),
        ("format auto (high): median bytes / JPEG q80", stats["best/q80"], "≤ 0.55",
         stats["best/q80"] <= 0.55),
        ("jpegli / libjpeg-turbo bytes at equal score (70)", stats["jpegli 70"], "≤ 0.85",
         stats["jpegli 70"] <= 0.85),
        ("512-px thumbnail job (server mode): time auto / fixed quality", job_timing,
         "≤ 2.5", job_timing <= 2.5),
        ("… the same in one process (decode, resize, encode only)", timing, "(≤ 2.5)",
         timing <= 2.5),
        ("placeholders: ms added per output", placeholder_time, "≤ 5", placeholder_time <= 5),
    ]


def print_report(sets: dict[str, list[Row]], times: dict[str, list[float]],
                 jobs: dict[str, list[float]], placeholder_times: dict[str, float],
                 costs: dict[str, float], started_load: str) -> None:
    everything = [row for rows in sets.values() for row in rows]
    overall = summarise(everything)
    timing = statistics.median(times["auto"]) / statistics.median(times["fixed"])
    job_timing = statistics.median(jobs["auto"]) / statistics.median(jobs["fixed"])
    print(f"load average {started_load} at the start, {load()} at the end "
          f"(2 cores, shared: ratios are from this run)\n")
    print("| goal | measured | target | |\n| --- | --- | --- | --- |")
    for label, value, target, met in goal_rows(overall, timing, job_timing,
                                               placeholder_times["512-px thumbnail"]):
        print(f"| {label} | {value:.2f} | {target} | {'met' if met else 'MISSED'} |")
    columns = ["auto/q80", "auto ok", "auto quality", "auto encodes", "fixed score",
               "best/q80", "best ok", *[f"jpegli {t:g}" for t in JPEGLI_TARGETS],
               "jpegli/baseline 70"]
    print("\n| set | images | " + " | ".join(columns) + " | formats won |")
    print("| --- " * (len(columns) + 3) + "|")
    for name, rows in [*sets.items(), ("all", everything)]:
        stats = summarise(rows)
        print(f"| {name} | {len(rows)} | " + " | ".join(f"{stats[c]:.2f}" for c in columns)
              + f" | {formats_won(rows)} |")
    print("\nms per 512-px thumbnail (decode 12 MP with draft, resize, encode), median:")
    fixed = statistics.median(times["fixed"])
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"  {name:<17} {median:7.1f} ms  (ratio to fixed {median / fixed:.2f})")
    for name, value in placeholder_times.items():
        print(f"placeholders on a {name}: {value:.2f} ms (median)")
    print("one search step on a 512-px thumbnail, median ms: " + ", ".join(
        f"{name} {value:.1f}" for name, value in costs.items()))
    print()
    print_jobs(jobs, started_load)


def print_jobs(jobs: dict[str, list[float]], started_load: str) -> None:
    fixed = statistics.median(jobs["fixed"])
    print(f"load average {started_load} at the start of the run, {load()} now")
    print("ms per 512-px thumbnail job (server mode: upload, wait, download), median:")
    for name, samples in jobs.items():
        median = statistics.median(samples)
        print(f"  {name:<6} {median:7.1f} ms  (ratio to fixed {median / fixed:.2f}, "
              f"{len(samples)} jobs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and rounds")
    parser.add_argument("--jobs-only", action="store_true",
                        help="only the thumbnail job timing on a server-mode stack")
    parser.add_argument("--avif-speed", type=int, default=AVIF_SPEED,
                        help=f"AVIF speed for format auto (default {AVIF_SPEED}, PixTools')")
    args = parser.parse_args()
    started_load = load()
    print(f"format auto searches AVIF at speed {args.avif_speed}")
    settings = encodings(args.avif_speed)
    sources = [path.read_bytes() for path in photos(4 if args.quick else 12)]
    if args.jobs_only:
        jobs = real_job_timings(sources, 2 if args.quick else 3)
        print_jobs(jobs, started_load)
        return
    thumbnails = [thumbnail(data) for data in sources]
    pictures = [Image.open(path).convert("RGB")
                for path in cbsd68_paths()[: 12 if args.quick else 68]]
    sets: dict[str, list[Row]] = {"photos, 512-px thumbnails": [], "CBSD68": []}
    for name, images in zip(sets, (thumbnails, pictures), strict=True):
        for index, image in enumerate(images):
            sets[name].append(measure(image, settings))
            print(f"{name}: {index + 1}/{len(images)}", file=sys.stderr)
    times = job_timings(sources, 2 if args.quick else 3)
    jobs = real_job_timings(sources, 2 if args.quick else 3)
    full = imaging.decode(sources[0], LIMITS)
    placeholder_times = {"512-px thumbnail": placeholder_ms(thumbnails),
                         f"{full.width} × {full.height} output": placeholder_ms([full], 3)}
    print_report(sets, times, jobs, placeholder_times, search_costs(thumbnails),
                 started_load)


if __name__ == "__main__":
    main()
