"""Tiled inference on PIL images: seams, progress, modes, strength."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixtools.ml.inference import Denoiser
from pixtools.ml.metrics import psnr, to_uint8

TILE = 128


@pytest.fixture(scope="module")
def tiled(weights_path: Path) -> Denoiser:
    return Denoiser(weights_path, precision="fp32", tile=TILE, overlap=32)


@pytest.fixture(scope="module")
def untiled(weights_path: Path) -> Denoiser:
    return Denoiser(weights_path, precision="fp32", tile=4096, overlap=0)


@pytest.fixture(scope="module")
def clean_rgb(cbsd68_paths: list[Path]) -> np.ndarray:
    """A 300x200 photo crop, larger than one tile both ways."""
    with Image.open(cbsd68_paths[0]) as im:
        return np.asarray(im.convert("RGB"))[:200, :300].copy()


@pytest.fixture(scope="module")
def noisy_rgb(clean_rgb: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(1)
    return to_uint8(clean_rgb / 255.0 + rng.normal(0, 25 / 255, clean_rgb.shape))


@pytest.fixture(scope="module")
def untiled_float(untiled: Denoiser, noisy_rgb: np.ndarray) -> np.ndarray:
    return untiled.denoise_array(noisy_rgb.astype(np.float32) / 255)


@pytest.fixture(scope="module")
def tiled_float(tiled: Denoiser, noisy_rgb: np.ndarray) -> np.ndarray:
    return tiled.denoise_array(noisy_rgb.astype(np.float32) / 255)


def test_tiled_matches_untiled_in_float(tiled_float: np.ndarray, untiled_float: np.ndarray) -> None:
    assert tiled_float.shape == untiled_float.shape
    assert np.abs(tiled_float - untiled_float).max() < 1e-4


def test_tiled_equals_untiled_without_seams(
    tiled_float: np.ndarray, untiled_float: np.ndarray
) -> None:
    a = to_uint8(tiled_float).astype(int)
    b = to_uint8(untiled_float).astype(int)
    assert np.abs(a - b).max() <= 1
    # Rows and columns on each side of every tile boundary.
    rows = [r for y in range(TILE, a.shape[0], TILE) for r in (y - 1, y)]
    cols = [c for x in range(TILE, a.shape[1], TILE) for c in (x - 1, x)]
    assert rows and cols
    assert np.abs(a[rows] - b[rows]).max() <= 1
    assert np.abs(a[:, cols] - b[:, cols]).max() <= 1


def test_denoise_matches_denoise_array(tiled: Denoiser, noisy_rgb: np.ndarray) -> None:
    # The PIL path quantises the same network output.
    src = noisy_rgb[:64, :64]
    out = np.asarray(tiled.denoise(Image.fromarray(src)))
    ref = to_uint8(tiled.denoise_array(src.astype(np.float32) / 255))
    assert out.dtype == np.uint8
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1


def test_without_overlap_seams_show(
    weights_path: Path, untiled_float: np.ndarray, noisy_rgb: np.ndarray
) -> None:
    # Guards the seam tests above: they must be able to fail.
    no_context = Denoiser(weights_path, precision="fp32", tile=TILE, overlap=0)
    x = noisy_rgb[: TILE + 40].astype(np.float32) / 255
    diff = np.abs(no_context.denoise_array(x) - untiled_float[: TILE + 40])
    assert diff[TILE - 1 : TILE + 1].max() > 1 / 255


def test_progress_once_per_tile(weights_path: Path) -> None:
    small_tiles = Denoiser(weights_path, precision="fp32", tile=16, overlap=8)
    calls: list[float] = []
    small_tiles.denoise(Image.new("RGB", (40, 30), (90, 120, 150)), progress=calls.append)
    assert len(calls) == small_tiles.tile_count(30, 40) == 6
    assert all(0 < f <= 1 for f in calls)
    assert all(a < b for a, b in itertools.pairwise(calls))
    assert calls[-1] == 1.0


def test_progress_can_cancel(weights_path: Path) -> None:
    small_tiles = Denoiser(weights_path, precision="fp32", tile=16, overlap=8)

    def cancel(fraction: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        small_tiles.denoise(Image.new("RGB", (40, 30)), progress=cancel)


def test_alpha_is_preserved_exactly(tiled: Denoiser, noisy_rgb: np.ndarray) -> None:
    rgb = noisy_rgb[:64, :80]
    alpha = np.random.default_rng(2).integers(0, 256, rgb.shape[:2], dtype=np.uint8)
    image = Image.fromarray(np.dstack([rgb, alpha]))
    out = tiled.denoise(image)
    assert out.mode == "RGBA" and out.size == image.size
    assert np.array_equal(np.asarray(out)[:, :, 3], alpha)
    assert not np.array_equal(np.asarray(out)[:, :, :3], rgb)


def _grey_pair(clean_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    clean = np.asarray(Image.fromarray(clean_rgb).convert("L"))[:96, :128]
    rng = np.random.default_rng(3)
    return clean, to_uint8(clean / 255.0 + rng.normal(0, 25 / 255, clean.shape))


def test_greyscale_stays_greyscale_and_is_denoised(tiled: Denoiser, clean_rgb: np.ndarray) -> None:
    clean, noisy = _grey_pair(clean_rgb)
    out = tiled.denoise(Image.fromarray(noisy))
    assert out.mode == "L" and out.size == (128, 96)
    # Copying grey into three channels alone gains about 0.2 dB here.
    assert psnr(clean, np.asarray(out)) > psnr(clean, noisy) + 4


def test_greyscale_with_alpha(tiled: Denoiser, clean_rgb: np.ndarray) -> None:
    _, noisy = _grey_pair(clean_rgb)
    alpha = np.full(noisy.shape, 77, dtype=np.uint8)
    out = tiled.denoise(Image.fromarray(np.dstack([noisy, alpha]), "LA"))
    assert out.mode == "LA"
    assert np.array_equal(np.asarray(out.getchannel("A")), alpha)


def test_16bit_greyscale_keeps_its_depth(tiled: Denoiser, clean_rgb: np.ndarray) -> None:
    clean, _ = _grey_pair(clean_rgb)
    clean16 = clean.astype(np.float64) * 257
    rng = np.random.default_rng(4)
    noisy16 = np.rint(np.clip(clean16 + rng.normal(0, 25 * 257, clean.shape), 0, 65535))
    image = Image.fromarray(noisy16.astype(np.uint16))
    assert image.mode == "I;16"
    out = np.asarray(tiled.denoise(image)).astype(np.float64)
    assert out.max() > 255  # not squeezed to 8 bits
    rmse_in = np.sqrt(np.mean((noisy16 - clean16) ** 2))
    rmse_out = np.sqrt(np.mean((out - clean16) ** 2))
    assert 20 * np.log10(rmse_in / rmse_out) > 4  # dB


def test_palette_images_become_rgb_or_rgba(tiled: Denoiser, noisy_rgb: np.ndarray) -> None:
    palette = Image.fromarray(noisy_rgb[:40, :50]).quantize(64)
    assert tiled.denoise(palette).mode == "RGB"
    palette.info["transparency"] = 0
    assert tiled.denoise(palette).mode == "RGBA"


def test_cmyk_becomes_rgb(tiled: Denoiser) -> None:
    out = tiled.denoise(Image.new("CMYK", (20, 10), (10, 20, 30, 0)))
    assert out.mode == "RGB" and out.size == (20, 10)


@pytest.mark.parametrize("size", [(1, 1), (1, 7), (5, 2)])
def test_tiny_images(tiled: Denoiser, size: tuple[int, int]) -> None:
    calls: list[float] = []
    out = tiled.denoise(Image.new("RGB", size, (200, 10, 60)), progress=calls.append)
    assert out.size == size and out.mode == "RGB"
    assert calls == [1.0]


def test_strength_zero_returns_input_exactly(tiled: Denoiser, noisy_rgb: np.ndarray) -> None:
    image = Image.fromarray(noisy_rgb)
    assert np.array_equal(np.asarray(tiled.denoise(image, strength=0.0)), noisy_rgb)


def test_strength_blends_linearly(tiled: Denoiser, noisy_rgb: np.ndarray) -> None:
    image = Image.fromarray(noisy_rgb[:64, :64])
    src = np.asarray(image).astype(float)
    full = np.asarray(tiled.denoise(image, strength=1.0)).astype(float)
    half = np.asarray(tiled.denoise(image, strength=0.5)).astype(float)
    # Where the full result was not clipped, rounding accounts for up to one level.
    inside = (full > 0) & (full < 255)
    assert inside.mean() > 0.9
    assert np.abs(half - (src + full) / 2)[inside].max() <= 1


@pytest.mark.parametrize("strength", [-0.1, 1.5])
def test_strength_out_of_range(tiled: Denoiser, strength: float) -> None:
    with pytest.raises(ValueError, match="strength"):
        tiled.denoise(Image.new("RGB", (4, 4)), strength=strength)


def test_denoise_array_rejects_wrong_shape(tiled: Denoiser) -> None:
    with pytest.raises(ValueError, match="HxWx3"):
        tiled.denoise_array(np.zeros((4, 4), dtype=np.float32))


def test_bad_settings_are_rejected(weights_path: Path) -> None:
    with pytest.raises(ValueError, match="precision"):
        Denoiser(weights_path, precision="int8")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tile"):
        Denoiser(weights_path, tile=0)


def test_exact_tiling_needs_receptive_radius(weights_path: Path) -> None:
    assert Denoiser(weights_path, precision="fp32", overlap=20).exact_tiling
    assert not Denoiser(weights_path, precision="fp32", overlap=19).exact_tiling
