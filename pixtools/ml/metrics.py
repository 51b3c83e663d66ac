"""Image quality measures shared by the tests and the benchmarks (numpy only)."""

from __future__ import annotations

import math

import numpy as np


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Clip float [0, 1] values and round to uint8, as when saving an image."""
    return np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def psnr(clean: np.ndarray, test: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB between two uint8 images."""
    if clean.shape != test.shape:
        raise ValueError(f"shape mismatch: {clean.shape} vs {test.shape}")
    mse = float(np.mean((clean.astype(np.float64) - test.astype(np.float64)) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(255.0**2 / mse)
