"""Shared helpers for the operation tests: PSNR, and running an operation like the runner."""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
from PIL import Image

from pixtools.operations import REGISTRY


def psnr(first: Image.Image | np.ndarray, second: Image.Image | np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB (inf when identical); shapes must match exactly."""
    a = np.asarray(first, dtype=np.float64)
    b = np.asarray(second, dtype=np.float64)
    assert a.shape == b.shape, f"shapes differ: {a.shape} vs {b.shape}"
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def apply(name: str, image: Image.Image, **params: Any) -> Image.Image:
    """Validate ``params`` and apply operation ``name`` to a still, as a step would."""
    operation = REGISTRY[name]
    frames = operation.run([image], operation.params.model_validate(params), lambda f: None)
    assert len(frames) == 1
    return frames[0]


def open_bytes(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def sharpness(image: Image.Image) -> float:
    """Variance of a discrete Laplacian: higher means crisper edges."""
    grey = np.asarray(image.convert("L"), dtype=np.float64)
    laplacian = (-4 * grey[1:-1, 1:-1] + grey[:-2, 1:-1] + grey[2:, 1:-1]
                 + grey[1:-1, :-2] + grey[1:-1, 2:])
    return float(laplacian.var())
