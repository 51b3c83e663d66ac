"""FFDNet: the converted weights against the authors' MatConvNet files, tiling, greyscale,
and the gain on a few CBSD68 crops with the estimated noise level."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pixtools.ml import ffdnet, weights
from pixtools.ml.inference import Denoiser
from pixtools.ml.metrics import psnr, to_uint8
from pixtools.ml.pixels import estimate_sigma
from pixtools.ml.weights import WeightsError
from tests.ml import matconvnet

SPECS = {"ffdnet": weights.FFDNET, "ffdnet_clip": weights.FFDNET_CLIP}


@pytest.fixture(scope="module")
def clean_crop(cbsd68_paths: list[Path]) -> np.ndarray:
    """A 150x230 photo crop: odd sizes, several 64-pixel tiles both ways."""
    with Image.open(cbsd68_paths[0]) as im:
        return np.asarray(im.convert("RGB"))[:150, :231].copy()


@pytest.fixture(scope="module")
def noisy_crop(clean_crop: np.ndarray) -> np.ndarray:
    """The crop with sigma 25 noise, clipped and rounded to 8 bits as an upload is."""
    rng = np.random.default_rng(3)
    return to_uint8(clean_crop / 255.0 + rng.normal(0, 25 / 255, clean_crop.shape))


@pytest.mark.parametrize("kind", ["ffdnet", "ffdnet_clip"])
def test_state_dict_is_kairs_layout_and_loads_strictly(kind: str, ffdnet_weights) -> None:
    state = torch.load(ffdnet_weights[kind], weights_only=True)
    assert list(state) == [f"model.{i}.{p}" for i in range(0, 23, 2) for p in ("weight", "bias")]
    assert state["model.0.weight"].shape == (96, 13, 3, 3)
    assert state["model.22.weight"].shape == (12, 96, 3, 3)
    model = ffdnet.load_model(ffdnet_weights[kind], SPECS[kind])
    assert not model.training
    assert sum(p.numel() for p in model.parameters()) == 852_108


@pytest.mark.parametrize("kind", ["ffdnet", "ffdnet_clip"])
def test_output_matches_the_matconvnet_weights(kind: str, ffdnet_weights,
                                               matconvnet_models) -> None:
    """Odd height, an independent float64 forward pass over the .mat as stored."""
    rng = np.random.default_rng(7)
    image = rng.random((13, 18, 3))
    convs = matconvnet.read_layers(matconvnet_models[kind])
    model = ffdnet.load_model(ffdnet_weights[kind], SPECS[kind])
    x = torch.from_numpy(image).float().permute(2, 0, 1)[None]
    for sigma in (10, 50):
        reference = matconvnet.forward(convs, image, sigma)
        with torch.inference_mode():
            ours = model(x, sigma / 255)[0].permute(1, 2, 0).double().numpy()
        assert np.abs(ours - reference).max() < 1e-5, sigma
    # The noise level matters: the two references differ far more than the tolerance.
    assert np.abs(matconvnet.forward(convs, image, 10) - reference).max() > 1e-2


def test_loading_refuses_another_file(weights_path: Path) -> None:
    with pytest.raises(WeightsError, match=r"FFDNet weights at .* have sha256"):
        ffdnet.load_model(weights_path, weights.FFDNET)


def test_tiled_equals_untiled(ffdnet_weights, noisy_crop: np.ndarray) -> None:
    """Odd tile and overlap are made even (the 2x2 grid), so tiles join within 1/255."""
    tiled = Denoiser(ffdnet_weights["ffdnet_clip"], kind="ffdnet_clip", precision="fp32",
                     tile=63, overlap=25)
    assert (tiled.tile, tiled.overlap) == (64, 26) and tiled.exact_tiling
    untiled = Denoiser(ffdnet_weights["ffdnet_clip"], kind="ffdnet_clip", precision="fp32",
                       tile=4096, overlap=0)
    seen: list[float] = []
    a = np.asarray(tiled.denoise(Image.fromarray(noisy_crop), sigma=25, progress=seen.append))
    b = np.asarray(untiled.denoise(Image.fromarray(noisy_crop), sigma=25))
    assert seen == [i / 12 for i in range(1, 13)]  # 3 x 4 tiles, one report each
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    # Without the overlap the tile edges show.
    seams = Denoiser(ffdnet_weights["ffdnet_clip"], kind="ffdnet_clip", precision="fp32",
                     tile=64, overlap=0)
    c = np.asarray(seams.denoise(Image.fromarray(noisy_crop), sigma=25))
    assert np.abs(c.astype(int) - b.astype(int)).max() > 8


def test_ffdnet_needs_a_noise_level(ffdnet_weights, noisy_crop: np.ndarray) -> None:
    model = Denoiser(ffdnet_weights["ffdnet"], kind="ffdnet", precision="fp32")
    with pytest.raises(ValueError, match="sigma"):
        model.denoise(Image.fromarray(noisy_crop))


def test_estimated_sigma_denoises_an_upload(ffdnet_weights, clean_crop, noisy_crop) -> None:
    model = Denoiser(ffdnet_weights["ffdnet_clip"], kind="ffdnet_clip", precision="fp32")
    sigma = estimate_sigma(Image.fromarray(noisy_crop))
    assert 21 < sigma < 26.5
    out = np.asarray(model.denoise(Image.fromarray(noisy_crop), sigma=sigma))
    assert psnr(clean_crop, out) - psnr(clean_crop, noisy_crop) > 6
    # A clean image reads as nearly noiseless and is barely changed.
    quiet = estimate_sigma(Image.fromarray(clean_crop))
    assert quiet < 2.5
    kept = np.asarray(model.denoise(Image.fromarray(clean_crop), sigma=quiet))
    assert psnr(clean_crop, kept) > 38


def test_greyscale_stays_greyscale_and_is_denoised(ffdnet_weights, clean_crop) -> None:
    clean = np.asarray(Image.fromarray(clean_crop).convert("L"))
    rng = np.random.default_rng(5)
    noisy = to_uint8(clean / 255.0 + rng.normal(0, 15 / 255, clean.shape))
    sigma = estimate_sigma(Image.fromarray(noisy))
    # One channel has fewer dimensions for texture to hide in: it reads a little high.
    assert 13 < sigma < 21
    model = Denoiser(ffdnet_weights["ffdnet_clip"], kind="ffdnet_clip", precision="fp32",
                     tile=64)
    out = model.denoise(Image.fromarray(noisy), sigma=sigma)
    assert out.mode == "L"
    assert psnr(clean, np.asarray(out)) - psnr(clean, noisy) > 2.5  # 3.6 at the true sigma


def test_each_model_is_loaded_once_per_process(weights_path: Path, tmp_path: Path) -> None:
    """FFDNet's files are found beside DnCNN's; each kind is built once and then reused."""
    from pixtools.ml import runtime

    config = runtime.DenoiseConfig(weights=weights_path, ffdnet_tile=256)
    clip = runtime.denoiser(config, "ffdnet_clip")
    assert clip.kind == "ffdnet_clip" and clip.tile == 256
    assert runtime.denoiser(config, "ffdnet_clip") is clip
    assert runtime.denoiser(config, "ffdnet") is not clip
    with runtime.configured(config):
        assert runtime.current("ffdnet_clip") is clip
    missing = runtime.DenoiseConfig(weights=tmp_path / "dncnn_color_blind.pth")
    with pytest.raises(WeightsError, match="FFDNet-clip weights not found"):
        runtime.denoiser(missing, "ffdnet_clip")
