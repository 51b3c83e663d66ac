"""The Gaussian of SSIMULACRA 2's reference implementation, as a finite kernel.

libjxl blurs with a recursive filter (Charalampidis 2016, "Recursive implementation of
the Gaussian filter using truncated cosine functions"), sigma 1.5, reading zeros outside
the image. Its three resonators are fed ``in[n-N-1] + in[n+N-1]`` and cancel exactly
after 2N samples, so in exact arithmetic it is a symmetric 9-tap kernel: running the
recursion once on an impulse gives the taps, and convolving with them gives the
reference's numbers (up to its float32 rounding) far faster in numpy.
"""

from __future__ import annotations

import math

import numpy as np

SIGMA = 1.5
STRIP_ROWS = 16  # rows per pass: a strip of all planes stays in the CPU cache


def recursion_coefficients(sigma: float = SIGMA) -> tuple[int, list[float], list[float]]:
    """Radius N, input gains n2 and feedback d1 of libjxl's recursive Gaussian."""
    radius = round(3.2795 * sigma + 0.2546)
    omega = [k * math.pi / (2 * radius) for k in (1, 3, 5)]
    p = [1 / math.tan(omega[0] / 2), -1 / math.tan(omega[1] / 2), 1 / math.tan(omega[2] / 2)]
    r = [p[0] ** 2 / math.sin(omega[0]), -p[1] ** 2 / math.sin(omega[1]),
         p[2] ** 2 / math.sin(omega[2])]
    rho = [math.exp(-0.5 * sigma * sigma * w * w) / radius for w in omega]
    d13 = p[0] * r[1] - r[0] * p[1]
    zeta15 = (p[1] * r[2] - r[1] * p[2]) / d13
    zeta35 = (p[2] * r[0] - r[2] * p[0]) / d13
    beta = np.linalg.solve(
        np.array([p, r, [zeta15, zeta35, 1.0]]),
        np.array([1.0, radius * radius - sigma * sigma,
                  zeta15 * rho[0] + zeta35 * rho[1] + rho[2]]),
    )
    n2 = [float(-beta[k] * math.cos(omega[k] * (radius + 1))) for k in range(3)]
    d1 = [-2 * math.cos(w) for w in omega]
    return radius, n2, d1


def run_recursion(signal: np.ndarray, sigma: float = SIGMA) -> np.ndarray:
    """The reference's 1-D recursive pass over ``signal`` (float64; for checks and taps)."""
    radius, n2, d1 = recursion_coefficients(sigma)
    size = len(signal)
    out = np.zeros(size)
    prev, prev2 = [0.0] * 3, [0.0] * 3
    for n in range(-radius + 1, size):
        left, right = n - radius - 1, n + radius - 1
        pair = (signal[left] if left >= 0 else 0.0) + (signal[right] if right < size else 0.0)
        outputs = [n2[k] * pair - d1[k] * prev[k] - prev2[k] for k in range(3)]
        prev2, prev = prev, outputs
        if n >= 0:
            out[n] = sum(outputs)
    return out


def gaussian_taps(sigma: float = SIGMA) -> np.ndarray:
    """Taps for offsets 0, ±1, ±2, … (the kernel is symmetric), read off the recursion."""
    radius = recursion_coefficients(sigma)[0]
    impulse = np.zeros(4 * radius + 1)
    impulse[2 * radius] = 1.0
    taps = run_recursion(impulse, sigma)[2 * radius :]
    return taps[np.abs(taps) > 1e-9].astype(np.float32)


TAPS = gaussian_taps()
REACH = len(TAPS) - 1


def blur(planes: np.ndarray) -> np.ndarray:
    """Blur each (H, W) plane of ``planes`` (C, H, W, float32): rows first, then columns,
    zeros outside, worked in strips of rows so the data stays in cache."""
    channels, height, width = planes.shape
    padded = np.zeros((channels, height, width + 2 * REACH), np.float32)
    padded[..., REACH : REACH + width] = planes
    rows_done = np.zeros((channels, height + 2 * REACH, width), np.float32)
    pair = np.empty((channels, STRIP_ROWS, width), np.float32)
    for top in range(0, height, STRIP_ROWS):
        bottom = min(top + STRIP_ROWS, height)
        source = padded[:, top:bottom]
        target = rows_done[:, REACH + top : REACH + bottom]
        scratch = pair[:, : bottom - top]
        np.multiply(source[..., REACH : REACH + width], TAPS[0], out=target)
        for offset in range(1, REACH + 1):
            np.add(source[..., REACH - offset : REACH - offset + width],
                   source[..., REACH + offset : REACH + offset + width], out=scratch)
            scratch *= TAPS[offset]
            target += scratch
    out = np.empty((channels, height, width), np.float32)
    for top in range(0, height, STRIP_ROWS):
        bottom = min(top + STRIP_ROWS, height)
        target = out[:, top:bottom]
        scratch = pair[:, : bottom - top]
        np.multiply(rows_done[:, REACH + top : REACH + bottom], TAPS[0], out=target)
        for offset in range(1, REACH + 1):
            np.add(rows_done[:, REACH + top - offset : REACH + bottom - offset],
                   rows_done[:, REACH + top + offset : REACH + bottom + offset], out=scratch)
            scratch *= TAPS[offset]
            target += scratch
    return out
