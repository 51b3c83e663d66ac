"""Placeholders to show while an image loads: ThumbHash, BlurHash and the dominant colour.

All three come from the final pixels scaled to at most 100 pixels a side (ThumbHash's own
limit). ThumbHash keeps transparency and the aspect ratio; BlurHash is decoded by more
front-end libraries. The libraries are Rust extensions: a placeholder costs well under a
millisecond once the image is small.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any

import blurhash_rs
import numpy as np
import thumbhash
from PIL import Image

MAX_SIDE = 100  # ThumbHash encodes at most 100 × 100
BLURHASH_COMPONENTS = (4, 3)  # x, y: the common choice for landscape pictures
BUCKETS = 512  # 8 levels for each of red, green and blue
SAMPLES_PER_SIDE = 4  # a large image is sampled to 4 × MAX_SIDE before averaging


@dataclass(frozen=True)
class Placeholder:
    thumbhash: str  # base64 of the ThumbHash bytes, as its decoders take it
    blurhash: str
    dominant_colour: str  # "#rrggbb"

    def details(self) -> dict[str, Any]:
        return {"thumbhash": self.thumbhash, "blurhash": self.blurhash,
                "dominant_colour": self.dominant_colour}


def small_copy(image: Image.Image, max_side: int = MAX_SIDE) -> Image.Image:
    """An RGBA copy at most ``max_side`` a side. A large image is first sampled (nearest
    pixel) down to four times that: every pixel of the copy still averages 16 samples,
    plenty for a blurred placeholder, in well under a millisecond at any size (a box
    reduction of 12 megapixels takes tens)."""
    sample = SAMPLES_PER_SIDE * max_side
    if max(image.size) > sample:
        scale = sample / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        small = image.resize(size, Image.Resampling.NEAREST)
    else:
        small = image.copy()
    small.thumbnail((max_side, max_side), Image.Resampling.BOX)
    return small.convert("RGBA")


def dominant_colour(rgba: Image.Image) -> str:
    """The mean colour of the most common colour bucket (8 levels a channel), counting
    each pixel by its opacity: a cheap, stable "dominant colour"."""
    pixels = np.asarray(rgba).reshape(-1, 4).astype(np.int64)
    opacity = pixels[:, 3].astype(np.float64)
    if opacity.sum() == 0:
        opacity = np.ones_like(opacity)  # fully transparent: every pixel counts the same
    buckets = ((pixels[:, 0] >> 5) << 6) | ((pixels[:, 1] >> 5) << 3) | (pixels[:, 2] >> 5)
    weights = np.bincount(buckets, weights=opacity, minlength=BUCKETS)
    members = buckets == int(np.argmax(weights))
    mean = np.average(pixels[members, :3], axis=0, weights=opacity[members] + 1e-9)
    red, green, blue = (round(float(v)) for v in mean)
    return f"#{red:02x}{green:02x}{blue:02x}"


def placeholder(image: Image.Image) -> Placeholder:
    """The placeholders of ``image`` (the final pixels of an output)."""
    small = small_copy(image)
    hashed = thumbhash.rgba_to_thumb_hash(small.width, small.height, small.tobytes())
    rgb = small.convert("RGB")
    blur = blurhash_rs.encode_rgb(rgb.tobytes(), rgb.width, rgb.height, *BLURHASH_COMPONENTS)
    return Placeholder(
        thumbhash=base64.b64encode(hashed).decode("ascii"),
        blurhash=blur,
        dominant_colour=dominant_colour(small),
    )


def thumbhash_png(encoded: str) -> bytes:
    """A ThumbHash (base64, as in ``Placeholder.thumbhash``) decoded to a small PNG, for a
    page that shows the placeholder without decoding it in the browser."""
    width, height, rgba = thumbhash.thumb_hash_to_rgba(base64.b64decode(encoded))
    buffer = io.BytesIO()
    Image.frombytes("RGBA", (width, height), bytes(rgba)).save(buffer, format="PNG")
    return buffer.getvalue()
