"""Chroma noise for greyscale input: deterministic by position, grey-neutral."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixtools.ml import grey
from pixtools.ml.inference import Denoiser


def test_chroma_noise_depends_only_on_position() -> None:
    whole = grey.chroma_noise(10, 150, 5, 200, 0.1)
    part = grey.chroma_noise(60, 131, 70, 141, 0.1)
    assert np.array_equal(part, whole[50:121, 65:136])


def test_chroma_noise_leaves_grey_unchanged() -> None:
    noise = grey.chroma_noise(0, 128, 0, 128, 0.2)
    assert np.abs(noise.mean(axis=2)).max() < 1e-6
    # Each channel gets (2/3 of) the requested variance, as i.i.d. noise would
    # once its grey component is taken out.
    assert noise.std() == pytest.approx(0.2 * np.sqrt(2 / 3), rel=0.03)


@pytest.mark.parametrize("sigma", [5.0, 25.0])
def test_estimate_sigma_on_flat_image(sigma: float) -> None:
    rng = np.random.default_rng(5)
    image = 128 + rng.normal(0, sigma, (256, 256))
    assert grey.estimate_sigma(image) == pytest.approx(sigma, rel=0.05)


def test_estimate_sigma_tiny_image() -> None:
    assert grey.estimate_sigma(np.zeros((1, 5))) == 0.0


def test_grey_tiled_equals_untiled(weights_path: Path) -> None:
    rng = np.random.default_rng(6)
    image = Image.fromarray(rng.integers(0, 256, (100, 120), dtype=np.uint8))
    tiled = Denoiser(weights_path, precision="fp32", tile=64, overlap=24).denoise(image)
    whole = Denoiser(weights_path, precision="fp32", tile=512, overlap=0).denoise(image)
    diff = np.abs(np.asarray(tiled).astype(int) - np.asarray(whole).astype(int))
    assert diff.max() <= 1
