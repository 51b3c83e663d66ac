"""The blind noise-level estimate (Chen, Zhu, Heng 2015) on CBSD68 and made-up images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixtools.ml import noise
from pixtools.ml.pixels import estimate_sigma


@pytest.fixture(scope="module")
def photos(cbsd68_paths: list[Path]) -> list[np.ndarray]:
    out = []
    for path in cbsd68_paths[:3]:
        with Image.open(path) as im:
            out.append(np.asarray(im.convert("RGB"), dtype=np.float64) / 255)
    return out


@pytest.mark.parametrize("sigma", [5, 15, 25, 50])
def test_reads_gaussian_noise_within_one_level(photos: list[np.ndarray], sigma: int) -> None:
    rng = np.random.default_rng(sigma)
    errors = [noise.estimate_sigma(p + rng.normal(0, sigma / 255, p.shape), scale=1.0) - sigma
              for p in photos]
    assert abs(float(np.mean(errors))) <= 1.0, errors


def test_clean_photo_reads_nearly_noiseless(photos: list[np.ndarray]) -> None:
    assert all(noise.estimate_sigma(p, scale=1.0) < 1.5 for p in photos)


def test_scale_and_bit_depth(photos: list[np.ndarray]) -> None:
    """The same noise reads the same in 8 and 16 bits (sigma is on the 0-255 scale)."""
    rng = np.random.default_rng(0)
    noisy = np.clip(photos[0] + rng.normal(0, 10 / 255, photos[0].shape), 0, 1)
    assert 9 < estimate_sigma(Image.fromarray(np.rint(noisy * 255).astype(np.uint8))) < 11
    grey = noisy.mean(axis=2)
    eight = estimate_sigma(Image.fromarray(np.rint(grey * 255).astype(np.uint8)))
    sixteen = estimate_sigma(Image.fromarray(np.rint(grey * 65535).astype(np.uint16)))
    assert abs(eight - sixteen) < 0.3


def test_large_images_sample_fewer_patches_with_the_same_reading() -> None:
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:1200, 0:1600]
    smooth = np.stack([x / 1600, y / 1200, 0.5 + 0.2 * np.sin(x / 40)], axis=-1)
    noisy = smooth + rng.normal(0, 20 / 255, smooth.shape)
    assert abs(noise.estimate_sigma(noisy, scale=1.0) - 20) < 0.5
    assert abs(noise.estimate_sigma(noisy[:300, :400], scale=1.0) - 20) < 0.5


def test_too_small_for_a_patch_is_zero() -> None:
    assert noise.estimate_sigma(np.zeros((5, 40, 3)), scale=1.0) == 0.0
    assert estimate_sigma(Image.new("RGBA", (7, 7))) == 0.0
