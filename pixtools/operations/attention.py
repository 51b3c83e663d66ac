"""Where the interesting part of an image is, for ``gravity: smart`` crops.

Like libvips' attention strategy: edges, saturated colour and skin tones mark what a
person looks at. The score is computed on a small copy, and the crop window with the
highest total score wins (an integral image makes every position one subtraction).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

SCORING_SIDE = 256  # longest side of the copy that is scored


def _score(image: Image.Image) -> np.ndarray:
    rgb = image.convert("RGB")
    luma = np.asarray(rgb.convert("L").filter(ImageFilter.FIND_EDGES), dtype=np.float32)
    hsv = np.asarray(rgb.convert("HSV"), dtype=np.float32)
    pixels = np.asarray(rgb, dtype=np.int16)
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    skin = (
        (red > 95) & (green > 40) & (blue > 20) & (red > green) & (red > blue)
        & (np.abs(red - green) > 15)
    ).astype(np.float32)
    saturation = hsv[..., 1] * (hsv[..., 2] / 255.0)  # dark pixels are not colourful
    score = luma / 255.0 + 0.5 * saturation / 255.0 + 0.5 * skin
    if image.mode in ("LA", "RGBA"):
        score *= np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0
    return score


def best_offset(image: Image.Image, crop: tuple[int, int]) -> tuple[int, int]:
    """Top-left corner of the ``crop``-sized window of ``image`` that draws the eye."""
    width, height = image.size
    crop_w, crop_h = crop
    if crop_w >= width and crop_h >= height:
        return 0, 0
    factor = min(1.0, SCORING_SIDE / max(width, height))
    small = image.resize(
        (max(1, round(width * factor)), max(1, round(height * factor))),
        Image.Resampling.BILINEAR,
    )
    score = _score(small)
    win_w = max(1, min(score.shape[1], round(crop_w * factor)))
    win_h = max(1, min(score.shape[0], round(crop_h * factor)))
    integral = np.pad(score.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = (
        integral[win_h:, win_w:] - integral[:-win_h, win_w:]
        - integral[win_h:, :-win_w] + integral[:-win_h, :-win_w]
    )
    # Among near-best windows prefer the most central: a flat image crops at its centre.
    candidates = np.argwhere(sums >= sums.max() * 0.98 - 1e-9)
    centre = np.array([(sums.shape[0] - 1) / 2, (sums.shape[1] - 1) / 2])
    row, col = candidates[np.argmin(((candidates - centre) ** 2).sum(axis=1))]
    x = min(max(0, round(col / factor)), width - crop_w)
    y = min(max(0, round(row / factor)), height - crop_h)
    return int(x), int(y)
