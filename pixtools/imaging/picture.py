"""What a decoded image is, and the limits every decode is held to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from . import embedded as meta

SizeHint = Callable[[tuple[int, int]], tuple[int, int] | None]


@dataclass(frozen=True)
class Limits:
    max_pixels: int
    max_side: int
    max_frames: int = 300

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        return cls(settings.max_pixels, settings.max_side, settings.max_frames)


@dataclass(frozen=True)
class ImageInfo:
    format: str  # Pillow's name, e.g. "JPEG"
    width: int
    height: int
    frames: int = 1  # frames of an animation (pages of a TIFF), counted up to the limit


@dataclass
class Picture:
    """A decoded image: one frame, or the frames of an animation, plus what travels with
    them (the colour profile the pixels are in, and notes for the user)."""

    frames: list[Image.Image]
    durations: list[int] = field(default_factory=list)  # ms per frame, for animations
    loop: int | None = None  # None: play once; 0: forever
    icc: bytes | None = None  # the pixels' profile when kept; None means sRGB
    embedded: meta.Embedded | None = None  # the source's metadata (not after a handoff)
    source_frames: int = 1
    notes: list[str] = field(default_factory=list)
    # What steps said about their run, by operation name, for the output's details.
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        return self.frames[0].size


def unify(frames: list[Image.Image]) -> list[Image.Image]:
    """One mode for all frames (encoders and operations expect it), keeping any alpha."""
    modes = {frame.mode for frame in frames}
    if len(modes) == 1:
        return frames
    target = "RGBA" if any("A" in mode for mode in modes) else "RGB"
    return [frame if frame.mode == target else frame.convert(target) for frame in frames]

