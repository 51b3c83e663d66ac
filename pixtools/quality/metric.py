"""SSIMULACRA 2: a full-reference perceptual score, 100 for identical, lower for worse.

A numpy port of the reference implementation (libjxl's ``tools/ssimulacra2.cc``, April 2023
revision): sRGB → linear → XYB rescaled to about 0..1; six scales (2 × 2 box downsampling
in linear RGB); per scale and channel an SSIM map (without the luma denominator) and two
edge maps (ringing, blurring), each reduced to its 1-norm and 4-norm; a weighted sum of
those 108 numbers mapped onto the score.

Three details decide agreement with the reference on small or flat images, so they are
kept exactly: its Gaussian (see ``blur``) reads zeros outside the image; the size check
before each scale looks at the previous scale's size; and the weight index runs on when an
image is too small for all six scales.

``Reference`` keeps everything that depends on the original alone (its XYB pyramid,
blurred mean and variance), so comparing many candidates costs about 60 % per candidate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .blur import blur
from .weights import SCORE_WEIGHTS

SCALES = 6
MIN_SIDE = 8  # the reference stops adding scales below this size
_C2 = np.float32(0.0009)
# Opsin absorbance (libjxl opsin_params.h): an LMS-like mix of linear RGB, plus a bias.
_OPSIN = np.array([
    [0.30, 0.622, 0.078],
    [0.23, 0.692, 0.078],
    [0.24342268924547819, 0.20476744424496821, 1 - 0.24342268924547819 - 0.20476744424496821],
], dtype=np.float32)
_BIAS = np.float32(0.0037930732552754493)
_CBRT_BIAS = np.cbrt(_BIAS)
# The reference tool scores a transparent image over these two greys and keeps the lower.
ALPHA_BACKGROUNDS = (0.1, 0.9)


def _srgb_to_linear_table() -> np.ndarray:
    values = np.arange(256, dtype=np.float64) / 255
    linear = np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)
    return linear.astype(np.float32)


_SRGB_TO_LINEAR = _srgb_to_linear_table()


def to_xyb(linear: np.ndarray) -> np.ndarray:
    """Linear RGB planes (3, H, W) → X, Y, B-Y rescaled to about 0..1, as the metric uses."""
    # Three explicit weighted sums: far faster than a 3 × 3 matrix product through BLAS.
    mixed = np.empty_like(linear)
    for row in range(3):
        np.multiply(linear[0], _OPSIN[row, 0], out=mixed[row])
        mixed[row] += linear[1] * _OPSIN[row, 1]
        mixed[row] += linear[2] * _OPSIN[row, 2]
    mixed += _BIAS
    np.maximum(mixed, 0, out=mixed)
    np.cbrt(mixed, out=mixed)
    mixed -= _CBRT_BIAS
    x = (mixed[0] - mixed[1]) * np.float32(0.5 * 14) + np.float32(0.42)
    y = (mixed[0] + mixed[1]) * np.float32(0.5)
    b = mixed[2] - y + np.float32(0.55)
    y += np.float32(0.01)
    return np.stack([x, y, b])


def downsample(linear: np.ndarray) -> np.ndarray:
    """2 × 2 box average; an odd last row or column pairs with itself, as in the reference."""
    _, height, width = linear.shape
    if height % 2 or width % 2:
        linear = np.pad(linear, ((0, 0), (0, height % 2), (0, width % 2)), mode="edge")
    summed = linear[:, 0::2, 0::2] + linear[:, 1::2, 0::2]
    summed += linear[:, 0::2, 1::2]
    summed += linear[:, 1::2, 1::2]
    summed *= np.float32(0.25)
    return summed


def _norms(errors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per channel: the mean, and the fourth root of the mean fourth power."""
    flat = errors.reshape(errors.shape[0], -1)
    fourth = flat * flat
    fourth *= fourth
    # float32 pairwise sums: relative error ~1e-7, far below what moves a score.
    return (flat.mean(axis=1).astype(np.float64),
            np.sqrt(np.sqrt(fourth.mean(axis=1).astype(np.float64))))


@dataclass(frozen=True)
class _Scale:
    """What one scale of the original contributes to every comparison."""

    xyb: np.ndarray  # (3, H, W)
    mu: np.ndarray  # blurred xyb
    variance: np.ndarray  # blurred xyb² − mu²: the original's half of the SSIM denominator
    edge: np.ndarray  # 1 + |xyb − mu|: the original's edge strength

    @classmethod
    def of(cls, xyb: np.ndarray) -> _Scale:
        blurred = blur(np.concatenate([xyb, xyb * xyb]))
        mu, variance = blurred[:3], blurred[3:]
        variance -= mu * mu
        edge = np.abs(xyb - mu)
        edge += 1.0
        return cls(xyb, mu, variance, edge)


def _scale_errors(ref: _Scale, xyb: np.ndarray) -> np.ndarray:
    """The 18 numbers of one scale, ordered [channel][norm][ssim, ringing, blurring]."""
    blurred = blur(np.concatenate([xyb, xyb * xyb, ref.xyb * xyb]))
    mu2, sigma2_sq, sigma12 = blurred[0:3], blurred[3:6], blurred[6:9]
    mu12 = ref.mu * mu2
    num_m = ref.mu - mu2
    num_m *= num_m
    np.subtract(1.0, num_m, out=num_m)  # 1 − (mu1 − mu2)²: no luma denominator
    sigma12 -= mu12
    sigma12 *= 2.0
    sigma12 += _C2  # num_s
    mu2_sq = mu2 * mu2
    sigma2_sq -= mu2_sq
    sigma2_sq += ref.variance
    sigma2_sq += _C2  # denom_s, summed in the reference's order: identical images give 1
    ssim = num_m * sigma12
    ssim /= sigma2_sq
    np.subtract(1.0, ssim, out=ssim)
    np.maximum(ssim, 0.0, out=ssim)
    ratio = np.abs(xyb - mu2)
    ratio += 1.0
    ratio /= ref.edge  # a division, so identical images give exactly 0 here
    ratio -= 1.0  # > 0: ringing (edges the original lacks); < 0: blurring (edges lost)
    ringing = np.maximum(ratio, 0.0)
    blurring = ringing - ratio
    values = np.empty((3, 2, 3))
    for index, errors in enumerate((ssim, ringing, blurring)):
        mean, fourth_norm = _norms(errors)
        values[:, 0, index] = mean
        values[:, 1, index] = fourth_norm
    return values


def _final_score(per_scale: list[np.ndarray]) -> float:
    # The reference walks channel, scale, norm and map with one running weight index.
    stacked = np.stack(per_scale, axis=1)  # (channel, scale, norm, map)
    flat = np.abs(stacked).reshape(-1)
    raw = float(np.dot(np.asarray(SCORE_WEIGHTS[: flat.size]), flat)) * 0.9562382616834844
    raw = 2.326765642916932 * raw - 0.020884521182843837 * raw**2 + 6.248496625763138e-05 * raw**3
    return 100.0 - 10.0 * raw**0.6276336467831387 if raw > 0 else 100.0


def linear_planes(image: Image.Image, background: float = 0.5) -> np.ndarray:
    """An image as linear-light RGB planes (3, H, W); transparency over a grey ``background``
    (0..1, blended in sRGB values as the reference does)."""
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if has_alpha(image) else "RGB")
    pixels = np.asarray(image)
    if image.mode == "RGB":
        return np.ascontiguousarray(_SRGB_TO_LINEAR[pixels].transpose(2, 0, 1))
    alpha = pixels[..., 3:4].astype(np.float32) / 255
    srgb = pixels[..., :3].astype(np.float32) / 255 * alpha + background * (1 - alpha)
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    return np.ascontiguousarray(linear.astype(np.float32).transpose(2, 0, 1))


class Reference:
    """An original prepared once, to score any number of distorted versions of it."""

    def __init__(self, image: Image.Image, background: float = 0.5) -> None:
        self.size = image.size
        self.background = background
        self._scales: list[_Scale] = []
        linear = linear_planes(image, background)
        for index in range(SCALES):
            if min(linear.shape[1:]) < MIN_SIDE:
                break  # checked before downsampling: the last scale may be 4–7 pixels
            if index:
                linear = downsample(linear)
            self._scales.append(_Scale.of(to_xyb(linear)))

    def score(self, distorted: Image.Image) -> float:
        """The SSIMULACRA 2 score of ``distorted`` (same size) against this original."""
        if distorted.size != self.size:
            raise ValueError(f"sizes differ: {self.size} and {distorted.size}")
        linear = linear_planes(distorted, self.background)
        per_scale = []
        for index, ref in enumerate(self._scales):
            if index:
                linear = downsample(linear)
            per_scale.append(_scale_errors(ref, to_xyb(linear)))
        return _final_score(per_scale)


class Scorer:
    """Scores candidates against one original as the reference tool does: with
    transparent pixels in the original, the lower score over a dark and a light background.

    An original of more than ``max_pixels`` is scored on four crops of a quarter of that
    each, spread over the image at full resolution (artifacts keep their true size), and
    the lowest crop score counts: memory and time stay bounded whatever the image's size.
    """

    def __init__(self, original: Image.Image, max_pixels: int | None = None) -> None:
        self.boxes = crop_boxes(original.size, max_pixels)
        parts = [original.crop(box) for box in self.boxes] if self.boxes else [original]
        backgrounds = ALPHA_BACKGROUNDS if has_transparency(original) else (0.5,)
        self.references = [[Reference(part, background) for background in backgrounds]
                           for part in parts]

    def score(self, distorted: Image.Image) -> float:
        parts = [distorted.crop(box) for box in self.boxes] if self.boxes else [distorted]
        return min(reference.score(part)
                   for references, part in zip(self.references, parts, strict=True)
                   for reference in references)


def crop_boxes(size: tuple[int, int], max_pixels: int | None,
               count: int = 4) -> list[tuple[int, int, int, int]] | None:
    """Where ``Scorer`` looks in an image over ``max_pixels``: ``count`` crops of the
    image's shape, centred on a 2 × 2 grid (None: the whole image is scored)."""
    width, height = size
    if max_pixels is None or width * height <= max_pixels:
        return None
    scale = math.sqrt(max_pixels / count / (width * height))
    crop_w, crop_h = max(MIN_SIDE, int(width * scale)), max(MIN_SIDE, int(height * scale))
    boxes = []
    for across, down in ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)):
        left = min(max(round(across * width - crop_w / 2), 0), width - crop_w)
        top = min(max(round(down * height - crop_h / 2), 0), height - crop_h)
        boxes.append((left, top, left + crop_w, top + crop_h))
    return boxes


def ssimulacra2(original: Image.Image, distorted: Image.Image) -> float:
    """SSIMULACRA 2 of ``distorted`` against ``original`` (same size)."""
    if has_alpha(distorted) and not has_alpha(original):
        return min(Reference(original, bg).score(distorted) for bg in ALPHA_BACKGROUNDS)
    return Scorer(original).score(distorted)


def has_alpha(image: Image.Image) -> bool:
    """Whether the image has an alpha channel or a transparent palette entry."""
    return "A" in image.getbands() or "transparency" in image.info


def has_transparency(image: Image.Image) -> bool:
    """Whether any pixel is less than opaque (an alpha channel that is all 255 is not)."""
    if not has_alpha(image):
        return False
    if "A" not in image.getbands():
        return True  # a palette or single colour marked transparent
    low, _high = image.getchannel("A").getextrema()
    return bool(isinstance(low, int | float) and low < 255)
