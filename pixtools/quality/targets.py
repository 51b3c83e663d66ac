"""What a search aims at and what it may spend: quality targets on the SSIMULACRA 2 scale,
and the budget of one search."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import QualityError

# quality_target names on the SSIMULACRA 2 scale, at its authors' anchors: 70 "high"
# (artifacts hard to notice without the original beside it), 50 "medium", 30 "low".
# (90 is "visually lossless" and may be asked for as a number.)
TARGETS = {"high": 70.0, "medium": 50.0, "low": 30.0}
TARGET_RANGE = (10.0, 99.0)


def resolve_target(value: str | float) -> float:
    """``high`` / ``medium`` / ``low`` or a number in ``TARGET_RANGE`` → a score target."""
    if isinstance(value, str):
        if value in TARGETS:
            return TARGETS[value]
        raise QualityError("quality_target", "quality_target must be high, medium, low or "
                           f"a number from {TARGET_RANGE[0]:g} to {TARGET_RANGE[1]:g}; "
                           f"got {value!r}.")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise QualityError("quality_target", f"quality_target must be a name or a number, "
                           f"not {value!r}.")
    if not TARGET_RANGE[0] <= value <= TARGET_RANGE[1]:
        raise QualityError("quality_target", f"quality_target {value:g} is outside "
                           f"{TARGET_RANGE[0]:g}–{TARGET_RANGE[1]:g} (SSIMULACRA 2: 90 is "
                           "visually lossless, 70 high, 50 medium, 30 low).")
    return float(value)


@dataclass(frozen=True)
class SearchLimits:
    """The search's budget: at most ``max_encodes`` encodes per format, and no new encode
    once ``max_seconds`` have passed (one encode and score may run past it). A quality
    whose score is at most ``close_enough`` points above the target ends the search
    without proving that the next lower one misses (it almost always does: one quality
    step moves the score by about half a point; 0 always proves it). An image of more
    than ``max_scored_pixels`` is scored on crops of that many pixels in all (see
    ``metric.Scorer``), which bounds the memory and time of every score."""

    max_encodes: int = 8
    max_seconds: float = 30.0
    close_enough: float = 0.5
    max_scored_pixels: int = 2_000_000

    def __post_init__(self) -> None:
        if not 2 <= self.max_encodes <= 30:
            raise QualityError("max_encodes", "max_encodes must be from 2 to 30.")
        if not 0 < self.max_seconds <= 600:
            raise QualityError("max_seconds", "max_seconds must be above 0 and at most 600.")
        if not 0 <= self.close_enough <= 5:
            raise QualityError("close_enough", "close_enough must be from 0 to 5 points.")
        if self.max_scored_pixels < 65_536:
            raise QualityError("max_scored_pixels", "max_scored_pixels must be at least 65536.")
