"""``format: auto``: search each candidate format to the same target; the smallest wins.

Transparency rules out JPEG; an animation keeps to the formats that animate. A candidate
list with nothing usable left is a ``QualityError`` naming the ``candidates`` field.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from PIL import Image

from .encoders import ANIMATED, SEARCHABLE_FORMATS, Encoding
from .errors import QualityError
from .metric import Scorer, has_transparency
from .search import SearchLimits, SearchResult, resolve_target, search_quality

DEFAULT_CANDIDATES = ("avif", "webp", "jpeg")
__all__ = ["DEFAULT_CANDIDATES", "FormatChoice", "choose_format", "has_transparency",
           "usable_formats"]


def usable_formats(
    candidates: Iterable[str], *, transparent: bool, animated: bool
) -> tuple[list[str], dict[str, str]]:
    """(the candidates that can hold the image, in order; format → why each other was
    left out). Unknown names are an error."""
    names = list(dict.fromkeys(candidates))
    unknown = [name for name in names if name not in SEARCHABLE_FORMATS]
    if unknown:
        raise QualityError("candidates", f"Unknown candidate format(s) {', '.join(unknown)}: "
                           f"choose from {', '.join(SEARCHABLE_FORMATS)}.")
    usable, skipped = [], {}
    for name in names:
        if transparent and name == "jpeg":
            skipped[name] = "JPEG has no transparency and the image has transparent pixels."
        elif animated and name not in ANIMATED:
            skipped[name] = f"{name.upper()} cannot hold an animation."
        else:
            usable.append(name)
    if not usable:
        reasons = " ".join(skipped.values()) or "The list is empty."
        raise QualityError("candidates", "None of the candidate formats can hold this image. "
                           f"{reasons} WebP and AVIF hold both transparency and animation.")
    return usable, skipped


@dataclass
class FormatChoice:
    """The winning encoding and every format's search."""

    result: SearchResult
    searches: dict[str, SearchResult]
    skipped: dict[str, str] = field(default_factory=dict)

    def details(self) -> dict[str, Any]:
        details = self.result.details()
        details["formats"] = {
            name: {"quality": r.quality, "bytes": len(r.data), "score": round(r.score, 2),
                   "reached": r.reached}
            for name, r in self.searches.items()}
        if self.skipped:
            details["skipped"] = dict(self.skipped)
        return details


def choose_format(
    image: Image.Image,
    target: str | float,
    candidates: Iterable[str] = DEFAULT_CANDIDATES,
    *,
    animated: bool = False,
    limits: SearchLimits | None = None,
    encodings: Mapping[str, Encoding] | None = None,
    encode_at: Mapping[str, Callable[[int], bytes]] | None = None,
) -> FormatChoice:
    """Search every usable candidate to ``target`` and keep the smallest that reaches it
    (none reaching it: the highest score). ``encodings`` gives per-format settings (the
    JPEG encoder, Pillow options); ``encode_at`` per-format encoders as in
    ``search_quality``. ``limits.max_seconds`` bounds the whole choice, and a format stops
    as soon as it cannot beat the smallest file found so far."""
    goal = resolve_target(target)
    limits = limits or SearchLimits()
    usable, skipped = usable_formats(candidates, transparent=has_transparency(image),
                                     animated=animated)
    scorer = Scorer(image, limits.max_scored_pixels)
    started = time.perf_counter()
    searches: dict[str, SearchResult] = {}
    for name in usable:
        remaining = limits.max_seconds - (time.perf_counter() - started)
        if searches and remaining <= 0:
            skipped[name] = "not searched: the time limit was spent on the formats before it."
            continue
        best = _best(searches.values())
        searches[name] = search_quality(
            image, (encodings or {}).get(name) or Encoding(name), goal,
            limits=replace(limits, max_seconds=max(remaining, 0.001)), scorer=scorer,
            encode_at=(encode_at or {}).get(name),
            byte_ceiling=len(best.data) if best and best.reached else None,
        )
    winner = _best(searches.values())
    assert winner is not None
    return FormatChoice(result=winner, searches=searches, skipped=skipped)


def _best(results: Iterable[SearchResult]) -> SearchResult | None:
    results = list(results)
    reached = [r for r in results if r.reached]
    if reached:
        return min(reached, key=lambda r: len(r.data))
    return max(results, key=lambda r: r.score, default=None)
