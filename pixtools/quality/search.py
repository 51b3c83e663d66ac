"""Find the smallest file whose SSIMULACRA 2 score on the final pixels reaches a target.

The encoder quality is searched from a predicted start: each step aims, along the score
curve measured so far, at the target, and once the target is bracketed between a quality
that misses it and one that reaches it, between those two. It ends when the two are
adjacent, when a quality reaches the target by less than ``close_enough``, when the
encode or time budget is spent, when the lowest quality already reaches the target, or
when the highest misses it (an unreachable target: the best quality is returned with a
note). Every loop turn encodes a quality not tried before, so
the search cannot run longer than its budget.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from .encoders import QUALITY_RANGE, Encoding, decode, encode
from .metric import Scorer
from .targets import TARGETS, SearchLimits, resolve_target

__all__ = ["TARGETS", "Candidate", "SearchLimits", "SearchResult", "next_quality",
           "predicted_quality", "predicted_slope", "resolve_target", "search_quality"]

# Predicted encoder quality per target, by format: (target, median quality that reached
# it, median score points per quality step there) on CBSD68 pictures (fitted in 512 × 512
# for the quality, as they are for the slope; PixTools' encoder defaults, AVIF speed 8),
# interpolated between. A good start saves encodes; a bad one costs a step or two.
_PREDICTED = {
    "jpeg": ((30, 18, 3.1), (50, 28, 1.3), (70, 61, 0.46), (90, 95, 0.96)),
    "webp": ((30, 12, 1.5), (50, 29, 0.87), (70, 68, 0.37), (90, 97, 0.44)),
    "avif": ((30, 30, 1.6), (50, 40, 1.5), (70, 55, 1.06), (90, 94, 0.39)),
}
_DEFAULT_SLOPE = 0.8  # score points per quality step, for callers of next_quality without a format
_FLAT_SLOPE = 0.05  # below this the curve gives no direction worth following


@dataclass(frozen=True)
class Candidate:
    quality: int
    bytes: int
    score: float


@dataclass
class SearchResult:
    """The chosen encoding (``data``) and how it was found."""

    data: bytes
    format: str
    encoder: str | None  # the JPEG encoder; None for other formats
    quality: int
    score: float
    target: float
    reached: bool
    candidates: list[Candidate]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def details(self) -> dict[str, Any]:
        """JSON-ready, for an output's ``details``."""
        details: dict[str, Any] = {
            "format": self.format, "quality": self.quality, "score": round(self.score, 2),
            "quality_target": self.target, "reached": self.reached, "bytes": len(self.data),
            "candidates": [{"quality": c.quality, "bytes": c.bytes, "score": round(c.score, 2)}
                           for c in self.candidates],
            "search_seconds": round(self.seconds, 3),
        }
        if self.encoder:
            details["encoder"] = self.encoder
        if self.notes:
            details["notes"] = list(self.notes)
        return details


def _interpolate(fmt: str, target: float, column: int) -> float:
    points = _PREDICTED[fmt]
    if target <= points[0][0]:
        return points[0][column]
    for before, after in itertools.pairwise(points):
        if target <= after[0]:
            share = (target - before[0]) / (after[0] - before[0])
            return before[column] + (after[column] - before[column]) * share
    return points[-1][column]


def predicted_quality(fmt: str, target: float) -> int:
    """Where the search starts: the typical quality for ``target`` (capped at 100)."""
    last_target, last_quality, _ = _PREDICTED[fmt][-1]
    if target > last_target:
        return min(100, round(last_quality + (target - last_target) * 0.6))
    return round(_interpolate(fmt, target, 1))


def predicted_slope(fmt: str, target: float) -> float:
    """Typical score points per quality step near the quality that reaches ``target``."""
    return _interpolate(fmt, target, 2)


Samples = dict[int, tuple[bytes, float]]  # quality → (encoded bytes, score)


def _bracket(samples: Samples, target: float) -> tuple[int | None, int | None]:
    """(highest quality below the lowest passing one that misses the target, lowest
    quality that reaches it); None where not known yet."""
    passing = [q for q, (_, score) in samples.items() if score >= target]
    high = min(passing) if passing else None
    failing = [q for q, (_, score) in samples.items()
               if score < target and (high is None or q < high)]
    return (max(failing) if failing else None), high


def _extrapolate(samples: Samples, target: float, anchor: int, typical_slope: float) -> int:
    """A step from ``anchor`` (all samples on one side of the target) towards the target:
    along the local slope (the format's typical one after the first sample), a little past
    the target so that the next step brackets it; where the curve is flat (no usable
    slope), at least twice the previous step."""
    slope, previous = typical_slope, 0
    others = sorted((q for q in samples if q != anchor), key=lambda q: abs(q - anchor))
    if others:
        slope = (samples[anchor][1] - samples[others[0]][1]) / (anchor - others[0])
        previous = abs(anchor - others[0])
    distance = target - samples[anchor][1]
    if slope > _FLAT_SLOPE:
        step = math.ceil(1.15 * abs(distance) / slope)
    else:
        step = max(math.ceil(1.25 * abs(distance) / typical_slope), 2 * previous)
    step = max(step, 1)
    return anchor + (step if distance > 0 else -step)


def _within(samples: Samples, target: float, low: int, high: int) -> int:
    """The next quality strictly between a missing ``low`` and a reaching ``high``: the
    secant guess, or the middle when the last two tries fell on the same side (a curved
    stretch, where the secant alone creeps from one end)."""
    score_low, score_high = samples[low][1], samples[high][1]
    last_two = list(samples)[-2:]
    same_side = len(last_two) == 2 and (
        (samples[last_two[0]][1] >= target) == (samples[last_two[1]][1] >= target))
    if same_side or score_high <= score_low:
        guess = (low + high) / 2
    else:
        guess = low + (target - score_low) * (high - low) / (score_high - score_low)
    quality = min(max(round(guess), low + 1), high - 1)
    return quality if quality not in samples else (low + high) // 2


def next_quality(samples: Samples, target: float, lowest: int, highest: int,
                 close_enough: float = 0.0, typical_slope: float = _DEFAULT_SLOPE) -> int | None:
    """The next quality to try, or None when the search is done (also when a quality
    reaches the target by no more than ``close_enough`` points)."""
    low, high = _bracket(samples, target)
    if high == lowest or (high is None and highest in samples):
        return None  # even the lowest reaches it, or even the highest does not
    if high is not None and samples[high][1] - target <= close_enough:
        return None
    if low is not None and high is not None:
        return None if high - low <= 1 else _within(samples, target, low, high)
    anchor = high if high is not None else low
    assert anchor is not None
    quality = min(max(_extrapolate(samples, target, anchor, typical_slope), lowest), highest)
    direction = 1 if quality > anchor else -1
    while quality in samples and lowest <= quality + direction <= highest:
        quality += direction
    return None if quality in samples else quality


def search_quality(
    image: Image.Image,
    encoding: Encoding,
    target: str | float,
    *,
    limits: SearchLimits | None = None,
    scorer: Scorer | None = None,
    encode_at: Callable[[int], bytes] | None = None,
    byte_ceiling: int | None = None,
) -> SearchResult:
    """The smallest encoding of ``image`` (the final pixels, in the format's mode) whose
    SSIMULACRA 2 score reaches ``target``.

    ``encode_at(quality)`` may replace the plain encoder (e.g. to write metadata or every
    frame of an animation; its first frame is what gets scored). ``scorer`` may be shared
    between searches of one image. ``byte_ceiling``: stop as soon as a quality that misses
    the target is already this large (another format has won).
    """
    goal = resolve_target(target)
    limits = limits or SearchLimits()
    scorer = scorer or Scorer(image, limits.max_scored_pixels)
    encode_at = encode_at or (lambda quality: encode(image, encoding, quality))
    lowest, highest = QUALITY_RANGE[encoding.format]
    started = time.perf_counter()
    samples: Samples = {}
    quality: int | None = min(max(predicted_quality(encoding.format, goal), lowest), highest)
    stop = ""
    while quality is not None:
        data = encode_at(quality)
        samples[quality] = (data, scorer.score(decode(data)))
        quality = next_quality(samples, goal, lowest, highest, limits.close_enough,
                               predicted_slope(encoding.format, goal))
        if quality is None:
            break
        if byte_ceiling is not None and any(
                len(d) >= byte_ceiling and s < goal for d, s in samples.values()):
            stop = "beaten"
        elif len(samples) >= limits.max_encodes:
            stop = f"the limit of {limits.max_encodes} encodes"
        elif time.perf_counter() - started >= limits.max_seconds:
            stop = f"the time limit of {limits.max_seconds:g} s"
        if stop:
            break
    return _result(samples, encoding, goal, stop, time.perf_counter() - started)


def _result(samples: Samples, encoding: Encoding, goal: float, stop: str,
            seconds: float) -> SearchResult:
    passing = [q for q, (_, score) in samples.items() if score >= goal]
    notes = []
    if passing:
        chosen = min(passing, key=lambda q: (len(samples[q][0]), q))
    else:
        chosen = max(samples, key=lambda q: (samples[q][1], -q))
        best = f"the best score was {samples[chosen][1]:.1f} at quality {chosen}"
        if stop == "beaten":
            notes.append(f"{encoding.format} stopped early: it was already larger than "
                         f"another format that reaches quality_target {goal:g}.")
        elif stop:
            notes.append(f"quality_target {goal:g} was not reached within {stop}; {best}.")
        else:
            notes.append(f"quality_target {goal:g} is not reachable with {encoding.format} "
                         f"at these settings; {best}.")
    return SearchResult(
        data=samples[chosen][0], format=encoding.format,
        encoder=encoding.encoder if encoding.format == "jpeg" else None,
        quality=chosen, score=samples[chosen][1], target=goal, reached=bool(passing),
        candidates=[Candidate(q, len(d), s) for q, (d, s) in samples.items()],
        notes=notes, seconds=seconds,
    )
