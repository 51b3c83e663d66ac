"""Blind noise-level estimate: Chen, Zhu, Heng, "An Efficient Statistical Method for Image
Noise Level Estimation", ICCV 2015 (numpy only, no torch).

Natural image patches lie close to a low-dimensional subspace; white Gaussian noise adds
the same variance sigma^2 in every direction. So the smallest eigenvalues of the patch
covariance are noise only: the method drops the largest eigenvalues one by one until the
rest look like one Gaussian (as many above their mean as below it) and returns the square
root of that mean. On CBSD68 it reads sigma 5/15/25/50 within about 0.2 (docs/denoise.md);
texture reads far less as noise than with a Laplacian or wavelet-MAD estimate.
"""

from __future__ import annotations

import math

import numpy as np

PATCH = 8  # patch side, as in the paper
# Covariance of at most this many patches: on large photos the stride grows, which keeps
# the estimate fast and memory-bounded without changing it measurably.
MAX_PATCHES = 160_000
_ROWS_PER_CHUNK = 64


def estimate_sigma(image: np.ndarray, scale: float = 255.0) -> float:
    """Noise standard deviation of ``image`` (H x W or H x W x C), on a 0-255 scale.

    ``scale`` is the value of white in ``image`` (255 for 8-bit, 65535 for 16-bit, 1.0
    for floats in [0, 1]). Images smaller than a patch give 0.
    """
    pixels = image if image.ndim == 3 else image[:, :, None]
    height, width = pixels.shape[:2]
    if height < PATCH or width < PATCH:
        return 0.0
    # Every patch on small images: the covariance of too few patches spreads its smallest
    # eigenvalues (the noise) low. Sparser patches on large ones keep it fast.
    patches = (height - PATCH + 1) * (width - PATCH + 1)
    step = max(1, math.ceil(math.sqrt(patches / MAX_PATCHES)))
    cov = _patch_covariance(pixels, step)
    eigen = np.sort(np.linalg.eigvalsh(cov))
    variance = _noise_variance(np.clip(eigen, 0.0, None))
    return math.sqrt(variance) * 255.0 / scale


def _patch_covariance(pixels: np.ndarray, step: int) -> np.ndarray:
    """Covariance of the PATCH x PATCH x C patches whose corners lie every ``step`` pixels,
    accumulated a band of patch rows at a time, so memory stays small on any image."""
    height, width, channels = pixels.shape
    rows, cols = (height - PATCH) // step + 1, (width - PATCH) // step + 1
    dim = PATCH * PATCH * channels
    # Centred float32 products summed in float64 per band: fast and exact enough.
    centre = pixels.reshape(-1, channels)[:: max(1, pixels.size // 100_000)].mean(axis=0)
    total = np.zeros(dim)
    outer = np.zeros((dim, dim))
    for first in range(0, rows, _ROWS_PER_CHUNK):
        count = min(_ROWS_PER_CHUNK, rows - first)
        # One strided slice per offset inside the patch: a few large copies.
        band = np.empty((PATCH, PATCH, channels, count, cols), dtype=np.float32)
        for dy in range(PATCH):
            y0 = first * step + dy
            for dx in range(PATCH):
                window = pixels[y0 : y0 + (count - 1) * step + 1 : step,
                                dx : dx + (cols - 1) * step + 1 : step] - centre
                band[dy, dx] = window.transpose(2, 0, 1)
        flat = band.reshape(dim, -1)
        total += flat.sum(axis=1, dtype=np.float64)
        outer += (flat @ flat.T).astype(np.float64)
    n = rows * cols
    mean = total / n
    return outer / n - np.outer(mean, mean)


def _noise_variance(eigen: np.ndarray) -> float:
    """The paper's rule on ascending eigenvalues: the largest prefix whose mean has as
    many of them above as below it."""
    for end in range(eigen.size - 1, 0, -1):
        head = eigen[:end]
        tau = float(head.mean())
        if np.count_nonzero(head > tau) == np.count_nonzero(head < tau):
            return tau
    return float(eigen[0])
