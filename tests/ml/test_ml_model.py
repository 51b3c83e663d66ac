"""The network layout matches the released state dict."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pixtools.ml.dncnn import DnCNN, load_model
from pixtools.ml.weights import WeightsError

EXPECTED_KEYS = [f"model.{i}.{p}" for i in range(0, 39, 2) for p in ("weight", "bias")]


def test_state_dict_keys_match_release(weights_path: Path) -> None:
    released = torch.load(weights_path, map_location="cpu", weights_only=True)
    assert list(released) == EXPECTED_KEYS
    assert list(DnCNN().state_dict()) == EXPECTED_KEYS


def test_load_model_strict_eval(weights_path: Path) -> None:
    model = load_model(weights_path)
    assert not model.training
    assert sum(p.numel() for p in model.parameters()) == 668_227
    assert not any(p.requires_grad for p in model.parameters())
    released = torch.load(weights_path, map_location="cpu", weights_only=True)
    for key, value in model.state_dict().items():
        assert torch.equal(value, released[key]), key


def test_load_model_refuses_unverified_file(tmp_path: Path) -> None:
    bad = tmp_path / "dncnn_color_blind.pth"
    torch.save(DnCNN().state_dict(), bad)  # right layout, wrong weights
    with pytest.raises(WeightsError, match="expected"):
        load_model(bad)
